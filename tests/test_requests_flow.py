"""Requests, complaints and proposals end to end through the gateway, across identity, requests,
protocol, the registry simulator and Kafka (SPEC R-1..R-5, ID-1, ID-2; issue 2 §8)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration

DEFAULT_DEPARTMENT = "citizen_services"

COMPLAINT = {
    "kind": "complaint",
    "subject": "Σπασμένος φανοστάτης",
    "text": "Ο φανοστάτης στη γωνία Ερμού και Αιόλου δεν ανάβει εδώ και μία εβδομάδα.",
    "desired_action": "Επισκευή του φανοστάτη",
}


def _protocol_of(user, request_id):
    return user.get(f"/requests/{request_id}").json().get("protocol")


def test_r2_r5_named_request_from_submission_to_protocol_number(
    new_citizen, clerk_of, registry, eventually
):
    citizen = new_citizen()
    clerk = clerk_of(DEFAULT_DEPARTMENT)

    # recorded, with its number; read-your-writes: in my list at once.
    created = citizen.post("/requests", json=COMPLAINT)
    assert created.status_code == 201, created.text
    request_id, number = created.json()["id"], created.json()["number"]
    assert number
    mine = citizen.get("/requests").json()["items"]
    assert [item["id"] for item in mine][:1] == [request_id]
    assert mine[0]["status"] == "submitted"
    assert mine[0]["protocol"] is None

    # R-3: it reaches the competent clerks' inbox.
    inbox = clerk.get("/requests/inbox").json()["items"]
    assert request_id in {item["id"] for item in inbox}

    # the clerk replies and changes its status.
    reply = "Ενημερώθηκε το συνεργείο ηλεκτροφωτισμού."
    assert clerk.post(f"/requests/{request_id}/reply", json={"text": reply}).status_code == 200
    changed = clerk.post(f"/requests/{request_id}/status", json={"status": "in_progress"})
    assert changed.status_code == 200, changed.text

    # registered in the protocol; the citizen sees number and date (crosses Kafka twice).
    asked = clerk.post(f"/requests/{request_id}/protocol")
    assert asked.status_code == 202, asked.text
    protocol = eventually(lambda: (_protocol_of(citizen, request_id) or {}).get("number"))
    assert protocol

    # the detail shows subject, text, reply, protocol and status; the list too.
    detail = citizen.get(f"/requests/{request_id}").json()
    assert detail["subject"] == COMPLAINT["subject"]
    assert detail["text"] == COMPLAINT["text"]
    assert detail["reply"] == reply
    assert detail["status"] == "in_progress"
    assert detail["protocol"]["number"] == protocol and detail["protocol"]["date"]
    listed = eventually(
        lambda: next(
            (
                i
                for i in citizen.get("/requests").json()["items"]
                if i["id"] == request_id and i["protocol"]
            ),
            None,
        )
    )
    assert listed["protocol"]["number"] == protocol
    assert listed["status"] == "in_progress"


def test_r4_registry_down_first_pending_then_exactly_one_number(
    new_citizen, clerk_of, registry, registry_simulator, eventually
):
    citizen = new_citizen()
    clerk = clerk_of(DEFAULT_DEPARTMENT)
    request_id = citizen.post("/requests", json=COMPLAINT).json()["id"]

    registry("down")
    assert clerk.post(f"/requests/{request_id}/protocol").status_code == 202
    pending = eventually(
        lambda: citizen.get(f"/requests/{request_id}").json()["protocol_status"] == "pending"
    )
    assert pending
    assert _protocol_of(citizen, request_id) is None

    registry("up")
    number = eventually(lambda: (_protocol_of(citizen, request_id) or {}).get("number"))
    # Exactly one number at the registry for this document, and it is the one we show.
    record = registry_simulator.get(f"/registrations/{request_id}")
    assert record.status_code == 200
    assert record.json()["protocol_number"] == number
    history = citizen.get(f"/requests/{request_id}").json()["history"]
    assert (
        sum(
            1
            for h in history
            if "protocol" in h["event"].lower() and "assign" in h["event"].lower()
        )
        <= 1
    )


def test_r1_anonymous_submission_reaches_the_inbox(gateway, clerk_of, eventually):
    subject = "Ανώνυμη καταγγελία για θόρυβο"
    response = gateway.post(
        "/requests/anonymous",
        json={"subject": subject, "text": "Θόρυβος από κατάστημα μετά τα μεσάνυχτα."},
    )
    assert response.status_code == 202, response.text
    clerk = clerk_of(DEFAULT_DEPARTMENT)
    item = eventually(
        lambda: next(
            (i for i in clerk.get("/requests/inbox").json()["items"] if i["subject"] == subject),
            None,
        )
    )
    assert item["anonymous"] is True


def test_r5_another_citizen_gets_404_and_does_not_see_it(new_citizen):
    owner, other = new_citizen(), new_citizen()
    request_id = owner.post("/requests", json=COMPLAINT).json()["id"]
    assert other.get(f"/requests/{request_id}").status_code == 404
    assert request_id not in {i["id"] for i in other.get("/requests").json()["items"]}
    assert other.post(f"/requests/{request_id}/reply", json={"text": "x"}).status_code in (
        403,
        404,
    )


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "complaint", "text": "χωρίς θέμα"},
        {"kind": "complaint", "subject": "χωρίς κείμενο"},
        {"kind": "complaint", "subject": "   ", "text": "κενό θέμα"},
        {"kind": "wish", "subject": "άγνωστο είδος", "text": "κείμενο"},
        {"kind": "complaint", "subject": "Θ" * 201, "text": "πολύ μεγάλο θέμα"},
        {"kind": "complaint", "subject": "μεγάλο κείμενο", "text": "Κ" * 5001},
    ],
    ids=["no-subject", "no-text", "blank-subject", "bad-kind", "long-subject", "long-text"],
)
def test_r2_invalid_submission_is_422_and_nothing_is_recorded(new_citizen, body):
    citizen = new_citizen()
    response = citizen.post("/requests", json=body)
    assert response.status_code == 422
    error = response.json()
    assert error["code"] and error["message"]
    assert citizen.get("/requests").json()["total"] == 0


def test_no_token_is_401_with_the_error_shape(gateway):
    for method, path in [
        ("GET", "/requests"),
        ("POST", "/requests"),
        ("GET", "/requests/inbox"),
        ("GET", "/identity/me"),
    ]:
        response = gateway.request(method, path, json=COMPLAINT if method == "POST" else None)
        assert response.status_code == 401, (method, path)
        assert set(response.json()) >= {"code", "message"}


def test_citizen_cannot_act_as_clerk(new_citizen):
    citizen = new_citizen()
    request_id = citizen.post("/requests", json=COMPLAINT).json()["id"]
    assert citizen.get("/requests/inbox").status_code == 403
    assert (
        citizen.post(f"/requests/{request_id}/status", json={"status": "completed"}).status_code
        == 403
    )
    assert citizen.post(f"/requests/{request_id}/protocol").status_code == 403


def test_correlation_id_is_echoed_through_the_gateway(gateway):
    response = gateway.get("/requests/health", headers={"X-Correlation-ID": "e2e-corr-1"})
    assert response.headers["x-correlation-id"] == "e2e-corr-1"
