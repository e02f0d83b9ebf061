"""The outbox relay never stops on one event (issue 5 applied to the relay), on real PostgreSQL
and Kafka: an event its translation refuses is parked (`portal_events.parked`, shown and retried
by the same command as the read models') and the events after it are published; a Kafka outage
is waited out, parking nothing and losing nothing.

The relay runs in this process under the services' own supervisor (`BackgroundLoops`), which
starts it again after a failure, as in a service.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaTimeoutError

sys.path.insert(0, str(Path(__file__).parent))

from kafka_helpers import create_topics, delete_topics, eventually, read_all, unique_topic
from portal_events import parked
from portal_events import relay as relay_module
from portal_events.background import BackgroundLoops
from portal_events.contracts import RequestSubmittedV1
from portal_events.envelope import Envelope
from portal_events.parked import RELAY, ParkedEvents
from portal_events.relay import OutboxRelay
from sample_domain import Parcel, ParcelApplication, make_translate

pytestmark = pytest.mark.integration

POISON = "poison-label-private"
"""A parcel whose label the contract refuses as its `kind` until the translator is fixed; the
label stands for the event's data, which must not reach the log."""


class Translator:
    """The sample translation, except that the poison parcel's contract is refused by
    validation (as a stored value the contract forbids would be) until `fixed` is set."""

    def __init__(self, topic: str) -> None:
        self.translate = make_translate(topic)
        self.fixed = False

    def __call__(self, domain_event):
        published = list(self.translate(domain_event))
        if not self.fixed and getattr(domain_event, "label", None) == POISON:
            for _, contract in published:
                RequestSubmittedV1(**{**contract.model_dump(), "kind": domain_event.label})
        return published


@pytest.fixture
def parcels(infra, fresh_database, monkeypatch):
    """(app, database, topic, make_relay): an application on a new database, a scratch topic;
    the parked-events command points at the same server (the database is its SERVICE)."""
    dbname = fresh_database("relay_parked")
    env = infra.pg_env(dbname)
    for key in ("POSTGRES_HOST", "POSTGRES_PORT", "POSTGRES_USER", "POSTGRES_PASSWORD"):
        monkeypatch.setenv(key, env[key])
    monkeypatch.delenv("POSTGRES_DBNAME", raising=False)
    monkeypatch.delenv("POSTGRES_SCHEMA", raising=False)
    topic = unique_topic("relay-parked")
    asyncio.run(create_topics(infra.kafka_bootstrap, topic))
    app = ParcelApplication(env=env)

    def make_relay(translate) -> OutboxRelay:
        return OutboxRelay(
            app,
            translate,
            source="tests",
            bootstrap_servers=infra.kafka_bootstrap,
            poll_seconds=0.2,
        )

    yield app, dbname, topic, make_relay
    app.close()
    asyncio.run(delete_topics(infra.kafka_bootstrap, topic))


def _save(app: ParcelApplication, *labels: str) -> None:
    for label in labels:
        parcel = Parcel(label=label)
        parcel.note("private, not published")
        app.save(parcel)


async def _published(bootstrap: str, topic: str, expect: int) -> list[Envelope]:
    records = await read_all(bootstrap, topic, expect=expect, timeout=30)
    return [Envelope.from_bytes(record.value) for record in records]


def test_an_untranslatable_event_is_parked_the_rest_published_and_a_retry_publishes_it_once(
    infra, parcels, monkeypatch, capsys
):
    """A translation that raises parks its event (row, health, error log without the event's
    data) and the events after it are published; `retry` before the fix keeps it parked with
    the new error; after the fix it is published once, with the event id it would have had, and
    published again (after a crash before its row went) it is the same message."""
    app, dbname, topic, make_relay = parcels
    bootstrap = infra.kafka_bootstrap
    log = structlog.testing.CapturingLogger()
    monkeypatch.setattr(relay_module, "log", log)
    translator = Translator(topic)
    relay = make_relay(translator)
    _save(app, "before", POISON, "after")  # notifications 1..6; the poison's first is 3
    poison_id = 3

    async def scenario() -> None:
        loops = BackgroundLoops(first_delay=0.1, max_delay=0.5)
        loops.start("relay", relay.run)
        try:
            await eventually(lambda: relay.position == 6, "the relay past the poison event")
            envelopes = await _published(bootstrap, topic, expect=2)
            assert _subjects(envelopes) == ["after", "before"]

            health = relay.health()
            assert health.ok  # parked is reported, not failed on
            assert (health.detail["parked"], health.detail["lag_events"]) == (1, 0)
            [event] = parked.list_parked(dbname)
            assert (event.projection, event.parked_by) == (RELAY, "relay")
            assert (event.notification_id, event.topic) == (poison_id, Parcel.Registered.TOPIC)
            assert event.error.startswith("ValidationError: RequestSubmittedV1: kind: ")
            assert POISON not in event.error  # pydantic's own text quotes the input
            [logged] = [c for c in log.calls if c.args == ("relay_event_parked",)]
            assert logged.method_name == "error"
            assert logged.kwargs == {
                "source": "tests",
                "notification_id": poison_id,
                "topic": Parcel.Registered.TOPIC,
                "error": event.error,
            }
            assert parked.main(["list", dbname]) == 0
            assert f"relay #{poison_id}  {Parcel.Registered.TOPIC}" in capsys.readouterr().out

            # Retried before the fix: translated once more, refused, still parked.
            assert parked.request_retry(dbname, projection=RELAY) == 1
            await eventually(
                lambda: parked.list_parked(dbname)[0].retry_requested_at is None,
                "the retry that fails again",
            )
            assert relay.parked_count() == 1

            # After the fix: published once, and its row goes.
            translator.fixed = True
            assert parked.main(["retry", dbname, "--relay"]) == 0
            await eventually(lambda: relay.parked_count() == 0, "the retry after the fix")
            envelopes = await _published(bootstrap, topic, expect=3)
            assert _subjects(envelopes) == ["after", "before", POISON]
            assert parked.request_retry(dbname) == 0  # nothing left to retry

            # A crash between publishing and removing the row: published again, the same message
            # (same event id), which consumers drop as a duplicate.
            _park_again(app, relay, poison_id)
            assert parked.request_retry(dbname, notification_id=poison_id) == 1
            await eventually(lambda: relay.parked_count() == 0, "the repeated retry")
            again = await _published(bootstrap, topic, expect=4)
            assert _subjects(again) == ["after", "before", POISON, POISON]
            first, second = (e for e in again if e.data["subject"] == POISON)
            assert first == second
        finally:
            await loops.stop()

    asyncio.run(scenario())


def _subjects(envelopes: list[Envelope]) -> list[str]:
    """Sorted: the topic's partitions keep each aggregate's order, not one across aggregates."""
    return sorted(e.data["subject"] for e in envelopes)


def _park_again(app: ParcelApplication, relay: OutboxRelay, notification_id: int) -> None:
    [notification] = app.recorder.select_notifications(notification_id, 1)
    with relay._tracking.datastore.transaction(commit=True) as cursor:
        ParkedEvents().park(cursor, RELAY, notification, "row kept by a crash")


class BrokerHiccups(AIOKafkaProducer):
    """Fails deliveries the way aiokafka does while the broker does not answer (the message's
    future ends in KafkaTimeoutError), for `failures_left` messages after the first
    `delivered_first` ones: the outage begins in the middle of a batch."""

    delivered_first = 0
    failures_left = 0

    async def send(self, *args, **kwargs):
        if BrokerHiccups.delivered_first > 0:
            BrokerHiccups.delivered_first -= 1
        elif BrokerHiccups.failures_left > 0:
            BrokerHiccups.failures_left -= 1
            delivery = asyncio.get_running_loop().create_future()
            delivery.set_exception(KafkaTimeoutError())
            return delivery
        return await super().send(*args, **kwargs)


def test_a_kafka_outage_while_publishing_parks_nothing_and_loses_nothing(
    infra, parcels, monkeypatch
):
    """An outage is not a translation failure: the relay (restarted by its supervisor) tries
    again without limit, several times here where a bad event gets one try; nothing is parked
    and every event is published, messages sent again carrying the same event id."""
    app, _, topic, make_relay = parcels
    BrokerHiccups.delivered_first, BrokerHiccups.failures_left = 4, 25
    monkeypatch.setattr(relay_module, "AIOKafkaProducer", BrokerHiccups)
    labels = [f"p-{i}" for i in range(10)]
    _save(app, *labels)  # one batch of 20 notifications, 10 messages
    relay = make_relay(make_translate(topic))

    async def scenario() -> list[Envelope]:
        loops = BackgroundLoops(first_delay=0.1, max_delay=0.4)
        loops.start("relay", relay.run)
        try:
            await eventually(lambda: relay.position == 20, "the relay past the outage")
            # 4 messages of the first run, the last of the third, all 10 of the fourth.
            return await _published(infra.kafka_bootstrap, topic, expect=15)
        finally:
            await loops.stop()

    envelopes = asyncio.run(scenario())
    assert BrokerHiccups.failures_left == 0  # three runs failed before the fourth went through
    assert relay.parked_count() == 0
    assert relay.health().detail["parked"] == 0
    by_id: dict = {}
    for envelope in envelopes:
        assert by_id.setdefault(envelope.event_id, envelope) == envelope  # resent = same message
    assert _subjects(list(by_id.values())) == sorted(labels)
