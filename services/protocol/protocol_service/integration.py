"""The protocol service's side of Kafka: what it publishes and what it consumes.

Publishes, on `protocol.registration.events`: `ProtocolAssignedV1` when the registry gave the
number, and `ProtocolRegistrationPendingV1` on the first failed attempt (SPEC C-4: "the user is
told so") and again every `PENDING_REMINDER_EVERY` attempts, so the owner knows it is still pending
without a message per retry. `Requested` stays private. Consumes `ProtocolRequestedV1`, which
the owners of documents publish on their own topics (main.py names them; the consumer group and
the dead-letter topic follow from the service's name).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from portal_events.consumer import Handler
from portal_events.contracts import (
    Contract,
    ProtocolAssignedV1,
    ProtocolRegistrationPendingV1,
    ProtocolRequestedV1,
)
from portal_events.envelope import Envelope

from protocol_service.application import ProtocolApplication
from protocol_service.domainmodel import Registration

PENDING_REMINDER_EVERY = 10


def assigned(domain_event: Registration.Assigned) -> ProtocolAssignedV1:
    return ProtocolAssignedV1(
        document_id=domain_event.document_id,
        document_type=domain_event.document_type,
        protocol_number=domain_event.protocol_number,
        protocol_date=domain_event.protocol_date,
    )


def pending_reminder(
    domain_event: Registration.AttemptFailed,
) -> ProtocolRegistrationPendingV1 | None:
    """The first failed attempt, and every `PENDING_REMINDER_EVERY`th; None for the others."""
    attempt = domain_event.attempt
    if attempt != 1 and attempt % PENDING_REMINDER_EVERY != 0:
        return None
    return ProtocolRegistrationPendingV1(
        document_id=domain_event.document_id,
        document_type=domain_event.document_type,
        attempts=attempt,
        reason=domain_event.reason,
        next_attempt_at=domain_event.next_attempt_at,
    )


PUBLIC_EVENTS: dict[type, Callable[[Any], Contract | None]] = {
    Registration.Assigned: assigned,
    Registration.AttemptFailed: pending_reminder,
}


def handlers(app: ProtocolApplication) -> dict[type[Contract], Handler]:
    """Handlers of incoming contracts. The consumer binds correlation id, causation id (the
    envelope's event id) and actor around each call, so the stored events carry them."""

    def protocol_requested(envelope: Envelope, contract: ProtocolRequestedV1) -> None:
        """Record the registration, nothing slower (the registrar asks the registry).

        Idempotent: the registration id is derived from the document id, so a redelivered or
        re-published request finds the registration already there and changes nothing.
        """
        app.request_registration(
            document_id=contract.document_id,
            document_type=contract.document_type,
            title=contract.title,
            applicant_id=contract.applicant_id,
            department=contract.department,
        )

    return {ProtocolRequestedV1: protocol_requested}
