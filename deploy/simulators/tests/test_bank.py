"""The bank simulator (issue 7 "The bank simulator"): sessions, the hosted page and its test
cards, signed notifications retried until 2xx, the control endpoint, cancel and status query,
and no card number kept anywhere."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request, Response
from portal_simulators.bank import create_app, format_eur
from portal_simulators.testing import serve

API_KEY = "test-api-key-" + uuid.uuid4().hex
SECRET = "test-notification-secret-" + uuid.uuid4().hex
AUTH = {"Authorization": f"Bearer {API_KEY}"}
CARD_OK, CARD_DECLINED, CARD_NO_FUNDS = "4111111111111111", "4000000000000002", "4000000000009995"
OTHER_VALID_CARD = "5555555555554444"


class Receiver:
    """The merchant's notification endpoint: records what arrives; fails the first `failures`."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.failures = 0
        self._lock = threading.Lock()
        self.app = FastAPI()

        @self.app.post("/notify")
        async def notify(request: Request) -> Response:
            body = await request.body()
            with self._lock:
                if self.failures > 0:
                    self.failures -= 1
                    return Response(status_code=500)
                self.received.append({"headers": dict(request.headers), "body": body})
            return Response(status_code=204)


@pytest.fixture
def receiver():
    receiver = Receiver()
    with serve(receiver.app) as url:
        receiver.url = f"{url}/notify"
        yield receiver


@pytest.fixture
def db_path(tmp_path):
    return str(tmp_path / "bank.sqlite3")


@pytest.fixture
def bank_app(db_path):
    app = create_app(db_path, api_key=API_KEY, notification_secret=SECRET, retry_base_seconds=0.05)
    yield app
    app.state.notifier.close()


@pytest.fixture
def bank(bank_app):
    with serve(bank_app) as url, httpx.Client(base_url=url, timeout=5) as client:
        yield client


def eventually(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, "not reached in time"
        time.sleep(0.02)
    return value


def open_session(
    bank: httpx.Client, receiver: Receiver, order_id: str | None = None, amount: int = 123456
) -> tuple[str, dict[str, Any]]:
    order_id = order_id or str(uuid.uuid4())
    response = bank.post(
        "/api/sessions",
        headers=AUTH,
        json={
            "merchant_id": "municipality",
            "order_id": order_id,
            "amount": amount,
            "currency": "EUR",
            "description": "Κλήση ΚΟΚ 12345",
            "notify_url": receiver.url,
            "return_url": "http://portal.example/payments/x/return",
        },
    )
    assert response.status_code == 201, response.text
    return order_id, response.json()


def pay(bank: httpx.Client, page_url: str, card: str, **overrides: str) -> httpx.Response:
    form = {"card_number": card, "expiry": "12/39", "cvc": "123", "holder": "ΜΑΡΙΑ ΠΑΠΑΔΟΠΟΥΛΟΥ"}
    return bank.post(page_url, data=form | overrides)


def verify(notification: dict[str, Any]) -> dict[str, Any]:
    """Check the signature as the payments service does; the parsed body."""
    headers, body = notification["headers"], notification["body"]
    timestamp = headers["bank-timestamp"]
    expected = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    assert headers["bank-signature"] == f"v1={expected.hexdigest()}"
    assert abs(int(timestamp) - time.time()) < 60
    return json.loads(body)


def test_amounts_in_greek_format():
    assert format_eur(123456) == "1.234,56 €"
    assert format_eur(5) == "0,05 €"
    assert format_eur(100_000_000) == "1.000.000,00 €"


def test_sessions_need_the_api_key_and_are_one_per_order(bank, receiver):
    order_id, session = open_session(bank, receiver)
    assert session["page_url"].startswith(str(bank.base_url))
    assert session["page_url"].endswith(f"/pay/{session['session_id']}")

    body = {
        "merchant_id": "municipality",
        "order_id": order_id,
        "amount": 123456,
        "currency": "EUR",
        "description": "Κλήση ΚΟΚ 12345",
        "notify_url": receiver.url,
        "return_url": "http://portal.example/r",
    }
    again = bank.post("/api/sessions", headers=AUTH, json=body)
    assert again.status_code == 200
    assert again.json() == session
    assert bank.post("/api/sessions", headers=AUTH, json=body | {"amount": 1}).status_code == 409
    assert bank.post("/api/sessions", json=body).status_code == 401
    wrong_key = {"Authorization": "Bearer nope"}
    assert bank.post("/api/sessions", headers=wrong_key, json=body).status_code == 401
    other_merchant = body | {"merchant_id": "someone-else", "order_id": "x"}
    assert bank.post("/api/sessions", headers=AUTH, json=other_merchant).status_code == 403
    assert bank.get(f"/api/orders/{order_id}").status_code == 401


def test_the_hosted_page_is_greek_with_amount_merchant_and_form(bank, receiver):
    _, session = open_session(bank, receiver)
    page = bank.get(session["page_url"])
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "script-src" not in page.headers["content-security-policy"]  # no script at all
    text = page.text
    assert "1.234,56 €" in text
    assert "Κλήση ΚΟΚ 12345" in text
    assert "Έμπορος" in text
    for field in ("card_number", "expiry", "cvc", "holder"):
        assert f'name="{field}"' in text


def test_success_card_pays_and_the_signed_notification_arrives(bank, receiver):
    order_id, session = open_session(bank, receiver)
    answer = pay(bank, session["page_url"], CARD_OK)
    assert answer.status_code == 303
    assert answer.headers["location"] == (
        f"http://portal.example/payments/x/return?payment_id={order_id}"
    )

    notification = verify(eventually(lambda: receiver.received and receiver.received[0]))
    assert notification["order_id"] == order_id
    assert notification["session_id"] == session["session_id"]
    assert notification["status"] == "succeeded"
    assert notification["reason"] is None
    assert notification["amount"] == 123456
    assert notification["currency"] == "EUR"
    assert notification["transaction_id"].startswith("tx_")
    assert notification["event_id"] and notification["occurred_at"]

    order = bank.get(f"/api/orders/{order_id}", headers=AUTH).json()
    assert order == {
        "order_id": order_id,
        "session_id": session["session_id"],
        "status": "succeeded",
        "reason": None,
        "transaction_id": notification["transaction_id"],
        "amount": 123456,
    }
    # Paid: the page takes nothing more.
    assert "ήδη ολοκληρωθεί" in bank.get(session["page_url"]).text
    assert pay(bank, session["page_url"], CARD_OK).status_code == 200
    assert len(receiver.received) == 1


@pytest.mark.parametrize(
    ("card", "reason"),
    [
        (CARD_DECLINED, "declined"),
        (CARD_NO_FUNDS, "insufficient_funds"),
        (OTHER_VALID_CARD, "declined"),
    ],
)
def test_failing_cards(bank, receiver, card, reason):
    order_id, session = open_session(bank, receiver)
    assert pay(bank, session["page_url"], card).status_code == 303
    notification = verify(eventually(lambda: receiver.received and receiver.received[0]))
    assert (notification["status"], notification["reason"]) == ("failed", reason)
    assert notification["transaction_id"] is None
    order = bank.get(f"/api/orders/{order_id}", headers=AUTH).json()
    assert (order["status"], order["reason"]) == ("failed", reason)


def test_invalid_input_shows_the_form_again_with_greek_errors(bank, receiver):
    order_id, session = open_session(bank, receiver)
    answer = pay(bank, session["page_url"], "4111111111111112", expiry="13/30", cvc="1")
    assert answer.status_code == 422
    assert "Μη έγκυρος αριθμός κάρτας" in answer.text
    assert "ΜΜ/ΕΕ" in answer.text
    assert "CVC" in answer.text
    assert "4111111111111112" not in answer.text  # the number is not echoed back
    expired = pay(bank, session["page_url"], CARD_OK, expiry="01/20")
    assert "έχει λήξει" in expired.text
    assert bank.get(f"/api/orders/{order_id}", headers=AUTH).json()["status"] == "open"


def test_notifications_are_retried_until_2xx(bank, bank_app, receiver):
    receiver.failures = 3
    _, session = open_session(bank, receiver)
    pay(bank, session["page_url"], CARD_OK)
    verify(eventually(lambda: receiver.received and receiver.received[0]))
    [delivery] = bank_app.state.ledger.notifications()
    assert delivery["attempts"] == 4
    assert delivery["last_error"] == "HTTP 500"
    assert delivery["delivered_at"] is not None
    assert len(receiver.received) == 1


def test_duplicates_on_purpose_carry_the_same_event_id(bank, receiver):
    bank.put("/control", json={"duplicate_probability": 1.0})
    _, session = open_session(bank, receiver)
    pay(bank, session["page_url"], CARD_OK)
    first, second = eventually(lambda: len(receiver.received) == 2 and receiver.received)
    assert verify(first)["event_id"] == verify(second)["event_id"]


def test_dropped_notifications_are_never_sent_but_the_order_is_known(bank, receiver):
    bank.put("/control", json={"notifications": "drop"})
    order_id, session = open_session(bank, receiver)
    assert pay(bank, session["page_url"], CARD_OK).status_code == 303
    assert bank.get(f"/api/orders/{order_id}", headers=AUTH).json()["status"] == "succeeded"
    # A second order, delivered normally, arrives: the dropped one was never queued.
    bank.put("/control", json={"notifications": "deliver"})
    other_id, other = open_session(bank, receiver)
    pay(bank, other["page_url"], CARD_OK)
    notification = verify(eventually(lambda: receiver.received and receiver.received[0]))
    assert notification["order_id"] == other_id
    assert len(receiver.received) == 1


def test_delayed_notifications_wait_then_arrive(bank, receiver):
    bank.put("/control", json={"notifications": "delay", "notification_delay_seconds": 0.5})
    assert bank.get("/control").json()["notifications"] == "delay"
    _, session = open_session(bank, receiver)
    posted = time.time()
    pay(bank, session["page_url"], CARD_OK)
    arrived = eventually(lambda: receiver.received and receiver.received[0])
    assert int(arrived["headers"]["bank-timestamp"]) >= int(posted)  # signed when sent
    assert time.time() - posted >= 0.5


def test_cancel_closes_an_open_order_but_not_a_paid_one(bank, receiver):
    order_id, session = open_session(bank, receiver)
    cancelled = bank.post(f"/api/orders/{order_id}/cancel", headers=AUTH)
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert "ακυρωθεί" in bank.get(session["page_url"]).text
    assert "ακυρωθεί" in pay(bank, session["page_url"], CARD_OK).text
    assert bank.get(f"/api/orders/{order_id}", headers=AUTH).json()["status"] == "cancelled"

    paid_id, paid = open_session(bank, receiver)
    pay(bank, paid["page_url"], CARD_OK)
    answer = bank.post(f"/api/orders/{paid_id}/cancel", headers=AUTH).json()
    assert answer["status"] == "succeeded"
    assert len(receiver.received) <= 1 and not any(
        json.loads(n["body"])["order_id"] == order_id for n in receiver.received
    )


def test_status_query_and_cancel_of_an_unknown_order_are_404(bank):
    assert bank.get("/api/orders/never-seen", headers=AUTH).status_code == 404
    assert bank.post("/api/orders/never-seen/cancel", headers=AUTH).status_code == 404


def test_down_refuses_the_api_and_the_page(bank, receiver):
    order_id, session = open_session(bank, receiver)
    bank.put("/control", json={"mode": "down"})
    assert bank.get("/health").json() == {"status": "ok", "mode": "down"}
    assert bank.get(f"/api/orders/{order_id}", headers=AUTH).status_code == 503
    assert bank.post(f"/api/orders/{order_id}/cancel", headers=AUTH).status_code == 503
    assert bank.get(session["page_url"]).status_code == 503
    bank.put("/control", json={"mode": "up"})
    assert bank.get(f"/api/orders/{order_id}", headers=AUTH).json()["status"] == "open"


def test_no_card_number_is_stored(bank, receiver, db_path):
    _, session = open_session(bank, receiver)
    pay(bank, session["page_url"], CARD_OK)
    _, declined = open_session(bank, receiver)
    pay(bank, declined["page_url"], CARD_DECLINED)
    eventually(lambda: len(receiver.received) == 2)
    with open(db_path, "rb") as stored_file:
        stored = stored_file.read()
    for card in (CARD_OK, CARD_DECLINED):
        assert card.encode() not in stored
    for notification in receiver.received:
        assert CARD_OK.encode() not in notification["body"]


def test_missing_secrets_refuse_to_start(tmp_path, monkeypatch):
    monkeypatch.delenv("BANK_API_KEY", raising=False)
    monkeypatch.delenv("BANK_NOTIFICATION_SECRET", raising=False)
    with pytest.raises(RuntimeError, match="BANK_API_KEY"):
        create_app(str(tmp_path / "x.sqlite3"), notification_secret=SECRET)
    with pytest.raises(RuntimeError, match="BANK_NOTIFICATION_SECRET"):
        create_app(str(tmp_path / "x.sqlite3"), api_key=API_KEY)
