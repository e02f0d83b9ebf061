"""Benchmark: read models rebuilt from zero, in events/s (issue 12 "Batched projections"), against
the running stack's PostgreSQL.

Prints figures; asserts nothing. Usage:
    make bench-rebuild                                   # requests, >= 200,000 events
    .venv/bin/python bench/rebuild.py --service certificates --events 500000

The service's live log (in the stack's database of that name) is copied, as many times as it
takes to hold `--events` events, into a database of the bench's own, `bench_rebuild_<service>`
(made once and kept; each copy under new aggregate ids, in the log's order), so that the figures
neither touch the stack's data nor depend on how much of it there is. Then, every run, each read
model the service declares is built from zero there twice:

- by a `ReadModel`, as a service's follower catches up with a log (a batch of notifications per
  view transaction), from start until its view holds the head of the log;
- by the rebuild tool (`portal_web.rebuild`, as `make rebuild-read-models` runs it), which
  replays the log beside that view and compares the two ("equal" is expected).

events/s counts the events of the topics the read model takes (those it is given to apply).
"""

from __future__ import annotations

import argparse
import math
import sys
import time

import psycopg
from portal_events.notification_log import postgres_recorder
from portal_events.projections import ReadModel
from portal_events.schema import creating_tables
from portal_stack import ensure_up
from portal_web.rebuild import load_service, rebuild_read_models
from portal_web.service import Service
from portal_web.settings import ServiceSettings
from psycopg.sql import SQL, Identifier

CATCH_UP_TIMEOUT_SECONDS = 600.0


def settings_for(service: Service, stack, database: str) -> ServiceSettings:
    return service.settings(
        postgres_host=stack.pg_host,
        postgres_port=stack.pg_port,
        postgres_user=stack.pg_user,
        postgres_password=stack.pg_password,
        postgres_dbname=database,
    )


def connect(stack, database: str, **options) -> psycopg.Connection:
    return psycopg.connect(
        host=stack.pg_host,
        port=stack.pg_port,
        user=stack.pg_user,
        password=stack.pg_password,
        dbname=database,
        **options,
    )


def prepare_log(service: Service, stack, database: str, events: int) -> str:
    """Make the bench database hold at least `events` events copied from the service's live
    log (once; kept), and leave nothing else in it: each run builds its read models from zero.
    The events table's name."""
    with connect(stack, "postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone():
            conn.execute(SQL("CREATE DATABASE {}").format(Identifier(database)))
    application = creating_tables(
        lambda: service.application(env=settings_for(service, stack, database).eventsourcing_env())
    )
    try:
        table = postgres_recorder(application).events_table_name
    finally:
        application.close()
    with connect(stack, database) as bench:
        for (name,) in bench.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> %s",
            (table,),
        ).fetchall():
            bench.execute(SQL("DROP TABLE {} CASCADE").format(Identifier(name)))
        have = bench.execute(SQL("SELECT count(*) FROM {}").format(Identifier(table))).fetchone()[0]
        if have < events:
            copy_live_log(stack, service.name, bench, table, events - have)
        bench.commit()
    return table


def copy_live_log(stack, live_database: str, bench: psycopg.Connection, table: str, wanted: int):
    """Append copies of the live log to the bench's until `wanted` events are added: each copy
    in the live log's order, its aggregates under ids of their own (md5 of copy and id)."""
    bench.execute(
        "CREATE TEMPORARY TABLE live_log (originator_id uuid, originator_version bigint, "
        "topic text, state bytea, notification_id bigint)"
    )
    select = SQL(
        "COPY (SELECT originator_id, originator_version, topic, state, notification_id "
        "FROM {} ORDER BY notification_id) TO STDOUT (FORMAT BINARY)"
    ).format(Identifier(table))
    with (
        connect(stack, live_database) as live,
        live.cursor().copy(select) as source,
        bench.cursor().copy("COPY live_log FROM STDIN (FORMAT BINARY)") as target,
    ):
        for data in source:
            target.write(data)
    live_events = bench.execute("SELECT count(*) FROM live_log").fetchone()[0]
    if not live_events:
        sys.exit(f"{live_database}'s log is empty: run `make bench-submissions` first")
    copies = math.ceil(wanted / live_events)
    started = time.monotonic()
    for copy in range(copies):
        print(
            f"\rcopying {live_database}'s log ({live_events:,} events): {copy + 1}/{copies}",
            end="",
            flush=True,
        )
        bench.execute(
            SQL(
                "INSERT INTO {} (originator_id, originator_version, topic, state) "
                "SELECT md5(%s || originator_id::text)::uuid, originator_version, topic, state "
                "FROM live_log ORDER BY notification_id"
            ).format(Identifier(table)),
            (f"bench-{time.time_ns()}-{copy}:",),
        )
    print(f" ({time.monotonic() - started:.0f} s)")


def count_events(stack, database: str, table: str, topics: tuple[str, ...]) -> int:
    with connect(stack, database) as conn:
        return conn.execute(
            SQL(
                "SELECT count(*) FROM {} WHERE cardinality(%s::text[]) = 0 OR topic = ANY(%s)"
            ).format(Identifier(table)),
            (list(topics), list(topics)),
        ).fetchone()[0]


def bench_read_models(service: Service, stack, database: str, table: str) -> None:
    """Each read model caught up from zero by a `ReadModel`, then rebuilt by the tool."""
    settings = settings_for(service, stack, database)
    application = service.application(env=settings.eventsourcing_env())
    head = application.recorder.max_notification_id() or 0
    print(f"{service.name}: a log of {head:,} events (database {database})")
    try:
        for projection_class, view_class in service.read_models:
            events = count_events(stack, database, table, tuple(projection_class.topics))
            started = time.monotonic()
            model = ReadModel(application, projection_class, view_class)
            try:
                caught_up = model.wait(head, timeout=CATCH_UP_TIMEOUT_SECONDS)
                seconds = time.monotonic() - started
            finally:
                model.close()
            print(
                f"  {projection_class.name}: read model from zero, {events:,} events in "
                f"{seconds:.1f} s: {events / seconds:,.0f} events/s"
                + ("" if caught_up else " (gave up before the head of the log)")
            )
    finally:
        application.close()
    print("  the rebuild tool (portal_web.rebuild) beside them:")
    rebuild_read_models(service, settings, out=sys.stdout, progress_out=sys.stderr)


def main(args: argparse.Namespace, stack) -> None:
    service = load_service(args.service)
    if not service.read_models:
        sys.exit(f"{service.name} declares no read models")
    database = f"bench_rebuild_{service.name.replace('-', '_')}"
    table = prepare_log(service, stack, database, args.events)
    bench_read_models(service, stack, database, table)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--service", default="requests", help="whose read models (requests)")
    parser.add_argument("--events", type=int, default=200_000, help="events in the log (200,000)")
    main(parser.parse_args(), ensure_up())
