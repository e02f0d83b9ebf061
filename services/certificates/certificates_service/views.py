"""Read model: one table of certificate summaries serving the applicant's two lists (C-6) and
the clerks' inbox (C-5).

`CertificateSummaryProjection` (name `certificate_summaries`, the table's name) feeds
`CertificateSummaryView`; every row change is written with its tracking position in one
transaction (the kit's `PostgresView.write`), so a rebuild from zero gives the same rows.
"""

from __future__ import annotations

from functools import singledispatchmethod
from typing import Any, ClassVar, LiteralString
from uuid import UUID

from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection
from portal_events.views import PostgresView

from certificates_service.domainmodel import Certificate, ProtocolStatus, Status

SUMMARY_COLUMNS = (
    "id, number, kind, certificate_type, title, status, applicant_id, department, "
    "protocol_status, protocol_number, protocol_date, submitted_at, updated_at"
)
NEWEST_FIRST = "submitted_at DESC, number DESC"

Rows = list[dict[str, Any]]


class CertificateSummaryView(PostgresView):
    ddl = (
        "CREATE TABLE IF NOT EXISTS {table} ("
        "id uuid PRIMARY KEY, number text NOT NULL, kind text NOT NULL, "
        "certificate_type text NOT NULL, title text NOT NULL, status text NOT NULL, "
        "applicant_id uuid NOT NULL, department text NOT NULL, protocol_status text, "
        "protocol_number text, protocol_date text, "
        "submitted_at timestamptz NOT NULL, updated_at timestamptz NOT NULL)",
    )
    indexes: ClassVar[dict[str, LiteralString]] = {
        "applicant": "applicant_id, kind, submitted_at DESC",
        "inbox": "department, status, submitted_at DESC",
    }

    # --- writes (each with its tracking record, in one transaction) --------------------------

    def insert(self, row: dict[str, Any], tracking: Tracking) -> None:
        self.write(
            f"INSERT INTO {{table}} ({SUMMARY_COLUMNS}) VALUES ("  # noqa: S608 - literals only
            "%(id)s, %(number)s, %(kind)s, %(certificate_type)s, %(title)s, %(status)s, "
            "%(applicant_id)s, %(department)s, %(protocol_status)s, %(protocol_number)s, "
            "%(protocol_date)s, %(submitted_at)s, %(updated_at)s) ON CONFLICT (id) DO NOTHING",
            row,
            tracking,
        )

    def update(
        self,
        certificate_id: UUID,
        tracking: Tracking,
        *,
        updated_at: Any,
        status: str | None = None,
        protocol_status: str | None = None,
        protocol_number: str | None = None,
        protocol_date: str | None = None,
    ) -> None:
        """Set the given columns (None leaves a column as it is) and `updated_at`."""
        self.write(
            "UPDATE {table} SET status = COALESCE(%(status)s, status), "
            "protocol_status = COALESCE(%(protocol_status)s, protocol_status), "
            "protocol_number = COALESCE(%(protocol_number)s, protocol_number), "
            "protocol_date = COALESCE(%(protocol_date)s, protocol_date), "
            "updated_at = %(updated_at)s WHERE id = %(id)s",
            {
                "id": certificate_id,
                "status": status,
                "protocol_status": protocol_status,
                "protocol_number": protocol_number,
                "protocol_date": protocol_date,
                "updated_at": updated_at,
            },
            tracking,
        )

    # --- queries -------------------------------------------------------------------------------

    def applied_by(
        self, applicant_id: UUID, kind: str, limit: int, offset: int = 0
    ) -> tuple[Rows, int]:
        """C-6: a page of the applicant's certificates of one kind, newest first."""
        return self.select_page(
            columns=SUMMARY_COLUMNS,
            where="WHERE applicant_id = %(applicant)s AND kind = %(kind)s",
            order_by=NEWEST_FIRST,
            params={"applicant": applicant_id, "kind": kind},
            limit=limit,
            offset=offset,
        )

    def inbox(
        self,
        department: str | None,
        status: str | None,
        kind: str | None,
        limit: int,
        offset: int = 0,
    ) -> tuple[Rows, int]:
        """C-5: a page of a department's applications (every department's when None)."""
        return self.select_page(
            columns=SUMMARY_COLUMNS,
            where="WHERE (%(department)s::text IS NULL OR department = %(department)s) "
            "AND (%(status)s::text IS NULL OR status = %(status)s) "
            "AND (%(kind)s::text IS NULL OR kind = %(kind)s)",
            order_by=NEWEST_FIRST,
            params={"department": department, "status": status, "kind": kind},
            limit=limit,
            offset=offset,
        )


class CertificateSummaryProjection(Projection[CertificateSummaryView]):
    name = "certificate_summaries"
    topics = (
        Certificate.Applied.TOPIC,
        Certificate.StatusChanged.TOPIC,
        Certificate.Replied.TOPIC,
        Certificate.Issued.TOPIC,
        Certificate.Rejected.TOPIC,
        Certificate.ProtocolRequested.TOPIC,
        Certificate.ProtocolPending.TOPIC,
        Certificate.ProtocolAssigned.TOPIC,
    )

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.insert_tracking(tracking)

    @process_event.register(Certificate.Applied)
    def _applied(self, event: Any, tracking: Tracking) -> None:
        self.view.insert(
            {
                "id": event.originator_id,
                "number": event.number,
                "kind": event.kind,
                "certificate_type": event.certificate_type,
                "title": event.title,
                "status": Status.SUBMITTED.value,
                "applicant_id": event.applicant_id,
                "department": event.department,
                "protocol_status": None,
                "protocol_number": None,
                "protocol_date": None,
                "submitted_at": event.timestamp,
                "updated_at": event.timestamp,
            },
            tracking,
        )

    @process_event.register(Certificate.StatusChanged)
    def _status_changed(self, event: Any, tracking: Tracking) -> None:
        self._touch(event, tracking, status=event.status)

    @process_event.register(Certificate.Replied)
    def _replied(self, event: Any, tracking: Tracking) -> None:
        self._touch(event, tracking)

    @process_event.register(Certificate.Issued)
    def _issued(self, event: Any, tracking: Tracking) -> None:
        self._touch(event, tracking, status=Status.ISSUED.value)

    @process_event.register(Certificate.Rejected)
    def _rejected(self, event: Any, tracking: Tracking) -> None:
        self._touch(event, tracking, status=Status.REJECTED.value)

    @process_event.register(Certificate.ProtocolRequested)
    def _protocol_requested(self, event: Any, tracking: Tracking) -> None:
        self._touch(event, tracking, protocol_status=ProtocolStatus.REQUESTED.value)

    @process_event.register(Certificate.ProtocolPending)
    def _protocol_pending(self, event: Any, tracking: Tracking) -> None:
        self._touch(event, tracking, protocol_status=ProtocolStatus.PENDING.value)

    @process_event.register(Certificate.ProtocolAssigned)
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
