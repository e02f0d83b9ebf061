"""The Application with in-memory persistence, the in-memory information system (`system`) and a
clock moved by hand (SPEC B-1..B-3): who may, every path of the declaration saga (paid ->
accepted -> filed; declined, expired, quote expired -> rejected; a repeated or a second payment;
the period guard; a nil declaration accepted without a payment; the system down while filing),
the warrants' copy and the debts."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from business_service.application import EVERY_BUSINESS, BusinessApplication, DeclarationScope
from business_service.domainmodel import (
    DebtAlreadyPaid,
    DebtNotFound,
    Declaration,
    DeclarationAlreadyPaid,
    DeclarationInvalid,
    DeclarationNotFound,
    DeclarationRejected,
    NothingToPay,
    NotVerified,
    PaymentInProgress,
    PaymentRequired,
    PeriodAlreadyDeclared,
    ProfileIncomplete,
)
from business_service.integration import PUBLIC_EVENTS, handlers
from business_service.municipal_system import MunicipalSystemUnavailable
from business_service.workers import Filer
from portal_events.application import Idempotency
from portal_events.background import RetryPolicy
from portal_events.contracts import (
    Contract,
    PaymentCompletedV1,
    PaymentExpiredV1,
    PaymentFailedV1,
    ProfileUpdatedV1,
    TaxDeclarationAcceptedV1,
    TaxDeclarationFiledV1,
    TaxDeclarationRejectedV1,
    UserVerifiedV1,
    VerificationRevokedV1,
    WarrantIssuedV1,
    WarrantPaidV1,
)
from portal_events.payables import ATHENS

START = datetime(2026, 5, 15, 9, 0, tzinfo=ATHENS)  # April 2026 is over, due 31 May
AFM = "094014201"
REVENUE = 1_500_000  # 15.000,00 €: 75,00 € at 0.5 %


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def business_app(clock):
    app = BusinessApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, clock=clock)
    yield app
    app.close()


class Envelope:
    def __init__(self, sequence: int) -> None:
        self.sequence = sequence


def member(app, afm: str = AFM, *, complete: bool = True, verified: bool = True) -> UUID:
    """A business user of `afm`, as identity's events describe it."""
    user_id = uuid.uuid4()
    handle = handlers(app)
    profile = ProfileUpdatedV1(user_id=user_id, kind="business", afm=afm, profile_complete=complete)
    handle[ProfileUpdatedV1](Envelope(1), profile)
    if verified:
        verification = UserVerifiedV1(
            user_id=user_id, document_type="id_card", verified_by=uuid.uuid4(), verified_at=START
        )
        handle[UserVerifiedV1](Envelope(2), verification)
    return user_id


def declare(app, system, user: UUID, *, key: str | None = None, **fields: Any) -> UUID:
    body = {
        "period_type": "monthly",
        "period": 4,
        "year": 2026,
        "gross_revenue": REVENUE,
        "vat_return_date": date(2026, 5, 10),
    } | fields
    written = app.declare(
        business_id=user,
        afm=app.eligible_afm(user),
        system=system,
        idempotency=Idempotency.of(user, key, {k: str(v) for k, v in body.items()}),
        **body,
    )
    return UUID(written.result["declaration_id"])


def pay(app, user: UUID, declaration_id: UUID, key: str | None = None) -> UUID:
    written = app.start_declaration_payment(
        app.eligible_afm(user),
        declaration_id,
        payer_id=user,
        idempotency=Idempotency.of(user, key, {"declaration_id": str(declaration_id)}),
    )
    return UUID(written.result["payment_id"])


def completed(app, payable_id: UUID, payment_id: UUID, amount: int, *, debt: bool = False) -> None:
    contract = PaymentCompletedV1(
        payment_id=payment_id,
        payable_type="tax_debt" if debt else "tax_declaration",
        payable_id=payable_id,
        amount=amount,
        payer_id=uuid.uuid4(),
        completed_at=START,
    )
    handlers(app)[PaymentCompletedV1](Envelope(1), contract)


def failed(app, payable_id: UUID, payment_id: UUID, *, debt: bool = False) -> None:
    contract = PaymentFailedV1(
        payment_id=payment_id,
        payable_type="tax_debt" if debt else "tax_declaration",
        payable_id=payable_id,
        payer_id=uuid.uuid4(),
        reason="declined",
        failed_at=START,
    )
    handlers(app)[PaymentFailedV1](Envelope(1), contract)


def expired(app, payable_id: UUID, payment_id: UUID) -> None:
    contract = PaymentExpiredV1(
        payment_id=payment_id,
        payable_type="tax_declaration",
        payable_id=payable_id,
        payer_id=uuid.uuid4(),
        expired_at=START,
    )
    handlers(app)[PaymentExpiredV1](Envelope(1), contract)


def published(app, contract_type: type[Contract] | None = None) -> list[Any]:
    """Every public contract the relay would publish, oldest first (of one type)."""
    contracts = []
    for notification in app.recorder.select_notifications(start=1, limit=10_000):
        domain_event = app.mapper.to_domain_event(notification)
        translate = PUBLIC_EVENTS.get(type(domain_event))
        contract = translate(domain_event) if translate else None
        if contract is not None and (contract_type is None or type(contract) is contract_type):
            contracts.append(contract)
    return contracts


class PendingRow:
    """The filer's work list with one item on it (the real one is a PostgreSQL view)."""

    def __init__(self, item_id: UUID, kind: str) -> None:
        self.row = {"item_id": item_id, "kind": kind, "correlation_id": None}

    def claim_due(self, now: datetime):
        from contextlib import nullcontext

        return nullcontext(self.row)


def filer(app, system, clock, item_id: UUID, kind: str = "declaration") -> Filer:
    return Filer(
        app,
        PendingRow(item_id, kind),  # type: ignore[arg-type]
        system,
        RetryPolicy(base_seconds=10, max_seconds=60, jitter=0),
        clock=clock,
    )


# --- who may (ID-3) ----------------------------------------------------------------------------


def test_a_verified_business_with_a_complete_profile_acts_for_its_afm(business_app):
    assert business_app.eligible_afm(member(business_app)) == AFM


def test_incomplete_unverified_unknown_and_revoked_are_refused(business_app):
    with pytest.raises(ProfileIncomplete):
        business_app.eligible_afm(member(business_app, complete=False))
    with pytest.raises(NotVerified):
        business_app.eligible_afm(member(business_app, verified=False))
    with pytest.raises(ProfileIncomplete):  # identity has said nothing of it yet
        business_app.eligible_afm(uuid.uuid4())
    citizen = uuid.uuid4()
    profile = ProfileUpdatedV1(user_id=citizen, kind="citizen", afm=AFM, profile_complete=True)
    handlers(business_app)[ProfileUpdatedV1](Envelope(1), profile)
    with pytest.raises(ProfileIncomplete):
        business_app.eligible_afm(citizen)

    revoked = member(business_app)
    handlers(business_app)[VerificationRevokedV1](
        Envelope(3),
        VerificationRevokedV1(
            user_id=revoked, reason="forged", revoked_by=uuid.uuid4(), revoked_at=START
        ),
    )
    with pytest.raises(NotVerified):
        business_app.eligible_afm(revoked)


def test_an_older_report_from_identity_changes_nothing(business_app):
    user = member(business_app)
    stale = ProfileUpdatedV1(user_id=user, kind="business", afm=AFM, profile_complete=False)
    handlers(business_app)[ProfileUpdatedV1](Envelope(1), stale)  # version 1 again
    assert business_app.eligible_afm(user) == AFM
    assert business_app.members(AFM) == [user]


def test_another_afms_declaration_is_not_found(business_app, system):
    declaration_id = declare(business_app, system, member(business_app))
    other = member(business_app, "123456783")
    with pytest.raises(DeclarationNotFound):
        business_app.declaration("123456783", declaration_id)
    with pytest.raises(DeclarationNotFound):
        pay(business_app, other, declaration_id)
    with pytest.raises(DeclarationNotFound):
        business_app.declaration(AFM, uuid.uuid4())


def test_the_revenue_departments_scope_reads_every_businesss_declaration_as_its_owner_x3(
    business_app, system
):
    """X-3: the worklist's link is worked by revenue, who read any business's declaration,
    the same declaration and history its owner reads; a business's scope holds only its own."""
    declaration_id = declare(business_app, system, member(business_app))
    owners = business_app.declaration_history(DeclarationScope(afm=AFM), declaration_id)
    revenues = business_app.declaration_history(EVERY_BUSINESS, declaration_id)
    assert revenues[0].afm == AFM and revenues[0].version == owners[0].version
    assert [type(e) for e in revenues[1]] == [type(e) for e in owners[1]]
    with pytest.raises(DeclarationNotFound):
        business_app.declaration_history(DeclarationScope(afm="123456783"), declaration_id)
    with pytest.raises(DeclarationNotFound):
        business_app.declaration_history(EVERY_BUSINESS, uuid.uuid4())


def test_a_quote_run_out_is_rejected_for_every_reader_alike_x3(business_app, system, clock):
    """Whoever looks first, the revenue department or the business, a quote past its time is
    rejected (`quote_expired`): both read the same status."""
    declaration_id = declare(business_app, system, member(business_app))
    clock.advance(hours=25)
    declaration, _ = business_app.declaration_history(EVERY_BUSINESS, declaration_id)
    assert (declaration.status, declaration.rejection_reason) == ("rejected", "quote_expired")
    assert business_app.declaration(AFM, declaration_id).version == declaration.version


# --- B-2: declaring -----------------------------------------------------------------------------


def test_a_declaration_is_quoted_from_the_systems_category_b2(business_app, system):
    system.categories[AFM] = "special"
    declaration = business_app.declaration(AFM, declare(business_app, system, member(business_app)))
    assert declaration.status == "quoted"
    assert declaration.category == "special"
    quote = declaration.quote
    assert (quote["tax"], quote["surcharges"], quote["total"]) == (75_000, 0, 75_000)
    assert quote["valid_until"] == START + timedelta(hours=24)
    assert quote["breakdown"]["deadline"] == "2026-05-31"
    assert declaration.reference.startswith("RF")


def test_a_late_declaration_owes_surcharges_b2(business_app, system, clock):
    clock.now = datetime(2026, 7, 2, 10, 0, tzinfo=ATHENS)  # April due 31 May: 2 months started
    declaration_id = declare(business_app, system, member(business_app))
    quote = business_app.declaration(AFM, declaration_id).quote
    assert (quote["tax"], quote["breakdown"]["months_late"]) == (7_500, 2)
    assert quote["surcharges"] == 110  # 7500 * 0.73 % * 2 = 109.5 -> 110
    assert quote["total"] == 7_610


def test_invalid_fields_are_refused_naming_them_and_nothing_is_asked_b2(business_app, system):
    user = member(business_app)
    with pytest.raises(DeclarationInvalid) as refused:
        declare(business_app, system, user, period=13, gross_revenue=-1)
    assert set(refused.value.problems) == {"period", "gross_revenue"}
    with pytest.raises(DeclarationInvalid) as refused:
        declare(business_app, system, user, period=5, vat_return_date=date(2026, 5, 15))
    assert set(refused.value.problems) == {"period"}  # May is not over
    with pytest.raises(DeclarationInvalid) as refused:
        declare(business_app, system, user, vat_return_date=date(2026, 5, 16))
    assert set(refused.value.problems) == {"vat_return_date"}
    assert system.calls == []


def test_a_period_filed_at_the_municipality_is_declared_already_b2(business_app, system):
    system.file_at_the_counter(AFM, "quarterly", 1, 2026)
    user = member(business_app)
    with pytest.raises(PeriodAlreadyDeclared):
        declare(business_app, system, user, period_type="quarterly", period=1)
    declare(business_app, system, user, period_type="monthly", period=1)  # another period


def test_the_system_down_while_declaring_records_nothing_b2(business_app, system):
    user = member(business_app)
    system.down = True
    with pytest.raises(MunicipalSystemUnavailable):
        declare(business_app, system, user, key="k1")
    system.down = False
    first = declare(business_app, system, user, key="k1")  # the same key: now recorded
    assert declare(business_app, system, user, key="k1") == first
    assert len(published(business_app)) == 0


# --- B-2: the saga ------------------------------------------------------------------------------


def test_paid_accepted_filed_b2(business_app, system, clock):
    user = member(business_app)
    declaration_id = declare(business_app, system, user)
    payment_id = pay(business_app, user, declaration_id)
    assert pay(business_app, user, declaration_id) == payment_id  # the open one again
    assert business_app.declaration(AFM, declaration_id).status == "payment_pending"
    [requested] = [c for c in published(business_app) if c.TYPE == "PaymentRequested"]
    assert (requested.payable_type, requested.payable_id) == ("tax_declaration", declaration_id)
    assert (requested.amount, requested.payer_id) == (7_500, user)

    completed(business_app, declaration_id, payment_id, 7_500)
    accepted = business_app.declaration(AFM, declaration_id)
    assert (accepted.status, accepted.paid_payment_id, accepted.filing_due) == (
        "accepted",
        payment_id,
        True,
    )
    [contract] = published(business_app, TaxDeclarationAcceptedV1)
    assert (contract.total, contract.payment_id, contract.business_id) == (7_500, payment_id, user)

    assert filer(business_app, system, clock, declaration_id).process_one()
    filed = business_app.declaration(AFM, declaration_id)
    assert filed.receipt is not None and not filed.filing_due
    [filing] = [f for f, _ in system.filings.values()]
    assert (filing.declaration_id, filing.total, filing.payment_id) == (
        declaration_id,
        7_500,
        payment_id,
    )
    [told] = published(business_app, TaxDeclarationFiledV1)
    assert told.receipt == filed.receipt
    with pytest.raises(DeclarationAlreadyPaid):
        pay(business_app, user, declaration_id)


@pytest.mark.parametrize(
    ("outcome", "reason"),
    [(failed, "payment_failed"), (expired, "payment_expired")],
)
def test_declined_or_expired_is_rejected_and_the_period_can_be_declared_again_b2(
    business_app, system, outcome, reason
):
    user = member(business_app)
    declaration_id = declare(business_app, system, user)
    payment_id = pay(business_app, user, declaration_id)
    outcome(business_app, declaration_id, payment_id)
    rejected = business_app.declaration(AFM, declaration_id)
    assert (rejected.status, rejected.rejection_reason, rejected.filing_due) == (
        "rejected",
        reason,
        False,
    )
    [contract] = published(business_app, TaxDeclarationRejectedV1)
    assert contract.reason == reason
    with pytest.raises(DeclarationRejected):
        pay(business_app, user, declaration_id)

    again = declare(business_app, system, user)  # the period is free again
    completed(business_app, again, pay(business_app, user, again), 7_500)
    assert business_app.declaration(AFM, again).status == "accepted"


def test_a_quote_expired_before_payment_is_rejected_b2(business_app, system, clock):
    user = member(business_app)
    declaration_id = declare(business_app, system, user)
    clock.advance(hours=23, minutes=59)
    assert not business_app.expire_quote(declaration_id)
    clock.advance(minutes=1)
    with pytest.raises(DeclarationRejected):
        pay(business_app, user, declaration_id)
    rejected = business_app.declaration(AFM, declaration_id)
    assert (rejected.status, rejected.rejection_reason) == ("rejected", "quote_expired")
    [contract] = published(business_app, TaxDeclarationRejectedV1)
    assert contract.reason == "quote_expired"
    assert not business_app.expire_quote(declaration_id)  # once
    declare(business_app, system, user)  # submitted again


def test_a_payment_started_in_time_is_not_expired_by_its_quote_b2(business_app, system, clock):
    user = member(business_app)
    declaration_id = declare(business_app, system, user)
    payment_id = pay(business_app, user, declaration_id)
    clock.advance(days=2)
    assert not business_app.expire_quote(declaration_id)
    completed(business_app, declaration_id, payment_id, 7_500)
    assert business_app.declaration(AFM, declaration_id).status == "accepted"


def test_a_duplicate_payment_completed_changes_nothing_b2(business_app, system):
    user = member(business_app)
    declaration_id = declare(business_app, system, user)
    payment_id = pay(business_app, user, declaration_id)
    completed(business_app, declaration_id, payment_id, 7_500)
    before = business_app.declaration(AFM, declaration_id).version
    completed(business_app, declaration_id, payment_id, 7_500)
    failed(business_app, declaration_id, payment_id)  # news of a settled payment, late
    assert business_app.declaration(AFM, declaration_id).version == before
    assert len(published(business_app, TaxDeclarationAcceptedV1)) == 1


def test_another_payment_completing_is_a_refund_never_a_second_acceptance_b2(business_app, system):
    user = member(business_app)
    declaration_id = declare(business_app, system, user)
    payment_id = pay(business_app, user, declaration_id)
    completed(business_app, declaration_id, payment_id, 7_500)
    stray = uuid.uuid4()
    completed(business_app, declaration_id, stray, 7_500)
    completed(business_app, declaration_id, stray, 7_500)  # repeated: recorded once
    declaration = business_app.declaration(AFM, declaration_id)
    assert (declaration.status, declaration.paid_payment_id) == ("accepted", payment_id)
    assert declaration.refunds_needed == [stray]
    assert len(published(business_app, TaxDeclarationAcceptedV1)) == 1


def test_a_late_completion_of_a_rejected_declaration_is_a_refund_b2(business_app, system):
    user = member(business_app)
    declaration_id = declare(business_app, system, user)
    payment_id = pay(business_app, user, declaration_id)
    expired(business_app, declaration_id, payment_id)
    completed(business_app, declaration_id, payment_id, 7_500)  # the bank answered late
    declaration = business_app.declaration(AFM, declaration_id)
    assert (declaration.status, declaration.refunds_needed) == ("rejected", [payment_id])
    assert published(business_app, TaxDeclarationAcceptedV1) == []


def test_two_declarations_of_a_period_never_both_hold_a_payment_b2(business_app, system):
    """The period guard: one open payment per period; once one is accepted, no other is paid."""
    user, colleague = member(business_app), member(business_app)
    first = declare(business_app, system, user)
    second = declare(business_app, system, colleague)
    payment_id = pay(business_app, user, first)
    with pytest.raises(PaymentInProgress):
        pay(business_app, colleague, second)
    with pytest.raises(PeriodAlreadyDeclared):  # being paid: not declared a third time
        declare(business_app, system, colleague)
    completed(business_app, first, payment_id, 7_500)
    with pytest.raises(PeriodAlreadyDeclared):
        pay(business_app, colleague, second)
    with pytest.raises(PeriodAlreadyDeclared):
        declare(business_app, system, colleague)
    assert business_app.declaration(AFM, second).status == "quoted"


def test_two_declarations_racing_to_pay_one_wins_the_other_retries_and_loses_b2(
    business_app, system
):
    """Both read the period free; the second save conflicts on the guard, is retried, and then
    finds it held (the guard is saved with the declaration, in one transaction)."""
    user = member(business_app)
    first, second = declare(business_app, system, user), declare(business_app, system, user)
    real_guard = business_app._guard
    raced: list[UUID] = []

    def guard_then_let_the_other_win(declaration: Declaration):
        guard = real_guard(declaration)
        if declaration.id == second and not raced:  # `first` pays in between
            business_app._guard = real_guard
            raced.append(pay(business_app, user, first))
        return guard

    business_app._guard = guard_then_let_the_other_win
    with pytest.raises(PaymentInProgress):
        pay(business_app, user, second)
    assert len(raced) == 1
    statuses = {business_app.declaration(AFM, d).status for d in (first, second)}
    assert statuses == {"payment_pending", "quoted"}


def test_the_same_idempotency_key_is_one_payment_b2(business_app, system):
    user = member(business_app)
    declaration_id = declare(business_app, system, user)
    assert pay(business_app, user, declaration_id, key="p") == pay(
        business_app, user, declaration_id, key="p"
    )
    requested = [c for c in published(business_app) if c.TYPE == "PaymentRequested"]
    assert len(requested) == 1


# --- B-2: a nil declaration (a period without receipts) ----------------------------------------


def accept_nil(app, user: UUID, declaration_id: UUID, key: str | None = None) -> dict[str, Any]:
    """What paying a nil declaration answers (the application's result)."""
    written = app.start_declaration_payment(
        app.eligible_afm(user),
        declaration_id,
        payer_id=user,
        idempotency=Idempotency.of(user, key, {"declaration_id": str(declaration_id)}),
    )
    return written.result


def test_a_nil_declaration_is_accepted_at_once_without_a_payment_then_filed_b2(
    business_app, system, clock
):
    """Revenue 0 is allowed (B-2: revenue >= 0), so a nil declaration, which has nothing to pay,
    is accepted at once and filed like any other; no payment of zero is ever requested."""
    user = member(business_app)
    declaration_id = declare(business_app, system, user, gross_revenue=0)
    assert business_app.declaration(AFM, declaration_id).quote["total"] == 0

    assert accept_nil(business_app, user, declaration_id) == {"payment_id": None, "amount": 0}
    accepted = business_app.declaration(AFM, declaration_id)
    assert (accepted.status, accepted.paid_payment_id, accepted.filing_due) == (
        "accepted",
        None,
        True,
    )
    assert [c.TYPE for c in published(business_app)] == ["TaxDeclarationAccepted"]
    [contract] = published(business_app, TaxDeclarationAcceptedV1)
    assert (contract.total, contract.payment_id, contract.business_id) == (0, None, user)

    assert filer(business_app, system, clock, declaration_id).process_one()
    assert business_app.declaration(AFM, declaration_id).receipt is not None
    [filing] = [f for f, _ in system.filings.values()]
    assert (filing.total, filing.payment_id, filing.paid_at) == (0, None, None)
    assert len(published(business_app, TaxDeclarationFiledV1)) == 1


def test_a_nil_declaration_accepted_answers_the_same_again_b2(business_app, system):
    user = member(business_app)
    declaration_id = declare(business_app, system, user, gross_revenue=0)
    first = accept_nil(business_app, user, declaration_id, key="nil")
    version = business_app.declaration(AFM, declaration_id).version
    assert accept_nil(business_app, user, declaration_id, key="nil") == first
    assert accept_nil(business_app, user, declaration_id) == first  # without a key, too
    assert business_app.declaration(AFM, declaration_id).version == version
    assert len(published(business_app, TaxDeclarationAcceptedV1)) == 1


def test_a_nil_declaration_keeps_the_period_guard_b2(business_app, system):
    """As a payment would: not while another declaration of the period is being paid, nor
    after one is accepted; once the nil one is accepted, the period is declared."""
    user = member(business_app)
    nil = declare(business_app, system, user, gross_revenue=0)
    paid = declare(business_app, system, user)
    payment_id = pay(business_app, user, paid)
    with pytest.raises(PaymentInProgress):
        accept_nil(business_app, user, nil)
    assert business_app.declaration(AFM, nil).status == "quoted"
    completed(business_app, paid, payment_id, 7_500)
    with pytest.raises(PeriodAlreadyDeclared):
        accept_nil(business_app, user, nil)

    other_month = {"period": 3, "vat_return_date": date(2026, 4, 10)}
    quoted = declare(business_app, system, user, **other_month)
    nil_march = declare(business_app, system, user, gross_revenue=0, **other_month)
    accept_nil(business_app, user, nil_march)
    with pytest.raises(PeriodAlreadyDeclared):
        pay(business_app, user, quoted)
    with pytest.raises(PeriodAlreadyDeclared):
        declare(business_app, system, user, **other_month)


def test_a_nil_declaration_whose_quote_ran_out_is_rejected_b2(business_app, system, clock):
    user = member(business_app)
    declaration_id = declare(business_app, system, user, gross_revenue=0)
    clock.advance(hours=24)
    with pytest.raises(DeclarationRejected):
        accept_nil(business_app, user, declaration_id)
    assert published(business_app, TaxDeclarationAcceptedV1) == []


def test_never_accepted_without_a_completed_payment_when_there_is_something_to_pay_b2(
    business_app, system
):
    user = member(business_app)
    declaration = business_app.declaration(AFM, declare(business_app, system, user))
    with pytest.raises(PaymentRequired):
        declaration.accept_nil()
    nil = business_app.declaration(AFM, declare(business_app, system, user, gross_revenue=0))
    with pytest.raises(NothingToPay):  # and a nil one is never asked to pay zero
        nil.start_payment(uuid.uuid4(), user, "zero")


# --- B-2: filing, the system down ---------------------------------------------------------------


def accepted_declaration(app, system) -> UUID:
    user = member(app)
    declaration_id = declare(app, system, user)
    completed(app, declaration_id, pay(app, user, declaration_id), 7_500)
    return declaration_id


def test_the_system_down_while_filing_is_retried_and_filed_once_when_back_b2(
    business_app, system, clock
):
    declaration_id = accepted_declaration(business_app, system)
    worker = filer(business_app, system, clock, declaration_id)
    system.down = True
    assert worker.process_one()
    first_failure = business_app.declaration(AFM, declaration_id)
    assert first_failure.filing_attempts == 1
    assert first_failure.next_filing_at == clock.now + timedelta(seconds=10)
    # Not due yet (the work list may lag behind the failure): the system is not asked.
    calls = len(system.calls)
    assert not worker.process_one()
    assert len(system.calls) == calls
    clock.advance(seconds=10)
    assert worker.process_one()
    second_failure = business_app.declaration(AFM, declaration_id)
    assert second_failure.filing_attempts == 2
    assert second_failure.next_filing_at == clock.now + timedelta(seconds=20)  # backing off

    system.down = False
    clock.advance(seconds=20)
    assert worker.process_one()
    filed = business_app.declaration(AFM, declaration_id)
    assert filed.receipt is not None and not filed.filing_due
    assert not worker.process_one()  # filed: nothing more to do
    assert len(system.filings) == 1
    assert len(published(business_app, TaxDeclarationFiledV1)) == 1


def test_our_own_declaration_refused_as_filed_already_is_filed_b2(business_app, system, clock):
    """A lost answer: the system filed it, and answers the retry 409 naming our own id."""
    declaration_id = accepted_declaration(business_app, system)
    system.file_declaration(business_app.filing_of(business_app.declaration(AFM, declaration_id)))
    system.refuses_own_filing_again = True
    assert filer(business_app, system, clock, declaration_id).process_one()
    filed = business_app.declaration(AFM, declaration_id)
    assert (filed.receipt, filed.filing_refused) == (str(declaration_id), False)
    assert len(published(business_app, TaxDeclarationFiledV1)) == 1


def test_another_declaration_filed_at_the_counter_meanwhile_needs_a_person_b2(
    business_app, system, clock
):
    declaration_id = accepted_declaration(business_app, system)
    system.file_at_the_counter(AFM, "monthly", 4, 2026)
    assert filer(business_app, system, clock, declaration_id).process_one()
    refused = business_app.declaration(AFM, declaration_id)
    assert (refused.filing_refused, refused.receipt, refused.filing_due) == (True, None, False)
    assert published(business_app, TaxDeclarationFiledV1) == []


# --- B-1: the warrants' copy --------------------------------------------------------------------


def test_a_new_warrant_is_issued_once_and_paid_once_b1(business_app, system, clock):
    user = member(business_app)
    system.issue_warrant(AFM, "ΧΕ-2026/1", 125_000, date(2026, 5, 2))
    assert business_app.sync_warrants(AFM, system, record_sync=True) is not None
    assert business_app.sync_warrants(AFM, system, record_sync=False) is None  # nothing new
    [issued] = published(business_app, WarrantIssuedV1)
    assert (issued.number, issued.amount, issued.recipients) == ("ΧΕ-2026/1", 125_000, [user])

    system.pay_warrant(AFM, "ΧΕ-2026/1", date(2026, 5, 14))
    business_app.sync_warrants(AFM, system, record_sync=False)
    business_app.sync_warrants(AFM, system, record_sync=False)
    [paid] = published(business_app, WarrantPaidV1)
    assert (paid.number, paid.paid_on, paid.recipients) == ("ΧΕ-2026/1", date(2026, 5, 14), [user])
    assert len(published(business_app, WarrantIssuedV1)) == 1


def test_a_warrant_first_seen_paid_is_recorded_paid_b1(business_app, system):
    system.issue_warrant(AFM, "ΧΕ-2025/9", 50_000, date(2025, 12, 1))
    system.pay_warrant(AFM, "ΧΕ-2025/9", date(2025, 12, 20))
    business_app.sync_warrants(AFM, system, record_sync=True)
    business_app.sync_warrants(AFM, system, record_sync=True)
    [seen] = published(business_app, WarrantIssuedV1)
    assert seen.number == "ΧΕ-2025/9"
    assert published(business_app, WarrantPaidV1) == []  # never seen issued: no news of paying


def test_the_system_down_while_syncing_records_nothing_b1(business_app, system):
    system.issue_warrant(AFM, "ΧΕ-2026/2", 10_000, date(2026, 5, 3))
    system.down = True
    with pytest.raises(MunicipalSystemUnavailable):
        business_app.sync_warrants(AFM, system, record_sync=True)
    assert published(business_app) == []


# --- B-3: debts ---------------------------------------------------------------------------------

DEBT = "BO-2026-000007"


def pay_debt(app, system, user: UUID, debt_id: str = DEBT) -> tuple[UUID, int]:
    written = app.start_debt_payment(
        app.eligible_afm(user), debt_id, payer_id=user, system=system, idempotency=None
    )
    return UUID(written.result["payment_id"]), written.result["amount"]


def test_debts_are_quoted_now_with_their_surcharges_b3(business_app, system):
    system.assess_debt(AFM, DEBT, 42_000, date(2026, 3, 10))  # late from 10 April: 2 months
    [line] = business_app.debts(AFM, system)
    assert (line.status, line.quote.tax, line.quote.surcharges) == ("open", 42_000, 613)
    assert line.reference.startswith("RF")
    assert business_app.debt(AFM, DEBT, system).quote.total == 42_613
    with pytest.raises(DebtNotFound):
        business_app.debt("123456783", DEBT, system)  # another ΑΦΜ's


def test_a_paid_debt_is_reported_durably_and_cannot_be_paid_again_b3(business_app, system, clock):
    system.assess_debt(AFM, DEBT, 42_000, date(2026, 5, 1))
    user = member(business_app)
    payment_id, amount = pay_debt(business_app, system, user)
    assert amount == 42_000
    assert pay_debt(business_app, system, user) == (payment_id, amount)  # the open one again
    assert business_app.debt(AFM, DEBT, system).status == "payment_pending"
    [requested] = [c for c in published(business_app) if c.TYPE == "PaymentRequested"]
    assert (requested.payable_type, requested.amount) == ("tax_debt", 42_000)

    debt_uuid = requested.payable_id
    completed(business_app, debt_uuid, payment_id, amount, debt=True)
    assert business_app.debt(AFM, DEBT, system).status == "paid"
    with pytest.raises(DebtAlreadyPaid):
        pay_debt(business_app, system, user)

    worker = filer(business_app, system, clock, debt_uuid, "debt_payment")
    system.down = True
    assert worker.process_one()
    assert business_app.unreported_debt(debt_uuid).report_attempts == 1
    system.down = False
    clock.advance(minutes=1)
    assert worker.process_one()
    assert business_app.unreported_debt(debt_uuid) is None
    assert system.debt_payments[DEBT] == payment_id
    line = business_app.debt(AFM, DEBT, system)
    assert (line.status, line.payment_id, line.paid_amount) == ("paid", payment_id, 42_000)


def test_a_debt_paid_at_the_counter_meanwhile_is_not_reported_again_b3(business_app, system, clock):
    """`DebtAlreadyPaid` from the adapter: ours is one payment too many, to be refunded; the
    system is not asked again."""
    system.assess_debt(AFM, DEBT, 42_000, date(2026, 5, 1))
    user = member(business_app)
    payment_id, amount = pay_debt(business_app, system, user)
    system.pay_debt_at_the_counter(DEBT, START)
    debt_uuid = published(business_app)[-1].payable_id
    completed(business_app, debt_uuid, payment_id, amount, debt=True)
    assert filer(business_app, system, clock, debt_uuid, "debt_payment").process_one()
    debt = business_app._debt(debt_uuid)
    assert (debt.reported, debt.refunds_needed) == (True, [payment_id])
    assert business_app.unreported_debt(debt_uuid) is None


def test_a_debt_paid_at_the_counter_is_not_offered_for_payment_again_b3(business_app, system):
    system.assess_debt(AFM, DEBT, 42_000, date(2026, 5, 1))
    user = member(business_app)
    pay_debt(business_app, system, user)  # open here
    system.pay_debt_at_the_counter(DEBT, START)
    with pytest.raises(DebtAlreadyPaid):
        pay_debt(business_app, system, user)


def test_a_failed_debt_payment_can_be_tried_again_b3(business_app, system):
    system.assess_debt(AFM, DEBT, 42_000, date(2026, 5, 1))
    user = member(business_app)
    payment_id, _ = pay_debt(business_app, system, user)
    debt_uuid = published(business_app)[-1].payable_id
    failed(business_app, debt_uuid, payment_id, debt=True)
    assert business_app.debt(AFM, DEBT, system).status == "open"
    again, _ = pay_debt(business_app, system, user)
    assert again != payment_id


def test_the_system_down_answers_no_debts_b3(business_app, system):
    system.down = True
    with pytest.raises(MunicipalSystemUnavailable):
        business_app.debts(AFM, system)
