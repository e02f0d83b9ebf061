"""The reconciler: asks the bank about payments whose result has not arrived (SPEC P-2).

A notification can be lost (the bank gave up, our gateway was down too long), so no open
payment is left to its notification alone:

- open longer than `PAYMENT_RECONCILE_AFTER_SECONDS` (and again every as long): its order's
  status is queried at the bank; a success or failure the bank reports is recorded as if
  notified (the state machine makes a late notification harmless after that);
- open longer than `PAYMENT_EXPIRE_AFTER_SECONDS`: its order is cancelled at the bank, and the
  payment expires only on the bank's word that it was not paid (cancelled, or an order the bank
  never saw); paid meanwhile, it completes instead. The bank unreachable: nothing is decided,
  the next look is a reconcile interval later. Never expired blindly.

The work list is the payment summaries view (`claim_due`), so a restart loses nothing; the
reconciler is the service's worker (`Reconciler.of`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from uuid import UUID

import structlog
from portal_events import context
from portal_events.background import PollingWorker
from portal_web.service import Runtime

from payments_service.application import PaymentsApplication
from payments_service.bank import BANK, Bank, BankOrder, BankUnavailable
from payments_service.settings import PaymentsSettings
from payments_service.views import PaymentSummaryView

log = structlog.get_logger(__name__)
ACTOR = context.Actor.system("payments-reconciler")
SOURCE = "reconciliation"


def utc_now() -> datetime:
    return datetime.now(UTC)


class Reconciler(PollingWorker):
    """The service's worker: one loop, one payment at a time; a look in progress finishes
    first when the service shuts down."""

    name = "reconciler"

    def __init__(
        self,
        app: PaymentsApplication,
        view: PaymentSummaryView,
        bank: Bank,
        *,
        reconcile_after_seconds: float,
        expire_after_seconds: float,
        poll_seconds: float = 1.0,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        super().__init__(poll_seconds=poll_seconds)
        self.app = app
        self.view = view
        self.bank = bank
        self.reconcile_after = timedelta(seconds=reconcile_after_seconds)
        self.expire_after = timedelta(seconds=expire_after_seconds)
        self.clock = clock

    @classmethod
    def of(cls, runtime: Runtime) -> Reconciler:
        settings: PaymentsSettings = runtime.settings
        return cls(
            runtime.application,
            runtime.read_model(PaymentSummaryView).view,
            runtime.resources[BANK],
            reconcile_after_seconds=settings.payment_reconcile_after_seconds,
            expire_after_seconds=settings.payment_expire_after_seconds,
            poll_seconds=settings.payment_reconciler_poll_seconds,
        )

    def process_one(self) -> bool:
        """Look at one due payment, if any; True when there was one."""
        now = self.clock()
        with self.view.claim_due(now, now - self.reconcile_after, now - self.expire_after) as row:
            if row is None:
                return False
            with context.bound(correlation_id=row["correlation_id"], actor=ACTOR):
                self.reconcile(row["payment_id"], now)
            return True

    def reconcile(self, payment_id: UUID, now: datetime) -> None:
        payment = self.app.payment(payment_id)
        if not payment.is_open:
            return  # the view lags a moment behind the payment
        due_to_expire = payment.created_on <= now - self.expire_after
        try:
            order = self.bank.cancel(payment_id) if due_to_expire else self.bank.order(payment_id)
        except BankUnavailable as exc:
            log.warning("reconcile_bank_unavailable", payment_id=str(payment_id), reason=str(exc))
            return
        self._apply(payment_id, order, due_to_expire)

    def _apply(self, payment_id: UUID, order: BankOrder | None, due_to_expire: bool) -> None:
        if order is None or order.status == "cancelled":
            # The bank never saw it (the payer never opened the page) or will take nothing more.
            if due_to_expire or order is not None:
                self.app.record_expiry(payment_id)
        elif order.status == "succeeded" and order.transaction_id:
            self.app.record_success(
                payment_id, transaction_id=order.transaction_id, amount=order.amount, source=SOURCE
            )
        elif order.status == "failed":
            self.app.record_failure(payment_id, reason=order.reason or "declined", source=SOURCE)
        elif due_to_expire:  # still open after a cancel: the bank will say more next time
            log.warning("reconcile_cancel_not_taken", payment_id=str(payment_id))
