"""The idempotent consumer on real PostgreSQL and Kafka (issue 2 §3, §8)."""

from __future__ import annotations

import asyncio
import sys
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

sys.path.insert(0, str(Path(__file__).parent))

from kafka_helpers import create_topics, delete_topics, read_all, unique_topic
from portal_events.consumer import PROCESSED_MESSAGES_DDL, EventConsumer, first_delivery
from portal_events.contracts import ProtocolAssignedV1
from portal_events.envelope import Envelope, wrap

pytestmark = pytest.mark.integration


def _assigned(number: str) -> Envelope:
    contract = ProtocolAssignedV1(
        document_id=uuid.uuid4(),
        document_type="request",
        protocol_number=number,
        protocol_date=date(2026, 11, 25),
    )
    return wrap(
        contract,
        source="protocol",
        subject=str(contract.document_id),
        sequence=2,
        occurred_at=datetime.now(UTC),
        metadata={"correlation_id": f"corr-{number}"},
    )


@pytest.fixture
def topics(infra):
    source, dead = unique_topic("consumer"), unique_topic("consumer-dlq")
    asyncio.run(create_topics(infra.kafka_bootstrap, source, dead))
    yield source, dead
    asyncio.run(delete_topics(infra.kafka_bootstrap, source, dead))


@pytest.fixture
def db(infra, fresh_database):
    conn = infra.connect(fresh_database("consumer"))
    conn.execute(PROCESSED_MESSAGES_DDL)
    conn.execute("CREATE TABLE protocol_numbers (document_id uuid, number text)")
    yield conn
    conn.close()


async def _produce(bootstrap: str, topic: str, *payloads: tuple[bytes, bytes]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for key, value in payloads:
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


async def _consume_until(consumer: EventConsumer, done, timeout: float = 30.0) -> None:
    task = asyncio.create_task(consumer.run())
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while not done() and asyncio.get_running_loop().time() < deadline:
            if task.done():
                task.result()
            await asyncio.sleep(0.1)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def _record_number(db, calls: list):
    def handle(envelope: Envelope, contract: ProtocolAssignedV1) -> None:
        calls.append(envelope.event_id)
        with db.transaction(), db.cursor() as cursor:
            if first_delivery(cursor, "test", envelope.event_id):
                cursor.execute(
                    "INSERT INTO protocol_numbers VALUES (%s, %s)",
                    (contract.document_id, contract.protocol_number),
                )

    return handle


def test_duplicated_message_has_one_effect(infra, topics, db):
    source, dead = topics
    envelope = _assigned("2026/000001")
    other = _assigned("2026/000002")
    payload = (envelope.subject.encode(), envelope.to_bytes())
    asyncio.run(
        _produce(
            infra.kafka_bootstrap,
            source,
            payload,
            payload,
            (other.subject.encode(), other.to_bytes()),
        )
    )
    calls: list = []
    consumer = EventConsumer(
        service="tests",
        group_id=f"g-{uuid.uuid4().hex[:8]}",
        topics=[source],
        handlers={ProtocolAssignedV1: _record_number(db, calls)},
        bootstrap_servers=infra.kafka_bootstrap,
        dead_letter_topic=dead,
    )
    asyncio.run(_consume_until(consumer, lambda: len(calls) >= 3))

    assert len(calls) == 3  # delivered three times ...
    rows = db.execute("SELECT number FROM protocol_numbers ORDER BY number").fetchall()
    assert [r[0] for r in rows] == ["2026/000001", "2026/000002"]  # ... two effects


def test_poison_and_failing_messages_go_to_the_dead_letter_topic(infra, topics, db):
    source, dead = topics
    good = _assigned("2026/000010")
    failing = _assigned("2026/000011")
    unknown = good.model_copy(update={"type": "SomethingFromTheFuture"})
    asyncio.run(
        _produce(
            infra.kafka_bootstrap,
            source,
            (b"k1", b"{not json"),
            (failing.subject.encode(), failing.to_bytes()),
            (b"k3", unknown.to_bytes()),
            (good.subject.encode(), good.to_bytes()),
        )
    )
    attempts: list = []
    handled: list = []

    def handle(envelope: Envelope, contract: ProtocolAssignedV1) -> None:
        if contract.protocol_number == "2026/000011":
            attempts.append(envelope.event_id)
            raise RuntimeError("registry record rejected")
        handled.append(contract.protocol_number)

    consumer = EventConsumer(
        service="tests",
        group_id=f"g-{uuid.uuid4().hex[:8]}",
        topics=[source],
        handlers={ProtocolAssignedV1: handle},
        bootstrap_servers=infra.kafka_bootstrap,
        dead_letter_topic=dead,
        max_attempts=3,
        backoff_seconds=0.05,
    )
    asyncio.run(_consume_until(consumer, lambda: consumer.dead_lettered >= 2 and handled))

    assert handled == ["2026/000010"]  # consumption went on past the poison
    assert len(attempts) == 3  # bounded retries
    dead_letters = asyncio.run(read_all(infra.kafka_bootstrap, dead, expect=2))
    reasons = {dict(r.headers)["dlq.reason"].decode() for r in dead_letters}
    assert len(dead_letters) == 2
    assert any(reason.startswith("undecodable envelope") for reason in reasons)
    assert any("registry record rejected" in reason for reason in reasons)
    assert {r.value for r in dead_letters} == {b"{not json", failing.to_bytes()}
    assert all(dict(r.headers)["dlq.original_topic"] == source.encode() for r in dead_letters)


def test_handlers_run_with_the_envelopes_correlation_and_causation(infra, topics, db):
    from portal_events import context

    source, dead = topics
    envelope = _assigned("2026/000020")
    asyncio.run(_produce(infra.kafka_bootstrap, source, (b"k", envelope.to_bytes())))
    seen: list = []

    def handle(env: Envelope, contract: ProtocolAssignedV1) -> None:
        seen.append((context.correlation_id(), context.causation_id(), context.actor()))

    consumer = EventConsumer(
        service="requests",
        group_id=f"g-{uuid.uuid4().hex[:8]}",
        topics=[source],
        handlers={ProtocolAssignedV1: handle},
        bootstrap_servers=infra.kafka_bootstrap,
        dead_letter_topic=dead,
    )
    asyncio.run(_consume_until(consumer, lambda: bool(seen)))
    assert seen == [
        ("corr-2026/000020", str(envelope.event_id), context.Actor("requests", "system"))
    ]
