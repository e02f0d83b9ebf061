"""The requests service's event-sourced Application: commands and queries, nothing HTTP.

Built on the kit's `ServiceApplication`: loads check the aggregate's type and the caller's scope
on the first event (an id of the year counter or of someone else's request costs one row, not a
replay), conflicts are retried by `retrying`, and commands that create something (submissions,
replies) run through `save_once` with an optional idempotency key fingerprinting the whole
command.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar
from uuid import UUID
from zoneinfo import ZoneInfo

import structlog
from portal_events.application import Idempotency, ServiceApplication, event_name
from portal_events.mapper import event_metadata
from portal_events.numbering import YearNumbering

from requests_service.domainmodel import (
    CATEGORY_MAX,
    DESIRED_ACTION_MAX,
    NOTE_MAX,
    SUBJECT_MAX,
    TEXT_MAX,
    Kind,
    ProtocolNumberConflict,
    Request,
    RequestNotFound,
    Routing,
    Status,
    YearCounter,
    check_text_fields,
)

log = structlog.get_logger(__name__)

# Numbers run per calendar year of the municipality, not of UTC.
MUNICIPALITY_TZ = ZoneInfo("Europe/Athens")
# Whose idempotency keys anonymous submissions are (they have no user).
ANONYMOUS = "anonymous"


@dataclass(frozen=True)
class Scope:
    """Which requests a caller may see or handle.

    A citizen/business sees only their own (R-5), a clerk their department's (R-3), an admin or
    auditor all. Outside the scope a request does not exist for the caller (HTTP 404). Both
    owner and department are fixed at submission, so the first event decides.
    """

    owner_id: UUID | None = None
    department: str | None = None
    everything: bool = False

    def covers(self, request: Request) -> bool:
        if self.everything:
            return True
        if self.owner_id is not None and request.submitted_by == self.owner_id:
            return True
        return self.department is not None and request.department == self.department


EVERYTHING = Scope(everything=True)


@dataclass(frozen=True)
class Submission:
    id: UUID
    number: str
    position: int | None  # notification id of the write, for read-your-writes; None on a repeat


@dataclass(frozen=True)
class RecordedChange:
    """One entry of a request's history as people see it (X-1: who did what, when)."""

    at: datetime
    event: str
    status: str | None
    note: str | None
    actor_role: str | None


@dataclass(frozen=True)
class RequestDetail:
    request: Request
    history: list[RecordedChange]


class RequestsApplication(ServiceApplication):
    name = "requests"
    # The year counter gains one event per submission; snapshots keep loading it cheap.
    snapshotting_intervals: ClassVar[dict[type[Any], int]] = {YearCounter: 100}

    def __init__(self, env: dict[str, str] | None = None, routing: Routing | None = None):
        # First: a routing table naming a department outside the catalogue stops the service
        # before it touches anything else.
        self.routing = routing or Routing.load()
        super().__init__(env)
        self.numbering = YearNumbering(YearCounter, self.repository)

    # --- commands: submission (R-1, R-2) -----------------------------------------------------

    def submit_anonymous(
        self,
        *,
        subject: str,
        text: str,
        desired_action: str | None = None,
        kind: Kind = Kind.REQUEST,
        idempotency_key: str | None = None,
    ) -> Submission:
        """R-1: no submitter, routed to the default department. Anonymous keys share one
        owner; a visitor's random key (a UUID) does not meet another's."""
        return self._submit(
            key_owner=ANONYMOUS,
            idempotency_key=idempotency_key,
            kind=kind,
            subject=subject,
            text=text,
            desired_action=desired_action,
            category=None,
            submitted_by=None,
        )

    def submit(
        self,
        *,
        submitted_by: UUID,
        kind: Kind,
        subject: str,
        text: str,
        desired_action: str | None = None,
        category: str | None = None,
        idempotency_key: str | None = None,
    ) -> Submission:
        """R-2: a named submission; its department follows from the category (R-3).

        With an idempotency key (per user), a repeat (a double click, a retried request)
        returns the request the first one recorded and records nothing; the same key with any
        other field different is `IdempotencyKeyReused` (DESIGN "HTTP").
        """
        return self._submit(
            key_owner=submitted_by,
            idempotency_key=idempotency_key,
            kind=kind,
            subject=subject,
            text=text,
            desired_action=desired_action,
            category=category,
            submitted_by=submitted_by,
        )

    def _submit(
        self,
        *,
        key_owner: object,
        idempotency_key: str | None,
        kind: Kind,
        subject: str,
        text: str,
        desired_action: str | None,
        category: str | None,
        submitted_by: UUID | None,
    ) -> Submission:
        fields = check_text_fields(
            subject=(subject, SUBJECT_MAX, True),
            text=(text, TEXT_MAX, True),
            desired_action=(desired_action, DESIRED_ACTION_MAX, False),
            category=(category, CATEGORY_MAX, False),
        )
        command = {
            "command": "submit",
            "kind": Kind(kind).value,
            "subject": fields["subject"],
            "text": fields["text"],
            "desired_action": fields.get("desired_action"),
            "category": fields.get("category", "").lower() or None,
        }
        department = self.routing.department_for(command["category"])
        year = datetime.now(UTC).astimezone(MUNICIPALITY_TZ).year

        def create(number: str) -> tuple[list[Any], dict[str, Any]]:
            request = Request(
                number=number,
                kind=command["kind"],
                subject=command["subject"],
                text=command["text"],
                desired_action=command["desired_action"],
                category=command["category"],
                department=department,
                submitted_by=submitted_by,
            )
            return [request], {"id": str(request.id), "number": request.number}

        # The number is issued inside the writer's batch and saved with the request (and the
        # key) in one transaction: taken if and only if the request is recorded.
        idempotency = Idempotency.of(key_owner, idempotency_key, command)
        written = self.save_numbered(idempotency, self.numbering, year, create)
        result = written.result
        return Submission(UUID(result["id"]), result["number"], written.position)

    # --- commands: clerks (R-3, R-4) ---------------------------------------------------------

    def reply(
        self,
        request_id: UUID,
        text: str,
        *,
        scope: Scope,
        replied_by: UUID | None = None,
        idempotency_key: str | None = None,
    ) -> int | None:
        """R-3: record the municipality's reply; returns the write's position (None on a
        repeat of an idempotency key, which is `replied_by`'s)."""
        cleaned = check_text_fields(text=(text, TEXT_MAX, True))
        command = {"command": "reply", "request_id": str(request_id), "text": cleaned["text"]}

        def create() -> tuple[list[Any], dict[str, Any]]:
            request = self.get_request(request_id, scope=scope)
            request.answer(cleaned["text"])
            return [request], {"request_id": str(request_id)}

        idempotency = Idempotency.of(replied_by, idempotency_key, command)
        return self.save_once(idempotency, create).position

    def change_status(
        self, request_id: UUID, status: Status, note: str | None = None, *, scope: Scope
    ) -> int | None:
        """R-3: move along ALLOWED_TRANSITIONS (TransitionNotAllowed otherwise)."""
        cleaned = check_text_fields(note=(note, NOTE_MAX, False))
        return self._update(
            request_id, scope, lambda r: r.change_status(Status(status), cleaned.get("note"))
        )

    def request_protocol(self, request_id: UUID, *, scope: Scope) -> int | None:
        """R-4: ask the registry for a number. Asking again while it is pending records
        nothing (returns None); once it has its number: ProtocolAlreadyAssigned."""
        return self._update(request_id, scope, lambda r: r.request_protocol())

    # --- commands: protocol registry outcomes, from the consumer ----------------------

    def record_protocol(self, request_id: UUID, number: str, date: str) -> int | None:
        """Idempotent: the same number again records nothing; a different number for a request
        that has one is logged as an error and ignored (never two numbers)."""
        try:
            return self._update(request_id, EVERYTHING, lambda r: r.record_protocol(number, date))
        except ProtocolNumberConflict as error:
            log.error("protocol_number_conflict", request_id=str(request_id), error=str(error))
            return None

    def mark_protocol_pending(self, request_id: UUID, attempts: int, reason: str) -> int | None:
        return self._update(
            request_id, EVERYTHING, lambda r: r.mark_protocol_pending(attempts, reason)
        )

    # --- queries -------------------------------------------------------------------------------

    def get_request(self, request_id: UUID, *, scope: Scope) -> Request:
        """The request if it is one and the caller may see it; else RequestNotFound."""
        return self.load(request_id, Request, not_found=RequestNotFound, visible=scope.covers)

    def detail(self, request_id: UUID, *, scope: Scope) -> RequestDetail:
        """R-5: the request as it is now, plus its history with who (which role) did what (X-1).

        Read from the event store, not a read model: strongly consistent ("Ενημέρωση").
        """
        request, events = self.load_with_history(
            request_id, Request, not_found=RequestNotFound, visible=scope.covers
        )
        return RequestDetail(request, [_recorded_change(e) for e in events])

    # --- helpers -------------------------------------------------------------------------------

    def _update(
        self, request_id: UUID, scope: Scope, change: Callable[[Request], Any]
    ) -> int | None:
        """Load (within the caller's scope), change, save; the write's position, or None when
        the change recorded nothing."""
        return self.changing(lambda: self.get_request(request_id, scope=scope), change).position


def _recorded_change(domain_event: Any) -> RecordedChange:
    actor = event_metadata(domain_event).get("actor") or {}
    submitted = isinstance(domain_event, Request.Submitted)
    return RecordedChange(
        at=domain_event.timestamp,
        event=event_name(domain_event),
        status=Status.SUBMITTED.value if submitted else getattr(domain_event, "status", None),
        note=getattr(domain_event, "note", None),
        actor_role=actor.get("role"),
    )
