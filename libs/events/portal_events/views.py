"""The base of every PostgreSQL read model ("view"): one naming rule, writes with tracking, pages.

Naming: a `<Thing>Projection` (an eventsourcing `Projection` with `name = "<thing>"`) feeds a
`<Thing>View`. `ReadModel` builds the view with the tracking table `<name>_tracking`; the view's
own table is `<name>`, in the service's database. A projection with another name therefore gets
fresh tables and runs from the start: that is how a view is rebuilt from zero.

Every write goes with its tracking record in one transaction (`write`), so each event changes
the view exactly once and a rebuild gives the same rows.

A view that is also a work list (registrations due at the registry, e-mails due, payments due a
look at the bank) hands its rows to workers with `claim_first`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, ClassVar, LiteralString

from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from psycopg.sql import SQL, Composed, Identifier


class PostgresView(PostgresTrackingRecorder):
    """Subclass with `ddl`, the statements creating the table (written with `{table}` for the
    view's schema-qualified table), and `indexes`, index name suffix -> column list: each index is
    named `<table>_<suffix>`, so a view rebuilt under another projection name gets its own."""

    ddl: ClassVar[tuple[LiteralString, ...]] = ()
    indexes: ClassVar[Mapping[str, LiteralString]] = {}

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
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
        """`statement` with `{table}` filled in; values travel as parameters."""
        return SQL(statement).format(table=self._table)

    def write(self, statement: LiteralString, params: dict[str, Any], tracking: Tracking) -> None:
        """Run one change of the view and record `tracking` in the same transaction."""
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(self.sql(statement), params)
            self._insert_tracking(curs, tracking)

    def select(self, statement: LiteralString, params: dict[str, Any]) -> list[dict[str, Any]]:
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
