"""The HTTP API on real PostgreSQL, Kafka disabled (SPEC R-1..R-5)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest
from portal_events.contracts import ProtocolAssignedV1, ProtocolRegistrationPendingV1
from portal_events.departments import DEPARTMENTS
from portal_events.envelope import Envelope, wrap
from requests_service.domainmodel import YearCounter
from requests_service.integration import handlers
from requests_service.views import RequestSummaryView

NAMED = {
    "kind": "complaint",
    "subject": "Λακκούβα στην οδό Ερμού",
    "text": "Μεγάλη λακκούβα μπροστά στο 12.",
    "desired_action": "Επισκευή",
    "category": "roads",
}


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def citizen(token):
    user_id = uuid.uuid4()
    return user_id, auth(token("citizen", user_id))


@pytest.fixture
def clerk(token):
    return auth(token("clerk", department="technical"))


@pytest.fixture
def runtime(client):
    return client.app.state.runtime


def submit(client, headers, **overrides) -> dict:
    response = client.post("/requests", json=NAMED | overrides, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def items(response) -> list[dict]:
    assert response.status_code == 200, response.text
    return response.json()["items"]


def event_count(runtime) -> int:
    return runtime.application.recorder.max_notification_id() or 0


def envelope_for(contract, subject: uuid.UUID, sequence: int = 1) -> Envelope:
    return wrap(
        contract,
        source="protocol",
        subject=str(subject),
        sequence=sequence,
        occurred_at=datetime.now(UTC),
    )


def test_health_and_openapi(client):
    assert client.get("/requests/health").json()["status"] == "ok"
    paths = client.get("/requests/openapi.json").json()["paths"]
    assert "SPEC R-2" in paths["/requests"]["post"]["description"]


def test_r2_named_submission_201_and_immediately_in_my_list(client, citizen):
    _, headers = citizen
    created = submit(client, headers)
    assert created["number"].endswith("/" + created["number"].split("/")[1])
    page = client.get("/requests", headers=headers).json()
    assert (page["total"], page["limit"], page["offset"]) == (1, 100, 0)
    mine = page["items"]
    assert [r["id"] for r in mine] == [created["id"]]
    assert mine[0] | {"submitted_at": None, "updated_at": None} == {
        "id": created["id"],
        "number": created["number"],
        "kind": "complaint",
        "subject": NAMED["subject"],
        "status": "submitted",
        "protocol": None,
        "protocol_status": None,
        "submitted_at": None,
        "updated_at": None,
    }


def test_r2_idempotency_key_repeat_returns_the_first_request_and_records_nothing(
    client, citizen, token
):
    _, headers = citizen
    keyed = headers | {"Idempotency-Key": "double-click-0001"}
    first = client.post("/requests", json=NAMED, headers=keyed)
    again = client.post("/requests", json=NAMED, headers=keyed)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert [r["id"] for r in items(client.get("/requests", headers=headers))] == [
        first.json()["id"]
    ]
    # The same key with another submission is refused (422), and records nothing either.
    changed = client.post("/requests", json=NAMED | {"text": "Άλλο κείμενο"}, headers=keyed)
    assert changed.status_code == 422
    assert changed.json()["code"] == "idempotency_key_reused"
    assert client.get("/requests", headers=headers).json()["total"] == 1
    # Keys are per user: another citizen's identical key is another request.
    other = auth(token("citizen", uuid.uuid4())) | {"Idempotency-Key": "double-click-0001"}
    theirs = client.post("/requests", json=NAMED, headers=other)
    assert theirs.status_code == 201 and theirs.json()["id"] != first.json()["id"]


def test_r2_idempotency_key_too_short_is_422(client, citizen):
    _, headers = citizen
    response = client.post("/requests", json=NAMED, headers=headers | {"Idempotency-Key": "x"})
    assert response.status_code == 422
    assert client.get("/requests", headers=headers).json()["total"] == 0


def test_r5_my_list_is_newest_first(client, citizen):
    _, headers = citizen
    first, second = submit(client, headers), submit(client, headers, kind="proposal")
    assert [r["id"] for r in items(client.get("/requests", headers=headers))] == [
        second["id"],
        first["id"],
    ]


def test_r5_my_list_pages_newest_first(client, citizen):
    _, headers = citizen
    ids = [submit(client, headers)["id"] for _ in range(5)][::-1]  # newest first
    page = client.get("/requests", params={"limit": 2, "offset": 1}, headers=headers).json()
    assert [r["id"] for r in page["items"]] == ids[1:3]
    assert (page["total"], page["limit"], page["offset"]) == (5, 2, 1)
    assert client.get("/requests", params={"limit": 0}, headers=headers).status_code == 422
    assert client.get("/requests", params={"limit": 501}, headers=headers).status_code == 422


def test_r3_inbox_pages(client, citizen, clerk):
    _, headers = citizen
    for _ in range(3):
        submit(client, headers)
    page = client.get("/requests/inbox", params={"limit": 2}, headers=clerk).json()
    assert len(page["items"]) == 2 and page["total"] >= 3
    assert client.get("/requests/inbox", params={"offset": -1}, headers=clerk).status_code == 422


def test_r1_anonymous_submission_202_and_in_default_inbox(client, token):
    subject = f"Ανώνυμη {uuid.uuid4().hex[:6]}"
    response = client.post("/requests/anonymous", json={"subject": subject, "text": "Κείμενο"})
    assert response.status_code == 202
    assert "id" not in response.json()
    inbox = items(
        client.get("/requests/inbox", headers=auth(token("clerk", department="citizen_services")))
    )
    item = next(i for i in inbox if i["subject"] == subject)
    assert item["anonymous"] is True and item["status"] == "submitted"


def test_r3_clerk_inbox_shows_own_department_only(client, citizen, token):
    _, headers = citizen
    created = submit(client, headers)  # roads -> technical
    technical = items(
        client.get("/requests/inbox", headers=auth(token("clerk", department="technical")))
    )
    sanitation = items(
        client.get("/requests/inbox", headers=auth(token("clerk", department="sanitation")))
    )
    assert created["id"] in {i["id"] for i in technical}
    assert created["id"] not in {i["id"] for i in sanitation}
    admin = items(
        client.get("/requests/inbox", params={"status": "submitted"}, headers=auth(token("admin")))
    )
    assert created["id"] in {i["id"] for i in admin}


def test_r5_another_citizen_gets_404_and_does_not_see_it(client, citizen, token):
    _, headers = citizen
    created = submit(client, headers)
    other = auth(token("citizen"))
    assert client.get(f"/requests/{created['id']}", headers=other).status_code == 404
    assert created["id"] not in {r["id"] for r in items(client.get("/requests", headers=other))}
    assert client.get(f"/requests/{uuid.uuid4()}", headers=headers).json()["code"] == "not_found"


def test_issue5_an_id_that_is_no_request_is_404_like_any_unknown_id(client, citizen, token):
    """issue 5 §2: the year counter's id (one event per submission) is not a request; the
    Application refuses it on its first event (tested in test_application)."""
    _, headers = citizen
    year = submit(client, headers)["number"].split("/")[0]
    response = client.get(
        f"/requests/{YearCounter.create_id(int(year))}", headers=auth(token("admin"))
    )
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_r5_clerk_of_other_department_gets_404(client, citizen, token):
    _, headers = citizen
    created = submit(client, headers)
    other_clerk = auth(token("clerk", department="sanitation"))
    assert client.get(f"/requests/{created['id']}", headers=other_clerk).status_code == 404
    response = client.post(
        f"/requests/{created['id']}/reply", json={"text": "x"}, headers=other_clerk
    )
    assert response.status_code == 404


@pytest.mark.parametrize(
    "change",
    [
        {"subject": None},
        {"subject": "   "},
        {"subject": "x" * 201},
        {"text": "x" * 5001},
        {"desired_action": "x" * 2001},
        {"kind": "wish"},
        {"category": "weather"},
    ],
)
def test_r2_missing_or_oversized_fields_422_and_nothing_recorded(client, citizen, runtime, change):
    _, headers = citizen
    body = {k: v for k, v in (NAMED | change).items() if v is not None}
    before = event_count(runtime)
    response = client.post("/requests", json=body, headers=headers)
    assert response.status_code == 422
    assert response.json()["code"] in ("invalid_input", "unknown_category")
    assert event_count(runtime) == before
    assert client.get("/requests", headers=headers).json()["total"] == 0


def test_r1_anonymous_oversized_422_nothing_recorded(client, runtime):
    before = event_count(runtime)
    response = client.post("/requests/anonymous", json={"subject": "s", "text": "x" * 5001})
    assert response.status_code == 422
    assert event_count(runtime) == before


def test_401_without_or_with_bad_token(client):
    assert client.get("/requests").status_code == 401
    assert client.post("/requests", json=NAMED).status_code == 401
    response = client.get("/requests", headers=auth("not-a-token"))
    assert response.status_code == 401
    assert set(response.json()) >= {"code", "message"}


def test_403_citizen_on_clerk_routes(client, citizen):
    _, headers = citizen
    created = submit(client, headers)
    rid = created["id"]
    assert client.get("/requests/inbox", headers=headers).status_code == 403
    assert (
        client.post(f"/requests/{rid}/reply", json={"text": "x"}, headers=headers).status_code
        == 403
    )
    response = client.post(f"/requests/{rid}/status", json={"status": "rejected"}, headers=headers)
    assert response.status_code == 403
    assert client.post(f"/requests/{rid}/protocol", headers=headers).status_code == 403


def test_403_clerk_cannot_submit_named(client, clerk):
    assert client.post("/requests", json=NAMED, headers=clerk).status_code == 403


def test_r3_reply_and_status_in_detail_history_and_list(client, citizen, clerk):
    _, headers = citizen
    rid = submit(client, headers)["id"]
    response = client.post(
        f"/requests/{rid}/status",
        json={"status": "under_review", "note": "Ελέγχεται"},
        headers=clerk,
    )
    assert response.status_code == 200 and response.json()["status"] == "under_review"
    reply = client.post(f"/requests/{rid}/reply", json={"text": "Θα επισκευαστεί"}, headers=clerk)
    assert reply.status_code == 200
    detail = client.get(f"/requests/{rid}", headers=headers)
    body = detail.json()
    assert detail.headers["ETag"] == '"3"'
    assert body["reply"] == "Θα επισκευαστεί" and body["text"] == NAMED["text"]
    assert [(h["event"], h["status"], h["actor_role"]) for h in body["history"]] == [
        ("Submitted", "submitted", "citizen"),
        ("StatusChanged", "under_review", "clerk"),
        ("Replied", None, "clerk"),
    ]
    assert items(client.get("/requests", headers=headers))[0]["status"] == "under_review"


def test_r3_invalid_transition_409(client, citizen, clerk, runtime):
    _, headers = citizen
    rid = submit(client, headers)["id"]
    assert (
        client.post(
            f"/requests/{rid}/status", json={"status": "rejected"}, headers=clerk
        ).status_code
        == 200
    )
    before = event_count(runtime)
    response = client.post(f"/requests/{rid}/status", json={"status": "in_progress"}, headers=clerk)
    assert response.status_code == 409
    assert response.json()["code"] == "invalid_transition"
    assert response.json()["details"] == {"current": "rejected", "wanted": "in_progress"}
    assert event_count(runtime) == before


def test_r3_unknown_status_422(client, citizen, clerk):
    _, headers = citizen
    rid = submit(client, headers)["id"]
    response = client.post(f"/requests/{rid}/status", json={"status": "closed"}, headers=clerk)
    assert response.status_code == 422


def test_r4_protocol_requested_then_assigned_shows_in_list_and_detail(
    client, citizen, clerk, runtime
):
    _, headers = citizen
    rid = submit(client, headers)["id"]
    response = client.post(f"/requests/{rid}/protocol", headers=clerk)
    assert response.status_code == 202 and response.json()["protocol_status"] == "requested"
    # Asking again while pending: accepted, nothing new recorded.
    before = event_count(runtime)
    assert client.post(f"/requests/{rid}/protocol", headers=clerk).status_code == 202
    assert event_count(runtime) == before

    handle = handlers(runtime.application)
    request_id = uuid.UUID(rid)
    pending = ProtocolRegistrationPendingV1(
        document_id=request_id,
        document_type="request",
        attempts=1,
        reason="registry down",
        next_attempt_at=datetime.now(UTC),
    )
    handle[ProtocolRegistrationPendingV1](envelope_for(pending, request_id), pending)
    assert client.get(f"/requests/{rid}", headers=headers).json()["protocol_status"] == "pending"

    assigned = ProtocolAssignedV1(
        document_id=request_id,
        document_type="request",
        protocol_number="4711",
        protocol_date=date(2026, 3, 2),
    )
    handle[ProtocolAssignedV1](envelope_for(assigned, request_id, 2), assigned)
    handle[ProtocolAssignedV1](envelope_for(assigned, request_id, 2), assigned)  # duplicate
    detail = client.get(f"/requests/{rid}", headers=headers).json()
    assert detail["protocol"] == {"number": "4711", "date": "2026-03-02"}
    assert [h["event"] for h in detail["history"]].count("ProtocolAssigned") == 1
    runtime.settle(RequestSummaryView, event_count(runtime))
    mine = items(client.get("/requests", headers=headers))
    assert mine[0]["protocol"] == {"number": "4711", "date": "2026-03-02"}

    # Once it has its number: no second registration.
    again = client.post(f"/requests/{rid}/protocol", headers=clerk)
    assert again.status_code == 409
    assert again.json()["code"] == "protocol_already_assigned"


def test_r4_different_number_never_overwrites(client, citizen, runtime):
    _, headers = citizen
    rid = submit(client, headers)["id"]
    request_id = uuid.UUID(rid)
    assigned = handlers(runtime.application)[ProtocolAssignedV1]
    for number in ("100", "200"):
        contract = ProtocolAssignedV1(
            document_id=request_id,
            document_type="request",
            protocol_number=number,
            protocol_date=date(2026, 3, 2),
        )
        assigned(envelope_for(contract, request_id), contract)
    assert client.get(f"/requests/{rid}", headers=headers).json()["protocol"]["number"] == "100"


def test_r4_protocol_for_another_document_type_is_ignored(client, citizen, runtime):
    _, headers = citizen
    rid = submit(client, headers)["id"]
    contract = ProtocolAssignedV1(
        document_id=uuid.UUID(rid),
        document_type="tap_certificate",
        protocol_number="1",
        protocol_date=date(2026, 3, 2),
    )
    assigned = handlers(runtime.application)[ProtocolAssignedV1]
    assigned(envelope_for(contract, uuid.UUID(rid)), contract)
    assert client.get(f"/requests/{rid}", headers=headers).json()["protocol"] is None


CONTROL_CHARACTERS = ["a\u0000b", "a\u001bb", "a\u007fb", "a\u0085b"]


@pytest.mark.parametrize("bad", CONTROL_CHARACTERS, ids=["NUL", "ESC", "DEL", "NEL"])
@pytest.mark.parametrize(
    ("path", "field", "body"),
    [
        ("/requests", "subject", NAMED),
        ("/requests", "text", NAMED),
        ("/requests", "desired_action", NAMED),
        ("/requests", "category", NAMED),
        ("/requests/anonymous", "subject", {"subject": "Θέμα", "text": "Κείμενο"}),
        ("/requests/anonymous", "text", {"subject": "Θέμα", "text": "Κείμενο"}),
        ("/requests/anonymous", "desired_action", {"subject": "Θέμα", "text": "Κείμενο"}),
        ("{request}/reply", "text", {"text": "Απάντηση"}),
        ("{request}/status", "note", {"status": "in_progress", "note": "Σημείωση"}),
    ],
)
def test_issue5_control_characters_in_any_text_field_are_422_naming_it_and_record_nothing(
    client, citizen, clerk, runtime, path, field, body, bad
):
    """issue 5 §1: a NUL (or any control character but \\n and \\t) is refused at the edge,
    with the field named, before anything is recorded (it would stop the read model)."""
    _, headers = citizen
    if path.startswith("{request}"):
        path = path.format(request=f"/requests/{submit(client, headers)['id']}")
        headers = clerk
    before = event_count(runtime)
    response = client.post(path, json=body | {field: bad}, headers=headers)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid_input"
    assert [d["field"] for d in response.json()["details"]] == [field]
    assert event_count(runtime) == before


def test_issue5_control_characters_in_the_department_query_are_422(client, token):
    response = client.get(
        "/requests/inbox", params={"department": "a\u0000b"}, headers=auth(token("admin"))
    )
    assert response.status_code == 422
    assert [d["field"] for d in response.json()["details"]] == ["query.department"]


def test_issue6_the_inbox_filter_takes_only_catalogue_departments(client, citizen, token):
    """Issue 6 (one department catalogue): an admin filters by a catalogue code; any other
    code is 422, listed in the OpenAPI document as the allowed values."""
    _, headers = citizen
    created = submit(client, headers)  # roads -> technical
    admin = auth(token("admin"))
    listed = client.get("/requests/inbox", params={"department": "technical"}, headers=admin)
    assert created["id"] in {item["id"] for item in items(listed)}
    refused = client.get("/requests/inbox", params={"department": "roads"}, headers=admin)
    assert refused.status_code == 422
    assert [d["field"] for d in refused.json()["details"]] == ["query.department"]
    schema = client.get("/requests/openapi.json").json()["components"]["schemas"]
    assert schema["DepartmentCode"]["enum"] == list(DEPARTMENTS)


def test_issue6_the_anonymous_submission_documents_the_gateways_429(client):
    """The gateway rate-limits `POST /requests/anonymous` (issue 6): its 429, in the error
    shape with `Retry-After`, is a documented answer."""
    operation = client.get("/requests/openapi.json").json()["paths"]["/requests/anonymous"]
    too_many = operation["post"]["responses"]["429"]
    assert too_many["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
    assert "Retry-After" in too_many["headers"]


def test_issue5_line_ends_and_tabs_are_text_and_greek_is_nfc(client, citizen):
    _, headers = citizen
    decomposed = "Ελε\u0301νη"  # ε + combining acute: NFC makes it έ
    created = submit(client, headers, subject=decomposed, text="Γραμμή 1\r\nΓραμμή 2\tτέλος")
    detail = client.get(f"/requests/{created['id']}", headers=headers).json()
    assert detail["subject"] == "Ελένη"
    assert detail["text"] == "Γραμμή 1\nΓραμμή 2\tτέλος"


def test_issue5_idempotency_key_with_another_category_is_422_and_records_nothing(
    client, citizen, runtime
):
    """issue 5 §2: the fingerprint covers the whole body (kind, subject, text, desired_action,
    category), not only subject and text."""
    _, headers = citizen
    keyed = headers | {"Idempotency-Key": f"whole-body-{uuid.uuid4().hex}"}
    first = client.post("/requests", json=NAMED, headers=keyed)
    assert first.status_code == 201
    before = event_count(runtime)
    for change in ({"category": "cleanliness"}, {"kind": "proposal"}, {"desired_action": "Άλλη"}):
        response = client.post("/requests", json=NAMED | change, headers=keyed)
        assert response.status_code == 422, change
        assert response.json()["code"] == "idempotency_key_reused"
    assert event_count(runtime) == before


def test_issue5_anonymous_submission_with_idempotency_key_is_recorded_once(client, runtime):
    """issue 5 §2: every command that creates something accepts Idempotency-Key."""
    body = {"subject": f"Ανώνυμη {uuid.uuid4().hex[:6]}", "text": "Κείμενο"}
    keyed = {"Idempotency-Key": f"anonymous-{uuid.uuid4().hex}"}
    assert client.post("/requests/anonymous", json=body, headers=keyed).status_code == 202
    before = event_count(runtime)
    assert client.post("/requests/anonymous", json=body, headers=keyed).status_code == 202
    assert event_count(runtime) == before
    other = client.post("/requests/anonymous", json=body | {"text": "Άλλο"}, headers=keyed)
    assert other.status_code == 422


def test_issue5_reply_with_idempotency_key_is_recorded_once(client, citizen, clerk):
    """issue 5 §2: a clerk's retried reply is not a second reply."""
    _, headers = citizen
    rid = submit(client, headers)["id"]
    keyed = clerk | {"Idempotency-Key": f"reply-{uuid.uuid4().hex}"}
    first = client.post(f"/requests/{rid}/reply", json={"text": "Απάντηση"}, headers=keyed)
    again = client.post(f"/requests/{rid}/reply", json={"text": "Απάντηση"}, headers=keyed)
    assert first.status_code == again.status_code == 200
    assert [h["event"] for h in again.json()["history"]] == ["Submitted", "Replied"]
    other = client.post(f"/requests/{rid}/reply", json={"text": "Άλλη"}, headers=keyed)
    assert other.status_code == 422


def test_r3_clerk_without_department_has_an_empty_inbox(client, token):
    page = client.get("/requests/inbox", headers=auth(token("clerk"))).json()
    assert page == {"items": [], "total": 0, "limit": 100, "offset": 0}
