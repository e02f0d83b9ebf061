"""Requests, complaints and proposals (SPEC R-1..R-5): the Request aggregate and the per-year
counter that hands out human numbers.

Topics are explicit and stable (`requests:...`): renaming a class never breaks stored history.
Events that the relay translates into public contracts carry everything the contract needs
(number, submitter), so the translation needs no extra reads.
"""

from __future__ import annotations

import tomllib
import uuid
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event
from portal_events import numbering
from portal_events.departments import check_routing_targets

# Field limits shared by the domain checks and the HTTP models.
SUBJECT_MAX = 200
TEXT_MAX = 5000
DESIRED_ACTION_MAX = 2000
NOTE_MAX = 2000
CATEGORY_MAX = 64


class Kind(StrEnum):
    """Αίτημα / Καταγγελία / Πρόταση (R-2)."""

    REQUEST = "request"
    COMPLAINT = "complaint"
    PROPOSAL = "proposal"


class Status(StrEnum):
    SUBMITTED = "submitted"
    UNDER_REVIEW = "under_review"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    REJECTED = "rejected"


# Allowed status changes. Anything else is a conflict (HTTP 409).
#   submitted    -> under_review | in_progress | rejected
#   under_review -> in_progress | completed | rejected
#   in_progress  -> completed | rejected
#   completed, rejected: terminal (the case is closed)
ALLOWED_TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.SUBMITTED: frozenset({Status.UNDER_REVIEW, Status.IN_PROGRESS, Status.REJECTED}),
    Status.UNDER_REVIEW: frozenset({Status.IN_PROGRESS, Status.COMPLETED, Status.REJECTED}),
    Status.IN_PROGRESS: frozenset({Status.COMPLETED, Status.REJECTED}),
    Status.COMPLETED: frozenset(),
    Status.REJECTED: frozenset(),
}


class ProtocolStatus(StrEnum):
    """Where the request stands with the protocol registry (R-4)."""

    REQUESTED = "requested"
    PENDING = "pending"  # the registry could not register it yet; retried automatically
    ASSIGNED = "assigned"


# --- domain exceptions (api.py maps them to HTTP errors) --------------------------------------


class RequestsError(Exception):
    """Base of the service's domain errors."""


class SubmissionInvalid(RequestsError):
    """A required field is missing/blank or too long (R-2: clear error, nothing recorded)."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class CategoryUnknown(RequestsError):
    """The category is not in the routing table (R-3), so no department would get it."""

    def __init__(self, category: str, known: list[str]):
        super().__init__(f"unknown category {category!r}")
        self.category = category
        self.known = known


class RequestNotFound(RequestsError):
    """No such request, or not one the caller may see (R-5: never another user's)."""


class TransitionNotAllowed(RequestsError):
    """The status change is not in ALLOWED_TRANSITIONS (R-3)."""

    def __init__(self, current: str, wanted: str):
        super().__init__(f"status cannot change from {current} to {wanted}")
        self.current = current
        self.wanted = wanted


class ProtocolAlreadyAssigned(RequestsError):
    """The request has its protocol number already: never a second one (R-4)."""

    def __init__(self, number: str):
        super().__init__(f"already registered in the protocol as {number}")
        self.number = number


class ProtocolNumberConflict(RequestsError):
    """The registry sent a second, different number for a request that has one already."""


# --- validation --------------------------------------------------------------------------------


def check_text_fields(**fields: tuple[str | None, int, bool]) -> dict[str, str]:
    """Validate `name=(value, max_length, required)`; return the cleaned values (stripped).

    Raises SubmissionInvalid listing every bad field, so the caller gets one clear error.
    """
    errors: dict[str, str] = {}
    cleaned: dict[str, str] = {}
    for name, (value, max_length, required) in fields.items():
        value = (value or "").strip()
        if not value:
            if required:
                errors[name] = "required"
            continue
        if len(value) > max_length:
            errors[name] = f"at most {max_length} characters"
            continue
        cleaned[name] = value
    if errors:
        raise SubmissionInvalid(errors)
    return cleaned


# --- routing (R-3: forwarded to the competent clerks) -----------------------------------------

# The routing table the service runs with. A module attribute, read when a Routing is loaded.
ROUTING_FILE: Traversable = resources.files(__package__).joinpath("routing.toml")


@dataclass(frozen=True)
class Routing:
    """Category -> department, loaded from data (routing.toml); every target is a code of the
    department catalogue (`portal_events.departments`)."""

    default_department: str
    departments: dict[str, str]

    @classmethod
    def load(cls, path: Traversable | None = None) -> Routing:
        """The routing table in `path` (default: `ROUTING_FILE`). Loaded when the service
        starts, so a target outside the catalogue stops it (DepartmentUnknown naming the file)
        instead of routing requests to an inbox no clerk can have."""
        path = path or ROUTING_FILE
        return cls.parse(path.read_text("utf-8"), source=str(path))

    @classmethod
    def parse(cls, text: str, source: str) -> Routing:
        """The routing table in `text`; DepartmentUnknown, naming `source` and the unknown
        codes, if the default or any category routes outside the department catalogue."""
        data = tomllib.loads(text)
        routing = cls(default_department=data["default"], departments=dict(data["categories"]))
        check_routing_targets([routing.default_department, *routing.departments.values()], source)
        return routing

    @property
    def categories(self) -> list[str]:
        return sorted(self.departments)

    def department_for(self, category: str | None) -> str:
        if category is None:
            return self.default_department
        try:
            return self.departments[category]
        except KeyError:
            raise CategoryUnknown(category, self.categories) from None


# --- aggregates --------------------------------------------------------------------------------

_COUNTER_NAMESPACE = uuid.UUID("0b7f0d6a-2f4e-4f8a-9a57-6a4e3f1c9d21")


class YearCounter(numbering.YearCounter):
    """The requests' human numbers (R-2); saved with the new Request."""

    TOPIC = "requests:YearCounter"

    class Created(numbering.YearCounter.Created):
        TOPIC = "requests:YearCounter.Created"

    class Issued(numbering.YearCounter.Issued):
        TOPIC = "requests:YearCounter.Issued"

    @staticmethod
    def create_id(year: int) -> UUID:
        return uuid.uuid5(_COUNTER_NAMESPACE, f"requests/number/{year}")


class SubmissionKey(Aggregate):
    """Retired: named submissions' idempotency keys, before the kit's `IdempotencyRecord` took
    over. No longer written; kept so that histories recorded with it still decode (the relay
    reads every stored event)."""

    TOPIC = "requests:SubmissionKey"

    class Created(Aggregate.Created):
        TOPIC = "requests:SubmissionKey.Created"
        submitted_by: UUID
        key: str
        request_id: UUID

    @event(Created)
    def __init__(self, submitted_by: UUID, key: str, request_id: UUID):
        self.request_id = request_id


class Request(Aggregate):
    """One request, complaint or proposal, named (R-2) or anonymous (R-1)."""

    TOPIC = "requests:Request"

    # The library defines an implicit `Created` class that needs a stable topic too; requests
    # are only ever created through `Submitted`, so it is never stored.
    class Created(Aggregate.Created):
        TOPIC = "requests:Request.Created"

    @event("Submitted", topic="requests:Request.Submitted")
    def __init__(
        self,
        *,
        number: str,
        kind: str,
        subject: str,
        text: str,
        desired_action: str | None,
        category: str | None,
        department: str,
        submitted_by: UUID | None,
    ):
        self.number = number
        self.kind = kind
        self.subject = subject
        self.text = text
        self.desired_action = desired_action
        self.category = category
        self.department = department
        self.submitted_by = submitted_by
        self.status: str = Status.SUBMITTED.value
        self.reply: str | None = None
        self.protocol_status: str | None = None
        self.protocol_number: str | None = None
        self.protocol_date: str | None = None  # ISO date, as the registry gave it

    @property
    def anonymous(self) -> bool:
        return self.submitted_by is None

    # status changes ---------------------------------------------------------------------

    def change_status(self, status: Status, note: str | None = None) -> None:
        if status not in ALLOWED_TRANSITIONS[Status(self.status)]:
            raise TransitionNotAllowed(self.status, status.value)
        self._status_changed(status.value, note, self.number, self.submitted_by)

    # number and submitted_by ride along for the relay's public contract; state ignores them.
    @event("StatusChanged", topic="requests:Request.StatusChanged")
    def _status_changed(
        self, status: str, note: str | None, number: str, submitted_by: UUID | None
    ) -> None:
        self.status = status

    # reply -------------------------------------------------------------------------------

    def answer(self, text: str) -> None:
        """Record the municipality's reply (the latest one is shown; all stay in history)."""
        self._replied(text, self.number, self.submitted_by)

    @event("Replied", topic="requests:Request.Replied")
    def _replied(self, text: str, number: str, submitted_by: UUID | None) -> None:
        self.reply = text

    # protocol --------------------------------------------------------------------------

    def request_protocol(self) -> bool:
        """Ask for registration; False when already asked (no second request, never two
        numbers); ProtocolAlreadyAssigned when it has its number."""
        if self.protocol_number is not None:
            raise ProtocolAlreadyAssigned(self.protocol_number)
        if self.protocol_status is not None:
            return False
        self._protocol_requested(self.subject, self.submitted_by, self.department)
        return True

    class ProtocolRequested(Aggregate.Event):
        """The registry is asked for a number. title, applicant and department ride along for
        the relay's public contract (the protocol service shows the registration to the
        department's clerks). Version 1, stored before the department rode along, reads with
        department None: such a registration is seen by admins and auditors only."""

        TOPIC = "requests:Request.ProtocolRequested"
        class_version = 2
        title: str
        applicant_id: UUID | None
        department: str | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["department"] = None

    @event(ProtocolRequested)
    def _protocol_requested(
        self, title: str, applicant_id: UUID | None, department: str | None
    ) -> None:
        self.protocol_status = ProtocolStatus.REQUESTED.value

    def mark_protocol_pending(self, attempts: int, reason: str) -> bool:
        """The registry is retrying; False (no event) when already pending or assigned."""
        if self.protocol_number is not None or self.protocol_status == ProtocolStatus.PENDING:
            return False
        self._protocol_pending(attempts, reason)
        return True

    @event("ProtocolPending", topic="requests:Request.ProtocolPending")
    def _protocol_pending(self, attempts: int, reason: str) -> None:
        self.protocol_status = ProtocolStatus.PENDING.value

    def record_protocol(self, number: str, date: str) -> bool:
        """Record the protocol number/date; idempotent by state (same number again -> False).

        A different number for a request that already has one is never recorded
        (ProtocolNumberConflict): one request, one protocol number.
        """
        if self.protocol_number == number:
            return False
        if self.protocol_number is not None:
            raise ProtocolNumberConflict(
                f"request {self.id} has protocol {self.protocol_number}, got {number}"
            )
        self._protocol_assigned(number, date, self.submitted_by)
        return True

    @event("ProtocolAssigned", topic="requests:Request.ProtocolAssigned")
    def _protocol_assigned(self, number: str, date: str, submitted_by: UUID | None) -> None:
        self.protocol_status = ProtocolStatus.ASSIGNED.value
        self.protocol_number = number
        self.protocol_date = date
