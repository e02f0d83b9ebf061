"""Rebuild a service's read models from zero beside the live ones and compare (SPEC X-1, issue 10
"Replay everything").

    python -m portal_web.rebuild SERVICE [--projection NAME] [--keep]

For each read model the service declares (`Service.read_models` in `<service>_service.main`;
one with `--projection`), a projection of the same class named `<name>_rebuild` gets fresh
tables beside the live ones (`portal_events.views`: a projection with another name has tables of
its own, side tables included) and applies the service's whole log to them, a batch of events
per transaction as the live read model does (`portal_events.projections.project_batch`),
showing the events done, events/s and the time left on stderr. The live view is compared at one
position: once it has caught up with the head of the log (waited for, up to
`CATCH_UP_SECONDS`), its tracking position and a copy of all its tables are taken in one
transaction; the rebuild applies exactly the events up to that position; then each table is
compared with the copy, `EXCEPT ALL` both ways. It prints "equal" with the replay's events/s,
or the differing rows (at most `SHOWN_DIFFERENCES` per table and side), and exits 0 when every
read model is equal, 1 otherwise. The rebuilt tables are dropped at the end unless `--keep`.

Columns that a worker writes rather than the events (a view's `worker_columns`, e.g. when a
reconciler last looked at a payment) cannot be rebuilt and are left out of the comparison.

The back-office worklist is fed from Kafka, not from the service's own log: for `backoffice`
this runs `python -m backoffice_service.rebuild` (which keeps its rebuilt tables).

Settings come from the service's environment, as the service's own (POSTGRES_*; the database
is the service's name unless POSTGRES_DBNAME says otherwise).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

import psycopg
from eventsourcing.persistence import InfrastructureFactory, Notification, Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.projection import Projection
from eventsourcing.utils import Environment
from portal_events.application import ServiceApplication
from portal_events.failures import is_infrastructure_failure
from portal_events.notification_log import (
    follower_connection_kwargs,
    leadership_key,
    postgres_recorder,
)
from portal_events.parked import describe_failure
from portal_events.progress import Progress
from portal_events.projections import project_batch
from portal_events.schema import creating_tables
from portal_events.views import PostgresView
from psycopg.rows import dict_row
from psycopg.sql import SQL, Composed, Identifier

from portal_web.service import Service
from portal_web.settings import ServiceSettings

REBUILT_SUFFIX = "_rebuild"
SHOWN_DIFFERENCES = 50
CATCH_UP_SECONDS = 30.0
BATCH_SIZE = 500


@dataclass
class Outcome:
    """How one rebuilt read model compares with the live one at `position`."""

    projection: str
    position: int
    events: int = 0
    replay_seconds: float = 0.0
    differences: list[dict[str, Any]] = field(default_factory=list)
    differing_rows: int = 0
    schema_problems: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # events the rebuild could not apply

    @property
    def equal(self) -> bool:
        return not self.differing_rows and not self.schema_problems

    @property
    def events_per_second(self) -> float:
        return self.events / max(self.replay_seconds, 1e-6)


def load_service(name: str) -> Service:
    """The `service` declared in `<name>_service.main` (e.g. business -> business_service)."""
    module = importlib.import_module(f"{name.replace('-', '_')}_service.main")
    service = getattr(module, "service", None)
    if not isinstance(service, Service):
        msg = f"{module.__name__} declares no `service = Service(...)`"
        raise LookupError(msg)
    return service


def service_settings(service: Service) -> ServiceSettings:
    """The service's settings from the environment; its database by default is its name."""
    settings = service.settings()
    if "postgres_dbname" not in settings.model_fields_set:
        settings = settings.model_copy(update={"postgres_dbname": service.name})
    return settings


def rebuild_read_models(
    service: Service,
    settings: ServiceSettings,
    *,
    projection: str | None = None,
    keep: bool = False,
    out: TextIO = sys.stdout,
    progress_out: TextIO = sys.stderr,
) -> list[Outcome]:
    """Rebuild and compare each of the service's read models (only `projection` if given);
    the report goes to `out`, the progress to `progress_out`."""
    read_models = [
        (projection_class, view_class)
        for projection_class, view_class in service.read_models
        if projection is None or projection_class.name == projection
    ]
    if projection is not None and not read_models:
        names = ", ".join(p.name for p, _ in service.read_models) or "none"
        msg = f"{service.name} has no read model {projection!r} (it has: {names})"
        raise LookupError(msg)
    application = creating_tables(lambda: service.application(env=settings.eventsourcing_env()))
    outcomes = []
    try:
        for projection_class, view_class in read_models:
            rebuild = ReadModelRebuild(application, projection_class, view_class, progress_out)
            try:
                outcome = rebuild.run(keep=keep)
            finally:
                rebuild.close()
            report(service.name, outcome, out)
            outcomes.append(outcome)
    finally:
        application.close()
    return outcomes


class ReadModelRebuild:
    """One read model rebuilt beside the live one and compared with it (module docstring)."""

    def __init__(
        self,
        application: ServiceApplication,
        projection_class: type[Projection[Any]],
        view_class: type[PostgresTrackingRecorder],
        progress_out: TextIO,
    ) -> None:
        self.application = application
        self.recorder = postgres_recorder(application)
        self.projection_class = projection_class
        self.view_class = view_class
        self.progress_out = progress_out
        self.name = projection_class.name
        self.rebuilt_name = f"{self.name}{REBUILT_SUFFIX}"
        self.live = self._view(self.name)
        self.datastore: PostgresDatastore = self.live.datastore
        self.schema = self.datastore.schema

    def _view(self, name: str) -> PostgresTrackingRecorder:
        """The view of projection `name`, as `portal_events.projections.ReadModel` makes it."""
        env = Environment(name, self.application.env)
        factory = InfrastructureFactory[PostgresTrackingRecorder].construct(env=env)
        return creating_tables(lambda: factory.tracking_recorder(self.view_class))

    # --- the run -----------------------------------------------------------------------------

    def run(self, keep: bool) -> Outcome:
        """Rebuild and compare; the rebuilt tables are dropped at the end unless `keep`. One
        rebuild of a projection at a time (an advisory lock): they share the tables' names."""
        conninfo, kwargs = follower_connection_kwargs(self.datastore)
        with psycopg.connect(conninfo, **{**kwargs, "row_factory": dict_row}) as conn:
            conn.execute(
                "SELECT pg_advisory_lock(%s)", (leadership_key(f"rebuild/{self.rebuilt_name}"),)
            )
            self._drop_rebuilt_tables(conn)  # what an earlier --keep left
            self.rebuilt = self._view(self.rebuilt_name)
            rebuilt_projection = type(
                f"{self.projection_class.__name__}Rebuild",
                (self.projection_class,),
                {"name": self.rebuilt_name},
            )
            self.projection = rebuilt_projection(view=self.rebuilt)
            try:
                self._wait_for_live_view()
                position, copies = self._copy_live_view(conn)
                outcome = Outcome(self.name, position)
                self._replay(outcome)
                self._compare(conn, copies, outcome)
            finally:
                self.rebuilt.datastore.close()
                if not keep:
                    self._drop_rebuilt_tables(conn)
        return outcome

    def _wait_for_live_view(self) -> None:
        """Until the live view has reached the head of the log as it is now (or
        `CATCH_UP_SECONDS` have passed: then it is compared where it is)."""
        head = self.recorder.max_notification_id() or 0
        deadline = time.monotonic() + CATCH_UP_SECONDS
        while (self.live.max_tracking_id(self.application.name) or 0) < head:
            if time.monotonic() > deadline:
                print(
                    f"{self.name}: the live view has not reached the log's head ({head}) within "
                    f"{CATCH_UP_SECONDS:.0f} s; comparing at its own position",
                    file=self.progress_out,
                )
                return
            time.sleep(0.1)

    def _copy_live_view(self, conn: psycopg.Connection[Any]) -> tuple[int, dict[str, str]]:
        """The live view's position and a copy of each of its tables (temporary tables of this
        connection), as of one snapshot: rebuilt table -> its live copy."""
        copies = {}
        with conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            row = conn.execute(
                SQL(
                    "SELECT max(notification_id) AS position FROM {tracking} "
                    "WHERE application_name = %s"
                ).format(tracking=Identifier(self.schema, self.live.tracking_table_name)),
                (self.application.name,),
            ).fetchone()
            position = row["position"] if row and row["position"] is not None else 0
            for number, rebuilt in enumerate(self._rebuilt_tables(conn)):
                live = self.name + rebuilt.removeprefix(self.rebuilt_name)
                copy = f"live_copy_{number}"
                conn.execute(
                    SQL("CREATE TEMPORARY TABLE {copy} AS SELECT * FROM {live}").format(
                        copy=Identifier(copy), live=Identifier(self.schema, live)
                    )
                )
                copies[rebuilt] = copy
        return position, copies

    def _replay(self, outcome: Outcome) -> None:
        """Apply the log up to `outcome.position` to the rebuilt view, as the live read model
        does (an event that cannot be applied is reported, and the replay goes on)."""
        topics = list(self.projection_class.topics)
        progress = Progress(
            self._count_events(outcome.position, topics),
            self.progress_out,
            label=f"rebuilding {self.name}",
        )
        started = time.monotonic()
        start = 1
        while True:
            notifications = self.recorder.select_notifications(
                start, BATCH_SIZE, stop=outcome.position, topics=topics
            )
            if notifications:
                self._apply(notifications, outcome)
            outcome.events += len(notifications)
            progress.add(len(notifications))
            if len(notifications) < BATCH_SIZE:
                break
            start = notifications[-1].id + 1
        outcome.replay_seconds = time.monotonic() - started
        if (self.rebuilt.max_tracking_id(self.application.name) or 0) < outcome.position:
            # Past the events of other topics, as the live view is: a kept view goes on from there.
            self.rebuilt.insert_tracking(Tracking(self.application.name, outcome.position))
        progress.finish()

    def _apply(self, notifications: Sequence[Notification], outcome: Outcome) -> None:
        """One batch in one transaction; if it fails, event by event, each event that cannot
        be applied reported in `outcome` (as the live read model parks it)."""
        if isinstance(self.rebuilt, PostgresView):
            up_to = Tracking(self.application.name, notifications[-1].id)
            try:
                project_batch(self.projection, self.application.mapper, notifications, up_to)
            except Exception as exc:
                if is_infrastructure_failure(exc):
                    raise
            else:
                return
        for notification in notifications:
            tracking = Tracking(self.application.name, notification.id)
            try:
                domain_event = self.application.mapper.to_domain_event(notification)
                self.projection.process_event(domain_event, tracking)
            except Exception as exc:
                if is_infrastructure_failure(exc):
                    raise
                outcome.failures.append(
                    f"{notification.id} {notification.topic}: {describe_failure(exc)}"
                )

    def _count_events(self, position: int, topics: Sequence[str]) -> int:
        with self.datastore.get_connection() as conn:
            row = conn.execute(
                SQL(
                    "SELECT count(*) AS n FROM {events} WHERE notification_id <= %s "
                    "AND (cardinality(%s::text[]) = 0 OR topic = ANY(%s::text[]))"
                ).format(
                    events=Identifier(
                        self.recorder.datastore.schema, self.recorder.events_table_name
                    )
                ),
                (position, list(topics), list(topics)),
            ).fetchone()
        return row["n"] if row else 0

    def _compare(
        self, conn: psycopg.Connection[Any], copies: dict[str, str], outcome: Outcome
    ) -> None:
        skipped = set(getattr(self.view_class, "worker_columns", ()))
        for rebuilt, copy in copies.items():
            table = self.name + rebuilt.removeprefix(self.rebuilt_name)
            rebuilt_columns = self._columns(conn, rebuilt, self.schema)
            live_columns = self._columns(conn, copy, None)
            if set(rebuilt_columns) != set(live_columns):
                outcome.schema_problems.append(
                    f"{table}: columns only live {sorted(set(live_columns) - set(rebuilt_columns))}"
                    f", only rebuilt {sorted(set(rebuilt_columns) - set(live_columns))}"
                )
            compared = [
                _comparable(name, data_type)
                for name, data_type in rebuilt_columns.items()
                if name in live_columns and name not in skipped
            ]
            columns = SQL(", ").join(compared)
            rebuilt_table = Identifier(self.schema, rebuilt)
            for side, first, then in (
                ("only live", Identifier(copy), rebuilt_table),
                ("only rebuilt", rebuilt_table, Identifier(copy)),
            ):
                rows = conn.execute(
                    SQL(
                        "SELECT to_jsonb(d) AS row, count(*) OVER () AS n FROM "
                        "(SELECT {columns} FROM {first} EXCEPT ALL SELECT {columns} FROM {then}) d "
                        "LIMIT %s"
                    ).format(columns=columns, first=first, then=then),
                    (SHOWN_DIFFERENCES,),
                ).fetchall()
                if rows:
                    outcome.differing_rows += rows[0]["n"]
                    outcome.differences += [
                        {"table": table, "side": side, "row": row["row"]} for row in rows
                    ]

    @staticmethod
    def _columns(conn: psycopg.Connection[Any], table: str, schema: str | None) -> dict[str, str]:
        """Column -> data type, in the table's order (`schema` None: this session's temporary
        tables)."""
        rows = conn.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = %s AND (table_schema = %s OR "
            "(%s::text IS NULL AND table_schema = pg_my_temp_schema()::regnamespace::text)) "
            "ORDER BY ordinal_position",
            (table, schema, schema),
        ).fetchall()
        return {row["column_name"]: row["data_type"] for row in rows}

    # --- the rebuilt tables ------------------------------------------------------------------

    def _rebuilt_tables(self, conn: psycopg.Connection[Any]) -> list[str]:
        """The rebuilt view's tables (its own and its side tables, `<name>_rebuild_*`), without
        its tracking table."""
        return [
            name
            for name in self._tables_named(conn, self.rebuilt_name)
            if name != self.rebuilt.tracking_table_name
        ]

    def _tables_named(self, conn: psycopg.Connection[Any], base: str) -> list[str]:
        pattern = base.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%") + "\\_%"
        rows = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
            "AND table_type = 'BASE TABLE' AND (table_name = %s OR table_name LIKE %s) "
            "ORDER BY table_name",
            (self.schema, base, pattern),
        ).fetchall()
        return [row["table_name"] for row in rows]

    def _drop_rebuilt_tables(self, conn: psycopg.Connection[Any]) -> None:
        with conn.transaction():
            for name in self._tables_named(conn, self.rebuilt_name):
                conn.execute(
                    SQL("DROP TABLE IF EXISTS {table} CASCADE").format(
                        table=Identifier(self.schema, name)
                    )
                )

    def close(self) -> None:
        self.live.datastore.close()


def _comparable(name: str, data_type: str) -> Composed:
    """A column as compared: `json` has no equality, so as `jsonb`."""
    cast = SQL("::jsonb") if data_type == "json" else SQL("")
    return SQL("{column}{cast}").format(column=Identifier(name), cast=cast)


def report(service: str, outcome: Outcome, out: TextIO) -> None:
    where = f"{service} {outcome.projection} at position {outcome.position}"
    for failure in outcome.failures:
        print(f"{where}: could not apply {failure}", file=out)
    if outcome.equal:
        print(
            f"{where}: equal ({outcome.events:,} events replayed, "
            f"{outcome.events_per_second:,.0f} events/s)",
            file=out,
        )
    else:
        print(
            f"{where}: different, {outcome.differing_rows} rows differ"
            + "".join(f"; {problem}" for problem in outcome.schema_problems),
            file=out,
        )
        for difference in outcome.differences:
            print(json.dumps(difference, ensure_ascii=False, sort_keys=True), file=out)
    out.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m portal_web.rebuild",
        description="Rebuild a service's read models from zero beside the live ones and "
        "compare them (exit 0: all equal).",
    )
    parser.add_argument("service", help="the service's name, e.g. requests")
    parser.add_argument("--projection", help="only this read model (its projection's name)")
    parser.add_argument(
        "--keep", action="store_true", help="keep the rebuilt tables (<name>_rebuild...)"
    )
    args = parser.parse_args(argv)
    if args.service == "backoffice":
        if args.projection not in (None, "worklist"):
            parser.error("the backoffice has one read model, the worklist")
        from backoffice_service.rebuild import main as rebuild_worklist

        return rebuild_worklist([])
    try:
        service = load_service(args.service)
    except ModuleNotFoundError as exc:
        if exc.name != f"{args.service.replace('-', '_')}_service":
            raise
        parser.error(f"no service {args.service!r} (no package {exc.name})")
    if not service.read_models:
        print(f"{service.name}: no read models")
        return 0
    try:
        outcomes = rebuild_read_models(
            service, service_settings(service), projection=args.projection, keep=args.keep
        )
    except LookupError as exc:
        parser.error(str(exc))
    return 0 if all(outcome.equal for outcome in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
