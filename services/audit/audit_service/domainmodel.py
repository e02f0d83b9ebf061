"""The audit service's own aggregates (SPEC X-1): what auditors looked at, and what the history
verifications found.

- `AuditorRead`: one read by an auditor (or admin) of the portal's history: a case's history, a
  case's state at a moment, an export, the integrity report or the auditors' trail. Recorded
  before the answer is given, so that nobody reads the history unseen; one aggregate per read
  (a read never changes).
- `Verification`: one run of the chain verification (`python -m audit_service.cli verify`) over
  one service's history: how far it got, whether the chain held and, if not, where it broke.

The events are the whole record; they are never changed, hence one created event each.
"""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import Aggregate, event


class AuditError(Exception):
    """Base of the audit service's domain errors."""


class CaseNotFound(AuditError):
    """No archived event has this id, and none mentions it (nor this human number)."""


class StateUnavailable(AuditError):
    """The service owning the case's root cannot be asked for its state right now."""


class StateNotFound(AuditError):
    """The owning service has no event of the aggregate at or before the instant asked."""


class ReadKind(StrEnum):
    """What an auditor read."""

    CASE_HISTORY = "case_history"
    CASE_STATE = "case_state"
    EXPORT = "export"
    INTEGRITY = "integrity"
    TRAIL = "trail"


class AuditorRead(Aggregate):
    TOPIC = "audit:AuditorRead"

    class Created(Aggregate.Created):
        # Never stored (Recorded is the created event); the library wants one with a TOPIC.
        TOPIC = "audit:AuditorRead.Created"

    class Recorded(Aggregate.Created):
        """`case` is the id or number as the auditor asked it; `case_aggregate_id` the root it
        resolved to (None when it resolved to nothing, or the read names no case); `query` the
        read's other parameters (the export's filters, the state's instant), as given."""

        TOPIC = "audit:AuditorRead.Recorded"
        auditor_id: UUID
        auditor_role: str
        kind: str
        case: str | None
        case_aggregate_id: UUID | None
        query: dict[str, str]

    @event(Recorded)
    def __init__(
        self,
        auditor_id: UUID,
        auditor_role: str,
        kind: str,
        case: str | None,
        case_aggregate_id: UUID | None,
        query: dict[str, str],
    ) -> None:
        self.auditor_id = auditor_id
        self.auditor_role = auditor_role
        self.kind = kind
        self.case = case
        self.case_aggregate_id = case_aggregate_id
        self.query = query


class Verification(Aggregate):
    TOPIC = "audit:Verification"

    class Created(Aggregate.Created):
        # Never stored (Recorded is the created event); the library wants one with a TOPIC.
        TOPIC = "audit:Verification.Created"

    class Recorded(Aggregate.Created):
        """One service's chain checked up to `position` (`events` events): `ok`, or the
        `problem` (the first event that does not hold: position, aggregate id, version)."""

        TOPIC = "audit:Verification.Recorded"
        service: str
        position: int
        events: int
        ok: bool
        problem: str | None
        events_per_second: float

    @event(Recorded)
    def __init__(
        self,
        service: str,
        position: int,
        events: int,
        ok: bool,
        problem: str | None,
        events_per_second: float,
    ) -> None:
        self.service = service
        self.position = position
        self.events = events
        self.ok = ok
        self.problem = problem
        self.events_per_second = events_per_second
