"""Human numbers that run per year (`2026/000042`), the same in every service that gives them.

`YearCounter` is the aggregate that hands them out; `YearNumbering` is where an Application's
group-commit writer takes the counter from (numbers are issued inside its batches, see
`portal_events.group_commit`). A service subclasses `YearCounter` once, declaring nothing but its
own stable TOPICs (of the counter, of `Created` and of `Issued`, each subclassed) and
`create_id(year)`, so what it stored keeps loading and its counters' ids never change.
"""

from __future__ import annotations

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
    cannot take one number (the loser conflicts, and its writer takes the next numbers).
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

    def next_number(self) -> str:
        """The number `issue` will give, without taking it."""
        return format_number(self.year, self.last + 1)

    def issue(self) -> str:
        self.trigger_event(self.Issued)
        return format_number(self.year, self.last)


C = TypeVar("C", bound=YearCounter)


class YearNumbering(Generic[C]):
    """Where an Application's writer takes a year's counter from: the one kept in memory since
    the last batch saved it, else the stored one, else a new one.

    Only the group-commit writer uses it (`portal_events.group_commit`), one batch at a time, so
    a number costs one event in a transaction shared with other commands and no read; after a
    batch that did not save the counter (a conflict, an outage) it is forgotten and read again.
    """

    def __init__(self, counter_class: type[C], repository: Repository[UUID]) -> None:
        self.counter_class = counter_class
        self.repository = repository
        self._counters: dict[int, C] = {}

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

    def saved(self, counter: YearCounter) -> None:
        """`counter` was saved (so it is up to date): keep it for the next batch."""
        assert isinstance(counter, self.counter_class)
        self._counters[counter.year] = counter

    def forget(self, year: int) -> None:
        """The kept counter may be out of date: read it again next time."""
        self._counters.pop(year, None)
