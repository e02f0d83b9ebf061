"""Read models: one projection of the service's own events, kept in this service's database.

A `ReadModel` follows the service's own Application (no second instance, unlike the library's
`ProjectionRunner`) and hands each event with its tracking position to an eventsourcing
`Projection`, whose view writes rows and position in one transaction: the view is updated exactly
once per event and can be rebuilt from zero with the same result.

Events are applied a batch at a time (issue 12): a batch of notifications read from the log goes
to a `PostgresView` in one transaction with one tracking update, its statements prepared on one
connection (`project_batch`), instead of a transaction per event. When a batch fails for a reason
other than the database it is rolled back and applied again event by event, as before batches,
so that only the event at fault is parked. (A view that is not a `PostgresView` cannot join a
batch: it is applied event by event.)

Around that it adds what every service needs:
- leadership: of all the replicas of a service, one follows the log for a given projection (a
  PostgreSQL advisory lock, released with its connection when that process dies); the others
  wait as hot standbys, and still serve reads and read-your-writes from the shared view;
- wake-ups on NOTIFY with a poll as fallback (`portal_events.notification_log`), so a lost
  notification delays the view by at most the poll interval;
- no single event can stop it (issue 5): an event whose processing keeps failing for a reason
  other than the infrastructure is parked (`portal_events.parked`) and the model goes on; a
  database outage is waited out with backoff, however long it lasts;
- retries of parked events that an operator asked for, each applied at most once;
- health from lag (head of the log minus the view's position, and its age), not from liveness;
- read-your-writes: a request waiting for its write is woken in-process the moment this
  replica's follower has committed the batch holding that position to the view; only a replica
  that is not the leader (its view is written by another process) polls the view, every few
  milliseconds (the library's own wait sleeps >= 100 ms).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from typing import Any, Generic, TypeVar

import psycopg
import structlog
from eventsourcing.application import Application
from eventsourcing.persistence import (
    InfrastructureFactory,
    Mapper,
    Notification,
    Tracking,
    TrackingRecorder,
)
from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.projection import Projection
from eventsourcing.utils import Environment

from portal_events.failures import is_infrastructure_failure
from portal_events.health import ComponentHealth
from portal_events.notification_log import (
    POLL_SECONDS,
    Lag,
    LagGauge,
    follower_connection_kwargs,
    lag_health,
    leadership_key,
    listen_statement,
    notify_statement,
    postgres_recorder,
    select_after_statement,
    to_notification,
)
from portal_events.parked import ParkedEvent, ParkedEvents, describe_failure
from portal_events.schema import creating_tables
from portal_events.views import PostgresView

log = structlog.get_logger()

View = TypeVar("View", bound=TrackingRecorder)


def retry_tracking_name(application_name: str, notification_id: int) -> str:
    """The tracking name under which a parked event is applied on retry.

    The view's own position has moved past a parked event, so applying it with the usual name
    would be refused (single-row tracking only moves forward) or could not tell a first
    application from a second. A name of its own per event gives the retry a tracking row written
    in the projection's own transaction: its presence proves the event was applied, in single-
    and multi-row tracking alike, and a second insert is refused by the primary key.
    """
    return f"{application_name}:retry:{notification_id}"


def project_batch(
    projection: Projection[Any],
    mapper: Mapper[Any],
    notifications: Sequence[Notification],
    up_to: Tracking,
) -> None:
    """Apply `notifications` to the projection's view, a `PostgresView`, in one transaction that
    records `up_to` (at least the last one's position: events of topics the projection does not
    take may follow it) as the view's tracking position, once. Raises what the projection
    raised, having written nothing."""
    view = projection.view
    assert isinstance(view, PostgresView)
    with view.batch():
        for notification in notifications:
            tracking = Tracking(up_to.application_name, notification.id)
            projection.process_event(mapper.to_domain_event(notification), tracking)
        view.insert_tracking(up_to)


class ReadModel(Generic[View]):
    def __init__(
        self,
        app: Application[Any],
        projection_class: type[Projection[View]],
        view_class: type[View],
        *,
        standby_poll_seconds: float = 1.0,
        poll_seconds: float = POLL_SECONDS,
        attempts: int = 3,
        attempt_backoff_seconds: float = 0.5,
        lag_threshold_seconds: float = 30.0,
        batch_size: int = 500,
        restart_delay_seconds: float = 1.0,
    ) -> None:
        self.app = app
        self.name = projection_class.name
        factory = InfrastructureFactory[View].construct(env=Environment(self.name, app.env))
        self.view: View = creating_tables(lambda: factory.tracking_recorder(view_class))
        if not isinstance(self.view, PostgresTrackingRecorder):
            msg = f"read model {self.name}: the view must be a PostgresTrackingRecorder"
            raise TypeError(msg)
        self._recorder = postgres_recorder(app)
        self._projection = projection_class(view=self.view)
        self._topics = frozenset(projection_class.topics)
        self._parked = ParkedEvents(self.view.datastore.schema)
        creating_tables(self._create_parked_table)
        self._gauge = LagGauge(app)
        self._standby_poll_seconds = standby_poll_seconds
        self._poll_seconds = poll_seconds
        self._attempts = max(1, attempts)
        self._attempt_backoff_seconds = attempt_backoff_seconds
        self._lag_threshold_seconds = lag_threshold_seconds
        self._batch_size = batch_size
        self._restart_delay_seconds = restart_delay_seconds
        self._stopping = threading.Event()
        self._listeners: list[Callable[[], None]] = []
        # The position this replica's follower has committed to the view (while it leads), and
        # the condition read-your-writes waits on for it.
        self._committed = 0
        self._advanced = threading.Condition()
        self.leading = False
        self._thread = threading.Thread(target=self._run, name=f"read-model-{self.name}")
        self._thread.start()

    @property
    def _postgres_view(self) -> PostgresTrackingRecorder:
        assert isinstance(self.view, PostgresTrackingRecorder)
        return self.view

    def _create_parked_table(self) -> None:
        with self._postgres_view.datastore.transaction(commit=True) as cursor:
            self._parked.create_table(cursor)

    # --- the follower -------------------------------------------------------------------------

    def _run(self) -> None:
        """Follow while leading; after a failure (the database), start again with backoff."""
        delay = self._restart_delay_seconds
        while not self._stopping.is_set():
            try:
                with self._connect() as conn:
                    if self._wait_for_leadership(conn):
                        self._follow(conn)
                delay = self._restart_delay_seconds
            except Exception as exc:
                log.error("read_model_failed", projection=self.name, error=repr(exc))
                self._stopping.wait(delay)
                delay = min(delay * 2, 30.0)
            finally:
                self._stop_leading()

    def _connect(self) -> psycopg.Connection[Any]:
        conninfo, kwargs = follower_connection_kwargs(self._postgres_view.datastore)
        return psycopg.connect(conninfo, **kwargs)

    def _stop_leading(self) -> None:
        """No longer the view's writer here: waiting requests go back to polling the view."""
        with self._advanced:
            self.leading = False
            self._advanced.notify_all()

    def _wait_for_leadership(self, conn: psycopg.Connection[Any]) -> bool:
        key = leadership_key(f"projection/{self.name}")
        while not self._stopping.is_set():
            row = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
            if row and row[0]:
                return True
            self._stopping.wait(self._standby_poll_seconds)
        return False

    def _follow(self, conn: psycopg.Connection[Any]) -> None:
        """Apply the log from the view's position: after each batch that was not full, wait for
        a NOTIFY or the poll interval; once per poll interval, apply the retries asked for."""
        conn.execute(listen_statement(self._recorder))  # before reading: no wake-up is missed
        position = self.view.max_tracking_id(self.app.name) or 0
        self._committed_up_to(position)
        self.leading = True
        log.info("read_model_leading", projection=self.name, position=position)
        select_after = select_after_statement(self._recorder)
        retries_checked = 0.0
        while not self._stopping.is_set():
            # Retries are asked for by a person, so once per poll interval is soon enough; not
            # before every batch, where it would cost a query per write under load.
            if time.monotonic() - retries_checked >= self._poll_seconds:
                self._apply_requested_retries()
                retries_checked = time.monotonic()
            rows = conn.execute(select_after, (position, self._batch_size)).fetchall()
            if rows:
                notifications = [
                    notification
                    for notification in map(to_notification, rows)
                    if not self._topics or notification.topic in self._topics
                ]
                # The view's position goes past events of topics it does not take too, so that
                # its lag reaches the head of the log. Only the leader writes it.
                if not self._apply_batch(notifications, Tracking(self.app.name, rows[-1][0])):
                    return
                position = rows[-1][0]
                # Everything up to here is in the view (events of other topics change nothing).
                self._committed_up_to(position)
                if notifications:
                    self._notify_listeners()
            if len(rows) < self._batch_size:
                for _ in conn.notifies(timeout=self._poll_seconds, stop_after=1):
                    pass

    def _apply_batch(self, notifications: Sequence[Notification], up_to: Tracking) -> bool:
        """Apply a batch of events and the position `up_to` in one view transaction; if that
        fails for a reason other than the database, event by event (`_apply`), so that only the
        event at fault is parked. False if asked to stop."""
        if isinstance(self.view, PostgresView):
            try:
                project_batch(self._projection, self.app.mapper, notifications, up_to)
            except Exception as exc:
                if is_infrastructure_failure(exc):
                    raise  # waited out by `_run`, which starts again from the view's position
                log.warning(
                    "read_model_batch_failed",
                    projection=self.name,
                    first=notifications[0].id if notifications else None,
                    last=up_to.notification_id,
                    error=describe_failure(exc),
                )
            else:
                return True
        for notification in notifications:
            if not self._apply(notification):
                return False
        if not notifications or notifications[-1].id < up_to.notification_id:
            self.view.insert_tracking(up_to)
        return True

    def _apply(self, notification: Notification) -> bool:
        """Project one event, or park it after `attempts` failures; False if asked to stop."""
        tracking = Tracking(self.app.name, notification.id)
        for attempt in range(1, self._attempts + 1):
            try:
                domain_event = self.app.mapper.to_domain_event(notification)
                self._projection.process_event(domain_event, tracking)
            except Exception as exc:
                if is_infrastructure_failure(exc):
                    raise  # the database, not the event: waited out, never parked
                if attempt == self._attempts:
                    self._park(notification, exc)
                    return True
                log.warning(
                    "read_model_event_failed",
                    projection=self.name,
                    notification_id=notification.id,
                    attempt=attempt,
                    error=describe_failure(exc),
                )
                if self._stopping.wait(self._attempt_backoff_seconds * attempt):
                    return False
            else:
                return True
        raise AssertionError("unreachable")

    def _park(self, notification: Notification, exc: Exception) -> None:
        error = describe_failure(exc)  # never the event's data
        view = self._postgres_view
        with view.datastore.transaction(commit=True) as cursor:
            self._parked.park(cursor, self.name, notification, error)
            view._insert_tracking(cursor, Tracking(self.app.name, notification.id))
        log.error(
            "event_parked",
            projection=self.name,
            notification_id=notification.id,
            topic=notification.topic,
            originator_id=str(notification.originator_id),
            error=error,
        )

    # --- retries of parked events -------------------------------------------------------------

    def _apply_requested_retries(self) -> None:
        with self._postgres_view.datastore.transaction(commit=False) as cursor:
            requested = self._parked.select(cursor, self.name, retry_requested=True)
        for parked in requested:
            self._retry(parked)

    def _retry(self, parked: ParkedEvent) -> None:
        """Apply a parked event once, under its own tracking name (`retry_tracking_name`), and
        only then remove its row: a crash in between leaves a row whose tracking shows it was
        applied, so the next look removes it without applying it again."""
        notification_id = parked.notification_id
        tracking = Tracking(retry_tracking_name(self.app.name, notification_id), notification_id)
        if self.view.has_tracking_id(tracking.application_name, notification_id):
            log.info(
                "parked_event_already_applied",
                projection=self.name,
                notification_id=notification_id,
            )
        elif error := self._apply_once(tracking):
            with self._postgres_view.datastore.transaction(commit=True) as cursor:
                self._parked.retry_failed(cursor, self.name, notification_id, error)
            log.error(
                "parked_event_retry_failed",
                projection=self.name,
                notification_id=notification_id,
                error=error,
            )
            return
        else:
            log.info("parked_event_applied", projection=self.name, notification_id=notification_id)
        with self._postgres_view.datastore.transaction(commit=True) as cursor:
            self._parked.remove(cursor, self.name, notification_id)

    def _apply_once(self, tracking: Tracking) -> str | None:
        """Project the event at `tracking.notification_id`; the error if that failed for a
        reason other than the database (which propagates, as in `_apply`)."""
        position = tracking.notification_id
        try:
            found = self.app.recorder.select_notifications(position, 1, stop=position)
            if not found:
                msg = f"notification {position} is not in the log"
                raise LookupError(msg)
            self._projection.process_event(self.app.mapper.to_domain_event(found[0]), tracking)
        except Exception as exc:
            if is_infrastructure_failure(exc):
                raise
            return describe_failure(exc)
        return None

    def _committed_up_to(self, position: int) -> None:
        """The view holds every write up to `position`: wake the requests waiting for one."""
        with self._advanced:
            self._committed = max(self._committed, position)
            self._advanced.notify_all()

    def _notify_listeners(self) -> None:
        for listener in self._listeners:
            try:
                listener()
            except Exception as exc:  # a listener's trouble is not the view's
                log.warning("read_model_listener_failed", projection=self.name, error=repr(exc))

    # --- what the service uses ----------------------------------------------------------------

    def on_applied(self, listener: Callable[[], None]) -> None:
        """Call `listener` after each batch of events this replica applied to the view (from the
        follower's thread: keep it short, e.g. `loop.call_soon_threadsafe(event.set)`), so that
        a worker that works from the view wakes at once instead of polling it."""
        self._listeners.append(listener)

    def lag(self) -> Lag:
        """How far the view is behind the log (the same for the leader and the standbys)."""
        return self._gauge.measure(self._postgres_view, self.app.name)

    def parked_count(self) -> int:
        with self._postgres_view.datastore.transaction(commit=False) as cursor:
            return self._parked.count(cursor, self.name)

    def health(self) -> ComponentHealth:
        """Not ok only when the view has been behind the log for longer than the threshold (or
        the database does not answer). Parked events are reported, not failed on: taking the
        service out of rotation would turn one bad event into an outage."""
        try:
            parked: int | str = self.parked_count()
        except Exception:  # the lag check below reports the database's trouble
            parked = "unknown"
        return lag_health(
            self.lag, self._lag_threshold_seconds, parked=parked, leading=self.leading
        )

    def healthy(self) -> bool:
        return self.health().ok

    def wait(self, position: int | None, timeout: float) -> bool:
        """Wait until the view includes the write at `position`; False (and a log line) if not
        within `timeout`, so that the caller can answer anyway. While this replica leads, its
        follower wakes the wait when it commits the position; otherwise the view is polled."""
        if position is None:
            return True
        deadline = time.monotonic() + timeout
        with self._advanced:
            self._advanced.wait_for(
                lambda: self._committed >= position or not self.leading, timeout=timeout
            )
            if self._committed >= position:
                return True
        pause = 0.002
        while not self.view.has_tracking_id(self.app.name, position):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                log.warning("projection_lagging", projection=self.name, position=position)
                return False
            time.sleep(min(pause, remaining))
            pause = min(pause * 2, 0.05)
        return True

    def stop(self) -> None:
        """Stop following the log; the view still answers queries."""
        self._stopping.set()
        if self.leading:  # wake the follower from its wait for a notification
            with suppress(Exception), self._recorder.datastore.get_connection() as conn:
                conn.execute(notify_statement(self._recorder))
        self._thread.join(timeout=10)

    def close(self) -> None:
        """Stop following and close the view's connection pool (it has one of its own)."""
        self.stop()
        self._postgres_view.datastore.close()
