"""The municipal information system simulator (SPEC B-1 warrants, B-2 filed declarations, nil
ones included, B-3 assessed debts), over HTTP."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from uuid import uuid4

import httpx
import pytest
from portal_simulators.municipal_system import (
    DEMO_AFM,
    DEMO_DEBTS,
    DEMO_WARRANTS,
    afm_is_valid,
    create_app,
)
from portal_simulators.testing import serve

OTHER_AFM = "090000045"  # valid, unknown to the system at first
NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


@pytest.fixture
def db_path(tmp_path):
    return str(tmp_path / "municipal-system.sqlite3")


@pytest.fixture
def system(db_path):
    with (
        serve(create_app(db_path, now=lambda: NOW)) as url,
        httpx.Client(base_url=url, timeout=5) as client,
    ):
        yield client


def declaration(**changes) -> dict:
    return {
        "declaration_id": str(uuid4()),
        "afm": OTHER_AFM,
        "period_type": "quarterly",
        "period": 3,
        "year": 2026,
        "gross_revenue": 12_000_000,
        "tax": 60_000,
        "surcharges": 0,
        "total": 60_000,
        "payment_id": str(uuid4()),
        "paid_at": "2026-10-12T09:30:00+03:00",
    } | changes


def payment(**changes) -> dict:
    return {"payment_id": str(uuid4()), "amount": 70_000, "paid_at": NOW.isoformat()} | changes


def test_afm_check_digit():
    assert afm_is_valid(DEMO_AFM) and afm_is_valid(OTHER_AFM)
    assert not any(map(afm_is_valid, ["094014202", "000000000", "12345678", "٠٩٤٠١٤٢٠١"]))


def test_the_demo_business_has_warrants_debts_and_an_earlier_declaration_b1_b2_b3(system):
    business = system.get(f"/businesses/{DEMO_AFM}").json()
    assert (business["legal_name"], business["category"]) == ("ΑΒΓ Τεχνική ΑΕ", "standard")
    assert [(d["period_type"], d["period"], d["year"]) for d in business["declarations"]] == [
        ("quarterly", 1, 2026)
    ]
    warrants = system.get("/warrants", params={"afm": DEMO_AFM}).json()["items"]
    assert [w["number"] for w in warrants] == [w["number"] for w in reversed(DEMO_WARRANTS)]
    assert {w["status"] for w in warrants} == {"issued", "paid"}
    debts = system.get("/debts", params={"afm": DEMO_AFM}).json()["items"]
    assert sorted(d["debt_id"] for d in debts) == sorted(d["debt_id"] for d in DEMO_DEBTS)
    assert {d["status"] for d in debts} == {"open"}


def test_a_business_is_created_standard_on_first_sight_and_a_bad_afm_is_422_b2(system):
    assert system.get(f"/businesses/{OTHER_AFM}").json() == {
        "afm": OTHER_AFM,
        "legal_name": None,
        "category": "standard",
        "declarations": [],
    }
    for bad in ("094014202", "abc"):
        refused = system.get(f"/businesses/{bad}")
        assert refused.status_code == 422
        assert refused.json()["code"] == "invalid_afm"
    assert system.get("/warrants", params={"afm": "1"}).json()["code"] == "invalid_afm"
    missing = system.get("/debts")
    assert missing.status_code == 422
    assert missing.json()["details"] == [{"field": "afm", "message": "Field required"}]


def test_warrants_are_issued_numbered_per_year_and_paid_while_running_b1(system):
    body = {
        "afm": OTHER_AFM,
        "amount": 125_000,
        "description": "Προμήθεια γραφικής ύλης",
        "budget_code": "10-6612.001",
    }
    first = system.post("/warrants", json=body)
    assert first.status_code == 201, first.text
    assert first.json() | {"number": None} == body | {
        "number": None,
        "issued_on": "2026-11-26",  # today, in Athens
        "status": "issued",
        "paid_on": None,
    }
    assert first.json()["number"] == "ΧΕ-2026/001691"  # after the demo's last of 2026
    older = system.post("/warrants", json=body | {"issued_on": "2024-02-01"}).json()
    assert older["number"] == "ΧΕ-2024/000001"
    paid = system.post(f"/warrants/{first.json()['number']}/pay", json={"paid_on": "2026-11-26"})
    assert (paid.status_code, paid.json()["status"]) == (200, "paid")
    again = system.post(f"/warrants/{first.json()['number']}/pay", json={"paid_on": "2026-12-01"})
    assert again.json() == paid.json()  # paid already: unchanged
    listed = system.get("/warrants", params={"afm": OTHER_AFM}).json()["items"]
    assert [w["number"] for w in listed] == [first.json()["number"], older["number"]]
    assert system.post("/warrants/ΧΕ-2026/999999/pay").status_code == 404
    early = system.post(f"/warrants/{older['number']}/pay", json={"paid_on": "2024-01-01"})
    assert early.json()["code"] == "invalid_date"
    bad = system.post("/warrants", json=body | {"amount": 0, "budget_code": "x"})
    assert {d["field"] for d in bad.json()["details"]} == {"amount", "budget_code"}


def test_a_debt_is_paid_once_idempotently_per_payment_b3(system):
    debt_id = DEMO_DEBTS[0]["debt_id"]
    first = payment()
    paid = system.post(f"/debts/{debt_id}/payments", json=first)
    assert paid.status_code == 200, paid.text
    assert paid.json()["status"] == "paid"
    assert paid.json()["payment_id"] == first["payment_id"]
    assert system.post(f"/debts/{debt_id}/payments", json=first).json() == paid.json()
    second = system.post(f"/debts/{debt_id}/payments", json=payment())
    assert second.status_code == 409
    assert second.json()["code"] == "already_paid"
    assert second.json()["details"] == paid.json()
    assert system.get(f"/debts/{debt_id}").json() == paid.json()


def test_a_debt_assessed_while_running_refuses_less_than_its_principal_b3(system):
    body = {
        "afm": OTHER_AFM,
        "principal": 50_000,
        "description": "Τέλος 0,5 %",
        "period": "2026 Q2",
    }
    assessed = system.post("/debts", json=body)
    assert assessed.status_code == 201, assessed.text
    debt = assessed.json()
    assert (debt["debt_id"], debt["assessed_on"], debt["status"]) == (
        "BO-2026-000343",
        "2026-11-26",
        "open",
    )
    short = system.post(f"/debts/{debt['debt_id']}/payments", json=payment(amount=49_999))
    assert (short.status_code, short.json()["code"]) == (422, "amount_too_low")
    assert system.get(f"/debts/{debt['debt_id']}").json()["status"] == "open"
    assert system.get("/debts/BO-1999-000001").status_code == 404
    assert system.post("/debts/BO-1999-000001/payments", json=payment()).status_code == 404


def test_a_declaration_is_filed_once_per_id_and_once_per_period_b2(system):
    body = declaration()
    filed = system.post("/declarations", json=body)
    assert filed.status_code == 201, filed.text
    assert filed.json() == {
        "declaration_id": body["declaration_id"],
        "receipt": "ΑΠ-2026/000413",  # after the demo's
        "filed_at": "2026-11-26T10:00:00Z",
    }
    again = system.post("/declarations", json=body)
    assert (again.status_code, again.json()) == (200, filed.json())
    other = system.post("/declarations", json=declaration())
    assert other.status_code == 409
    assert other.json()["code"] == "period_already_declared"
    assert other.json()["details"]["declaration_id"] == body["declaration_id"]
    stored = system.get(f"/declarations/{body['declaration_id']}").json()
    assert stored["payment_id"] == body["payment_id"]
    assert stored["receipt"] == "ΑΠ-2026/000413"
    assert system.post("/declarations", json=declaration(period_type="monthly")).status_code == 201
    assert system.get(f"/declarations/{uuid4()}").status_code == 404


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"period": 5}, "body"),  # a fifth quarter
        ({"period_type": "monthly", "period": 13}, "period"),
        ({"total": 60_001}, "body"),  # not tax + surcharges
        ({"gross_revenue": -1}, "gross_revenue"),
        ({"declaration_id": "a/b"}, "declaration_id"),
        ({"payment_id": None, "paid_at": None}, "body"),  # something to pay, and not paid
        ({"paid_at": None}, "body"),  # a payment without its time
    ],
)
def test_an_invalid_declaration_is_422_with_the_field_and_filed_nowhere_b2(system, changes, field):
    body = declaration(**changes)
    refused = system.post("/declarations", json=body)
    assert refused.status_code == 422
    assert refused.json()["code"] == "invalid_request"
    assert [detail["field"] for detail in refused.json()["details"]] == [field]
    assert system.get("/businesses/090000045").json()["declarations"] == []


def test_a_nil_declaration_is_filed_without_a_payment_b2(system):
    """A period without receipts (total 0) has nothing to pay: filed all the same."""
    body = declaration(gross_revenue=0, tax=0, total=0)
    del body["payment_id"], body["paid_at"]
    filed = system.post("/declarations", json=body)
    assert filed.status_code == 201, filed.text
    stored = system.get(f"/declarations/{body['declaration_id']}").json()
    assert (stored["total"], stored["payment_id"], stored["paid_at"]) == (0, None, None)
    again = system.post("/declarations", json=body | {"payment_id": None, "paid_at": None})
    assert (again.status_code, again.json()) == (200, filed.json())


def test_books_from_before_nil_declarations_are_kept_and_take_nil_ones_b2(db_path):
    """A database whose declarations required a payment (as the simulator made them before) is
    rebuilt on start, its declarations kept."""
    old = sqlite3.connect(db_path)
    old.execute(
        "CREATE TABLE declarations (declaration_id TEXT PRIMARY KEY, afm TEXT NOT NULL, "
        "period_type TEXT NOT NULL, period INTEGER NOT NULL, year INTEGER NOT NULL, "
        "gross_revenue INTEGER NOT NULL, tax INTEGER NOT NULL, surcharges INTEGER NOT NULL, "
        "total INTEGER NOT NULL, payment_id TEXT NOT NULL, paid_at TEXT NOT NULL, "
        "receipt TEXT NOT NULL UNIQUE, receipt_year INTEGER NOT NULL, "
        "receipt_seq INTEGER NOT NULL, filed_at TEXT NOT NULL, "
        "UNIQUE (afm, period_type, period, year))"
    )
    paid = declaration()
    old.execute(
        "INSERT INTO declarations VALUES (:declaration_id, :afm, :period_type, :period, :year, "
        ":gross_revenue, :tax, :surcharges, :total, :payment_id, :paid_at, 'ΑΠ-2026/000001', "
        "2026, 1, '2026-10-12T09:30:00+03:00')",
        paid,
    )
    old.commit()
    old.close()
    nil = declaration(period=2, gross_revenue=0, tax=0, total=0, payment_id=None, paid_at=None)
    with serve(create_app(db_path, now=lambda: NOW)) as url, httpx.Client(base_url=url) as client:
        assert client.post("/declarations", json=nil).status_code == 201
        kept = client.get(f"/declarations/{paid['declaration_id']}").json()
        assert (kept["receipt"], kept["payment_id"]) == ("ΑΠ-2026/000001", paid["payment_id"])
        periods = [
            d["period"] for d in client.get(f"/businesses/{OTHER_AFM}").json()["declarations"]
        ]
        assert periods == [2, 3]


def test_a_declaration_for_a_malformed_afm_is_422_b2(system):
    refused = system.post("/declarations", json=declaration(afm="094014202"))
    assert (refused.status_code, refused.json()["code"]) == (422, "invalid_afm")


def test_down_answers_503_on_every_route_and_changes_nothing(system):
    system.put("/control", json={"mode": "down"})
    debt_id = DEMO_DEBTS[0]["debt_id"]
    body = declaration()
    answers = [
        system.get(f"/businesses/{DEMO_AFM}"),
        system.get("/warrants", params={"afm": DEMO_AFM}),
        system.post("/warrants", json={}),
        system.post(f"/warrants/{DEMO_WARRANTS[-1]['number']}/pay"),
        system.get("/debts", params={"afm": DEMO_AFM}),
        system.get(f"/debts/{debt_id}"),
        system.post("/debts", json={}),
        system.post(f"/debts/{debt_id}/payments", json=payment()),
        system.post("/declarations", json=body),
        system.get(f"/declarations/{body['declaration_id']}"),
    ]
    assert {answer.status_code for answer in answers} == {503}
    assert answers[0].json()["code"] == "unavailable"
    assert system.get("/health").json() == {"status": "ok", "mode": "down"}
    system.put("/control", json={"mode": "up"})
    assert system.get(f"/debts/{debt_id}").json()["status"] == "open"
    assert system.get(f"/declarations/{body['declaration_id']}").status_code == 404


def test_slow_files_before_answering_so_a_retry_gets_the_same_receipt(system):
    body = declaration()
    system.put("/control", json={"mode": "slow", "delay_seconds": 1})
    with pytest.raises(httpx.TimeoutException):
        system.post("/declarations", json=body, timeout=0.2)
    system.put("/control", json={"mode": "up"})
    retried = system.post("/declarations", json=body)
    assert retried.status_code == 200
    assert retried.json()["declaration_id"] == body["declaration_id"]


def test_the_books_survive_a_restart(db_path):
    body = declaration()
    with serve(create_app(db_path)) as url, httpx.Client(base_url=url) as client:
        assert client.post("/declarations", json=body).status_code == 201
        client.post(f"/debts/{DEMO_DEBTS[0]['debt_id']}/payments", json=payment())
        client.put("/control", json={"mode": "down"})
    with serve(create_app(db_path)) as url, httpx.Client(base_url=url) as client:
        assert client.get("/control").json()["mode"] == "up"
        assert client.get(f"/declarations/{body['declaration_id']}").status_code == 200
        assert client.get(f"/debts/{DEMO_DEBTS[0]['debt_id']}").json()["status"] == "paid"
        # the demo data is loaded once, not again over what happened since
        assert len(client.get("/debts", params={"afm": DEMO_AFM}).json()["items"]) == 2
