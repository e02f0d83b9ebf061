"""The idempotent consumer on real PostgreSQL and Kafka (issue 2 §3, §8), and how it tells
infrastructure failures from bad messages (issue 5 §1): outages are retried without limit with
the partition paused, only deterministic failures are dead-lettered."""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from pathlib import Path

import eventsourcing.persistence
import psycopg
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError

sys.path.insert(0, str(Path(__file__).parent))

from kafka_helpers import assigned_envelope, eventually, read_all, running, scratch_topics
from portal_events.consumer import (
    PROCESSED_MESSAGES_DDL,
    EventConsumer,
    MessageRefused,
    first_delivery,
    is_infrastructure_failure,
    refusing_domain_errors,
)
from portal_events.contracts import ProtocolAssignedV1
from portal_events.envelope import Envelope


@pytest.fixture
def topics(infra):
    with scratch_topics(infra.kafka_bootstrap, "consumer") as names:
        yield names


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


async def _consume_until(consumer: EventConsumer, done, what: str = "the consumer") -> None:
    async with running(consumer) as task:
        await eventually(done, what, tasks=(task,))


def _consumer(infra, topics, handle, **options) -> EventConsumer:
    source, dead = topics
    return EventConsumer(
        service="tests",
        group_id=f"g-{uuid.uuid4().hex[:8]}",
        topics=[source],
        handlers={ProtocolAssignedV1: handle},
        bootstrap_servers=infra.kafka_bootstrap,
        dead_letter_topic=dead,
        **options,
    )


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


def _numbers(db) -> list[str]:
    return [r[0] for r in db.execute("SELECT number FROM protocol_numbers ORDER BY number")]


@pytest.mark.integration
def test_duplicated_message_has_one_effect(infra, topics, db):
    source, _ = topics
    envelope = assigned_envelope("2026/000001")
    other = assigned_envelope("2026/000002")
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
    consumer = _consumer(infra, topics, _record_number(db, calls))
    asyncio.run(_consume_until(consumer, lambda: len(calls) >= 3))

    assert len(calls) == 3  # delivered three times ...
    assert _numbers(db) == ["2026/000001", "2026/000002"]  # ... two effects


@pytest.mark.integration
def test_only_deterministic_failures_are_dead_lettered_and_consumption_goes_on(infra, topics, db):
    """issue 5 §1: undecodable, invalid and refused messages go to the dead-letter topic at
    once; a handler bug after bounded retries; unknown types are skipped; the rest is applied."""
    source, dead = topics
    good = assigned_envelope("2026/000010")
    buggy = assigned_envelope("2026/000011")
    refused = assigned_envelope("2026/000012")
    invalid = good.model_copy(update={"data": {**good.data, "protocol_date": "not a date"}})
    unknown = good.model_copy(update={"type": "SomethingFromTheFuture"})
    asyncio.run(
        _produce(
            infra.kafka_bootstrap,
            source,
            (b"k1", b"{not json"),
            (b"k2", invalid.to_bytes()),
            (refused.subject.encode(), refused.to_bytes()),
            (buggy.subject.encode(), buggy.to_bytes()),
            (b"k3", unknown.to_bytes()),
            (good.subject.encode(), good.to_bytes()),
        )
    )
    calls: dict[str, int] = {}

    def handle(envelope: Envelope, contract: ProtocolAssignedV1) -> None:
        number = contract.protocol_number
        calls[number] = calls.get(number, 0) + 1
        if number == "2026/000011":
            raise RuntimeError("registry record rejected")
        if number == "2026/000012":
            raise MessageRefused("document 2026/000012 was withdrawn")

    consumer = _consumer(infra, topics, handle, max_attempts=3, backoff_seconds=0.05)
    asyncio.run(
        _consume_until(
            consumer, lambda: consumer.dead_lettered >= 4 and consumer.handled >= 1, "4 + 1"
        )
    )

    assert calls == {"2026/000010": 1, "2026/000011": 3, "2026/000012": 1}
    assert consumer.handled == 1 and consumer.health().ok
    dead_letters = asyncio.run(read_all(infra.kafka_bootstrap, dead, expect=4))
    assert len(dead_letters) == 4
    by_value = {r.value: dict(r.headers) for r in dead_letters}
    reasons = {value: h["dlq.reason"].decode() for value, h in by_value.items()}
    assert reasons[b"{not json"].startswith("undecodable envelope")
    assert reasons[invalid.to_bytes()].startswith("invalid ProtocolAssigned data")
    assert reasons[refused.to_bytes()] == "refused: document 2026/000012 was withdrawn"
    assert "registry record rejected" in reasons[buggy.to_bytes()]
    for headers in by_value.values():
        assert headers["dlq.original_topic"] == source.encode()
        assert headers["dlq.consumer_group"] == consumer.group_id.encode()
        assert {"dlq.original_partition", "dlq.original_offset", "dlq.failed_at"} <= set(headers)


@pytest.mark.integration
def test_database_errors_are_retried_without_limit_with_the_partition_paused(infra, topics, db):
    """issue 5 §1: a handler that meets psycopg.OperationalError more often than max_attempts
    is retried until it succeeds: applied once, nothing dead-lettered, the next message on the
    partition waits its turn; health is degraded while it fails and ok after."""
    source, dead = topics
    first, second = assigned_envelope("2026/000030"), assigned_envelope("2026/000031")
    key = b"same-partition"
    asyncio.run(
        _produce(
            infra.kafka_bootstrap,
            source,
            (key, first.to_bytes()),
            (key, second.to_bytes()),
        )
    )
    failures = 5
    calls: list[str] = []
    health_at_call = []
    record = _record_number(db, [])

    def handle(envelope: Envelope, contract: ProtocolAssignedV1) -> None:
        calls.append(contract.protocol_number)
        health_at_call.append(consumer.health())
        if len(calls) <= failures:
            raise psycopg.OperationalError("connection to server failed: Connection refused")
        record(envelope, contract)

    consumer = _consumer(
        infra, topics, handle, max_attempts=3, retry_base_seconds=0.02, retry_max_seconds=0.1
    )
    asyncio.run(
        _consume_until(consumer, lambda: consumer.handled >= 2 and consumer.health().ok, "both")
    )

    assert calls == ["2026/000030"] * (failures + 1) + ["2026/000031"]
    assert _numbers(db) == ["2026/000030", "2026/000031"]
    assert health_at_call[0].ok
    partition = next(iter(health_at_call[1].detail["retrying"]))
    assert partition.startswith(f"{source}-")
    for attempt, health in enumerate(health_at_call[1 : failures + 1], start=1):
        assert not health.ok
        assert health.detail["retrying"] == {partition: attempt}
        assert "OperationalError" in health.detail["last_error"]
    assert consumer.health().ok and "retrying" not in consumer.health().detail
    assert consumer.dead_lettered == 0
    assert asyncio.run(read_all(infra.kafka_bootstrap, dead, expect=0)) == []


@pytest.mark.integration
def test_lag_per_topic_counts_what_is_not_yet_processed(infra, topics):
    """issue 5 §1 (figures for metrics): lag is highwater minus position per consumed topic."""
    source, _ = topics
    key = b"one-partition"
    envelopes = [assigned_envelope(f"2026/00005{i}") for i in range(4)]
    asyncio.run(_produce(infra.kafka_bootstrap, source, *((key, e.to_bytes()) for e in envelopes)))
    lag_seen: list[dict[str, int]] = []

    def handle(envelope: Envelope, contract: ProtocolAssignedV1) -> None:
        if contract.protocol_number == "2026/000050":
            raise psycopg.OperationalError("the server is restarting")

    consumer = _consumer(infra, topics, handle, retry_base_seconds=0.05, retry_max_seconds=0.05)

    async def scenario() -> None:
        async with running(consumer) as task:
            # Stuck on the first message: all four wait.
            await eventually(lambda: consumer.lag() == {source: 4}, "lag 4", tasks=(task,))
            lag_seen.append(consumer.lag())

    asyncio.run(scenario())
    assert lag_seen == [{source: 4}]
    assert not consumer.health().ok and consumer.health().detail["lag"] == {source: 4}


def test_infrastructure_failures_are_told_from_bugs():
    """issue 5 §1: what counts as an outage (retried without limit) and what does not."""
    outages = [
        psycopg.OperationalError("connection refused"),
        psycopg.errors.AdminShutdown("terminating connection due to administrator command"),
        psycopg.InterfaceError("the connection is closed"),
        eventsourcing.persistence.OperationalError("could not connect"),
        ConnectionResetError(),
        TimeoutError(),
        KafkaConnectionError(),
        KafkaTimeoutError(),
    ]
    for error in outages:
        assert is_infrastructure_failure(error), error
    try:
        try:
            raise eventsourcing.persistence.InterfaceError("pool closed")
        except eventsourcing.persistence.InterfaceError as cause:
            raise RuntimeError("could not save") from cause
    except RuntimeError as wrapped:
        assert is_infrastructure_failure(wrapped)

    for error in [
        RuntimeError("bug"),
        KeyError("x"),
        psycopg.errors.UniqueViolation("duplicate key"),
        MessageRefused("withdrawn"),
    ]:
        assert not is_infrastructure_failure(error), error

    class RegistryUnavailable(Exception):
        pass

    assert is_infrastructure_failure(RegistryUnavailable(), (RegistryUnavailable,))


def test_a_services_domain_errors_refuse_the_message_for_good_and_nothing_else_does():
    """issue 5 §1: a handler's domain refusal becomes MessageRefused (dead-lettered at once,
    naming the rule); any other failure keeps its own way (retried as an outage or a bug)."""

    class ParcelsError(Exception):
        pass

    class ParcelNotFound(ParcelsError):
        pass

    with pytest.raises(MessageRefused) as refused, refusing_domain_errors(ParcelsError):
        raise ParcelNotFound("42")
    assert str(refused.value) == "ParcelNotFound: 42"
    with pytest.raises(TimeoutError), refusing_domain_errors(ParcelsError):
        raise TimeoutError()


@pytest.mark.integration
def test_handlers_run_with_the_envelopes_correlation_and_causation(infra, topics, db):
    from portal_events import context

    source, _ = topics
    envelope = assigned_envelope("2026/000020")
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
        dead_letter_topic=topics[1],
    )
    asyncio.run(_consume_until(consumer, lambda: bool(seen)))
    assert seen == [
        ("corr-2026/000020", str(envelope.event_id), context.Actor("requests", "system"))
    ]


@pytest.mark.integration
def test_a_slow_handler_call_keeps_the_group_membership(infra, topics, db):
    """issue 5 §1: while a handler call outlasts max_poll_interval_ms (a database outage that
    the eventsourcing recorder retries inside the call), the consumer keeps polling, so the
    group does not hand its partition to the other member, which would apply it again."""
    source, _ = topics
    envelope = assigned_envelope("2026/000060")
    calls: list = []
    record = _record_number(db, calls)

    def slow_handle(envelope: Envelope, contract: ProtocolAssignedV1) -> None:
        time.sleep(5)  # the database does not answer for a while
        record(envelope, contract)

    group = f"g-{uuid.uuid4().hex[:8]}"
    members = [_consumer(infra, topics, slow_handle, max_poll_interval_ms=1500) for _ in range(2)]
    for member in members:
        member.group_id = group

    async def scenario() -> None:
        async with running(members[0]) as first, running(members[1]) as second:
            await eventually(
                lambda: (
                    all(m.assigned() for m in members)
                    and sum(len(m.assigned()) for m in members) == 3
                ),
                "both members holding partitions",
                tasks=(first, second),
            )
            await _produce(infra.kafka_bootstrap, source, (b"k", envelope.to_bytes()))
            await eventually(
                lambda: sum(m.handled for m in members) >= 1, "the slow call", tasks=(first, second)
            )

    asyncio.run(scenario())
    assert calls == [envelope.event_id]
    assert all(m.health().ok for m in members)
