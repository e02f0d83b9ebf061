"""The certificates service, declared from the kit: `uvicorn certificates_service.main:app`.

Citizens and businesses verified in person (learnt from identity's events) apply for
civil-registry and TAP certificates; each application asks the protocol service for its number
through the outbox (ProtocolRequested on our topic) and hears back on protocol's topic; clerks
of the department the catalogue names work them and issue verifiable PDF documents, kept in the
service's database (the `documents` resource).
"""

from __future__ import annotations

from portal_events.topics import (
    CERTIFICATES_CERTIFICATE_EVENTS,
    IDENTITY_USER_EVENTS,
    PROTOCOL_REGISTRATION_EVENTS,
)
from portal_web.service import Service

from certificates_service.api import DOCUMENTS, ERRORS, router
from certificates_service.application import CertificatesApplication
from certificates_service.documents import PostgresDocumentStore
from certificates_service.integration import PUBLIC_EVENTS, handlers
from certificates_service.settings import CertificatesSettings
from certificates_service.views import CertificateSummaryProjection, CertificateSummaryView

service = Service(
    name="certificates",
    title="Certificates",
    description="Πιστοποιητικά: SPEC C-1..C-6. Civil-registry and TAP certificates for "
    "verified citizens and businesses, registered in the protocol automatically, worked by the "
    "competent department's clerks and issued as PDF documents anyone can verify by their code.",
    settings=CertificatesSettings,
    application=CertificatesApplication,
    read_models=[(CertificateSummaryProjection, CertificateSummaryView)],
    publishes={CERTIFICATES_CERTIFICATE_EVENTS: PUBLIC_EVENTS},
    consumes=[IDENTITY_USER_EVENTS, PROTOCOL_REGISTRATION_EVENTS],
    handlers=handlers,
    routers=[router],
    errors=ERRORS,
    resources={DOCUMENTS: PostgresDocumentStore.of},
)
app = service.create_app()
