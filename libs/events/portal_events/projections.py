"""Read models: one projection of the service's own events, kept in this service's database.

A `ReadModel` follows the service's own Application (no second instance, no second pool, unlike
the library's `ProjectionRunner`) and hands each event with its tracking position to an
eventsourcing `Projection`, whose view writes rows and position in one transaction: the view is
updated exactly once per event and can be rebuilt from zero with the same result.

Around that it adds what every service needs:
- leadership: of all the replicas of a service, one follows the log for a given projection (a
  PostgreSQL advisory lock, released with its connection when that process dies); the others
  wait as hot standbys, and still serve reads and read-your-writes from the shared view;
- supervision: a follower that fails (database restart) starts again with backoff;
- a read-your-writes wait that polls every few milliseconds (the library's sleeps >= 100 ms).
"""

from __future__ import annotations

import threading
import time
import zlib
from typing import Any, Generic, TypeVar

import psycopg
import structlog
from eventsourcing.application import Application
from eventsourcing.persistence import InfrastructureFactory, TrackingRecorder
from eventsourcing.projection import ApplicationSubscription, Projection
from eventsourcing.utils import Environment
from psycopg.rows import tuple_row

from portal_events.schema import creating_tables

log = structlog.get_logger()

View = TypeVar("View", bound=TrackingRecorder)


class ReadModel(Generic[View]):
    def __init__(
        self,
        app: Application[Any],
        projection_class: type[Projection[View]],
        view_class: type[View],
        *,
        standby_poll_seconds: float = 1.0,
    ) -> None:
        self.app = app
        self.name = projection_class.name
        factory = InfrastructureFactory[View].construct(env=Environment(self.name, app.env))
        self.view: View = creating_tables(lambda: factory.tracking_recorder(view_class))
        self._projection = projection_class(view=self.view)
        self._standby_poll_seconds = standby_poll_seconds
        self._stopping = threading.Event()
        self._subscription: ApplicationSubscription[Any] | None = None
        self._failing = False
        self.leading = False
        self._thread = threading.Thread(target=self._run, name=f"read-model-{self.name}")
        self._thread.start()

    # --- the follower -------------------------------------------------------------------------

    def _run(self) -> None:
        delay = 1.0
        while not self._stopping.is_set():
            try:
                with self._connect() as leadership:
                    if self._wait_for_leadership(leadership):
                        self._follow()
                delay = 1.0
            except Exception as exc:
                self._failing = True
                log.error("read_model_failed", projection=self.name, error=repr(exc))
                self._stopping.wait(delay)
                delay = min(delay * 2, 30.0)
            finally:
                self.leading = False

    def _connect(self) -> psycopg.Connection[Any]:
        pool = self.view.datastore.pool  # type: ignore[attr-defined]
        return psycopg.connect(
            pool.conninfo, **{**pool.kwargs, "row_factory": tuple_row, "autocommit": True}
        )

    def _wait_for_leadership(self, conn: psycopg.Connection[Any]) -> bool:
        key = zlib.crc32(f"projection/{self.name}".encode())
        while not self._stopping.is_set():
            row = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
            if row and row[0]:
                return True
            self._failing = False  # a standby is healthy
            self._stopping.wait(self._standby_poll_seconds)
        return False

    def _follow(self) -> None:
        self.leading = True
        position = self.view.max_tracking_id(self.app.name)
        log.info("read_model_leading", projection=self.name, position=position)
        with ApplicationSubscription(
            self.app, gt=position, topics=self._projection.topics
        ) as subscription:
            self._subscription = subscription
            if self._stopping.is_set():
                return
            self._failing = False
            for domain_event, tracking in subscription:
                self._projection.process_event(domain_event, tracking)

    # --- what the service uses ----------------------------------------------------------------

    def healthy(self) -> bool:
        return self._thread.is_alive() and not self._failing

    def wait(self, position: int | None, timeout: float) -> bool:
        """Wait until the view includes the write at `position`; False (and a log line) if not
        within `timeout`, so that the caller can answer anyway."""
        if position is None:
            return True
        deadline = time.monotonic() + timeout
        pause = 0.002
        while not self.view.has_tracking_id(self.app.name, position):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                log.warning("projection_lagging", projection=self.name, position=position)
                return False
            time.sleep(min(pause, remaining))
            pause = min(pause * 2, 0.05)
        return True

    def close(self) -> None:
        self._stopping.set()
        if self._subscription is not None:
            self._subscription.stop()
        self._thread.join(timeout=10)
