"""Translation to and from the public contracts of libs/events.

Outgoing: `to_contracts` maps the Request's domain events to contracts on
`requests.request.events` (the relay publishes them). Incoming: the protocol registry's outcomes
on `protocol.registration.events` (R-4), handled idempotently by state.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog
from portal_events.contracts import (
    REQUESTS_REQUEST_EVENTS,
    Contract,
    ProtocolAssignedV1,
    ProtocolRegistrationPendingV1,
    ProtocolRequestedV1,
    RequestRepliedV1,
    RequestStatusChangedV1,
    RequestSubmittedV1,
)
from portal_events.envelope import Envelope

from requests_service.application import RequestsApplication
from requests_service.domainmodel import Request

SOURCE = "requests"
DOCUMENT_TYPE = "request"

log = structlog.get_logger(__name__)


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
    return ProtocolRequestedV1(
        document_id=e.originator_id,
        document_type=DOCUMENT_TYPE,
        title=e.title,
        applicant_id=e.applicant_id,
        requested_at=e.timestamp,
    )


_PUBLIC: dict[type[Any], Callable[[Any], Contract]] = {
    Request.Submitted: _submitted,
    Request.StatusChanged: _status_changed,
    Request.Replied: _replied,
    Request.ProtocolRequested: _protocol_requested,
}


def to_contracts(domain_event: Any) -> list[tuple[str, Contract]]:
    """The public contracts for one stored event; empty for private ones (counter, protocol
    outcomes that came from the protocol service in the first place)."""
    translate = _PUBLIC.get(type(domain_event))
    return [] if translate is None else [(REQUESTS_REQUEST_EVENTS, translate(domain_event))]


class ProtocolOutcomeHandlers:
    """Handlers for the consumer (called in a worker thread); idempotent by the Request's state,
    so redelivered or relay-resent messages have no second effect."""

    def __init__(self, app: RequestsApplication) -> None:
        self.app = app

    def assigned(self, envelope: Envelope, contract: ProtocolAssignedV1) -> None:
        if contract.document_type != DOCUMENT_TYPE:
            return
        self.app.record_protocol(
            contract.document_id, contract.protocol_number, contract.protocol_date.isoformat()
        )

    def pending(self, envelope: Envelope, contract: ProtocolRegistrationPendingV1) -> None:
        if contract.document_type != DOCUMENT_TYPE:
            return
        self.app.mark_protocol_pending(contract.document_id, contract.attempts, contract.reason)

    def as_mapping(self) -> dict[type[Contract], Callable[[Envelope, Any], None]]:
        return {ProtocolAssignedV1: self.assigned, ProtocolRegistrationPendingV1: self.pending}
