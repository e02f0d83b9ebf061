"""The consumer side: decode, hand to an idempotent handler, commit, dead-letter the poison.

- Offsets are committed manually, after the handler returned (its database commit is done).
- Handlers are synchronous (they call the eventsourcing Application) and run in a worker thread
  with the envelope's correlation id bound, the envelope's event id as causation id and the
  consuming service as actor.
- Handlers must be idempotent: Kafka delivers at least once and the relay may resend after a
  crash. Use a deterministic aggregate id, state that ignores a repeat, or `first_delivery`
  (a processed-message row in the same transaction as the effect).
- Unknown types and versions are skipped; unknown fields are ignored by the contracts.
- A message that cannot be decoded, or whose handler still fails after bounded retries with
  backoff, goes to the dead-letter topic with the reason in its headers, and consumption goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import psycopg
import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from pydantic import ValidationError

from portal_events import context
from portal_events.contracts import Contract
from portal_events.envelope import Envelope

log = structlog.get_logger()

Handler = Callable[[Envelope, Any], None]


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
    ) -> None:
        self.service = service
        self.group_id = group_id
        self.topics = topics
        self.handlers = {(c.TYPE, c.VERSION): h for c, h in handlers.items()}
        self.bootstrap_servers = bootstrap_servers
        self.dead_letter_topic = dead_letter_topic
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self.handled = 0
        self.dead_lettered = 0

    async def run(self) -> None:
        consumer = AIOKafkaConsumer(
            *self.topics,
            bootstrap_servers=self.bootstrap_servers,
            group_id=self.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
        )
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap_servers, enable_idempotence=True, acks="all"
        )
        await producer.start()
        await consumer.start()
        log.info("consumer_started", group_id=self.group_id, topics=self.topics)
        try:
            while True:
                batches = await consumer.getmany(timeout_ms=500, max_records=200)
                for partition, records in batches.items():
                    for record in records:
                        await self._consume(record, producer)
                    await consumer.commit({partition: records[-1].offset + 1})
        finally:
            with contextlib.suppress(Exception):
                await consumer.stop()
            await producer.stop()

    async def _consume(self, record: ConsumerRecord[bytes, bytes], producer: Any) -> None:
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
                await asyncio.to_thread(self._call, handler, envelope, contract)
                self.handled += 1
                return
            except Exception as exc:
                log.warning(
                    "handler_failed",
                    event_id=str(envelope.event_id),
                    type=envelope.type,
                    attempt=attempt,
                    error=repr(exc),
                )
                if attempt == self.max_attempts:
                    await self._dead_letter(record, producer, repr(exc))
                    return
                await asyncio.sleep(self.backoff_seconds * 2 ** (attempt - 1))

    def _call(self, handler: Handler, envelope: Envelope, contract: Contract) -> None:
        with context.bound(
            correlation_id=envelope.correlation_id,
            causation_id=str(envelope.event_id),
            actor=context.Actor.system(self.service),
        ):
            handler(envelope, contract)

    async def _dead_letter(
        self, record: ConsumerRecord[bytes, bytes], producer: Any, reason: str
    ) -> None:
        headers = [
            *(record.headers or ()),
            ("dlq.original_topic", record.topic.encode()),
            ("dlq.original_partition", str(record.partition).encode()),
            ("dlq.original_offset", str(record.offset).encode()),
            ("dlq.consumer_group", self.group_id.encode()),
            ("dlq.reason", reason[:2000].encode()),
            ("dlq.failed_at", datetime.now(UTC).isoformat().encode()),
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


__all__ = ["PROCESSED_MESSAGES_DDL", "EventConsumer", "Handler", "first_delivery"]
