"""A service's side of the protocol registry: how it asks for a number and takes the outcome.

A service whose documents get a protocol number (requests, certificates) records a
`ProtocolRequested` event on the document, which its relay publishes as `ProtocolRequestedV1`
(`protocol_requested`); the protocol service answers on `protocol.registration.events`, and
`protocol_outcome_handlers` hand the outcomes for the service's own document types to its
Application, idempotently (the document's state ignores a repeat).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Protocol
from uuid import UUID

from portal_events.consumer import Handler, refusing_domain_errors
from portal_events.contracts import (
    Contract,
    ProtocolAssignedV1,
    ProtocolRegistrationPendingV1,
    ProtocolRequestedV1,
)
from portal_events.envelope import Envelope


class RecordsProtocol(Protocol):
    """What a service's Application offers for the registry's outcomes."""

    def record_protocol(self, document_id: UUID, number: str, protocol_date: str, /) -> object:
        """Record the number (ISO date); the same number again records nothing."""
        ...

    def mark_protocol_pending(self, document_id: UUID, attempts: int, reason: str, /) -> object:
        """Record that the registry is retrying; nothing once pending or assigned."""
        ...


def protocol_requested(domain_event: Any, document_type: str) -> ProtocolRequestedV1:
    """The public request for a number, from a document's `ProtocolRequested` event (with its
    title, applicant_id and department)."""
    return ProtocolRequestedV1(
        document_id=domain_event.originator_id,
        document_type=document_type,
        title=domain_event.title,
        applicant_id=domain_event.applicant_id,
        requested_at=domain_event.timestamp,
        department=domain_event.department,
    )


def protocol_outcome_handlers(
    app: RecordsProtocol, document_types: Collection[str], domain_error: type[Exception]
) -> dict[type[Contract], Handler]:
    """The consumer's handlers of the registry's outcomes for `document_types` (the others are
    someone else's). An outcome for a document that does not exist can never be applied: the
    service's `domain_error` refuses it (dead-lettered at once, for a person to look at)."""

    def assigned(envelope: Envelope, contract: ProtocolAssignedV1) -> None:
        if contract.document_type in document_types:
            with refusing_domain_errors(domain_error):
                app.record_protocol(
                    contract.document_id,
                    contract.protocol_number,
                    contract.protocol_date.isoformat(),
                )

    def pending(envelope: Envelope, contract: ProtocolRegistrationPendingV1) -> None:
        if contract.document_type in document_types:
            with refusing_domain_errors(domain_error):
                app.mark_protocol_pending(contract.document_id, contract.attempts, contract.reason)

    return {ProtocolAssignedV1: assigned, ProtocolRegistrationPendingV1: pending}
