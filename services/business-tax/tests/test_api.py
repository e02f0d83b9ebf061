"""HTTP API of the business service on real PostgreSQL with the municipal information system
simulator (SPEC B-1..B-3): who may (the exact 403 codes; the revenue department reading tax
declarations, X-3), every route's answers in the one error shape, nothing recorded on 422,
Idempotency-Key, read-your-writes, the filer and the outages."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from business_service.domainmodel import debt_id_for
from portal_events.contracts import PaymentCompletedV1, PaymentFailedV1
from portal_simulators.municipal_system import DEMO_AFM

LAST_YEAR = date.today().year - 1
BODY = {
    "period_type": "monthly",
    "period": 1,
    "year": LAST_YEAR,
    "gross_revenue": 1_500_000,
    "vat_return_date": f"{LAST_YEAR}-02-20",
}


def declare(client, headers, key: str | None = None, **fields: Any):
    extra = {"Idempotency-Key": key} if key else {}
    return client.post("/business/tax-declarations", json=BODY | fields, headers=headers | extra)


def handle(client, contract) -> None:
    """Deliver one of payments' events as the consumer would."""
    from business_service.integration import handlers

    handlers(client.app.state.runtime.application)[type(contract)](None, contract)


def completed(client, payable_type: str, payable_id: str, payment: dict[str, Any]) -> None:
    handle(
        client,
        PaymentCompletedV1(
            payment_id=payment["payment_id"],
            payable_type=payable_type,
            payable_id=payable_id,
            amount=payment["amount"],
            payer_id=uuid.uuid4(),
            completed_at="2026-11-20T10:00:00+00:00",
        ),
    )


def eventually(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    """`check()`'s first truthy answer, polling (the workers run in the background)."""
    deadline = time.monotonic() + timeout
    while (answer := check()) is None or answer is False:
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.05)
    return answer


def assert_error(response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code
    assert set(body) <= {"code", "message", "details"} and body["message"]
    return body


def test_health_and_the_public_rules_b2(client):
    assert client.get("/business/health").json()["status"] == "ok"
    rules = client.get("/business/tax/rules")
    assert rules.status_code == 200
    assert rules.json()["rates"] == {"standard": 50, "special": 500}
    assert rules.json()["surcharges"] == {"monthly_basis_points": 73, "cap_percent": 100}


def bearer(token, role: str, department: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(role, department=department)}"}


def test_who_may_the_exact_codes_b1_b2_b3(client, business, token):
    """The business-only routes: every staff member too is 403 (the revenue department reads
    declarations only, below)."""
    routes = [
        ("GET", "/business/warrants"),
        ("GET", "/business/debts"),
        ("POST", "/business/tax-declarations"),
    ]
    callers = {
        "forbidden": [
            {"Authorization": f"Bearer {token('citizen')}"},
            {"Authorization": f"Bearer {token('clerk', department='revenue')}"},
            {"Authorization": f"Bearer {token('admin')}"},
        ],
        "profile_incomplete": [
            business(complete=False),
            {"Authorization": f"Bearer {token('business')}"},  # identity said nothing yet
        ],
        "not_verified": [business(verified=False)],
    }
    for code, headers_list in callers.items():
        for headers in headers_list:
            for method, path in routes:
                response = client.request(method, path, json=BODY, headers=headers)
                assert_error(response, 403, code)
    assert_error(client.get("/business/warrants"), 401, "unauthenticated")


def test_warrants_listed_newest_first_with_totals_and_as_of_even_while_down_b1(
    client, business, municipal
):
    headers = business(DEMO_AFM)
    listed = client.get("/business/warrants", headers=headers)
    assert listed.status_code == 200, listed.text
    page = listed.json()
    issued_on = [w["issued_on"] for w in page["items"]]
    assert issued_on == sorted(issued_on, reverse=True) and page["total"] == len(issued_on) > 0
    assert page["totals"]["issued"] == sum(
        w["amount"] for w in page["items"] if w["status"] == "issued"
    )
    assert page["as_of"] is not None
    only_paid = client.get("/business/warrants?status=paid", headers=headers).json()
    assert {w["status"] for w in only_paid["items"]} == {"paid"}

    municipal.put("/control", json={"mode": "down"})
    copy = client.get("/business/warrants", headers=headers)
    assert copy.status_code == 200
    assert copy.json()["items"] == page["items"]
    assert copy.json()["as_of"] is not None and copy.json()["as_of"] <= page["as_of"]


def test_a_warrant_issued_while_running_is_listed_at_once_b1(
    client, business, municipal, fresh_afm
):
    afm = fresh_afm
    headers = business(afm)
    assert client.get("/business/warrants", headers=headers).json()["items"] == []
    body = {"afm": afm, "amount": 99_00, "description": "Συντήρηση", "budget_code": "10-6261"}
    assert municipal.post("/warrants", json=body).status_code == 201
    [warrant] = client.get("/business/warrants", headers=headers).json()["items"]
    assert (warrant["amount"], warrant["status"]) == (99_00, "issued")


def test_declare_quote_list_at_once_pay_accept_and_file_b2(client, business, municipal):
    headers = business()
    created = declare(client, headers, key="declare-0001")
    assert created.status_code == 201, created.text
    quote = created.json()
    assert quote["status"] == "quoted"
    assert quote["tax"] == 7_500 and quote["total"] == 7_500 + quote["surcharges"]
    assert quote["valid_until"] > quote["computed_at"]
    declaration_id = quote["declaration_id"]
    # Idempotency-Key: the same declaration; read-your-writes: listed at once.
    assert declare(client, headers, key="declare-0001").json()["declaration_id"] == declaration_id
    listed = client.get("/business/tax-declarations", headers=headers).json()
    assert [d["declaration_id"] for d in listed["items"]] == [declaration_id]

    link = f"/business/tax-declarations/{declaration_id}"
    payment = client.post(f"{link}/payment", headers=headers | {"Idempotency-Key": "payment-0001"})
    assert payment.status_code == 201, payment.text
    started = payment.json()
    assert (
        started["redirect_url"] == f"http://portal.test/payments/{started['payment_id']}/checkout"
    )
    assert started["amount"] == quote["total"]
    assert client.post(f"{link}/payment", headers=headers).json() == started  # the open one
    listed = client.get("/business/tax-declarations", headers=headers).json()
    assert listed["items"][0]["status"] == "payment_pending"

    completed(client, "tax_declaration", declaration_id, started)
    filed = eventually(lambda: (d := client.get(link, headers=headers).json())["filed"] and d)
    assert (filed["status"], filed["payment_id"]) == ("accepted", started["payment_id"])
    assert [h["event"] for h in filed["history"]][:3] == ["Quoted", "PaymentStarted", "Accepted"]
    in_system = municipal.get(f"/declarations/{declaration_id}").json()
    assert (in_system["receipt"], in_system["total"]) == (filed["receipt"], quote["total"])

    assert_error(client.post(f"{link}/payment", headers=headers), 409, "already_paid")
    assert_error(declare(client, headers), 409, "period_already_declared")


def test_a_nil_declaration_is_accepted_without_a_payment_and_filed_b2(client, business, municipal):
    """Gross receipts 0 (allowed: revenue >= 0): total 0, nothing to pay, accepted at once with
    no payment and no bank page, filed like any other; a repeat answers the same."""
    headers = business()
    quote = declare(
        client, headers, period=5, vat_return_date=f"{LAST_YEAR}-06-10", gross_revenue=0
    )
    assert quote.status_code == 201, quote.text
    assert (quote.json()["tax"], quote.json()["total"]) == (0, 0)
    link = f"/business/tax-declarations/{quote.json()['declaration_id']}"

    accepted = client.post(f"{link}/payment", headers=headers | {"Idempotency-Key": "nil-0001"})
    assert accepted.status_code == 201, accepted.text
    assert accepted.json() == {"payment_id": None, "redirect_url": None, "amount": 0}
    again = client.post(f"{link}/payment", headers=headers | {"Idempotency-Key": "nil-0001"})
    assert (again.status_code, again.json()) == (201, accepted.json())
    listed = client.get("/business/tax-declarations", headers=headers).json()
    assert listed["items"][0]["status"] == "accepted"  # read-your-writes

    filed = eventually(lambda: (d := client.get(link, headers=headers).json())["filed"] and d)
    assert (filed["status"], filed["payment_id"], filed["total"]) == ("accepted", None, 0)
    assert [h["event"] for h in filed["history"]] == ["Quoted", "Accepted", "Filed"]
    in_system = municipal.get(f"/declarations/{quote.json()['declaration_id']}").json()
    assert (in_system["total"], in_system["payment_id"], in_system["paid_at"]) == (0, None, None)
    assert client.post(f"{link}/payment", headers=headers).json() == accepted.json()
    period = {"period": 5, "vat_return_date": f"{LAST_YEAR}-06-10"}
    assert_error(declare(client, headers, **period), 409, "period_already_declared")


def test_declined_is_rejected_and_declared_again_b2(client, business):
    headers = business()
    declaration_id = declare(client, headers, period=2, vat_return_date=f"{LAST_YEAR}-03-15")
    declaration_id = declaration_id.json()["declaration_id"]
    link = f"/business/tax-declarations/{declaration_id}"
    started = client.post(f"{link}/payment", headers=headers).json()
    handle(
        client,
        PaymentFailedV1(
            payment_id=started["payment_id"],
            payable_type="tax_declaration",
            payable_id=declaration_id,
            payer_id=uuid.uuid4(),
            reason="declined",
            failed_at="2026-11-20T10:00:00+00:00",
        ),
    )
    rejected = client.get(link, headers=headers).json()
    assert (rejected["status"], rejected["rejection_reason"]) == ("rejected", "payment_failed")
    assert_error(client.post(f"{link}/payment", headers=headers), 409, "declaration_rejected")
    again = declare(client, headers, period=2, vat_return_date=f"{LAST_YEAR}-03-15")
    assert again.status_code == 201, again.text


def test_invalid_declarations_are_422_naming_the_field_and_record_nothing_b2(client, business):
    headers = business()
    cases = [
        ({"period": 13}, "period"),
        ({"period_type": "quarterly", "period": 5}, "period"),
        ({"year": date.today().year + 1}, "period"),
        ({"vat_return_date": f"{LAST_YEAR}-01-30"}, "vat_return_date"),
        ({"vat_return_date": "2999-01-01"}, "vat_return_date"),
        ({"gross_revenue": -1}, "gross_revenue"),
        ({"gross_revenue": 10**15}, "gross_revenue"),
        ({"period_type": "yearly"}, "period_type"),
        ({"vat_return_date": "not a date"}, "vat_return_date"),
    ]
    for fields, field in cases:
        body = assert_error(declare(client, headers, **fields), 422, "invalid_input")
        assert field in [d["field"].split(".")[-1] for d in body["details"]], (fields, body)
    assert client.get("/business/tax-declarations", headers=headers).json()["total"] == 0


def test_a_period_filed_at_the_municipality_is_409_b2(client, business):
    demo_q1 = {"period_type": "quarterly", "period": 1, "year": 2026}
    response = declare(client, business(DEMO_AFM), **demo_q1, vat_return_date="2026-04-20")
    assert_error(response, 409, "period_already_declared")


def test_the_system_down_while_declaring_is_503_and_records_nothing_b2(client, business, municipal):
    headers = business()
    municipal.put("/control", json={"mode": "down"})
    response = declare(client, headers)
    assert_error(response, 503, "municipal_system_unavailable")
    assert response.headers["Retry-After"].isdigit()
    assert client.get("/business/tax-declarations", headers=headers).json()["total"] == 0


def test_filing_while_the_system_is_down_is_retried_and_completed_when_back_b2(
    client, business, municipal
):
    headers = business()
    declaration_id = declare(client, headers, period=3, vat_return_date=f"{LAST_YEAR}-04-10")
    declaration_id = declaration_id.json()["declaration_id"]
    link = f"/business/tax-declarations/{declaration_id}"
    started = client.post(f"{link}/payment", headers=headers).json()
    municipal.put("/control", json={"mode": "down"})
    completed(client, "tax_declaration", declaration_id, started)

    def events() -> list[str]:
        return [e["event"] for e in client.get(link, headers=headers).json()["history"]]

    history = eventually(lambda: "FilingFailed" in (seen := events()) and seen)
    assert "Filed" not in history
    municipal.put("/control", json={"mode": "up"})
    filed = eventually(lambda: (d := client.get(link, headers=headers).json())["filed"] and d)
    assert [e["event"] for e in filed["history"]].count("Filed") == 1
    assert municipal.get(f"/declarations/{declaration_id}").status_code == 200


def test_another_business_gets_404_on_every_id_b2_b3(client, business, municipal):
    owner, stranger = business(), business()
    declaration_id = declare(client, owner, period=4, vat_return_date=f"{LAST_YEAR}-05-10")
    link = f"/business/tax-declarations/{declaration_id.json()['declaration_id']}"
    assert_error(client.get(link, headers=stranger), 404, "not_found")
    assert_error(client.post(f"{link}/payment", headers=stranger), 404, "not_found")
    debt = municipal.post(
        "/debts", json={"afm": DEMO_AFM, "principal": 100, "description": "x", "period": "2025"}
    ).json()
    assert_error(
        client.get(f"/business/debts/{debt['debt_id']}", headers=stranger), 404, "not_found"
    )
    paying = client.post(f"/business/debts/{debt['debt_id']}/payment", headers=stranger)
    assert_error(paying, 404, "not_found")


def test_a_debt_paid_is_gone_from_the_open_list_shown_paid_and_not_paid_again_b3(
    client, business, municipal, fresh_afm
):
    afm = fresh_afm
    headers = business(afm)
    debt = municipal.post(
        "/debts",
        json={
            "afm": afm,
            "principal": 42_000,
            "description": "Τέλος ακαθαρίστων εσόδων",
            "period": "2025 Q3",
            "assessed_on": "2025-10-15",
        },
    ).json()
    [listed] = client.get("/business/debts", headers=headers).json()["items"]
    assert (listed["debt_id"], listed["status"], listed["principal"]) == (
        debt["debt_id"],
        "open",
        42_000,
    )
    assert listed["surcharges"] > 0 and listed["reference"].startswith("RF")
    link = f"/business/debts/{debt['debt_id']}"
    assert client.get(link, headers=headers).json()["total"] == listed["total"]

    keyed = headers | {"Idempotency-Key": "debt-payment-0001"}
    started = client.post(f"{link}/payment", headers=keyed)
    assert started.status_code == 201, started.text
    payment = started.json()
    assert payment["amount"] == listed["total"]
    again = client.post(f"{link}/payment", headers=keyed)
    assert again.json() == payment
    completed(client, "tax_debt", str(debt_id_for(afm, debt["debt_id"])), payment)
    assert client.get("/business/debts", headers=headers).json()["items"] == []
    [paid] = client.get("/business/debts?status=paid", headers=headers).json()["items"]
    assert (paid["status"], paid["payment_id"], paid["total"]) == (
        "paid",
        payment["payment_id"],
        payment["amount"],
    )
    assert_error(client.post(f"{link}/payment", headers=headers), 409, "already_paid")
    eventually(lambda: municipal.get(f"/debts/{debt['debt_id']}").json()["status"] == "paid")


def test_debts_are_live_so_the_system_down_is_503_b3(client, business, municipal):
    headers = business(DEMO_AFM)
    municipal.put("/control", json={"mode": "down"})
    for response in (
        client.get("/business/debts", headers=headers),
        client.get("/business/debts/BO-2026-000118", headers=headers),
        client.post("/business/debts/BO-2026-000118/payment", headers=headers),
    ):
        assert_error(response, 503, "municipal_system_unavailable")


# --- the revenue department reads tax declarations -----------------------------------------


def test_revenue_clerks_auditors_and_admins_read_a_declaration_as_its_owner_does_x3(
    client, business, token
):
    """The worklist's link (`/business/tax-declarations/{declaration_id}`) opens for the
    revenue department's clerks, auditors and admins: 200 and the very body the owner reads;
    they change nothing (paying, declaring, warrants and debts stay the business's: 403)."""
    owner = business()
    created = declare(client, owner, period=6, vat_return_date=f"{LAST_YEAR}-07-10")
    link = f"/business/tax-declarations/{created.json()['declaration_id']}"
    owners = client.get(link, headers=owner)
    assert owners.status_code == 200, owners.text
    assert owners.json()["afm"] and owners.json()["status"] == "quoted"
    staff = [bearer(token, "clerk", "revenue"), bearer(token, "auditor"), bearer(token, "admin")]
    for headers in staff:
        read = client.get(link, headers=headers)
        assert (read.status_code, read.json()) == (200, owners.json())
        for method, path in [
            ("POST", f"{link}/payment"),
            ("POST", "/business/tax-declarations"),
            ("GET", "/business/warrants"),
            ("GET", "/business/debts"),
        ]:
            assert_error(client.request(method, path, json=BODY, headers=headers), 403, "forbidden")
        unknown = f"/business/tax-declarations/{uuid.uuid4()}"
        assert_error(client.get(unknown, headers=headers), 404, "not_found")
    assert client.get(link, headers=owner).json() == owners.json()  # nothing changed


def test_the_declarations_are_refused_to_citizens_other_clerks_and_unready_businesses_x3(
    client, business, token
):
    """Citizens and clerks of other departments: 403 `forbidden` on both routes (businesses' tax
    affairs are revenue's); a business still needs its profile and its verification."""
    created = declare(client, business(), period=7, vat_return_date=f"{LAST_YEAR}-08-10")
    paths = [
        "/business/tax-declarations",
        f"/business/tax-declarations/{created.json()['declaration_id']}",
    ]
    callers = {
        "forbidden": [
            bearer(token, "citizen"),
            bearer(token, "clerk", "civil_registry"),
            bearer(token, "clerk", "technical"),
            bearer(token, "clerk"),  # a clerk without a department
        ],
        "profile_incomplete": [business(complete=False)],
        "not_verified": [business(verified=False)],
    }
    for code, headers_list in callers.items():
        for headers in headers_list:
            for path in paths:
                assert_error(client.get(path, headers=headers), 403, code)
    for path in paths:
        assert_error(client.get(path), 401, "unauthenticated")


def test_the_revenue_list_holds_every_business_by_afm_and_status_newest_first_paged_x3(
    client, business, token, fresh_afm
):
    """Revenue clerks, auditors and admins list every business's declarations, newest first,
    optionally of one `afm` and one `status`, paged; a business lists its own whatever `afm` it
    names."""
    first_owner, second_owner = business(fresh_afm), business()
    first = declare(client, first_owner, period=8, vat_return_date=f"{LAST_YEAR}-09-10").json()
    second = declare(client, first_owner, period=9, vat_return_date=f"{LAST_YEAR}-10-10").json()
    link = f"/business/tax-declarations/{second['declaration_id']}"
    assert client.post(f"{link}/payment", headers=first_owner).status_code == 201
    latest = declare(client, second_owner, period=10, vat_return_date=f"{LAST_YEAR}-11-10").json()
    newest_first = [second["declaration_id"], first["declaration_id"]]

    def ids(headers: dict[str, str], **params: Any) -> list[str]:
        response = client.get("/business/tax-declarations", params=params, headers=headers)
        assert response.status_code == 200, response.text
        return [d["declaration_id"] for d in response.json()["items"]]

    for headers in (
        bearer(token, "clerk", "revenue"),
        bearer(token, "auditor"),
        bearer(token, "admin"),
    ):
        everyone = client.get("/business/tax-declarations", headers=headers).json()
        assert everyone["items"][0]["declaration_id"] == latest["declaration_id"]
        declared_at = [d["declared_at"] for d in everyone["items"]]
        assert declared_at == sorted(declared_at, reverse=True)
        assert {d["afm"] for d in everyone["items"]} >= {fresh_afm}
        assert ids(headers, afm=fresh_afm) == newest_first
        assert ids(headers, afm=fresh_afm, status="payment_pending") == newest_first[:1]
        assert ids(headers, afm=fresh_afm, status="quoted") == newest_first[1:]
        page = client.get(
            "/business/tax-declarations",
            params={"afm": fresh_afm, "limit": 1, "offset": 1},
            headers=headers,
        ).json()
        assert ([d["declaration_id"] for d in page["items"]], page["total"]) == (
            newest_first[1:],
            2,
        )
        for malformed in ({"afm": "12345678"}, {"afm": "ΑΦΜ123456"}, {"status": "filed"}):
            response = client.get("/business/tax-declarations", params=malformed, headers=headers)
            assert_error(response, 422, "invalid_input")

    assert ids(first_owner) == newest_first
    assert ids(first_owner, afm=fresh_afm) == newest_first
    assert ids(second_owner, afm=fresh_afm) == []  # not another business's


@pytest.mark.parametrize("path", ["/business/tax-declarations/not-a-uuid"])
def test_a_malformed_id_is_422(client, business, path):
    assert_error(client.get(path, headers=business()), 422, "invalid_input")
