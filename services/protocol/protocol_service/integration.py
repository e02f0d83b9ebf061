"""The protocol service's side of Kafka: what it publishes and what it consumes.

Publishes on `protocol.registration.events`: `ProtocolAssignedV1` when the registry gave the
number, `ProtocolRegistrationPendingV1` on the first failed attempt (SPEC C-4: "the user is told
so") and again every `PENDING_REMINDER_EVERY` attempts, so the owner knows it is still pending
without a message per retry. Consumes `ProtocolRequestedV1` (group `protocol`).
"""

from __future__ import annotations

from typing import Any

from portal_events.contracts import (
    PROTOCOL_REGISTRATION_EVENTS,
    Contract,
    ProtocolAssignedV1,
    ProtocolRegistrationPendingV1,
    ProtocolRequestedV1,
)
from portal_events.envelope import Envelope

from protocol_service.application import ProtocolApplication
from protocol_service.domainmodel import Registration

CONSUMER_GROUP = "protocol"
DEAD_LETTER_TOPIC = "protocol.dead-letter"
# Owners of documents publish ProtocolRequested on their own topics.
CONSUMED_TOPICS = ("requests.request.events",)  # later: "certificates.application.events"
PENDING_REMINDER_EVERY = 10


def to_contracts(domain_event: Any) -> list[tuple[str, Contract]]:
    """Translate a stored Registration event to public contracts (for the relay)."""
    if isinstance(domain_event, Registration.Assigned):
        contract: Contract = ProtocolAssignedV1(
            document_id=domain_event.document_id,
            document_type=domain_event.document_type,
            protocol_number=domain_event.protocol_number,
            protocol_date=domain_event.protocol_date,
        )
        return [(PROTOCOL_REGISTRATION_EVENTS, contract)]
    if isinstance(domain_event, Registration.AttemptFailed) and (
        domain_event.attempt == 1 or domain_event.attempt % PENDING_REMINDER_EVERY == 0
    ):
        contract = ProtocolRegistrationPendingV1(
            document_id=domain_event.document_id,
            document_type=domain_event.document_type,
            attempts=domain_event.attempt,
            reason=domain_event.reason,
            next_attempt_at=domain_event.next_attempt_at,
        )
        return [(PROTOCOL_REGISTRATION_EVENTS, contract)]
    return []


class ProtocolHandlers:
    """Handlers of incoming contracts, for `portal_events.consumer.EventConsumer`.

    The consumer binds correlation id, causation id (the envelope's event id) and actor around
    each call, so the stored events carry them.
    """

    def __init__(self, app: ProtocolApplication) -> None:
        self.app = app

    def by_contract(self) -> dict[type[Contract], Any]:
        return {ProtocolRequestedV1: self.handle_protocol_requested}

    def handle_protocol_requested(self, envelope: Envelope, contract: ProtocolRequestedV1) -> None:
        """Record the registration, nothing slower (the registrar asks the registry).

        Idempotent: the registration id is derived from the document id, so a redelivered or
        re-published request finds the registration already there and changes nothing.
        """
        self.app.request_registration(
            document_id=contract.document_id,
            document_type=contract.document_type,
            title=contract.title,
            applicant_id=contract.applicant_id,
        )
