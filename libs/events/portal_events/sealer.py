"""The sealer: keeps a service's hash chain and publishes it, so that an edited history is evident
(SPEC X-1, issue 10 "Tamper evidence").

Every stored event of a service is linked into one chain (`portal_events.chain`). Following the
notification log in order, as the outbox relay does (`portal_events.relay`: LISTEN + poll, one
leader per service through an advisory lock), the sealer computes each event's link and publishes
the event exactly as stored, with its link, on `audit.history` (`StoredEventSealedV1`, keyed by
the service's name so that one service's records stay in one partition, in order). Once every
message of a batch is acknowledged it records the position, the head hash and the number of
events chained in one row of the service's own database (`<app>_seal`); after a restart it goes
on from that row. Records sent again after a crash are the same records: the same deterministic
event id and the same content, because the chain from a recorded head is deterministic. A Kafka
or database outage ends `run()`, which its supervisor starts again: nothing is lost or chained
twice.

Every `checkpoint_seconds` in which the head moved, and at once when asked (`NOTIFY
portal_history_checkpoint` in the service's database, `request_checkpoint`), it seals what is
stored and publishes the head as a `HistoryCheckpointV1` on `audit.checkpoints`. The audit
service keeps both, out of reach of whoever can write a service's database: rows edited there
no longer hash to the checkpoints.

The envelope's time and metadata are read from the stored JSON itself, not from a decoded domain
event, so that an event whose class no longer exists (or never existed) is sealed like any other.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import psycopg
import structlog
from aiokafka import AIOKafkaProducer
from eventsourcing.application import Application
from eventsourcing.persistence import Notification
from eventsourcing.postgres import PostgresDatastore
from psycopg.sql import SQL, Composed, Identifier

from portal_events import chain
from portal_events.contracts import HistoryCheckpointV1, StoredEventSealedV1
from portal_events.envelope import Envelope, send, wrap
from portal_events.health import ComponentHealth
from portal_events.notification_log import (
    POLL_SECONDS,
    Lag,
    LagGauge,
    follower_connection_kwargs,
    lag_health,
    lead,
    listen_statement,
    postgres_recorder,
    select_after_statement,
    to_notification,
)
from portal_events.schema import creating_tables
from portal_events.topics import AUDIT_CHECKPOINTS, AUDIT_HISTORY

log = structlog.get_logger()

CHECKPOINT_CHANNEL = "portal_history_checkpoint"
"""The channel a `NOTIFY` asks the service's sealer for a checkpoint on."""


def checkpoint_statement() -> Composed:
    """`NOTIFY portal_history_checkpoint`, for callers that hold their own connection."""
    return SQL("NOTIFY {}").format(Identifier(CHECKPOINT_CHANNEL))


def request_checkpoint(target: PostgresDatastore | str) -> None:
    """Ask the sealer of the service whose database is `target` (its datastore, or a libpq
    conninfo) to seal what is stored and publish a checkpoint at once."""
    if isinstance(target, PostgresDatastore):
        conninfo, kwargs = follower_connection_kwargs(target)
    else:
        conninfo, kwargs = target, {"autocommit": True}
    with psycopg.connect(conninfo, **kwargs) as conn:
        conn.execute(checkpoint_statement())


class SealTable:
    """The one row where a service's sealer records how far it has chained: position, head hash,
    events chained. `datastore` and `max_tracking_id_statement` are what `LagGauge` reads a
    follower's position with (as from a tracking recorder)."""

    def __init__(self, datastore: PostgresDatastore, table_name: str) -> None:
        self.datastore = datastore
        table = Identifier(datastore.schema, table_name)
        self._create = SQL(
            "CREATE TABLE IF NOT EXISTS {table} ("
            "service text PRIMARY KEY, position bigint NOT NULL, head_hash bytea NOT NULL, "
            "events bigint NOT NULL, sealed_at timestamptz NOT NULL)"
        ).format(table=table)
        self._select = SQL(
            "SELECT position, head_hash, events FROM {table} WHERE service = %s"
        ).format(table=table)
        # Never backwards: a deposed leader finishing a batch late may not undo a newer record.
        self._upsert = SQL(
            "INSERT INTO {table} (service, position, head_hash, events, sealed_at) "
            "VALUES (%s, %s, %s, %s, now()) ON CONFLICT (service) DO UPDATE SET "
            "position = EXCLUDED.position, head_hash = EXCLUDED.head_hash, "
            "events = EXCLUDED.events, sealed_at = EXCLUDED.sealed_at "
            "WHERE {table}.position < EXCLUDED.position"
        ).format(table=table)
        self.max_tracking_id_statement = SQL(
            "SELECT position AS max FROM {table} WHERE service = %s"
        ).format(table=table)

    def create_table(self) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(self._create)

    def read(self, service: str) -> tuple[int, bytes, int]:
        """(position, head hash, events) recorded for `service`; (0, GENESIS, 0) before any."""
        with self.datastore.transaction(commit=False) as cursor:
            row = cursor.execute(self._select, (service,)).fetchone()
        if row is None:
            return 0, chain.GENESIS, 0
        return row["position"], bytes(row["head_hash"]), row["events"]

    def record(self, service: str, position: int, head: bytes, events: int) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(self._upsert, (service, position, head, events))


class Sealer:
    def __init__(
        self,
        app: Application[Any],
        *,
        service: str,
        bootstrap_servers: str,
        checkpoint_seconds: float = 60.0,
        batch_size: int = 500,
        poll_seconds: float = POLL_SECONDS,
        lag_threshold_seconds: float = 30.0,
        history_topic: str = AUDIT_HISTORY,
        checkpoints_topic: str = AUDIT_CHECKPOINTS,
    ) -> None:
        self.app = app
        self.service = service
        # Other topics only for the library's own tests, which must not reach the real archive.
        self.history_topic = history_topic
        self.checkpoints_topic = checkpoints_topic
        self.bootstrap_servers = bootstrap_servers
        self.checkpoint_seconds = checkpoint_seconds
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.lag_threshold_seconds = lag_threshold_seconds
        self._recorder = postgres_recorder(app)
        self._seal = SealTable(self._recorder.datastore, f"{app.name.lower()}_seal")
        creating_tables(self._seal.create_table)
        self._gauge = LagGauge(app)
        self.position = 0
        """The last sealed notification id (as recorded)."""
        self.head = chain.GENESIS
        """The chain's hash at `position`."""
        self.events = 0
        """How many stored events the chain covers up to `position`."""
        self.leading = False

    async def run(self) -> None:
        """Seal forever (until cancelled), publishing checkpoints when due or asked for. A
        failure of Kafka or the database ends it: its supervisor (`BackgroundLoops`) starts it
        again, from the recorded position."""
        conn = await lead(self._recorder.datastore, f"{self.service}-sealer", service=self.service)
        try:
            # Before reading the log, so that no notification is missed.
            await conn.execute(listen_statement(self._recorder))
            await conn.execute(SQL("LISTEN {}").format(Identifier(CHECKPOINT_CHANNEL)))
            producer = AIOKafkaProducer(
                bootstrap_servers=self.bootstrap_servers,
                enable_idempotence=True,
                acks="all",
                linger_ms=5,
            )
            try:
                await producer.start()  # stopped below even when it fails (Kafka unreachable)
                self.position, self.head, self.events = await asyncio.to_thread(
                    self._seal.read, self.service
                )
                self.leading = True
                log.info("sealer_started", service=self.service, position=self.position)
                await self._follow(producer, conn)
            finally:
                self.leading = False
                await producer.stop()
        finally:
            await conn.close()

    async def _follow(self, producer: AIOKafkaProducer, conn: psycopg.AsyncConnection[Any]) -> None:
        requested = False
        checkpointed: int | None = None  # position of this run's last checkpoint
        next_checkpoint = time.monotonic() + self.checkpoint_seconds
        while True:
            caught_up = await self.seal_once(producer, conn) < self.batch_size
            now = time.monotonic()
            due = now >= next_checkpoint
            # One asked for covers everything stored when it was asked: wait until caught up.
            if (requested and caught_up) or (due and self.position != checkpointed):
                await self._publish_checkpoint(producer)
                requested, checkpointed = False, self.position
            if due:
                next_checkpoint = now + self.checkpoint_seconds
            wait = min(self.poll_seconds, max(0.0, next_checkpoint - now)) if caught_up else 0.0
            async for notify in conn.notifies(timeout=wait, stop_after=1):
                requested |= notify.channel == CHECKPOINT_CHANNEL

    async def _next_batch(self, conn: psycopg.AsyncConnection[Any]) -> Sequence[Notification]:
        cursor = await conn.execute(
            select_after_statement(self._recorder), (self.position, self.batch_size)
        )
        return [to_notification(row) for row in await cursor.fetchall()]

    async def seal_once(
        self, producer: AIOKafkaProducer, conn: psycopg.AsyncConnection[Any]
    ) -> int:
        """Chain and publish the next batch after the recorded position, record the new head;
        return how many events."""
        notifications = await self._next_batch(conn)
        if not notifications:
            return 0
        head = self.head
        deliveries = []
        for notification in notifications:
            head, envelope = self._sealed(head, notification)
            deliveries.append(await send(producer, self.history_topic, envelope, key=self.service))
        # Every message of the batch is acknowledged by the broker before the position moves.
        await asyncio.gather(*deliveries)
        position, events = notifications[-1].id, self.events + len(notifications)
        await asyncio.to_thread(self._seal.record, self.service, position, head, events)
        self.position, self.head, self.events = position, head, events
        return len(notifications)

    def _sealed(self, previous: bytes, notification: Notification) -> tuple[bytes, Envelope]:
        """The link of one stored event after `previous`, and the message that carries both."""
        aggregate_id = UUID(str(notification.originator_id))
        digest = chain.state_digest(notification.state)
        head = chain.link(
            previous,
            notification.id,
            aggregate_id,
            notification.originator_version,
            notification.topic,
            digest,
        )
        occurred_at, metadata = _stamp(notification.state)
        sealed = StoredEventSealedV1(
            service=self.service,
            position=notification.id,
            aggregate_id=aggregate_id,
            version=notification.originator_version,
            topic=notification.topic,
            state=notification.state.decode(),
            state_sha256=digest.hex(),
            hash=head.hex(),
        )
        envelope = wrap(
            sealed,
            source=self.service,
            subject=str(aggregate_id),
            sequence=notification.originator_version,
            occurred_at=occurred_at,
            metadata=metadata,
        )
        return head, envelope

    async def _publish_checkpoint(self, producer: AIOKafkaProducer) -> None:
        now = datetime.now(UTC)
        checkpoint = HistoryCheckpointV1(
            service=self.service,
            position=self.position,
            head_hash=self.head.hex(),
            events=self.events,
            checkpointed_at=now,
        )
        envelope = wrap(
            checkpoint,
            source=self.service,
            subject=self.service,
            sequence=self.position,
            occurred_at=now,
        )
        await (await send(producer, self.checkpoints_topic, envelope, key=self.service))
        log.info(
            "history_checkpoint_published",
            service=self.service,
            position=self.position,
            events=self.events,
        )

    # --- what the service uses ----------------------------------------------------------------

    def lag(self) -> Lag:
        """Stored events not yet sealed (read from the database, so a standby replica reports
        the same figures as the active one)."""
        return self._gauge.measure(self._seal, self.service)

    def health(self) -> ComponentHealth:
        """Not ok only when stored events have waited longer than the threshold to be sealed
        (or the database does not answer)."""
        return lag_health(self.lag, self.lag_threshold_seconds, leading=self.leading)


def _stamp(state: bytes) -> tuple[datetime, dict[str, Any]]:
    """When a stored event happened and the metadata stamped on it (actor, correlation and
    causation ids), read from the library's JSON of its state."""
    raw = json.loads(state)
    occurred_at = datetime.fromisoformat(raw["timestamp"]["_data_"])
    return occurred_at, raw.get("metadata") or {}
