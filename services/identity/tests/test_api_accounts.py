"""Accounts that can be managed and that hold against a hostile visitor (issue 6), through the
identity app on real PostgreSQL: log-in throttling, password change, disabling, staff updates,
token refusal on every route, and the department catalogue."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import pytest
from fastapi.routing import APIRoute
from identity_service.domainmodel import User
from identity_service.main import service
from portal_events.departments import DEPARTMENTS
from portal_events.mapper import event_metadata
from portal_web.auth import optional_principal


def recorded(client, user_id: str, event_type: type) -> list:
    """The user's stored events of one type, with their metadata (the actor who caused them)."""
    events = client.app.state.runtime.application.repository.event_store.get(uuid.UUID(user_id))
    return [event_metadata(e)["actor"] for e in events if isinstance(e, event_type)]


# --- log-in throttling (ASVS 5.0 V6.1.1, V6.3.1) --------------------------------------------


def test_v6_3_1_twenty_wrong_passwords_from_a_do_not_lock_the_owner_out_at_b(portal):
    """issue 6: five failures lock nobody out; the owner, from an address without failures,
    gets in with the right password (a little delayed at most)."""
    _, _, email = portal.register("citizen")
    attacker, owner = portal.address(), portal.address()
    answers = [portal.login(email, "wrong-password", attacker) for _ in range(20)]
    assert [a.status_code for a in answers[:5]] == [401] * 5
    assert {a.status_code for a in answers[5:]} == {429}
    assert int(answers[-1].headers["retry-after"]) > 0
    assert answers[-1].json()["code"] == "too_many_failed_logins"
    assert portal.login(email, "pass-word-1", owner).status_code == 200


def test_v6_3_1_fifty_parallel_guesses_get_no_more_checks_than_the_limit(portal, client):
    """issue 6: a burst of parallel guesses passed the check before the counter moved. Now an
    attempt is counted with the check, atomically: 5 answers are 401, the other 45 429."""
    _, _, email = portal.register("citizen")
    address = portal.address()
    all_at_once = Barrier(50)

    def guess(_: int) -> int:
        all_at_once.wait()
        return portal.login(email, "wrong-password", address).status_code

    with ThreadPoolExecutor(max_workers=50) as pool:
        statuses = list(pool.map(guess, range(50)))
    assert statuses.count(401) == 5
    assert statuses.count(429) == 45


# --- password change (ASVS 5.0 V6.2.2, V6.2.3, V7.4.3) -------------------------------------


def test_v7_4_3_a_password_change_refuses_every_earlier_token(portal, client):
    user_id, first, email = portal.register("citizen")
    second = portal.token(email, "pass-word-1")
    body = {"current_password": "pass-word-1", "new_password": "a-new-passphrase"}
    assert client.put("/identity/me/password", json=body, headers=first).status_code == 204
    for earlier in (first, second):
        refused = client.get("/identity/me", headers=earlier)
        assert refused.status_code == 401 and refused.json()["code"] == "invalid_token"
    assert portal.login(email, "pass-word-1").status_code == 401
    fresh = portal.token(email, "a-new-passphrase")
    assert client.get("/identity/me", headers=fresh).status_code == 200
    assert recorded(client, user_id, User.PasswordChanged) == [{"id": user_id, "role": "citizen"}]


def test_v6_2_3_a_wrong_current_password_is_422_and_counts_as_a_failed_log_in(portal, client):
    """A stolen token cannot guess the password faster than the log-in allows."""
    _, auth, email = portal.register("citizen")
    address = {"X-Forwarded-For": portal.address()}
    body = {"current_password": "not-the-password", "new_password": "a-new-passphrase"}
    for _ in range(5):
        wrong = client.put("/identity/me/password", json=body, headers=auth | address)
        assert wrong.status_code == 422
        assert wrong.json()["details"][0]["field"] == "current_password"
    throttled = client.put("/identity/me/password", json=body, headers=auth | address)
    assert throttled.status_code == 429 and "retry-after" in throttled.headers
    weak = client.put(
        "/identity/me/password",
        json={"current_password": "pass-word-1", "new_password": "short"},
        headers=auth,
    )
    assert weak.status_code == 422 and "new_password" in str(weak.json()["details"])
    assert portal.login(email, "pass-word-1").status_code == 200  # nothing changed


# --- the admin's account management (SPEC ID-4; ASVS 5.0 V7.4.2) -----------------------------


def test_v7_4_2_a_disabled_user_cannot_log_in_and_their_tokens_are_refused(portal, client):
    user_id, auth, email = portal.register("citizen")
    admin = portal.admin()
    disabled = client.post(
        f"/identity/users/{user_id}/disable", json={"reason": "fraud"}, headers=admin
    )
    assert disabled.status_code == 200 and disabled.json()["disabled"] is True
    refused = client.get("/identity/me", headers=auth)
    assert refused.status_code == 401 and refused.json()["code"] == "invalid_token"
    # ASVS 5.0 V6.3.8: the right password of a disabled account answers like a wrong one.
    right, wrong = portal.login(email, "pass-word-1"), portal.login(email, "wrong-password")
    assert right.status_code == wrong.status_code == 401 and right.json() == wrong.json()
    found = client.get("/identity/users", params={"q": email}, headers=admin).json()
    assert found["items"][0]["disabled"] is True
    admin_id = client.get("/identity/me", headers=admin).json()["user_id"]
    assert recorded(client, user_id, User.Disabled) == [{"id": admin_id, "role": "admin"}]

    enabled = client.post(f"/identity/users/{user_id}/enable", headers=admin)
    assert enabled.status_code == 200 and enabled.json()["disabled"] is False
    assert client.get("/identity/me", headers=auth).status_code == 401  # earlier tokens stay
    assert client.get("/identity/me", headers=portal.token(email, "pass-word-1")).status_code == 200


def test_id4_an_admin_cannot_disable_or_demote_themselves(portal, client):
    """The portal keeps an admin: 409 `own_account`."""
    admin = portal.admin()
    me = client.get("/identity/me", headers=admin).json()["user_id"]
    refused = client.post(f"/identity/users/{me}/disable", json={"reason": "x"}, headers=admin)
    assert refused.status_code == 409 and refused.json()["code"] == "own_account"
    demoted = client.patch(f"/identity/users/{me}/staff", json={"role": "auditor"}, headers=admin)
    assert demoted.status_code == 409 and demoted.json()["code"] == "own_account"


def test_id4_staff_update_changes_the_department_and_refuses_the_old_token(portal, client):
    admin = portal.admin()
    email = portal.new_email("clerk")
    body = {"email": email, "password": "staff-pw-1", "role": "clerk", "department": "technical"}
    clerk_id = client.post("/identity/staff", json=body, headers=admin).json()["user_id"]
    old = portal.token(email, "staff-pw-1")
    url = f"/identity/users/{clerk_id}/staff"
    moved = client.patch(url, json={"department": "sanitation"}, headers=admin)
    assert moved.status_code == 200 and moved.json()["department"] == "sanitation"
    assert client.get("/identity/me", headers=old).status_code == 401
    new = client.get("/identity/me", headers=portal.token(email, "staff-pw-1")).json()
    assert (new["roles"], new["department"]) == (["clerk"], "sanitation")

    for change in ({"department": "roads"}, {"role": "auditor", "department": "technical"}):
        refused = client.patch(url, json=change, headers=admin)
        assert refused.status_code == 422, change
        assert refused.json()["details"][0]["field"] == "department"
    assert client.patch(url, json={}, headers=admin).status_code == 422
    auditor = client.patch(url, json={"role": "auditor"}, headers=admin).json()
    assert (auditor["roles"], auditor["department"]) == (["auditor"], None)
    citizen_id, _, _ = portal.register("citizen")
    not_staff = client.patch(
        f"/identity/users/{citizen_id}/staff", json={"role": "admin"}, headers=admin
    )
    assert not_staff.status_code == 409 and not_staff.json()["code"] == "not_applicable"


def test_id4_account_management_is_for_admins_only(portal, client):
    victim_id, citizen, _ = portal.register("citizen")
    clerk = portal.staff("clerk")
    for headers, status in (({}, 401), (citizen, 403), (clerk, 403)):
        calls = (
            client.post(
                f"/identity/users/{victim_id}/disable", json={"reason": "x"}, headers=headers
            ),
            client.post(f"/identity/users/{victim_id}/enable", headers=headers),
            client.patch(
                f"/identity/users/{victim_id}/staff", json={"role": "admin"}, headers=headers
            ),
        )
        assert [call.status_code for call in calls] == [status] * 3
    missing = client.post(
        f"/identity/users/{uuid.uuid4()}/disable", json={"reason": "x"}, headers=portal.admin()
    )
    assert missing.status_code == 404


# --- token refusal on every identity route (ASVS 5.0 V7.4.1, V7.4.2) --------------------------


def _routes_taking_a_token() -> list[tuple[str, str]]:
    """Every route of identity whose dependencies read the caller's token, found in the routers
    themselves (not in their documentation), so a new route cannot be missed."""

    def reads_token(dependant) -> bool:
        return any(
            dependency.call is optional_principal or reads_token(dependency)
            for dependency in dependant.dependencies
        )

    return [
        (method, route.path.replace("{user_id}", str(uuid.uuid4())))
        for router in service.routers
        for route in router.routes
        if isinstance(route, APIRoute) and reads_token(route.dependant)
        for method in route.methods
    ]


def _assert_refused_everywhere(client, headers: dict[str, str]) -> None:
    routes = _routes_taking_a_token()
    assert {path for _, path in routes} >= {"/identity/me", "/identity/staff", "/identity/users"}
    for method, path in routes:
        response = client.request(method, path, json={}, headers=headers)
        assert response.status_code == 401, (method, path, response.text)
        assert response.json()["code"] == "invalid_token", (method, path)


def test_v7_4_1_a_logged_out_admin_token_is_refused_by_every_identity_route(portal, client):
    """issue 6: "today a revoked admin token still creates staff" - staff routes included."""
    admin = portal.admin()
    assert client.post("/identity/logout", headers=admin).status_code == 204
    _assert_refused_everywhere(client, admin)


def test_v7_4_2_a_disabled_admins_token_is_refused_by_every_identity_route(portal, client):
    admin = portal.admin()
    email = portal.new_email("admin")
    body = {"email": email, "password": "staff-pw-1", "role": "admin"}
    second_id = client.post("/identity/staff", json=body, headers=admin).json()["user_id"]
    second = portal.token(email, "staff-pw-1")
    assert client.get("/identity/users", headers=second).status_code == 200
    disabled = client.post(
        f"/identity/users/{second_id}/disable", json={"reason": "left"}, headers=admin
    )
    assert disabled.status_code == 200
    _assert_refused_everywhere(client, second)
    assert portal.login(email, "staff-pw-1").status_code == 401


# --- the department catalogue (issue 6) -------------------------------------------------------


def test_id4_departments_are_listed_from_the_catalogue(client):
    page = client.get("/identity/departments").json()
    assert set(page) == {"items", "total", "limit", "offset"}
    assert [d["code"] for d in page["items"]] == list(DEPARTMENTS)
    assert page["total"] == len(DEPARTMENTS)
    first = DEPARTMENTS[page["items"][0]["code"]]
    assert page["items"][0] == {
        "code": first.code,
        "name_el": first.name_el,
        "name_en": first.name_en,
    }


@pytest.mark.parametrize("department", ["technical_services", "roads", "TECHNICAL"])
def test_id4_a_clerk_of_an_unknown_department_is_refused(portal, client, department):
    """issue 6: a clerk of a department nobody routes to would see an empty inbox forever."""
    body = {
        "email": portal.new_email("clerk"),
        "password": "staff-pw-1",
        "role": "clerk",
        "department": department,
    }
    refused = client.post("/identity/staff", json=body, headers=portal.admin())
    assert refused.status_code == 422
    assert refused.json()["details"][0]["field"] == "department"


def test_the_openapi_example_clerk_has_a_department_of_the_catalogue(client):
    schemas = client.get("/identity/openapi.json").json()["components"]["schemas"]
    for example in schemas["StaffCreate"]["examples"]:
        assert example.get("department") is None or example["department"] in DEPARTMENTS
