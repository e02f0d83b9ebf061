"""The identity HTTP API on real PostgreSQL (SPEC ID-1..ID-4)."""

import uuid

import jwt

CITIZEN_PROFILE = {
    "first_name": "Μαρία",
    "last_name": "Παπαδοπούλου",
    "father_name": "Γεώργιος",
    "date_of_birth": "1980-05-17",
    "afm": "090000045",
    "id_document_number": "ΑΚ 123456",
    "address": "Ερμού 1, Αθήνα",
    "phone": "+30 210 1234567",
}
BUSINESS_PROFILE = {
    "legal_name": "ΑΒΓ Τεχνική ΑΕ",
    "afm": "094014201",
    "address": "Πειραιώς 10, Αθήνα",
    "representative": "Νίκος Νικολάου",
}


def test_health_and_docs(client):
    assert client.get("/identity/health").json()["status"] == "ok"
    paths = client.get("/identity/openapi.json").json()["paths"]
    assert "/identity/me/profile" in paths


def test_id1_register_login_me(portal, client):
    user_id, auth, email = portal.register("citizen")
    me = client.get("/identity/me", headers=auth).json()
    assert me == {
        "user_id": user_id,
        "kind": "citizen",
        "email": email,
        "roles": ["citizen"],
        "department": None,
        "profile": {},
        "profile_complete": False,
        "verified": False,
        "verification": None,
        "disabled": False,
    }


def test_id1_token_claims_verify_with_jwks(portal, client):
    user_id, _, email = portal.register("business")
    body = portal.login(email, "pass-word-1").json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 900
    jwks = client.get("/identity/.well-known/jwks.json")
    assert "max-age" in jwks.headers["cache-control"]
    key = jwt.PyJWKSet.from_dict(jwks.json()).keys[0]
    header = jwt.get_unverified_header(body["access_token"])
    assert header["alg"] == "ES256" and header["kid"] == key.key_id
    claims = jwt.decode(
        body["access_token"],
        key.key,
        algorithms=["ES256"],
        audience="portal",
        issuer="portal-identity",
    )
    assert claims["sub"] == user_id and claims["role"] == "business" and claims["email"] == email
    assert "department" not in claims and claims["jti"]


def test_id1_duplicate_email_409(portal, client):
    _, _, email = portal.register("citizen")
    again = client.post(
        "/identity/users", json={"kind": "business", "email": email.upper(), "password": "x" * 8}
    )
    assert again.status_code == 409 and again.json()["code"] == "email_taken"


def test_id1_invalid_registration_422(client):
    for body in (
        {"kind": "admin", "email": "a@example.gr", "password": "pass-word-1"},
        {"kind": "citizen", "email": "not-an-email", "password": "pass-word-1"},
        {"kind": "citizen", "email": "a@example.gr", "password": "short"},
        {"kind": "citizen", "email": "a" * 250 + "@example.gr", "password": "pass-word-1"},
    ):
        response = client.post("/identity/users", json=body)
        assert response.status_code == 422, body
        assert response.json()["code"] == "invalid_input"


def test_id1_bad_password_and_unknown_email_same_401(portal):
    _, _, email = portal.register("citizen")
    wrong = portal.login(email, "wrong-password")
    unknown = portal.login(f"nobody-{uuid.uuid4().hex}@example.gr", "wrong-password")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


def test_id1_no_token_or_bad_token_401(client):
    assert client.get("/identity/me").status_code == 401
    bad = client.get("/identity/me", headers={"Authorization": "Bearer not.a.jwt"})
    assert bad.status_code == 401 and set(bad.json()) >= {"code", "message"}


def test_id1_logout_revokes_token(portal, client):
    _, auth, _ = portal.register("citizen")
    assert client.post("/identity/logout", headers=auth).status_code == 204
    after = client.get("/identity/me", headers=auth)
    assert after.status_code == 401 and after.json()["code"] == "invalid_token"
    assert client.post("/identity/logout").status_code == 401


def test_id1_a_logged_out_staff_token_is_refused_by_every_identity_route(portal, client):
    """LIFETIME_NOTE: "Logout makes identity itself refuse the token at once" - staff routes
    included, not only /me."""
    admin = portal.admin()
    assert client.post("/identity/logout", headers=admin).status_code == 204
    body = {"email": portal.new_email("staff"), "password": "staff-pw-1", "role": "auditor"}
    refused = client.post("/identity/staff", json=body, headers=admin)
    assert refused.status_code == 401 and refused.json()["code"] == "invalid_token"
    assert client.get("/identity/users", headers=admin).status_code == 401


def test_id2_profile_complete_flips(portal, client):
    _, auth, _ = portal.register("citizen")
    partial = {k: v for k, v in CITIZEN_PROFILE.items() if k != "father_name"}
    response = client.put("/identity/me/profile", json=partial, headers=auth)
    assert response.status_code == 200 and response.json()["profile_complete"] is False
    response = client.put("/identity/me/profile", json=CITIZEN_PROFILE, headers=auth)
    assert response.json()["profile_complete"] is True
    assert client.get("/identity/me", headers=auth).json()["profile"] == CITIZEN_PROFILE


def test_id2_bad_afm_422_with_clear_message(portal, client):
    _, auth, _ = portal.register("citizen")
    response = client.put(
        "/identity/me/profile", json=CITIZEN_PROFILE | {"afm": "123456789"}, headers=auth
    )
    assert response.status_code == 422
    assert "ΑΦΜ" in response.json()["message"]
    assert response.json()["details"][0]["field"] == "afm"
    assert client.get("/identity/me", headers=auth).json()["profile"] == {}  # nothing recorded


def test_id2_oversized_and_unknown_fields_422(portal, client):
    _, auth, _ = portal.register("citizen")
    for body in (
        CITIZEN_PROFILE | {"address": "Α" * 201},
        CITIZEN_PROFILE | {"unknown": "x"},
        CITIZEN_PROFILE | {"date_of_birth": "17/05/1980"},
        {"legal_name": "only for businesses"},
    ):
        assert client.put("/identity/me/profile", json=body, headers=auth).status_code == 422
    assert client.get("/identity/me", headers=auth).json()["profile"] == {}


def test_id2_business_requires_afm(portal, client):
    _, auth, _ = portal.register("business")
    no_afm = {k: v for k, v in BUSINESS_PROFILE.items() if k != "afm"}
    response = client.put("/identity/me/profile", json=no_afm, headers=auth)
    assert response.status_code == 422 and response.json()["details"][0]["field"] == "afm"
    response = client.put("/identity/me/profile", json=BUSINESS_PROFILE, headers=auth)
    assert response.status_code == 200 and response.json()["profile_complete"] is True


def test_id4_admin_bootstrapped_creates_staff(portal, client):
    clerk = portal.staff("clerk", "technical")
    me = client.get("/identity/me", headers=clerk).json()
    assert me["roles"] == ["clerk"] and me["department"] == "technical"
    assert me["kind"] == "staff"
    auditor = portal.staff("auditor", None)
    assert client.get("/identity/me", headers=auditor).json()["roles"] == ["auditor"]


def test_id4_clerk_needs_department_422(portal, client):
    body = {"email": f"c-{uuid.uuid4().hex}@dimos.test", "password": "staff-pw-1", "role": "clerk"}
    response = client.post("/identity/staff", json=body, headers=portal.admin())
    assert response.status_code == 422


def test_id4_staff_creation_admin_only(portal, client):
    body = {"email": f"c-{uuid.uuid4().hex}@dimos.test", "password": "staff-pw-1", "role": "admin"}
    assert client.post("/identity/staff", json=body).status_code == 401
    _, citizen, _ = portal.register("citizen")
    assert client.post("/identity/staff", json=body, headers=citizen).status_code == 403
    clerk = portal.staff("clerk")
    assert client.post("/identity/staff", json=body, headers=clerk).status_code == 403


def test_id4_search_users_by_staff_only(portal, client):
    user_id, auth, email = portal.register("citizen")
    client.put("/identity/me/profile", json=CITIZEN_PROFILE, headers=auth)
    clerk = portal.staff("clerk")
    page = client.get("/identity/users", params={"q": email}, headers=clerk).json()
    assert page["total"] == 1 and page["items"][0]["user_id"] == user_id
    assert page["items"][0]["afm"] == "090000045"
    by_name = client.get("/identity/users", params={"q": "Παπαδοπούλ", "limit": 1}, headers=clerk)
    assert by_name.status_code == 200 and len(by_name.json()["items"]) == 1
    auditor = portal.staff("auditor", None)
    assert client.get("/identity/users", headers=auditor).status_code == 200
    assert client.get("/identity/users", headers=auth).status_code == 403
    assert client.get("/identity/users").status_code == 401
    too_big = client.get("/identity/users", params={"limit": 501}, headers=clerk)
    assert too_big.status_code == 422


def test_id4_user_search_answers_the_list_envelope(portal, client):
    """issue 5 §2: {items, total, limit, offset}; 100 by default, 500 at most."""
    clerk = portal.staff("clerk")
    page = client.get("/identity/users", headers=clerk).json()
    assert set(page) == {"items", "total", "limit", "offset"}
    assert (page["limit"], page["offset"]) == (100, 0) and page["total"] >= len(page["items"])
    emails = [item["email"] for item in page["items"]]
    assert emails == sorted(emails)
    widest = client.get("/identity/users", params={"limit": 500, "offset": 1}, headers=clerk)
    assert widest.status_code == 200 and widest.json()["items"][:1] == page["items"][1:2]
    empty = client.get("/identity/users", params={"q": ""}, headers=clerk).json()
    assert empty["total"] == page["total"]  # an empty search box lists everyone


def test_id1_registration_with_an_idempotency_key_happens_once(portal, client):
    """issue 5 §2: a repeat answers the first result, also with another password (which is
    never fingerprinted; the first one stays); the key with another body is 409."""
    email = portal.new_email()
    body = {"kind": "citizen", "email": email, "password": "pass-word-1"}
    key = {"Idempotency-Key": uuid.uuid4().hex}
    first = client.post("/identity/users", json=body, headers=key)
    again = client.post("/identity/users", json=body | {"password": "pass-word-2"}, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert portal.login(email, "pass-word-1").status_code == 200
    assert portal.login(email, "pass-word-2").status_code == 401
    reused = client.post("/identity/users", json=body | {"kind": "business"}, headers=key)
    assert reused.status_code == 422 and reused.json()["code"] == "idempotency_key_reused"
    unkeyed = client.post("/identity/users", json=body)
    assert unkeyed.status_code == 409 and unkeyed.json()["code"] == "email_taken"


def test_id4_staff_creation_with_an_idempotency_key_happens_once(portal, client):
    admin = portal.admin()
    body = {"email": portal.new_email("clerk"), "password": "staff-pw-1", "role": "clerk"}
    body["department"] = "technical"
    keyed = admin | {"Idempotency-Key": uuid.uuid4().hex}
    first = client.post("/identity/staff", json=body, headers=keyed)
    again = client.post("/identity/staff", json=body, headers=keyed)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    found = client.get("/identity/users", params={"q": body["email"]}, headers=admin).json()
    assert found["total"] == 1
    assert client.post("/identity/staff", json=body, headers=admin).status_code == 409


def test_id3_verification_with_an_idempotency_key_happens_once(portal, client):
    user_id, _, _ = portal.register("citizen")
    clerk = portal.staff("clerk")
    url = f"/identity/users/{user_id}/verification"
    document = {"document_type": "identity_card", "document_number": "ΑΚ 123456"}
    keyed = clerk | {"Idempotency-Key": uuid.uuid4().hex}
    first = client.post(url, json=document, headers=keyed)
    again = client.post(url, json=document, headers=keyed)
    assert first.status_code == again.status_code == 201
    assert again.json()["verified"] is True
    assert client.post(url, json=document, headers=clerk).status_code == 409  # without the key
    other = client.post(url, json=document | {"document_number": "X9"}, headers=keyed)
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"


def test_id3_clerk_verifies_and_revokes_with_reason(portal, client):
    user_id, auth, email = portal.register("citizen")
    clerk = portal.staff("clerk")
    document = {"document_type": "identity_card", "document_number": "ΑΚ 123456"}
    url = f"/identity/users/{user_id}/verification"
    response = client.post(url, json=document, headers=clerk)
    assert response.status_code == 201 and response.json()["verified"] is True
    assert client.get("/identity/me", headers=auth).json()["verified"] is True
    assert client.post(url, json=document, headers=clerk).status_code == 409
    page = client.get("/identity/users", params={"q": email}, headers=clerk).json()
    assert page["items"][0]["verified"] is True  # read-your-writes

    assert client.request("DELETE", url, json={}, headers=clerk).status_code == 422
    revoked = client.request("DELETE", url, json={"reason": "έληξε η ταυτότητα"}, headers=clerk)
    assert revoked.status_code == 200 and revoked.json()["verified"] is False
    assert client.get("/identity/me", headers=auth).json()["verified"] is False
    again = client.request("DELETE", url, json={"reason": "again"}, headers=clerk)
    assert again.status_code == 409


def test_id3_only_clerks_verify_and_unknown_user_404(portal, client):
    victim_id, _, _ = portal.register("citizen")
    _, other, _ = portal.register("citizen")
    document = {"document_type": "passport", "document_number": "X1"}
    url = f"/identity/users/{victim_id}/verification"
    assert client.post(url, json=document, headers=other).status_code == 403
    assert client.post(url, json=document, headers=portal.admin()).status_code == 403
    assert client.post(url, json=document).status_code == 401
    assert client.request("DELETE", url, json={"reason": "x"}, headers=other).status_code == 403
    clerk = portal.staff("clerk")
    missing = f"/identity/users/{uuid.uuid4()}/verification"
    response = client.post(missing, json=document, headers=clerk)
    assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_id2_user_cannot_touch_another_users_data(portal, client):
    """/me is always the caller: another user's token never reads or writes someone else."""
    _, alice, _ = portal.register("citizen")
    bob_id, bob, _ = portal.register("citizen")
    client.put("/identity/me/profile", json=CITIZEN_PROFILE, headers=alice)
    assert client.get("/identity/me", headers=bob).json()["profile"] == {}
    assert client.get("/identity/me", headers=alice).json()["user_id"] != bob_id
    assert client.get("/identity/users", params={"q": "Μαρία"}, headers=bob).status_code == 403
