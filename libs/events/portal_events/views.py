"""The base of every PostgreSQL read model ("view"): one naming rule, writes with tracking, pages.

Naming: a `<Thing>Projection` (an eventsourcing `Projection` with `name = "<thing>"`) feeds a
`<Thing>View`. `ReadModel` builds the view with the tracking table `<name>_tracking`; the view's
own table is `<name>`, in the service's database. A projection with another name therefore gets
fresh tables and runs from the start: that is how a view is rebuilt from zero.

Every write goes with its tracking record in one transaction (`write`), so each event changes
the view exactly once and a rebuild gives the same rows. The read model applies events a batch
at a time (`batch`): every write of the batch joins one transaction, which records the batch's
tracking position once at its end (issue 12); outside a batch, each write is a transaction of
its own. A view's own writes go through `changing` and `track` (or `write`), never a transaction
of their own: a second connection inside a batch would not be part of it (and could wait forever
for a row the batch holds).

A view that is also a work list (registrations due at the registry, e-mails due, payments due a
look at the bank) hands its rows to workers with `claim_first`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar, LiteralString

from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Composed, Identifier


class OutsideBatchError(RuntimeError):
    """A view's code opened a transaction of its own while the read model's batch was open."""


@dataclass
class _Batch:
    """The transaction of an open batch and the positions to record at its end (per tracking
    name, the highest)."""

    cursor: Cursor[DictRow]
    positions: dict[str, int] = field(default_factory=dict)


class PostgresView(PostgresTrackingRecorder):
    """Subclass with `ddl`, the statements creating the table (written with `{table}` for the
    view's schema-qualified table), and `indexes`, index name suffix -> column list: each index is
    named `<table>_<suffix>`, so a view rebuilt under another projection name gets its own."""

    ddl: ClassVar[tuple[LiteralString, ...]] = ()
    indexes: ClassVar[Mapping[str, LiteralString]] = {}

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self._statements: dict[str, Composed] = {}
        self._rendered_statements: dict[str, bytes] = {}
        self._batches = threading.local()  # a batch belongs to the thread that opened it
        self.table_name = self.tracking_table_name.removesuffix("_tracking")
        self.check_identifier_length(self.table_name)
        self.sql_create_statements += [self.sql(statement) for statement in self.ddl]
        for suffix, columns in self.indexes.items():
            index = f"{self.table_name}_{suffix}"
            self.check_identifier_length(index)
            self.sql_create_statements.append(
                SQL("CREATE INDEX IF NOT EXISTS {index} ON {table} ({columns})").format(
                    index=Identifier(index), table=self._table, columns=SQL(columns)
                )
            )

    @property
    def _table(self) -> Identifier:
        return Identifier(self.datastore.schema, self.table_name)

    def sql(self, statement: LiteralString) -> Composed:
        """`statement` with `{table}` filled in (composed once per view); values travel as
        parameters."""
        composed = self._statements.get(statement)
        if composed is None:
            composed = self._statements[statement] = SQL(statement).format(table=self._table)
        return composed

    def _rendered(self, statement: LiteralString) -> bytes:
        """`sql(statement)` as the bytes sent to the server, rendered once per view (a write
        runs for every event)."""
        rendered = self._rendered_statements.get(statement)
        if rendered is None:
            rendered = self.sql(statement).as_bytes(None)
            self._rendered_statements[statement] = rendered
        return rendered

    # --- writes --------------------------------------------------------------------------------

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Join every change this thread makes to the view within the block into one transaction
        that records the tracking positions once, at its end (per tracking name the highest
        given), and commits when the block ends; an exception rolls all of it back.

        The batch's statements are prepared on its connection (parsed once) and sent in
        pipeline mode: a change does not wait for the server's answer to the one before, so a
        batch costs a few round trips, not one per event. A statement's failure surfaces at the
        next read or at the end of the block, and fails the batch all the same."""
        if self._open_batch() is not None:
            msg = f"view {self.table_name}: a batch is open already"
            raise RuntimeError(msg)
        with self.datastore.get_connection() as conn, conn.pipeline(), conn.transaction():
            cursor = conn.cursor()
            batch = self._batches.current = _Batch(cursor)
            try:
                yield
                for name, position in sorted(batch.positions.items()):
                    self._insert_tracking(cursor, Tracking(name, position))
            finally:
                self._batches.current = None

    def _open_batch(self) -> _Batch | None:
        return getattr(self._batches, "current", None)

    @contextmanager
    def changing(self) -> Iterator[Cursor[DictRow]]:
        """A cursor to change the view with: the open batch's, or else a transaction of its
        own, committed when the block ends."""
        batch = self._open_batch()
        if batch is not None:
            yield batch.cursor
            return
        with self.datastore.transaction(commit=True) as cursor:
            yield cursor

    def track(self, cursor: Cursor[DictRow], tracking: Tracking) -> None:
        """Record `tracking` with the changes made on `cursor` (from `changing`): at once
        outside a batch, at the batch's end inside one."""
        batch = self._open_batch()
        if batch is None:
            self._insert_tracking(cursor, tracking)
        else:
            name, position = tracking.application_name, tracking.notification_id
            batch.positions[name] = max(batch.positions.get(name, position), position)

    def _insert_tracking(self, curs: Cursor[DictRow], tracking: Tracking) -> None:
        batch = self._open_batch()
        if batch is not None and curs is not batch.cursor:
            # A view writing in a transaction of its own inside a batch: its changes would commit
            # apart from the batch's (and its tracking would refuse the batch's). Said plainly;
            # the read model then applies that batch event by event, outside any batch.
            msg = (
                f"view {self.table_name} wrote in a transaction of its own during a batch: "
                "write through changing() and track()"
            )
            raise OutsideBatchError(msg)
        super()._insert_tracking(curs, tracking)

    def insert_tracking(self, tracking: Tracking) -> None:
        """Record `tracking` alone (an event that changes nothing in the view); inside a batch,
        at the batch's end."""
        batch = self._open_batch()
        if batch is None:
            super().insert_tracking(tracking)
        else:
            self.track(batch.cursor, tracking)

    def write(self, statement: LiteralString, params: dict[str, Any], tracking: Tracking) -> None:
        """Run one change of the view and record `tracking` in the same transaction."""
        with self.changing() as cursor:
            cursor.execute(self._rendered(statement), params, prepare=True)
            self.track(cursor, tracking)

    # --- reads ---------------------------------------------------------------------------------

    def select(self, statement: LiteralString, params: dict[str, Any]) -> list[dict[str, Any]]:
        """The rows of a query; inside a batch, through the batch's transaction, so that an
        event's projection sees what earlier events of the same batch wrote."""
        batch = self._open_batch()
        if batch is not None:
            batch.cursor.execute(self.sql(statement), params)
            return [dict(row) for row in batch.cursor.fetchall()]
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self.sql(statement), params)
            return [dict(row) for row in curs.fetchall()]

    def select_page(
        self,
        *,
        columns: LiteralString,
        where: LiteralString,
        order_by: LiteralString,
        params: dict[str, Any],
        limit: int | None,
        offset: int = 0,
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of the rows matching `where`, in `order_by` order, and how many match in
        all. `where`, `columns` and `order_by` are literals of the view class."""
        rows = self.select(
            f"SELECT {columns} FROM {{table}} {where} ORDER BY {order_by} "  # noqa: S608
            "LIMIT %(limit)s OFFSET %(offset)s",
            {**params, "limit": limit, "offset": offset},
        )
        if offset == 0 and limit is not None and len(rows) < limit:
            return rows, len(rows)  # the page holds them all: no count needed
        counted = self.select(f"SELECT count(*) AS total FROM {{table}} {where}", params)  # noqa: S608
        return rows, counted[0]["total"]

    @contextmanager
    def claim_first(
        self,
        *,
        columns: LiteralString,
        where: LiteralString,
        order_by: LiteralString,
        params: dict[str, Any],
        then: LiteralString | None = None,
    ) -> Iterator[dict[str, Any] | None]:
        """Lock the first row matching `where` in `order_by` order for the duration of the block
        and give it (None when there is none); `then`, if given, runs on it at the block's end,
        in the same transaction, with `params` and the row's columns as parameters.

        `FOR UPDATE SKIP LOCKED` rather than one advisory lock for a single active worker: every
        worker of every replica works in parallel, each on a different row; no two ever hold the
        same one (so the work a row stands for is never done twice at once); a crashed replica's
        locks go with its connection. `where`, `columns`, `order_by` and `then` are literals of
        the view class.
        """
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                self.sql(
                    f"SELECT {columns} FROM {{table}} {where} ORDER BY {order_by} "  # noqa: S608
                    "LIMIT 1 FOR UPDATE SKIP LOCKED"
                ),
                params,
            )
            row = curs.fetchone()
            yield row
            if row is not None and then is not None:
                curs.execute(self.sql(then), {**params, **row})
