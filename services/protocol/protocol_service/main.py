"""The protocol service, declared from the kit: `uvicorn protocol_service.main:app`.

It consumes ProtocolRequested, records a registration, and its registrar worker asks the
registry for the number, retrying through outages; the pending read model is both the
registrar's work list and what clerks see as pending.
"""

from __future__ import annotations

from portal_events.topics import (
    CERTIFICATES_CERTIFICATE_EVENTS,
    PROTOCOL_REGISTRATION_EVENTS,
    REQUESTS_REQUEST_EVENTS,
)
from portal_web.service import Service

from protocol_service.api import ERRORS, router
from protocol_service.application import ProtocolApplication
from protocol_service.integration import PUBLIC_EVENTS, handlers
from protocol_service.registrar import REGISTRY, HttpRegistryClient, Registrar
from protocol_service.settings import ProtocolSettings
from protocol_service.views import PendingRegistrationProjection, PendingRegistrationView

service = Service(
    name="protocol",
    title="Protocol service",
    description="Registers documents in the municipality's protocol registry (SPEC R-4, C-4), "
    "retrying through outages; lists what is pending (SPEC X-3).",
    settings=ProtocolSettings,
    application=ProtocolApplication,
    routers=[router],
    errors=ERRORS,
    read_models=[(PendingRegistrationProjection, PendingRegistrationView)],
    publishes={PROTOCOL_REGISTRATION_EVENTS: PUBLIC_EVENTS},
    # ProtocolRequested travels on the topic of the service that owns the document.
    consumes=[REQUESTS_REQUEST_EVENTS, CERTIFICATES_CERTIFICATE_EVENTS],
    handlers=handlers,
    resources={REGISTRY: HttpRegistryClient.of},
    workers={"registrar": Registrar.of},
)
app = service.create_app()
