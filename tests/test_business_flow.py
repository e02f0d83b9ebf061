"""The business services end to end through the gateway, the business, payments, notifications
and back-office services, Kafka, and the bank's and the municipal information system's
simulators (SPEC B-1..B-3; issue 9 "End to end on the real stack").

Each test's business registers with an ΑΦΜ of its own (`businesses.register_business`) and a
clerk verifies its representative in person (ID-3); the business service learns both from
identity's events. Declarations and debts are paid the way a browser does it, on the bank's
hosted page (`fine_payments`). The information system is the simulator on the operators'
listener: tests issue warrants and assess debts there, look up what was filed, and switch it
down (always back up by the fixture).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from businesses import (
    DEMO_AFM,
    REPRESENTATIVE_SEEN,
    Business,
    MunicipalSystem,
    declaration_body,
    last_month,
    last_quarter,
    refusal_code,
    register_business,
)
from fine_payments import DECLINED_CARD, SUCCESS_CARD, new_browser, pay_on_bank_page

pytestmark = pytest.mark.integration

# The standard category's rate (art. 20 ν. 2539/1997): 0.5 % of gross receipts; a business the
# information system did not know is created in that category.
STANDARD_RATE = 0.005
# Through Kafka twice (payments -> business -> notifications or back office) and a filing.
RESULT_SECONDS = 20
# What asking to pay a nil declaration (total 0) answers: accepted at once, nothing to pay.
NIL_ACCEPTED = {"payment_id": None, "redirect_url": None, "amount": 0}


@pytest.fixture(scope="module")
def municipal_system(stack) -> Iterator[MunicipalSystem]:
    system = MunicipalSystem(stack.gateway_operators_url)
    yield system
    system.close()


@pytest.fixture
def outage(municipal_system) -> Iterator[MunicipalSystem]:
    """The information system, to be switched down by the test; up again afterwards, whatever
    happened (other tests and engineers share the stack)."""
    yield municipal_system
    municipal_system.set_mode("up")


@pytest.fixture(scope="module")
def browser() -> Iterator[httpx.Client]:
    with new_browser() as client:
        yield client


@pytest.fixture
def verified_business(gateway, clerk_of, eventually) -> Callable[..., Business]:
    """verified_business(afm=None) -> a business with a complete profile (its own ΑΦΜ unless
    `afm`), its representative verified by a clerk, once the business service serves it."""

    def make(afm: str | None = None) -> Business:
        business = register_business(gateway, afm)
        verified = clerk_of("revenue").post(
            f"/identity/users/{business.user_id}/verification", json=REPRESENTATIVE_SEEN
        )
        assert verified.status_code == 201, verified.text
        eventually(lambda: refusal_code(business) is None)
        return business

    return make


def listed(business: Business, path: str, **params: Any) -> dict[str, Any]:
    response = business.get(path, params={"limit": 100} | params)
    assert response.status_code == 200, response.text
    return response.json()


def declare(business: Business, body: dict[str, Any], key: str | None = None) -> dict[str, Any]:
    response = business.post("/business/tax-declarations", key, json=body)
    assert response.status_code == 201, response.text
    return response.json()


def declaration(business: Business, declaration_id: str) -> dict[str, Any]:
    response = business.get(f"/business/tax-declarations/{declaration_id}")
    assert response.status_code == 200, response.text
    return response.json()


def pay(business: Business, path: str, browser: httpx.Client, card: str) -> dict[str, Any]:
    """Start the payment of what `path` names (a declaration or a debt) and pay it with `card`
    on the bank's page; the payment as started."""
    started = business.post(f"{path}/payment")
    assert started.status_code == 201, started.text
    payment = started.json()
    pay_on_bank_page(browser, payment["redirect_url"], card)
    return payment


def notification(business: Business, kind: str, link: str) -> Callable[[], dict | None]:
    """A check for `eventually`: the business's notification of `kind` about `link`."""

    def check() -> dict[str, Any] | None:
        items = listed(business, "/notifications")["items"]
        return next((n for n in items if n["kind"] == kind and n["link"] == link), None)

    return check


def error_code(response: httpx.Response) -> str:
    return response.json()["code"]


# --- who may ----------------------------------------------------------------------------------


def test_b_a_citizen_is_refused(new_citizen):
    citizen = new_citizen()
    for response in (
        citizen.get("/business/warrants"),
        citizen.get("/business/debts"),
        citizen.post("/business/tax-declarations", json=declaration_body("monthly", 1, 2025)),
    ):
        assert response.status_code == 403, response.text
        assert error_code(response) == "forbidden"


def test_b_an_unverified_business_is_refused_saying_so(gateway, eventually):
    """Complete profile, representative not verified (ID-3): 403 `not_verified`, once the
    business service has heard of the profile (before that it knows no business at all)."""
    business = register_business(gateway)
    assert eventually(lambda: refusal_code(business) == "not_verified")
    year, month = last_month()
    refused = business.post(
        "/business/tax-declarations", json=declaration_body("monthly", month, year)
    )
    assert (refused.status_code, error_code(refused)) == (403, "not_verified")


# --- B-1 warrants -----------------------------------------------------------------------------


def test_b1_warrants_listed_a_new_one_appears_and_is_told_then_shown_paid(
    verified_business, municipal_system, eventually
):
    business = verified_business()
    assert listed(business, "/business/warrants")["items"] == []  # an ΑΦΜ of its own

    issued = municipal_system.issue_warrant(business.afm, 512_345, "Προμήθεια φωτιστικών LED")

    def shown(status: str) -> dict[str, Any] | None:
        page = listed(business, "/business/warrants")
        item = next((w for w in page["items"] if w["number"] == issued["number"]), None)
        return page if item and item["status"] == status else None

    page = eventually(lambda: shown("issued"))
    [warrant] = page["items"]
    assert (warrant["amount"], warrant["description"]) == (512_345, "Προμήθεια φωτιστικών LED")
    assert page["totals"] == {"issued": 512_345, "paid": 0} and page["as_of"]
    told = eventually(notification(business, "warrant_issued", "/business/warrants"))
    assert issued["number"] in told["title"] and "5.123,45 €" in told["body"]

    municipal_system.pay_warrant(issued["number"])
    page = eventually(lambda: shown("paid"))
    assert page["totals"] == {"issued": 0, "paid": 512_345}
    assert listed(business, "/business/warrants", status="issued")["items"] == []
    eventually(notification(business, "warrant_paid", "/business/warrants"))


def test_b1_b3_the_demo_business_sees_the_systems_demo_warrants_and_debts(verified_business):
    business = verified_business(DEMO_AFM)
    warrants = {w["number"] for w in listed(business, "/business/warrants")["items"]}
    assert {"ΧΕ-2025/001874", "ΧΕ-2026/000093", "ΧΕ-2026/001690"} <= warrants
    # Demo debts, open unless someone paid them on this stack (the README's tour may).
    debts = listed(business, "/business/debts")["items"]
    debts += listed(business, "/business/debts", status="paid")["items"]
    assert {"BO-2026-000118", "BO-2026-000342"} <= {d["debt_id"] for d in debts}


# --- B-2 declarations -------------------------------------------------------------------------


def test_b2_a_quarter_declared_quoted_paid_accepted_and_filed_then_not_again(
    verified_business, municipal_system, browser, eventually
):
    business = verified_business()
    year, quarter = last_quarter()
    body = declaration_body("quarterly", quarter, year, gross_revenue=2_000_000_00)
    quote = declare(business, body, key="quarter-" + business.afm)
    assert declare(business, body, key="quarter-" + business.afm) == quote  # same key: same
    declaration_id = quote["declaration_id"]
    assert quote["status"] == "quoted"
    assert quote["tax"] == round(body["gross_revenue"] * STANDARD_RATE)
    assert quote["total"] == quote["tax"] + quote["surcharges"]

    payment = pay(business, f"/business/tax-declarations/{declaration_id}", browser, SUCCESS_CARD)
    assert payment["amount"] == quote["total"]
    accepted = eventually(
        lambda: (d := declaration(business, declaration_id))["status"] == "accepted" and d,
        timeout=RESULT_SECONDS,
    )
    assert accepted["payment_id"] == payment["payment_id"]
    eventually(lambda: declaration(business, declaration_id)["filed"], timeout=RESULT_SECONDS)
    filed = municipal_system.filed_declaration(declaration_id)
    assert filed is not None  # the system has it, paid as quoted
    assert (filed["total"], filed["payment_id"]) == (quote["total"], payment["payment_id"])

    link = f"/business/tax-declarations/{declaration_id}"
    eventually(notification(business, "tax_declaration_accepted", link))
    told = eventually(notification(business, "tax_declaration_filed", link))
    assert filed["receipt"] in told["body"]

    again = business.post(f"{link}/payment")
    assert (again.status_code, error_code(again)) == (409, "already_paid")
    second = business.post("/business/tax-declarations", json=body)
    assert second.status_code in (409, 422), second.text
    if second.status_code == 409:
        assert error_code(second) == "period_already_declared"
    assert [
        d["declaration_id"] for d in listed(business, "/business/tax-declarations")["items"]
    ] == [declaration_id]


def test_b2_a_nil_quarter_is_accepted_and_filed_without_any_bank_page(
    verified_business, municipal_system, eventually
):
    """A quarter without receipts (revenue 0, which B-2 allows) has nothing to pay: asked to pay,
    the declaration is accepted at once, never sent to the bank, and filed."""
    business = verified_business()
    year, quarter = last_quarter()
    quote = declare(business, declaration_body("quarterly", quarter, year, gross_revenue=0))
    assert (quote["tax"], quote["surcharges"], quote["total"]) == (0, 0, 0)
    declaration_id = quote["declaration_id"]
    link = f"/business/tax-declarations/{declaration_id}"

    accepted = business.post(f"{link}/payment", key="nil-" + business.afm)
    assert accepted.status_code == 201, accepted.text
    assert accepted.json() == NIL_ACCEPTED
    assert business.post(f"{link}/payment", key="nil-" + business.afm).json() == NIL_ACCEPTED
    assert business.post(f"{link}/payment").json() == NIL_ACCEPTED  # a repeat: the same
    assert declaration(business, declaration_id)["status"] == "accepted"
    eventually(lambda: declaration(business, declaration_id)["filed"], timeout=RESULT_SECONDS)
    filed = municipal_system.filed_declaration(declaration_id)
    assert filed is not None  # the system has it, with no payment
    assert (filed["total"], filed["payment_id"], filed["paid_at"]) == (0, None, None)
    history = [h["event"] for h in declaration(business, declaration_id)["history"]]
    assert history == ["Quoted", "Accepted", "Filed"]  # no payment was ever started

    told = eventually(notification(business, "tax_declaration_accepted_nil", link))
    assert "δεν υπάρχει ποσό για πληρωμή" in told["body"]
    eventually(notification(business, "tax_declaration_filed", link))


def test_b2_a_month_declined_is_rejected_declared_again_and_accepted(
    verified_business, browser, eventually
):
    business = verified_business()
    year, month = last_month()
    body = declaration_body("monthly", month, year)
    first = declare(business, body)["declaration_id"]

    pay(business, f"/business/tax-declarations/{first}", browser, DECLINED_CARD)
    rejected = eventually(
        lambda: (d := declaration(business, first))["status"] == "rejected" and d,
        timeout=RESULT_SECONDS,
    )
    assert (rejected["rejection_reason"], rejected["filed"]) == ("payment_failed", False)
    refused = business.post(f"/business/tax-declarations/{first}/payment")
    assert (refused.status_code, error_code(refused)) == (409, "declaration_rejected")
    told = eventually(
        notification(business, "tax_declaration_rejected", f"/business/tax-declarations/{first}")
    )
    assert "η πληρωμή δεν ολοκληρώθηκε" in told["body"]

    second = declare(business, body)["declaration_id"]  # the same month again: allowed
    assert second != first
    pay(business, f"/business/tax-declarations/{second}", browser, SUCCESS_CARD)
    eventually(
        lambda: declaration(business, second)["status"] == "accepted", timeout=RESULT_SECONDS
    )
    statuses = {
        d["declaration_id"]: d["status"]
        for d in listed(business, "/business/tax-declarations")["items"]
    }
    assert statuses == {first: "rejected", second: "accepted"}


# --- B-3 assessed debts -----------------------------------------------------------------------


def test_b3_an_assessed_debt_paid_leaves_the_open_list_and_shows_paid(
    verified_business, municipal_system, browser, eventually
):
    business = verified_business()
    debt_id = municipal_system.assess_debt(business.afm, 42_000, "2025 Q4")["debt_id"]
    [debt] = listed(business, "/business/debts")["items"]
    assert (debt["debt_id"], debt["principal"], debt["status"]) == (debt_id, 42_000, "open")
    assert debt["total"] == debt["principal"] + debt["surcharges"]
    assert debt["reference"].startswith("RF")

    payment = pay(business, f"/business/debts/{debt_id}", browser, SUCCESS_CARD)
    assert payment["amount"] == debt["total"]
    eventually(lambda: listed(business, "/business/debts")["items"] == [], timeout=RESULT_SECONDS)
    [paid] = listed(business, "/business/debts", status="paid")["items"]
    assert (paid["debt_id"], paid["status"]) == (debt_id, "paid")
    assert business.get(f"/business/debts/{debt_id}").json()["status"] == "paid"
    assert municipal_system.debt(debt_id)["payment_id"] == payment["payment_id"]

    again = business.post(f"/business/debts/{debt_id}/payment")
    assert (again.status_code, error_code(again)) == (409, "already_paid")


# --- the information system down --------------------------------------------------------------


def test_b1_b2_system_down_warrants_from_the_copy_and_a_paid_declaration_filed_once_back(
    verified_business, outage, browser, clerk_of, eventually
):
    """While the information system is down the warrants answer from the service's copy (with
    its `as_of`), a new declaration cannot be quoted (503, nothing recorded), and one quoted
    before and paid meanwhile is accepted, waits on revenue's worklist, and is filed once the
    system is back."""
    business = verified_business()
    outage.issue_warrant(business.afm, 98_000, "Καθαρισμός οικοπέδου")
    copy = eventually(lambda: listed(business, "/business/warrants")["items"])
    year, month = last_month()
    declaration_id = declare(business, declaration_body("monthly", month, year))["declaration_id"]

    outage.set_mode("down")
    went_down = datetime.now(UTC)
    page = listed(business, "/business/warrants")
    assert page["items"] == copy
    assert datetime.fromisoformat(page["as_of"]) <= went_down
    quarter_year, quarter = last_quarter()
    unavailable = business.post(
        "/business/tax-declarations", json=declaration_body("quarterly", quarter, quarter_year)
    )
    assert unavailable.status_code == 503, unavailable.text
    assert [
        d["declaration_id"] for d in listed(business, "/business/tax-declarations")["items"]
    ] == [declaration_id]  # nothing recorded

    pay(business, f"/business/tax-declarations/{declaration_id}", browser, SUCCESS_CARD)
    eventually(
        lambda: declaration(business, declaration_id)["status"] == "accepted",
        timeout=RESULT_SECONDS,
    )
    revenue = clerk_of("revenue")

    def on_revenues_worklist() -> bool:
        response = revenue.get(
            "/backoffice/worklist",
            params={"kind": "tax_declaration", "overdue": False, "limit": 100},
        )
        assert response.status_code == 200, response.text
        return any(item["id"] == declaration_id for item in response.json()["items"])

    eventually(on_revenues_worklist, timeout=RESULT_SECONDS)
    assert declaration(business, declaration_id)["filed"] is False  # the system is down

    outage.set_mode("up")
    eventually(lambda: declaration(business, declaration_id)["filed"], timeout=RESULT_SECONDS)
    assert outage.filed_declaration(declaration_id) is not None
    eventually(lambda: not on_revenues_worklist(), timeout=RESULT_SECONDS)
    link = f"/business/tax-declarations/{declaration_id}"
    eventually(notification(business, "tax_declaration_filed", link))


# --- another business's ids -------------------------------------------------------------------


def test_b_another_business_gets_404_on_every_id(verified_business, municipal_system):
    owner, other = verified_business(), verified_business()
    year, month = last_month()
    declaration_id = declare(owner, declaration_body("monthly", month, year))["declaration_id"]
    debt_id = municipal_system.assess_debt(owner.afm, 10_000, "2025 Q2")["debt_id"]
    assert [d["debt_id"] for d in listed(owner, "/business/debts")["items"]] == [debt_id]

    for response in (
        other.get(f"/business/tax-declarations/{declaration_id}"),
        other.post(f"/business/tax-declarations/{declaration_id}/payment"),
        other.get(f"/business/debts/{debt_id}"),
        other.post(f"/business/debts/{debt_id}/payment"),
    ):
        assert response.status_code == 404, f"{response.request.url}: {response.text}"
    assert listed(other, "/business/tax-declarations")["items"] == []
    assert listed(other, "/business/debts")["items"] == []
