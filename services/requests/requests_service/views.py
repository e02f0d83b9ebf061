"""Read model: one table of request summaries serving the citizen's list (R-5) and the clerks'
inbox (R-3, X-3).

`RequestSummaryProjection` (name `request_summaries`, which is the table's name) feeds
`RequestSummaryView`. Each row change is written in the same transaction as the tracking
position (the kit's `PostgresView.write`), so the view changes exactly once per event and a
rebuild from zero gives the same rows.
"""

from __future__ import annotations

from functools import singledispatchmethod
from typing import Any, ClassVar, LiteralString
from uuid import UUID

from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection
from portal_events.views import PostgresView

from requests_service.domainmodel import ProtocolStatus, Request, Status

SUMMARY_COLUMNS = (
    "id, number, kind, subject, status, anonymous, submitted_by, category, department, "
    "protocol_status, protocol_number, protocol_date, submitted_at, updated_at"
)
NEWEST_FIRST = "submitted_at DESC, number DESC"

Rows = list[dict[str, Any]]


class RequestSummaryView(PostgresView):
    ddl = (
        "CREATE TABLE IF NOT EXISTS {table} ("
        "id uuid PRIMARY KEY, number text NOT NULL, kind text NOT NULL, "
        "subject text NOT NULL, status text NOT NULL, anonymous boolean NOT NULL, "
        "submitted_by uuid, category text, department text NOT NULL, "
        "protocol_status text, protocol_number text, protocol_date text, "
        "submitted_at timestamptz NOT NULL, updated_at timestamptz NOT NULL)",
    )
    indexes: ClassVar[dict[str, LiteralString]] = {
        "owner": "submitted_by, submitted_at DESC",
        "inbox": "department, status, submitted_at DESC",
    }

    # --- writes (each with its tracking record, in one transaction) --------------------------

    def insert(self, row: dict[str, Any], tracking: Tracking) -> None:
        self.write(
            f"INSERT INTO {{table}} ({SUMMARY_COLUMNS}) VALUES ("  # noqa: S608 - literals only
            "%(id)s, %(number)s, %(kind)s, %(subject)s, %(status)s, %(anonymous)s, "
            "%(submitted_by)s, %(category)s, %(department)s, %(protocol_status)s, "
            "%(protocol_number)s, %(protocol_date)s, %(submitted_at)s, %(updated_at)s) "
            "ON CONFLICT (id) DO NOTHING",
            row,
            tracking,
        )

    def update(
        self,
        request_id: UUID,
        tracking: Tracking,
        *,
        updated_at: Any,
        status: str | None = None,
        protocol_status: str | None = None,
        protocol_number: str | None = None,
        protocol_date: str | None = None,
    ) -> None:
        """Set the given columns (None leaves a column as it is: none of them goes back to
        null) and `updated_at`."""
        self.write(
            "UPDATE {table} SET status = COALESCE(%(status)s, status), "
            "protocol_status = COALESCE(%(protocol_status)s, protocol_status), "
            "protocol_number = COALESCE(%(protocol_number)s, protocol_number), "
            "protocol_date = COALESCE(%(protocol_date)s, protocol_date), "
            "updated_at = %(updated_at)s WHERE id = %(id)s",
            {
                "id": request_id,
                "status": status,
                "protocol_status": protocol_status,
                "protocol_number": protocol_number,
                "protocol_date": protocol_date,
                "updated_at": updated_at,
            },
            tracking,
        )

    # --- queries -------------------------------------------------------------------------------

    def submitted_by(self, user_id: UUID, limit: int, offset: int = 0) -> tuple[Rows, int]:
        """R-5: a page of the user's own requests, newest first, and how many there are."""
        return self.select_page(
            columns=SUMMARY_COLUMNS,
            where="WHERE submitted_by = %(user)s",
            order_by=NEWEST_FIRST,
            params={"user": user_id},
            limit=limit,
            offset=offset,
        )

    def inbox(
        self, department: str | None, status: str | None, limit: int, offset: int = 0
    ) -> tuple[Rows, int]:
        """R-3/X-3: a page of a department's requests (every department's when None), newest
        first, and how many there are."""
        return self.select_page(
            columns=SUMMARY_COLUMNS,
            where="WHERE (%(department)s::text IS NULL OR department = %(department)s) "
            "AND (%(status)s::text IS NULL OR status = %(status)s)",
            order_by=NEWEST_FIRST,
            params={"department": department, "status": status},
            limit=limit,
            offset=offset,
        )

    def everything(self) -> Rows:
        """Every row, newest first (for comparing a rebuild with the live view)."""
        rows, _ = self.select_page(
            columns=SUMMARY_COLUMNS, where="", order_by=NEWEST_FIRST, params={}, limit=None
        )
        return rows


class RequestSummaryProjection(Projection[RequestSummaryView]):
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
                "status": Status.SUBMITTED.value,
                "anonymous": event.submitted_by is None,
                "submitted_by": event.submitted_by,
                "category": event.category,
                "department": event.department,
                "protocol_status": None,
                "protocol_number": None,
                "protocol_date": None,
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
        self.view.update(event.originator_id, tracking, updated_at=event.timestamp, **changes)
