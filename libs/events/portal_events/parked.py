"""Parked events: stored events a read model could not apply, or the outbox relay could not
translate into its public contracts, kept aside so that the model or the relay goes on.

A read model that fails on one event again and again (a value the view's table refuses, a bug in
a handler) parks it (issue 5), and so does the relay with an event whose translation fails (a
bug, a value the contract refuses; `portal_events.relay`): one row here, written in the same
transaction that moves the follower's position past the event. The row names the read model that
parked it, or `RELAY`. An operator lists them and, after a fix is deployed, asks for a retry; the
service's leading read model applies each requested event once (the leading relay translates and
publishes it, with its deterministic event id) and removes its row, or keeps it with the new
error. A retried event comes after the events that followed it in the log: a handler that updates
a row an earlier parked event should have inserted finds nothing, so after a retry check the
views whose rows depend on event order (or rebuild them); consumers of a republished event tell
it is late by its `sequence`.

    python -m portal_events.parked list SERVICE [--projection NAME | --relay]
    python -m portal_events.parked retry SERVICE [--projection NAME | --relay] [--id N]

The command connects with the standard environment (POSTGRES_HOST, POSTGRES_PORT, POSTGRES_USER,
POSTGRES_PASSWORD; POSTGRES_DBNAME, default SERVICE; POSTGRES_SCHEMA, default public), whose
defaults are those of the local stack.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
import pydantic
from eventsourcing.persistence import Notification
from psycopg.rows import class_row, tuple_row
from psycopg.sql import SQL, Composed, Identifier

TABLE = "parked_events"
MAX_ERROR_LENGTH = 2000

RELAY = "outbox-relay"
"""What the `projection` column holds for the events the outbox relay parked (no read model can
have this name: a projection's name is its view's table name, an identifier)."""


@dataclass(frozen=True)
class ParkedEvent:
    projection: str
    """The read model that parked the event, or `RELAY`."""
    notification_id: int
    topic: str
    originator_id: str
    error: str
    parked_at: datetime
    retry_requested_at: datetime | None

    @property
    def parked_by(self) -> str:
        """Who parked it, as people read it: `relay` or `projection NAME`."""
        return "relay" if self.projection == RELAY else f"projection {self.projection}"


class ParkedEvents:
    """The `parked_events` table of one service database; every method takes a cursor, so that
    parking can share the transaction that moves a read model's position."""

    COLUMNS = (
        "projection, notification_id, topic, originator_id, error, parked_at, retry_requested_at"
    )

    def __init__(self, schema: str = "public") -> None:
        self.schema = schema

    def _sql(self, statement: str) -> Composed:
        return SQL(statement).format(table=Identifier(self.schema, TABLE))

    def create_table(self, cursor: psycopg.Cursor[Any]) -> None:
        cursor.execute(
            self._sql(
                "CREATE TABLE IF NOT EXISTS {table} ("
                "projection text NOT NULL, notification_id bigint NOT NULL, "
                "topic text NOT NULL, originator_id text NOT NULL, error text NOT NULL, "
                "parked_at timestamptz NOT NULL DEFAULT now(), retry_requested_at timestamptz, "
                "PRIMARY KEY (projection, notification_id))"
            )
        )

    def exists(self, cursor: psycopg.Cursor[Any]) -> bool:
        """False until a read model of this version has run against the database."""
        with cursor.connection.cursor(row_factory=tuple_row) as plain:
            row = plain.execute(
                "SELECT to_regclass(%s)", (f'"{self.schema}"."{TABLE}"',)
            ).fetchone()
        return bool(row and row[0])

    def park(
        self, cursor: psycopg.Cursor[Any], projection: str, notification: Notification, error: str
    ) -> None:
        cursor.execute(
            self._sql(
                "INSERT INTO {table} (projection, notification_id, topic, originator_id, error) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (projection, notification_id) "
                "DO UPDATE SET error = EXCLUDED.error, parked_at = now(), retry_requested_at = NULL"
            ),
            (
                projection,
                notification.id,
                notification.topic,
                str(notification.originator_id),
                _clean(error),
            ),
        )

    def count(self, cursor: psycopg.Cursor[Any], projection: str) -> int:
        with cursor.connection.cursor(row_factory=tuple_row) as plain:
            plain.execute(
                self._sql("SELECT count(*) FROM {table} WHERE projection = %s"), (projection,)
            )
            row = plain.fetchone()
        return int(row[0]) if row else 0

    def select(
        self,
        cursor: psycopg.Cursor[Any],
        projection: str | None = None,
        *,
        retry_requested: bool = False,
    ) -> list[ParkedEvent]:
        where, params = _matching(projection)
        if retry_requested:
            where += SQL(" AND retry_requested_at IS NOT NULL")
        statement = SQL("SELECT {columns} FROM {table} WHERE {where} ORDER BY {order}").format(
            columns=SQL(self.COLUMNS),
            table=Identifier(self.schema, TABLE),
            where=where,
            order=SQL("projection, notification_id"),
        )
        with cursor.connection.cursor(row_factory=class_row(ParkedEvent)) as typed:
            typed.execute(statement, params)
            return typed.fetchall()

    def request_retry(
        self,
        cursor: psycopg.Cursor[Any],
        projection: str | None = None,
        notification_id: int | None = None,
    ) -> int:
        """Mark parked events (all, one projection's, or one) for a retry; how many were."""
        where, params = _matching(projection, notification_id)
        cursor.execute(
            SQL("UPDATE {table} SET retry_requested_at = now() WHERE {where}").format(
                table=Identifier(self.schema, TABLE), where=where
            ),
            params,
        )
        return cursor.rowcount

    def retry_failed(
        self, cursor: psycopg.Cursor[Any], projection: str, notification_id: int, error: str
    ) -> None:
        cursor.execute(
            self._sql(
                "UPDATE {table} SET error = %s, retry_requested_at = NULL "
                "WHERE projection = %s AND notification_id = %s"
            ),
            (_clean(error), projection, notification_id),
        )

    def remove(self, cursor: psycopg.Cursor[Any], projection: str, notification_id: int) -> None:
        cursor.execute(
            self._sql("DELETE FROM {table} WHERE projection = %s AND notification_id = %s"),
            (projection, notification_id),
        )


def _matching(
    projection: str | None = None, notification_id: int | None = None
) -> tuple[Composed, list[Any]]:
    """A WHERE condition for the given filters (all rows when none is given)."""
    condition, params = SQL("true") + SQL(""), []
    if projection is not None:
        condition += SQL(" AND projection = %s")
        params.append(projection)
    if notification_id is not None:
        condition += SQL(" AND notification_id = %s")
        params.append(notification_id)
    return condition, params


def describe_failure(exc: BaseException) -> str:
    """What a parked row and its log line say about a failure: `Type: message`. A pydantic
    validation error is told by field and rule only, since its usual text quotes the refused
    input, i.e. the event's data, which must not reach the logs."""
    if isinstance(exc, pydantic.ValidationError):
        problems = "; ".join(
            f"{'.'.join(map(str, problem['loc'])) or '(model)'}: {problem['msg']}"
            for problem in exc.errors(include_url=False, include_input=False)
        )
        return f"ValidationError: {exc.title}: {problems}"
    return f"{type(exc).__name__}: {exc}"


def _clean(error: str) -> str:
    # The error may quote the very value the database refused.
    return error.replace("\x00", "\\x00")[:MAX_ERROR_LENGTH]


# --- the command --------------------------------------------------------------------------------


def connect(service: str) -> psycopg.Connection[Any]:
    """A connection to `service`'s database, configured like the services (local stack defaults)."""
    env = os.environ
    return psycopg.connect(
        host=env.get("POSTGRES_HOST", "127.0.0.1"),
        port=int(env.get("POSTGRES_PORT", "54329")),
        user=env.get("POSTGRES_USER", "postgres"),
        password=env.get("POSTGRES_PASSWORD", "postgres"),
        dbname=env.get("POSTGRES_DBNAME", service),
        autocommit=True,
    )


def _schema() -> str:
    return os.environ.get("POSTGRES_SCHEMA", "").strip() or "public"


def list_parked(service: str, projection: str | None = None) -> list[ParkedEvent]:
    """The parked events of a service's database (what `list` prints): all, or those of one
    read model (`projection=NAME`) or of the relay (`projection=RELAY`)."""
    with connect(service) as conn, conn.cursor() as cursor:
        table = ParkedEvents(_schema())
        return table.select(cursor, projection) if table.exists(cursor) else []


def request_retry(
    service: str, projection: str | None = None, notification_id: int | None = None
) -> int:
    """Ask the service's leading read models and relay to apply or publish parked events again
    (what `retry` does; `projection` as in `list_parked`); returns how many were marked. They
    are handled within about a second if the service runs."""
    with connect(service) as conn, conn.cursor() as cursor:
        table = ParkedEvents(_schema())
        return (
            table.request_retry(cursor, projection, notification_id) if table.exists(cursor) else 0
        )


def _print_parked(events: Sequence[ParkedEvent], service: str) -> None:
    if not events:
        print(f"no parked events in {service}")
        return
    for event in events:
        retry = "  (retry requested)" if event.retry_requested_at else ""
        print(
            f"{event.parked_by} #{event.notification_id}  {event.topic}  "
            f"originator {event.originator_id}  parked {event.parked_at:%Y-%m-%d %H:%M:%S%z}"
            f"{retry}"
        )
        print(f"    {event.error}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m portal_events.parked", description=__doc__.split("\n\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="show a service's parked events")
    retry = commands.add_parser("retry", help="apply or publish parked events again, after a fix")
    for command in (listing, retry):
        command.add_argument("service")
        parked_by = command.add_mutually_exclusive_group()
        parked_by.add_argument("--projection", help="only this read model's")
        parked_by.add_argument(
            "--relay",
            dest="projection",
            action="store_const",
            const=RELAY,
            help="only the outbox relay's",
        )
    retry.add_argument("--id", type=int, dest="notification_id", help="only this notification")
    args = parser.parse_args(argv)
    try:
        if args.command == "list":
            _print_parked(list_parked(args.service, args.projection), args.service)
            return 0
        marked = request_retry(args.service, args.projection, args.notification_id)
    except psycopg.OperationalError as exc:
        print(f"cannot reach the database of {args.service}: {exc}", file=sys.stderr)
        return 2
    print(
        f"retry requested for {marked} parked event(s) in {args.service}; the leading read "
        "models and relay handle them within about a second (see `list` for what is still parked)"
    )
    return 0 if marked else 1


if __name__ == "__main__":
    sys.exit(main())
