"""The HTTP API on real PostgreSQL, Kafka disabled (SPEC R-1..R-5)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest
from portal_events.contracts import ProtocolAssignedV1, ProtocolRegistrationPendingV1
from portal_events.envelope import Envelope, wrap
from requests_service.integration import ProtocolOutcomeHandlers

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
def services(client):
    return client.app.state.requests


def submit(client, headers, **overrides) -> dict:
    response = client.post("/requests", json=NAMED | overrides, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def event_count(services) -> int:
    return services.app.recorder.max_notification_id() or 0


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
    mine = client.get("/requests", headers=headers).json()
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
    assert [r["id"] for r in client.get("/requests", headers=headers).json()] == [
        first.json()["id"]
    ]
    # The same key with another submission is a conflict, and records nothing either.
    changed = client.post("/requests", json=NAMED | {"text": "Άλλο κείμενο"}, headers=keyed)
    assert changed.status_code == 409
    assert changed.json()["code"] == "idempotency_key_reused"
    assert len(client.get("/requests", headers=headers).json()) == 1
    # Keys are per user: another citizen's identical key is another request.
    other = auth(token("citizen", uuid.uuid4())) | {"Idempotency-Key": "double-click-0001"}
    theirs = client.post("/requests", json=NAMED, headers=other)
    assert theirs.status_code == 201 and theirs.json()["id"] != first.json()["id"]


def test_r2_idempotency_key_too_short_is_422(client, citizen):
    _, headers = citizen
    response = client.post("/requests", json=NAMED, headers=headers | {"Idempotency-Key": "x"})
    assert response.status_code == 422
    assert client.get("/requests", headers=headers).json() == []


def test_r5_my_list_is_newest_first(client, citizen):
    _, headers = citizen
    first, second = submit(client, headers), submit(client, headers, kind="proposal")
    assert [r["id"] for r in client.get("/requests", headers=headers).json()] == [
        second["id"],
        first["id"],
    ]


def test_r5_my_list_pages_newest_first(client, citizen):
    _, headers = citizen
    ids = [submit(client, headers)["id"] for _ in range(5)][::-1]  # newest first
    page = client.get("/requests", params={"limit": 2, "offset": 1}, headers=headers).json()
    assert [r["id"] for r in page] == ids[1:3]
    assert client.get("/requests", params={"limit": 0}, headers=headers).status_code == 422
    assert client.get("/requests", params={"limit": 501}, headers=headers).status_code == 422


def test_r3_inbox_pages(client, citizen, clerk):
    _, headers = citizen
    for _ in range(3):
        submit(client, headers)
    assert len(client.get("/requests/inbox", params={"limit": 2}, headers=clerk).json()) == 2
    assert client.get("/requests/inbox", params={"offset": -1}, headers=clerk).status_code == 422


def test_r1_anonymous_submission_202_and_in_default_inbox(client, token, services):
    subject = f"Ανώνυμη {uuid.uuid4().hex[:6]}"
    response = client.post("/requests/anonymous", json={"subject": subject, "text": "Κείμενο"})
    assert response.status_code == 202
    assert "id" not in response.json()
    inbox = client.get(
        "/requests/inbox", headers=auth(token("clerk", department="citizen_services"))
    ).json()
    item = next(i for i in inbox if i["subject"] == subject)
    assert item["anonymous"] is True and item["status"] == "submitted"


def test_r3_clerk_inbox_shows_own_department_only(client, citizen, token):
    _, headers = citizen
    created = submit(client, headers)  # roads -> technical
    technical = client.get(
        "/requests/inbox", headers=auth(token("clerk", department="technical"))
    ).json()
    sanitation = client.get(
        "/requests/inbox", headers=auth(token("clerk", department="sanitation"))
    ).json()
    assert created["id"] in {i["id"] for i in technical}
    assert created["id"] not in {i["id"] for i in sanitation}
    admin = client.get(
        "/requests/inbox", params={"status": "submitted"}, headers=auth(token("admin"))
    ).json()
    assert created["id"] in {i["id"] for i in admin}


def test_r5_another_citizen_gets_404_and_does_not_see_it(client, citizen, token):
    _, headers = citizen
    created = submit(client, headers)
    other = auth(token("citizen"))
    assert client.get(f"/requests/{created['id']}", headers=other).status_code == 404
    assert created["id"] not in {r["id"] for r in client.get("/requests", headers=other).json()}
    assert client.get(f"/requests/{uuid.uuid4()}", headers=headers).json()["code"] == "not_found"


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
def test_r2_missing_or_oversized_fields_422_and_nothing_recorded(client, citizen, services, change):
    _, headers = citizen
    body = {k: v for k, v in (NAMED | change).items() if v is not None}
    before = event_count(services)
    response = client.post("/requests", json=body, headers=headers)
    assert response.status_code == 422
    assert response.json()["code"] in ("invalid_input", "unknown_category")
    assert event_count(services) == before
    assert client.get("/requests", headers=headers).json() == []


def test_r1_anonymous_oversized_422_nothing_recorded(client, services):
    before = event_count(services)
    response = client.post("/requests/anonymous", json={"subject": "s", "text": "x" * 5001})
    assert response.status_code == 422
    assert event_count(services) == before


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
    assert client.get("/requests", headers=headers).json()[0]["status"] == "under_review"


def test_r3_invalid_transition_409(client, citizen, clerk, services):
    _, headers = citizen
    rid = submit(client, headers)["id"]
    assert (
        client.post(
            f"/requests/{rid}/status", json={"status": "rejected"}, headers=clerk
        ).status_code
        == 200
    )
    before = event_count(services)
    response = client.post(f"/requests/{rid}/status", json={"status": "in_progress"}, headers=clerk)
    assert response.status_code == 409
    assert response.json()["code"] == "invalid_transition"
    assert event_count(services) == before


def test_r3_unknown_status_422(client, citizen, clerk):
    _, headers = citizen
    rid = submit(client, headers)["id"]
    response = client.post(f"/requests/{rid}/status", json={"status": "closed"}, headers=clerk)
    assert response.status_code == 422


def test_r4_protocol_requested_then_assigned_shows_in_list_and_detail(
    client, citizen, clerk, services
):
    _, headers = citizen
    rid = submit(client, headers)["id"]
    response = client.post(f"/requests/{rid}/protocol", headers=clerk)
    assert response.status_code == 202 and response.json()["protocol_status"] == "requested"
    # Asking again while pending: accepted, nothing new recorded.
    before = event_count(services)
    assert client.post(f"/requests/{rid}/protocol", headers=clerk).status_code == 202
    assert event_count(services) == before

    handlers = ProtocolOutcomeHandlers(services.app)
    request_id = uuid.UUID(rid)
    pending = ProtocolRegistrationPendingV1(
        document_id=request_id,
        document_type="request",
        attempts=1,
        reason="registry down",
        next_attempt_at=datetime.now(UTC),
    )
    handlers.pending(envelope_for(pending, request_id), pending)
    assert client.get(f"/requests/{rid}", headers=headers).json()["protocol_status"] == "pending"

    assigned = ProtocolAssignedV1(
        document_id=request_id,
        document_type="request",
        protocol_number="4711",
        protocol_date=date(2026, 3, 2),
    )
    handlers.assigned(envelope_for(assigned, request_id, 2), assigned)
    handlers.assigned(envelope_for(assigned, request_id, 2), assigned)  # duplicate delivery
    detail = client.get(f"/requests/{rid}", headers=headers).json()
    assert detail["protocol"] == {"number": "4711", "date": "2026-03-02"}
    assert [h["event"] for h in detail["history"]].count("ProtocolAssigned") == 1
    services.wait_for_view(event_count(services))
    mine = client.get("/requests", headers=headers).json()
    assert mine[0]["protocol"] == {"number": "4711", "date": "2026-03-02"}

    # Once it has its number: no second registration.
    assert client.post(f"/requests/{rid}/protocol", headers=clerk).status_code == 409


def test_r4_different_number_never_overwrites(client, citizen, clerk, services):
    _, headers = citizen
    rid = submit(client, headers)["id"]
    request_id = uuid.UUID(rid)
    handlers = ProtocolOutcomeHandlers(services.app)
    for number in ("100", "200"):
        contract = ProtocolAssignedV1(
            document_id=request_id,
            document_type="request",
            protocol_number=number,
            protocol_date=date(2026, 3, 2),
        )
        handlers.assigned(envelope_for(contract, request_id), contract)
    assert client.get(f"/requests/{rid}", headers=headers).json()["protocol"]["number"] == "100"


def test_r4_protocol_for_another_document_type_is_ignored(client, citizen, services):
    _, headers = citizen
    rid = submit(client, headers)["id"]
    contract = ProtocolAssignedV1(
        document_id=uuid.UUID(rid),
        document_type="tap_certificate",
        protocol_number="1",
        protocol_date=date(2026, 3, 2),
    )
    ProtocolOutcomeHandlers(services.app).assigned(envelope_for(contract, uuid.UUID(rid)), contract)
    assert client.get(f"/requests/{rid}", headers=headers).json()["protocol"] is None
