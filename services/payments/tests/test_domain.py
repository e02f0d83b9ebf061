"""The payment's state machine and the one-open-payment guard (issue 7 "services/payments";
SPEC P-2: a payment is final once, a payable is never paid twice). In-memory persistence."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from payments_service.application import PaymentsApplication
from payments_service.domainmodel import PayableGuard, Payment, PaymentNotFound, guard_id
from payments_service.integration import PUBLIC_EVENTS, handlers
from portal_events.application import event_name
from portal_events.contracts import (
    PaymentCompletedV1,
    PaymentExpiredV1,
    PaymentFailedV1,
    PaymentRequestedV1,
)

AMOUNT = 12345


@pytest.fixture
def app():
    application = PaymentsApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    yield application
    application.close()


def request(app, payable_id=None, payment_id=None, amount=AMOUNT, payer_id=None):
    payment_id = payment_id or uuid.uuid4()
    created = app.request_payment(
        payment_id=payment_id,
        payable_type="fine",
        payable_id=payable_id or uuid.uuid4(),
        amount=amount,
        currency="EUR",
        description="Κλήση ΚΟΚ 12345",
        reference="RF18539007547034",
        payer_id=payer_id or uuid.uuid4(),
        requested_at=datetime.now(UTC),
    )
    return payment_id, created


def names(app, payment_id):
    return [event_name(e) for e in app.events.get(payment_id)]


def test_a_payment_goes_to_the_bank_then_completes_once_p2(app):
    payment_id, created = request(app)
    assert created is not None and created.status == "created"
    assert app.record_session(payment_id, "cs_1", "http://bank/pay/cs_1").status == "awaiting_bank"
    # The same session again changes nothing.
    app.record_session(payment_id, "cs_1", "http://bank/pay/cs_1")

    assert app.record_success(payment_id, transaction_id="tx_1", amount=AMOUNT, source="t") == (
        "applied"
    )
    # The same success again (a duplicate notification, or the reconciler) changes nothing.
    assert app.record_success(payment_id, transaction_id="tx_1", amount=AMOUNT, source="t") == (
        "unchanged"
    )
    # A failure after the success (out of order) changes nothing.
    assert app.record_failure(payment_id, reason="declined", source="t") == "unchanged"
    assert app.record_expiry(payment_id) == "unchanged"
    payment = app.payment(payment_id)
    assert payment.status == "completed" and payment.completed_at is not None
    assert names(app, payment_id) == ["Requested", "SessionOpened", "Completed"]


def test_a_second_success_is_flagged_for_refund_never_applied_twice_p2(app, caplog):
    payment_id, _ = request(app)
    app.record_success(payment_id, transaction_id="tx_1", amount=AMOUNT, source="t")
    assert app.record_success(payment_id, transaction_id="tx_2", amount=AMOUNT, source="t") == (
        "refund_flagged"
    )
    # Reported again, the flagged charge is not flagged twice.
    assert app.record_success(payment_id, transaction_id="tx_2", amount=AMOUNT, source="t") == (
        "unchanged"
    )
    payment = app.payment(payment_id)
    assert (payment.status, payment.transaction_id) == ("completed", "tx_1")
    assert payment.refund_flagged and payment.refunds_flagged == ["tx_2"]
    assert names(app, payment_id) == ["Requested", "Completed", "RefundFlagged"]


@pytest.mark.parametrize("end", ["expire", "fail"])
def test_a_success_after_the_payment_ended_is_flagged_not_applied_p2(app, end):
    payment_id, _ = request(app)
    if end == "expire":
        app.record_expiry(payment_id)
    else:
        app.record_failure(payment_id, reason="declined", source="t")
    final = app.payment(payment_id).status
    assert app.record_success(payment_id, transaction_id="tx_9", amount=AMOUNT, source="t") == (
        "refund_flagged"
    )
    payment = app.payment(payment_id)
    assert payment.status == final and payment.refund_flagged
    assert not any(isinstance(e, Payment.Completed) for e in app.events.get(payment_id))


def test_a_success_of_another_amount_fails_the_payment_and_is_flagged(app):
    payment_id, _ = request(app)
    assert app.record_success(payment_id, transaction_id="tx_1", amount=1, source="t") == (
        "refund_flagged"
    )
    payment = app.payment(payment_id)
    assert (payment.status, payment.failure_reason) == ("failed", "amount_mismatch")
    assert payment.refund_flagged


def test_a_redelivered_request_creates_nothing(app):
    payment_id, first = request(app)
    again = request(app, payment_id=payment_id)[1]
    assert first is not None and again is None
    assert names(app, payment_id) == ["Requested"]


def test_at_most_one_open_payment_per_payable_p2(app):
    payable_id = uuid.uuid4()
    first_id, _ = request(app, payable_id=payable_id)
    second_id, second = request(app, payable_id=payable_id)
    # The second is recorded and failed at once: the owner hears of it, nothing is charged.
    assert second is not None
    refused = app.payment(second_id)
    assert (refused.status, refused.failure_reason) == ("failed", "another_payment_open")
    assert app.payment(first_id).status == "created"
    guard = app.repository.get(guard_id("fine", payable_id))
    assert isinstance(guard, PayableGuard) and guard.open_payment_id == first_id

    # Once the first ends, the guard is free and the payable may be paid again.
    app.record_failure(first_id, reason="declined", source="t")
    assert app.repository.get(guard_id("fine", payable_id)).open_payment_id is None
    third_id, _ = request(app, payable_id=payable_id)
    assert app.payment(third_id).status == "created"
    assert app.repository.get(guard_id("fine", payable_id)).open_payment_id == third_id
    # Another payable's guard is another guard.
    assert guard_id("fine", payable_id) != guard_id("tax_debt", payable_id)


def test_only_the_payer_sees_a_payment(app):
    payer = uuid.uuid4()
    payment_id, _ = request(app, payer_id=payer)
    assert app.payment(payment_id, payer_id=payer).payer_id == payer
    with pytest.raises(PaymentNotFound):
        app.payment(payment_id, payer_id=uuid.uuid4())
    with pytest.raises(PaymentNotFound):
        app.payment(uuid.uuid4())
    # A guard's id is not a payment.
    with pytest.raises(PaymentNotFound):
        app.payment(guard_id("fine", app.payment(payment_id).payable_id))


def test_each_end_is_published_once_as_its_contract(app):
    done, _ = request(app)
    app.record_success(done, transaction_id="tx_1", amount=AMOUNT, source="t")
    app.record_success(done, transaction_id="tx_2", amount=AMOUNT, source="t")  # flagged
    failed, _ = request(app)
    app.record_failure(failed, reason="insufficient_funds", source="t")
    expired, _ = request(app)
    app.record_expiry(expired)

    published = [
        translate(e)
        for payment_id in (done, failed, expired)
        for e in app.events.get(payment_id)
        if (translate := PUBLIC_EVENTS.get(type(e)))
    ]
    assert [type(c) for c in published] == [PaymentCompletedV1, PaymentFailedV1, PaymentExpiredV1]
    completed, failure, expiry = published
    assert (completed.payment_id, completed.amount, completed.payable_type) == (
        done,
        AMOUNT,
        "fine",
    )
    assert failure.reason == "insufficient_funds"
    assert expiry.payment_id == expired


def test_the_consumer_handler_records_a_payment_once():
    app = PaymentsApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    handle = handlers(app)[PaymentRequestedV1]
    contract = PaymentRequestedV1(
        payment_id=uuid.uuid4(),
        payable_type="fine",
        payable_id=uuid.uuid4(),
        amount=AMOUNT,
        description="Κλήση",
        payer_id=uuid.uuid4(),
        requested_at=datetime.now(UTC),
    )
    handle(None, contract)
    handle(None, contract)
    assert names(app, contract.payment_id) == ["Requested"]
    app.close()
