"""The consumer side: decode, hand to an idempotent handler, commit; tell outages from bad messages.

- Offsets are committed manually, after the handler returned (its database commit is done).
- Handlers are synchronous (they call the eventsourcing Application) and run in a worker thread
  with the envelope's correlation id bound, the envelope's event id as causation id and the
  consuming service as actor.
- Handlers must be idempotent: Kafka delivers at least once, the relay may resend after a crash
  and an operator may replay dead letters. Use a deterministic aggregate id, state that ignores a
  repeat, or `first_delivery` (a processed-message row in the same transaction as the effect).
- Unknown types and versions are skipped; unknown fields are ignored by the contracts.

Failures are sorted by what trying again can do for them (issue 5 §1):
- Infrastructure (`is_infrastructure_failure`: database unavailable, connection refused or
  reset, timeouts, any OSError, broker errors, including those of producing a dead letter or
  committing): retried without limit. The partition is paused and rewound to the message, so
  nothing later on it overtakes; nothing is committed or dead-lettered; it is tried again after
  an exponential backoff (up to `retry_max_seconds`). The other partitions go on. `health()`
  says degraded meanwhile.
- Deterministic: an undecodable envelope, invalid contract data, or `MessageRefused` raised by
  the handler ("this message can never be applied") go to the dead-letter topic at once.
- Anything else is a bug: `max_attempts` tries with a short backoff, then the dead-letter topic.
Dead letters keep the original headers and add `dlq.*` ones (original topic, partition and
offset, consumer group, reason, time); `python -m portal_events.dead_letters` lists and replays
them. A replayed copy carries `dlq.replay_for=<group>`: every other consumer group skips it.

The group membership outlives an outage: aiokafka heartbeats in the background, and the group
drops a member that has not polled for `max_poll_interval_ms`, so the loop keeps polling while
partitions wait for their retry, while a handler call is slow (the partition paused meanwhile),
and after `max_batch_seconds` of a long batch.

Figures for health and metrics, read from any thread:
- `health() -> ComponentHealth`: ok unless a partition is being retried. `detail` holds
  `handled`, `dead_lettered`, `lag`, `partitions` and, while degraded, `retrying`
  ({"topic-partition": attempts}) and `last_error`.
- `lag() -> dict[str, int]`: per consumed topic, messages not yet processed by this replica
  (highwater minus position, summed over the partitions it holds), as of the last poll.
- `retrying() -> dict[str, int]`: attempts so far per retried partition ("topic-partition").
- `assigned() -> list[str]`: the partitions this replica holds ("topic-partition").
- `handled`, `dead_lettered`: messages applied / dead-lettered since start (counters).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import psycopg
import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import IllegalStateError
from pydantic import ValidationError

from portal_events import context
from portal_events.contracts import Contract
from portal_events.envelope import Envelope
from portal_events.failures import INFRASTRUCTURE_ERRORS, is_infrastructure_failure
from portal_events.health import ComponentHealth

log = structlog.get_logger()

Handler = Callable[[Envelope, Any], None]

# Headers of a dead-lettered message (beside the original ones) and of a replayed copy.
ORIGINAL_TOPIC_HEADER = "dlq.original_topic"
ORIGINAL_PARTITION_HEADER = "dlq.original_partition"
ORIGINAL_OFFSET_HEADER = "dlq.original_offset"
CONSUMER_GROUP_HEADER = "dlq.consumer_group"
REASON_HEADER = "dlq.reason"
FAILED_AT_HEADER = "dlq.failed_at"
REPLAY_FOR_HEADER = "dlq.replay_for"
REPLAY_OF_HEADER = "dlq.replay_of"
DLQ_HEADER_PREFIX = "dlq."

# A handler call running longer than this gets the group membership kept alive by polling.
_SLOW_CALL_SECONDS = 1.0


class MessageRefused(Exception):
    """Raised by a handler: the domain refuses this message and never will accept it.

    The consumer dead-letters it at once (no retries), with this exception's text as the reason.
    """


@contextlib.contextmanager
def refusing_domain_errors(domain_error: type[Exception]) -> Iterator[None]:
    """In a handler: a domain rule (`domain_error`, the service's base of them) that refuses a
    message refuses it for good, so it becomes `MessageRefused`, naming the rule."""
    try:
        yield
    except domain_error as exc:
        raise MessageRefused(f"{type(exc).__name__}: {exc}") from exc


@dataclass
class _Retry:
    """A partition held back because its next message met an infrastructure failure."""

    attempts: int = 0
    resume_at: float = 0.0
    paused: bool = False


class _TrackAssignment(ConsumerRebalanceListener):
    """Keeps the partitions this member holds; a revoked partition's retry state goes with it
    (its next owner starts from the committed offset)."""

    def __init__(self, owner: EventConsumer) -> None:
        self._owner = owner

    def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        for partition in revoked:
            self._owner._retries.pop(partition, None)
        self._owner._assigned = frozenset()

    def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        self._owner._assigned = frozenset(assigned)


class EventConsumer:
    def __init__(
        self,
        *,
        service: str,
        group_id: str,
        topics: list[str],
        handlers: dict[type[Contract], Handler],
        bootstrap_servers: str,
        dead_letter_topic: str,
        max_attempts: int = 3,
        backoff_seconds: float = 0.2,
        retry_base_seconds: float = 0.5,
        retry_max_seconds: float = 30.0,
        transient_errors: tuple[type[BaseException], ...] = (),
        max_records: int = 200,
        max_batch_seconds: float = 30.0,
        max_poll_interval_ms: int = 300_000,
        commit_timeout_seconds: float = 30.0,
    ) -> None:
        """`max_attempts`/`backoff_seconds` bound the retries of a failing (buggy) handler;
        `retry_base_seconds`..`retry_max_seconds` pace the unbounded retries of infrastructure
        failures; `transient_errors` adds exception types to treat as infrastructure."""
        self.service = service
        self.group_id = group_id
        self.topics = topics
        self.handlers = {(c.TYPE, c.VERSION): h for c, h in handlers.items()}
        self.bootstrap_servers = bootstrap_servers
        self.dead_letter_topic = dead_letter_topic
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self.retry_base_seconds = retry_base_seconds
        self.retry_max_seconds = retry_max_seconds
        self.transient_errors = transient_errors
        self.max_records = max_records
        self.max_batch_seconds = max_batch_seconds
        self.max_poll_interval_ms = max_poll_interval_ms
        self.commit_timeout_seconds = commit_timeout_seconds
        self.handled = 0
        self.dead_lettered = 0
        self._retries: dict[TopicPartition, _Retry] = {}
        self._last_error: str | None = None
        self._lag: dict[str, int] = dict.fromkeys(topics, 0)
        self._assigned: frozenset[TopicPartition] = frozenset()

    # --- figures ------------------------------------------------------------------------------

    def retrying(self) -> dict[str, int]:
        return {_name(tp): retry.attempts for tp, retry in dict(self._retries).items()}

    def lag(self) -> dict[str, int]:
        return dict(self._lag)

    def assigned(self) -> list[str]:
        return sorted(_name(tp) for tp in self._assigned)

    def health(self) -> ComponentHealth:
        retrying = self.retrying()
        detail: dict[str, Any] = {
            "handled": self.handled,
            "dead_lettered": self.dead_lettered,
            "lag": self.lag(),
            "partitions": self.assigned(),
        }
        if retrying:
            detail |= {"retrying": retrying, "last_error": self._last_error}
        return ComponentHealth(ok=not retrying, detail=detail)

    # --- the loop -----------------------------------------------------------------------------

    async def run(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers,
            group_id=self.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            max_poll_interval_ms=self.max_poll_interval_ms,
        )
        consumer.subscribe(self.topics, listener=_TrackAssignment(self))
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap_servers, enable_idempotence=True, acks="all"
        )
        self._retries.clear()
        self._assigned = frozenset()
        async with contextlib.AsyncExitStack() as stack:
            await producer.start()
            stack.push_async_callback(producer.stop)
            await consumer.start()
            stack.push_async_callback(consumer.stop)
            log.info("consumer_started", group_id=self.group_id, topics=self.topics)
            while True:
                self._resume_due(consumer)
                batches = await consumer.getmany(
                    timeout_ms=self._poll_timeout_ms(), max_records=self.max_records
                )
                deadline = time.monotonic() + self.max_batch_seconds
                for partition, records in batches.items():
                    await self._consume_batch(consumer, producer, partition, records, deadline)
                await self._measure_lag(consumer)

    def _poll_timeout_ms(self) -> int:
        waits = [r.resume_at for r in self._retries.values() if r.paused]
        until_resume = min(waits, default=float("inf")) - time.monotonic()
        return int(max(0.0, min(0.5, until_resume)) * 1000)

    def _resume_due(self, consumer: AIOKafkaConsumer) -> None:
        now = time.monotonic()
        for partition, retry in list(self._retries.items()):
            if retry.paused and retry.resume_at <= now and partition in consumer.assignment():
                consumer.resume(partition)
                retry.paused = False

    async def _consume_batch(
        self,
        consumer: AIOKafkaConsumer,
        producer: AIOKafkaProducer,
        partition: TopicPartition,
        records: list[ConsumerRecord[bytes, bytes]],
        deadline: float,
    ) -> None:
        next_offset = records[0].offset
        try:
            for record in records:
                if time.monotonic() > deadline:
                    consumer.seek(partition, next_offset)  # the rest comes with the next poll
                    break
                await self._consume(record, consumer, producer)
                next_offset = record.offset + 1
            if next_offset == records[0].offset:
                return  # out of time before the first one
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that
            # meets a finishing commit, and shutdown would then never end.
            async with asyncio.timeout(self.commit_timeout_seconds):
                await consumer.commit({partition: next_offset})
        except Exception as exc:
            if not is_infrastructure_failure(exc, self.transient_errors):
                raise
            # The records before `next_offset` are applied but perhaps not committed: they are
            # committed with the message that fails now, once it goes through.
            self._hold(consumer, partition, next_offset, exc)
            return
        retry = self._retries.pop(partition, None)
        if retry is not None:
            log.info("consumer_recovered", partition=_name(partition), attempts=retry.attempts)

    def _hold(
        self,
        consumer: AIOKafkaConsumer,
        partition: TopicPartition,
        offset: int,
        error: BaseException,
    ) -> None:
        """Pause `partition` at `offset` and schedule the next try (exponential backoff)."""
        if partition not in consumer.assignment():
            self._retries.pop(partition, None)  # revoked meanwhile: its new owner takes over
            return
        retry = self._retries.setdefault(partition, _Retry())
        retry.attempts += 1
        delay = min(
            self.retry_base_seconds * 2 ** min(retry.attempts - 1, 16), self.retry_max_seconds
        )
        retry.resume_at = time.monotonic() + delay
        retry.paused = True
        consumer.pause(partition)
        consumer.seek(partition, offset)
        self._last_error = f"{type(error).__name__}: {error}"[:500]
        log.warning(
            "consumer_retrying",
            partition=_name(partition),
            offset=offset,
            attempt=retry.attempts,
            retry_in=delay,
            error=self._last_error,
        )

    async def _measure_lag(self, consumer: AIOKafkaConsumer) -> None:
        # highwater() is known once a partition was fetched from; read them before any await,
        # since a rebalance may take partitions away in between.
        highwaters = {tp: consumer.highwater(tp) for tp in consumer.assignment()}
        lag = dict.fromkeys(self.topics, 0)
        for partition, highwater in highwaters.items():
            if highwater is None:
                continue
            try:
                position = await consumer.position(partition)
            except IllegalStateError:
                continue
            lag[partition.topic] = lag.get(partition.topic, 0) + max(highwater - position, 0)
        self._lag = lag

    # --- one message --------------------------------------------------------------------------

    async def _consume(
        self,
        record: ConsumerRecord[bytes, bytes],
        consumer: AIOKafkaConsumer,
        producer: AIOKafkaProducer,
    ) -> None:
        """Finish one message: applied, skipped or dead-lettered; infrastructure errors raise."""
        replay_for = _header(record, REPLAY_FOR_HEADER)
        if replay_for is not None and replay_for != self.group_id:
            return  # a dead letter replayed for another consumer group
        try:
            envelope = Envelope.from_bytes(record.value or b"")
        except ValidationError as exc:
            await self._dead_letter(record, producer, f"undecodable envelope: {exc}")
            return
        handler = self.handlers.get((envelope.type, envelope.version))
        if handler is None:
            return  # not for us: unknown types are skipped on purpose
        try:
            contract = envelope.contract()
        except ValidationError as exc:
            await self._dead_letter(record, producer, f"invalid {envelope.type} data: {exc}")
            return
        for attempt in range(1, self.max_attempts + 1):
            try:
                await self._call_polling(consumer, record, handler, envelope, contract)
            except MessageRefused as exc:
                await self._dead_letter(record, producer, f"refused: {exc}")
                return
            except Exception as exc:
                if is_infrastructure_failure(exc, self.transient_errors):
                    raise
                log.warning(
                    "handler_failed",
                    event_id=str(envelope.event_id),
                    type=envelope.type,
                    attempt=attempt,
                    error=repr(exc),
                )
                if attempt == self.max_attempts:
                    await self._dead_letter(record, producer, f"failed {attempt} times: {exc!r}")
                    return
                await asyncio.sleep(self.backoff_seconds * 2 ** (attempt - 1))
            else:
                self.handled += 1
                return

    async def _call_polling(
        self,
        consumer: AIOKafkaConsumer,
        record: ConsumerRecord[bytes, bytes],
        handler: Handler,
        envelope: Envelope,
        contract: Contract,
    ) -> None:
        """Call the handler in a thread; while a call is slow, poll, so that the group does not
        take this member for stuck (max_poll_interval_ms) and rebalance under it.

        A slow call is usually an outage inside the handler: the eventsourcing recorder retries a
        lost database ten times before it gives up. Polling returns nothing: the partition is
        paused meanwhile (the others are not asked for).
        """
        call = asyncio.ensure_future(asyncio.to_thread(self._call, handler, envelope, contract))
        await asyncio.wait({call}, timeout=_SLOW_CALL_SECONDS)
        if not call.done():
            partition = TopicPartition(record.topic, record.partition)
            owned = partition in consumer.assignment()
            if owned:
                consumer.pause(partition)
            try:
                while not call.done():
                    await consumer.getmany(partition, timeout_ms=200)
            finally:
                if owned and partition in consumer.assignment():
                    consumer.resume(partition)
        call.result()

    def _call(self, handler: Handler, envelope: Envelope, contract: Contract) -> None:
        with context.bound(
            correlation_id=envelope.correlation_id,
            causation_id=str(envelope.event_id),
            actor=context.Actor.system(self.service),
        ):
            handler(envelope, contract)

    async def _dead_letter(
        self, record: ConsumerRecord[bytes, bytes], producer: AIOKafkaProducer, reason: str
    ) -> None:
        original = [(k, v) for k, v in record.headers or () if not k.startswith(DLQ_HEADER_PREFIX)]
        headers = [
            *original,
            (ORIGINAL_TOPIC_HEADER, record.topic.encode()),
            (ORIGINAL_PARTITION_HEADER, str(record.partition).encode()),
            (ORIGINAL_OFFSET_HEADER, str(record.offset).encode()),
            (CONSUMER_GROUP_HEADER, self.group_id.encode()),
            (REASON_HEADER, reason[:2000].encode()),
            (FAILED_AT_HEADER, datetime.now(UTC).isoformat().encode()),
        ]
        await producer.send_and_wait(
            self.dead_letter_topic, record.value, key=record.key, headers=headers
        )
        self.dead_lettered += 1
        log.error(
            "message_dead_lettered",
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            reason=reason[:500],
        )


def _header(record: ConsumerRecord[Any, Any], name: str) -> str | None:
    for key, value in record.headers or ():
        if key == name:
            return bytes(value).decode(errors="replace")
    return None


def _name(partition: TopicPartition) -> str:
    return f"{partition.topic}-{partition.partition}"


PROCESSED_MESSAGES_DDL = """
CREATE TABLE IF NOT EXISTS processed_messages (
    consumer text NOT NULL,
    event_id uuid NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
)
"""


def first_delivery(cursor: psycopg.Cursor[Any], consumer: str, event_id: UUID) -> bool:
    """Record that `consumer` processed `event_id`; False if it already had.

    Call it inside the transaction that applies the effect, so both commit or neither does.
    """
    cursor.execute(
        "INSERT INTO processed_messages (consumer, event_id) VALUES (%s, %s) "
        "ON CONFLICT DO NOTHING",
        (consumer, event_id),
    )
    return cursor.rowcount == 1


__all__ = [
    "INFRASTRUCTURE_ERRORS",
    "PROCESSED_MESSAGES_DDL",
    "EventConsumer",
    "Handler",
    "MessageRefused",
    "first_delivery",
    "is_infrastructure_failure",
]
