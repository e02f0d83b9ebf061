"""Read model: one table of request summaries serving the citizen's list (R-5) and the clerks'
inbox (R-3, X-3).

Each row change is written in the same transaction as the tracking position, so the view is
updated exactly once per event and can be rebuilt from zero with the same result (a projection
with another name gets its own table and tracking table, and runs from the start).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import singledispatchmethod
from typing import Any, LiteralString
from uuid import UUID

from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.projection import Projection
from psycopg.sql import SQL, Composed, Identifier

from requests_service.domainmodel import ProtocolStatus, Request

SELECT_SUMMARIES = (
    "SELECT id, number, kind, subject, status, anonymous, submitted_by, category, department, "
    "protocol_status, protocol_number, protocol_date, submitted_at, updated_at "
    "FROM {schema}.{table}"
)


@dataclass(frozen=True)
class Page:
    """A window on a list, newest first; `limit=None` is everything (rebuild checks only)."""

    limit: int | None = 100
    offset: int = 0


class RequestSummaries(PostgresTrackingRecorder):
    """The `<projection name>` table beside its `<projection name>_tracking` table."""

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self.table_name = self.tracking_table_name.removesuffix("_tracking")
        self.check_identifier_length(self.table_name)
        schema, table = Identifier(self.datastore.schema), Identifier(self.table_name)
        self.sql_create_statements += [
            self._sql(
                "CREATE TABLE IF NOT EXISTS {schema}.{table} ("
                "id uuid PRIMARY KEY, number text NOT NULL, kind text NOT NULL, "
                "subject text NOT NULL, status text NOT NULL, anonymous boolean NOT NULL, "
                "submitted_by uuid, category text, department text NOT NULL, "
                "protocol_status text, protocol_number text, protocol_date text, "
                "submitted_at timestamptz NOT NULL, updated_at timestamptz NOT NULL)"
            ),
            SQL(
                "CREATE INDEX IF NOT EXISTS {index} ON {schema}.{table} "
                "(submitted_by, submitted_at DESC)"
            ).format(schema=schema, table=table, index=Identifier(f"{self.table_name}_owner")),
            SQL(
                "CREATE INDEX IF NOT EXISTS {index} ON {schema}.{table} "
                "(department, status, submitted_at DESC)"
            ).format(schema=schema, table=table, index=Identifier(f"{self.table_name}_inbox")),
        ]

    def _sql(self, statement: str) -> Composed:
        return SQL(statement).format(
            schema=Identifier(self.datastore.schema), table=Identifier(self.table_name)
        )

    # --- writes (each with its tracking record, in one transaction) --------------------------

    def insert(self, row: dict[str, Any], tracking: Tracking) -> None:
        columns = list(row)
        statement = SQL(
            "INSERT INTO {schema}.{table} ({columns}) VALUES ({values}) ON CONFLICT (id) DO NOTHING"
        ).format(
            schema=Identifier(self.datastore.schema),
            table=Identifier(self.table_name),
            columns=SQL(", ").join(map(Identifier, columns)),
            values=SQL(", ").join(SQL(f"%({c})s") for c in columns),
        )
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(statement, row)
            self._insert_tracking(curs, tracking)

    def update(self, request_id: UUID, changes: dict[str, Any], tracking: Tracking) -> None:
        statement = SQL("UPDATE {schema}.{table} SET {assignments} WHERE id = %(id)s").format(
            schema=Identifier(self.datastore.schema),
            table=Identifier(self.table_name),
            assignments=SQL(", ").join(
                SQL("{} = {}").format(Identifier(c), SQL(f"%({c})s")) for c in changes
            ),
        )
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(statement, {**changes, "id": request_id})
            self._insert_tracking(curs, tracking)

    # --- queries -------------------------------------------------------------------------------

    def _select(
        self, where: LiteralString, params: dict[str, Any], page: Page | None = None
    ) -> list[dict[str, Any]]:
        # `where` is always a literal of this class; values travel as parameters.
        page = page or Page()
        statement = SQL(" ").join(
            [
                self._sql(SELECT_SUMMARIES),
                SQL(where),
                SQL("ORDER BY submitted_at DESC, number DESC LIMIT %(limit)s OFFSET %(offset)s"),
            ]
        )
        params = params | {"limit": page.limit, "offset": page.offset}
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, params)
            return [dict(row) for row in curs.fetchall()]

    def submitted_by(self, user_id: UUID, page: Page | None = None) -> list[dict[str, Any]]:
        """R-5: the user's own requests, newest first."""
        return self._select("WHERE submitted_by = %(user)s", {"user": user_id}, page)

    def inbox(
        self, department: str | None, status: str | None, page: Page | None = None
    ) -> list[dict[str, Any]]:
        """R-3/X-3: a department's requests (all departments when None), newest first."""
        return self._select(
            "WHERE (%(department)s::text IS NULL OR department = %(department)s) "
            "AND (%(status)s::text IS NULL OR status = %(status)s)",
            {"department": department, "status": status},
            page,
        )

    def everything(self) -> list[dict[str, Any]]:
        return self._select("", {}, Page(limit=None))


class RequestSummaryProjection(Projection[RequestSummaries]):
    name = "request_summaries"
    topics = (
        Request.Submitted.TOPIC,
        Request.StatusChanged.TOPIC,
        Request.Replied.TOPIC,
        Request.ProtocolRequested.TOPIC,
        Request.ProtocolPending.TOPIC,
        Request.ProtocolAssigned.TOPIC,
    )

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.insert_tracking(tracking)

    @process_event.register(Request.Submitted)
    def _submitted(self, event: Any, tracking: Tracking) -> None:
        self.view.insert(
            {
                "id": event.originator_id,
                "number": event.number,
                "kind": event.kind,
                "subject": event.subject,
                "status": "submitted",
                "anonymous": event.submitted_by is None,
                "submitted_by": event.submitted_by,
                "category": event.category,
                "department": event.department,
                "submitted_at": event.timestamp,
                "updated_at": event.timestamp,
            },
            tracking,
        )

    @process_event.register(Request.StatusChanged)
    def _status_changed(self, event: Any, tracking: Tracking) -> None:
        self._touch(event, tracking, status=event.status)

    @process_event.register(Request.Replied)
    def _replied(self, event: Any, tracking: Tracking) -> None:
        self._touch(event, tracking)

    @process_event.register(Request.ProtocolRequested)
    def _protocol_requested(self, event: Any, tracking: Tracking) -> None:
        self._touch(event, tracking, protocol_status=ProtocolStatus.REQUESTED.value)

    @process_event.register(Request.ProtocolPending)
    def _protocol_pending(self, event: Any, tracking: Tracking) -> None:
        self._touch(event, tracking, protocol_status=ProtocolStatus.PENDING.value)

    @process_event.register(Request.ProtocolAssigned)
    def _protocol_assigned(self, event: Any, tracking: Tracking) -> None:
        self._touch(
            event,
            tracking,
            protocol_status=ProtocolStatus.ASSIGNED.value,
            protocol_number=event.number,
            protocol_date=event.date,
        )

    def _touch(self, event: Any, tracking: Tracking, **changes: Any) -> None:
        self.view.update(event.originator_id, {**changes, "updated_at": event.timestamp}, tracking)
