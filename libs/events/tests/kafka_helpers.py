"""Real-Kafka helpers for the library's integration tests: throwaway topics, reading them back,
running a consumer in the background while a test waits for what it should do."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, date, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from portal_events.contracts import ProtocolAssignedV1
from portal_events.envelope import Envelope, wrap


async def create_topics(bootstrap: str, *names: str, partitions: int = 3) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(name, num_partitions=partitions, replication_factor=1) for name in names]
        )
    finally:
        await admin.close()


async def delete_topics(bootstrap: str, *names: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_topics(list(names))
    finally:
        await admin.close()


def unique_topic(prefix: str = "test") -> str:
    return f"{prefix}.{uuid.uuid4().hex[:12]}"


@contextlib.contextmanager
def scratch_topics(bootstrap: str, prefix: str) -> Iterator[tuple[str, str]]:
    """A fresh source topic and a fresh dead-letter topic, deleted afterwards."""
    source, dead = unique_topic(prefix), unique_topic(f"{prefix}-dlq")
    asyncio.run(create_topics(bootstrap, source, dead))
    try:
        yield source, dead
    finally:
        asyncio.run(delete_topics(bootstrap, source, dead))


def assigned_envelope(number: str) -> Envelope:
    """A ProtocolAssigned message for a new document, as the protocol service publishes it."""
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


async def read_all(bootstrap: str, topic: str, *, expect: int, timeout: float = 30.0) -> list:
    """Read a topic from the beginning until at least `expect` records or the timeout."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while len(records) < expect and asyncio.get_running_loop().time() < deadline:
            batches = await consumer.getmany(timeout_ms=300)
            for batch in batches.values():
                records.extend(batch)
        # A short extra read catches records beyond the expected count (duplicates).
        for batch in (await consumer.getmany(timeout_ms=500)).values():
            records.extend(batch)
    finally:
        await consumer.stop()
    return records


@contextlib.asynccontextmanager
async def running(consumer: Any) -> AsyncIterator[asyncio.Task[None]]:
    """Run `consumer.run()` as a task for the duration of the block."""
    task = asyncio.create_task(consumer.run())
    try:
        yield task
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def eventually(
    condition: Callable[[], bool],
    what: str,
    *,
    tasks: tuple[asyncio.Task[None], ...] = (),
    timeout: float = 30.0,
) -> None:
    """Wait until `condition()` holds; fail with `what` after `timeout`, or if a task died."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        for task in tasks:
            if task.done():
                task.result()
                raise AssertionError(f"{task.get_name()} returned while waiting for {what}")
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)
