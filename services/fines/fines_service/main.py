"""The fines service, declared from the kit: `uvicorn fines_service.main:app`.

Citizens look fines up (through the fines register adapter) and pay them: starting a payment
publishes PaymentRequested through the outbox; the payments service's PaymentCompleted,
PaymentFailed and PaymentExpired come back on its topic; identity's ProfileUpdated tells who may
use the service (F-1).
"""

from __future__ import annotations

from portal_events.topics import (
    FINES_FINE_EVENTS,
    IDENTITY_USER_EVENTS,
    PAYMENTS_PAYMENT_EVENTS,
)
from portal_web.service import Service

from fines_service.api import ERRORS, router
from fines_service.application import FinesApplication
from fines_service.integration import PUBLIC_EVENTS, handlers
from fines_service.register import REGISTER, HttpFinesRegister
from fines_service.settings import FinesSettings
from fines_service.views import FineSummaryProjection, FineSummaryView

service = Service(
    name="fines",
    title="Fines service",
    description="Municipal traffic fines (SPEC F-1..F-6): the fine types payable here, a fine "
    "looked up in (or registered into) the municipality's fines register, quoted at the moment "
    "with its surcharges and RF code, and paid by card through the payments service.",
    settings=FinesSettings,
    application=FinesApplication,
    routers=[router],
    errors=ERRORS,
    read_models=[(FineSummaryProjection, FineSummaryView)],
    publishes={FINES_FINE_EVENTS: PUBLIC_EVENTS},
    consumes=[PAYMENTS_PAYMENT_EVENTS, IDENTITY_USER_EVENTS],
    handlers=handlers,
    resources={REGISTER: HttpFinesRegister.of},
)
app = service.create_app()
