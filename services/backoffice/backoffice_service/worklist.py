"""The worklist's cases and people as pure data: what an event says about them, how such
statements merge, and the row a case's merged state gives (SPEC X-3).

Kafka orders messages within a partition only. Across topics a case's facts arrive in any order
(a protocol number before the protocol request, the applicant's name before or after the
application), a message may come twice, and a rebuild from offset zero interleaves the topics
differently again. So a change is never "set this column": it is a statement that merges into a
case's state with an operation that is commutative, associative and idempotent, and the state
after a set of events is the same whatever their order and however often each came:

- facts of a case that do not change once known (number, subject, department, applicant, when
  received): kept once known; should two statements ever disagree, the smaller value wins;
- the status history: a set of (order, status, since) entries, the order being the producing
  aggregate's version (or, for protocol registrations, fines and tax declarations, whose
  statuses come from several services or may be published apart, their rank: requested <
  pending < assigned, recorded < paid, accepted < filed); the current status is the entry of
  the highest order;
- when the case last changed: the latest time heard of;
- a person's name and verification: each with the version of identity's user aggregate that
  said it; the higher version wins.

A case is listed once it is complete enough (its submission is known: `received_at`); until
then its row is partial, waiting for the rest.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from uuid import UUID

from backoffice_service.deadlines import Deadlines, due_base, pauses

ItemKind = Literal["request", "certificate", "protocol_registration", "fine", "tax_declaration"]

SERVICE_OF: Mapping[str, str] = {
    "request": "requests",
    "certificate": "certificates",
    "protocol_registration": "protocol",
    "fine": "fines",
    "tax_declaration": "business",
}
# Where a case is worked, by kind (API paths through the gateway).
LINK_OF: Mapping[str, str] = {
    "request": "/requests/{id}",
    "certificate": "/certificates/{id}",
    "protocol_registration": "/protocol/registrations/{id}",
    "fine": "/fines/{id}",
    "tax_declaration": "/business/tax-declarations/{id}",
}
# Statuses that end a case.
CLOSED_STATUSES: Mapping[str, frozenset[str]] = {
    "request": frozenset({"completed", "rejected"}),
    "certificate": frozenset({"issued", "rejected"}),
    "protocol_registration": frozenset({"assigned"}),
    "fine": frozenset({"paid"}),
    "tax_declaration": frozenset({"filed"}),
}
STATUSES = (
    "submitted",
    "under_review",
    "in_progress",
    "awaiting_applicant",
    "completed",
    "issued",
    "rejected",
    "requested",
    "pending",
    "assigned",
    "recorded",
    "paid",
    "accepted",
    "filed",
)

# Facts a case may have; anything else in a change is a bug.
FACTS = frozenset(
    {
        "number",
        "subject",
        "case_type",
        "department",
        "applicant_id",
        "applicant_name",
        "received_at",
    }
)


@dataclass(frozen=True)
class StatusEntry:
    """The case entered `status` at `at`; `order` places it in the case's history."""

    order: tuple[int, ...]
    status: str
    at: datetime


@dataclass(frozen=True)
class CaseChange:
    """What one event says about one case (its kind and id)."""

    kind: ItemKind
    item_id: UUID
    facts: Mapping[str, Any] = field(default_factory=dict)
    statuses: tuple[StatusEntry, ...] = ()
    at: datetime | None = None  # when the event happened: the case changed then


@dataclass(frozen=True)
class PersonChange:
    """What identity says about a user: `facts` name -> value, said at the user aggregate's
    `version`."""

    user_id: UUID
    version: int
    facts: Mapping[str, Any]


Change = CaseChange | PersonChange

# --- state: JSON documents, as stored --------------------------------------------------------


def _instant(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return _instant(value)
    if isinstance(value, UUID):
        return str(value)
    return value


def merge_case(state: Mapping[str, Any] | None, change: CaseChange) -> dict[str, Any]:
    """The case's state after `change` (a new dict; `state` is left alone)."""
    state = state or {}
    facts = dict(state.get("facts", {}))
    for name, raw in change.facts.items():
        if name not in FACTS:
            raise ValueError(f"not a fact of a case: {name}")
        if raw is None:
            continue  # not said
        value = _json_value(raw)
        known = facts.get(name)
        if known is None or _canonical(value) < _canonical(known):
            facts[name] = value
    statuses = {tuple(order): [status, at] for order, status, at in state.get("statuses", [])}
    for entry in change.statuses:
        new = [entry.status, _instant(entry.at)]
        known = statuses.get(entry.order)
        if known is None or _canonical(new) < _canonical(known):
            statuses[entry.order] = new
    changed_at = state.get("changed_at")
    if change.at is not None:
        at = _instant(change.at)
        changed_at = at if changed_at is None else max(changed_at, at)
    return {
        "facts": dict(sorted(facts.items())),
        "statuses": [[list(order), *statuses[order]] for order in sorted(statuses)],
        "changed_at": changed_at,
    }


def merge_person(state: Mapping[str, Any] | None, change: PersonChange) -> dict[str, Any]:
    """The person's state after `change`: per fact [version, value], the higher version wins
    (the same version twice: the smaller value, so that the result never depends on order)."""
    merged = dict(state or {})
    for name, raw in change.facts.items():
        new = [change.version, _json_value(raw)]
        known = merged.get(name)
        if known is None or (new[0], _canonical(new[1])) > (known[0], _canonical(known[1])):
            merged[name] = new
    return dict(sorted(merged.items()))


# --- what a case's state gives ---------------------------------------------------------------


def _datetime(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def case_row(kind: str, item_id: UUID, state: Mapping[str, Any], deadlines: Deadlines) -> dict:
    """The columns of a case's row: its facts, current status, whether it is open, and its due
    date as far as the history fixes it (`due_base`; an ongoing pause is counted at reading
    time from `paused_since`)."""
    facts = state.get("facts", {})
    history = [(status, datetime.fromisoformat(at)) for _, status, at in state.get("statuses", [])]
    status = history[-1][0] if history else None
    received_at = _datetime(facts.get("received_at"))
    deadline = deadlines[kind]
    paused = pauses(history, deadline.paused_by)
    applicant_id = facts.get("applicant_id")
    return {
        "kind": kind,
        "item_id": item_id,
        "service": SERVICE_OF[kind],
        "number": facts.get("number"),
        "subject": facts.get("subject"),
        "case_type": facts.get("case_type"),
        "department": facts.get("department"),
        "applicant_id": None if applicant_id is None else UUID(applicant_id),
        "applicant_name": facts.get("applicant_name"),
        "status": status,
        "open": status is not None and status not in CLOSED_STATUSES[kind],
        "received_at": received_at,
        "changed_at": _datetime(state.get("changed_at")),
        "due_base": None if received_at is None else due_base(received_at, deadline, paused),
        "paused_since": paused.since,
        "deadline_days": deadline.days,
    }


def person_row(user_id: UUID, state: Mapping[str, Any]) -> dict:
    name = state.get("name", [0, None])[1]
    verified = state.get("verified", [0, False])[1]
    return {"user_id": user_id, "name": name, "verified": bool(verified)}


# --- in memory: the unit tests' store and the rebuild's batches ------------------------------


@dataclass
class States:
    """Cases and people merged in memory."""

    cases: dict[tuple[str, UUID], dict[str, Any]] = field(default_factory=dict)
    people: dict[UUID, dict[str, Any]] = field(default_factory=dict)

    def apply(self, changes: Iterable[Change]) -> None:
        for change in changes:
            if isinstance(change, CaseChange):
                key = (change.kind, change.item_id)
                self.cases[key] = merge_case(self.cases.get(key), change)
            else:
                self.people[change.user_id] = merge_person(self.people.get(change.user_id), change)
