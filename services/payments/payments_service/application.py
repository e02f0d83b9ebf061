"""The payments service's Application: payments and their guards, nothing HTTP (SPEC P-1, P-2).

Every change of a payment that ends it also releases its payable's guard, in the same
transaction; every change is retried on a concurrent write (`retrying`), so a notification and
the reconciler reporting the same result at once record it once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from uuid import UUID

import structlog
from portal_events.application import ServiceApplication

from payments_service.domainmodel import (
    ANOTHER_PAYMENT_OPEN,
    Outcome,
    PayableGuard,
    Payment,
    PaymentNotFound,
    guard_id,
)

log = structlog.get_logger(__name__)


class PaymentsApplication(ServiceApplication):
    name = "payments"

    def request_payment(
        self,
        *,
        payment_id: UUID,
        payable_type: str,
        payable_id: UUID,
        amount: int,
        currency: str,
        description: str,
        reference: str | None,
        payer_id: UUID,
        requested_at: datetime,
    ) -> Payment | None:
        """Record the payment the owner asked for; None when it is already recorded.

        While another payment of the same payable is open, this one is recorded and failed
        at once (`another_payment_open`), so the owner hears of it and nothing is charged.
        """

        def attempt() -> Payment | None:
            if self._exists(payment_id):
                return None  # a redelivered or re-published request
            payment = Payment(
                payment_id=payment_id,
                payable_type=payable_type,
                payable_id=payable_id,
                amount=amount,
                currency=currency,
                description=description,
                reference=reference,
                payer_id=payer_id,
                requested_at=requested_at,
            )
            guard = self._guard(payable_type, payable_id)
            if guard.claim(payment.id):
                self.save(payment, guard)
            else:
                payment.fail(ANOTHER_PAYMENT_OPEN)
                self.save(payment)
                log.warning(
                    "payment_refused_another_open",
                    payment_id=str(payment_id),
                    open_payment_id=str(guard.open_payment_id),
                )
            return payment

        return self.retrying(attempt)

    def payment(self, payment_id: UUID, *, payer_id: UUID | None = None) -> Payment:
        """The payment; with `payer_id`, only if that user is its payer (else not found)."""
        return self.load(
            payment_id,
            Payment,
            not_found=PaymentNotFound,
            visible=None if payer_id is None else (lambda p: p.payer_id == payer_id),
        )

    def find_payment(self, payment_id: UUID) -> Payment | None:
        try:
            return self.payment(payment_id)
        except PaymentNotFound:
            return None

    def record_session(self, payment_id: UUID, session_id: str, page_url: str) -> Payment:
        return self._change(payment_id, lambda p: p.open_session(session_id, page_url))[0]

    def record_success(
        self, payment_id: UUID, *, transaction_id: str, amount: int, source: str
    ) -> Outcome:
        """The bank says it took the money (`source`: notification or reconciliation)."""
        payment, outcome = self._change(
            payment_id, lambda p: p.report_success(transaction_id, amount)
        )
        if outcome == "refund_flagged":
            # Money the portal must give back: people have to act, hence an error.
            log.error(
                "payment_success_to_refund",
                payment_id=str(payment_id),
                transaction_id=transaction_id,
                amount=amount,
                status=payment.status,
                source=source,
            )
        elif outcome == "applied":
            log.info("payment_completed", payment_id=str(payment_id), source=source)
        return outcome

    def record_failure(self, payment_id: UUID, *, reason: str, source: str) -> Outcome:
        outcome = self._change(payment_id, lambda p: p.fail(reason))[1]
        if outcome == "applied":
            log.info("payment_failed", payment_id=str(payment_id), reason=reason, source=source)
        return outcome

    def record_expiry(self, payment_id: UUID) -> Outcome:
        outcome = self._change(payment_id, lambda p: p.expire())[1]
        if outcome == "applied":
            log.info("payment_expired", payment_id=str(payment_id))
        return outcome

    # --- helpers -------------------------------------------------------------------------------

    def _change(
        self, payment_id: UUID, change: Callable[[Payment], Outcome]
    ) -> tuple[Payment, Outcome]:
        """Load, change and save the payment, with its guard released if it just ended."""

        def attempt() -> tuple[Payment, Outcome]:
            payment = self.payment(payment_id)
            was_open = payment.is_open
            outcome = change(payment)
            if not payment.pending_events:
                return payment, outcome
            if was_open and not payment.is_open:
                guard = self._guard(payment.payable_type, payment.payable_id)
                guard.release(payment.id)
                self.save(payment, guard)
            else:
                self.save(payment)
            return payment, outcome

        return self.retrying(attempt)

    def _exists(self, aggregate_id: UUID) -> bool:
        return next(iter(self.events.get(aggregate_id, lte=1)), None) is not None

    def _guard(self, payable_type: str, payable_id: UUID) -> PayableGuard:
        """The payable's guard, new (unsaved) if it has none yet."""
        return self.find(guard_id(payable_type, payable_id), PayableGuard) or PayableGuard(
            payable_type=payable_type, payable_id=payable_id
        )
