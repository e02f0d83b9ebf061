"""The protocol service's Application: record registrations and what the registry answered."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

from eventsourcing.persistence import IntegrityError
from portal_events.application import ServiceApplication

from protocol_service.domainmodel import Registration, RegistrationNotFound, id_for


@dataclass(frozen=True)
class Scope:
    """Which registrations a caller may see (issue 6).

    A clerk sees their department's, admins and auditors all; the service's own workers use
    EVERYTHING. Outside the scope a registration does not exist for the caller (HTTP 404, so
    that its existence is not revealed). One without a department is in no clerk's scope. The
    department is fixed when the registration is requested, so its first event decides.
    """

    department: str | None = None
    everything: bool = False

    def covers(self, registration: Registration) -> bool:
        if self.everything:
            return True
        return self.department is not None and registration.department == self.department


EVERYTHING = Scope(everything=True)


class ProtocolApplication(ServiceApplication):
    name = "protocol"

    def request_registration(
        self,
        *,
        document_id: UUID,
        document_type: str,
        title: str,
        applicant_id: UUID | None = None,
        department: str | None = None,
    ) -> bool:
        """Record that the document must be registered, on behalf of `department` (whose clerks
        then see it); False if it already was requested."""
        registration = Registration(
            document_id=document_id,
            document_type=document_type,
            title=title,
            applicant_id=applicant_id,
            department=department,
        )
        try:
            self.save(registration)
        except IntegrityError:
            # Same document, same registration id: a repeated request changes nothing.
            return False
        return True

    def registration(self, document_id: UUID, *, scope: Scope) -> Registration:
        """The document's registration if `scope` covers it; else RegistrationNotFound."""
        return self.load(
            id_for(document_id),
            Registration,
            not_found=RegistrationNotFound,
            visible=scope.covers,
        )

    def record_failed_attempt(
        self, document_id: UUID, reason: str, next_attempt_at: datetime
    ) -> Registration:
        return self.changing(
            lambda: self.registration(document_id, scope=EVERYTHING),
            lambda registration: registration.fail_attempt(reason, next_attempt_at),
        ).result

    def record_assignment(
        self, document_id: UUID, protocol_number: str, protocol_date: date
    ) -> Registration:
        return self.changing(
            lambda: self.registration(document_id, scope=EVERYTHING),
            lambda registration: registration.assign(protocol_number, protocol_date),
        ).result
