"""The payments service on real PostgreSQL with the bank simulator (issue 7; SPEC P-1, P-2,
F-6): the browser's way through checkout, the bank's page and the return page; the signed
notification, forged and stale ones refused; a dropped notification completed by the
reconciler; an abandoned payment expired only on the bank's word; one payment per request."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
from payments_service.integration import handlers
from payments_service.signatures import sign
from payments_service.views import PaymentSummaryView
from portal_events.contracts import PaymentRequestedV1

AMOUNT = 123456
SUCCESS_CARD, DECLINED_CARD = "4111111111111111", "4000000000000002"


def eventually(check: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, "not reached in time"
        time.sleep(0.05)
    return value


def pay_at_the_bank(bank: httpx.Client, page_url: str, card: str) -> httpx.Response:
    form = {"card_number": card, "expiry": "12/39", "cvc": "123", "holder": "ΝΙΚΟΣ ΙΩΑΝΝΟΥ"}
    return bank.post(page_url, data=form)


def to_the_bank(service, payment_id: uuid.UUID) -> str:
    """The browser opens the checkout URL; the bank's page URL it is sent to."""
    answer = service.http.get(f"/payments/{payment_id}/checkout")
    assert answer.status_code == 303, answer.text
    return answer.headers["location"]


def bearer(token, role: str, user_id: uuid.UUID | None = None, department: str | None = None):
    return {"Authorization": f"Bearer {token(role, user_id=user_id, department=department)}"}


def summaries(service, token, **query: Any) -> list[dict[str, Any]]:
    answer = service.http.get(
        "/payments", params=query, headers=bearer(token, "clerk", department="revenue")
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]


def test_pay_with_the_success_card_p1_f6(payments, bank, token):
    payer = uuid.uuid4()
    with payments() as service:
        payment_id = service.request(payer)
        page_url = to_the_bank(service, payment_id)
        assert page_url.startswith(str(bank.base_url))
        assert service.status(payment_id) == "awaiting_bank"
        # Checkout again: the same session, not a second one.
        assert to_the_bank(service, payment_id) == page_url
        assert "1.234,56 €" in bank.get(page_url).text

        back = pay_at_the_bank(bank, page_url, SUCCESS_CARD)
        assert back.status_code == 303
        assert back.headers["location"].startswith(f"{service.url}/payments/{payment_id}/return")
        result = service.http.get(back.headers["location"])  # waits for the notification
        assert result.status_code == 200
        assert "Η πληρωμή ολοκληρώθηκε" in result.text and "1.234,56 €" in result.text
        assert "script-src 'self'" in result.headers["content-security-policy"]

        mine = service.http.get(f"/payments/{payment_id}", headers=bearer(token, "citizen", payer))
        assert mine.status_code == 200
        body = mine.json()
        assert (body["status"], body["amount"], body["payable_type"]) == (
            "completed",
            AMOUNT,
            "fine",
        )
        assert body["completed_at"] and body["failure_reason"] is None
        # Someone else's payment does not exist for them.
        other = service.http.get(f"/payments/{payment_id}", headers=bearer(token, "citizen"))
        assert other.status_code == 404
        # A finished payment's checkout leads to its result, not to the bank.
        assert to_the_bank(service, payment_id).endswith(f"/payments/{payment_id}/return")

        [row] = eventually(lambda: summaries(service, token, status="completed"))
        assert row["payment_id"] == str(payment_id) and row["refund_flagged"] is False
        assert row["transaction_id"].startswith("tx_")


def test_declined_card_fails_and_the_payable_may_be_paid_again_f6(payments, bank):
    payable = uuid.uuid4()
    with payments() as service:
        payment_id = service.request(uuid.uuid4(), payable)
        # While it is open, a second payment of the same payable is refused.
        refused = service.request(uuid.uuid4(), payable)
        assert service.app.payment(refused).failure_reason == "another_payment_open"

        back = pay_at_the_bank(bank, to_the_bank(service, payment_id), DECLINED_CARD)
        result = service.http.get(back.headers["location"])
        assert "Η τράπεζα απέρριψε την κάρτα" in result.text
        payment = service.app.payment(payment_id)
        assert (payment.status, payment.failure_reason) == ("failed", "declined")
        again = service.request(uuid.uuid4(), payable)
        assert service.status(again) == "created"


def test_the_list_is_for_the_finance_department(payments, token):
    with payments() as service:
        for role, department, status in [
            ("clerk", "revenue", 200),
            ("admin", None, 200),
            ("auditor", None, 200),
            ("clerk", "technical", 403),
            ("citizen", None, 403),
        ]:
            answer = service.http.get("/payments", headers=bearer(token, role, None, department))
            assert answer.status_code == status, (role, department, answer.text)
        assert service.http.get("/payments").status_code == 401


def signed(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {
        "Content-Type": "application/json",
        "Bank-Timestamp": str(timestamp),
        "Bank-Signature": sign(secret.encode(), timestamp, body),
    }


def success_body(payment_id: uuid.UUID, transaction_id: str = "tx_forged", **extra: Any) -> bytes:
    body = {
        "event_id": f"evt_{uuid.uuid4().hex}",
        "order_id": str(payment_id),
        "session_id": "cs_x",
        "status": "succeeded",
        "reason": None,
        "amount": AMOUNT,
        "currency": "EUR",
        "transaction_id": transaction_id,
        "occurred_at": "2026-03-02T10:17:29Z",
    }
    return json.dumps(body | extra).encode()


def test_forged_or_stale_notifications_change_nothing_p2(payments, notification_secret):
    with payments() as service:
        payment_id = service.request(uuid.uuid4())
        body = success_body(payment_id)
        url = "/payments/bank/notifications"

        forged = service.http.post(url, content=body, headers=signed("not-the-secret", body))
        assert (forged.status_code, forged.json()["code"]) == (401, "invalid_signature")
        unsigned = service.http.post(url, content=body)
        assert unsigned.status_code == 401
        stale_headers = signed(notification_secret, body, int(time.time()) - 3600)
        stale = service.http.post(url, content=body, headers=stale_headers)
        assert (stale.status_code, stale.json()["code"]) == (401, "stale_signature")
        altered = service.http.post(
            url,
            content=body.replace(b"tx_forged", b"tx_altered"),
            headers=signed(notification_secret, body),
        )
        assert altered.status_code == 401
        assert service.status(payment_id) == "created"

        # Correctly signed: applied once; the same again (replay inside the window) is 204 and
        # changes nothing; a signed non-notification is 422.
        headers = signed(notification_secret, body)
        assert service.http.post(url, content=body, headers=headers).status_code == 204
        assert service.http.post(url, content=body, headers=headers).status_code == 204
        assert [type(e).__name__ for e in service.app.events.get(payment_id)] == [
            "Requested",
            "Completed",
        ]
        junk = b'{"hello": "world"}'
        assert (
            service.http.post(
                url, content=junk, headers=signed(notification_secret, junk)
            ).status_code
            == 422
        )

        # A signed notification of an order the portal never made: 204 (no endless retries).
        unknown = success_body(uuid.uuid4())
        answer = service.http.post(
            url, content=unknown, headers=signed(notification_secret, unknown)
        )
        assert answer.status_code == 204


def test_duplicate_notifications_complete_once_p2(payments, bank, bank_app):
    bank.put("/control", json={"duplicate_probability": 1.0})
    with payments() as service:
        payment_id = service.request(uuid.uuid4())
        pay_at_the_bank(bank, to_the_bank(service, payment_id), SUCCESS_CARD)
        eventually(lambda: service.status(payment_id) == "completed")
        # Both copies were delivered (2xx) before we look at the history.
        deliveries = bank_app.state.ledger.notifications
        eventually(lambda: [n["delivered_at"] for n in deliveries()].count(None) == 0)
        assert len(deliveries()) == 2
        kinds = [type(e).__name__ for e in service.app.events.get(payment_id)]
        assert kinds == ["Requested", "SessionOpened", "Completed"]


def test_a_dropped_notification_is_completed_by_reconciliation_p2(payments, bank):
    bank.put("/control", json={"notifications": "drop"})
    with payments(
        payment_reconcile_after_seconds=0.3, payment_reconciler_poll_seconds=0.05
    ) as service:
        payment_id = service.request(uuid.uuid4())
        pay_at_the_bank(bank, to_the_bank(service, payment_id), SUCCESS_CARD)
        eventually(lambda: service.status(payment_id) == "completed")
        assert service.app.payment(payment_id).transaction_id.startswith("tx_")


def test_an_abandoned_payment_expires_only_on_the_banks_word_p2(payments, bank):
    with payments(
        payment_reconcile_after_seconds=0.2,
        payment_expire_after_seconds=1.0,
        payment_reconciler_poll_seconds=0.05,
    ) as service:
        payment_id = service.request(uuid.uuid4())
        page_url = to_the_bank(service, payment_id)
        never_opened = service.request(uuid.uuid4())  # the bank never sees this one

        bank.put("/control", json={"mode": "down"})
        # The reconciler has tried to cancel it after its deadline, and could not.
        eventually(lambda: checked_after_deadline(service, payment_id, 1.0))
        assert service.status(payment_id) == "awaiting_bank"  # never expired blindly

        bank.put("/control", json={"mode": "up"})
        eventually(lambda: service.status(payment_id) == "expired")
        eventually(lambda: service.status(never_opened) == "expired")
        # Cancelled at the bank: its page takes no payment any more.
        assert "ακυρωθεί" in pay_at_the_bank(bank, page_url, SUCCESS_CARD).text
        assert "Η πληρωμή έληξε" in service.http.get(f"/payments/{payment_id}/return").text


def checked_after_deadline(service, payment_id: uuid.UUID, expire_after: float) -> bool:
    view = service.runtime.read_model(PaymentSummaryView).view
    [row] = view.select(
        "SELECT created_at, checked_at FROM {table} WHERE payment_id = %(id)s", {"id": payment_id}
    )
    checked = row["checked_at"]
    return checked is not None and (checked - row["created_at"]).total_seconds() > expire_after


def test_bank_down_at_checkout_is_a_greek_503_page(payments, bank):
    with payments() as service:
        payment_id = service.request(uuid.uuid4())
        bank.put("/control", json={"mode": "down"})
        answer = service.http.get(f"/payments/{payment_id}/checkout")
        assert answer.status_code == 503
        assert answer.headers["content-type"].startswith("text/html")
        assert "Η τράπεζα δεν είναι διαθέσιμη" in answer.text
        assert service.status(payment_id) == "created"
        missing = service.http.get(f"/payments/{uuid.uuid4()}/checkout")
        assert missing.status_code == 404


def test_a_redelivered_payment_requested_creates_one_payment(payments):
    with payments() as service:
        handle = handlers(service.app)[PaymentRequestedV1]
        contract = PaymentRequestedV1(
            payment_id=uuid.uuid4(),
            payable_type="fine",
            payable_id=uuid.uuid4(),
            amount=AMOUNT,
            description="Κλήση ΚΟΚ 12345",
            payer_id=uuid.uuid4(),
            requested_at="2026-03-02T10:15:00Z",
        )
        handle(None, contract)
        handle(None, contract)
        assert len(list(service.app.events.get(contract.payment_id))) == 1


def test_no_card_number_in_the_payments_tables_p2(payments, bank, infra):
    with payments() as service:
        payment_id = service.request(uuid.uuid4())
        pay_at_the_bank(bank, to_the_bank(service, payment_id), SUCCESS_CARD)
        eventually(lambda: service.status(payment_id) == "completed")
        database = service.database
        with infra.connect(database) as conn:
            tables = [
                row[0]
                for row in conn.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
                )
            ]
            assert tables
            for table in tables:
                dump = conn.execute(f'SELECT t::text FROM "{table}" t').fetchall()
                assert not any(SUCCESS_CARD in row[0] for row in dump), table
