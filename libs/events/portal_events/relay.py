"""The outbox relay: follows a service's notification log and publishes its public events.

The eventsourcing notification log is gap-free and written in the same transaction as the
events, so it *is* the outbox (DESIGN "Between services"). The relay reads it in order,
translates each domain event into zero or more public contracts, sends them with an
idempotent producer (acks=all) keyed by aggregate id, waits for every acknowledgement of the
batch and only then records the position (a tracking row in the service's own database).
After a crash it resumes from the recorded position: messages after it may be sent again,
carrying the same deterministic event id, which consumers deduplicate.

Only one relay per service may run at a time (two would interleave and reorder): it holds a
PostgreSQL advisory lock, so extra replicas wait as hot standbys.

It wakes on the NOTIFY of every transaction that records events and polls once a second as a
fallback (`portal_events.notification_log`): no busy polling when idle, and a lost notification
delays publishing by at most the poll interval (issue 5).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import psycopg
import structlog
from aiokafka import AIOKafkaProducer
from eventsourcing.application import Application
from eventsourcing.persistence import Notification, Tracking
from eventsourcing.postgres import PostgresTrackingRecorder

from portal_events.contracts import Contract
from portal_events.envelope import wrap
from portal_events.health import ComponentHealth
from portal_events.mapper import event_metadata
from portal_events.notification_log import (
    POLL_SECONDS,
    Lag,
    LagGauge,
    follower_connection_kwargs,
    lag_health,
    leadership_key,
    listen_statement,
    postgres_recorder,
    select_after_statement,
    to_notification,
)
from portal_events.schema import creating_tables

log = structlog.get_logger()

Translate = Callable[[Any], Iterable[tuple[str, Contract]]]
"""Maps one domain event to the (topic, contract) pairs to publish; empty for private events."""


class OutboxRelay:
    def __init__(
        self,
        app: Application[Any],
        translate: Translate,
        *,
        source: str,
        bootstrap_servers: str,
        batch_size: int = 500,
        poll_seconds: float = POLL_SECONDS,
        lag_threshold_seconds: float = 30.0,
    ) -> None:
        self.app = app
        self.translate = translate
        self.source = source
        self.bootstrap_servers = bootstrap_servers
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.lag_threshold_seconds = lag_threshold_seconds
        self.tracking_name = f"{source}-kafka-relay"
        self._recorder = postgres_recorder(app)
        self._tracking = PostgresTrackingRecorder(
            self._recorder.datastore, tracking_table_name=f"{app.name.lower()}_relay_tracking"
        )
        creating_tables(self._tracking.create_table)
        self._gauge = LagGauge(app)
        self.position = 0
        self.leading = False

    async def run(self) -> None:
        """Relay forever (until cancelled): after each batch that was not full, wait for a
        NOTIFY of new events or the poll interval, whichever comes first."""
        conn = await self._acquire_leadership()
        try:
            await conn.execute(listen_statement(self._recorder))  # before reading: none missed
            producer = AIOKafkaProducer(
                bootstrap_servers=self.bootstrap_servers,
                enable_idempotence=True,
                acks="all",
                linger_ms=5,
            )
            await producer.start()
            try:
                self.position = await asyncio.to_thread(self._recorded_position)
                self.leading = True
                log.info("relay_started", source=self.source, position=self.position)
                while True:
                    sent = await self.relay_once(producer, conn)
                    if sent < self.batch_size:
                        async for _ in conn.notifies(timeout=self.poll_seconds, stop_after=1):
                            pass
            finally:
                self.leading = False
                await producer.stop()
        finally:
            await conn.close()

    async def _acquire_leadership(self) -> psycopg.AsyncConnection[Any]:
        conninfo, kwargs = follower_connection_kwargs(self._recorder.datastore)
        conn = await psycopg.AsyncConnection.connect(conninfo, **kwargs)
        key = leadership_key(self.tracking_name)
        waiting_logged = False
        while True:
            row = await (await conn.execute("SELECT pg_try_advisory_lock(%s)", (key,))).fetchone()
            if row and row[0]:
                return conn
            if not waiting_logged:
                log.info("relay_standby", source=self.source)
                waiting_logged = True
            await asyncio.sleep(1.0)

    def _recorded_position(self) -> int:
        return self._tracking.max_tracking_id(self.tracking_name) or 0

    async def _next_batch(self, conn: psycopg.AsyncConnection[Any]) -> Sequence[Notification]:
        cursor = await conn.execute(
            select_after_statement(self._recorder), (self.position, self.batch_size)
        )
        return [to_notification(row) for row in await cursor.fetchall()]

    async def relay_once(
        self, producer: AIOKafkaProducer, conn: psycopg.AsyncConnection[Any]
    ) -> int:
        """Publish the next batch after the recorded position; return how many notifications."""
        notifications = await self._next_batch(conn)
        if not notifications:
            return 0
        deliveries = []
        for notification in notifications:
            domain_event = self.app.mapper.to_domain_event(notification)
            for topic, contract in self.translate(domain_event):
                envelope = wrap(
                    contract,
                    source=self.source,
                    subject=str(domain_event.originator_id),
                    sequence=domain_event.originator_version,
                    occurred_at=domain_event.timestamp,
                    metadata=event_metadata(domain_event),
                )
                deliveries.append(
                    await producer.send(
                        topic,
                        envelope.to_bytes(),
                        key=envelope.subject.encode(),
                        headers=[
                            ("type", envelope.type.encode()),
                            ("version", str(envelope.version).encode()),
                            ("event_id", str(envelope.event_id).encode()),
                        ],
                    )
                )
        # Every message of the batch is acknowledged by the broker before the position moves.
        await asyncio.gather(*deliveries)
        last = notifications[-1].id
        await asyncio.to_thread(self._tracking.insert_tracking, Tracking(self.tracking_name, last))
        self.position = last
        return len(notifications)

    # --- what the service uses ----------------------------------------------------------------

    def lag(self) -> Lag:
        """Events not yet published: the head of the log minus the recorded position (read from
        the database, so a standby replica reports the same figures as the active one)."""
        return self._gauge.measure(self._tracking, self.tracking_name)

    def health(self) -> ComponentHealth:
        """Not ok only when events have waited longer than the threshold to be published (or the
        database does not answer)."""
        return lag_health(self.lag, self.lag_threshold_seconds, leading=self.leading)
