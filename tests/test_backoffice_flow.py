"""The clerks' worklist end to end through the gateway (SPEC X-3; issue 8): built from the
events of identity, requests, protocol and certificates through Kafka; scoped per department;
due dates and "overdue" at a moved clock (`as_of`); the summary; the rebuild from Kafka equal to
the live worklist."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from certificate_applications import FAMILY_STATUS, TAP
from portal_roles import CITIZEN_PROFILE

pytestmark = pytest.mark.integration

DEPARTMENT = "citizen_services"  # where a request without a category goes
APPLICANT_NAME = f"{CITIZEN_PROFILE['first_name']} {CITIZEN_PROFILE['last_name']}"
COMPLAINT = {
    "kind": "complaint",
    "subject": "Λακκούβα στην οδό Αιόλου",
    "text": "Μεγάλη λακκούβα μπροστά στο νούμερο 12.",
}


def worklist_item(user, item_id: str, **params) -> dict | None:
    """The item `item_id` of the worklist the caller sees with `params`, or None. A new case
    is due last (its deadline counts from now), so it is on the last page."""
    first = user.get("/backoffice/worklist", params={**params, "limit": 1})
    assert first.status_code == 200, first.text
    offset = max(first.json()["total"] - 400, 0)
    page = user.get("/backoffice/worklist", params={**params, "limit": 500, "offset": offset})
    return next((item for item in page.json()["items"] if item["id"] == item_id), None)


def summary_of(user, department: str, as_of: str) -> dict:
    response = user.get("/backoffice/summary", params={"as_of": as_of})
    assert response.status_code == 200, response.text
    return next(line for line in response.json()["items"] if line["department"] == department)


def moment(value: str, shift: timedelta) -> str:
    return (datetime.fromisoformat(value) + shift).isoformat()


def test_x3_a_request_is_on_its_departments_worklist_then_overdue_when_the_clock_moves(
    new_citizen, clerk_of, admin, eventually
):
    citizen = new_citizen()
    clerk, other_clerk = clerk_of(DEPARTMENT), clerk_of("technical")
    created = citizen.post("/requests", json=COMPLAINT)
    assert created.status_code == 201, created.text
    request_id = created.json()["id"]

    # On the department's worklist, with the applicant's name from identity's events.
    def named() -> dict | None:
        item = worklist_item(clerk, request_id, kind="request")
        return item if item and (item["applicant"] or {}).get("name") else None

    item = eventually(named)
    assert (item["service"], item["kind"], item["case_type"]) == (
        "requests",
        "request",
        "complaint",
    )
    assert (item["number"], item["subject"]) == (created.json()["number"], COMPLAINT["subject"])
    assert item["applicant"]["id"] == citizen.user_id
    assert item["applicant"]["name"] == APPLICANT_NAME
    assert (item["department"], item["status"], item["open"]) == (DEPARTMENT, "submitted", True)
    assert item["link"] == f"/requests/{request_id}"
    # ν. 2690/1999 art. 4: 50 days from submission.
    due_by = item["due_by"]
    assert datetime.fromisoformat(due_by) - datetime.fromisoformat(item["received_at"]) == (
        timedelta(days=50)
    )
    assert item["overdue"] is False

    # Not on another department's worklist; a clerk asking for another department: 403.
    assert worklist_item(other_clerk, request_id) is None
    refused = other_clerk.get("/backoffice/worklist", params={"department": DEPARTMENT})
    assert (refused.status_code, refused.json()["code"]) == (403, "forbidden")
    assert citizen.get("/backoffice/worklist").status_code == 403
    # Admins see every department's, or one.
    assert worklist_item(admin, request_id, department=DEPARTMENT, kind="request") is not None

    # The clock moved past the due date: overdue, listed as such, counted in the summary.
    just_before, just_after = (
        moment(due_by, -timedelta(seconds=1)),
        moment(due_by, timedelta(seconds=1)),
    )
    assert worklist_item(clerk, request_id, kind="request", as_of=just_before)["overdue"] is False
    late = worklist_item(clerk, request_id, kind="request", overdue="true", as_of=just_after)
    assert late is not None and late["overdue"] is True
    assert (
        worklist_item(clerk, request_id, kind="request", overdue="false", as_of=just_after) is None
    )
    before, after = (
        summary_of(clerk, DEPARTMENT, just_before),
        summary_of(clerk, DEPARTMENT, just_after),
    )
    assert after["overdue"] >= before["overdue"] + 1
    assert after["open"] >= 1 and after["median_age_days"] > 0
    # A clerk's summary is their department's alone.
    assert [line["department"] for line in clerk.get("/backoffice/summary").json()["items"]] == [
        DEPARTMENT
    ]


def test_x3_a_protocol_registration_pending_is_on_the_worklist_until_assigned(
    new_citizen, clerk_of, registry, eventually
):
    citizen, clerk = new_citizen(), clerk_of(DEPARTMENT)
    request_id = citizen.post("/requests", json=COMPLAINT).json()["id"]
    registry("down")
    asked = clerk.post(f"/requests/{request_id}/protocol")
    assert asked.status_code == 202, asked.text

    def pending():
        item = worklist_item(clerk, request_id, kind="protocol_registration")
        return item if item and item["status"] == "pending" else None

    item = eventually(pending)
    assert (item["service"], item["case_type"], item["open"]) == ("protocol", "request", True)
    assert item["link"] == f"/protocol/registrations/{request_id}"
    assert item["applicant"]["id"] == citizen.user_id

    registry("up")
    eventually(lambda: worklist_item(clerk, request_id, kind="protocol_registration") is None, 45)
    closed = worklist_item(clerk, request_id, kind="protocol_registration", include_closed="true")
    assert (closed["status"], closed["open"]) == ("assigned", False)
    assert closed["number"]  # the protocol number


def test_x3_certificate_applications_are_on_their_departments_worklists(
    verified_citizen, clerk_of, eventually
):
    """A civil-registry application on the civil registry's worklist, a TAP one on revenue's;
    neither on the other's."""
    citizen = verified_citizen()

    def applied(path: str, body: dict) -> str:
        response = citizen.post(path, json=body)
        assert response.status_code == 201, response.text
        return response.json()["id"]

    family_status = applied("/certificates/civil-registry", FAMILY_STATUS)
    tap = applied("/certificates/tap", TAP)
    civil_registry, revenue = clerk_of("civil_registry"), clerk_of("revenue")

    item = eventually(lambda: worklist_item(civil_registry, family_status, kind="certificate"))
    assert (item["service"], item["case_type"], item["status"]) == (
        "certificates",
        "family_status",
        "submitted",
    )
    assert item["applicant"] == {
        "id": citizen.user_id,
        "name": APPLICANT_NAME,
        "verified": True,
    }
    assert item["link"] == f"/certificates/{family_status}"
    tap_item = eventually(lambda: worklist_item(revenue, tap, kind="certificate"))
    assert (tap_item["department"], tap_item["case_type"]) == ("revenue", "tap")
    assert worklist_item(revenue, family_status, kind="certificate") is None
    assert worklist_item(civil_registry, tap, kind="certificate") is None


def test_x3_a_fine_recorded_by_the_municipal_police_is_on_its_worklist(clerk_of, eventually):
    """FineRecorded (fines, issue 8): open until paid, due when the grace period ends."""
    police = clerk_of("municipal_police")
    recorded = police.post(
        "/fines",
        json={
            "fine_type": "P-40",
            "fine_number": str(random.randrange(10**8, 10**9)),
            "plate": "ΥΖΑ-1234",
            "issued_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
        },
    )
    assert recorded.status_code == 201, recorded.text
    fine_id = recorded.json()["fine_id"]
    item = eventually(lambda: worklist_item(police, fine_id, kind="fine"))
    assert (item["service"], item["case_type"], item["status"], item["open"]) == (
        "fines",
        "P-40",
        "recorded",
        True,
    )
    assert (item["applicant"], item["link"]) == (None, f"/fines/{fine_id}")
    assert datetime.fromisoformat(item["due_by"]) - datetime.fromisoformat(
        item["received_at"]
    ) == timedelta(days=60)


def test_x3_the_worklist_rebuilt_from_kafka_equals_the_live_one(stack):
    """`python -m backoffice_service.rebuild` reads every consumed topic from offset 0 into a
    fresh worklist and compares it with the live one."""
    env = os.environ | {
        "POSTGRES_HOST": stack.pg_host,
        "POSTGRES_PORT": str(stack.pg_port),
        "POSTGRES_USER": stack.pg_user,
        "POSTGRES_PASSWORD": stack.pg_password,
        "POSTGRES_DBNAME": "backoffice",
        "KAFKA_BOOTSTRAP_SERVERS": stack.kafka_bootstrap,
    }
    result = subprocess.run(
        [sys.executable, "-m", "backoffice_service.rebuild"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "events/s" in result.stderr  # the progress display
    assert (result.returncode, result.stdout.splitlines()[:1]) == (0, ["equal"]), (
        result.stdout[-3000:] + result.stderr[-2000:]
    )
