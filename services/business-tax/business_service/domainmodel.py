"""The business service's aggregates (SPEC B-1..B-3) and its domain errors.

- `BusinessUser`: what identity last said of a user (kind, ΑΦΜ, complete profile; verified in
  person), each ordered by the user aggregate's version, so a late, older report changes nothing.
- `Business`: one per ΑΦΜ, its members (the business users of that ΑΦΜ, told of its warrants).
- `Warrant`: the service's own copy of a payment warrant (B-1), per (ΑΦΜ, number), recorded when
  a sync sees it (`Seen`) and when it sees it paid (`Paid`); `WarrantSync`: one per successful
  sync, so the copy says how fresh it is without any aggregate growing with every sync.
- `Declaration` (B-2): the saga of one declaration: quoted, payment pending, then accepted (a
  completed payment) or rejected (failed or expired payment, or a quote expired unpaid); an
  accepted one is filed with the information system, retried while it is down. A nil
  declaration (a period without receipts: total 0) has nothing to pay and is accepted at once.
- `PeriodGuard`: one per (ΑΦΜ, period type, period, year): at most one declaration of the period
  holds an open payment, and once one is accepted no other is paid (never paid twice).
- `Debt` (B-3): a debt of the information system once the business starts paying it: its open
  payment, its completion and telling the system, retried.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal
from uuid import UUID

from eventsourcing.domain import Aggregate, event

_NAMESPACE = UUID("3e0f6a51-8c2b-4d7e-9a14-b5c6d7e8f901")  # fixed forever: ids derive from it

DeclarationStatus = Literal["quoted", "payment_pending", "accepted", "rejected"]
RejectionReason = Literal["payment_failed", "payment_expired", "quote_expired"]


class BusinessError(Exception):
    """Base of the business service's domain errors."""


class ProfileIncomplete(BusinessError):
    """Not a business with a complete profile and an ΑΦΜ (or identity has not said so yet)."""


class NotVerified(BusinessError):
    """The business's representative has not been verified in person (ID-3), or it was revoked."""


class DeclarationNotFound(BusinessError):
    """No such declaration of the caller's ΑΦΜ."""


class DeclarationInvalid(BusinessError):
    """Fields of a declaration are wrong: `problems` maps each to what is wrong with it."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__(", ".join(f"{field} {problem}" for field, problem in problems.items()))
        self.problems = problems


class PeriodAlreadyDeclared(BusinessError):
    """The period is declared already: filed with the information system, accepted here, or
    being paid by another declaration."""


class DeclarationAlreadyPaid(BusinessError):
    """The declaration is accepted (paid): no new payment."""


class DeclarationRejected(BusinessError):
    """The declaration was rejected (payment failed or expired, or its quote expired): it is
    submitted again as a new declaration."""


class DebtNotFound(BusinessError):
    """No such debt of the caller's ΑΦΜ in the information system."""


class DebtAlreadyPaid(BusinessError):
    """The debt is paid: no new payment."""


class NothingToPay(BusinessError):
    """The total is zero (a period without receipts): there is no card payment of nothing, and
    a payment request of zero is no valid one for the payments service."""


class PaymentRequired(BusinessError):
    """The declaration has something to pay: only its completed payment accepts it."""


class PaymentInProgress(BusinessError):
    """Another payment of the same thing (another user's, or another declaration of the same
    period) is open."""


# --- who may use the service (from identity's events) -------------------------------------------


class BusinessUser(Aggregate):
    TOPIC = "business:BusinessUser"

    class Created(Aggregate.Created):  # never stored: users are created by `Known`
        TOPIC = "business:BusinessUser.Created"

    class Known(Aggregate.Created):
        TOPIC = "business:BusinessUser.Known"
        user_id: UUID

    @staticmethod
    def create_id(user_id: UUID, **_: object) -> UUID:
        return business_user_id_for(user_id)

    @event(Known)
    def __init__(self, user_id: UUID) -> None:
        self.user_id = user_id
        self.kind: str | None = None
        self.afm: str | None = None
        self.profile_complete = False
        self.profile_version = 0
        self.verified = False
        self.verification_version = 0

    def report_profile(self, kind: str, afm: str | None, complete: bool, version: int) -> None:
        if version > self.profile_version:
            self._profile_reported(kind, afm, complete, version)

    @event("ProfileReported", topic="business:BusinessUser.ProfileReported")
    def _profile_reported(self, kind: str, afm: str | None, complete: bool, version: int) -> None:
        self.kind = kind
        self.afm = afm
        self.profile_complete = complete
        self.profile_version = version

    def report_verification(self, verified: bool, version: int) -> None:
        if version > self.verification_version:
            self._verification_reported(verified, version)

    @event("VerificationReported", topic="business:BusinessUser.VerificationReported")
    def _verification_reported(self, verified: bool, version: int) -> None:
        self.verified = verified
        self.verification_version = version

    @property
    def business_afm(self) -> str | None:
        """The ΑΦΜ this user acts for: a business's, from its profile."""
        return self.afm if self.kind == "business" else None

    def eligible_afm(self) -> str:
        """The ΑΦΜ the user acts for: ProfileIncomplete, NotVerified otherwise."""
        if self.business_afm is None or not self.profile_complete:
            raise ProfileIncomplete(str(self.user_id))
        if not self.verified:
            raise NotVerified(str(self.user_id))
        return self.business_afm


class Business(Aggregate):
    """A business by its ΑΦΜ and its users (the recipients of its warrants' news)."""

    TOPIC = "business:Business"

    class Created(Aggregate.Created):
        TOPIC = "business:Business.Created"

    class Known(Aggregate.Created):
        TOPIC = "business:Business.Known"
        afm: str

    @staticmethod
    def create_id(afm: str, **_: object) -> UUID:
        return business_id_for(afm)

    @event(Known)
    def __init__(self, afm: str) -> None:
        self.afm = afm
        self.members: list[UUID] = []

    def join(self, user_id: UUID) -> None:
        if user_id not in self.members:
            self._member_joined(user_id)

    @event("MemberJoined", topic="business:Business.MemberJoined")
    def _member_joined(self, user_id: UUID) -> None:
        self.members.append(user_id)

    def leave(self, user_id: UUID) -> None:
        if user_id in self.members:
            self._member_left(user_id)

    @event("MemberLeft", topic="business:Business.MemberLeft")
    def _member_left(self, user_id: UUID) -> None:
        self.members.remove(user_id)


# --- B-1: the copy of the warrants --------------------------------------------------------------


class Warrant(Aggregate):
    TOPIC = "business:Warrant"

    class Created(Aggregate.Created):
        TOPIC = "business:Warrant.Created"

    class Seen(Aggregate.Created):
        """A sync saw the warrant for the first time (`paid_on` set: it was paid already)."""

        TOPIC = "business:Warrant.Seen"
        afm: str
        number: str
        issued_on: date
        amount: int
        description: str
        budget_code: str
        paid_on: date | None
        recipients: list[UUID]

    class Paid(Aggregate.Event):
        """A sync saw the warrant paid that an earlier one saw issued."""

        TOPIC = "business:Warrant.Paid"
        afm: str
        number: str
        amount: int
        paid_on: date
        recipients: list[UUID]

    @staticmethod
    def create_id(afm: str, number: str, **_: object) -> UUID:
        return warrant_id_for(afm, number)

    @event(Seen)
    def __init__(
        self,
        afm: str,
        number: str,
        issued_on: date,
        amount: int,
        description: str,
        budget_code: str,
        paid_on: date | None,
        recipients: list[UUID],
    ) -> None:
        self.afm = afm
        self.number = number
        self.amount = amount
        self.paid_on = paid_on

    def see_paid(self, paid_on: date, recipients: list[UUID]) -> None:
        if self.paid_on is None:
            self._paid(self.afm, self.number, self.amount, paid_on, recipients)

    @event(Paid)
    def _paid(
        self, afm: str, number: str, amount: int, paid_on: date, recipients: list[UUID]
    ) -> None:
        self.paid_on = paid_on


class WarrantSync(Aggregate):
    """One successful sync of a business's warrants (a new aggregate each time)."""

    TOPIC = "business:WarrantSync"

    class Created(Aggregate.Created):
        TOPIC = "business:WarrantSync.Created"

    class Completed(Aggregate.Created):
        TOPIC = "business:WarrantSync.Completed"
        afm: str
        synced_at: datetime
        warrants: int

    @event(Completed)
    def __init__(self, afm: str, synced_at: datetime, warrants: int) -> None:
        self.afm = afm


# --- B-2: the declaration saga ------------------------------------------------------------------


class Declaration(Aggregate):
    TOPIC = "business:Declaration"

    class Created(Aggregate.Created):
        TOPIC = "business:Declaration.Created"

    class Quoted(Aggregate.Created):
        """Declared and quoted (the information system confirmed the business's category)."""

        TOPIC = "business:Declaration.Quoted"
        afm: str
        business_id: UUID
        period_type: str
        period: int
        year: int
        gross_revenue: int
        vat_return_date: date
        category: str
        reference: str
        quote: dict[str, Any]

    # Payment events repeat what the relay needs, so each translates to its contract alone.
    class PaymentStarted(Aggregate.Event):
        TOPIC = "business:Declaration.PaymentStarted"
        payment_id: UUID
        payer_id: UUID
        amount: int
        description: str
        reference: str

    class Outcome(Aggregate.Event):
        """An outcome the relay publishes: it repeats whose declaration of which period (never
        stored itself)."""

        TOPIC = "business:Declaration.Outcome"
        afm: str
        business_id: UUID
        period_type: str
        period: int
        year: int

    class Accepted(Outcome):
        """Paid (its payment completed), or nil: nothing to pay (payment_id, paid_at None)."""

        TOPIC = "business:Declaration.Accepted"
        payment_id: UUID | None
        amount: int
        paid_at: datetime | None

    class Rejected(Outcome):
        TOPIC = "business:Declaration.Rejected"
        reason: str
        payment_id: UUID | None

    class RefundNeeded(Aggregate.Event):
        """A payment completed that did not pay the declaration (it was paid, or rejected,
        already): the money is to be given back."""

        TOPIC = "business:Declaration.RefundNeeded"
        payment_id: UUID
        amount: int

    class FilingFailed(Aggregate.Event):
        TOPIC = "business:Declaration.FilingFailed"
        attempt: int
        reason: str
        next_attempt_at: datetime

    class Filed(Outcome):
        TOPIC = "business:Declaration.Filed"
        receipt: str
        filed_at: datetime

    class FilingRefused(Aggregate.Event):
        """The information system holds another declaration of the period (filed at its
        counter meanwhile): this one, paid, needs a person (and likely a refund)."""

        TOPIC = "business:Declaration.FilingRefused"
        reason: str

    @event(Quoted)
    def __init__(
        self,
        afm: str,
        business_id: UUID,
        period_type: str,
        period: int,
        year: int,
        gross_revenue: int,
        vat_return_date: date,
        category: str,
        reference: str,
        quote: dict[str, Any],
    ) -> None:
        self.afm = afm
        self.business_id = business_id
        self.period_type = period_type
        self.period = period
        self.year = year
        self.gross_revenue = gross_revenue
        self.vat_return_date = vat_return_date
        self.category = category
        self.reference = reference
        self.quote = quote
        self.status: DeclarationStatus = "quoted"
        self.open_payment: dict[str, Any] | None = None
        self.paid_payment_id: UUID | None = None
        self.paid_at: datetime | None = None
        self.rejection_reason: str | None = None
        self.filing_attempts = 0
        self.next_filing_at: datetime | None = None
        self.receipt: str | None = None
        self.filed_at: datetime | None = None
        self.filing_refused = False
        self.refunds_needed: list[UUID] = []

    @property
    def nil(self) -> bool:
        """A period without receipts, or none taxed: nothing to pay."""
        return bool(self.quote["total"] == 0)

    @property
    def filing_due(self) -> bool:
        return self.status == "accepted" and self.receipt is None and not self.filing_refused

    def quote_expired_at(self, now: datetime) -> bool:
        return self.status == "quoted" and now >= self.quote["valid_until"]

    def expire_quote(self, now: datetime) -> bool:
        """Rejected `quote_expired` if quoted, unpaid, past its quote; False otherwise."""
        if not self.quote_expired_at(now):
            return False
        self._rejected(**self._subject(), reason="quote_expired", payment_id=None)
        return True

    def start_payment(self, payment_id: UUID, payer_id: UUID, description: str) -> None:
        if self.status == "accepted":
            raise DeclarationAlreadyPaid(str(self.id))
        if self.status == "rejected":
            raise DeclarationRejected(str(self.id))
        if self.open_payment is not None:
            raise PaymentInProgress(str(self.id))
        amount = self.quote["total"]
        if amount <= 0:
            raise NothingToPay(str(self.id))
        self._payment_started(payment_id, payer_id, amount, description, self.reference)

    @event(PaymentStarted)
    def _payment_started(
        self, payment_id: UUID, payer_id: UUID, amount: int, description: str, reference: str
    ) -> None:
        self.open_payment = {"payment_id": payment_id, "payer_id": payer_id, "amount": amount}
        self.status = "payment_pending"

    def accept_nil(self) -> None:
        """A nil declaration is accepted at once, there being nothing to pay. Any other is
        accepted only by its completed payment (PaymentRequired)."""
        if self.status == "accepted":
            raise DeclarationAlreadyPaid(str(self.id))
        if self.status == "rejected":
            raise DeclarationRejected(str(self.id))
        if not self.nil:
            raise PaymentRequired(str(self.id))
        self._accepted(**self._subject(), payment_id=None, amount=0, paid_at=None)

    def complete_payment(self, payment_id: UUID, amount: int, paid_at: datetime) -> str:
        """The payment completed: "accepted" (it was the open one), "repeat" (it paid the
        declaration already: nothing recorded), or "refund" (any other payment: recorded as
        needing a refund, never a second acceptance)."""
        if self.open_payment is not None and self.open_payment["payment_id"] == payment_id:
            self._accepted(**self._subject(), payment_id=payment_id, amount=amount, paid_at=paid_at)
            return "accepted"
        if payment_id == self.paid_payment_id or payment_id in self.refunds_needed:
            return "repeat"
        self._refund_needed(payment_id, amount)
        return "refund"

    def _subject(self) -> dict[str, Any]:
        return {
            "afm": self.afm,
            "business_id": self.business_id,
            "period_type": self.period_type,
            "period": self.period,
            "year": self.year,
        }

    # The outcomes' first five arguments are the subject (`_subject`), for the relay only.
    @event(Accepted)
    def _accepted(
        self,
        afm: str,
        business_id: UUID,
        period_type: str,
        period: int,
        year: int,
        payment_id: UUID | None,
        amount: int,
        paid_at: datetime | None,
    ) -> None:
        self.status = "accepted"
        self.open_payment = None
        self.paid_payment_id = payment_id
        self.paid_at = paid_at

    @event(RefundNeeded)
    def _refund_needed(self, payment_id: UUID, amount: int) -> None:
        self.refunds_needed.append(payment_id)

    def end_payment(self, payment_id: UUID, reason: RejectionReason) -> bool:
        """The open payment failed or expired: rejected; False (nothing recorded) if it is not
        the open one (a repeat, or news of a payment already settled)."""
        if self.open_payment is None or self.open_payment["payment_id"] != payment_id:
            return False
        self._rejected(**self._subject(), reason=reason, payment_id=payment_id)
        return True

    @event(Rejected)
    def _rejected(
        self,
        afm: str,
        business_id: UUID,
        period_type: str,
        period: int,
        year: int,
        reason: str,
        payment_id: UUID | None,
    ) -> None:
        self.status = "rejected"
        self.open_payment = None
        self.rejection_reason = reason

    def filing_failed(self, reason: str, next_attempt_at: datetime) -> None:
        if self.filing_due:
            self._filing_failed(self.filing_attempts + 1, reason, next_attempt_at)

    @event(FilingFailed)
    def _filing_failed(self, attempt: int, reason: str, next_attempt_at: datetime) -> None:
        self.filing_attempts = attempt
        self.next_filing_at = next_attempt_at

    def file(self, receipt: str, filed_at: datetime) -> None:
        if self.filing_due:
            self._filed(**self._subject(), receipt=receipt, filed_at=filed_at)

    @event(Filed)
    def _filed(
        self,
        afm: str,
        business_id: UUID,
        period_type: str,
        period: int,
        year: int,
        receipt: str,
        filed_at: datetime,
    ) -> None:
        self.receipt = receipt
        self.filed_at = filed_at

    def refuse_filing(self, reason: str) -> None:
        if self.filing_due:
            self._filing_refused(reason)

    @event(FilingRefused)
    def _filing_refused(self, reason: str) -> None:
        self.filing_refused = True


class PeriodGuard(Aggregate):
    """One per (ΑΦΜ, period type, period, year): the declaration whose payment is open, and the
    accepted one. Saved with the declaration it changes for, so two declarations of a period
    racing to pay cannot both hold it (the second save conflicts, and then finds it held)."""

    TOPIC = "business:PeriodGuard"

    class Created(Aggregate.Created):
        TOPIC = "business:PeriodGuard.Created"

    class Opened(Aggregate.Created):
        TOPIC = "business:PeriodGuard.Opened"
        afm: str
        period_type: str
        period: int
        year: int

    @staticmethod
    def create_id(afm: str, period_type: str, period: int, year: int, **_: object) -> UUID:
        return period_guard_id_for(afm, period_type, period, year)

    @event(Opened)
    def __init__(self, afm: str, period_type: str, period: int, year: int) -> None:
        self.paying: UUID | None = None
        self.accepted: UUID | None = None

    def check_open(self, declaration_id: UUID | None = None) -> None:
        """PeriodAlreadyDeclared if a declaration of the period is accepted, or (another one
        than `declaration_id`) is being paid."""
        if self.accepted is not None or self.paying not in (None, declaration_id):
            raise PeriodAlreadyDeclared(str(self.id))

    def check_payable(self, declaration_id: UUID) -> None:
        """PeriodAlreadyDeclared if a declaration of the period is accepted; PaymentInProgress
        if another one is being paid."""
        if self.accepted is not None:
            raise PeriodAlreadyDeclared(str(self.id))
        if self.paying not in (None, declaration_id):
            raise PaymentInProgress(str(self.id))

    def hold(self, declaration_id: UUID) -> None:
        self.check_payable(declaration_id)
        if self.paying is None:
            self._held(declaration_id)

    @event("Held", topic="business:PeriodGuard.Held")
    def _held(self, declaration_id: UUID) -> None:
        self.paying = declaration_id

    def release(self, declaration_id: UUID) -> None:
        if self.paying == declaration_id:
            self._released(declaration_id)

    @event("Released", topic="business:PeriodGuard.Released")
    def _released(self, declaration_id: UUID) -> None:
        self.paying = None

    def settle(self, declaration_id: UUID) -> None:
        if self.accepted is None:
            self._settled(declaration_id)

    @event("Settled", topic="business:PeriodGuard.Settled")
    def _settled(self, declaration_id: UUID) -> None:
        self.accepted = declaration_id
        self.paying = None


# --- B-3: a debt being paid ---------------------------------------------------------------------


class Debt(Aggregate):
    TOPIC = "business:Debt"

    class Created(Aggregate.Created):
        TOPIC = "business:Debt.Created"

    class Known(Aggregate.Created):
        TOPIC = "business:Debt.Known"
        afm: str
        debt_id: str
        description: str
        period: str
        reference: str

    class PaymentStarted(Aggregate.Event):
        TOPIC = "business:Debt.PaymentStarted"
        payment_id: UUID
        payer_id: UUID
        amount: int
        description: str
        reference: str

    class PaymentEnded(Aggregate.Event):
        TOPIC = "business:Debt.PaymentEnded"
        payment_id: UUID
        outcome: str

    class Paid(Aggregate.Event):
        TOPIC = "business:Debt.Paid"
        payment_id: UUID
        amount: int
        paid_at: datetime

    class RefundNeeded(Aggregate.Event):
        TOPIC = "business:Debt.RefundNeeded"
        payment_id: UUID
        amount: int

    class ReportFailed(Aggregate.Event):
        TOPIC = "business:Debt.ReportFailed"
        attempt: int
        reason: str
        next_attempt_at: datetime

    class Reported(Aggregate.Event):
        """The information system has the payment."""

        TOPIC = "business:Debt.Reported"

    class ReportRefused(Aggregate.Event):
        """The information system had the debt paid by another payment (at its counter): this
        one is to be refunded, and the system is not told again."""

        TOPIC = "business:Debt.ReportRefused"
        reason: str

    @staticmethod
    def create_id(afm: str, debt_id: str, **_: object) -> UUID:
        return debt_id_for(afm, debt_id)

    @event(Known)
    def __init__(
        self, afm: str, debt_id: str, description: str, period: str, reference: str
    ) -> None:
        self.afm = afm
        self.debt_id = debt_id
        self.description = description
        self.reference = reference
        self.open_payment: dict[str, Any] | None = None
        self.paid_payment_id: UUID | None = None
        self.paid_amount: int | None = None
        self.paid_at: datetime | None = None
        self.report_attempts = 0
        self.next_report_at: datetime | None = None
        self.reported = False
        self.refunds_needed: list[UUID] = []

    @property
    def paid(self) -> bool:
        return self.paid_payment_id is not None

    @property
    def report_due(self) -> bool:
        return self.paid and not self.reported

    def start_payment(
        self, payment_id: UUID, payer_id: UUID, amount: int, description: str
    ) -> None:
        if self.paid:
            raise DebtAlreadyPaid(self.debt_id)
        if self.open_payment is not None:
            raise PaymentInProgress(self.debt_id)
        if amount <= 0:
            raise NothingToPay(self.debt_id)
        self._payment_started(payment_id, payer_id, amount, description, self.reference)

    @event(PaymentStarted)
    def _payment_started(
        self, payment_id: UUID, payer_id: UUID, amount: int, description: str, reference: str
    ) -> None:
        self.open_payment = {"payment_id": payment_id, "payer_id": payer_id, "amount": amount}

    def end_payment(self, payment_id: UUID, outcome: str) -> bool:
        if self.open_payment is None or self.open_payment["payment_id"] != payment_id:
            return False
        self._payment_ended(payment_id, outcome)
        return True

    @event(PaymentEnded)
    def _payment_ended(self, payment_id: UUID, outcome: str) -> None:
        self.open_payment = None

    def complete_payment(self, payment_id: UUID, amount: int, paid_at: datetime) -> str:
        """As `Declaration.complete_payment`: "paid", "repeat" or "refund"."""
        if not self.paid and (
            self.open_payment is None or self.open_payment["payment_id"] == payment_id
        ):
            self._paid(payment_id, amount, paid_at)
            return "paid"
        if payment_id == self.paid_payment_id or payment_id in self.refunds_needed:
            return "repeat"
        self._refund_needed(payment_id, amount)
        return "refund"

    @event(Paid)
    def _paid(self, payment_id: UUID, amount: int, paid_at: datetime) -> None:
        self.paid_payment_id = payment_id
        self.paid_amount = amount
        self.paid_at = paid_at
        self.open_payment = None

    @event(RefundNeeded)
    def _refund_needed(self, payment_id: UUID, amount: int) -> None:
        self.refunds_needed.append(payment_id)

    def report_failed(self, reason: str, next_attempt_at: datetime) -> None:
        if self.report_due:
            self._report_failed(self.report_attempts + 1, reason, next_attempt_at)

    @event(ReportFailed)
    def _report_failed(self, attempt: int, reason: str, next_attempt_at: datetime) -> None:
        self.report_attempts = attempt
        self.next_report_at = next_attempt_at

    def report(self) -> None:
        if self.report_due:
            self._reported()

    @event(Reported)
    def _reported(self) -> None:
        self.reported = True

    def refuse_report(self, reason: str) -> None:
        if self.report_due:
            assert self.paid_payment_id is not None
            self._report_refused(reason)

    @event(ReportRefused)
    def _report_refused(self, reason: str) -> None:
        self.reported = True  # nothing more to tell the system
        if self.paid_payment_id is not None:
            self.refunds_needed.append(self.paid_payment_id)


# --- ids ----------------------------------------------------------------------------------------


def business_user_id_for(user_id: UUID) -> UUID:
    return uuid.uuid5(_NAMESPACE, f"business/user/{user_id}")


def business_id_for(afm: str) -> UUID:
    return uuid.uuid5(_NAMESPACE, f"business/afm/{afm}")


def warrant_id_for(afm: str, number: str) -> UUID:
    return uuid.uuid5(_NAMESPACE, f"business/warrant/{afm}\n{number}")


def period_guard_id_for(afm: str, period_type: str, period: int, year: int) -> UUID:
    return uuid.uuid5(_NAMESPACE, f"business/period/{afm}/{period_type}/{period}/{year}")


def debt_id_for(afm: str, debt_id: str) -> UUID:
    return uuid.uuid5(_NAMESPACE, f"business/debt/{afm}\n{debt_id}")
