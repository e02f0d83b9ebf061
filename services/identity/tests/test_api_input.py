"""What identity accepts as text (issue 5 §1): every string it takes, in a body, the log-in form
or a query, refuses control characters with 422 naming the field and records nothing; e-mail
addresses are compared in their canonical form, so look-alikes are the address they imitate."""

import uuid

import pytest

NUL = "\u0000"
PROFILE_FIELDS = {
    "citizen": [
        "first_name",
        "last_name",
        "father_name",
        "afm",
        "id_document_number",
        "address",
        "phone",
    ],
    "business": ["legal_name", "representative"],
}


def refused(response, field: str) -> None:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "invalid_input"
    assert [problem["field"] for problem in body["details"]] == [field]


@pytest.mark.parametrize("field", ["email", "password"])
def test_id1_registration_refuses_control_characters(portal, client, field):
    email = portal.new_email()
    body = {"kind": "citizen", "email": email, "password": "pass-word-1"}
    refused(client.post("/identity/users", json=body | {field: body[field] + NUL}), field)
    assert portal.login(email, "pass-word-1").status_code == 401  # no account was made


@pytest.mark.parametrize("field", ["username", "password"])
def test_id1_log_in_form_refuses_control_characters_and_counts_no_failure(portal, client, field):
    _, _, email = portal.register("citizen")
    address = portal.address()
    form = {"username": email, "password": "pass-word-1"}
    for _ in range(6):  # more than the 5 failures an account may have
        response = client.post(
            "/identity/token",
            data=form | {field: form[field] + NUL},
            headers={"X-Forwarded-For": address},
        )
        refused(response, field)
    assert portal.login(email, "pass-word-1", address).status_code == 200


@pytest.mark.parametrize(
    ("kind", "field"), [(kind, f) for kind, fields in PROFILE_FIELDS.items() for f in fields]
)
def test_id2_profile_refuses_control_characters(portal, client, kind, field):
    _, auth, _ = portal.register(kind)
    body = {field: f"x{NUL}y"} | ({"afm": "094014201"} if field != "afm" else {})
    refused(client.put("/identity/me/profile", json=body, headers=auth), field)
    assert client.get("/identity/me", headers=auth).json()["profile"] == {}


@pytest.mark.parametrize("field", ["email", "password", "department"])
def test_id4_staff_creation_refuses_control_characters(portal, client, field):
    email = f"clerk-{uuid.uuid4().hex[:8]}@dimos.test"
    body = {"email": email, "password": "staff-pw-1", "role": "clerk", "department": "technical"}
    admin = portal.admin()
    response = client.post("/identity/staff", json=body | {field: body[field] + NUL}, headers=admin)
    refused(response, field)
    found = client.get("/identity/users", params={"q": email}, headers=admin).json()
    assert found["total"] == 0


@pytest.mark.parametrize("field", ["document_type", "document_number"])
def test_id3_verification_refuses_control_characters(portal, client, field):
    user_id, auth, _ = portal.register("citizen")
    document = {"document_type": "identity_card", "document_number": "ΑΚ 123456"}
    response = client.post(
        f"/identity/users/{user_id}/verification",
        json=document | {field: document[field] + NUL},
        headers=portal.staff("clerk"),
    )
    refused(response, field)
    assert client.get("/identity/me", headers=auth).json()["verified"] is False


@pytest.mark.parametrize("control", [NUL, "\u001b", "\u007f", "\u0085", "\u000b"])
def test_id3_revocation_refuses_every_control_character_but_keeps_lines(portal, client, control):
    user_id, auth, _ = portal.register("citizen")
    clerk = portal.staff("clerk")
    url = f"/identity/users/{user_id}/verification"
    document = {"document_type": "identity_card", "document_number": "ΑΚ 123456"}
    assert client.post(url, json=document, headers=clerk).status_code == 201
    reason = {"reason": f"έληξε{control}η ταυτότητα"}
    refused(client.request("DELETE", url, json=reason, headers=clerk), "reason")
    assert client.get("/identity/me", headers=auth).json()["verified"] is True
    # Line feeds and tabs are text, not control: a reason may have several lines.
    lines = {"reason": "έληξε η ταυτότητα\r\n\tνέα αίτηση"}
    assert client.request("DELETE", url, json=lines, headers=clerk).status_code == 200


def test_id4_user_search_refuses_control_characters(portal, client):
    refused(
        client.get("/identity/users", params={"q": f"a{NUL}"}, headers=portal.staff("auditor")),
        "query.q",
    )


def fullwidth(text: str) -> str:
    """ASCII -> its full-width look-alike (U+FF01..U+FF5E)."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def test_id1_lookalike_email_is_the_same_account(portal, client):
    """issue 5 §1: "ＭＡＲＩＡ@example.gr" is maria@example.gr: it cannot register again, and
    logging in with it reaches the original account."""
    user_id, _, email = portal.register("citizen")
    local, domain = email.split("@")
    lookalike = f"{fullwidth(local.upper())}@{domain}"
    assert lookalike != email
    again = client.post(
        "/identity/users", json={"kind": "citizen", "email": lookalike, "password": "pass-word-2"}
    )
    assert again.status_code == 409 and again.json()["code"] == "email_taken"
    auth = portal.token(lookalike, "pass-word-1")
    me = client.get("/identity/me", headers=auth).json()
    assert me["user_id"] == user_id and me["email"] == email
