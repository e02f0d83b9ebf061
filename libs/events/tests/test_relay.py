"""The outbox relay on real PostgreSQL and Kafka (issue 2 §3, §8; DESIGN "never dual-write");
its wake-ups on NOTIFY with a poll as fallback (issue 5)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from kafka_helpers import create_topics, delete_topics, read_all, unique_topic
from portal_events import context
from portal_events.envelope import Envelope
from sample_domain import Parcel, ParcelApplication

pytestmark = pytest.mark.integration

HERE = Path(__file__).parent


@pytest.fixture
def topic(infra):
    name = unique_topic("relay")
    asyncio.run(create_topics(infra.kafka_bootstrap, name))
    yield name
    asyncio.run(delete_topics(infra.kafka_bootstrap, name))


@pytest.fixture
def parcels_env(infra, fresh_database, monkeypatch):
    env = infra.pg_env(fresh_database("relay"))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def _save_parcels(count: int, prefix: str = "p", *, announced: bool = True) -> set[str]:
    """Save `count` parcels (two events each); not `announced`: without the NOTIFY the
    library sends in each inserting transaction, as if it had been lost."""
    app = ParcelApplication()
    if not announced:
        app.recorder._notify_channel = lambda cursor: None
    labels = set()
    with context.bound(correlation_id="relay-test", actor=context.Actor("u-1", "citizen")):
        for i in range(count):
            parcel = Parcel(label=f"{prefix}-{i}")
            parcel.note("private, not published")
            app.save(parcel)
            labels.add(parcel.label)
    app.close()
    return labels


def _start_relay(infra, topic: str, batch_size: int, die_at: str = "") -> subprocess.Popen:
    args = [infra.kafka_bootstrap, topic, str(batch_size), *([die_at] if die_at else [])]
    return subprocess.Popen(
        [sys.executable, str(HERE / "relay_process.py"), *args], env=os.environ.copy()
    )


def _relay_position(infra, dbname: str) -> int:
    """Where the relay recorded it got to (read directly, so the test builds no second
    application racing the relay's own start-up DDL)."""
    with infra.connect(dbname) as conn:
        if conn.execute("SELECT to_regclass('parcels_relay_tracking')").fetchone()[0] is None:
            return 0  # the relay has not started yet
        row = conn.execute(
            "SELECT notification_id FROM parcels_relay_tracking WHERE application_name = %s",
            ("tests-kafka-relay",),
        ).fetchone()
    return row[0] if row else 0


def test_relay_killed_mid_batch_resumes_without_losing_an_event(infra, topic, parcels_env):
    """Kill -9 the relay in the middle of a batch; after a restart every public event is on
    Kafka exactly as stored (same event ids), private events are not, nothing is lost."""
    total = 600
    labels = _save_parcels(total)
    dbname = parcels_env["POSTGRES_DBNAME"]

    # Batches of 100 notifications (50 parcels): parcel 125 is in the middle of the third.
    relay = _start_relay(infra, topic, batch_size=100, die_at="p-125")
    assert relay.wait(timeout=60) == -signal.SIGKILL
    assert _relay_position(infra, dbname) == 200  # two batches recorded, the third was not

    relay = _start_relay(infra, topic, batch_size=100)
    try:
        deadline = time.monotonic() + 60
        while _relay_position(infra, dbname) < 2 * total and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        relay.send_signal(signal.SIGTERM)
        relay.wait()

    records = asyncio.run(read_all(infra.kafka_bootstrap, topic, expect=total, timeout=60))
    envelopes = [Envelope.from_bytes(r.value) for r in records]
    assert {e.data["subject"] for e in envelopes} == labels  # nothing lost, nothing private
    by_id: dict = {}
    for envelope in envelopes:
        # A resent message is the same message: same id, same content.
        assert by_id.setdefault(envelope.event_id, envelope) == envelope
    assert len(by_id) == total
    assert all(e.type == "RequestSubmitted" and e.correlation_id == "relay-test" for e in envelopes)
    assert all(e.actor == {"id": "u-1", "role": "citizen"} for e in envelopes)
    # Keyed by aggregate id: one aggregate's events stay in one partition, in order.
    assert all(r.key.decode() == Envelope.from_bytes(r.value).subject for r in records)


def _until(check, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not check() and time.monotonic() < deadline:
        time.sleep(0.05)
    return check()


def test_relay_publishes_after_a_lost_notification_within_the_poll_interval(
    infra, topic, parcels_env
):
    """Issue 5: an idle relay waits for a NOTIFY but polls once a second anyway, so events
    committed without a notification (see `_save_parcels`) are published within the poll
    interval instead of waiting for the next write."""
    poll_seconds = 1.0  # the relay's default
    dbname = parcels_env["POSTGRES_DBNAME"]
    announced = _save_parcels(3, "announced")
    relay = _start_relay(infra, topic, batch_size=100)
    try:
        assert _until(lambda: _relay_position(infra, dbname) == 6, timeout=60)  # start-up
        unannounced = _save_parcels(3, "unannounced", announced=False)
        assert _until(lambda: _relay_position(infra, dbname) == 12, timeout=poll_seconds + 2)
    finally:
        relay.send_signal(signal.SIGTERM)
        relay.wait()

    records = asyncio.run(read_all(infra.kafka_bootstrap, topic, expect=6, timeout=60))
    labels = {Envelope.from_bytes(r.value).data["subject"] for r in records}
    assert labels == announced | unannounced
