"""Read model: every payment with its status, for the finance department and the reconciler.

Clerks of `revenue`, admins and auditors list payments by status from this table (SPEC P-2:
reconciliation, refunds to make). The reconciler takes its work from it: open payments not
checked at the bank for a while (`claim_due`). `checked_at` is the reconciler's own column,
written outside the projection: a rebuilt view starts without it, which only means one more
status query per open payment.
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

from payments_service.domainmodel import Payment

COLUMNS = (
    "payment_id, status, amount, currency, payable_type, payable_id, payer_id, description, "
    "created_at, finished_at, failure_reason, transaction_id, refund_flagged, checked_at, "
    "correlation_id"
)


class PaymentSummaryView(PostgresView):
    ddl = (
        "CREATE TABLE IF NOT EXISTS {table} ("
        "payment_id uuid PRIMARY KEY, "
        "status text NOT NULL, "
        "amount bigint NOT NULL, "
        "currency text NOT NULL, "
        "payable_type text NOT NULL, "
        "payable_id uuid NOT NULL, "
        "payer_id uuid NOT NULL, "
        "description text NOT NULL, "
        "created_at timestamptz NOT NULL, "
        "finished_at timestamptz, "
        "failure_reason text, "
        "transaction_id text, "
        "refund_flagged boolean NOT NULL DEFAULT false, "
        "checked_at timestamptz, "
        "correlation_id text)",
    )
    indexes: ClassVar[dict[str, LiteralString]] = {
        "status": "status, created_at",
        "refund": "refund_flagged, created_at",
    }
    # Written by the reconciler, not by events: a rebuild cannot reproduce it, so
    # `python -m portal_web.rebuild` leaves it out of the comparison.
    worker_columns: ClassVar[tuple[str, ...]] = ("checked_at",)

    # --- written by the projection -------------------------------------------------------------

    def add(self, row: dict[str, Any], tracking: Tracking) -> None:
        self.write(
            "INSERT INTO {table} (payment_id, status, amount, currency, payable_type, "
            "payable_id, payer_id, description, created_at, correlation_id) VALUES "
            "(%(payment_id)s, 'created', %(amount)s, %(currency)s, %(payable_type)s, "
            "%(payable_id)s, %(payer_id)s, %(description)s, %(created_at)s, "
            "%(correlation_id)s) ON CONFLICT DO NOTHING",
            row,
            tracking,
        )

    def set_status(
        self,
        payment_id: UUID,
        status: str,
        tracking: Tracking,
        *,
        finished_at: datetime | None = None,
        failure_reason: str | None = None,
        transaction_id: str | None = None,
    ) -> None:
        self.write(
            "UPDATE {table} SET status = %(status)s, "
            "finished_at = coalesce(%(finished_at)s, finished_at), "
            "failure_reason = coalesce(%(failure_reason)s, failure_reason), "
            "transaction_id = coalesce(%(transaction_id)s, transaction_id) "
            "WHERE payment_id = %(payment_id)s",
            {
                "payment_id": payment_id,
                "status": status,
                "finished_at": finished_at,
                "failure_reason": failure_reason,
                "transaction_id": transaction_id,
            },
            tracking,
        )

    def flag_refund(self, payment_id: UUID, tracking: Tracking) -> None:
        self.write(
            "UPDATE {table} SET refund_flagged = true WHERE payment_id = %(payment_id)s",
            {"payment_id": payment_id},
            tracking,
        )

    # --- read by the reconciler and the API ----------------------------------------------------

    def claim_due(
        self, now: datetime, unchecked_since: datetime, expire_before: datetime
    ) -> AbstractContextManager[dict[str, Any] | None]:
        """Lock the open payment due a look at the bank first, for the duration of the block,
        and record at its end that it was looked at (None when none is due): no two
        reconcilers ask the bank about the same payment at once.

        Due: not checked since `unchecked_since` (created before it, checked before it or
        never), or created before `expire_before` and not checked since it was due to expire.
        """
        return self.claim_first(
            columns=COLUMNS,
            where=(
                "WHERE status IN ('created', 'awaiting_bank') AND ("
                "coalesce(checked_at, created_at) <= %(unchecked_since)s "
                "OR (created_at <= %(expire_before)s AND (checked_at IS NULL OR "
                "checked_at < created_at + (%(now)s - %(expire_before)s))))"
            ),
            order_by="coalesce(checked_at, created_at)",
            params={"now": now, "unchecked_since": unchecked_since, "expire_before": expire_before},
            then="UPDATE {table} SET checked_at = %(now)s WHERE payment_id = %(payment_id)s",
        )

    def page(
        self,
        limit: int,
        offset: int = 0,
        *,
        status: str | None = None,
        refund_flagged: bool | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of payments, oldest first, of one status and/or refund flag (all if None)."""
        return self.select_page(
            columns=COLUMNS,
            where="WHERE (%(status)s::text IS NULL OR status = %(status)s) AND "
            "(%(refund_flagged)s::boolean IS NULL OR refund_flagged = %(refund_flagged)s)",
            order_by="created_at, payment_id",
            params={"status": status, "refund_flagged": refund_flagged},
            limit=limit,
            offset=offset,
        )


class PaymentSummaryProjection(Projection[PaymentSummaryView]):
    name = "payment_summaries"
    topics = (
        Payment.Requested.TOPIC,
        Payment.SessionOpened.TOPIC,
        Payment.Completed.TOPIC,
        Payment.Failed.TOPIC,
        Payment.Expired.TOPIC,
        Payment.RefundFlagged.TOPIC,
    )

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.insert_tracking(tracking)

    @process_event.register(Payment.Requested)
    def _requested(self, event: Payment.Requested, tracking: Tracking) -> None:
        row = {
            "payment_id": event.originator_id,
            "amount": event.amount,
            "currency": event.currency,
            "payable_type": event.payable_type,
            "payable_id": event.payable_id,
            "payer_id": event.payer_id,
            "description": event.description,
            "created_at": event.timestamp,
            "correlation_id": event_metadata(event).get("correlation_id"),
        }
        self.view.add(row, tracking)

    @process_event.register(Payment.SessionOpened)
    def _session_opened(self, event: Payment.SessionOpened, tracking: Tracking) -> None:
        self.view.set_status(event.originator_id, "awaiting_bank", tracking)

    @process_event.register(Payment.Completed)
    def _completed(self, event: Payment.Completed, tracking: Tracking) -> None:
        self.view.set_status(
            event.originator_id,
            "completed",
            tracking,
            finished_at=event.completed_at,
            transaction_id=event.transaction_id,
        )

    @process_event.register(Payment.Failed)
    def _failed(self, event: Payment.Failed, tracking: Tracking) -> None:
        self.view.set_status(
            event.originator_id,
            "failed",
            tracking,
            finished_at=event.failed_at,
            failure_reason=event.reason,
        )

    @process_event.register(Payment.Expired)
    def _expired(self, event: Payment.Expired, tracking: Tracking) -> None:
        self.view.set_status(event.originator_id, "expired", tracking, finished_at=event.expired_at)

    @process_event.register(Payment.RefundFlagged)
    def _refund_flagged(self, event: Payment.RefundFlagged, tracking: Tracking) -> None:
        self.view.flag_refund(event.originator_id, tracking)
