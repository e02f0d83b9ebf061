"""The protocol service's Application: record registrations and what the registry answered."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from eventsourcing.persistence import IntegrityError, JSONTranscoder, Transcoding
from portal_events.application import ServiceApplication

from protocol_service.domainmodel import Registration, RegistrationNotFound, id_for


class DateAsISO(Transcoding):
    """Stores a `date` (the protocol date) as "YYYY-MM-DD"; the library has none built in."""

    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class ProtocolApplication(ServiceApplication):
    name = "protocol"

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    def request_registration(
        self,
        *,
        document_id: UUID,
        document_type: str,
        title: str,
        applicant_id: UUID | None = None,
    ) -> bool:
        """Record that the document must be registered; False if it already was requested."""
        registration = Registration(
            document_id=document_id,
            document_type=document_type,
            title=title,
            applicant_id=applicant_id,
        )
        try:
            self.save(registration)
        except IntegrityError:
            # Same document, same registration id: a repeated request changes nothing.
            return False
        return True

    def registration(self, document_id: UUID) -> Registration:
        return self.load(id_for(document_id), Registration, not_found=RegistrationNotFound)

    def record_failed_attempt(
        self, document_id: UUID, reason: str, next_attempt_at: datetime
    ) -> Registration:
        return self.changing(
            lambda: self.registration(document_id),
            lambda registration: registration.fail_attempt(reason, next_attempt_at),
        ).result

    def record_assignment(
        self, document_id: UUID, protocol_number: str, protocol_date: date
    ) -> Registration:
        return self.changing(
            lambda: self.registration(document_id),
            lambda registration: registration.assign(protocol_number, protocol_date),
        ).result
