"""Following a service's notification log: what the read models and the outbox relay share.

Both follow the log the same way (issue 5): they LISTEN on the channel the eventsourcing
PostgreSQL recorder NOTIFYs in every transaction that records events, read what follows their
position, and when there is nothing left wait for a notification *or* the poll interval, whichever
comes first. A notification that is lost (or a LISTEN connection that went half-open) therefore
delays a follower by at most the poll interval instead of stalling it, unlike the library's
subscription, which only wakes on notifications (library issue #305). The connections a follower
holds for hours use TCP keepalives, so a peer that vanished is noticed in seconds, not hours.

Lag is measured the same way for both: the head of the log minus the follower's recorded position,
and the age of the oldest event not yet taken in (its domain timestamp).
"""

from __future__ import annotations

import asyncio
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
import structlog
from eventsourcing.application import Application
from eventsourcing.persistence import Notification
from eventsourcing.postgres import (
    PostgresApplicationRecorder,
    PostgresDatastore,
    PostgresTrackingRecorder,
)
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Composed, Identifier

from portal_events.health import ComponentHealth

log = structlog.get_logger()

POLL_SECONDS = 1.0
"""How long a follower waits for a notification before it looks at the log anyway."""

KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
}
"""libpq TCP keepalives: a dead peer is detected after about 10 + 3 * 5 = 25 s of silence."""


def follower_connection_kwargs(datastore: PostgresDatastore) -> tuple[str, dict[str, Any]]:
    """Conninfo and keyword arguments for a long-held autocommit connection (leadership lock,
    LISTEN, reading the log) to the database of `datastore`, with keepalives."""
    pool = datastore.pool
    kwargs = {**pool.kwargs, **KEEPALIVES, "row_factory": tuple_row, "autocommit": True}
    return pool.conninfo, kwargs


def leadership_key(name: str) -> int:
    """The advisory lock key for 'the one active follower called `name`'."""
    return zlib.crc32(name.encode())


async def lead(
    datastore: PostgresDatastore, name: str, **log_fields: Any
) -> psycopg.AsyncConnection[Any]:
    """A follower connection to `datastore`'s database once it holds the advisory lock of the
    one active follower called `name` (waiting as a standby, checking every second, until then).
    The lock goes with the connection: a follower that dies hands over to a standby."""
    conninfo, kwargs = follower_connection_kwargs(datastore)
    conn = await psycopg.AsyncConnection.connect(conninfo, **kwargs)
    key = leadership_key(name)
    waiting_logged = False
    while True:
        row = await (await conn.execute("SELECT pg_try_advisory_lock(%s)", (key,))).fetchone()
        if row and row[0]:
            return conn
        if not waiting_logged:
            log.info("follower_standby", follower=name, **log_fields)
            waiting_logged = True
        await asyncio.sleep(1.0)


def postgres_recorder(app: Application[Any]) -> PostgresApplicationRecorder:
    recorder = app.recorder
    if not isinstance(recorder, PostgresApplicationRecorder):
        msg = f"{app.name} does not record its events in PostgreSQL"
        raise TypeError(msg)
    return recorder


def listen_statement(recorder: PostgresApplicationRecorder) -> Composed:
    return SQL("LISTEN {0}").format(Identifier(recorder.channel_name))


def notify_statement(recorder: PostgresApplicationRecorder) -> Composed:
    return SQL("NOTIFY {0}").format(Identifier(recorder.channel_name))


def select_after_statement(recorder: PostgresApplicationRecorder) -> Composed:
    """Notifications after a position (first parameter), in order, at most the second."""
    return SQL(
        "SELECT notification_id, originator_id, originator_version, topic, state "
        "FROM {schema}.{table} WHERE notification_id > %s ORDER BY notification_id LIMIT %s"
    ).format(
        schema=Identifier(recorder.datastore.schema),
        table=Identifier(recorder.events_table_name),
    )


def to_notification(row: tuple[Any, ...]) -> Notification:
    notification_id, originator_id, originator_version, topic, state = row
    return Notification(
        id=notification_id,
        originator_id=originator_id,
        originator_version=originator_version,
        topic=topic,
        state=bytes(state),
    )


@dataclass(frozen=True)
class Lag:
    """How far a follower is behind the log."""

    events: int
    """Notifications after the follower's position (0: up to date)."""
    seconds: float
    """Age of the oldest of them (0.0 when up to date)."""


class LagGauge:
    """Measures a follower's lag with small index lookups, so that health checks and metrics
    may ask every few seconds. It queries once, without the library's retries (ten attempts per
    query), so that a health check during a database outage answers "not ok" within the pool's
    timeout instead of a minute later."""

    def __init__(self, app: Application[Any]) -> None:
        self.app = app
        self._recorder = postgres_recorder(app)
        self._head = SQL("SELECT max(notification_id) FROM {schema}.{table}").format(
            schema=Identifier(self._recorder.datastore.schema),
            table=Identifier(self._recorder.events_table_name),
        )
        self._select_after = select_after_statement(self._recorder)
        self._undecodable: tuple[int, float] | None = None

    def measure(self, tracking: PostgresTrackingRecorder, tracking_name: str) -> Lag:
        """The lag of the follower whose position `tracking` records under `tracking_name`."""
        with tracking.datastore.get_connection() as conn:
            row = conn.execute(tracking.max_tracking_id_statement, (tracking_name,)).fetchone()
        position = (row["max"] if row else None) or 0
        with self._recorder.datastore.get_connection() as conn:
            head_row = conn.execute(self._head).fetchone()
            head = (head_row["max"] if head_row else None) or 0
            if head <= position:
                return Lag(0, 0.0)
            with conn.cursor(row_factory=tuple_row) as cursor:
                oldest = cursor.execute(self._select_after, (position, 1)).fetchone()
        return Lag(head - position, self._age(to_notification(oldest)) if oldest else 0.0)

    def _age(self, notification: Notification) -> float:
        try:
            occurred = self.app.mapper.to_domain_event(notification).timestamp
        except Exception:  # its follower is about to park it: age it from first sight
            if self._undecodable is None or self._undecodable[0] != notification.id:
                self._undecodable = (notification.id, time.monotonic())
            return time.monotonic() - self._undecodable[1]
        return max(0.0, (datetime.now(UTC) - occurred).total_seconds())


def lag_health(
    measure: Callable[[], Lag], threshold_seconds: float, **detail: Any
) -> ComponentHealth:
    """Health of a follower from its lag: not ok only when an event has waited longer than
    `threshold_seconds` (or the database does not answer); `detail` adds its own figures."""
    try:
        lag = measure()
    except Exception as exc:  # health reports, never raises
        return ComponentHealth(False, {"error": repr(exc), **detail})
    return ComponentHealth(
        not (lag.events > 0 and lag.seconds > threshold_seconds),
        {"lag_events": lag.events, "lag_seconds": round(lag.seconds, 3), **detail},
    )
