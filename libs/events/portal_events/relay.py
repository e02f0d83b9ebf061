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
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Callable, Iterable
from typing import Any

import psycopg
import structlog
from aiokafka import AIOKafkaProducer
from eventsourcing.application import Application
from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresTrackingRecorder
from psycopg.rows import tuple_row

from portal_events.contracts import Contract
from portal_events.envelope import wrap
from portal_events.mapper import event_metadata
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
        idle_seconds: float = 0.05,
    ) -> None:
        self.app = app
        self.translate = translate
        self.source = source
        self.bootstrap_servers = bootstrap_servers
        self.batch_size = batch_size
        self.idle_seconds = idle_seconds
        self.tracking_name = f"{source}-kafka-relay"
        datastore = app.recorder.datastore  # type: ignore[attr-defined]
        self._tracking = PostgresTrackingRecorder(
            datastore, tracking_table_name=f"{app.name.lower()}_relay_tracking"
        )
        creating_tables(self._tracking.create_table)
        self.position = 0

    def _lock_key(self) -> int:
        return zlib.crc32(self.tracking_name.encode())

    async def run(self) -> None:
        """Relay forever (until cancelled)."""
        lock_conn = await self._acquire_leadership()
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap_servers,
            enable_idempotence=True,
            acks="all",
            linger_ms=5,
        )
        await producer.start()
        try:
            self.position = await asyncio.to_thread(self._recorded_position)
            log.info("relay_started", source=self.source, position=self.position)
            while True:
                sent = await self.relay_once(producer)
                if not sent:
                    await asyncio.sleep(self.idle_seconds)
        finally:
            await producer.stop()
            await lock_conn.close()

    async def _acquire_leadership(self) -> psycopg.AsyncConnection[Any]:
        datastore = self.app.recorder.datastore  # type: ignore[attr-defined]
        conn = await psycopg.AsyncConnection.connect(
            datastore.pool.conninfo,
            **{**datastore.pool.kwargs, "row_factory": tuple_row, "autocommit": True},
        )
        waiting_logged = False
        while True:
            row = await (
                await conn.execute("SELECT pg_try_advisory_lock(%s)", (self._lock_key(),))
            ).fetchone()
            if row and row[0]:
                return conn
            if not waiting_logged:
                log.info("relay_standby", source=self.source)
                waiting_logged = True
            await asyncio.sleep(1.0)

    def _recorded_position(self) -> int:
        return self._tracking.max_tracking_id(self.tracking_name) or 0

    async def relay_once(self, producer: AIOKafkaProducer) -> int:
        """Publish the next batch after the recorded position; return how many notifications."""
        notifications = await asyncio.to_thread(
            self.app.recorder.select_notifications,
            self.position,
            self.batch_size,
            inclusive_of_start=False,
        )
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
