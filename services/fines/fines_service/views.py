"""Read model: one row per fine, for the citizen's list (`GET /fines`) and the municipal police's
list by status (SPEC F-5, F-6).

Each row holds the fine's status, its last quote and its holders (the users who looked it up),
so that a citizen's list is one indexed select. Rows and the tracking position are written in
one transaction (exactly once per event, rebuildable from zero).
"""

from __future__ import annotations

from functools import singledispatchmethod
from typing import Any, ClassVar, LiteralString
from uuid import UUID

from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.projection import Projection
from portal_events.views import PostgresView
from psycopg.sql import SQL, Identifier

from fines_service.domainmodel import Fine

COLUMNS = (
    "fine_id, municipality_code, fine_number, plate, fine_type, description, issued_at, "
    "reference, status, base, surcharges, total, computed_at, valid_until, recorded_at, "
    "updated_at"
)
NEWEST_FIRST = "recorded_at DESC, fine_id"


class FineSummaryView(PostgresView):
    ddl = (
        "CREATE TABLE IF NOT EXISTS {table} ("
        "fine_id uuid PRIMARY KEY, municipality_code text NOT NULL, fine_number text NOT NULL, "
        "plate text NOT NULL, fine_type text NOT NULL, description text NOT NULL, "
        "issued_at timestamptz NOT NULL, reference text NOT NULL, status text NOT NULL, "
        "base integer NOT NULL, surcharges integer, total integer, computed_at timestamptz, "
        "valid_until timestamptz, holders uuid[] NOT NULL DEFAULT '{{}}', "
        "recorded_at timestamptz NOT NULL, updated_at timestamptz NOT NULL)",
    )
    indexes: ClassVar[dict[str, LiteralString]] = {"status": "status, recorded_at DESC"}

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        # A citizen's list: `holders @> ARRAY[user]` needs a GIN index (the kit's are B-tree).
        index = f"{self.table_name}_holders"
        self.check_identifier_length(index)
        self.sql_create_statements.append(
            SQL("CREATE INDEX IF NOT EXISTS {index} ON {table} USING gin (holders)").format(
                index=Identifier(index), table=self._table
            )
        )

    # --- written by the projection -------------------------------------------------------------

    def insert(self, row: dict[str, Any], tracking: Tracking) -> None:
        self.write(
            "INSERT INTO {table} (fine_id, municipality_code, fine_number, plate, fine_type, "
            "description, issued_at, reference, status, base, recorded_at, updated_at) VALUES "
            "(%(fine_id)s, %(municipality_code)s, %(fine_number)s, %(plate)s, %(fine_type)s, "
            "%(description)s, %(issued_at)s, %(reference)s, %(status)s, %(base)s, "
            "%(recorded_at)s, %(recorded_at)s) ON CONFLICT (fine_id) DO NOTHING",
            row,
            tracking,
        )

    def add_holder(self, fine_id: UUID, user_id: UUID, at: Any, tracking: Tracking) -> None:
        self.write(
            "UPDATE {table} SET holders = array_append(holders, %(user_id)s), "
            "updated_at = %(at)s WHERE fine_id = %(fine_id)s "
            "AND NOT (%(user_id)s = ANY(holders))",
            {"fine_id": fine_id, "user_id": user_id, "at": at},
            tracking,
        )

    def quote(self, fine_id: UUID, quote: dict[str, Any], at: Any, tracking: Tracking) -> None:
        self.write(
            "UPDATE {table} SET surcharges = %(surcharges)s, total = %(total)s, "
            "computed_at = %(computed_at)s, valid_until = %(valid_until)s, updated_at = %(at)s "
            "WHERE fine_id = %(fine_id)s",
            {**quote, "fine_id": fine_id, "at": at},
            tracking,
        )

    def set_status(self, fine_id: UUID, status: str, at: Any, tracking: Tracking) -> None:
        self.write(
            "UPDATE {table} SET status = %(status)s, updated_at = %(at)s "
            "WHERE fine_id = %(fine_id)s",
            {"fine_id": fine_id, "status": status, "at": at},
            tracking,
        )

    # --- read by the API -----------------------------------------------------------------------

    def held_by(
        self, user_id: UUID, status: str | None, limit: int, offset: int = 0
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of the fines `user_id` looked up (of one status, if given), newest first,
        and how many there are."""
        return self.select_page(
            columns=COLUMNS,
            where="WHERE holders @> ARRAY[%(user_id)s::uuid] "
            "AND (%(status)s::text IS NULL OR status = %(status)s)",
            order_by=NEWEST_FIRST,
            params={"user_id": user_id, "status": status},
            limit=limit,
            offset=offset,
        )

    def all(
        self, status: str | None, limit: int, offset: int = 0
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of every fine (of one status, if given), newest first, and the total."""
        return self.select_page(
            columns=COLUMNS,
            where="WHERE %(status)s::text IS NULL OR status = %(status)s",
            order_by=NEWEST_FIRST,
            params={"status": status},
            limit=limit,
            offset=offset,
        )


class FineSummaryProjection(Projection[FineSummaryView]):
    name = "fine_summaries"
    topics = (
        Fine.Recorded.TOPIC,
        Fine.HolderAdded.TOPIC,
        Fine.Quoted.TOPIC,
        Fine.PaymentStarted.TOPIC,
        Fine.PaymentEnded.TOPIC,
        Fine.Paid.TOPIC,
    )

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.insert_tracking(tracking)

    @process_event.register(Fine.Recorded)
    def _recorded(self, event: Fine.Recorded, tracking: Tracking) -> None:
        row = {
            "fine_id": event.originator_id,
            "municipality_code": event.municipality_code,
            "fine_number": event.fine_number,
            "plate": event.plate,
            "fine_type": event.fine_type,
            "description": event.description,
            "issued_at": event.issued_at,
            "reference": event.reference,
            "status": "paid" if event.paid_in_register else "payable",
            "base": event.base_amount,
            "recorded_at": event.timestamp,
        }
        self.view.insert(row, tracking)

    @process_event.register(Fine.HolderAdded)
    def _holder_added(self, event: Fine.HolderAdded, tracking: Tracking) -> None:
        self.view.add_holder(event.originator_id, event.user_id, event.timestamp, tracking)

    @process_event.register(Fine.Quoted)
    def _quoted(self, event: Fine.Quoted, tracking: Tracking) -> None:
        quote = {
            "surcharges": event.surcharges,
            "total": event.total,
            "computed_at": event.computed_at,
            "valid_until": event.valid_until,
        }
        self.view.quote(event.originator_id, quote, event.timestamp, tracking)

    @process_event.register(Fine.PaymentStarted)
    def _payment_started(self, event: Fine.PaymentStarted, tracking: Tracking) -> None:
        self.view.set_status(event.originator_id, "payment_pending", event.timestamp, tracking)

    @process_event.register(Fine.PaymentEnded)
    def _payment_ended(self, event: Fine.PaymentEnded, tracking: Tracking) -> None:
        self.view.set_status(event.originator_id, "payable", event.timestamp, tracking)

    @process_event.register(Fine.Paid)
    def _paid(self, event: Fine.Paid, tracking: Tracking) -> None:
        self.view.set_status(event.originator_id, "paid", event.timestamp, tracking)
