"""The worklist in PostgreSQL (SPEC X-3): cases, people and the events applied, in one set of
tables per worklist, so that a rebuild fills a fresh set beside the live one and swaps it in.

Tables of a worklist named `<name>` (the live one is `worklist`):
- `<name>_items`: one row per case (kind, id): its merged state (`worklist.merge_case`) and the
  columns `worklist.case_row` derives from it, which the queries filter and sort on;
- `<name>_people`: one row per user identity told us about (name, verified), joined at reading
  time, so that a name learnt before or after the case shows the same;
- `<name>_applied`: the id of every event applied. It makes a redelivered message a no-op at
  once (the merges are idempotent anyway), and it says exactly what a worklist contains: the
  rebuild compares the two worklists only once both hold the same events.

Every event is applied in one transaction: its id, then its changes, rows locked in key order
(replicas of the consumer may touch the same case from different partitions).

`DUE_BY` is `deadlines.due_by` in SQL: the due date at the moment asked about (`as_of`), with a
pause still going on counted up to then.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, LiteralString
from uuid import UUID

from eventsourcing.postgres import PostgresDatastore
from psycopg import Cursor
from psycopg.sql import SQL, Composable, Composed, Identifier
from psycopg.types.json import Jsonb

from backoffice_service.deadlines import Deadlines
from backoffice_service.worklist import (
    CaseChange,
    Change,
    PersonChange,
    case_row,
    merge_case,
    merge_person,
    person_row,
)

LIVE = "worklist"

DUE_BY: LiteralString = (
    "CASE WHEN i.paused_since IS NULL THEN i.due_base "
    "ELSE i.due_base + greatest(%(as_of)s - i.paused_since, interval '0') END"
)

CASE_COLUMNS = (
    "service",
    "number",
    "subject",
    "case_type",
    "department",
    "applicant_id",
    "applicant_name",
    "status",
    "open",
    "received_at",
    "changed_at",
    "due_base",
    "paused_since",
    "deadline_key",
)

_DDL: tuple[LiteralString, ...] = (
    "CREATE TABLE IF NOT EXISTS {items} ("
    " kind text NOT NULL, item_id uuid NOT NULL, state jsonb NOT NULL DEFAULT '{{}}',"
    " service text NOT NULL, number text, subject text, case_type text, department text,"
    " applicant_id uuid, applicant_name text, status text, open boolean NOT NULL DEFAULT false,"
    " received_at timestamptz, changed_at timestamptz, due_base timestamptz,"
    " paused_since timestamptz, deadline_key text,"
    " PRIMARY KEY (kind, item_id))",
    "CREATE INDEX IF NOT EXISTS {items_department} ON {items} (department, open, due_base)",
    "CREATE INDEX IF NOT EXISTS {items_applicant} ON {items} (applicant_id)",
    "CREATE TABLE IF NOT EXISTS {people} ("
    " user_id uuid PRIMARY KEY, state jsonb NOT NULL DEFAULT '{{}}', name text,"
    " verified boolean NOT NULL DEFAULT false)",
    "CREATE TABLE IF NOT EXISTS {applied} (event_id uuid PRIMARY KEY)",
)

# A case is listed once its submission is known; partial rows wait for the rest.
_LISTED: LiteralString = (
    "FROM {items} i LEFT JOIN {people} p ON p.user_id = i.applicant_id "
    "WHERE i.received_at IS NOT NULL "
    "AND (%(departments)s::text[] IS NULL OR i.department = ANY(%(departments)s)) "
)


def deadline_key(deadlines: Deadlines, kind: str) -> str:
    """What of the deadlines a row's due date was computed with (re-derived when it differs)."""
    deadline = deadlines[kind]
    return json.dumps([deadline.days, sorted(deadline.paused_by)])


class WorklistView:
    def __init__(self, datastore: PostgresDatastore, deadlines: Deadlines, name: str = LIVE):
        self.datastore = datastore
        self.deadlines = deadlines
        self.name = name

    # --- names ----------------------------------------------------------------------------

    def tables(self, name: str | None = None) -> dict[str, Identifier]:
        name = name or self.name
        schema = self.datastore.schema
        return {
            "items": Identifier(schema, f"{name}_items"),
            "people": Identifier(schema, f"{name}_people"),
            "applied": Identifier(schema, f"{name}_applied"),
            "items_department": Identifier(f"{name}_items_department"),
            "items_applicant": Identifier(f"{name}_items_applicant"),
        }

    def sql(self, statement: LiteralString, **more: Composable) -> Composed:
        return SQL(statement).format(**self.tables(), **more)

    # --- schema ---------------------------------------------------------------------------

    def create_tables(self) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            for statement in _DDL:
                cursor.execute(self.sql(statement))

    def drop_tables(self) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            for table in ("items", "people", "applied"):
                cursor.execute(
                    SQL("DROP TABLE IF EXISTS {table}").format(table=self.tables()[table])
                )

    def rederive(self) -> int:
        """Recompute the due dates of rows computed with other deadlines (the deadlines file
        changed); how many rows changed."""
        changed = 0
        with self.datastore.transaction(commit=True) as cursor:
            for kind in self.deadlines.by_kind:
                cursor.execute(
                    self.sql(
                        "SELECT kind, item_id, state FROM {items} WHERE kind = %(kind)s "
                        "AND deadline_key IS DISTINCT FROM %(key)s FOR UPDATE"
                    ),
                    {"kind": kind, "key": deadline_key(self.deadlines, kind)},
                )
                rows = cursor.fetchall()
                self._write_cases(cursor, {(r["kind"], r["item_id"]): r["state"] for r in rows})
                changed += len(rows)
        return changed

    # --- applying events --------------------------------------------------------------------

    def apply(self, event_id: UUID, changes: Sequence[Change]) -> None:
        """Apply one event's changes, once: a redelivered event changes nothing."""
        self.apply_many([(event_id, changes)])

    def apply_many(self, events: Sequence[tuple[UUID, Sequence[Change]]]) -> None:
        """Apply several events in one transaction (the rebuild's batches), each once."""
        events = list({event_id: changes for event_id, changes in reversed(events)}.items())
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                self.sql(
                    "INSERT INTO {applied} (event_id) SELECT unnest(%(ids)s::uuid[]) "
                    "ON CONFLICT DO NOTHING RETURNING event_id"
                ),
                {"ids": [event_id for event_id, _ in events]},
            )
            new = {row["event_id"] for row in cursor.fetchall()}
            changes = [c for event_id, cs in events if event_id in new for c in cs]
            if changes:
                self._merge(cursor, changes)

    def _merge(self, cursor: Cursor[Any], changes: Iterable[Change]) -> None:
        changes = list(changes)
        case_keys = sorted({(c.kind, c.item_id) for c in changes if isinstance(c, CaseChange)})
        user_ids = sorted({c.user_id for c in changes if isinstance(c, PersonChange)})
        cases = self._locked_cases(cursor, case_keys)
        people = self._locked_people(cursor, user_ids)
        for change in changes:
            if isinstance(change, CaseChange):
                key = (change.kind, change.item_id)
                cases[key] = merge_case(cases[key], change)
            else:
                people[change.user_id] = merge_person(people[change.user_id], change)
        self._write_cases(cursor, cases)
        self._write_people(cursor, people)

    def _locked_cases(
        self, cursor: Cursor[Any], keys: list[tuple[str, UUID]]
    ) -> dict[tuple[str, UUID], dict[str, Any]]:
        if not keys:
            return {}
        kinds, ids = [k for k, _ in keys], [i for _, i in keys]
        cursor.execute(
            self.sql(
                "INSERT INTO {items} (kind, item_id, service) "
                "SELECT kind, item_id, '' FROM unnest(%(kinds)s::text[], %(ids)s::uuid[]) "
                "AS k(kind, item_id) ORDER BY kind, item_id ON CONFLICT DO NOTHING"
            ),
            {"kinds": kinds, "ids": ids},
        )
        cursor.execute(
            self.sql(
                "SELECT i.kind, i.item_id, i.state FROM {items} i "
                "JOIN unnest(%(kinds)s::text[], %(ids)s::uuid[]) AS k(kind, item_id) "
                "USING (kind, item_id) ORDER BY i.kind, i.item_id FOR UPDATE OF i"
            ),
            {"kinds": kinds, "ids": ids},
        )
        return {(row["kind"], row["item_id"]): row["state"] for row in cursor.fetchall()}

    def _locked_people(
        self, cursor: Cursor[Any], user_ids: list[UUID]
    ) -> dict[UUID, dict[str, Any]]:
        if not user_ids:
            return {}
        cursor.execute(
            self.sql(
                "INSERT INTO {people} (user_id) SELECT u FROM unnest(%(ids)s::uuid[]) AS u "
                "ORDER BY u ON CONFLICT DO NOTHING"
            ),
            {"ids": user_ids},
        )
        cursor.execute(
            self.sql(
                "SELECT user_id, state FROM {people} WHERE user_id = ANY(%(ids)s) "
                "ORDER BY user_id FOR UPDATE"
            ),
            {"ids": user_ids},
        )
        return {row["user_id"]: row["state"] for row in cursor.fetchall()}

    def _write_cases(
        self, cursor: Cursor[Any], cases: dict[tuple[str, UUID], dict[str, Any]]
    ) -> None:
        rows = []
        for (kind, item_id), state in cases.items():
            row = case_row(kind, item_id, state, self.deadlines)
            row["deadline_key"] = deadline_key(self.deadlines, kind)
            rows.append({**row, "state": Jsonb(state)})
        if rows:
            assignments = SQL(", ").join(
                SQL("{c} = %({p})s").format(c=Identifier(c), p=SQL(c)) for c in CASE_COLUMNS
            )
            cursor.executemany(
                self.sql(
                    "UPDATE {items} SET state = %(state)s, {assignments} "
                    "WHERE kind = %(kind)s AND item_id = %(item_id)s",
                    assignments=assignments,
                ),
                rows,
            )

    def _write_people(self, cursor: Cursor[Any], people: dict[UUID, dict[str, Any]]) -> None:
        rows = [{**person_row(u, state), "state": Jsonb(state)} for u, state in people.items()]
        if rows:
            cursor.executemany(
                self.sql(
                    "UPDATE {people} SET state = %(state)s, name = %(name)s, "
                    "verified = %(verified)s WHERE user_id = %(user_id)s"
                ),
                rows,
            )

    # --- reading ----------------------------------------------------------------------------

    def _listing(self, statement: LiteralString) -> Composed:
        """`statement` with `{due_by}` and `{listed}` (the listed cases, FROM and WHERE)."""
        return self.sql(statement, due_by=SQL(DUE_BY), listed=self.sql(_LISTED))

    def page(
        self,
        *,
        as_of: datetime,
        departments: list[str] | None,
        kind: str | None,
        status: str | None,
        overdue: bool | None,
        include_closed: bool,
        limit: int,
        offset: int,
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of the listed cases in `departments` (all when None), soonest due first
        (no due date last), with how many match."""
        statement = (
            "SELECT w.*, count(*) OVER () AS total FROM ("
            " SELECT i.kind, i.item_id, i.service, i.number, i.subject, i.case_type,"
            " i.department, i.applicant_id, coalesce(p.name, i.applicant_name) AS applicant_name,"
            " coalesce(p.verified, false) AS applicant_verified, i.status, i.open,"
            " i.received_at, i.changed_at, {due_by} AS due_by {listed}"
            " AND (%(kind)s::text IS NULL OR i.kind = %(kind)s)"
            " AND (%(status)s::text IS NULL OR i.status = %(status)s)"
            " AND (%(include_closed)s OR i.open)"
            ") w WHERE %(overdue)s::boolean IS NULL"
            " OR (w.open AND w.due_by IS NOT NULL AND w.due_by < %(as_of)s) = %(overdue)s"
            " ORDER BY w.due_by NULLS LAST, w.received_at, w.kind, w.item_id"
            " LIMIT %(limit)s OFFSET %(offset)s"
        )
        params = {
            "as_of": as_of,
            "departments": departments,
            "kind": kind,
            "status": status,
            "overdue": overdue,
            "include_closed": include_closed,
            "limit": limit,
            "offset": offset,
        }
        with self.datastore.get_connection() as conn, conn.cursor() as cursor:
            cursor.execute(self._listing(statement), params)
            rows = [dict(row) for row in cursor.fetchall()]
            if rows or offset == 0:
                return rows, rows[0]["total"] if rows else 0
            cursor.execute(self._listing(statement), {**params, "limit": 1, "offset": 0})
            first = cursor.fetchone()
            return rows, first["total"] if first else 0

    def summary(self, *, as_of: datetime, departments: list[str]) -> list[dict[str, Any]]:
        """Per department of `departments`: open cases, overdue ones, and the median age of
        the open ones in days (None without any)."""
        statement = (
            "SELECT d.department, count(w.item_id) AS open,"
            " count(w.item_id) FILTER (WHERE w.due_by < %(as_of)s) AS overdue,"
            " percentile_cont(0.5) WITHIN GROUP (ORDER BY w.age_seconds) / 86400"
            " AS median_age_days"
            " FROM unnest(%(departments)s::text[]) AS d(department) LEFT JOIN ("
            " SELECT i.item_id, i.department, {due_by} AS due_by,"
            " greatest(extract(epoch FROM %(as_of)s - i.received_at), 0) AS age_seconds"
            " {listed} AND i.open) w ON w.department = d.department"
            " GROUP BY d.department ORDER BY d.department"
        )
        with self.datastore.get_connection() as conn, conn.cursor() as cursor:
            cursor.execute(self._listing(statement), {"as_of": as_of, "departments": departments})
            return [dict(row) for row in cursor.fetchall()]

    # --- the rebuild's side -----------------------------------------------------------------

    @contextmanager
    def locked_against_writes(self) -> Iterator[Cursor[Any]]:
        """A transaction holding this worklist's tables against writes (reads go on); the
        consumer's writes wait until it ends."""
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(self.sql("LOCK TABLE {items}, {people}, {applied} IN EXCLUSIVE MODE"))
            yield cursor

    def put_in_place_of(self, live: WorklistView, cursor: Cursor[Any]) -> None:
        """Replace `live` (its tables dropped) with this worklist, in the transaction of
        `cursor`, which holds `live` locked. The live consumer's write waiting on the lock then
        fails on the dropped table and is tried again by the consumer on the new one."""
        ours, theirs = self.tables(), live.tables()
        for table in ("items", "people", "applied"):
            cursor.execute(SQL("DROP TABLE {table}").format(table=theirs[table]))
        for table in ("items", "people", "applied"):
            cursor.execute(
                SQL("ALTER TABLE {ours} RENAME TO {theirs}").format(
                    ours=ours[table], theirs=Identifier(f"{live.name}_{table}")
                )
            )
            cursor.execute(
                SQL("ALTER INDEX {ours} RENAME TO {theirs}").format(
                    ours=Identifier(self.datastore.schema, f"{self.name}_{table}_pkey"),
                    theirs=Identifier(f"{live.name}_{table}_pkey"),
                )
            )
        for index in ("items_department", "items_applicant"):
            cursor.execute(
                SQL("ALTER INDEX {ours} RENAME TO {theirs}").format(
                    ours=Identifier(self.datastore.schema, f"{self.name}_{index}"),
                    theirs=theirs[index],
                )
            )
