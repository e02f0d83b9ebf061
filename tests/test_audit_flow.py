"""Auditors through the gateway (SPEC X-1, issue 10 "A case's history and its state at a
moment"): a request taken through reply, status change and protocol shows in its case history
every step of requests and protocol, with the clerk as actor on the clerk's steps and
"anonymous" on an anonymous submission's first event; its state just before the reply has no
reply; citizens and clerks are refused; every auditor read is in the audit trail."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from portal_roles import Casting

pytestmark = pytest.mark.integration

DEPARTMENT = "citizen_services"  # where a request without a category goes
AUDIT_ROUTES = [
    "/audit/cases/{id}",
    "/audit/cases/{id}/state?at=2026-03-01T10:00:00Z",
    "/audit/events?type=Replied",
    "/audit/integrity",
    "/audit/trail",
]


@pytest.fixture(scope="module")
def auditor(gateway, admin):
    return Casting(gateway, admin.token).staff("auditor")


def submit_anonymously(gateway, clerk, eventually) -> str:
    subject = f"Θόρυβος {uuid.uuid4().hex[:8]}"
    answer = gateway.post(
        "/requests/anonymous", json={"subject": subject, "text": "Μετά τα μεσάνυχτα."}
    )
    assert answer.status_code == 202, answer.text
    item = eventually(
        lambda: next(
            (i for i in clerk.get("/requests/inbox").json()["items"] if i["subject"] == subject),
            None,
        )
    )
    return item["id"]


def take_through_reply_status_and_protocol(clerk, request_id, eventually) -> datetime:
    """The clerk's three steps; the instant just before the reply."""
    before_reply = datetime.now(UTC)
    assert clerk.post(f"/requests/{request_id}/reply", json={"text": "Ελέγχεται."}).is_success
    changed = clerk.post(f"/requests/{request_id}/status", json={"status": "in_progress"})
    assert changed.is_success, changed.text
    assert clerk.post(f"/requests/{request_id}/protocol").status_code == 202
    eventually(
        lambda: clerk.get(f"/requests/{request_id}").json().get("protocol_status") == "assigned"
    )
    return before_reply


def case_of(gateway, auditor, case: str, eventually, wanted: set[str]) -> dict:
    """The case's history once the archive has every step in `wanted` (through Kafka)."""

    def complete() -> dict | None:
        answer = gateway.get(f"/audit/cases/{case}", headers=auditor.headers)
        if answer.status_code != 200:
            return None
        body = answer.json()
        names = {f"{e['service']}:{e['aggregate_type']}.{e['name']}" for e in body["entries"]}
        return body if wanted <= names else None

    return eventually(complete, timeout=30)


STEPS = {
    "requests:Request.Replied",
    "requests:Request.StatusChanged",
    "requests:Request.ProtocolRequested",
    "requests:Request.ProtocolAssigned",
    "protocol:Registration.Requested",
    "protocol:Registration.Assigned",
}


def test_an_anonymous_requests_case_shows_every_step_of_both_services_x1(
    gateway, clerk_of, auditor, eventually
):
    clerk = clerk_of(DEPARTMENT)
    request_id = submit_anonymously(gateway, clerk, eventually)
    before_reply = take_through_reply_status_and_protocol(clerk, request_id, eventually)

    case = case_of(gateway, auditor, request_id, eventually, STEPS)
    assert case["root"] == {
        "service": "requests",
        "aggregate_type": "Request",
        "aggregate_id": request_id,
    }
    entries = case["entries"]
    mine = [e for e in entries if e["aggregate_id"] == request_id]
    assert [e["version"] for e in mine] == sorted(e["version"] for e in mine)
    assert mine[0]["actor"] == {"id": "anonymous", "role": "anonymous"}
    clerks_steps = [
        e for e in mine if e["name"] in ("Replied", "StatusChanged", "ProtocolRequested")
    ]
    assert len(clerks_steps) == 3
    assert all(e["actor"] == {"id": clerk.user_id, "role": "clerk"} for e in clerks_steps)
    order = [f"{e['service']}:{e['name']}" for e in entries]
    assert order.index("requests:ProtocolRequested") < order.index("protocol:Requested")
    assert order.index("protocol:Assigned") < order.index("requests:ProtocolAssigned")

    # The same case by its human number.
    number = mine[0]["data"]["number"]
    by_number = gateway.get(f"/audit/cases/{number}", headers=auditor.headers)
    assert by_number.json()["root"]["aggregate_id"] == request_id

    # Its state a moment before the reply: no reply, the version before it.
    at = before_reply.isoformat()
    state = gateway.get(
        f"/audit/cases/{request_id}/state", params={"at": at}, headers=auditor.headers
    )
    assert state.status_code == 200, state.text
    replied = next(e for e in mine if e["name"] == "Replied")
    assert state.json()["version"] == replied["version"] - 1
    assert state.json()["state"].get("reply") is None

    trail = gateway.get(
        "/audit/trail",
        params={"auditor": auditor.user_id, "case": request_id},
        headers=auditor.headers,
    ).json()
    kinds = {(item["kind"], item["case"]) for item in trail["items"]}
    assert {
        ("case_history", request_id),
        ("case_history", number),
        ("case_state", request_id),
    } <= kinds


def test_a_named_requests_case_has_its_citizen_and_clerk_as_actors_x1(
    new_citizen, clerk_of, auditor, gateway, eventually
):
    citizen, clerk = new_citizen(), clerk_of(DEPARTMENT)
    submitted = citizen.post(
        "/requests", json={"kind": "complaint", "subject": "Φανοστάτης", "text": "Δεν ανάβει."}
    )
    request_id = submitted.json()["id"]
    take_through_reply_status_and_protocol(clerk, request_id, eventually)
    case = case_of(gateway, auditor, submitted.json()["number"], eventually, STEPS)
    first = next(e for e in case["entries"] if e["aggregate_id"] == request_id)
    assert first["actor"] == {"id": citizen.user_id, "role": "citizen"}


def test_citizens_and_clerks_are_refused_every_audit_route_x1(new_citizen, clerk_of, gateway):
    case_id = str(uuid.uuid4())
    for person in (new_citizen(), clerk_of(DEPARTMENT)):
        for route in AUDIT_ROUTES:
            answer = gateway.get(route.format(id=case_id), headers=person.headers)
            assert answer.status_code == 403, (route, answer.text)
