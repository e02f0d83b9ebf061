"""The Registration aggregate: one document's way into the protocol registry (SPEC R-4, C-4).

A registration belongs to the department handling its document (a code of the department
catalogue, or None when its owner named none): that department's clerks see it, admins and
auditors see all (issue 6).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

# Fixed forever: the registration id of a document is derived from its id, so a repeated
# ProtocolRequested cannot create a second registration (the store rejects version 1 twice).
REGISTRATION_NAMESPACE = UUID("2b0f5c1e-8d4a-4f6b-9c3e-7a1d2e5f8b90")


class ProtocolError(Exception):
    """Base of the protocol service's domain errors."""


class RegistrationNotFound(ProtocolError):
    """No registration was requested for this document."""


class RegistrationAlreadyAssigned(ProtocolError):
    """A failed attempt was reported for a registration that already has its number."""


class Registration(Aggregate):
    TOPIC = "protocol:Registration"

    class Created(Aggregate.Created):
        # Never stored (Requested is the created event), but the library defines one for every
        # aggregate and insists that, once the aggregate has a TOPIC, it has one too.
        TOPIC = "protocol:Registration.Created"

    class Requested(Aggregate.Created):
        """Version 2 records the department handling the document (its clerks see the
        registration). Version 1, stored before, reads with department None: admins and
        auditors only."""

        TOPIC = "protocol:Registration.Requested"
        class_version = 2
        document_id: UUID
        document_type: str
        title: str
        applicant_id: UUID | None
        department: str | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["department"] = None

    # Later events repeat the document's id and type so that the relay can translate each one
    # to its public contract on its own, without reading the aggregate.
    class AttemptFailed(Aggregate.Event):
        TOPIC = "protocol:Registration.AttemptFailed"
        document_id: UUID
        document_type: str
        attempt: int
        reason: str
        next_attempt_at: datetime

    class Assigned(Aggregate.Event):
        TOPIC = "protocol:Registration.Assigned"
        document_id: UUID
        document_type: str
        protocol_number: str
        protocol_date: date

    @staticmethod
    def create_id(document_id: UUID, **_: object) -> UUID:
        return id_for(document_id)

    @event(Requested)
    def __init__(
        self,
        document_id: UUID,
        document_type: str,
        title: str,
        applicant_id: UUID | None,
        department: str | None,
    ) -> None:
        self.document_id = document_id
        self.document_type = document_type
        self.title = title
        self.applicant_id = applicant_id
        self.department = department
        self.attempts = 0
        self.last_failure: str | None = None
        self.next_attempt_at: datetime | None = None
        self.protocol_number: str | None = None
        self.protocol_date: date | None = None

    @property
    def is_assigned(self) -> bool:
        return self.protocol_number is not None

    @property
    def status(self) -> str:
        return "assigned" if self.is_assigned else "pending"

    def is_due(self, now: datetime) -> bool:
        return not self.is_assigned and (
            self.next_attempt_at is None or self.next_attempt_at <= now
        )

    def fail_attempt(self, reason: str, next_attempt_at: datetime) -> None:
        if self.is_assigned:
            raise RegistrationAlreadyAssigned(self.document_id)
        self._attempt_failed(
            self.document_id, self.document_type, self.attempts + 1, reason, next_attempt_at
        )

    @event(AttemptFailed)
    def _attempt_failed(
        self,
        document_id: UUID,
        document_type: str,
        attempt: int,
        reason: str,
        next_attempt_at: datetime,
    ) -> None:
        self.attempts = attempt
        self.last_failure = reason
        self.next_attempt_at = next_attempt_at

    def assign(self, protocol_number: str, protocol_date: date) -> bool:
        """Record the registry's number; False (no event) when it is already recorded."""
        if self.is_assigned:
            return False
        self._assigned(self.document_id, self.document_type, protocol_number, protocol_date)
        return True

    @event(Assigned)
    def _assigned(
        self, document_id: UUID, document_type: str, protocol_number: str, protocol_date: date
    ) -> None:
        self.protocol_number = protocol_number
        self.protocol_date = protocol_date
        self.next_attempt_at = None


def id_for(document_id: UUID) -> UUID:
    return uuid5(REGISTRATION_NAMESPACE, str(document_id))
