"""Translation to and from the public contracts of libs/events.

Outgoing (`PUBLIC_EVENTS`, for the relay): the Request's domain events become contracts, which
main.py publishes on `requests.request.events`. The year counter, idempotency records and the
protocol outcomes (which came from the protocol service in the first place) stay private.
Incoming (`handlers`, for the consumer of `protocol.registration.events`): the protocol
registry's outcomes (R-4), handled idempotently by the Request's state, so redelivered or
relay-resent messages have no second effect.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from portal_events.consumer import Handler
from portal_events.contracts import (
    Contract,
    RequestRepliedV1,
    RequestStatusChangedV1,
    RequestSubmittedV1,
)
from portal_events.protocol import protocol_outcome_handlers, protocol_requested

from requests_service.application import RequestsApplication
from requests_service.domainmodel import Request, RequestsError

# How the protocol registry knows our documents (ProtocolRequestedV1.document_type).
DOCUMENT_TYPE = "request"


def _submitted(e: Any) -> Contract:
    return RequestSubmittedV1(
        request_id=e.originator_id,
        number=e.number,
        kind=e.kind,
        subject=e.subject,
        category=e.category,
        department=e.department,
        anonymous=e.submitted_by is None,
        submitted_by=e.submitted_by,
        submitted_at=e.timestamp,
    )


def _status_changed(e: Any) -> Contract:
    return RequestStatusChangedV1(
        request_id=e.originator_id,
        number=e.number,
        status=e.status,
        note=e.note,
        submitted_by=e.submitted_by,
        changed_at=e.timestamp,
    )


def _replied(e: Any) -> Contract:
    return RequestRepliedV1(
        request_id=e.originator_id,
        number=e.number,
        submitted_by=e.submitted_by,
        replied_at=e.timestamp,
    )


def _protocol_requested(e: Any) -> Contract:
    return protocol_requested(e, DOCUMENT_TYPE)


PUBLIC_EVENTS: dict[type[Any], Callable[[Any], Contract | None]] = {
    Request.Submitted: _submitted,
    Request.StatusChanged: _status_changed,
    Request.Replied: _replied,
    Request.ProtocolRequested: _protocol_requested,
}


def handlers(app: RequestsApplication) -> dict[type[Contract], Handler]:
    """The consumer's handlers (called in a worker thread): the registry's outcomes for our
    documents."""
    return protocol_outcome_handlers(app, {DOCUMENT_TYPE}, RequestsError)
