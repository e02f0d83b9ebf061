"""The Application with in-memory persistence, a fake register and a clock moved by hand
(SPEC F-1, F-4..F-6): re-quoting over time, exactly-once payment outcomes, what is published."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fines_service.application import EVERYTHING, FinesApplication, Scope
from fines_service.domainmodel import (
    Fine,
    FineAlreadyPaid,
    FineNotFound,
    ProfileIncomplete,
    RegisterUnavailable,
)
from fines_service.integration import PUBLIC_EVENTS, handlers
from fines_service.register import RegisteredFine
from portal_events.application import Idempotency
from portal_events.contracts import PaymentCompletedV1, PaymentExpiredV1, ProfileUpdatedV1
from portal_events.envelope import Envelope

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


class FakeRegister:
    """Holds fines by number; `down` makes every call fail as an outage does."""

    def __init__(self) -> None:
        self.fines: dict[str, RegisteredFine] = {}
        self.keys: dict[str, uuid.UUID] = {}
        self.down = False

    def lookup(self, fine_number: str, plate: str) -> RegisteredFine | None:
        if self.down:
            raise RegisterUnavailable("down")
        fine = self.fines.get(fine_number)
        return fine if fine is not None and fine.plate == plate else None

    def record(self, key: uuid.UUID, **fine: object) -> RegisteredFine:
        if self.down:
            raise RegisterUnavailable("down")
        if fine["fine_number"] not in self.fines:
            self.fines[fine["fine_number"]] = RegisteredFine(**fine, paid=False)  # type: ignore[arg-type]
            self.keys[fine["fine_number"]] = key  # type: ignore[index]
        return self.fines[fine["fine_number"]]  # type: ignore[index]


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def register():
    return FakeRegister()


@pytest.fixture
def fines(clock):
    app = FinesApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, clock=clock)
    yield app
    app.close()


def look_up(fines, register, user_id, number="123456", plate="YZA1234", issued_at=START):
    return fines.lookup(
        user_id=user_id,
        municipality_code="5101",
        fine_type="P-69",
        fine_number=number,
        plate=plate,
        issued_at=issued_at,
        register=register,
    )


def events_of(fines, fine_id, event_class):
    return [e for e in fines.events.get(fine_id) if isinstance(e, event_class)]


def test_an_outage_records_nothing_and_the_retry_registers_once_f4(fines, register):
    user = uuid.uuid4()
    register.down = True
    with pytest.raises(RegisterUnavailable):
        look_up(fines, register, user)
    assert list(fines.recorder.select_notifications(start=1, limit=10)) == []
    register.down = False
    first = look_up(fines, register, user)
    again = look_up(fines, register, user)
    assert (first.found, again.found) == (False, True)
    assert register.keys == {"123456": first.fine.id}
    assert len(events_of(fines, first.fine.id, Fine.Recorded)) == 1


def test_payment_of_an_expired_quote_is_requoted_and_charges_the_new_total_f5(
    fines, register, clock
):
    user = uuid.uuid4()
    fine = look_up(fines, register, user, issued_at=START - timedelta(days=59)).fine
    assert fine.quote["total"] == 3000
    clock.now = fine.quote["valid_until"] + timedelta(days=40)  # two months late
    written = fines.start_payment(fine.id, payer_id=user, idempotency=None)
    assert written.result["amount"] == 3000 + 2 * 22  # 0.73 % of 30,00 € a month, rounded
    quotes = events_of(fines, fine.id, Fine.Quoted)
    assert [q.total for q in quotes] == [3000, 3044]
    [started] = events_of(fines, fine.id, Fine.PaymentStarted)
    assert started.amount == 3044
    assert started.description == "Πρόστιμο ΚΟΚ 123456 – ΥΖΑ1234 (30,44 €)"


def test_a_lookup_within_the_quote_records_no_new_quote_f5(fines, register, clock):
    user = uuid.uuid4()
    fine = look_up(fines, register, user).fine
    clock.now += timedelta(hours=1)
    look_up(fines, register, user)
    assert len(events_of(fines, fine.id, Fine.Quoted)) == 1
    clock.now += timedelta(days=2)  # past the quote's 24 hours: quoted again, same amount
    look_up(fines, register, user)
    assert [q.total for q in events_of(fines, fine.id, Fine.Quoted)] == [3000, 3000]


def test_payment_requested_is_published_with_the_rf_code_f6(fines, register):
    user = uuid.uuid4()
    fine = look_up(fines, register, user).fine
    written = fines.start_payment(fine.id, payer_id=user, idempotency=None)
    [started] = events_of(fines, fine.id, Fine.PaymentStarted)
    contract = PUBLIC_EVENTS[Fine.PaymentStarted](started)
    assert contract.payment_id == uuid.UUID(written.result["payment_id"])
    assert (contract.payable_type, contract.payable_id) == ("fine", fine.id)
    assert (contract.amount, contract.currency, contract.payer_id) == (3000, "EUR", user)
    assert contract.reference == fine.reference
    assert contract.reference.startswith("RF")


def test_the_same_key_twice_is_one_payment(fines, register):
    user = uuid.uuid4()
    fine = look_up(fines, register, user).fine
    key = Idempotency.of(user, "key-0001", {"fine_id": str(fine.id)})
    first = fines.start_payment(fine.id, payer_id=user, idempotency=key)
    second = fines.start_payment(fine.id, payer_id=user, idempotency=key)
    assert first.result == second.result
    assert second.position is None
    assert len(events_of(fines, fine.id, Fine.PaymentStarted)) == 1


def test_outcomes_apply_once_and_only_to_the_open_payment_f6(fines, register):
    user = uuid.uuid4()
    fine = look_up(fines, register, user).fine
    payment_id = uuid.UUID(
        fines.start_payment(fine.id, payer_id=user, idempotency=None).result["payment_id"]
    )
    handle = handlers(fines)
    expired = PaymentExpiredV1(
        payment_id=uuid.uuid4(),  # not this fine's open payment: ignored
        payable_type="fine",
        payable_id=fine.id,
        payer_id=user,
        expired_at=START,
    )
    handle[PaymentExpiredV1](None, expired)
    assert fines.fine(fine.id, scope=EVERYTHING).status == "payment_pending"
    completed = PaymentCompletedV1(
        payment_id=payment_id,
        payable_type="fine",
        payable_id=fine.id,
        amount=3000,
        payer_id=user,
        completed_at=START,
    )
    handle[PaymentCompletedV1](None, completed)
    handle[PaymentCompletedV1](None, completed)
    handle[PaymentExpiredV1](None, replace_payment(expired, payment_id))  # too late: paid
    assert len(events_of(fines, fine.id, Fine.Paid)) == 1
    assert fines.fine(fine.id, scope=EVERYTHING).status == "paid"
    with pytest.raises(FineAlreadyPaid):
        fines.start_payment(fine.id, payer_id=user, idempotency=None)
    # Another payable's payment on the same topic is not ours.
    handle[PaymentCompletedV1](None, completed.model_copy(update={"payable_type": "tax_debt"}))


def replace_payment(contract, payment_id):
    return contract.model_copy(update={"payment_id": payment_id})


def test_profiles_follow_identitys_latest_report_f1(fines):
    user = uuid.uuid4()
    with pytest.raises(ProfileIncomplete):
        fines.require_complete_profile(user)
    handle = handlers(fines)[ProfileUpdatedV1]

    def report(complete: bool, sequence: int) -> None:
        contract = ProfileUpdatedV1(
            user_id=user, kind="citizen", profile_complete=complete, display_name="Μαρία"
        )
        envelope = Envelope(
            event_id=uuid.uuid4(),
            type=contract.TYPE,
            version=contract.VERSION,
            source="identity",
            subject=str(user),
            sequence=sequence,
            occurred_at=START,
            data=contract.model_dump(mode="json"),
        )
        handle(envelope, contract)

    report(True, 3)
    fines.require_complete_profile(user)
    report(False, 2)  # an older report, delivered late: changes nothing
    fines.require_complete_profile(user)
    report(False, 4)
    with pytest.raises(ProfileIncomplete):
        fines.require_complete_profile(user)


def test_holders_see_their_fines_and_no_one_elses(fines, register):
    owner, stranger = uuid.uuid4(), uuid.uuid4()
    fine = look_up(fines, register, owner).fine
    assert fines.fine(fine.id, scope=Scope(holder_id=owner)).id == fine.id
    with pytest.raises(FineNotFound):
        fines.fine(fine.id, scope=Scope(holder_id=stranger))
    with pytest.raises(FineNotFound):
        fines.start_payment(fine.id, payer_id=stranger, idempotency=None)


def test_a_fine_paid_in_the_register_cannot_be_paid_here(fines, register):
    register.fines["555"] = RegisteredFine("555", "AB12", "P-40", START, 8000, paid=True)
    user = uuid.uuid4()
    found = look_up(fines, register, user, number="555", plate="AB12")
    assert (found.found, found.fine.status, fines.current_quote(found.fine)) == (True, "paid", None)
    with pytest.raises(FineAlreadyPaid):
        fines.start_payment(found.fine.id, payer_id=user, idempotency=None)
