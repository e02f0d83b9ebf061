"""HTTP API of the fines service on real PostgreSQL with the register simulator (SPEC F-1..F-6):
roles, owner-only 404, the 422s, 409 already_paid, the same open payment twice, outages."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fines_service.identifiers import fine_reference
from portal_events.contracts import PaymentCompletedV1, PaymentFailedV1
from portal_simulators.fines_register import DEMO_FINES

MUNICIPALITY = "5101"


def ticket(**overrides: str) -> dict[str, str]:
    """A ticket nobody has looked up yet, issued three days ago."""
    return {
        "municipality_code": MUNICIPALITY,
        "fine_type": "P-69",
        "fine_number": f"{random.randrange(10**8, 10**9)}",
        "plate": f"ΥΖΑ-{random.randrange(1000, 10**4)}",
        "issued_at": (datetime.now(UTC) - timedelta(days=3)).isoformat(),
    } | overrides


def look_up(client, headers, **overrides):
    return client.post("/fines/lookup", json=ticket(**overrides), headers=headers)


def pay(client, headers, fine_id, key=None):
    return client.post(
        f"/fines/{fine_id}/payment",
        headers=headers | {"Idempotency-Key": key or uuid.uuid4().hex},
    )


def handle(client, contract):
    """Deliver one of payments' events as the consumer would."""
    from fines_service.integration import handlers

    app = client.app.state.runtime.application
    handlers(app)[type(contract)](None, contract)


def test_health(client):
    health = client.get("/fines/health").json()
    assert health["status"] == "ok", health
    assert "read_model:fine_summaries" in health["checks"]


def test_types_list_what_is_payable_here_in_cents_f2(client, citizen):
    body = client.get("/fines/types", headers=citizen()).json()
    assert body["municipality_code"] == MUNICIPALITY
    codes = {t["code"]: t["amount"] for t in body["types"]}
    assert codes["P-69"] == 3000
    assert "KOK-TROXAIA" not in codes  # paid to the State, not here


def test_incomplete_profile_is_403_profile_incomplete_f1(client, citizen, token):
    headers = citizen(complete=False)
    for response in (
        client.get("/fines/types", headers=headers),
        client.post(
            "/fines/check",
            json={"municipality_code": MUNICIPALITY, "fine_type": "P-69"},
            headers=headers,
        ),
        look_up(client, headers),
    ):
        assert response.status_code == 403, response.text
        assert response.json()["code"] == "profile_incomplete"
    # Identity has said nothing of this user yet: not known complete either.
    unknown = {"Authorization": f"Bearer {token('citizen')}"}
    assert client.get("/fines/types", headers=unknown).json()["code"] == "profile_incomplete"


def test_check_refuses_foreign_unknown_and_non_payable_f2(client, citizen):
    headers = citizen()

    def check(code: str, fine_type: str):
        body = {"municipality_code": code, "fine_type": fine_type}
        return client.post("/fines/check", json=body, headers=headers)

    ok = check(MUNICIPALITY, "P-40")
    assert ok.status_code == 200
    assert ok.json() | {"description": None} == {
        "fine_type": "P-40",
        "amount": 8000,
        "description": None,
    }
    for code, fine_type, problem in (
        ("9999", "P-40", "foreign_municipality"),
        (MUNICIPALITY, "NOPE", "unknown_fine_type"),
        (MUNICIPALITY, "KOK-TROXAIA", "fine_type_not_payable"),
    ):
        refused = check(code, fine_type)
        assert refused.status_code == 422
        assert refused.json()["code"] == problem
    assert look_up(client, headers, municipality_code="9999").json()["code"] == (
        "foreign_municipality"
    )


def test_lookup_of_a_new_fine_registers_it_once_and_quotes_it_f4_f5(client, citizen, register):
    headers = citizen()
    typed = ticket(plate="υζα 4321", fine_number="77-1234 5")
    first = client.post("/fines/lookup", json=typed, headers=headers)
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["found"] is False
    assert body["status"] == "payable"
    assert body["details"]["plate"] == "YZA4321"
    assert body["details"]["plate_display"] == "ΥΖΑ4321"
    assert body["details"]["fine_number"] == "7712345"
    quote = body["quote"]
    assert (quote["base"], quote["surcharges"], quote["total"]) == (3000, 0, 3000)
    assert quote["reference"] == fine_reference(MUNICIPALITY, "7712345")
    assert quote["valid_until"] > quote["computed_at"]

    in_register = register.get("/fines/7712345").json()
    assert in_register["idempotency_key"] == body["fine_id"]  # the fine's id: never twice
    # Looked up again (another spelling): the same fine, not registered again.
    again = look_up(client, headers, plate="YZA-4321", fine_number="7712345")
    assert again.json()["fine_id"] == body["fine_id"]
    assert again.json()["found"] is True
    listed = client.get("/fines", headers=headers).json()
    assert [item["fine_id"] for item in listed["items"]] == [body["fine_id"]]
    assert listed["total"] == 1


def test_lookup_of_a_recorded_fine_answers_its_recorded_details_and_surcharges_f4(client, citizen):
    demo = DEMO_FINES[0]  # issued 15 June 2026, 80,00 €, long past the grace period
    found = look_up(
        client, citizen(), fine_number=demo["fine_number"], plate="ΥΖΑ 1234", fine_type="P-40"
    )
    assert found.status_code == 200, found.text
    body = found.json()
    assert body["found"] is True
    assert body["details"]["issued_at"].startswith("2026-06-15")
    assert body["quote"]["base"] == demo["amount"]
    assert body["quote"]["surcharges"] > 0
    assert body["quote"]["total"] == demo["amount"] + body["quote"]["surcharges"]


def test_a_number_on_record_with_another_plate_is_422(client, citizen):
    headers = citizen()
    fine = look_up(client, headers).json()
    other = look_up(client, citizen(), fine_number=fine["details"]["fine_number"], plate="AB1")
    assert other.status_code == 422
    assert other.json()["code"] == "fine_details_mismatch"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("plate", "Δ"),
        ("fine_number", "12/34"),
        ("issued_at", (datetime.now(UTC) + timedelta(days=2)).isoformat()),
        ("municipality_code", "51\x0001"),
    ],
)
def test_malformed_tickets_are_422(client, citizen, field, value):
    refused = look_up(client, citizen(), **{field: value})
    assert refused.status_code == 422
    assert refused.json()["code"] == "invalid_input"


def test_register_outage_is_503_and_records_nothing_then_a_retry_registers_once_f4(
    client, citizen, register
):
    headers = citizen()
    typed = ticket()
    register.put("/control", json={"mode": "down"})
    down = client.post("/fines/lookup", json=typed, headers=headers)
    assert down.status_code == 503
    assert down.json()["code"] == "fines_register_unavailable"
    assert int(down.headers["Retry-After"]) > 0
    assert client.get("/fines", headers=headers).json()["total"] == 0

    # Slow: the register records the fine, but the answer comes too late for the adapter.
    register.put("/control", json={"mode": "slow", "delay_seconds": 1.5})
    late = client.post("/fines/lookup", json=typed, headers=headers)
    assert late.status_code == 503
    register.put("/control", json={"mode": "up"})
    retried = client.post("/fines/lookup", json=typed, headers=headers)
    assert retried.status_code == 200, retried.text
    recorded = register.get(f"/fines/{retried.json()['details']['fine_number']}").json()
    assert recorded["idempotency_key"] == retried.json()["fine_id"]  # one record, our key


def test_a_fine_is_seen_only_by_its_holders_and_the_police_f5(client, citizen, staff):
    owner = citizen()
    fine_id = look_up(client, owner).json()["fine_id"]
    assert client.get(f"/fines/{fine_id}", headers=owner).status_code == 200
    assert client.get(f"/fines/{fine_id}", headers=citizen()).status_code == 404
    assert client.get(f"/fines/{uuid.uuid4()}", headers=owner).status_code == 404
    assert pay(client, citizen(), fine_id).status_code == 404
    police = staff("clerk", "municipal_police")
    for reader in (police, staff("admin"), staff("auditor")):
        assert client.get(f"/fines/{fine_id}", headers=reader).status_code == 200
    other_clerk = staff("clerk", "technical")
    assert client.get(f"/fines/{fine_id}", headers=other_clerk).status_code == 404
    assert client.get("/fines", headers=other_clerk).status_code == 403


def test_fines_by_rf_code_refuse_a_wrong_check_digit(client, citizen):
    owner = citizen()
    fine = look_up(client, owner).json()
    rf = fine["quote"]["reference"]
    found = client.get(f"/fines/by-reference/{rf}", headers=owner)
    assert found.status_code == 200
    assert found.json()["fine_id"] == fine["fine_id"]
    wrong = rf[:2] + f"{(int(rf[2:4]) + 1) % 100:02d}" + rf[4:]
    refused = client.get(f"/fines/by-reference/{wrong}", headers=owner)
    assert refused.status_code == 422
    assert refused.json()["code"] == "invalid_input"
    assert client.get(f"/fines/by-reference/{rf}", headers=citizen()).status_code == 404


def test_payment_starts_once_and_paid_fines_are_409_f6(client, citizen):
    owner = citizen()
    fine_id = look_up(client, owner).json()["fine_id"]
    started = pay(client, owner, fine_id)
    assert started.status_code == 201, started.text
    payment = started.json()
    assert payment["amount"] == 3000
    assert payment["redirect_url"] == (
        f"http://portal.test/payments/{payment['payment_id']}/checkout"
    )
    # The open payment again, whatever the key; never a second one.
    assert pay(client, owner, fine_id).json() == payment
    assert client.get(f"/fines/{fine_id}", headers=owner).json()["status"] == "payment_pending"

    completed = PaymentCompletedV1(
        payment_id=payment["payment_id"],
        payable_type="fine",
        payable_id=fine_id,
        amount=3000,
        payer_id=uuid.uuid4(),
        completed_at=datetime.now(UTC),
    )
    handle(client, completed)
    shown = client.get(f"/fines/{fine_id}", headers=owner).json()
    assert (shown["status"], shown["quote"]) == ("paid", None)
    refused = pay(client, owner, fine_id)
    assert refused.status_code == 409
    assert refused.json()["code"] == "already_paid"


def test_a_failed_payment_makes_the_fine_payable_again_f6(client, citizen):
    owner = citizen()
    fine_id = look_up(client, owner).json()["fine_id"]
    first = pay(client, owner, fine_id).json()
    handle(
        client,
        PaymentFailedV1(
            payment_id=first["payment_id"],
            payable_type="fine",
            payable_id=fine_id,
            payer_id=uuid.uuid4(),
            reason="declined",
            failed_at=datetime.now(UTC),
        ),
    )
    second = pay(client, owner, fine_id)
    assert second.status_code == 201
    assert second.json()["payment_id"] != first["payment_id"]


def test_another_holders_open_payment_is_409(client, citizen):
    first, second = citizen(), citizen()
    typed = ticket()
    fine_id = client.post("/fines/lookup", json=typed, headers=first).json()["fine_id"]
    client.post("/fines/lookup", json=typed, headers=second)
    assert pay(client, first, fine_id).status_code == 201
    refused = pay(client, second, fine_id)
    assert refused.status_code == 409
    assert refused.json()["code"] == "payment_in_progress"


def test_the_same_key_is_the_same_payment_and_refused_for_another_fine(client, citizen):
    owner = citizen()
    fine_id = look_up(client, owner).json()["fine_id"]
    other_id = look_up(client, owner).json()["fine_id"]
    first = pay(client, owner, fine_id, key="pay-key-0001")
    assert pay(client, owner, fine_id, key="pay-key-0001").json() == first.json()
    reused = pay(client, owner, other_id, key="pay-key-0001")
    assert reused.status_code == 422
    assert reused.json()["code"] == "idempotency_key_reused"


def test_staff_cannot_look_up_or_pay(client, staff):
    admin = staff("admin")
    assert look_up(client, admin).status_code == 403
    assert pay(client, admin, uuid.uuid4()).status_code == 403


def test_police_record_fines_ahead_and_list_them_by_status_f4(client, citizen, staff, register):
    police = staff("clerk", "municipal_police")
    number = f"{random.randrange(10**8, 10**9)}"
    body = {
        "fine_type": "P-AMEA",
        "fine_number": number,
        "plate": "ΚΗΜ-1010",
        "issued_at": "2026-01-05T10:00:00",
    }
    key = {"Idempotency-Key": uuid.uuid4().hex}
    created = client.post("/fines", json=body, headers=police | key)
    assert created.status_code == 201, created.text
    assert client.post("/fines", json=body, headers=police | key).json() == created.json()
    again = client.post("/fines", json=body, headers=police)
    assert (again.status_code, again.json()["code"]) == (409, "fine_already_recorded")
    assert register.get(f"/fines/{number}").json()["plate"] == "KHM1010"
    assert client.post("/fines", json=body, headers=staff("clerk", "technical")).status_code == (
        403
    )
    assert client.post("/fines", json=body, headers=citizen()).status_code == 403

    payable = client.get("/fines", params={"status": "payable", "limit": 500}, headers=police)
    assert created.json()["fine_id"] in {item["fine_id"] for item in payable.json()["items"]}
    assert all(item["status"] == "payable" for item in payable.json()["items"])
    # The citizen finds it as recorded: found, with the police's issue time (Athens).
    found = look_up(
        client, citizen(), fine_type="P-AMEA", fine_number=number, plate="KHM 1010"
    ).json()
    assert found["found"] is True
    assert found["fine_id"] == created.json()["fine_id"]
    assert found["quote"]["base"] == 20000
    assert found["quote"]["surcharges"] > 0  # issued in January: long past the grace period
