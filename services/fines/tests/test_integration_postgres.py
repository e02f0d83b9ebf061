"""Exactly once on real PostgreSQL (issue 7): a PaymentCompleted delivered twice, even at the
same moment, marks the fine paid once; a payment started twice with the same key, even at the
same moment, is one payment and one PaymentRequested."""

from __future__ import annotations

import random
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from fines_service.application import EVERYTHING
from fines_service.domainmodel import Fine
from fines_service.integration import PUBLIC_EVENTS, handlers
from fines_service.main import service
from portal_events.application import Idempotency
from portal_events.contracts import PaymentCompletedV1, PaymentRequestedV1
from portal_events.envelope import wrap


def new_fine(client) -> tuple[uuid.UUID, uuid.UUID]:
    """A fine a new citizen looked up (through the register simulator): (fine id, holder)."""
    runtime = client.app.state.runtime
    holder = uuid.uuid4()
    looked_up = runtime.application.lookup(
        user_id=holder,
        municipality_code="5101",
        fine_type="P-69",
        fine_number=str(random.randrange(10**8, 10**9)),
        plate="YZA1234",
        issued_at=datetime.now(UTC),
        register=runtime.resources["register"],
    )
    return looked_up.fine.id, holder


def twice_at_once(call):
    with ThreadPoolExecutor(max_workers=2) as pool:
        return [f.result() for f in [pool.submit(call), pool.submit(call)]]


def events_of(fines, fine_id, event_class):
    return [e for e in fines.events.get(fine_id) if isinstance(e, event_class)]


def test_a_duplicated_payment_completed_marks_the_fine_paid_once(client):
    fines = client.app.state.runtime.application
    fine_id, payer = new_fine(client)
    payment_id = uuid.UUID(
        fines.start_payment(fine_id, payer_id=payer, idempotency=None).result["payment_id"]
    )
    completed = PaymentCompletedV1(
        payment_id=payment_id,
        payable_type="fine",
        payable_id=fine_id,
        amount=3000,
        payer_id=payer,
        completed_at=datetime.now(UTC),
    )
    # Two deliveries (payments published it twice: two envelopes), at the same moment, and a
    # third later: one Paid.
    envelope = wrap(
        completed,
        source="payments",
        subject=str(payment_id),
        sequence=3,
        occurred_at=completed.completed_at,
    )
    handle = handlers(fines)[PaymentCompletedV1]
    twice_at_once(lambda: handle(envelope, completed))
    handle(envelope, completed)
    assert len(events_of(fines, fine_id, Fine.Paid)) == 1
    assert fines.fine(fine_id, scope=EVERYTHING).status == "paid"


def test_a_payment_started_twice_with_the_same_key_is_one_payment(client):
    fines = client.app.state.runtime.application
    fine_id, payer = new_fine(client)
    key = Idempotency.of(payer, "same-key-1", {"fine_id": str(fine_id), "action": "pay"})
    results = twice_at_once(
        lambda: fines.start_payment(fine_id, payer_id=payer, idempotency=key).result
    )
    assert results[0] == results[1]
    [started] = events_of(fines, fine_id, Fine.PaymentStarted)
    # What the relay publishes for it: one PaymentRequested, with the answered payment id.
    [(topic, contract)] = service.translate(started)
    assert isinstance(contract, PaymentRequestedV1)
    assert str(contract.payment_id) == results[0]["payment_id"]
    assert PUBLIC_EVENTS[Fine.PaymentStarted](started) == contract
    assert topic == "fines.fine.events"
