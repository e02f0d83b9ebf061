"""The information system's adapter (SPEC B-1..B-3) against the real simulator, served for real:
every call, the answers it maps (404, 409, 422) and the outages it reports as
MunicipalSystemUnavailable (down, slow past the timeout, unreachable)."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime
from uuid import uuid4

import httpx
import pytest
from business_service.municipal_system import (
    BusinessRecord,
    DebtAlreadyPaid,
    DeclarationAlreadyFiled,
    DeclarationFiling,
    HttpMunicipalSystem,
    MunicipalSystemUnavailable,
)
from business_service.settings import BusinessSettings
from portal_simulators.municipal_system import DEMO_AFM, DEMO_DEBTS, DEMO_WARRANTS, create_app
from portal_simulators.testing import free_port, serve
from portal_web.service import Runtime

_serial = itertools.count(1)


def new_afm() -> str:
    """A valid ΑΦΜ the simulator has not seen in this test."""
    stem = f"1{next(_serial):07d}"
    check = sum(int(d) * 2 ** (8 - i) for i, d in enumerate(stem)) % 11 % 10
    return f"{stem}{check}"


@pytest.fixture
def simulator(tmp_path):
    """The simulator, served for real; yields an httpx client on it (base_url = its URL)."""
    with (
        serve(create_app(str(tmp_path / "municipal.sqlite3"))) as url,
        httpx.Client(base_url=url, timeout=5) as client,
    ):
        yield client


@pytest.fixture
def system(simulator):
    adapter = HttpMunicipalSystem(str(simulator.base_url), timeout_seconds=0.5)
    yield adapter
    adapter.close()


def filing(afm: str, **changes) -> DeclarationFiling:
    fields = {
        "declaration_id": uuid4(),
        "afm": afm,
        "period_type": "quarterly",
        "period": 3,
        "year": 2026,
        "gross_revenue": 12_000_000,
        "tax": 60_000,
        "surcharges": 0,
        "total": 60_000,
        "payment_id": uuid4(),
        "paid_at": datetime(2026, 10, 12, 9, 30, tzinfo=UTC),
    }
    return DeclarationFiling(**(fields | changes))


def test_business_is_the_demo_one_with_its_earlier_declaration_b2(system):
    business = system.business(DEMO_AFM)
    assert isinstance(business, BusinessRecord)
    assert (business.afm, business.category) == (DEMO_AFM, "standard")
    assert business.legal_name == "ΑΒΓ Τεχνική ΑΕ"
    [earlier] = business.declarations
    assert (earlier.period_type, earlier.period, earlier.year) == ("quarterly", 1, 2026)


def test_an_unknown_business_is_created_standard_without_declarations_b2(system):
    afm = new_afm()
    assert system.business(afm) == BusinessRecord(afm, None, "standard", ())


def test_a_malformed_afm_is_refused_by_the_system_and_reported_unavailable(system):
    """422 would be our bug (identity checks every ΑΦΜ): retried later, never a crash."""
    with pytest.raises(MunicipalSystemUnavailable, match="422"):
        system.business("123456789")


def test_warrants_are_the_demo_ones_newest_first_b1(system):
    warrants = system.warrants(DEMO_AFM)
    assert [w.number for w in warrants] == [w["number"] for w in reversed(DEMO_WARRANTS)]
    newest = warrants[0]
    assert (newest.status, newest.paid_on, newest.issued_on) == ("issued", None, date(2026, 11, 3))
    assert {w.status for w in warrants} == {"issued", "paid"}
    assert all(w.paid_on is not None for w in warrants if w.status == "paid")
    assert system.warrants(new_afm()) == []


def test_a_warrant_issued_and_paid_while_running_is_seen_b1(system, simulator):
    afm = new_afm()
    body = {
        "afm": afm,
        "amount": 125_000,
        "description": "Προμήθεια γραφικής ύλης",
        "budget_code": "10-6612.001",
        "issued_on": "2026-11-20",
    }
    issued = simulator.post("/warrants", json=body).json()
    assert issued["number"].startswith("ΧΕ-2026/")
    [warrant] = system.warrants(afm)
    assert (warrant.number, warrant.amount, warrant.status) == (issued["number"], 125_000, "issued")
    simulator.post(f"/warrants/{issued['number']}/pay", json={"paid_on": "2026-11-25"})
    [paid] = system.warrants(afm)
    assert (paid.status, paid.paid_on) == ("paid", date(2026, 11, 25))


def test_debts_and_one_debt_of_its_own_afm_only_b3(system):
    debts = system.debts(DEMO_AFM)
    assert {d.debt_id for d in debts} == {d["debt_id"] for d in DEMO_DEBTS}
    assert all(d.status == "open" and d.paid_at is None for d in debts)
    debt_id = DEMO_DEBTS[0]["debt_id"]
    debt = system.debt(DEMO_AFM, debt_id)
    assert debt is not None
    assert (debt.principal, debt.period) == (DEMO_DEBTS[0]["principal"], DEMO_DEBTS[0]["period"])
    assert system.debt(new_afm(), debt_id) is None  # another business's: unknown to this one
    assert system.debt(DEMO_AFM, "BO-1999-000001") is None  # 404


def test_a_debt_payment_is_recorded_once_and_a_second_payment_is_refused_b3(system):
    debt_id = DEMO_DEBTS[1]["debt_id"]
    payment_id, paid_at = uuid4(), datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
    system.record_debt_payment(debt_id, payment_id, 15_000, paid_at)
    system.record_debt_payment(debt_id, payment_id, 15_000, paid_at)  # a retry: unchanged
    paid = system.debt(DEMO_AFM, debt_id)
    assert paid is not None
    assert (paid.status, paid.paid_at) == ("paid", paid_at)
    with pytest.raises(DebtAlreadyPaid) as refused:
        system.record_debt_payment(debt_id, uuid4(), 15_000, paid_at)
    assert refused.value.debt == paid


def test_filing_is_idempotent_per_declaration_and_the_system_has_it_b2(system, simulator):
    afm = new_afm()
    declaration = filing(afm)
    receipt = system.file_declaration(declaration)
    assert receipt.receipt.startswith("ΑΠ-")
    assert system.file_declaration(declaration) == receipt  # lost answer, retried: same receipt
    filed = simulator.get(f"/declarations/{declaration.declaration_id}").json()
    assert (filed["total"], filed["payment_id"]) == (60_000, str(declaration.payment_id))
    [earlier] = system.business(afm).declarations
    assert earlier.declaration_id == str(declaration.declaration_id)


def test_a_nil_declaration_is_filed_without_a_payment_b2(system, simulator):
    nil = filing(new_afm(), gross_revenue=0, tax=0, total=0, payment_id=None, paid_at=None)
    receipt = system.file_declaration(nil)
    assert system.file_declaration(nil) == receipt
    filed = simulator.get(f"/declarations/{nil.declaration_id}").json()
    assert (filed["total"], filed["payment_id"], filed["paid_at"]) == (0, None, None)


def test_something_to_pay_without_its_payment_is_refused_b2(system):
    """Never filed unpaid: the system's 422 is our bug, reported (and retried) as unavailable."""
    with pytest.raises(MunicipalSystemUnavailable, match="422"):
        system.file_declaration(filing(new_afm(), payment_id=None, paid_at=None))


def test_a_second_declaration_for_a_filed_period_is_already_filed_b2(system):
    afm = new_afm()
    first = filing(afm)
    system.file_declaration(first)
    with pytest.raises(DeclarationAlreadyFiled) as refused:
        system.file_declaration(filing(afm))
    assert refused.value.existing_declaration_id == str(first.declaration_id)
    system.file_declaration(filing(afm, period=2))  # another quarter is free


def test_down_is_unavailable_on_every_call(system, simulator):
    simulator.put("/control", json={"mode": "down"})
    calls = [
        lambda: system.business(DEMO_AFM),
        lambda: system.warrants(DEMO_AFM),
        lambda: system.debts(DEMO_AFM),
        lambda: system.debt(DEMO_AFM, DEMO_DEBTS[0]["debt_id"]),
        lambda: system.record_debt_payment(
            DEMO_DEBTS[0]["debt_id"], uuid4(), 70_000, datetime.now(UTC)
        ),
        lambda: system.file_declaration(filing(DEMO_AFM)),
    ]
    for call in calls:
        with pytest.raises(MunicipalSystemUnavailable, match="503"):
            call()
    simulator.put("/control", json={"mode": "up"})
    assert system.debt(DEMO_AFM, DEMO_DEBTS[0]["debt_id"]).status == "open"  # nothing recorded


def test_slow_past_the_timeout_is_unavailable_and_the_retry_gets_the_same_receipt(
    system, simulator
):
    """The system filed before answering late: the retry after the timeout is not a second one."""
    declaration = filing(new_afm())
    simulator.put("/control", json={"mode": "slow", "delay_seconds": 1})
    with pytest.raises(MunicipalSystemUnavailable, match="timeout"):
        system.file_declaration(declaration)
    simulator.put("/control", json={"mode": "up"})
    receipt = system.file_declaration(declaration)
    filed = simulator.get(f"/declarations/{declaration.declaration_id}").json()
    assert filed["receipt"] == receipt.receipt


def test_unreachable_is_unavailable():
    adapter = HttpMunicipalSystem(f"http://127.0.0.1:{free_port()}", timeout_seconds=0.5)
    with pytest.raises(MunicipalSystemUnavailable, match="unreachable"):
        adapter.warrants(DEMO_AFM)
    adapter.close()


def test_the_service_resource_speaks_to_the_system_its_environment_names(simulator, monkeypatch):
    """`HttpMunicipalSystem.of` for `Service(resources=...)`: MUNICIPAL_SYSTEM_URL and
    MUNICIPAL_SYSTEM_TIMEOUT_SECONDS (default 2 s)."""
    assert BusinessSettings.model_fields["municipal_system_timeout_seconds"].default == 2.0
    monkeypatch.setenv("MUNICIPAL_SYSTEM_URL", str(simulator.base_url))
    monkeypatch.setenv("MUNICIPAL_SYSTEM_TIMEOUT_SECONDS", "0.3")
    adapter = HttpMunicipalSystem.of(Runtime(settings=BusinessSettings(), application=None))
    simulator.put("/control", json={"mode": "slow", "delay_seconds": 0.6})
    with pytest.raises(MunicipalSystemUnavailable, match="timeout"):
        adapter.business(DEMO_AFM)
    simulator.put("/control", json={"mode": "up"})
    assert adapter.business(DEMO_AFM).afm == DEMO_AFM
    adapter.close()
