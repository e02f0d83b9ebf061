"""Paying a traffic fine the way a citizen's browser does it (SPEC F-2..F-6, P-1): through the
gateway to the fines and payments services, then on the bank simulator's hosted page, which is
"the bank's site" on its own port and never behind the gateway.

Shared by the end-to-end flow (tests/test_fines_payments_flow.py), the card-data scan
(tests/test_card_data_scan.py) and the authorization matrix (tests/test_authorization.py). The
calls take a gateway client and the caller's headers, so that any kind of test user will do; the
"browser" is a client of its own without a token (the checkout, the bank and the return page are
public: the unguessable payment id is the capability).
"""

from __future__ import annotations

import random
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin

import httpx

# The bank simulator's test cards (deploy/simulators/portal_simulators/bank.py).
SUCCESS_CARD = "4111111111111111"
DECLINED_CARD = "4000000000000002"
INSUFFICIENT_FUNDS_CARD = "4000000000009995"
TEST_CARDS = (SUCCESS_CARD, DECLINED_CARD, INSUFFICIENT_FUNDS_CARD)

# Letters that Greek plates use, all with a Latin look-alike (the service normalises both).
PLATE_LETTERS = "ΑΒΕΖΗΙΚΜΝΟΡΤΥΧ"


def new_fine(types: dict[str, Any], fine_type: str | None = None) -> dict[str, str]:
    """What a citizen types from a ticket nobody has looked up yet (F-2, F-3): this
    municipality's code, one of its payable fine types, a new fine number and plate, issued
    three days ago (no surcharge yet)."""
    return {
        "municipality_code": types["municipality_code"],
        "fine_type": fine_type or types["types"][0]["code"],
        "fine_number": str(random.randrange(10**8, 10**9)),
        "plate": "".join(random.choices(PLATE_LETTERS, k=3)) + f"-{random.randrange(1000, 10**4)}",
        "issued_at": (datetime.now(UTC) - timedelta(days=3)).isoformat(timespec="seconds"),
    }


def wait_until_fines_accept(
    gateway: httpx.Client, headers: dict[str, str], timeout: float = 15.0
) -> None:
    """Wait until the fines service knows the user's profile is complete (F-1): identity tells
    it through Kafka, so for a moment after the profile is saved it still refuses (403)."""
    deadline = time.monotonic() + timeout
    while (response := gateway.get("/fines/types", headers=headers)).status_code == 403:
        assert time.monotonic() < deadline, f"fines still refuses after {timeout}s: {response.text}"
        time.sleep(0.1)
    assert response.status_code == 200, response.text


def fine_types(gateway: httpx.Client, headers: dict[str, str]) -> dict[str, Any]:
    response = gateway.get("/fines/types", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def look_up_new_fine(gateway: httpx.Client, headers: dict[str, str]) -> dict[str, Any]:
    """Look up a fine the register has never seen (F-4: it is registered anew); its answer."""
    ticket = new_fine(fine_types(gateway, headers))
    response = gateway.post("/fines/lookup", json=ticket, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def start_payment(
    gateway: httpx.Client, headers: dict[str, str], fine_id: str, key: str | None = None
) -> httpx.Response:
    """`POST /fines/{fine_id}/payment` with an Idempotency-Key (a new one unless given)."""
    key_header = {"Idempotency-Key": key or uuid.uuid4().hex}
    return gateway.post(f"/fines/{fine_id}/payment", headers=headers | key_header)


def new_payment(gateway: httpx.Client, headers: dict[str, str], fine_id: str) -> dict[str, Any]:
    """A payment of the fine: {payment_id, redirect_url, amount}."""
    response = start_payment(gateway, headers, fine_id)
    assert response.status_code == 201, response.text
    return response.json()


class _Form(HTMLParser):
    """The first form of a page: its action and its fields' current values."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self._in_form = False
        self._done = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form" and not self._done:
            self._in_form = True
            self.action = attributes.get("action", "")
        elif self._in_form and tag in {"input", "select", "textarea"} and "name" in attributes:
            self.fields[attributes["name"]] = attributes.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self._in_form:
            self._in_form, self._done = False, True


@dataclass
class BankPage:
    """The bank's hosted payment page as a browser got it."""

    url: str
    html: str
    action: str  # absolute URL the form posts to
    fields: dict[str, str]  # the form's own fields (hidden ones included)


def open_bank_page(browser: httpx.Client, redirect_url: str) -> BankPage:
    """Open the portal's `redirect_url` (the checkout): its 303 leads to the bank's page, which
    is fetched; nothing further is followed."""
    checkout = browser.get(redirect_url)
    assert checkout.status_code == 303, f"checkout: {checkout.status_code} {checkout.text[:300]}"
    page_url = urljoin(redirect_url, checkout.headers["location"])
    page = browser.get(page_url)
    assert page.status_code == 200, f"bank page: {page.status_code} {page.text[:300]}"
    assert page.headers["content-type"].startswith("text/html"), page.headers
    form = _Form()
    form.feed(page.text)
    assert form.action is not None, f"no form on the bank's page:\n{page.text[:1000]}"
    return BankPage(page_url, page.text, urljoin(page_url, form.action), form.fields)


def post_card(
    browser: httpx.Client, page: BankPage, card_number: str, holder: str = "ELENI PAPADOPOULOU"
) -> httpx.Response:
    """Fill in the bank's form and post it as a browser would; the bank's answer (a 303 to the
    portal's return page after a payment), not followed."""
    expires = datetime.now(UTC) + timedelta(days=3 * 365)
    card = {
        "card_number": card_number,
        "expiry": expires.strftime("%m/%y"),
        "cvc": f"{secrets.randbelow(1000):03d}",
        "holder": holder,
    }
    return browser.post(page.action, data=page.fields | card)


def pay_on_bank_page(
    browser: httpx.Client, redirect_url: str, card_number: str
) -> tuple[BankPage, httpx.Response]:
    """Open the bank's page from the redirect and pay there with the card; the page and the
    bank's answer to the form (303 to the portal's return page)."""
    page = open_bank_page(browser, redirect_url)
    answer = post_card(browser, page, card_number)
    assert answer.status_code == 303, f"bank: {answer.status_code} {answer.text[:300]}"
    return page, answer


def payment_status(gateway: httpx.Client, headers: dict[str, str], payment_id: str) -> str:
    response = gateway.get(f"/payments/{payment_id}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["status"]


def fine_in_list(
    gateway: httpx.Client, headers: dict[str, str], fine_id: str
) -> dict[str, Any] | None:
    """The fine as `GET /fines` (the caller's fines) shows it, or None."""
    response = gateway.get("/fines", headers=headers, params={"limit": 100})
    assert response.status_code == 200, response.text
    return next((item for item in response.json()["items"] if item["fine_id"] == fine_id), None)


def new_browser() -> httpx.Client:
    """A browser without a session of any kind: absolute URLs, no redirect followed."""
    return httpx.Client(timeout=15.0, follow_redirects=False)
