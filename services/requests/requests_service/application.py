"""The requests service's event-sourced Application: commands and queries, nothing HTTP."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar
from uuid import UUID
from zoneinfo import ZoneInfo

import structlog
from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError
from portal_events.mapper import MAPPER_TOPIC, event_metadata

from requests_service.domainmodel import (
    CATEGORY_MAX,
    DESIRED_ACTION_MAX,
    NOTE_MAX,
    SUBJECT_MAX,
    TEXT_MAX,
    IdempotencyKeyReused,
    Kind,
    ProtocolNumberConflict,
    Request,
    RequestNotFound,
    RequestsError,
    Routing,
    Status,
    SubmissionKey,
    YearCounter,
    check_text_fields,
)

log = structlog.get_logger(__name__)

# Numbers run per calendar year of the municipality, not of UTC.
MUNICIPALITY_TZ = ZoneInfo("Europe/Athens")
# Writers racing for the same year's counter retry this many times before giving up.
MAX_SAVE_ATTEMPTS = 8


class Contention(RequestsError):
    """Too many concurrent writers on the same aggregate; the caller may try again."""


@dataclass(frozen=True)
class Scope:
    """Which requests a caller may see or handle.

    A citizen/business sees only their own (R-5), a clerk their department's (R-3), an admin or
    auditor all. Outside the scope a request does not exist for the caller (HTTP 404).
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


@dataclass(frozen=True)
class Submission:
    id: UUID
    number: str
    position: int | None  # notification id of the write, for read-your-writes


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    event: str
    status: str | None
    note: str | None
    actor_role: str | None


@dataclass(frozen=True)
class RequestDetail:
    request: Request
    history: list[HistoryEntry]


class RequestsApplication(Application[UUID]):
    name = "Requests"
    env: ClassVar[dict[str, str]] = {"MAPPER_TOPIC": MAPPER_TOPIC, "SINGLE_ROW_TRACKING": "y"}
    # The year counter gains one event per submission; snapshots keep loading it cheap.
    snapshotting_intervals: ClassVar[dict[type[Any], int]] = {YearCounter: 100}

    def __init__(self, env: dict[str, str] | None = None, routing: Routing | None = None):
        super().__init__(env)
        self.routing = routing or Routing.load()
        # Submissions of this process take numbers one at a time: the recorder serialises
        # writes anyway, and without it concurrent submissions collide on the year counter
        # and retry. Other processes still race; `_retrying` covers them. Under the lock the
        # counter stays in memory between submissions (saving it brings it up to date), so a
        # submission costs one write and no read; a conflict drops it and reloads.
        self._numbering = threading.Lock()
        self._counters: dict[int, YearCounter] = {}

    # --- commands: submission (R-1, R-2) -----------------------------------------------------

    def submit_anonymous(
        self,
        *,
        subject: str,
        text: str,
        desired_action: str | None = None,
        kind: Kind = Kind.REQUEST,
    ) -> Submission:
        """R-1: no submitter, routed to the default department."""
        return self._submit(
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

        With an idempotency key, a repeat (a double click, a retried request) returns the
        request the first one recorded, and records nothing (DESIGN "HTTP").
        """
        key = None
        if idempotency_key is not None:
            key = (SubmissionKey.create_id(submitted_by, idempotency_key), idempotency_key)
        return self._submit(
            key=key,
            kind=kind,
            subject=subject,
            text=text,
            desired_action=desired_action,
            category=category,
            submitted_by=submitted_by,
        )

    def _earlier_submission(self, key: UUID, *, subject: str, text: str) -> Submission | None:
        try:
            submission_key: SubmissionKey = self.repository.get(key)
        except AggregateNotFoundError:
            return None
        earlier: Request = self.repository.get(submission_key.request_id)
        if (earlier.subject, earlier.text) != (subject.strip(), text.strip()):
            raise IdempotencyKeyReused
        return Submission(earlier.id, earlier.number, position=None)

    def _submit(
        self,
        *,
        key: tuple[UUID, str] | None = None,
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
        category = fields.get("category", "").lower() or None
        department = self.routing.department_for(category)
        year = datetime.now(UTC).astimezone(MUNICIPALITY_TZ).year

        def attempt() -> Submission:
            if key is not None:
                # Checked under the numbering lock (and again after a lost race with another
                # replica), so a repeat is always found before anything is written.
                earlier = self._earlier_submission(key[0], subject=subject, text=text)
                if earlier is not None:
                    return earlier
            counter = self._counters.pop(year, None) or self._year_counter(year)
            request = Request(
                number=counter.issue(),
                kind=Kind(kind).value,
                subject=fields["subject"],
                text=fields["text"],
                desired_action=fields.get("desired_action"),
                category=category,
                department=department,
                submitted_by=submitted_by,
            )
            keys = [] if key is None else [SubmissionKey(submitted_by, key[1], request.id)]
            # One transaction: the number (and the key) are taken if and only if the request is
            # recorded. The request goes last: its position is what read-your-writes waits for.
            recordings = self.save(counter, *keys, request)
            self._counters[year] = counter
            return Submission(request.id, request.number, recordings[-1].notification.id)

        with self._numbering:
            return self._retrying(attempt)

    def _year_counter(self, year: int) -> YearCounter:
        try:
            return self.repository.get(YearCounter.create_id(year))
        except AggregateNotFoundError:
            return YearCounter(year)

    # --- commands: clerks (R-3, R-4) ---------------------------------------------------------

    def reply(self, request_id: UUID, text: str, *, scope: Scope) -> int:
        """R-3: record the municipality's reply; returns the write's position."""
        cleaned = check_text_fields(text=(text, TEXT_MAX, True))
        return self._update(request_id, scope, lambda r: r.answer(cleaned["text"]))

    def change_status(
        self, request_id: UUID, status: Status, note: str | None = None, *, scope: Scope
    ) -> int:
        """R-3: move along ALLOWED_TRANSITIONS (InvalidTransition otherwise)."""
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
            return self._update(
                request_id, Scope(everything=True), lambda r: r.record_protocol(number, date)
            )
        except ProtocolNumberConflict as error:
            log.error("protocol_number_conflict", request_id=str(request_id), error=str(error))
            return None

    def mark_protocol_pending(self, request_id: UUID, attempts: int, reason: str) -> int | None:
        return self._update(
            request_id, Scope(everything=True), lambda r: r.mark_protocol_pending(attempts, reason)
        )

    # --- queries -------------------------------------------------------------------------------

    def get_request(self, request_id: UUID, *, scope: Scope) -> Request:
        try:
            request = self.repository.get(request_id)
        except AggregateNotFoundError:
            raise RequestNotFound(str(request_id)) from None
        if not isinstance(request, Request) or not scope.covers(request):
            raise RequestNotFound(str(request_id))
        return request

    def detail(self, request_id: UUID, *, scope: Scope) -> RequestDetail:
        """R-5: the request as it is now, plus its history with who (which role) did what (X-1).

        Read from the event store, not a projection: strongly consistent ("Ενημέρωση").
        """
        events = list(self.events.get(request_id))
        request: Any = None
        for domain_event in events:
            request = domain_event.mutate(request)
        if not isinstance(request, Request) or not scope.covers(request):
            raise RequestNotFound(str(request_id))
        return RequestDetail(request, [_history_entry(e) for e in events])

    # --- helpers -------------------------------------------------------------------------------

    def _update(
        self, request_id: UUID, scope: Scope, change: Callable[[Request], Any]
    ) -> int | None:
        """Load, change, save; reload and retry when another writer got there first.

        Returns the write's position, or None when the change recorded nothing.
        """

        def attempt() -> int | None:
            request = self.get_request(request_id, scope=scope)
            change(request)
            if not request.pending_events:
                return None
            return self.save(request)[-1].notification.id

        return self._retrying(attempt)

    def _retrying(self, attempt: Callable[[], Any]) -> Any:
        for tries in range(1, MAX_SAVE_ATTEMPTS + 1):
            try:
                return attempt()
            except IntegrityError:
                log.info("save_conflict_retrying", tries=tries)
                # A random pause, growing with the tries, so that racing writers (other
                # replicas) stop colliding in lockstep and one of them starves.
                time.sleep(random.uniform(0, 0.002 * tries))  # noqa: S311 - not security
        raise Contention("too many concurrent changes, try again")


def _history_entry(domain_event: Any) -> HistoryEntry:
    actor = event_metadata(domain_event).get("actor") or {}
    return HistoryEntry(
        at=domain_event.timestamp,
        event=type(domain_event).__name__,
        status=Status.SUBMITTED.value
        if isinstance(domain_event, Request.Submitted)
        else getattr(domain_event, "status", None),
        note=getattr(domain_event, "note", None),
        actor_role=actor.get("role"),
    )
