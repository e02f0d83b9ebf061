"""Read models of the business service (SPEC B-1, B-2), each rebuildable from zero.

- `WarrantView`: the copy of the warrants, by ΑΦΜ (B-1 list, totals per status).
- `WarrantSyncView`: per known ΑΦΜ, when its warrants were last synced: the list's `as_of`, and
  the warrant syncer's work list (the ΑΦΜs due a sync).
- `DeclarationSummaryView`: the declarations (B-2 list: a business's own; every business's for
  the revenue department's staff, by ΑΦΜ and status); also the quote expirer's work list
  (quoted, unpaid, past their quote).
- `PendingFilingView`: what the information system is still to be told: accepted declarations
  not filed, paid debts not reported; the filer's work list, with each one's next attempt.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime
from functools import singledispatchmethod
from typing import Any, ClassVar, LiteralString
from uuid import UUID

from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection
from portal_events.mapper import event_metadata
from portal_events.views import PostgresView

from business_service.domainmodel import Business, Debt, Declaration, Warrant, WarrantSync

# --- B-1 ------------------------------------------------------------------------------------------

WARRANT_COLUMNS = "warrant_id, number, issued_on, amount, description, budget_code, status, paid_on"


class WarrantView(PostgresView):
    ddl = (
        "CREATE TABLE IF NOT EXISTS {table} ("
        "warrant_id uuid PRIMARY KEY, afm text NOT NULL, number text NOT NULL, "
        "issued_on date NOT NULL, amount bigint NOT NULL, description text NOT NULL, "
        "budget_code text NOT NULL, status text NOT NULL, paid_on date)",
    )
    indexes: ClassVar[dict[str, LiteralString]] = {"afm": "afm, issued_on DESC"}

    def add(self, row: dict[str, Any], tracking: Tracking) -> None:
        self.write(
            "INSERT INTO {table} (warrant_id, afm, number, issued_on, amount, description, "
            "budget_code, status, paid_on) VALUES (%(warrant_id)s, %(afm)s, %(number)s, "
            "%(issued_on)s, %(amount)s, %(description)s, %(budget_code)s, %(status)s, "
            "%(paid_on)s) ON CONFLICT (warrant_id) DO NOTHING",
            row,
            tracking,
        )

    def paid(self, warrant_id: UUID, paid_on: Any, tracking: Tracking) -> None:
        self.write(
            "UPDATE {table} SET status = 'paid', paid_on = %(paid_on)s "
            "WHERE warrant_id = %(warrant_id)s",
            {"warrant_id": warrant_id, "paid_on": paid_on},
            tracking,
        )

    def of_business(
        self, afm: str, year: int | None, status: str | None, limit: int, offset: int
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of the ΑΦΜ's warrants (of a year, of a status), newest first, and the
        total."""
        return self.select_page(
            columns=WARRANT_COLUMNS,
            where="WHERE afm = %(afm)s "
            "AND (%(year)s::int IS NULL OR extract(year FROM issued_on) = %(year)s) "
            "AND (%(status)s::text IS NULL OR status = %(status)s)",
            order_by="issued_on DESC, number DESC",
            params={"afm": afm, "year": year, "status": status},
            limit=limit,
            offset=offset,
        )

    def totals(self, afm: str, year: int | None) -> dict[str, int]:
        """The sum of the ΑΦΜ's warrants (of a year) per status, in cents."""
        rows = self.select(
            "SELECT status, coalesce(sum(amount), 0) AS total FROM {table} WHERE afm = %(afm)s "
            "AND (%(year)s::int IS NULL OR extract(year FROM issued_on) = %(year)s) "
            "GROUP BY status",
            {"afm": afm, "year": year},
        )
        return {"issued": 0, "paid": 0} | {row["status"]: int(row["total"]) for row in rows}


class WarrantProjection(Projection[WarrantView]):
    name = "warrants"
    topics = (Warrant.Seen.TOPIC, Warrant.Paid.TOPIC)

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.insert_tracking(tracking)

    @process_event.register(Warrant.Seen)
    def _seen(self, event: Warrant.Seen, tracking: Tracking) -> None:
        row = {
            "warrant_id": event.originator_id,
            "afm": event.afm,
            "number": event.number,
            "issued_on": event.issued_on,
            "amount": event.amount,
            "description": event.description,
            "budget_code": event.budget_code,
            "status": "issued" if event.paid_on is None else "paid",
            "paid_on": event.paid_on,
        }
        self.view.add(row, tracking)

    @process_event.register(Warrant.Paid)
    def _paid(self, event: Warrant.Paid, tracking: Tracking) -> None:
        self.view.paid(event.originator_id, event.paid_on, tracking)


class WarrantSyncView(PostgresView):
    ddl = ("CREATE TABLE IF NOT EXISTS {table} (afm text PRIMARY KEY, synced_at timestamptz)",)
    indexes: ClassVar[dict[str, LiteralString]] = {"due": "synced_at NULLS FIRST"}

    def known(self, afm: str, tracking: Tracking) -> None:
        self.write(
            "INSERT INTO {table} (afm) VALUES (%(afm)s) ON CONFLICT (afm) DO NOTHING",
            {"afm": afm},
            tracking,
        )

    def synced(self, afm: str, synced_at: datetime, tracking: Tracking) -> None:
        self.write(
            "INSERT INTO {table} (afm, synced_at) VALUES (%(afm)s, %(synced_at)s) "
            "ON CONFLICT (afm) DO UPDATE SET synced_at = "
            "greatest({table}.synced_at, excluded.synced_at)",
            {"afm": afm, "synced_at": synced_at},
            tracking,
        )

    def synced_at(self, afm: str) -> datetime | None:
        rows = self.select("SELECT synced_at FROM {table} WHERE afm = %(afm)s", {"afm": afm})
        return rows[0]["synced_at"] if rows else None

    def claim_due(self, older_than: datetime) -> AbstractContextManager[dict[str, Any] | None]:
        """Lock the ΑΦΜ synced longest ago (never, first), if before `older_than`."""
        return self.claim_first(
            columns="afm, synced_at",
            where="WHERE synced_at IS NULL OR synced_at < %(older_than)s",
            order_by="synced_at NULLS FIRST",
            params={"older_than": older_than},
        )


class WarrantSyncProjection(Projection[WarrantSyncView]):
    name = "warrant_syncs"
    topics = (Business.Known.TOPIC, WarrantSync.Completed.TOPIC)

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.insert_tracking(tracking)

    @process_event.register(Business.Known)
    def _known(self, event: Business.Known, tracking: Tracking) -> None:
        self.view.known(event.afm, tracking)

    @process_event.register(WarrantSync.Completed)
    def _synced(self, event: WarrantSync.Completed, tracking: Tracking) -> None:
        self.view.synced(event.afm, event.synced_at, tracking)


# --- B-2 ------------------------------------------------------------------------------------------

DECLARATION_COLUMNS = (
    "declaration_id, afm, period_type, period, year, gross_revenue, status, filed, tax, "
    "surcharges, total, valid_until, declared_at"
)


class DeclarationSummaryView(PostgresView):
    ddl = (
        "CREATE TABLE IF NOT EXISTS {table} ("
        "declaration_id uuid PRIMARY KEY, afm text NOT NULL, period_type text NOT NULL, "
        "period integer NOT NULL, year integer NOT NULL, gross_revenue bigint NOT NULL, "
        "status text NOT NULL, filed boolean NOT NULL DEFAULT false, tax bigint NOT NULL, "
        "surcharges bigint NOT NULL, total bigint NOT NULL, valid_until timestamptz NOT NULL, "
        "declared_at timestamptz NOT NULL)",
    )
    indexes: ClassVar[dict[str, LiteralString]] = {
        "afm": "afm, declared_at DESC",
        "status": "status, valid_until",
        "declared": "declared_at DESC",
    }

    def add(self, row: dict[str, Any], tracking: Tracking) -> None:
        self.write(
            "INSERT INTO {table} (declaration_id, afm, period_type, period, year, gross_revenue, "
            "status, tax, surcharges, total, valid_until, declared_at) VALUES ("
            "%(declaration_id)s, %(afm)s, %(period_type)s, %(period)s, %(year)s, "
            "%(gross_revenue)s, 'quoted', %(tax)s, %(surcharges)s, %(total)s, %(valid_until)s, "
            "%(declared_at)s) ON CONFLICT (declaration_id) DO NOTHING",
            row,
            tracking,
        )

    def set_status(self, declaration_id: UUID, status: str, tracking: Tracking) -> None:
        self.write(
            "UPDATE {table} SET status = %(status)s WHERE declaration_id = %(declaration_id)s",
            {"declaration_id": declaration_id, "status": status},
            tracking,
        )

    def filed(self, declaration_id: UUID, tracking: Tracking) -> None:
        self.write(
            "UPDATE {table} SET filed = true WHERE declaration_id = %(declaration_id)s",
            {"declaration_id": declaration_id},
            tracking,
        )

    def page(
        self, afm: str | None, status: str | None, limit: int, offset: int
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of the declarations (of an ΑΦΜ, of a status; None: any), newest first, and
        the total."""
        return self.select_page(
            columns=DECLARATION_COLUMNS,
            where="WHERE (%(afm)s::text IS NULL OR afm = %(afm)s) "
            "AND (%(status)s::text IS NULL OR status = %(status)s)",
            order_by="declared_at DESC, declaration_id",
            params={"afm": afm, "status": status},
            limit=limit,
            offset=offset,
        )

    def claim_expired_quote(self, now: datetime) -> AbstractContextManager[dict[str, Any] | None]:
        """Lock a quoted declaration whose quote ran out by `now` (None if there is none)."""
        return self.claim_first(
            columns="declaration_id",
            where="WHERE status = 'quoted' AND valid_until <= %(now)s",
            order_by="valid_until",
            params={"now": now},
        )


class DeclarationSummaryProjection(Projection[DeclarationSummaryView]):
    name = "declaration_summaries"
    topics = (
        Declaration.Quoted.TOPIC,
        Declaration.PaymentStarted.TOPIC,
        Declaration.Accepted.TOPIC,
        Declaration.Rejected.TOPIC,
        Declaration.Filed.TOPIC,
    )

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.insert_tracking(tracking)

    @process_event.register(Declaration.Quoted)
    def _quoted(self, event: Declaration.Quoted, tracking: Tracking) -> None:
        row = {
            "declaration_id": event.originator_id,
            "afm": event.afm,
            "period_type": event.period_type,
            "period": event.period,
            "year": event.year,
            "gross_revenue": event.gross_revenue,
            "tax": event.quote["tax"],
            "surcharges": event.quote["surcharges"],
            "total": event.quote["total"],
            "valid_until": event.quote["valid_until"],
            "declared_at": event.timestamp,
        }
        self.view.add(row, tracking)

    @process_event.register(Declaration.PaymentStarted)
    def _paying(self, event: Declaration.PaymentStarted, tracking: Tracking) -> None:
        self.view.set_status(event.originator_id, "payment_pending", tracking)

    @process_event.register(Declaration.Accepted)
    def _accepted(self, event: Declaration.Accepted, tracking: Tracking) -> None:
        self.view.set_status(event.originator_id, "accepted", tracking)

    @process_event.register(Declaration.Rejected)
    def _rejected(self, event: Declaration.Rejected, tracking: Tracking) -> None:
        self.view.set_status(event.originator_id, "rejected", tracking)

    @process_event.register(Declaration.Filed)
    def _filed(self, event: Declaration.Filed, tracking: Tracking) -> None:
        self.view.filed(event.originator_id, tracking)


# --- what the information system is still to be told


class PendingFilingView(PostgresView):
    """kind: "declaration" (file it) or "debt_payment" (report it); item_id: the aggregate."""

    ddl = (
        "CREATE TABLE IF NOT EXISTS {table} ("
        "item_id uuid PRIMARY KEY, kind text NOT NULL, attempts integer NOT NULL DEFAULT 0, "
        "last_failure text, next_attempt_at timestamptz NOT NULL, correlation_id text)",
    )
    indexes: ClassVar[dict[str, LiteralString]] = {"due": "next_attempt_at"}

    def add(self, item_id: UUID, kind: str, at: datetime, correlation: Any, t: Tracking) -> None:
        self.write(
            "INSERT INTO {table} (item_id, kind, next_attempt_at, correlation_id) VALUES "
            "(%(item_id)s, %(kind)s, %(at)s, %(correlation)s) ON CONFLICT (item_id) DO NOTHING",
            {"item_id": item_id, "kind": kind, "at": at, "correlation": correlation},
            t,
        )

    def failed(
        self, item_id: UUID, attempts: int, reason: str, next_at: datetime, t: Tracking
    ) -> None:
        self.write(
            "UPDATE {table} SET attempts = %(attempts)s, last_failure = %(reason)s, "
            "next_attempt_at = %(next_at)s WHERE item_id = %(item_id)s",
            {"item_id": item_id, "attempts": attempts, "reason": reason, "next_at": next_at},
            t,
        )

    def remove(self, item_id: UUID, t: Tracking) -> None:
        self.write("DELETE FROM {table} WHERE item_id = %(item_id)s", {"item_id": item_id}, t)

    def claim_due(self, now: datetime) -> AbstractContextManager[dict[str, Any] | None]:
        """Lock the item due first (None when nothing is due): the system is asked under that
        lock, so no two workers file or report the same thing at once."""
        return self.claim_first(
            columns="item_id, kind, correlation_id",
            where="WHERE next_attempt_at <= %(now)s",
            order_by="next_attempt_at",
            params={"now": now},
        )


class PendingFilingProjection(Projection[PendingFilingView]):
    name = "pending_filings"
    topics = (
        Declaration.Accepted.TOPIC,
        Declaration.FilingFailed.TOPIC,
        Declaration.Filed.TOPIC,
        Declaration.FilingRefused.TOPIC,
        Debt.Paid.TOPIC,
        Debt.ReportFailed.TOPIC,
        Debt.Reported.TOPIC,
        Debt.ReportRefused.TOPIC,
    )

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.insert_tracking(tracking)

    def _add(self, event: Any, kind: str, tracking: Tracking) -> None:
        correlation = event_metadata(event).get("correlation_id")
        self.view.add(event.originator_id, kind, event.timestamp, correlation, tracking)

    @process_event.register(Declaration.Accepted)
    def _accepted(self, event: Declaration.Accepted, tracking: Tracking) -> None:
        self._add(event, "declaration", tracking)

    @process_event.register(Debt.Paid)
    def _paid(self, event: Debt.Paid, tracking: Tracking) -> None:
        self._add(event, "debt_payment", tracking)

    @process_event.register(Declaration.FilingFailed)
    @process_event.register(Debt.ReportFailed)
    def _failed(self, event: Any, tracking: Tracking) -> None:
        self.view.failed(
            event.originator_id, event.attempt, event.reason, event.next_attempt_at, tracking
        )

    @process_event.register(Declaration.Filed)
    @process_event.register(Declaration.FilingRefused)
    @process_event.register(Debt.Reported)
    @process_event.register(Debt.ReportRefused)
    def _done(self, event: Any, tracking: Tracking) -> None:
        self.view.remove(event.originator_id, tracking)
