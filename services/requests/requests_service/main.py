"""Composition root: `uvicorn requests_service.main:app`.

The requests service as the kit builds it: its Application, the summaries read model, the relay
publishing the Request's public events, the consumer of the protocol registry's outcomes.
"""

from __future__ import annotations

from portal_events.topics import PROTOCOL_REGISTRATION_EVENTS, REQUESTS_REQUEST_EVENTS
from portal_web.service import Service

from requests_service.api import ERRORS, router
from requests_service.application import RequestsApplication
from requests_service.integration import PUBLIC_EVENTS, handlers
from requests_service.settings import RequestsSettings
from requests_service.views import RequestSummaryProjection, RequestSummaryView

service = Service(
    name="requests",
    title="Requests, complaints, proposals",
    description="Αιτήματα – Καταγγελίες – Προτάσεις: SPEC R-1..R-5. Anonymous and named "
    "submissions, clerks' inboxes per department, replies, status changes and protocol "
    "registration.",
    settings=RequestsSettings,
    application=RequestsApplication,
    read_models=[(RequestSummaryProjection, RequestSummaryView)],
    publishes={REQUESTS_REQUEST_EVENTS: PUBLIC_EVENTS},
    consumes=[PROTOCOL_REGISTRATION_EVENTS],
    handlers=handlers,
    routers=[router],
    errors=ERRORS,
)
app = service.create_app()
