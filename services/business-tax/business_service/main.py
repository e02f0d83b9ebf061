"""The business service, declared from the kit: `uvicorn business_service.main:app`.

Business users see the payment warrants the municipality issued to them (a copy synced from the
municipal information system), declare and pay the municipal tax as one unit (a saga over the
payments service's outcomes, filed with the information system by a worker), and pay assessed
debts (SPEC B-1..B-3). Identity's events say who may (a verified business, by its ΑΦΜ).
"""

from __future__ import annotations

from portal_events.topics import BUSINESS_TAX_EVENTS, IDENTITY_USER_EVENTS, PAYMENTS_PAYMENT_EVENTS
from portal_web.service import Service

from business_service.api import ERRORS, router
from business_service.application import BusinessApplication
from business_service.integration import PUBLIC_EVENTS, handlers
from business_service.municipal_system import MUNICIPAL_SYSTEM, HttpMunicipalSystem
from business_service.settings import BusinessSettings
from business_service.views import (
    DeclarationSummaryProjection,
    DeclarationSummaryView,
    PendingFilingProjection,
    PendingFilingView,
    WarrantProjection,
    WarrantSyncProjection,
    WarrantSyncView,
    WarrantView,
)
from business_service.workers import Filer, QuoteExpirer, WarrantSyncer

service = Service(
    name="business",
    title="Business services",
    description="Payment warrants, municipal tax declared and paid as one unit, assessed tax "
    "debts paid online (SPEC B-1..B-3), through the municipal information system.",
    settings=BusinessSettings,
    application=BusinessApplication,
    routers=[router],
    errors=ERRORS,
    read_models=[
        (WarrantProjection, WarrantView),
        (WarrantSyncProjection, WarrantSyncView),
        (DeclarationSummaryProjection, DeclarationSummaryView),
        (PendingFilingProjection, PendingFilingView),
    ],
    publishes={BUSINESS_TAX_EVENTS: PUBLIC_EVENTS},
    consumes=[PAYMENTS_PAYMENT_EVENTS, IDENTITY_USER_EVENTS],
    handlers=handlers,
    resources={MUNICIPAL_SYSTEM: HttpMunicipalSystem.of},
    workers={
        "filer": Filer.of,
        "quote-expirer": QuoteExpirer.of,
        "warrant-syncer": WarrantSyncer.of,
    },
)
app = service.create_app()
