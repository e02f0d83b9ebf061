"""Human numbers that run per year (`2026/000042`), the same in every service that gives them.

`YearCounter` is the aggregate that hands them out; `YearNumbering` is how an Application takes
them. A service subclasses `YearCounter` once, declaring nothing but its own stable TOPICs (of
the counter, of `Created` and of `Issued`, each subclassed) and `create_id(year)`, so what it
stored keeps loading and its counters' ids never change.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Repository
from eventsourcing.domain import Aggregate, event


def format_number(year: int, sequence: int) -> str:
    """The human number (Α.Α.) shown beside the id, e.g. 2026/000042."""
    return f"{year}/{sequence:06d}"


class YearCounter(Aggregate):
    """Hands out the sequential human numbers of one year.

    Its id is derived from the year (`create_id`, the service's), so every writer finds the same
    counter; it is saved in the same transaction as what gets the number, so two racing writers
    cannot take one number (the loser gets IntegrityError and retries with the next number).
    The base has no TOPICs: a service's subclass declares them (see the module's docstring).
    """

    class Created(Aggregate.Created):
        year: int

    class Issued(Aggregate.Event):
        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, YearCounter)
            aggregate.last += 1

    @staticmethod
    def create_id(year: int) -> UUID:
        raise NotImplementedError("a service's YearCounter derives its counters' ids")

    @event(Created)
    def __init__(self, year: int):
        self.year = year
        self.last = 0

    def issue(self) -> str:
        self.trigger_event(self.Issued)
        return format_number(self.year, self.last)


C = TypeVar("C", bound=YearCounter)


class YearNumbering(Generic[C]):
    """How an Application takes numbers: one at a time in this process, with each year's counter
    kept in memory between takes.

    The recorder serialises writes anyway, and without the turn concurrent takes would collide on
    the counter and retry. Other processes still race; the caller's `retrying` covers them.
    Within a turn the counter stays in memory once saved (saving brings it up to date), so a
    number costs one write and no read; a take that was not saved drops it.

        with numbering.turn():
            counter = numbering.counter(year)   # inside the attempt, once per try
            ...save counter with what gets counter.issue()...
            numbering.saved(counter)            # only if it was saved
    """

    def __init__(self, counter_class: type[C], repository: Repository[UUID]) -> None:
        self.counter_class = counter_class
        self.repository = repository
        self._turn = threading.Lock()
        self._counters: dict[int, C] = {}

    @contextmanager
    def turn(self) -> Iterator[None]:
        """This process's one turn at taking a number."""
        with self._turn:
            yield

    def counter(self, year: int) -> C:
        """The year's counter: the one kept in memory, else the stored one, else a new one."""
        kept = self._counters.pop(year, None)
        if kept is not None:
            return kept
        try:
            stored = self.repository.get(self.counter_class.create_id(year))
        except AggregateNotFoundError:
            return self.counter_class(year)
        assert isinstance(stored, self.counter_class)
        return stored

    def saved(self, counter: C) -> None:
        """`counter` was saved (so it is up to date): keep it for the next take."""
        self._counters[counter.year] = counter
