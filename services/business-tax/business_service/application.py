"""The business service's Application (SPEC B-1..B-3): commands and queries, nothing HTTP.

- Who: `record_profile`, `record_verification` keep what identity said; `eligible_afm` is the
  ΑΦΜ a caller acts for, or why not. Everything is scoped by that ΑΦΜ: another business's ids
  are not found. Reading a declaration takes a `DeclarationScope`: one ΑΦΜ's, or every
  business's (`EVERY_BUSINESS`, for the revenue department's staff; X-3).
- B-1: `sync_warrants` asks the information system and records what is new (a warrant seen, a
  warrant seen paid, and the sync itself); the list is the read model's.
- B-2: `declare` checks, asks the system, quotes; `start_declaration_payment` holds the period's
  guard and publishes the payment request; the payments service's outcomes accept or reject; a
  nil declaration (total 0) is accepted there at once, having nothing to pay; an accepted
  declaration is filed by the filer worker (`filing_of`, `record_filed`, ...), and a quote that
  expires unpaid is rejected (`expire_quote`, lazily and by a worker).
- B-3: `debts`, `debt` answer the system's debts with surcharges computed now;
  `start_debt_payment`, the payments' outcomes, then the filer tells the system.

The information system is passed to the commands that need it (it is one of the service's
resources); the rules come from the environment (`BUSINESS_RULES_PATH`, else the shipped file).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

import structlog
from eventsourcing.domain import Aggregate
from portal_events.application import Idempotency, ServiceApplication, Written
from portal_events.payables import format_euros, rf_code

from business_service.domainmodel import (
    Business,
    BusinessUser,
    Debt,
    DebtAlreadyPaid,
    DebtNotFound,
    Declaration,
    DeclarationAlreadyPaid,
    DeclarationInvalid,
    DeclarationNotFound,
    DeclarationRejected,
    PeriodAlreadyDeclared,
    PeriodGuard,
    ProfileIncomplete,
    RejectionReason,
    Warrant,
    WarrantSync,
    business_id_for,
    business_user_id_for,
    debt_id_for,
    period_guard_id_for,
    warrant_id_for,
)
from business_service.municipal_system import (
    DebtRecord,
    DeclarationFiling,
    MunicipalSystem,
)
from business_service.rules import (
    Period,
    Quote,
    Rules,
    athens_today,
    check_declaration,
    debt_quote,
    declaration_quote,
)

log = structlog.get_logger()

A = Any


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class DebtLine:
    """A debt as the business sees it: the system's record, what it costs now, and our own
    knowledge of its payment (paid here before the system was told, or being paid)."""

    record: DebtRecord
    quote: Quote
    reference: str
    status: str  # open | payment_pending | paid
    payment_id: UUID | None
    paid_at: datetime | None
    paid_amount: int | None  # what was paid here (principal plus surcharges); None: not here


@dataclass(frozen=True)
class DeclarationScope:
    """Whose declarations a caller reads: one business's, by its ΑΦΜ, or every business's
    (`afm` None: the revenue department's clerks, auditors and admins, who read a case the
    worklist sends them to but change nothing). Outside it a declaration is not found."""

    afm: str | None

    def covers(self, declaration: Declaration) -> bool:
        return self.afm is None or declaration.afm == self.afm


EVERY_BUSINESS = DeclarationScope(afm=None)


class BusinessApplication(ServiceApplication):
    name = "business"

    def __init__(
        self,
        env: dict[str, str] | None = None,
        *,
        rules: Rules | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        super().__init__(env=env)
        self.rules = rules or Rules.load(self.env.get("BUSINESS_RULES_PATH"))
        self.clock = clock

    # --- who may use the service, from identity's events ---------------------------------------

    def record_profile(
        self, user_id: UUID, *, kind: str, afm: str | None, complete: bool, identity_version: int
    ) -> None:
        """What identity reported of the user's profile (idempotent; older reports ignored).
        A business user joins its ΑΦΜ's business (and leaves the one it had before)."""

        def attempt() -> None:
            user = self.find(business_user_id_for(user_id), BusinessUser) or BusinessUser(
                user_id=user_id
            )
            before = user.business_afm
            user.report_profile(kind, afm, complete, identity_version)
            after = user.business_afm
            changed: list[Aggregate] = [user]
            if before != after:
                if before is not None:
                    old = self._business(before)
                    old.leave(user_id)
                    changed.append(old)
                if after is not None:
                    new = self._business(after)
                    new.join(user_id)
                    changed.append(new)
            if user.pending_events:
                self.save(*changed)

        self.retrying(attempt)

    def record_verification(self, user_id: UUID, *, verified: bool, identity_version: int) -> None:
        """An in-person verification (ID-3) or its revocation (idempotent; older ignored)."""

        def attempt() -> None:
            user = self.find(business_user_id_for(user_id), BusinessUser) or BusinessUser(
                user_id=user_id
            )
            user.report_verification(verified, identity_version)
            if user.pending_events:
                self.save(user)

        self.retrying(attempt)

    def eligible_afm(self, user_id: UUID) -> str:
        """The ΑΦΜ the business user acts for; ProfileIncomplete (also when identity has said
        nothing yet) or NotVerified."""
        user = self.find(business_user_id_for(user_id), BusinessUser)
        if user is None:
            raise ProfileIncomplete(str(user_id))
        return user.eligible_afm()

    def members(self, afm: str) -> list[UUID]:
        """The business users of this ΑΦΜ that identity told us of."""
        business = self.find(business_id_for(afm), Business)
        return list(business.members) if business is not None else []

    def _business(self, afm: str) -> Business:
        return self.find(business_id_for(afm), Business) or Business(afm=afm)

    # --- B-1: warrants ----------------------------------------------------------------------------

    def sync_warrants(self, afm: str, system: MunicipalSystem, *, record_sync: bool) -> int | None:
        """Ask the system for the ΑΦΜ's warrants and record what is new: a warrant never seen
        (`Seen`), one seen issued now paid (`Paid`); with `record_sync`, the sync itself (the
        copy's `as_of`). The position of the last write (None: nothing recorded). Raises
        MunicipalSystemUnavailable, recording nothing."""
        records = system.warrants(afm)
        synced_at = self.clock()
        recipients = self.members(afm)
        position = None
        for record in records:

            def attempt(record: Any = record) -> int | None:
                warrant = self.find(warrant_id_for(afm, record.number), Warrant)
                if warrant is None:
                    warrant = Warrant(
                        afm=afm,
                        number=record.number,
                        issued_on=record.issued_on,
                        amount=record.amount,
                        description=record.description,
                        budget_code=record.budget_code,
                        paid_on=record.paid_on if record.status == "paid" else None,
                        recipients=recipients,
                    )
                elif record.status == "paid":
                    warrant.see_paid(record.paid_on or synced_at.date(), recipients)
                if not warrant.pending_events:
                    return None
                return self.save(warrant)[-1].notification.id

            position = self.retrying(attempt) or position
        if record_sync:
            sync = WarrantSync(afm=afm, synced_at=synced_at, warrants=len(records))
            position = self.save(sync)[-1].notification.id
        return position

    # --- B-2: declarations ---------------------------------------------------------------------

    def declare(
        self,
        *,
        business_id: UUID,
        afm: str,
        period_type: str,
        period: int,
        year: int,
        gross_revenue: int,
        vat_return_date: date,
        system: MunicipalSystem,
        idempotency: Idempotency | None,
    ) -> Written[dict[str, Any]]:
        """A declaration, checked and quoted: {declaration_id}. DeclarationInvalid (the fields),
        PeriodAlreadyDeclared (filed with the system, or accepted or being paid here);
        MunicipalSystemUnavailable records nothing."""

        def create() -> tuple[list[Aggregate], dict[str, Any]]:
            now = self.clock()
            problems = check_declaration(
                period_type=period_type,
                period=period,
                year=year,
                gross_revenue=gross_revenue,
                vat_return_date=vat_return_date,
                today=athens_today(now),
            )
            if problems:
                raise DeclarationInvalid(problems)
            declared = Period(period_type, period, year)  # type: ignore[arg-type]
            guard = self.find(period_guard_id_for(afm, period_type, period, year), PeriodGuard)
            if guard is not None:
                guard.check_open()
            business = system.business(afm)
            if any(
                (filed.period_type, filed.period, filed.year) == (period_type, period, year)
                for filed in business.declarations
            ):
                raise PeriodAlreadyDeclared(f"{afm} {declared.label}")
            quote = declaration_quote(self.rules, business.category, gross_revenue, declared, now)
            declaration = Declaration(
                afm=afm,
                business_id=business_id,
                period_type=period_type,
                period=period,
                year=year,
                gross_revenue=gross_revenue,
                vat_return_date=vat_return_date,
                category=business.category,
                reference=rf_code(f"{afm}{declared.code}"),
                quote=quote.as_dict(),
            )
            return [declaration], {"declaration_id": str(declaration.id)}

        return self.save_once(idempotency, create)

    def declaration(self, afm: str, declaration_id: UUID) -> Declaration:
        """The ΑΦΜ's declaration (DeclarationNotFound otherwise), its quote expired lazily."""
        self.expire_quote(declaration_id, afm=afm)
        return self._declaration(afm, declaration_id)

    def declaration_history(
        self, scope: DeclarationScope, declaration_id: UUID
    ) -> tuple[Declaration, list[A]]:
        """The declaration and its events, if `scope` covers it (DeclarationNotFound
        otherwise); a quote that ran out is rejected first, whoever looks, so that every reader
        sees the same declaration."""
        self.expire_quote(declaration_id, afm=scope.afm)
        return self.load_with_history(
            declaration_id, Declaration, not_found=DeclarationNotFound, visible=scope.covers
        )

    def _declaration(self, afm: str | None, declaration_id: UUID) -> Declaration:
        return self.load(
            declaration_id,
            Declaration,
            not_found=DeclarationNotFound,
            visible=None if afm is None else (lambda d: d.afm == afm),
        )

    def expire_quote(self, declaration_id: UUID, *, afm: str | None = None) -> bool:
        """Reject the declaration `quote_expired` if it is quoted, unpaid and its quote is past
        (True); nothing otherwise."""
        written = self.changing(
            lambda: self._declaration(afm, declaration_id),
            lambda declaration: declaration.expire_quote(self.clock()),
        )
        return written.position is not None

    def start_declaration_payment(
        self, afm: str, declaration_id: UUID, *, payer_id: UUID, idempotency: Idempotency | None
    ) -> Written[dict[str, Any]]:
        """Start paying the declaration's quoted total: {payment_id, amount}. Its payment
        already open: that one again. A nil declaration (total 0) is accepted at once instead,
        with the same guard of its period: {payment_id: None, amount: 0}, and the same again
        once accepted. DeclarationAlreadyPaid, DeclarationRejected (also its quote expired now),
        PeriodAlreadyDeclared or PaymentInProgress (another declaration of the period is
        accepted or being paid)."""
        self.expire_quote(declaration_id, afm=afm)

        def create() -> tuple[list[Aggregate], dict[str, Any]]:
            declaration = self._declaration(afm, declaration_id)
            if declaration.open_payment is not None:
                open_payment = declaration.open_payment
                return [], _payment_result(open_payment["payment_id"], open_payment["amount"])
            if declaration.nil and declaration.status == "accepted":
                return [], _payment_result(None, 0)
            if declaration.status == "accepted":
                raise DeclarationAlreadyPaid(str(declaration_id))
            if declaration.status == "rejected":
                raise DeclarationRejected(str(declaration_id))
            guard = self._guard(declaration)
            if declaration.nil:
                guard.check_payable(declaration.id)
                declaration.accept_nil()
                guard.settle(declaration.id)
                return [guard, declaration], _payment_result(None, 0)
            guard.hold(declaration.id)
            payment_id = uuid.uuid4()
            declaration.start_payment(payment_id, payer_id, declaration_description(declaration))
            return [guard, declaration], _payment_result(payment_id, declaration.quote["total"])

        return self.save_once(idempotency, create)

    def _guard(self, declaration: Declaration) -> PeriodGuard:
        key = (declaration.afm, declaration.period_type, declaration.period, declaration.year)
        return self.find(period_guard_id_for(*key), PeriodGuard) or PeriodGuard(
            afm=key[0], period_type=key[1], period=key[2], year=key[3]
        )

    def record_declaration_paid(
        self, declaration_id: UUID, payment_id: UUID, amount: int, completed_at: datetime
    ) -> None:
        """The payment completed: the declaration is accepted (once; its period settled); a
        repeat changes nothing; any other payment is recorded as needing a refund."""

        def attempt() -> None:
            declaration = self._declaration(None, declaration_id)
            outcome = declaration.complete_payment(payment_id, amount, completed_at)
            changed: list[Aggregate] = [declaration]
            if outcome == "accepted":
                guard = self._guard(declaration)
                guard.settle(declaration.id)
                changed.append(guard)
            elif outcome == "refund":
                log.warning(
                    "declaration_paid_again",
                    declaration_id=str(declaration_id),
                    payment_id=str(payment_id),
                    status=declaration.status,
                )
            if declaration.pending_events:
                self.save(*changed)

        self.retrying(attempt)

    def record_declaration_payment_ended(
        self, declaration_id: UUID, payment_id: UUID, reason: RejectionReason
    ) -> None:
        """The open payment failed or expired: the declaration is rejected and its period is
        free again; news of another payment changes nothing."""

        def attempt() -> None:
            declaration = self._declaration(None, declaration_id)
            if declaration.end_payment(payment_id, reason):
                guard = self._guard(declaration)
                guard.release(declaration.id)
                self.save(guard, declaration)

        self.retrying(attempt)

    # the filer's side

    def filing_of(self, declaration: Declaration) -> DeclarationFiling:
        """What the system is told of an accepted declaration: its payment (none if nil)."""
        assert declaration.nil or declaration.paid_payment_id is not None
        return DeclarationFiling(
            declaration_id=declaration.id,
            afm=declaration.afm,
            period_type=declaration.period_type,  # type: ignore[arg-type]
            period=declaration.period,
            year=declaration.year,
            gross_revenue=declaration.gross_revenue,
            tax=declaration.quote["tax"],
            surcharges=declaration.quote["surcharges"],
            total=declaration.quote["total"],
            payment_id=declaration.paid_payment_id,
            paid_at=declaration.paid_at,
        )

    def unfiled_declaration(self, declaration_id: UUID) -> Declaration | None:
        declaration = self._declaration(None, declaration_id)
        return declaration if declaration.filing_due else None

    def record_filed(self, declaration_id: UUID, receipt: str, filed_at: datetime) -> None:
        self.changing(
            lambda: self._declaration(None, declaration_id), lambda d: d.file(receipt, filed_at)
        )

    def record_filing_failed(
        self, declaration_id: UUID, reason: str, next_attempt_at: datetime
    ) -> None:
        self.changing(
            lambda: self._declaration(None, declaration_id),
            lambda d: d.filing_failed(reason, next_attempt_at),
        )

    def record_filing_refused(self, declaration_id: UUID, reason: str) -> None:
        self.changing(
            lambda: self._declaration(None, declaration_id), lambda d: d.refuse_filing(reason)
        )

    # --- B-3: debts ----------------------------------------------------------------------------

    def debts(self, afm: str, system: MunicipalSystem) -> list[DebtLine]:
        """Every debt of the ΑΦΜ the system holds, as of now (MunicipalSystemUnavailable)."""
        return [self._line(record) for record in system.debts(afm)]

    def debt(self, afm: str, debt_id: str, system: MunicipalSystem) -> DebtLine:
        record = system.debt(afm, debt_id)
        if record is None:
            raise DebtNotFound(debt_id)
        return self._line(record)

    def _line(self, record: DebtRecord) -> DebtLine:
        ours = self.find(debt_id_for(record.afm, record.debt_id), Debt)
        quote = debt_quote(self.rules, record.principal, record.assessed_on, self.clock())
        status, payment_id, paid_at, paid_amount = "open", None, record.paid_at, None
        if ours is not None and ours.paid:
            status, payment_id, paid_at = "paid", ours.paid_payment_id, ours.paid_at
            paid_amount = ours.paid_amount
        elif record.status == "paid":
            status = "paid"
        elif ours is not None and ours.open_payment is not None:
            status, payment_id = "payment_pending", ours.open_payment["payment_id"]
        return DebtLine(
            record=record,
            quote=quote,
            reference=debt_reference(record.afm, record.debt_id),
            status=status,
            payment_id=payment_id,
            paid_at=paid_at,
            paid_amount=paid_amount,
        )

    def start_debt_payment(
        self,
        afm: str,
        debt_id: str,
        *,
        payer_id: UUID,
        system: MunicipalSystem,
        idempotency: Idempotency | None,
    ) -> Written[dict[str, Any]]:
        """Start paying the debt's total as of now: {payment_id, amount}; its payment already
        open: that one again. DebtNotFound, DebtAlreadyPaid (paid here, or in the system: paid
        at its counter while a payment here was open, that payment is not offered again),
        NothingToPay; MunicipalSystemUnavailable."""

        def create() -> tuple[list[Aggregate], dict[str, Any]]:
            line = self.debt(afm, debt_id, system)
            if line.status == "paid":  # here, or at the municipality's counter meanwhile
                raise DebtAlreadyPaid(debt_id)
            debt = self.find(debt_id_for(afm, debt_id), Debt)
            if debt is not None and debt.open_payment is not None:
                open_payment = debt.open_payment
                return [], _payment_result(open_payment["payment_id"], open_payment["amount"])
            record = line.record
            if debt is None:
                debt = Debt(
                    afm=afm,
                    debt_id=debt_id,
                    description=record.description,
                    period=record.period,
                    reference=line.reference,
                )
            payment_id = uuid.uuid4()
            amount = line.quote.total
            debt.start_payment(payment_id, payer_id, amount, debt_description(record, amount))
            return [debt], _payment_result(payment_id, amount)

        return self.save_once(idempotency, create)

    def _debt(self, debt_uuid: UUID) -> Debt:
        return self.load(debt_uuid, Debt, not_found=DebtNotFound)

    def record_debt_paid(
        self, debt_uuid: UUID, payment_id: UUID, amount: int, completed_at: datetime
    ) -> None:
        def change(debt: Debt) -> None:
            if debt.complete_payment(payment_id, amount, completed_at) == "refund":
                log.warning("debt_paid_again", debt_id=debt.debt_id, payment_id=str(payment_id))

        self.changing(lambda: self._debt(debt_uuid), change)

    def record_debt_payment_ended(self, debt_uuid: UUID, payment_id: UUID, outcome: str) -> None:
        self.changing(lambda: self._debt(debt_uuid), lambda d: d.end_payment(payment_id, outcome))

    # the filer's side

    def unreported_debt(self, debt_uuid: UUID) -> Debt | None:
        debt = self._debt(debt_uuid)
        return debt if debt.report_due else None

    def record_debt_reported(self, debt_uuid: UUID) -> None:
        self.changing(lambda: self._debt(debt_uuid), lambda d: d.report())

    def record_debt_report_failed(
        self, debt_uuid: UUID, reason: str, next_attempt_at: datetime
    ) -> None:
        self.changing(
            lambda: self._debt(debt_uuid), lambda d: d.report_failed(reason, next_attempt_at)
        )

    def record_debt_report_refused(self, debt_uuid: UUID, reason: str) -> None:
        self.changing(lambda: self._debt(debt_uuid), lambda d: d.refuse_report(reason))

    # --- helpers -------------------------------------------------------------------------------


def _payment_result(payment_id: UUID | str | None, amount: int) -> dict[str, Any]:
    return {"payment_id": None if payment_id is None else str(payment_id), "amount": amount}


def declaration_description(declaration: Declaration) -> str:
    """What the payer reads at the bank: "Δημοτικός φόρος 0,5% Q1 2026 – ΑΦΜ 094014201
    (75,00 €)"."""
    period = Period(declaration.period_type, declaration.period, declaration.year)  # type: ignore[arg-type]
    return (
        f"Δημοτικός φόρος ακαθαρίστων εσόδων {period.label} – ΑΦΜ {declaration.afm} "
        f"({format_euros(declaration.quote['total'])})"
    )


def debt_description(record: DebtRecord, amount: int) -> str:
    return (
        f"Βεβαιωμένη οφειλή {record.debt_id} ({record.period}) – ΑΦΜ {record.afm} "
        f"({format_euros(amount)})"
    )


def debt_reference(afm: str, debt_id: str) -> str:
    """The RF code of a debt: its ΑΦΜ and 12 characters derived from the system's debt id (any
    characters; an RF reference holds 21 letters or digits)."""
    digest = int.from_bytes(hashlib.sha256(debt_id.encode()).digest()[:8], "big")
    return rf_code(f"{afm}{_base36(digest)[:12].rjust(12, '0')}")


def _base36(number: int) -> str:
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    out = ""
    while number:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
    return out or "0"
