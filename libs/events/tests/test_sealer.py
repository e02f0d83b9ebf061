"""The sealer on real PostgreSQL and Kafka (issue 10 "Tamper evidence", SPEC X-1): every stored
event on `audit.history` once, in order, with its link in the chain; the chain recorded and
continued across restarts; checkpoints every interval and on demand; one sealer per service;
Kafka and database outages lose nothing and chain nothing twice.

The sealers under test publish on the scratch topic instead of the audit topics, so that the real
audit service never archives their test services (whose databases are dropped: `make
verify-history` would rightly call those histories deleted); each test uses a service name of its
own and reads only what was written after it started, with that name as key.
"""

from __future__ import annotations

import asyncio
import socket
import sys
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

sys.path.insert(0, str(Path(__file__).parent))

from kafka_helpers import eventually, running
from portal_events import chain, context
from portal_events.contracts import Contract, HistoryCheckpointV1, StoredEventSealedV1
from portal_events.envelope import Envelope
from portal_events.sealer import Sealer, SealTable, request_checkpoint
from portal_events.topics import TEST_EVENTS, TEST_TOPIC
from sample_domain import Parcel, ParcelApplication

pytestmark = pytest.mark.integration


@pytest.fixture
def service() -> str:
    return f"sealer-test-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def parcels_db(infra, fresh_database, monkeypatch) -> str:
    env = infra.pg_env(fresh_database("sealer"))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env["POSTGRES_DBNAME"]


@pytest.fixture
def app(parcels_db):
    application = ParcelApplication()
    yield application
    application.close()


def _store_parcels(app: ParcelApplication, count: int) -> None:
    """`count` parcels, two stored events each, by a clerk."""
    with context.bound(correlation_id="sealer-test", actor=context.Actor("u-7", "clerk")):
        for i in range(count):
            parcel = Parcel(label=f"p-{i}")
            parcel.note("noted")
            app.save(parcel)


def _stored_chain(infra, dbname: str) -> list[tuple[int, uuid.UUID, int, str, bytes, bytes]]:
    """(position, aggregate id, version, topic, state, hash) of every stored event, the chain
    recomputed independently from the rows."""
    with infra.connect(dbname) as conn:
        rows = conn.execute(
            "SELECT notification_id, originator_id, originator_version, topic, state "
            "FROM parcels_events ORDER BY notification_id"
        ).fetchall()
    head, linked = chain.GENESIS, []
    for position, aggregate_id, version, topic, state in rows:
        state = bytes(state)
        head = chain.link(head, position, aggregate_id, version, topic, chain.state_digest(state))
        linked.append((position, aggregate_id, version, topic, state, head))
    return linked


def _seal_row(infra, dbname: str, service: str) -> tuple[int, bytes, int] | None:
    with infra.connect(dbname) as conn:
        row = conn.execute(
            "SELECT position, head_hash, events FROM parcels_seal WHERE service = %s", (service,)
        ).fetchone()
    return None if row is None else (row[0], bytes(row[1]), row[2])


async def _end_offsets(bootstrap: str) -> dict[TopicPartition, int]:
    """Where the scratch topic ends now: a test reads only what follows."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(TEST_EVENTS, p) for p in range(TEST_TOPIC.partitions)]
        return await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()


async def _published(
    bootstrap: str,
    since: dict[TopicPartition, int],
    contract: type[Contract],
    service: str,
    *,
    expect: int,
    timeout: float = 30.0,
) -> list[Envelope]:
    """The envelopes of `contract` keyed `service` after `since`, in the order of their partition,
    read until at least `expect` of them (then briefly more, to catch duplicates)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    found: list[Envelope] = []
    try:
        partitions = list(since)
        consumer.assign(partitions)
        for tp in partitions:
            consumer.seek(tp, since[tp])
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        extra_until = None
        while loop.time() < deadline and (extra_until is None or loop.time() < extra_until):
            for records in (await consumer.getmany(timeout_ms=200)).values():
                keyed = (Envelope.from_bytes(r.value) for r in records if r.key == service.encode())
                found.extend(e for e in keyed if e.type == contract.TYPE)
            if extra_until is None and len(found) >= expect:
                extra_until = loop.time() + 0.5
    finally:
        await consumer.stop()
    return found


def scratch_sealer(app: Any, **options: Any) -> Sealer:
    """A sealer publishing on the scratch topic (see the module docstring)."""
    return Sealer(app, history_topic=TEST_EVENTS, checkpoints_topic=TEST_EVENTS, **options)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _assert_sealed_exactly(envelopes: list[Envelope], stored: list, service: str) -> None:
    """Each stored event once, in order, as stored, with the recomputed link; the envelope
    carries the event's identity, time and metadata."""
    assert [e.data["position"] for e in envelopes] == [row[0] for row in stored]
    for envelope, (position, aggregate_id, version, topic, state, head) in zip(
        envelopes, stored, strict=True
    ):
        sealed = envelope.contract()
        assert isinstance(sealed, StoredEventSealedV1)
        assert (sealed.service, sealed.aggregate_id, sealed.version, sealed.topic) == (
            service,
            aggregate_id,
            version,
            topic,
        )
        assert sealed.state.encode() == state
        assert sealed.state_sha256 == chain.state_digest(state).hex()
        assert sealed.hash == head.hex()
        assert (envelope.source, envelope.subject, envelope.sequence) == (
            service,
            str(aggregate_id),
            version,
        )
        assert envelope.actor == {"id": "u-7", "role": "clerk"}
        assert envelope.correlation_id == "sealer-test"


def test_every_stored_event_is_published_once_in_order_with_its_link(
    infra, app, parcels_db, service
):
    """Issue 10: each stored event (private ones too) on audit.history once, in log order, its
    hash the chain recomputed with chain.link; the seal row records position, head and count."""
    _store_parcels(app, 120)  # 240 events: several batches of 100
    stored = _stored_chain(infra, parcels_db)
    since = asyncio.run(_end_offsets(infra.kafka_bootstrap))
    sealer = scratch_sealer(
        app, service=service, bootstrap_servers=infra.kafka_bootstrap, batch_size=100
    )

    async def scenario() -> None:
        async with running(sealer) as task:
            await eventually(lambda: sealer.position == stored[-1][0], "sealed", tasks=(task,))

    asyncio.run(scenario())

    envelopes = asyncio.run(
        _published(infra.kafka_bootstrap, since, StoredEventSealedV1, service, expect=len(stored))
    )
    _assert_sealed_exactly(envelopes, stored, service)
    assert {e.sequence for e in envelopes} == {1, 2}  # Registered and the private Noted
    assert all(isinstance(e.occurred_at, datetime) for e in envelopes)
    assert _seal_row(infra, parcels_db, service) == (stored[-1][0], stored[-1][5], len(stored))
    assert sealer.lag().events == 0


def test_a_restarted_sealer_continues_the_chain(infra, app, parcels_db, service):
    """After a restart the chain goes on from the recorded head: no new GENESIS, nothing
    published twice."""
    since = asyncio.run(_end_offsets(infra.kafka_bootstrap))

    async def seal_all(sealer: Sealer, position: int) -> None:
        async with running(sealer) as task:
            await eventually(lambda: sealer.position == position, "sealed", tasks=(task,))

    _store_parcels(app, 5)
    first = _stored_chain(infra, parcels_db)
    asyncio.run(
        seal_all(scratch_sealer(app, service=service, bootstrap_servers=infra.kafka_bootstrap), 10)
    )
    _store_parcels(app, 5)
    stored = _stored_chain(infra, parcels_db)
    assert stored[: len(first)] == first
    restarted = scratch_sealer(app, service=service, bootstrap_servers=infra.kafka_bootstrap)
    asyncio.run(seal_all(restarted, stored[-1][0]))

    envelopes = asyncio.run(
        _published(infra.kafka_bootstrap, since, StoredEventSealedV1, service, expect=len(stored))
    )
    _assert_sealed_exactly(envelopes, stored, service)
    assert (restarted.head, restarted.events) == (stored[-1][5], 20)


def test_a_notify_asks_for_a_checkpoint_at_once(infra, app, parcels_db, service):
    """Issue 10 "on demand": NOTIFY portal_history_checkpoint in the service's database makes
    the sealer seal what is stored and publish the head at once, even when it did not move."""
    _store_parcels(app, 4)
    since = asyncio.run(_end_offsets(infra.kafka_bootstrap))
    # A checkpoint only on demand within the test's time.
    sealer = scratch_sealer(
        app, service=service, bootstrap_servers=infra.kafka_bootstrap, checkpoint_seconds=3600
    )
    conninfo = psycopg.conninfo.make_conninfo(
        host=infra.pg_host,
        port=infra.pg_port,
        user=infra.pg_user,
        password=infra.pg_password,
        dbname=parcels_db,
    )

    async def scenario() -> list[Envelope]:
        async with running(sealer) as task:
            await eventually(lambda: sealer.leading, "leading", tasks=(task,))
            _store_parcels(app, 3)  # stored just before the request: covered by it
            request_checkpoint(conninfo)
            first = await _published(
                infra.kafka_bootstrap, since, HistoryCheckpointV1, service, expect=1
            )
            request_checkpoint(app.recorder.datastore)  # the head has not moved since
            return await _published(
                infra.kafka_bootstrap, since, HistoryCheckpointV1, service, expect=len(first) + 1
            )

    envelopes = asyncio.run(scenario())
    stored = _stored_chain(infra, parcels_db)
    checkpoints = [e.contract() for e in envelopes]
    assert len(checkpoints) == 2
    for checkpoint in checkpoints:
        assert isinstance(checkpoint, HistoryCheckpointV1)
        assert (checkpoint.service, checkpoint.position, checkpoint.events) == (service, 14, 14)
        assert checkpoint.head_hash == stored[-1][5].hex()
    assert all((e.subject, e.sequence) == (service, 14) for e in envelopes)


def test_a_checkpoint_every_interval_when_the_head_moved(infra, app, parcels_db, service):
    """Issue 10 "every minute" (here every half second): the head is published unasked."""
    _store_parcels(app, 2)
    since = asyncio.run(_end_offsets(infra.kafka_bootstrap))
    sealer = scratch_sealer(
        app, service=service, bootstrap_servers=infra.kafka_bootstrap, checkpoint_seconds=0.5
    )

    async def scenario() -> list[Envelope]:
        async with running(sealer):
            return await _published(
                infra.kafka_bootstrap, since, HistoryCheckpointV1, service, expect=1
            )

    checkpoint = asyncio.run(scenario())[0].contract()
    assert isinstance(checkpoint, HistoryCheckpointV1)
    assert (checkpoint.position, checkpoint.head_hash) == (
        4,
        _stored_chain(infra, parcels_db)[-1][5].hex(),
    )


def test_two_sealers_on_one_database_only_one_publishes(infra, app, parcels_db, service):
    """One chain per service: a second replica's sealer waits on the advisory lock as a
    standby and publishes nothing."""
    _store_parcels(app, 10)
    stored = _stored_chain(infra, parcels_db)
    since = asyncio.run(_end_offsets(infra.kafka_bootstrap))
    other_replica = ParcelApplication()
    sealers = [
        scratch_sealer(application, service=service, bootstrap_servers=infra.kafka_bootstrap)
        for application in (app, other_replica)
    ]

    async def scenario() -> None:
        async with running(sealers[0]) as one, running(sealers[1]) as two:
            await eventually(
                lambda: any(s.position == stored[-1][0] for s in sealers),
                "sealed",
                tasks=(one, two),
            )
            assert [s.leading for s in sealers].count(True) == 1

    try:
        asyncio.run(scenario())
    finally:
        other_replica.close()
    envelopes = asyncio.run(
        _published(infra.kafka_bootstrap, since, StoredEventSealedV1, service, expect=len(stored))
    )
    _assert_sealed_exactly(envelopes, stored, service)


def test_kafka_unreachable_ends_the_run_and_the_next_run_loses_nothing(
    infra, app, parcels_db, service
):
    """A Kafka outage ends run() (its supervisor restarts it) with the position unchanged; the
    run after it seals everything exactly as it would have."""
    since = asyncio.run(_end_offsets(infra.kafka_bootstrap))
    _store_parcels(app, 3)
    sealer = scratch_sealer(app, service=service, bootstrap_servers=infra.kafka_bootstrap)

    async def seal_all(position: int) -> None:
        async with running(sealer) as task:
            await eventually(lambda: sealer.position == position, "sealed", tasks=(task,))

    asyncio.run(seal_all(6))
    recorded = _seal_row(infra, parcels_db, service)
    _store_parcels(app, 3)
    unreachable = scratch_sealer(
        app, service=service, bootstrap_servers=f"127.0.0.1:{_closed_port()}"
    )
    with pytest.raises(Exception, match=r"(?i)connect|bootstrap"):
        asyncio.run(asyncio.wait_for(unreachable.run(), timeout=60))
    assert _seal_row(infra, parcels_db, service) == recorded
    assert unreachable.lag().events == 6

    asyncio.run(seal_all(12))
    stored = _stored_chain(infra, parcels_db)
    envelopes = asyncio.run(
        _published(infra.kafka_bootstrap, since, StoredEventSealedV1, service, expect=len(stored))
    )
    _assert_sealed_exactly(envelopes, stored, service)


def test_a_database_failure_after_the_acks_resends_the_same_records(
    infra, app, parcels_db, service, monkeypatch
):
    """The batch is on Kafka but its position could not be recorded (the database went away):
    run() ends, and the next run sends the same records again (same event id, same content)
    and records the position once; nothing is chained twice."""
    _store_parcels(app, 5)
    stored = _stored_chain(infra, parcels_db)
    since = asyncio.run(_end_offsets(infra.kafka_bootstrap))
    record = SealTable.record

    def database_gone(*args, **kwargs):
        monkeypatch.setattr(SealTable, "record", record)  # back for the next run
        raise psycopg.OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(SealTable, "record", database_gone)
    sealer = scratch_sealer(app, service=service, bootstrap_servers=infra.kafka_bootstrap)
    with pytest.raises(psycopg.OperationalError):
        asyncio.run(asyncio.wait_for(sealer.run(), timeout=60))
    assert _seal_row(infra, parcels_db, service) is None

    async def seal_all() -> None:
        async with running(sealer) as task:
            await eventually(lambda: sealer.position == stored[-1][0], "sealed", tasks=(task,))

    asyncio.run(seal_all())
    envelopes = asyncio.run(
        _published(
            infra.kafka_bootstrap, since, StoredEventSealedV1, service, expect=2 * len(stored)
        )
    )
    assert len(envelopes) == 2 * len(stored)  # every record twice: once per run
    by_id: dict[uuid.UUID, Envelope] = {}
    for envelope in envelopes:
        assert by_id.setdefault(envelope.event_id, envelope) == envelope
    _assert_sealed_exactly(
        sorted(by_id.values(), key=lambda e: e.data["position"]), stored, service
    )
    assert _seal_row(infra, parcels_db, service) == (stored[-1][0], stored[-1][5], len(stored))
