"""The HTTP API on real PostgreSQL, Kafka disabled (SPEC C-1..C-6)."""

from __future__ import annotations

import io
import threading
import uuid

import pytest
from portal_events.contracts import VerificationRevokedV1
from pypdf import PdfReader

SURNAME = "Παπαδοπούλου"  # the applicant fixture's (conftest.py), in Greek

FAMILY_STATUS = {
    "certificate_type": "family_status",
    "details": "Για την εγγραφή του παιδιού στο σχολείο.",
    "delivery_method": "email",
}
TAP = {
    "property": {
        "address": "Ερμού 10, 10563 Αθήνα",
        "electricity_supply_number": "112345678012",
        "area_m2": 85.5,
    },
    "details": "Για τη μεταβίβαση του ακινήτου.",
    "delivery_method": "collect_town_hall",
}


def event_count(client) -> int:
    return client.app.state.runtime.application.recorder.max_notification_id() or 0


def apply(client, headers, body=FAMILY_STATUS, path="/certificates/civil-registry") -> dict:
    response = client.post(path, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture
def registry_clerk(staff):
    return staff("clerk", "civil_registry")


def test_catalogues_are_public_and_greek(client):
    types = client.get("/certificates/civil-registry/types").json()["items"]
    family = next(t for t in types if t["code"] == "family_status")
    assert family == {
        "code": "family_status",
        "name": "Πιστοποιητικό Οικογενειακής Κατάστασης",
        "department": "civil_registry",
    }
    methods = {m["code"]: m for m in client.get("/certificates/delivery-methods").json()["items"]}
    assert methods["post"]["needs_address"] is True
    assert methods["collect_town_hall"]["service_point"]["name"]


def test_c1_who_may_apply(client, applicant, staff, deliver):
    _, incomplete = applicant(complete=False, verified=False)
    response = client.post("/certificates/civil-registry", json=FAMILY_STATUS, headers=incomplete)
    assert (response.status_code, response.json()["code"]) == (403, "profile_incomplete")

    _, unverified = applicant(verified=False)
    response = client.post("/certificates/civil-registry", json=FAMILY_STATUS, headers=unverified)
    assert (response.status_code, response.json()["code"]) == (403, "not_verified")

    unknown = {"Authorization": staff("citizen")["Authorization"]}  # identity said nothing yet
    response = client.post("/certificates/tap", json=TAP, headers=unknown)
    assert (response.status_code, response.json()["code"]) == (403, "profile_incomplete")

    response = client.post(
        "/certificates/civil-registry", json=FAMILY_STATUS, headers=staff("clerk", "civil_registry")
    )
    assert (response.status_code, response.json()["code"]) == (403, "forbidden")

    # A revocation (a newer identity event) closes the door; an older report does not reopen it.
    user_id, verified = applicant()
    apply(client, verified)
    deliver(
        VerificationRevokedV1(
            user_id=user_id,
            reason="λάθος",
            revoked_by=uuid.uuid4(),
            revoked_at="2026-03-02T10:00:00Z",
        ),
        sequence=5,
    )
    response = client.post("/certificates/civil-registry", json=FAMILY_STATUS, headers=verified)
    assert response.json()["code"] == "not_verified"


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (
            "/certificates/civil-registry",
            FAMILY_STATUS | {"certificate_type": "passport"},
            "certificate_type",
        ),
        (
            "/certificates/civil-registry",
            FAMILY_STATUS | {"delivery_method": "pigeon"},
            "delivery_method",
        ),
        (
            "/certificates/civil-registry",
            FAMILY_STATUS | {"delivery_method": "post"},
            "delivery_address",
        ),
        (
            "/certificates/civil-registry",
            FAMILY_STATUS | {"delivery_address": "Ερμού 1"},
            "delivery_address",
        ),
        ("/certificates/civil-registry", FAMILY_STATUS | {"details": "  "}, "details"),
        (
            "/certificates/tap",
            TAP | {"property": TAP["property"] | {"area_m2": 0}},
            "property.area_m2",
        ),
        (
            "/certificates/tap",
            TAP | {"property": TAP["property"] | {"electricity_supply_number": "1 2345678-01 2"}},
            "property.electricity_supply_number",
        ),
        ("/certificates/tap", TAP | {"property": {"area_m2": 10}}, "property.address"),
    ],
    ids=[
        "type",
        "method",
        "post-no-address",
        "address-not-used",
        "details",
        "area",
        "supply",
        "address",
    ],
)
def test_c2_c3_invalid_field_is_422_naming_it_and_nothing_is_recorded(
    client, applicant, path, body, field
):
    _, headers = applicant()
    before = event_count(client)
    response = client.post(path, json=body, headers=headers)
    assert response.status_code == 422, response.text
    assert field in [problem["field"] for problem in response.json()["details"]]
    assert event_count(client) == before


def test_c4_pending_then_assigned_once_and_never_a_second_number(
    client, applicant, assign_protocol
):
    _, headers = applicant()
    created = apply(client, headers)
    assert created["protocol_status"] == "pending" and created["protocol"] is None
    assert created["number"].count("/") == 1

    assign_protocol(created["id"], "4711")
    assign_protocol(created["id"], "4711")  # redelivered: nothing new
    assign_protocol(created["id"], "9999")  # a second number: logged, never recorded
    detail = client.get(f"/certificates/{created['id']}", headers=headers).json()
    assert detail["protocol"] == {"number": "4711", "date": "2026-03-02"}
    assert detail["protocol_status"] == "assigned"
    assert [h["event"] for h in detail["history"]].count("ProtocolAssigned") == 1
    listed = client.get("/certificates/civil-registry", headers=headers).json()["items"]
    assert listed[0]["protocol"]["number"] == "4711"


def test_c4_the_answer_carries_the_number_when_it_arrives_during_the_wait(
    client, applicant, assign_protocol
):
    """The consumer recording the number wakes the waiting request (in-process)."""
    _, headers = applicant()
    app = client.app.state.runtime.application
    original = app.wait_for_protocol

    def wait_while_the_registry_answers(certificate_id, timeout):
        threading.Timer(0.05, assign_protocol, args=(str(certificate_id), "5150")).start()
        return original(certificate_id, 5.0)

    app.wait_for_protocol = wait_while_the_registry_answers
    try:
        created = apply(client, headers)
    finally:
        del app.wait_for_protocol
    assert created["protocol_status"] == "assigned"
    assert created["protocol"]["number"] == "5150"


def test_idempotency_key_repeat_records_nothing(client, applicant):
    _, headers = applicant()
    key = {"Idempotency-Key": f"apply-{uuid.uuid4()}"}
    first = apply(client, headers | key)
    before = event_count(client)
    assert apply(client, headers | key)["id"] == first["id"]
    assert event_count(client) == before
    changed = client.post(
        "/certificates/civil-registry",
        json=FAMILY_STATUS | {"details": "άλλο"},
        headers=headers | key,
    )
    assert (changed.status_code, changed.json()["code"]) == (422, "idempotency_key_reused")


def test_c6_lists_are_separate_and_tap_stores_the_supply_number_normalised(client, applicant):
    _, headers = applicant()
    civil = apply(client, headers)
    tap = apply(client, headers, TAP, "/certificates/tap")
    civil_ids = [
        i["id"] for i in client.get("/certificates/civil-registry", headers=headers).json()["items"]
    ]
    tap_ids = [i["id"] for i in client.get("/certificates/tap", headers=headers).json()["items"]]
    assert (civil_ids, tap_ids) == ([civil["id"]], [tap["id"]])
    detail = client.get(f"/certificates/{tap['id']}", headers=headers).json()
    assert detail["property"]["electricity_supply_number"] == "1 12345678-01 2"
    assert detail["department"] == "revenue"


def test_c5_department_scoping(client, applicant, staff, registry_clerk):
    _, headers = applicant()
    created = apply(client, headers)
    revenue = staff("clerk", "revenue")
    other_citizen = applicant()[1]
    for outsider in (revenue, other_citizen):
        assert client.get(f"/certificates/{created['id']}", headers=outsider).status_code == 404
    revenue_inbox = client.get("/certificates/inbox", headers=revenue).json()["items"]
    assert created["id"] not in {i["id"] for i in revenue_inbox}
    inbox = client.get("/certificates/inbox?kind=civil_registry", headers=registry_clerk).json()
    assert created["id"] in {i["id"] for i in inbox["items"]}
    body = {"status": "under_review"}
    assert (
        client.post(f"/certificates/{created['id']}/status", json=body, headers=revenue).status_code
        == 404
    )
    assert (
        client.post(f"/certificates/{created['id']}/status", json=body, headers=headers).status_code
        == 403
    )
    assert client.get("/certificates/inbox", headers=headers).status_code == 403


def test_c5_status_reply_issue_document_and_verification(
    client, applicant, registry_clerk, assign_protocol, staff
):
    _, headers = applicant()
    created = apply(client, headers)
    url = f"/certificates/{created['id']}"

    # Issuing needs the protocol number first; the document does not exist before issuing.
    response = client.post(f"{url}/issue", json={}, headers=registry_clerk)
    assert (response.status_code, response.json()["code"]) == (409, "protocol_pending")
    response = client.get(f"{url}/document", headers=headers)
    assert (response.status_code, response.json()["code"]) == (409, "not_issued")

    assign_protocol(created["id"], "8080")
    changed = client.post(
        f"{url}/status",
        json={"status": "awaiting_applicant", "note": "Λείπει έγγραφο"},
        headers=registry_clerk,
    )
    assert changed.status_code == 200 and changed.json()["status"] == "awaiting_applicant"
    replied = client.post(
        f"{url}/reply", json={"text": "Στείλτε την ταυτότητα."}, headers=registry_clerk
    )
    assert replied.json()["reply"] == "Στείλτε την ταυτότητα."

    issued = client.post(f"{url}/issue", headers=registry_clerk)
    assert issued.status_code == 200, issued.text
    code = issued.json()["verification_code"]
    assert issued.json()["status"] == "issued" and len(code) == 19

    document = client.get(f"{url}/document", headers=headers)
    assert document.headers["content-type"] == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(document.content)).pages)
    assert "8080" in text and SURNAME in text and code in text and "Δήμος Δοκιμών" in text
    for reader in (registry_clerk, staff("auditor"), staff("admin")):
        assert client.get(f"{url}/document", headers=reader).content == document.content
    assert client.get(f"{url}/document", headers=staff("clerk", "revenue")).status_code == 404

    verified = client.get(f"/certificates/verify/{code.lower().replace('-', '')}").json()
    assert verified["authentic"] is True and verified["holder_initials"] == "Ε. Π."
    assert verified["protocol"]["number"] == "8080" and "Ελένη" not in str(verified)
    unknown = client.get("/certificates/verify/AAAA-BBBB-CCCC-DDDD")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "unknown_verification_code")

    # Issued is final.
    for path, body in [
        ("status", {"status": "under_review"}),
        ("issue", {}),
        ("reject", {"reason": "x"}),
    ]:
        assert client.post(f"{url}/{path}", json=body, headers=registry_clerk).status_code == 409
    history = client.get(url, headers=headers).json()["history"]
    assert [h["event"] for h in history][-1] == "Issued"
    assert history[0]["status"] == "submitted"


def test_c5_reject_with_reason(client, applicant, registry_clerk):
    _, headers = applicant()
    created = apply(client, headers)
    rejected = client.post(
        f"/certificates/{created['id']}/reject",
        json={"reason": "Δεν υπάρχει εγγραφή."},
        headers=registry_clerk,
    )
    assert rejected.status_code == 200
    assert rejected.json()["status"] == "rejected"
    assert rejected.json()["rejection_reason"] == "Δεν υπάρχει εγγραφή."
    inbox = client.get("/certificates/inbox?status=rejected", headers=registry_clerk).json()[
        "items"
    ]
    assert created["id"] in {i["id"] for i in inbox}
