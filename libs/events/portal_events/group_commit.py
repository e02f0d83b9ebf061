"""Group commit: the events of every command that queued up while the previous commit ran are
saved in one transaction (issue 12).

Each transaction that saves events costs PostgreSQL the same whatever it carries: a lock of the
events table, a NOTIFY (which holds a cluster-wide lock until the commit's WAL flush), the insert
and the flush. One save per command makes that the ceiling of every service; one save per batch
of commands lifts it about as many times as the batch holds. So `ServiceApplication.save` queues a
command's stored events here, and the first caller to find the writer free saves everything
queued, its own included, in one `insert_events` transaction and hands each caller its own
notification ids. Leader and followers, with no thread of its own and no artificial wait: a batch
is whatever queued while the previous commit ran, so a lone command is saved at once.

Conflicts. An optimistic-concurrency conflict (another writer saved a version first) fails the
whole transaction; the batch is then saved again item by item. The conflicting item fails, and so
does every later item of the batch touching an aggregate that a failed item touched: it was
changed from a state that never got recorded, so saving it would leave a version gap and the
aggregate could no longer be loaded. Each failed caller gets the `IntegrityError` it would have
got alone (the kit's `retrying` reloads and tries again); the others are saved.

Numbers. A command whose aggregates need the next human number of a year (`2026/000042`) is built
here, inside the batch, by `NumberedCommand.build(number)`: the batch's commands take consecutive
numbers from one counter kept in memory and save the counter once with them, so concurrent
submissions never fight over it. When another replica took numbers meanwhile, the counter
conflicts: the writer reloads it and builds the batch's numbered commands again with new numbers.

Kept as with `Application.save`: ids become visible in commit order (the recorder's table lock),
so a reader tailing the log never skips one; an item is acknowledged only once its transaction
has committed (`synchronous_commit` on), so a crash loses only what no caller was told was saved.
Snapshots, the aggregate cache and the library's notifications are the Application's business,
after its item is saved (`ServiceApplication.save`).
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from uuid import UUID

import structlog
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import (
    AggregateRecorder,
    IntegrityError,
    Mapper,
    Notification,
    Recording,
    StoredEvent,
)

from portal_events.numbering import YearCounter, YearNumbering

log = structlog.get_logger(__name__)

T = TypeVar("T")

# How often a batch whose counter another replica advanced is built again before its numbered
# commands fail with IntegrityError (and their callers' `retrying` takes over).
NUMBERED_REBUILDS = 8


@dataclass(eq=False)
class NumberedCommand(Generic[T]):
    """A command whose aggregates carry the next number of `year` from `numbering`.

    `build(number)` creates them and the command's result; it runs inside the writer's batch, in
    the caller's context (its metadata: actor, correlation id), possibly more than once (after a
    conflict over the counter), so it must only create objects, never read or save.
    """

    numbering: YearNumbering[Any]
    year: int
    build: Callable[[str], tuple[Sequence[Aggregate], T]]


@dataclass(eq=False)
class Saved(Generic[T]):
    """What the writer did with one item: its recordings (as `Application.save` returns them),
    the aggregates they came from and, for a numbered command, its result."""

    recordings: list[Recording[UUID]]
    aggregates: list[Aggregate]
    result: T | None = None


@dataclass(eq=False)
class _Item:
    context: contextvars.Context
    events: list[Any] = field(default_factory=list)
    stored: list[StoredEvent] = field(default_factory=list)
    aggregates: list[Aggregate] = field(default_factory=list)
    numbered: NumberedCommand[Any] | None = None
    result: Any = None
    saved: Saved[Any] | None = None
    error: BaseException | None = None
    counter: YearCounter | None = None

    @property
    def done(self) -> bool:
        return self.saved is not None or self.error is not None

    def originators(self) -> set[UUID]:
        return {stored.originator_id for stored in self.stored}

    def map(self, mapper: Mapper[Any]) -> None:
        """Map the events to stored events in the caller's context (so the metadata mapper stamps
        the caller's actor and correlation id, whichever thread does the writing)."""
        self.stored = [self.context.run(mapper.to_stored_event, event) for event in self.events]


class GroupCommit:
    """One per Application: `save` and `save_numbered` are safe to call from many threads."""

    def __init__(self, recorder: AggregateRecorder, mapper: Mapper[Any]) -> None:
        self._recorder = recorder
        self._mapper = mapper
        self._queued: list[_Item] = []
        self._queue_lock = threading.Lock()
        # Held by the caller doing the writing (the leader) for the whole batch.
        self._write_lock = threading.Lock()
        # Running totals for the service's metrics: their ratio is the mean batch size.
        self.transactions = 0
        self.commands = 0

    def save(self, aggregates: Sequence[Aggregate], events: Sequence[Any]) -> Saved[None]:
        """Save `events` (collected from `aggregates`) in the next batch; raises what saving them
        raised for this item (`IntegrityError` on a conflict)."""
        item = _Item(contextvars.copy_context(), list(events), aggregates=list(aggregates))
        item.map(self._mapper)
        return self._submit(item)

    def save_numbered(self, command: NumberedCommand[T]) -> Saved[T]:
        """Build `command` with the next number inside the next batch and save it."""
        return self._submit(_Item(contextvars.copy_context(), numbered=command))

    def _submit(self, item: _Item) -> Saved[Any]:
        with self._queue_lock:
            self._queued.append(item)
        with self._write_lock:
            # Either an earlier leader saved (or failed) this item while we waited, or it is
            # still queued: no batch is in flight while we hold the lock.
            if not item.done:
                with self._queue_lock:
                    batch, self._queued = self._queued, []
                self.commands += len(batch)
                self._write(batch)
        if item.error is not None:
            raise item.error
        assert item.saved is not None
        return item.saved

    # --- the leader's side ----------------------------------------------------------------

    def _write(self, batch: list[_Item]) -> None:
        try:
            self._write_batch(batch)
        except BaseException as exc:
            # The database failed beyond the recorder's own retries (or we were interrupted):
            # nothing of this batch was acknowledged, and every caller hears why.
            for item in batch:
                if not item.done:
                    item.error = exc
            self._forget_counters(batch)
            if not isinstance(exc, Exception):
                raise

    def _write_batch(self, batch: list[_Item]) -> None:
        for rebuilds in range(NUMBERED_REBUILDS + 1):
            self._number(batch)
            pending = [item for item in batch if not item.done]
            if not pending:
                return
            try:
                ids = self._insert([event for item in pending for event in item.stored])
            except IntegrityError:
                if rebuilds < NUMBERED_REBUILDS and self._counters_moved(pending):
                    log.info("group_commit_counter_moved", rebuilds=rebuilds + 1)
                    self._forget_counters(batch)
                    for item in pending:
                        if item.numbered is not None:
                            self._unbuild(item)
                    continue
                self._write_one_by_one(pending)
                return
            self._saved_in_order(pending, ids)
            self._keep_counters(pending)
            return

    def _insert(self, stored: list[StoredEvent]) -> list[int]:
        self.transactions += 1
        ids = self._recorder.insert_events(stored)
        # An application recorder returns the notification ids; a bare aggregate recorder none.
        return list(ids) if ids is not None else [0] * len(stored)

    def _saved_in_order(self, items: list[_Item], ids: list[int]) -> None:
        start = 0
        for item in items:
            end = start + len(item.stored)
            recordings = [
                Recording(
                    event,
                    Notification(
                        id=notification_id,
                        originator_id=stored.originator_id,
                        originator_version=stored.originator_version,
                        topic=stored.topic,
                        state=stored.state,
                    ),
                )
                for event, stored, notification_id in zip(
                    item.events, item.stored, ids[start:end], strict=True
                )
            ]
            item.saved = Saved(recordings, item.aggregates, item.result)
            start = end

    def _write_one_by_one(self, items: list[_Item]) -> None:
        """After a conflict: each item in its own transaction, in the batch's order; an item
        touching an aggregate a failed item touched fails without being tried."""
        failed_originators: set[UUID] = set()
        for item in items:
            if item.originators() & failed_originators:
                item.error = IntegrityError(
                    "an earlier change of the same aggregate in this batch was not saved"
                )
            else:
                try:
                    ids = self._insert(item.stored)
                except IntegrityError as exc:
                    item.error = exc
                else:
                    self._saved_in_order([item], ids)
                    continue
            failed_originators |= item.originators()
            log.info("group_commit_item_conflict", events=len(item.stored))
        if any(item.error is not None and item.numbered is not None for item in items):
            self._forget_counters(items)
        else:
            self._keep_counters(items)

    # --- numbers ----------------------------------------------------------------------------

    def _number(self, batch: list[_Item]) -> None:
        """Build every numbered command not yet built, taking consecutive numbers."""
        counters: dict[tuple[int, int], YearCounter] = {}
        for item in batch:
            command = item.numbered
            if command is None or item.done or item.stored:
                continue
            key = (id(command.numbering), command.year)
            counter = counters.get(key)
            if counter is None:
                counter = counters[key] = command.numbering.counter(command.year)
            self._build(item, command, counter)

    def _build(self, item: _Item, command: NumberedCommand[Any], counter: YearCounter) -> None:
        number = counter.next_number()
        try:
            aggregates, result = item.context.run(command.build, number)
            events = [event for aggregate in aggregates for event in aggregate.collect_events()]
            stored = [item.context.run(self._mapper.to_stored_event, e) for e in events]
        except Exception as exc:  # the command's own failure: the number stays free
            item.error = exc
            return
        issued = counter.issue()
        assert issued == number, (issued, number)
        counter_events = list(counter.collect_events())
        counter_stored = [item.context.run(self._mapper.to_stored_event, e) for e in counter_events]
        # The counter first: the command's own last event is what read-your-writes waits for.
        item.events = [*counter_events, *events]
        item.stored = [*counter_stored, *stored]
        item.aggregates = [counter, *aggregates]
        item.result = result
        item.counter = counter

    @staticmethod
    def _unbuild(item: _Item) -> None:
        item.events, item.stored, item.aggregates, item.result = [], [], [], None
        item.counter = None

    def _counters_moved(self, items: list[_Item]) -> bool:
        """Whether another writer saved a counter this batch numbers from (so the numbers must be
        taken again), rather than some item conflicting on its own."""
        seen: set[UUID] = set()
        for item in items:
            if item.counter is None or item.counter.id in seen:
                continue
            seen.add(item.counter.id)  # its first item in the batch holds its first new version
            first_version = item.stored[0].originator_version
            stored_now = self._recorder.select_events(item.counter.id, desc=True, limit=1)
            if stored_now and stored_now[0].originator_version >= first_version:
                return True
        return False

    @staticmethod
    def _keep_counters(items: list[_Item]) -> None:
        for item in items:
            if item.counter is not None:  # set only on a numbered command that was built
                assert item.numbered is not None
                item.numbered.numbering.saved(item.counter)

    @staticmethod
    def _forget_counters(items: list[_Item]) -> None:
        for item in items:
            if item.numbered is not None:
                item.numbered.numbering.forget(item.numbered.year)
