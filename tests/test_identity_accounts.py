"""Account management end to end through the gateway (issue 6; SPEC ID-1, ID-4): the admin's
actions reach the other services, which refuse the user's tokens within seconds (ASVS 5.0
V7.4.2), the log-in throttle keys on the client address the gateway vouches for (V6.3.1), and
the department catalogue is public."""

from __future__ import annotations

import ipaddress
import uuid

import pytest
from portal_events.departments import DEPARTMENTS

pytestmark = pytest.mark.integration


def fake_client_address() -> str:
    """An address of the documentation range, one per test: the gateway (a trusted proxy)
    appends its own peer to what the client sent, and identity believes the gateway's hop."""
    return str(ipaddress.IPv4Address(0xC6336400 + uuid.uuid4().int % 256))  # 198.51.100.0/24


def test_v7_4_2_a_disabled_citizens_token_is_refused_at_requests_within_seconds(
    new_citizen, admin, eventually
):
    citizen = new_citizen(complete_profile=False)
    assert citizen.get("/requests").status_code == 200
    disabled = admin.post(
        f"/identity/users/{citizen.user_id}/disable", json={"reason": "Απάτη (fraud)"}
    )
    assert disabled.status_code == 200, disabled.text
    assert citizen.get("/identity/me").status_code == 401  # identity: at once
    refused = eventually(lambda: citizen.get("/requests").status_code == 401, timeout=15)
    assert refused
    answer = citizen.get("/requests")
    assert answer.json()["code"] == "invalid_token"

    assert admin.post(f"/identity/users/{citizen.user_id}/enable").status_code == 200
    assert citizen.get("/requests").status_code == 401  # the old token stays refused


def test_v7_4_3_after_a_password_change_the_old_token_is_refused_at_requests(
    new_citizen, gateway, eventually
):
    citizen = new_citizen(complete_profile=False)
    body = {"current_password": citizen.password, "new_password": "Kainourgios-" + uuid.uuid4().hex}
    assert citizen.put("/identity/me/password", json=body).status_code == 204
    assert citizen.get("/identity/me").status_code == 401
    assert eventually(lambda: citizen.get("/requests").status_code == 401, timeout=15)
    fresh = gateway.post(
        "/identity/token", data={"username": citizen.email, "password": body["new_password"]}
    )
    assert fresh.status_code == 200, fresh.text
    token = {"Authorization": f"Bearer {fresh.json()['access_token']}"}
    assert eventually(lambda: gateway.get("/requests", headers=token).status_code == 200)


def test_v6_3_1_the_owner_gets_in_from_elsewhere_after_twenty_wrong_passwords(gateway, new_citizen):
    """The throttle counts per (account, client address) as the gateway reports the client:
    a guesser at A is stopped, the owner at B is not."""
    citizen = new_citizen(complete_profile=False)
    attacker = {"X-Forwarded-For": fake_client_address()}
    statuses = [
        gateway.post(
            "/identity/token",
            data={"username": citizen.email, "password": "wrong-password"},
            headers=attacker,
        ).status_code
        for _ in range(20)
    ]
    assert statuses[:5] == [401] * 5 and set(statuses[5:]) == {429}
    owner = gateway.post(
        "/identity/token",
        data={"username": citizen.email, "password": citizen.password},
        headers={"X-Forwarded-For": fake_client_address()},
    )
    assert owner.status_code == 200, owner.text


def test_id4_the_department_catalogue_is_public(gateway):
    page = gateway.get("/identity/departments")
    assert page.status_code == 200
    assert [d["code"] for d in page.json()["items"]] == list(DEPARTMENTS)


def test_id4_a_clerk_of_an_unknown_department_is_refused(admin):
    body = {
        "email": f"clerk-{uuid.uuid4().hex[:8]}@dimos.gr",
        "password": "Ypallilos-" + uuid.uuid4().hex[:8],
        "role": "clerk",
        "department": "technical_services",
    }
    refused = admin.post("/identity/staff", json=body)
    assert refused.status_code == 422
    assert refused.json()["details"][0]["field"] == "department"
