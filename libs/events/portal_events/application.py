"""The base of every service's eventsourcing Application: what each of them needs, written once.

- `load`: load-or-not-found that checks the aggregate's type and the caller's scope on the
  aggregate's *first* event before it replays a history, so that an id of the wrong kind (say,
  the year counter with its thousands of events) or of someone else's case costs one row, not a
  replay, and answers the same "not found" as an id that does not exist.
- `retrying`: one policy for optimistic-concurrency conflicts (another writer saved the same
  aggregate first): reload and try again, with jittered backoff so racing replicas do not collide
  in lockstep, then `Contention`; `changing` is the usual load-change-save under it.
- `save`: every save goes through the service's group-commit writer
  (`portal_events.group_commit`): the events of all the commands that queued up while the
  previous commit ran are saved in one transaction, each caller getting its own recordings or
  its own conflict; snapshots, the aggregate cache and notifications work as with the library's.
- `save_numbered`: `save_once` for a command whose aggregates carry the next human number of the
  year; the writer issues the numbers inside its batch.
- `save_once`: commands that create something accept an idempotency key. The key's record is an
  aggregate saved in the same transaction as what the command creates, so a repeat finds the
  first result and two racing twins cannot both be recorded; the fingerprint covers the whole
  command, so a key reused for another command is refused (`IdempotencyKeyReused`).
- `event_name`: what people see in histories is an event's stable name, never a class name.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar, Generic, TypeVar
from uuid import UUID

import structlog
from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError, JSONTranscoder, Recording, Transcoding
from eventsourcing.utils import get_topic

from portal_events import history
from portal_events.group_commit import GroupCommit, NumberedCommand, Saved
from portal_events.mapper import MAPPER_TOPIC
from portal_events.numbering import YearNumbering

log = structlog.get_logger(__name__)

A = TypeVar("A", bound=Aggregate)
T = TypeVar("T")


class Contention(Exception):
    """Too many concurrent changes of the same aggregate; the caller may try again."""


class IdempotencyKeyReused(Exception):
    """The idempotency key was already used for a different command."""


class IdempotencyRecord(Aggregate):
    """What a command sent with an idempotency key produced; its id is derived from the caller
    and the key."""

    TOPIC = "portal:IdempotencyRecord"

    class Created(Aggregate.Created):  # never stored: records are created by `Recorded`
        TOPIC = "portal:IdempotencyRecord.Created"

    class Recorded(Aggregate.Created):
        TOPIC = "portal:IdempotencyRecord.Recorded"
        owner: str
        key: str
        fingerprint: str
        result: dict[str, Any]

    @event(Recorded)
    def __init__(self, owner: str, key: str, fingerprint: str, result: dict[str, Any]) -> None:
        self.fingerprint = fingerprint
        self.result = result

    @staticmethod
    def create_id(owner: str, key: str) -> UUID:
        return uuid.uuid5(_IDEMPOTENCY_NAMESPACE, f"{owner}\n{key}")


_IDEMPOTENCY_NAMESPACE = UUID("0f7c3b7e-58f4-4d52-9a53-5a3a1d1f2e61")


@dataclass(frozen=True)
class Idempotency:
    """An idempotency key as a command carries it: whose, which key, and the fingerprint of the
    whole command (every field, normalised by the API before it gets here)."""

    owner: str
    key: str
    fingerprint: str

    @classmethod
    def of(cls, owner: object, key: str | None, command: Mapping[str, Any]) -> Idempotency | None:
        if key is None:
            return None
        if owner is None:
            raise ValueError("an idempotency key needs an owner (e.g. 'anonymous')")
        canonical = json.dumps(command, sort_keys=True, default=str, ensure_ascii=False)
        fingerprint = hashlib.sha256(canonical.encode()).hexdigest()
        return cls(owner=str(owner), key=key, fingerprint=fingerprint)

    @property
    def record_id(self) -> UUID:
        return IdempotencyRecord.create_id(self.owner, self.key)


@dataclass(frozen=True)
class Written(Generic[T]):
    """The outcome of a command: its result, and the notification id of the write for
    read-your-writes (None when nothing new was recorded)."""

    result: T
    position: int | None


class DateAsISO(Transcoding):
    """Stores a `date` (a protocol date, a warrant's issue date) as "YYYY-MM-DD"; the library
    has no transcoding for it."""

    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class ServiceApplication(Application[UUID]):
    """Subclass it once per service; `name` is the service's name, lower case."""

    env: ClassVar[dict[str, str]] = {"MAPPER_TOPIC": MAPPER_TOPIC, "SINGLE_ROW_TRACKING": "y"}
    max_save_attempts: ClassVar[int] = 8

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        super().__init__(env)
        self.writer = GroupCommit(self.recorder, self.mapper)

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    # --- loading -------------------------------------------------------------------------------

    def load(
        self,
        aggregate_id: UUID,
        aggregate_class: type[A],
        *,
        not_found: Callable[[str], Exception],
        visible: Callable[[A], bool] | None = None,
    ) -> A:
        """The aggregate, if it exists, is an `aggregate_class` and `visible` to the caller
        (checked on its first event, then again on its current state); else `not_found(id)`."""
        self._check_first_event(aggregate_id, aggregate_class, not_found, visible)
        aggregate = self.repository.get(aggregate_id)
        if visible is not None and not visible(aggregate):
            raise not_found(str(aggregate_id))
        return aggregate

    def find(self, aggregate_id: UUID, aggregate_class: type[A]) -> A | None:
        """The aggregate if one of `aggregate_class` is stored under this id, else None (for the
        aggregates a service creates on first use: a counter, what identity said of a user)."""
        try:
            return self.load(aggregate_id, aggregate_class, not_found=LookupError)
        except LookupError:
            return None

    def load_with_history(
        self,
        aggregate_id: UUID,
        aggregate_class: type[A],
        *,
        not_found: Callable[[str], Exception],
        visible: Callable[[A], bool] | None = None,
    ) -> tuple[A, list[Any]]:
        """Like `load`, and every event of the aggregate, oldest first (for histories)."""
        aggregate: Any = self._check_first_event(aggregate_id, aggregate_class, not_found, visible)
        events = list(self.events.get(aggregate_id))
        for domain_event in events[1:]:
            aggregate = domain_event.mutate(aggregate)
        if visible is not None and not visible(aggregate):
            raise not_found(str(aggregate_id))
        return aggregate, events

    def _check_first_event(
        self,
        aggregate_id: UUID,
        aggregate_class: type[A],
        not_found: Callable[[str], Exception],
        visible: Callable[[A], bool] | None,
    ) -> A:
        first = next(iter(self.events.get(aggregate_id, lte=1)), None)
        created = first.mutate(None) if first is not None else None
        if not isinstance(created, aggregate_class) or (
            visible is not None and not visible(created)
        ):
            raise not_found(str(aggregate_id))
        return created

    # --- writing -------------------------------------------------------------------------------

    def retrying(self, attempt: Callable[[], T]) -> T:
        """Run `attempt` (which loads, changes and saves) again when another writer saved the
        same aggregate first; `Contention` after `max_save_attempts`."""
        for tries in range(1, self.max_save_attempts + 1):
            try:
                return attempt()
            except IntegrityError:
                log.info("save_conflict_retrying", application=self.name, tries=tries)
                # A random pause growing with the tries, so that racing writers (other replicas)
                # stop colliding in lockstep and none of them starves.
                time.sleep(random.uniform(0, 0.002 * tries))  # noqa: S311 - not security
        raise Contention("Too many concurrent changes; please try again.")

    def changing(self, load: Callable[[], A], change: Callable[[A], object]) -> Written[A]:
        """Load an aggregate (`load`, e.g. a scope-checked `load`), `change` it and save it, all
        again when another writer saved it first. The result is the changed aggregate; the
        position is None when the change recorded nothing."""

        def attempt() -> Written[A]:
            aggregate = load()
            change(aggregate)
            if not aggregate.pending_events:
                return Written(aggregate, None)
            return Written(aggregate, self.save(aggregate)[-1].notification.id)

        return self.retrying(attempt)

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        """`Application.save` through the group-commit writer: saved in one transaction with
        whatever other commands queued meanwhile; raises `IntegrityError` only for a conflict of
        this call's own events (or of an earlier change in the batch to the same aggregate)."""
        if kwargs:  # recorder arguments (tracking): the library's own path, one transaction
            return super().save(*objs, **kwargs)
        processing_event: ProcessingEvent[UUID] = ProcessingEvent()
        processing_event.collect_events(*objs)
        aggregates = list(processing_event.aggregates.values())
        return self._after_saving(self.writer.save(aggregates, processing_event.events))

    def _after_saving(self, saved: Saved[Any]) -> list[Recording[UUID]]:
        """What `Application.save` does once the events are stored, for one writer's item."""
        processing_event: ProcessingEvent[UUID] = ProcessingEvent()
        processing_event.events = [recording.domain_event for recording in saved.recordings]
        processing_event.aggregates = {aggregate.id: aggregate for aggregate in saved.aggregates}
        if self.repository.cache and not self.repository.fastforward:
            for aggregate_id, aggregate in processing_event.aggregates.items():
                self.repository.cache.put(aggregate_id, aggregate)
        self._take_snapshots(processing_event)
        self._notify(saved.recordings)
        return saved.recordings

    def save_numbered(
        self,
        idempotency: Idempotency | None,
        numbering: YearNumbering[Any],
        year: int,
        create: Callable[[str], tuple[Sequence[Aggregate], dict[str, Any]]],
    ) -> Written[dict[str, Any]]:
        """`save_once` for a command whose aggregates carry the next human number of `year`.

        `create(number)` runs inside the writer's batch (see `NumberedCommand`: it only creates
        objects, and may run again with another number after a conflict over the counter); the
        number is taken if and only if what it creates is saved, in the same transaction.
        """

        def build(number: str) -> tuple[list[Aggregate], dict[str, Any]]:
            aggregates, result = create(number)
            return [*self._idempotency_records(idempotency, result), *aggregates], result

        def attempt() -> Written[dict[str, Any]]:
            earlier = self._earlier_result(idempotency)
            if earlier is not None:
                return Written(earlier, None)
            saved = self.writer.save_numbered(NumberedCommand(numbering, year, build))
            recordings = self._after_saving(saved)
            assert saved.result is not None
            return Written(saved.result, recordings[-1].notification.id)

        return self.retrying(attempt)

    def save_once(
        self,
        idempotency: Idempotency | None,
        create: Callable[[], tuple[Sequence[Aggregate], dict[str, Any]]],
    ) -> Written[dict[str, Any]]:
        """Run a creating command at most once per idempotency key.

        `create` returns the aggregates to save and the command's result (JSON-able: it is kept
        for repeats). They are saved with the key's record in one transaction; the last
        aggregate's position is what read-your-writes waits for. A repeat returns the first
        result with no position; a key reused with another command raises
        `IdempotencyKeyReused`. Conflicts are retried as in `retrying`.
        """

        def attempt() -> Written[dict[str, Any]]:
            earlier = self._earlier_result(idempotency)
            if earlier is not None:
                return Written(earlier, None)
            aggregates, result = create()
            records = self._idempotency_records(idempotency, result)
            recordings = self.save(*records, *aggregates)
            return Written(result, recordings[-1].notification.id if recordings else None)

        return self.retrying(attempt)

    def _earlier_result(self, idempotency: Idempotency | None) -> dict[str, Any] | None:
        """The result recorded under the key, if the command was already run with it."""
        if idempotency is None:
            return None
        record = self._idempotency_record(idempotency)
        return record.result if record is not None else None

    @staticmethod
    def _idempotency_records(
        idempotency: Idempotency | None, result: dict[str, Any]
    ) -> list[IdempotencyRecord]:
        if idempotency is None:
            return []
        return [
            IdempotencyRecord(idempotency.owner, idempotency.key, idempotency.fingerprint, result)
        ]

    def _idempotency_record(self, idempotency: Idempotency) -> IdempotencyRecord | None:
        try:
            record = self.load(
                idempotency.record_id, IdempotencyRecord, not_found=lambda _: LookupError()
            )
        except LookupError:
            return None
        if record.fingerprint != idempotency.fingerprint:
            raise IdempotencyKeyReused(
                "This Idempotency-Key was already used for a different request."
            )
        return record


def event_name(domain_event: Any) -> str:
    """The stable name of a stored event for people (`Submitted` for `requests:Request.Submitted`),
    from its explicit topic, never from its Python class name."""
    return history.event_name(get_topic(type(domain_event)))
