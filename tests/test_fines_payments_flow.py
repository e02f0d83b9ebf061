"""Traffic fines paid through the bank's hosted page, end to end through the gateway, the fines and
payments services, the fines register and bank simulators and Kafka (SPEC F-1..F-6, P-1, P-2;
issue 7 "End to end through the gateway and the simulator").

The citizen's browser is played by a client without a token: it opens the portal's redirect_url,
follows its 303 to the bank's page (on the bank's own port: "the bank's site"), posts the card
form there and is sent back to the portal's return page. The bank notifies the payments service
server to server; payments publishes the result, fines marks the fine paid.

The abandoned payment is started when the module starts and checked by its last test, so that
its half minute (PAYMENT_EXPIRE_AFTER_SECONDS=30 on the local stack) runs beside the others.
The bank's control is the simulator's own and global: the test that drops notifications keeps
the window short and restores what it found.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from fine_payments import (
    DECLINED_CARD,
    SUCCESS_CARD,
    fine_in_list,
    fine_types,
    look_up_new_fine,
    new_browser,
    new_fine,
    new_payment,
    open_bank_page,
    pay_on_bank_page,
    payment_status,
    post_card,
    start_payment,
    wait_until_fines_accept,
)
from portal_roles import Casting, Person

pytestmark = pytest.mark.integration

# Seconds within which a result shows (crosses Kafka twice: payments -> fines).
RESULT_SECONDS = 10
# A dropped notification: reconciliation asks the bank after PAYMENT_RECONCILE_AFTER_SECONDS
# (5 locally) on a poll of its own.
RECONCILIATION_SECONDS = 25
# An abandoned payment: PAYMENT_EXPIRE_AFTER_SECONDS (30 locally), then the next sweep.
EXPIRY_SECONDS = 75


@pytest.fixture(scope="module")
def citizen(gateway, admin) -> Person:
    """A citizen with a complete profile (F-1), shared by the module's tests."""
    citizen = Casting(gateway, admin.token).registered("citizen")
    wait_until_fines_accept(gateway, citizen.headers)
    return citizen


@pytest.fixture(scope="module")
def browser() -> Iterator[httpx.Client]:
    with new_browser() as client:
        yield client


@pytest.fixture(scope="module", autouse=True)
def abandoned_payment(gateway, citizen, browser) -> dict[str, Any]:
    """A payment whose bank page was opened and left (P-2: abandoned), started before every
    other test of the module; test_p2_... at the end waits for it to expire."""
    fine = look_up_new_fine(gateway, citizen.headers)
    payment = new_payment(gateway, citizen.headers, fine["fine_id"])
    page = open_bank_page(browser, payment["redirect_url"])
    return {"fine": fine, "payment": payment, "page": page, "started": time.monotonic()}


def wait_until(check, timeout: float, interval: float = 0.1) -> Any:
    """Poll until check() is truthy (what crosses Kafka or a timer); fail at timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if last := check():
            return last
        time.sleep(interval)
    raise AssertionError(f"not reached within {timeout}s; last value: {last!r}")


def status_becomes(gateway, citizen, payment_id: str, wanted: str, timeout: float) -> str:
    seen: list[str] = []

    def check() -> bool:
        seen.append(payment_status(gateway, citizen.headers, payment_id))
        return seen[-1] == wanted

    try:
        wait_until(check, timeout)
    except AssertionError:
        raise AssertionError(f"payment {payment_id} not {wanted} within {timeout}s: {seen[-1]}")
    return wanted


def fine_is_paid(gateway, citizen, fine_id: str) -> bool:
    fine = fine_in_list(gateway, citizen.headers, fine_id)
    return fine is not None and fine["status"] == "paid"


def error_code(response: httpx.Response) -> str:
    return response.json()["code"]


# --- F-1, F-2: who may, and which municipality -------------------------------------------------


def test_f1_a_user_without_a_complete_profile_is_refused(gateway, admin, citizen):
    """F-1: only registered users with complete details; without a profile the catalogue, the
    check and the lookup are refused with 403 `profile_incomplete` (and so is paying: nothing
    to pay without a lookup)."""
    casting = Casting(gateway, admin.token)
    email, password = (
        f"noprofile-{uuid.uuid4().hex[:10]}@example.gr",
        "Kalimera-" + uuid.uuid4().hex[:8],
    )
    created = gateway.post(
        "/identity/users", json={"kind": "citizen", "email": email, "password": password}
    )
    assert created.status_code == 201, created.text
    headers = {"Authorization": f"Bearer {casting.log_in(email, password)}"}
    ticket = new_fine(fine_types(gateway, citizen.headers))

    check = {"municipality_code": ticket["municipality_code"], "fine_type": ticket["fine_type"]}
    refusals = {
        "types": gateway.get("/fines/types", headers=headers),
        "check": gateway.post("/fines/check", json=check, headers=headers),
        "lookup": gateway.post("/fines/lookup", json=ticket, headers=headers),
    }
    for route, refusal in refusals.items():
        assert refusal.status_code == 403, f"{route}: {refusal.status_code} {refusal.text}"
        assert error_code(refusal) == "profile_incomplete", route


def test_f2_another_municipalitys_code_is_refused(gateway, citizen):
    """F-2: the types offered are this municipality's, each with its amount; another
    municipality's code is refused with 422 `foreign_municipality`, at the check and at the
    lookup."""
    types = fine_types(gateway, citizen.headers)
    assert types["types"], types
    offered = types["types"][0]
    code = types["municipality_code"]
    foreign = foreign_code(code)

    checked = gateway.post(
        "/fines/check",
        json={"municipality_code": code, "fine_type": offered["code"]},
        headers=citizen.headers,
    )
    assert checked.status_code == 200, checked.text
    assert checked.json()["fine_type"] == offered["code"]
    assert checked.json()["amount"] == offered["amount"]

    refused = gateway.post(
        "/fines/check",
        json={"municipality_code": foreign, "fine_type": offered["code"]},
        headers=citizen.headers,
    )
    assert refused.status_code == 422, refused.text
    assert error_code(refused) == "foreign_municipality"

    ticket = new_fine(types) | {"municipality_code": foreign}
    refused = gateway.post("/fines/lookup", json=ticket, headers=citizen.headers)
    assert refused.status_code == 422, refused.text
    assert error_code(refused) == "foreign_municipality"


def foreign_code(code: str) -> str:
    """Another municipality's code of the same shape (each digit moved on by one)."""
    return "".join(str((int(c) + 1) % 10) if c.isdigit() else c for c in code)


# --- F-4, F-5: the lookup and its quote --------------------------------------------------------


def test_f4_f5_lookup_of_an_unknown_fine_registers_it_with_a_quote(gateway, citizen):
    """F-4: a fine the register has never seen is recorded anew and its amount computed; F-5:
    the amount is a quote with a time and an RF code; a second lookup, typed differently
    (Latin look-alike letters, spaces), finds the same fine."""
    types = fine_types(gateway, citizen.headers)
    ticket = new_fine(types)
    first = gateway.post("/fines/lookup", json=ticket, headers=citizen.headers)
    assert first.status_code == 200, first.text
    answer = first.json()
    assert answer["found"] is False
    quote = answer["quote"]
    assert quote["total"] == quote["base"] + quote["surcharges"] > 0
    amount = next(t["amount"] for t in types["types"] if t["code"] == ticket["fine_type"])
    assert quote["base"] == amount
    assert datetime.fromisoformat(quote["valid_until"]) > datetime.fromisoformat(
        quote["computed_at"]
    )

    retyped = ticket | {
        "plate": latin_look_alikes(ticket["plate"]).replace("-", " "),
        "fine_number": " ".join(ticket["fine_number"][i : i + 3] for i in range(0, 9, 3)),
    }
    second = gateway.post("/fines/lookup", json=retyped, headers=citizen.headers)
    assert second.status_code == 200, second.text
    assert second.json()["found"] is True
    assert second.json()["fine_id"] == answer["fine_id"]

    listed = fine_in_list(gateway, citizen.headers, answer["fine_id"])
    assert listed is not None and listed["status"] != "paid"


def latin_look_alikes(plate: str) -> str:
    return plate.translate(str.maketrans("ΑΒΕΖΗΙΚΜΝΟΡΤΥΧ", "ABEZHIKMNOPTYX"))


# --- F-6, P-1, P-2: paying -----------------------------------------------------------------


@pytest.fixture(scope="module")
def paid_fine(gateway, citizen, browser) -> dict[str, Any]:
    """A fine paid with the success card, step by step as the citizen's browser goes (F-6)."""
    fine = look_up_new_fine(gateway, citizen.headers)
    key = uuid.uuid4().hex
    created = start_payment(gateway, citizen.headers, fine["fine_id"], key)
    assert created.status_code == 201, created.text
    payment = created.json()
    again = start_payment(gateway, citizen.headers, fine["fine_id"], key)
    double_click = start_payment(gateway, citizen.headers, fine["fine_id"])

    page, answer = pay_on_bank_page(browser, payment["redirect_url"], SUCCESS_CARD)
    returned = browser.get(answer.headers["location"])
    started = time.monotonic()
    status_becomes(gateway, citizen, payment["payment_id"], "completed", RESULT_SECONDS)
    wait_until(lambda: fine_is_paid(gateway, citizen, fine["fine_id"]), RESULT_SECONDS)
    return {
        "fine": fine,
        "payment": payment,
        "again": again,
        "double_click": double_click,
        "page": page,
        "bank_answer": answer,
        "returned": returned,
        "paid_after": time.monotonic() - started,
    }


def test_f6_p1_paid_with_the_success_card_the_fine_is_paid_within_seconds(
    stack, gateway, citizen, paid_fine
):
    """F-6, P-1: confirm the amount, the bank's hosted page (Greek, with the amount and the
    merchant), the card there, back to the portal's result page; the payment is completed and
    the fine shows paid in `GET /fines` within seconds. P-2: the same Idempotency-Key, or a
    double click with another key while the payment is open, gives the same payment."""
    fine, payment = paid_fine["fine"], paid_fine["payment"]
    assert payment["amount"] == fine["quote"]["total"]
    assert payment["redirect_url"].endswith(f"/payments/{payment['payment_id']}/checkout")
    assert paid_fine["again"].status_code == 201
    assert paid_fine["again"].json() == payment
    assert paid_fine["double_click"].status_code == 201
    assert paid_fine["double_click"].json()["payment_id"] == payment["payment_id"]

    page = paid_fine["page"]
    assert greek_amount(payment["amount"]) in page.html
    assert {"card_number", "expiry", "cvc", "holder"} <= page.fields.keys()

    location = paid_fine["bank_answer"].headers["location"]
    assert location.startswith(f"{stack.gateway_url}/payments/{payment['payment_id']}/return")
    returned = paid_fine["returned"]
    assert returned.status_code == 200, returned.text
    assert returned.headers["content-type"].startswith("text/html")

    detail = gateway.get(f"/payments/{payment['payment_id']}", headers=citizen.headers).json()
    assert detail["status"] == "completed"
    assert detail["payable_type"] == "fine"
    assert detail["payable_id"] == fine["fine_id"]
    assert detail["amount"] == payment["amount"]
    assert detail["completed_at"]
    assert fine_in_list(gateway, citizen.headers, fine["fine_id"])["status"] == "paid"
    assert paid_fine["paid_after"] < RESULT_SECONDS


def greek_amount(cents: int) -> str:
    """1.234,56 € as Greek text writes it."""
    euros, rest = divmod(cents, 100)
    return f"{euros:,}".replace(",", ".") + f",{rest:02d} €"


def test_f6_p2_a_paid_fine_cannot_start_another_payment(gateway, citizen, paid_fine):
    """F-6 "a fine is never paid twice": a new payment of a paid fine is 409 `already_paid`,
    with any Idempotency-Key."""
    refused = start_payment(gateway, citizen.headers, paid_fine["fine"]["fine_id"])
    assert refused.status_code == 409, refused.text
    assert error_code(refused) == "already_paid"


def test_f6_p1_a_declined_card_fails_the_payment_and_the_fine_stays_payable(
    gateway, citizen, browser
):
    """F-6, P-1: the bank declines; the citizen is told, the payment is failed with the reason,
    the fine is not paid, and a new payment of it can start and succeed."""
    fine = look_up_new_fine(gateway, citizen.headers)
    payment = new_payment(gateway, citizen.headers, fine["fine_id"])
    _, answer = pay_on_bank_page(browser, payment["redirect_url"], DECLINED_CARD)
    assert browser.get(answer.headers["location"]).status_code == 200

    status_becomes(gateway, citizen, payment["payment_id"], "failed", RESULT_SECONDS)
    detail = gateway.get(f"/payments/{payment['payment_id']}", headers=citizen.headers).json()
    assert detail["failure_reason"] == "declined"
    assert fine_in_list(gateway, citizen.headers, fine["fine_id"])["status"] != "paid"

    retry = new_payment(gateway, citizen.headers, fine["fine_id"])
    assert retry["payment_id"] != payment["payment_id"]
    pay_on_bank_page(browser, retry["redirect_url"], SUCCESS_CARD)
    status_becomes(gateway, citizen, retry["payment_id"], "completed", RESULT_SECONDS)
    wait_until(lambda: fine_is_paid(gateway, citizen, fine["fine_id"]), RESULT_SECONDS)


def test_p2_a_forged_notification_is_refused_and_changes_nothing(stack, gateway, citizen, browser):
    """P-2: the bank's result counts only when signed with the shared secret, over the very
    bytes received, and fresh. A notification of success with a wrong signature, without one,
    signed over another body, or correctly signed an hour ago is refused with 401, and the
    payment and the fine stay as they were."""
    fine = look_up_new_fine(gateway, citizen.headers)
    payment = new_payment(gateway, citizen.headers, fine["fine_id"])
    open_bank_page(browser, payment["redirect_url"])
    before = payment_status(gateway, citizen.headers, payment["payment_id"])
    assert before == "awaiting_bank"
    fine_before = fine_in_list(gateway, citizen.headers, fine["fine_id"])["status"]

    success = {
        "event_id": f"evt_{uuid.uuid4().hex}",
        "order_id": payment["payment_id"],
        "session_id": "forged",
        "status": "succeeded",
        "reason": None,
        "amount": payment["amount"],
        "currency": "EUR",
        "transaction_id": "tx_forged",
        "occurred_at": datetime.now(UTC).isoformat(),
    }
    body = json.dumps(success).encode()
    secret = stack.bank_notification_secret.encode()
    now = int(time.time())
    an_hour_ago = now - int(timedelta(hours=1).total_seconds())
    forgeries = {
        "wrong signature": (
            body,
            {"Bank-Timestamp": str(now), "Bank-Signature": "v1=" + "ab" * 32},
        ),
        "no signature": (body, {"Bank-Timestamp": str(now)}),
        "signed over another body": (
            body,
            signed(secret, now, json.dumps(success | {"amount": 1}).encode()),
        ),
        "stale": (body, signed(secret, an_hour_ago, body)),
    }
    for forgery, (content, headers) in forgeries.items():
        answer = gateway.post(
            "/payments/bank/notifications",
            content=content,
            headers=headers | {"Content-Type": "application/json"},
        )
        assert answer.status_code == 401, f"{forgery}: {answer.status_code} {answer.text}"

    assert payment_status(gateway, citizen.headers, payment["payment_id"]) == before
    assert fine_in_list(gateway, citizen.headers, fine["fine_id"])["status"] == fine_before


def signed(secret: bytes, timestamp: int, body: bytes) -> dict[str, str]:
    """The bank's signature headers over `body` at `timestamp`."""
    digest = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return {"Bank-Timestamp": str(timestamp), "Bank-Signature": f"v1={digest}"}


@pytest.fixture
def bank_control(stack) -> Iterator[httpx.Client]:
    """The bank simulator's control endpoint, on its own port; what it was is put back."""
    with httpx.Client(base_url=stack.url_of("bank"), timeout=10.0) as bank:
        found = bank.get("/control")
        assert found.status_code == 200, found.text
        yield bank
        restored = bank.put("/control", json=found.json())
        assert restored.status_code == 200, restored.text


def test_p2_a_dropped_notification_is_completed_by_reconciliation(
    gateway, citizen, browser, bank_control
):
    """P-2 reconciliation: the bank takes the card but its notification never arrives; the
    payments service asks the bank about the payment and completes it, and the fine is paid."""
    fine = look_up_new_fine(gateway, citizen.headers)
    payment = new_payment(gateway, citizen.headers, fine["fine_id"])
    page = open_bank_page(browser, payment["redirect_url"])

    dropping = bank_control.put(
        "/control", json=bank_control.get("/control").json() | {"notifications": "drop"}
    )
    assert dropping.status_code == 200, dropping.text
    answer = post_card(browser, page, SUCCESS_CARD)
    assert answer.status_code == 303, answer.text
    # The bank decided on the post; the window of dropping (for everyone) ends here.
    delivering = bank_control.put("/control", json=dropping.json() | {"notifications": "deliver"})
    assert delivering.status_code == 200, delivering.text
    status_becomes(gateway, citizen, payment["payment_id"], "completed", RECONCILIATION_SECONDS)
    wait_until(lambda: fine_is_paid(gateway, citizen, fine["fine_id"]), RESULT_SECONDS)


def test_p2_an_abandoned_payment_expires_and_the_fine_can_be_paid_again(
    gateway, citizen, browser, abandoned_payment
):
    """P-2 "abandoned payments expire": the payment whose bank page was left open is expired
    (the bank is asked first, and its session cancelled), its page takes no card any more, and
    the fine can be paid with a new payment."""
    fine, payment = abandoned_payment["fine"], abandoned_payment["payment"]
    left = EXPIRY_SECONDS - (time.monotonic() - abandoned_payment["started"])
    status_becomes(gateway, citizen, payment["payment_id"], "expired", max(left, RESULT_SECONDS))
    assert fine_in_list(gateway, citizen.headers, fine["fine_id"])["status"] != "paid"

    late = post_card(browser, abandoned_payment["page"], SUCCESS_CARD)
    assert late.status_code != 303, "the bank took a card on an expired payment's page"
    assert payment_status(gateway, citizen.headers, payment["payment_id"]) == "expired"

    again = new_payment(gateway, citizen.headers, fine["fine_id"])
    assert again["payment_id"] != payment["payment_id"]
    pay_on_bank_page(browser, again["redirect_url"], SUCCESS_CARD)
    status_becomes(gateway, citizen, again["payment_id"], "completed", RESULT_SECONDS)
    wait_until(lambda: fine_is_paid(gateway, citizen, fine["fine_id"]), RESULT_SECONDS)
