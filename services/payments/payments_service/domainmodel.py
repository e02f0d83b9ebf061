"""The Payment aggregate, and the guard that keeps one payment open per payable (SPEC P-1, P-2).

A payment is created from the owner's `PaymentRequested` under the id the owner chose, so a
redelivered request finds it there and creates nothing. It goes `created` -> `awaiting_bank`
(the bank's session is open) -> one of `completed`, `failed`, `expired`, once: every later report
of the bank is checked against that final state. A success reported after the payment is final
(a second charge, or a charge after the payment expired or failed) is never applied: it is
recorded as `RefundFlagged` for the finance department to refund.

Payments knows nothing of what is paid: a payable is a (type, id) pair. `PayableGuard`, one per
payable with an id derived from that pair, holds the payable's open payment; a payment is
created only together with its claim on the guard (one transaction), so two payments of one
payable can never be open at once, across replicas too.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

# Fixed forever: a payable's guard id is derived from (payable type, payable id).
GUARD_NAMESPACE = UUID("6d3c2f0a-7b1e-4e55-9a0c-2f4b8d1e6c37")

PaymentStatus = Literal["created", "awaiting_bank", "completed", "failed", "expired"]
OPEN_STATUSES: tuple[PaymentStatus, ...] = ("created", "awaiting_bank")

Outcome = Literal["applied", "unchanged", "refund_flagged"]
"""What a report of the bank did: changed the payment, nothing (a duplicate or a report that
comes too late to matter), or recorded a charge to refund."""

ANOTHER_PAYMENT_OPEN = "another_payment_open"
AMOUNT_MISMATCH = "amount_mismatch"
REPORTED_AFTER_FINAL = "reported_after_final"


class PaymentsError(Exception):
    """Base of the payments service's domain errors."""


class PaymentNotFound(PaymentsError):
    """No such payment, or not the caller's."""


class Payment(Aggregate):
    TOPIC = "payments:Payment"

    class Created(Aggregate.Created):
        # Never stored (Requested is the created event); the library insists on a TOPIC.
        TOPIC = "payments:Payment.Created"

    class Requested(Aggregate.Created):
        TOPIC = "payments:Payment.Requested"
        payment_id: UUID  # the owner's id for it, which is also the aggregate's id
        payable_type: str
        payable_id: UUID
        amount: int
        currency: str
        description: str
        reference: str | None
        payer_id: UUID
        requested_at: datetime

    class SessionOpened(Aggregate.Event):
        TOPIC = "payments:Payment.SessionOpened"
        session_id: str
        page_url: str

    # The final events repeat the payable and the payer, so that the relay translates each one
    # to its public contract on its own, without reading the aggregate.
    class Completed(Aggregate.Event):
        TOPIC = "payments:Payment.Completed"
        payable_type: str
        payable_id: UUID
        payer_id: UUID
        amount: int
        transaction_id: str
        completed_at: datetime

    class Failed(Aggregate.Event):
        TOPIC = "payments:Payment.Failed"
        payable_type: str
        payable_id: UUID
        payer_id: UUID
        reason: str
        failed_at: datetime

    class Expired(Aggregate.Event):
        TOPIC = "payments:Payment.Expired"
        payable_type: str
        payable_id: UUID
        payer_id: UUID
        expired_at: datetime

    class RefundFlagged(Aggregate.Event):
        """The bank took money this payment must not keep (never published: people act on it)."""

        TOPIC = "payments:Payment.RefundFlagged"
        transaction_id: str
        amount: int
        reason: str

    @staticmethod
    def create_id(payment_id: UUID, **_: object) -> UUID:
        return payment_id

    @event(Requested)
    def __init__(
        self,
        payment_id: UUID,
        payable_type: str,
        payable_id: UUID,
        amount: int,
        currency: str,
        description: str,
        reference: str | None,
        payer_id: UUID,
        requested_at: datetime,
    ) -> None:
        self.payable_type = payable_type
        self.payable_id = payable_id
        self.amount = amount
        self.currency = currency
        self.description = description
        self.reference = reference
        self.payer_id = payer_id
        self.requested_at = requested_at
        self.status: PaymentStatus = "created"
        self.session_id: str | None = None
        self.page_url: str | None = None
        self.transaction_id: str | None = None
        self.failure_reason: str | None = None
        self.finished_at: datetime | None = None
        self.refunds_flagged: list[str] = []

    @property
    def payment_id(self) -> UUID:
        return self.id

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def refund_flagged(self) -> bool:
        return bool(self.refunds_flagged)

    @property
    def completed_at(self) -> datetime | None:
        return self.finished_at if self.status == "completed" else None

    # --- commands ------------------------------------------------------------------------------

    def open_session(self, session_id: str, page_url: str) -> Outcome:
        """Record the bank's session; the same session again (or a final payment) is unchanged."""
        if self.status != "created":
            return "unchanged"
        self._session_opened(session_id, page_url)
        return "applied"

    def report_success(self, transaction_id: str, amount: int) -> Outcome:
        """The bank took the money. Applied once, to an open payment of this very amount;
        anything else is flagged for refund, and the same transaction again is unchanged."""
        if transaction_id == self.transaction_id or transaction_id in self.refunds_flagged:
            return "unchanged"
        if not self.is_open:
            self._refund_flagged(transaction_id, amount, REPORTED_AFTER_FINAL)
            return "refund_flagged"
        if amount != self.amount:
            # The payer was charged something else than asked: not a payment of the payable.
            self._refund_flagged(transaction_id, amount, AMOUNT_MISMATCH)
            self.fail(AMOUNT_MISMATCH)
            return "refund_flagged"
        self._completed(
            self.payable_type,
            self.payable_id,
            self.payer_id,
            self.amount,
            transaction_id,
            datetime.now(UTC),
        )
        return "applied"

    def fail(self, reason: str) -> Outcome:
        """The payment did not go through; a failure of a final payment changes nothing (a
        duplicate, or out of order after a success)."""
        if not self.is_open:
            return "unchanged"
        self._failed(self.payable_type, self.payable_id, self.payer_id, reason, datetime.now(UTC))
        return "applied"

    def expire(self) -> Outcome:
        """Abandoned, and the bank confirmed it is not paid; nothing if already final."""
        if not self.is_open:
            return "unchanged"
        self._expired(self.payable_type, self.payable_id, self.payer_id, datetime.now(UTC))
        return "applied"

    # --- events --------------------------------------------------------------------------------

    @event(SessionOpened)
    def _session_opened(self, session_id: str, page_url: str) -> None:
        self.session_id = session_id
        self.page_url = page_url
        self.status = "awaiting_bank"

    @event(Completed)
    def _completed(
        self,
        payable_type: str,
        payable_id: UUID,
        payer_id: UUID,
        amount: int,
        transaction_id: str,
        completed_at: datetime,
    ) -> None:
        self.status = "completed"
        self.transaction_id = transaction_id
        self.finished_at = completed_at

    @event(Failed)
    def _failed(
        self,
        payable_type: str,
        payable_id: UUID,
        payer_id: UUID,
        reason: str,
        failed_at: datetime,
    ) -> None:
        self.status = "failed"
        self.failure_reason = reason
        self.finished_at = failed_at

    @event(Expired)
    def _expired(
        self, payable_type: str, payable_id: UUID, payer_id: UUID, expired_at: datetime
    ) -> None:
        self.status = "expired"
        self.finished_at = expired_at

    @event(RefundFlagged)
    def _refund_flagged(self, transaction_id: str, amount: int, reason: str) -> None:
        self.refunds_flagged = [*self.refunds_flagged, transaction_id]


class PayableGuard(Aggregate):
    """The one open payment of a payable, if any (see the module docstring)."""

    TOPIC = "payments:PayableGuard"

    class Created(Aggregate.Created):
        TOPIC = "payments:PayableGuard.Created"
        payable_type: str
        payable_id: UUID

    class Claimed(Aggregate.Event):
        TOPIC = "payments:PayableGuard.Claimed"
        payment_id: UUID

    class Released(Aggregate.Event):
        TOPIC = "payments:PayableGuard.Released"
        payment_id: UUID

    @staticmethod
    def create_id(payable_type: str, payable_id: UUID) -> UUID:
        return guard_id(payable_type, payable_id)

    def __init__(self, payable_type: str, payable_id: UUID) -> None:
        self.payable_type = payable_type
        self.payable_id = payable_id
        self.open_payment_id: UUID | None = None

    def claim(self, payment_id: UUID) -> bool:
        """Make `payment_id` the payable's open payment; False if another one is open."""
        if self.open_payment_id is None:
            self._claimed(payment_id)
        return self.open_payment_id == payment_id

    def release(self, payment_id: UUID) -> None:
        if self.open_payment_id == payment_id:
            self._released(payment_id)

    @event(Claimed)
    def _claimed(self, payment_id: UUID) -> None:
        self.open_payment_id = payment_id

    @event(Released)
    def _released(self, payment_id: UUID) -> None:
        self.open_payment_id = None


def guard_id(payable_type: str, payable_id: UUID) -> UUID:
    return uuid5(GUARD_NAMESPACE, f"{payable_type}:{payable_id}")
