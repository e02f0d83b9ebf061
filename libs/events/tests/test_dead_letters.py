"""Listing and replaying a dead-letter topic after a fix (issue 5 §1), on the real Kafka and
PostgreSQL: the replayed message reaches the consumer group it was dead-lettered by, once, and
no other group."""

from __future__ import annotations

import asyncio
import sys
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

sys.path.insert(0, str(Path(__file__).parent))

from kafka_helpers import (
    assigned_envelope,
    create_topics,
    delete_topics,
    eventually,
    running,
    unique_topic,
)
from portal_events.consumer import (
    PROCESSED_MESSAGES_DDL,
    EventConsumer,
    MessageRefused,
    first_delivery,
)
from portal_events.contracts import ProtocolAssignedV1
from portal_events.dead_letters import main, replay_dead_letters
from portal_events.envelope import Envelope

pytestmark = pytest.mark.integration


@pytest.fixture
def service(infra):
    """A service of the test's own: its dead-letter topic and the topic it consumes."""
    name = f"svc{uuid.uuid4().hex[:10]}"
    source = unique_topic("replayed")
    asyncio.run(create_topics(infra.kafka_bootstrap, source, f"{name}.dead-letter"))
    yield name, source
    asyncio.run(delete_topics(infra.kafka_bootstrap, source, f"{name}.dead-letter"))


@pytest.fixture
def db(infra, fresh_database):
    conn = infra.connect(fresh_database("dead_letters"))
    conn.execute(PROCESSED_MESSAGES_DDL)
    conn.execute("CREATE TABLE protocol_numbers (document_id uuid, number text)")
    yield conn
    conn.close()


async def _end_offsets(bootstrap: str, topic: str) -> dict[TopicPartition, int]:
    reader = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None)
    await reader.start()
    try:
        return await reader.end_offsets(list(reader.assignment()))
    finally:
        await reader.stop()


async def _wait_until_committed(bootstrap: str, group: str, ends: dict[TopicPartition, int]):
    """Wait until `group` has committed every partition up to `ends` (it consumed it all)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        deadline = asyncio.get_running_loop().time() + 30
        while asyncio.get_running_loop().time() < deadline:
            offsets = await admin.list_consumer_group_offsets(group)
            committed = {tp: meta.offset for tp, meta in offsets.items()}
            if all(committed.get(tp, 0) >= end for tp, end in ends.items()):
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"{group} did not consume up to {ends}")
    finally:
        await admin.close()


def test_replay_sends_a_refused_message_back_to_its_group_once_after_the_fix(
    infra, service, db, monkeypatch, capsys
):
    """issue 5 §1: a message the handler refused is dead-lettered; `list` shows it; after the
    fix `replay` (through the CLI's main) brings it back: applied once by the group that
    refused it, skipped by another group on the same topic; a second replay sends nothing."""
    name, source = service
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", infra.kafka_bootstrap)
    envelope = assigned_envelope("2026/000070")
    fixed = False

    def handle(envelope: Envelope, contract: ProtocolAssignedV1) -> None:
        if not fixed:
            raise MessageRefused("no such document yet")
        with db.transaction(), db.cursor() as cursor:
            if first_delivery(cursor, name, envelope.event_id):
                cursor.execute(
                    "INSERT INTO protocol_numbers VALUES (%s, %s)",
                    (contract.document_id, contract.protocol_number),
                )

    seen_by_other_group: list[uuid.UUID] = []
    consumers = [
        EventConsumer(
            service=name,
            group_id=name,
            topics=[source],
            handlers={ProtocolAssignedV1: handle},
            bootstrap_servers=infra.kafka_bootstrap,
            dead_letter_topic=f"{name}.dead-letter",
        ),
        EventConsumer(
            service="other",
            group_id=f"{name}-other",
            topics=[source],
            handlers={ProtocolAssignedV1: lambda e, c: seen_by_other_group.append(e.event_id)},
            bootstrap_servers=infra.kafka_bootstrap,
            dead_letter_topic=f"{name}.dead-letter",
        ),
    ]
    ours, other = consumers
    outputs: dict[str, str] = {}
    second_replay: list = []

    async def scenario() -> None:
        nonlocal fixed
        async with running(ours) as ours_task, running(other) as other_task:
            tasks = (ours_task, other_task)
            producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap)
            await producer.start()
            try:
                await producer.send_and_wait(
                    source, envelope.to_bytes(), key=envelope.subject.encode()
                )
            finally:
                await producer.stop()
            await eventually(
                lambda: ours.dead_lettered == 1 and other.handled == 1, "refusal", tasks=tasks
            )

            assert await asyncio.to_thread(main, ["list", name]) == 0
            outputs["list"] = capsys.readouterr().out

            fixed = True
            assert await asyncio.to_thread(main, ["replay", name]) == 0
            outputs["replay"] = capsys.readouterr().out
            await eventually(lambda: ours.handled == 1, "the replayed message", tasks=tasks)
            # The other group consumes past the replayed copy (and does not apply it).
            ends = await _end_offsets(infra.kafka_bootstrap, source)
            await _wait_until_committed(infra.kafka_bootstrap, other.group_id, ends)

            second_replay.extend(await replay_dead_letters(name))

    asyncio.run(scenario())

    assert str(envelope.event_id) in outputs["list"]
    assert "refused: no such document yet" in outputs["list"]
    assert "waiting" in outputs["list"] and "1 dead letter(s)" in outputs["list"]
    assert "1 dead letter(s) replayed for group" in outputs["replay"]
    rows = db.execute("SELECT number FROM protocol_numbers").fetchall()
    assert rows == [("2026/000070",)]  # applied once, by the group that had refused it
    assert seen_by_other_group == [envelope.event_id]  # the original only, not the replay
    assert second_replay == []
    assert ours.dead_lettered == 1 and ours.health().ok

    main(["list", name])
    assert "replayed" in capsys.readouterr().out
