"""Due dates of the worklist (SPEC X-3): the deadlines as data, and the arithmetic on them.

A case is due `days` after it was received (ν. 2690/1999 art. 4 gives citizens' applications
50 days); while it waits for the citizen (a status in `paused_by`, e.g. a certificate
`awaiting_applicant`) the clock stops, and the time spent waiting is added to the due date.
Every function here is pure: the worklist stores what they compute from a case's history, and
the one part that depends on the moment asked about (an ongoing pause) is `due_by`, which the
worklist's SQL mirrors (`views.DUE_BY`).
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from types import MappingProxyType

KINDS = ("request", "certificate", "protocol_registration", "fine", "tax_declaration")


class DeadlinesInvalid(ValueError):
    """The deadlines file is not what this module reads."""


@dataclass(frozen=True)
class Deadline:
    """How long one kind of case may take: `days` from submission (None: no due date), not
    counting the time spent in a status of `paused_by`; `basis` says why."""

    kind: str
    days: int | None
    paused_by: frozenset[str]
    basis: str

    @property
    def allowed(self) -> timedelta | None:
        return None if self.days is None else timedelta(days=self.days)


@dataclass(frozen=True)
class Deadlines:
    by_kind: Mapping[str, Deadline]

    def __getitem__(self, kind: str) -> Deadline:
        return self.by_kind[kind]

    @classmethod
    def load(cls, path: str | Path | None = None) -> Deadlines:
        """The deadlines at `path` (BACKOFFICE_DEADLINES_FILE), or the file shipped with the
        service."""
        if path:
            raw = Path(path).read_text(encoding="utf-8")
        else:
            raw = resources.files(__package__).joinpath("deadlines.toml").read_text("utf-8")
        return cls.parse(raw)

    @classmethod
    def parse(cls, raw: str) -> Deadlines:
        try:
            data = tomllib.loads(raw)
            by_kind = {kind: _deadline(kind, data[kind]) for kind in KINDS}
        except (tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as exc:
            raise DeadlinesInvalid(f"deadlines: {exc!r}") from exc
        return cls(MappingProxyType(by_kind))


def _deadline(kind: str, entry: Mapping[str, object]) -> Deadline:
    days = entry.get("days")
    if days is not None and (not isinstance(days, int) or days < 0):
        raise ValueError(f"{kind}.days must be a whole number of days, not {days!r}")
    paused_by = entry.get("paused_by", [])
    if not isinstance(paused_by, list) or not all(isinstance(s, str) for s in paused_by):
        raise ValueError(f"{kind}.paused_by must be a list of statuses")
    return Deadline(kind, days, frozenset(paused_by), str(entry.get("basis", "")))


# --- the arithmetic ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Pauses:
    """The clock's stops in a case's history: the total of those that ended, and the start of
    one still going on (None if the case is not waiting now)."""

    ended: timedelta = timedelta(0)
    since: datetime | None = None


def pauses(statuses: Iterable[tuple[str, datetime]], paused_by: frozenset[str]) -> Pauses:
    """The pauses in a history of (status, since when), in the order the statuses followed
    each other: a pause starts when a status of `paused_by` is entered and ends when one that
    is not follows."""
    ended, since = timedelta(0), None
    for status, at in statuses:
        if status in paused_by:
            if since is None:
                since = at
        elif since is not None:
            ended += max(at - since, timedelta(0))
            since = None
    return Pauses(ended, since)


def due_base(received_at: datetime, deadline: Deadline, paused: Pauses) -> datetime | None:
    """The due date not counting a pause still going on: received + allowed + ended pauses;
    None when the kind has no deadline."""
    allowed = deadline.allowed
    if allowed is None:
        return None
    return received_at + allowed + paused.ended


def due_by(
    base: datetime | None, paused_since: datetime | None, as_of: datetime
) -> datetime | None:
    """The due date as it stands at `as_of`: a pause still going on moves it on by its length
    so far (the clock does not run while the case waits for the citizen)."""
    if base is None or paused_since is None:
        return base
    return base + max(as_of - paused_since, timedelta(0))


def is_overdue(open_: bool, due: datetime | None, as_of: datetime) -> bool:
    """An open case whose due date has passed at `as_of`."""
    return open_ and due is not None and as_of > due


def age_days(received_at: datetime, as_of: datetime) -> float:
    """How long the case has been open at `as_of`, in days (never negative)."""
    return max((as_of - received_at).total_seconds(), 0.0) / 86400
