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

No single event can stop it. A stored event that cannot be translated (a bug in a translator,
or data the public contract refuses, e.g. `amount > 0`) is parked (`portal_events.parked`, the
same table and command as the read models' parked events): its row is written in the
transaction that moves the position past it, and the relay goes on. It is parked at the first
failure, not after the read models' few attempts: a translation is a pure function of the stored
event, so trying it again in the same process gives the same answer, and every later event
would only wait for it. A Kafka (or database) outage is not the event's fault: the batch fails
as a whole, nothing is parked, and the supervising loop starts the relay again from the recorded
position, as often as it takes. An operator lists parked events and, after a fix, asks for a
retry (`python -m portal_events.parked retry SERVICE --relay`); the leading relay then
translates and publishes each once. Published again after a crash, it carries the same
deterministic event id, which consumers deduplicate.

Parking breaks the order of the parked event's aggregate: its later events are published before
it. That is still right: a stuck outbox stops every public event of the service, which is an
outage for every consumer, whereas consumers are idempotent (event id) and tolerate order by the
envelope's `sequence` (the aggregate's version), so a late event is recognised as such.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import psycopg
import structlog
from aiokafka import AIOKafkaProducer
from eventsourcing.application import Application
from eventsourcing.persistence import Notification, Tracking
from eventsourcing.postgres import PostgresTrackingRecorder

from portal_events.contracts import Contract
from portal_events.envelope import Envelope, send, wrap
from portal_events.failures import is_infrastructure_failure
from portal_events.health import ComponentHealth
from portal_events.mapper import event_metadata
from portal_events.notification_log import (
    POLL_SECONDS,
    Lag,
    LagGauge,
    lag_health,
    lead,
    listen_statement,
    postgres_recorder,
    select_after_statement,
    to_notification,
)
from portal_events.parked import RELAY, ParkedEvent, ParkedEvents, describe_failure
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
        self._parked = ParkedEvents(self._recorder.datastore.schema)
        creating_tables(self._create_parked_table)
        self._gauge = LagGauge(app)
        self.position = 0
        self.leading = False

    def _create_parked_table(self) -> None:
        with self._tracking.datastore.transaction(commit=True) as cursor:
            self._parked.create_table(cursor)

    async def run(self) -> None:
        """Relay forever (until cancelled): after each batch that was not full, wait for a
        NOTIFY of new events or the poll interval, whichever comes first; once per poll
        interval, publish the parked events whose retry an operator asked for. A failure of
        Kafka or the database ends it: its supervisor (`BackgroundLoops`) starts it again."""
        conn = await lead(self._recorder.datastore, self.tracking_name, source=self.source)
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
                retries_checked = 0.0
                while True:
                    # Retries are asked for by a person: once per poll interval is soon enough.
                    if time.monotonic() - retries_checked >= self.poll_seconds:
                        await self._publish_requested_retries(producer)
                        retries_checked = time.monotonic()
                    sent = await self.relay_once(producer, conn)
                    if sent < self.batch_size:
                        async for _ in conn.notifies(timeout=self.poll_seconds, stop_after=1):
                            pass
            finally:
                self.leading = False
                await producer.stop()
        finally:
            await conn.close()

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
        """Publish the next batch after the recorded position; return how many notifications.
        An event that cannot be translated is parked with the position, not published."""
        notifications = await self._next_batch(conn)
        if not notifications:
            return 0
        deliveries = []
        untranslatable: list[tuple[Notification, str]] = []
        for notification in notifications:
            try:
                envelopes = self._envelopes(notification)
            except Exception as exc:
                if is_infrastructure_failure(exc):
                    raise
                untranslatable.append((notification, describe_failure(exc)))
                continue
            for topic, envelope in envelopes:
                deliveries.append(await send(producer, topic, envelope, key=envelope.subject))
        # Every message of the batch is acknowledged by the broker before the position moves.
        await asyncio.gather(*deliveries)
        last = notifications[-1].id
        await asyncio.to_thread(self._record_position, last, untranslatable)
        self.position = last
        for notification, error in untranslatable:
            log.error(
                "relay_event_parked",
                source=self.source,
                notification_id=notification.id,
                topic=notification.topic,
                error=error,
            )
        return len(notifications)

    def _envelopes(self, notification: Notification) -> list[tuple[str, Envelope]]:
        """The messages of one stored event, all built before any is sent (a translator that
        fails half-way publishes nothing of the event)."""
        domain_event = self.app.mapper.to_domain_event(notification)
        return [
            (
                topic,
                wrap(
                    contract,
                    source=self.source,
                    subject=str(domain_event.originator_id),
                    sequence=domain_event.originator_version,
                    occurred_at=domain_event.timestamp,
                    metadata=event_metadata(domain_event),
                ),
            )
            for topic, contract in self.translate(domain_event)
        ]

    def _record_position(
        self, position: int, untranslatable: Sequence[tuple[Notification, str]]
    ) -> None:
        with self._tracking.datastore.transaction(commit=True) as cursor:
            for notification, error in untranslatable:
                self._parked.park(cursor, RELAY, notification, error)
            self._tracking._insert_tracking(cursor, Tracking(self.tracking_name, position))

    # --- retries of parked events -------------------------------------------------------------

    async def _publish_requested_retries(self, producer: AIOKafkaProducer) -> None:
        for parked in await asyncio.to_thread(self._requested_retries):
            await self._retry(producer, parked)

    def _requested_retries(self) -> list[ParkedEvent]:
        with self._tracking.datastore.transaction(commit=False) as cursor:
            return self._parked.select(cursor, RELAY, retry_requested=True)

    async def _retry(self, producer: AIOKafkaProducer, parked: ParkedEvent) -> None:
        """Translate a parked event again and publish it, and only then remove its row: a crash
        in between publishes it again on the next look, with the same event ids (deduplicated).
        If it still cannot be translated, it stays parked with the new error."""
        notification_id = parked.notification_id
        try:
            notification = await asyncio.to_thread(self._stored_notification, notification_id)
            envelopes = self._envelopes(notification)
        except Exception as exc:
            if is_infrastructure_failure(exc):
                raise
            error = describe_failure(exc)
            await asyncio.to_thread(self._keep_parked, notification_id, error)
            log.error(
                "relay_parked_event_retry_failed",
                source=self.source,
                notification_id=notification_id,
                topic=parked.topic,
                error=error,
            )
            return
        deliveries = [
            await send(producer, topic, envelope, key=envelope.subject)
            for topic, envelope in envelopes
        ]
        await asyncio.gather(*deliveries)
        await asyncio.to_thread(self._unpark, notification_id)
        log.info(
            "relay_parked_event_published",
            source=self.source,
            notification_id=notification_id,
            messages=len(deliveries),
        )

    def _stored_notification(self, notification_id: int) -> Notification:
        found = self.app.recorder.select_notifications(notification_id, 1, stop=notification_id)
        if not found:
            msg = f"notification {notification_id} is not in the log"
            raise LookupError(msg)
        return found[0]

    def _keep_parked(self, notification_id: int, error: str) -> None:
        with self._tracking.datastore.transaction(commit=True) as cursor:
            self._parked.retry_failed(cursor, RELAY, notification_id, error)

    def _unpark(self, notification_id: int) -> None:
        with self._tracking.datastore.transaction(commit=True) as cursor:
            self._parked.remove(cursor, RELAY, notification_id)

    # --- what the service uses ----------------------------------------------------------------

    def lag(self) -> Lag:
        """Events not yet published: the head of the log minus the recorded position (read from
        the database, so a standby replica reports the same figures as the active one)."""
        return self._gauge.measure(self._tracking, self.tracking_name)

    def parked_count(self) -> int:
        """Stored events the relay could not translate and set aside (not published)."""
        with self._tracking.datastore.transaction(commit=False) as cursor:
            return self._parked.count(cursor, RELAY)

    def health(self) -> ComponentHealth:
        """Not ok only when events have waited longer than the threshold to be published (or the
        database does not answer). Parked events are reported, not failed on: taking the
        service out of rotation would turn one bad event into an outage."""
        try:
            parked: int | str = self.parked_count()
        except Exception:  # the lag check below reports the database's trouble
            parked = "unknown"
        return lag_health(self.lag, self.lag_threshold_seconds, parked=parked, leading=self.leading)
