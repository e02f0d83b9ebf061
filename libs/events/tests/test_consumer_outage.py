"""The consumer through a real database outage (issue 5 §1): the handler's database stops
accepting connections and its open connections are killed, then it comes back; the message is
applied once and nothing is dead-lettered.

The outage is confined to a database of this test's own (`ALTER DATABASE ... ALLOW_CONNECTIONS
false` and `pg_terminate_backend`), so the shared PostgreSQL server keeps serving everyone else.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import ClassVar

import pytest
from aiokafka import AIOKafkaProducer
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError

sys.path.insert(0, str(Path(__file__).parent))

from kafka_helpers import eventually, read_all, running, scratch_topics
from portal_events.consumer import EventConsumer
from portal_events.contracts import ProtocolAssignedV1
from portal_events.envelope import Envelope, wrap
from portal_events.mapper import MAPPER_TOPIC

pytestmark = pytest.mark.integration

RECEIPTS = uuid.UUID("0b3f8c8e-7d0c-4a55-9d43-1f0e8b7a2c61")


class Receipt(Aggregate):
    """The protocol number a document received; one per document (deterministic id)."""

    TOPIC = "tests:Receipt"

    class Created(Aggregate.Created):
        TOPIC = "tests:Receipt.Created"

    @staticmethod
    def create_id(document_id: uuid.UUID) -> uuid.UUID:
        return uuid.uuid5(RECEIPTS, str(document_id))

    @event("Recorded", topic="tests:Receipt.Recorded")
    def __init__(self, document_id: uuid.UUID, number: str) -> None:
        self.document_id = document_id
        self.number = number


class ReceiptApplication(Application):
    name = "Receipts"
    env: ClassVar[dict[str, str]] = {"MAPPER_TOPIC": MAPPER_TOPIC}

    def record(self, document_id: uuid.UUID, number: str) -> None:
        with contextlib.suppress(IntegrityError):  # recorded before: a redelivery
            self.save(Receipt(document_id=document_id, number=number))


@pytest.fixture
def outage_database(infra, fresh_database):
    """(name, stop, restore) of a database whose outage touches nobody else."""
    name = fresh_database("consumer_outage")

    def stop() -> None:
        with infra.connect() as admin:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            )

    def restore() -> None:
        with infra.connect() as admin:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')

    yield name, stop, restore
    restore()


@pytest.fixture
def topics(infra):
    with scratch_topics(infra.kafka_bootstrap, "outage") as names:
        yield names


def test_a_database_outage_under_a_handler_delays_the_message_and_loses_nothing(
    infra, topics, outage_database
):
    """issue 5 §1: database unavailable → retried without limit, not dead-lettered; health
    degraded during the outage, ok after; the message is applied exactly once."""
    source, dead = topics
    dbname, stop_database, restore_database = outage_database
    app = ReceiptApplication(env=infra.pg_env(dbname) | {"POSTGRES_CONNECT_TIMEOUT": "1"})
    contract = ProtocolAssignedV1(
        document_id=uuid.uuid4(),
        document_type="request",
        protocol_number="2026/000040",
        protocol_date=date(2026, 11, 25),
    )
    envelope = wrap(
        contract,
        source="protocol",
        subject=str(contract.document_id),
        sequence=2,
        occurred_at=datetime.now(UTC),
    )

    def handle(envelope: Envelope, contract: ProtocolAssignedV1) -> None:
        app.record(contract.document_id, contract.protocol_number)

    consumer = EventConsumer(
        service="tests",
        group_id=f"g-{uuid.uuid4().hex[:8]}",
        topics=[source],
        handlers={ProtocolAssignedV1: handle},
        bootstrap_servers=infra.kafka_bootstrap,
        dead_letter_topic=dead,
        max_attempts=1,
        retry_base_seconds=0.1,
        retry_max_seconds=0.5,
    )
    seen: dict[str, object] = {}

    async def scenario() -> None:
        async with running(consumer) as task:
            await asyncio.to_thread(stop_database)
            await _produce(infra.kafka_bootstrap, source, envelope)
            # A bug would be dead-lettered after this first failed attempt (max_attempts=1).
            await eventually(
                lambda: max(consumer.retrying().values(), default=0) >= 1,
                "retries against the stopped database",
                tasks=(task,),
            )
            seen["during"] = consumer.health()
            await asyncio.to_thread(restore_database)
            await eventually(
                lambda: consumer.handled == 1 and consumer.health().ok,
                "the message applied after the database came back",
                tasks=(task,),
            )

    try:
        asyncio.run(scenario())
        during = seen["during"]
        assert not during.ok
        assert "OperationalError" in during.detail["last_error"]
        receipt = app.repository.get(Receipt.create_id(contract.document_id))
        assert (receipt.number, receipt.version) == ("2026/000040", 1)
        assert consumer.dead_lettered == 0
        assert asyncio.run(read_all(infra.kafka_bootstrap, dead, expect=0)) == []
    finally:
        app.close()


async def _produce(bootstrap: str, topic: str, envelope: Envelope) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, envelope.to_bytes(), key=envelope.subject.encode())
    finally:
        await producer.stop()
