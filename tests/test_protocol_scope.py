"""Issue 6, "a clerk of another department → 404 on a protocol registration": a request carries
its department from requests' routing, through ProtocolRequested on Kafka, onto the protocol
registration; through the gateway, only that department's clerks (and admins, auditors) see it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

pytestmark = pytest.mark.integration

DEPARTMENT = "technical"  # requests' routing table sends category `roads` there
OTHER_DEPARTMENT = "sanitation"

POTHOLE = {
    "kind": "complaint",
    "subject": "Λακκούβα στην οδό Αθηνάς",
    "text": "Βαθιά λακκούβα στο ρεύμα προς Ομόνοια, μπροστά στο νούμερο 20.",
    "category": "roads",
}


@contextmanager
def registry_down(stack) -> Iterator[None]:
    """The protocol registry simulator (on its own port: it is not behind the gateway) answers
    503 inside the block, so the registration stays pending and listed; up again after."""
    with httpx.Client(base_url=stack.services["protocol-registry"], timeout=5) as registry:
        assert registry.put("/control", json={"mode": "down"}).status_code == 200
        try:
            yield
        finally:
            assert registry.put("/control", json={"mode": "up"}).status_code == 200


def pending(user, **params) -> list[dict]:
    page = user.get("/protocol/registrations", params={"limit": 500, **params})
    assert page.status_code == 200, page.text
    return page.json()["items"]


def test_issue6_a_clerk_of_another_department_gets_404_on_a_protocol_registration(
    stack, new_citizen, clerk_of, admin, eventually
):
    citizen, clerk, other_clerk = new_citizen(), clerk_of(DEPARTMENT), clerk_of(OTHER_DEPARTMENT)
    created = citizen.post("/requests", json=POTHOLE)
    assert created.status_code == 201, created.text
    request_id = created.json()["id"]
    assert citizen.get(f"/requests/{request_id}").json()["department"] == DEPARTMENT

    with registry_down(stack):
        assert clerk.post(f"/requests/{request_id}/protocol").status_code == 202
        # Across Kafka: the clerk of the request's department sees the registration pending.
        listed = eventually(
            lambda: next((r for r in pending(clerk) if r["document_id"] == request_id), None)
        )
        assert listed["department"] == DEPARTMENT
        # The other department's clerk lists only their own department's, even when asking for
        # another; an admin sees it, with or without the department filter.
        others = pending(other_clerk) + pending(other_clerk, department=DEPARTMENT)
        assert {r["department"] for r in others} <= {OTHER_DEPARTMENT}
        assert request_id not in {r["document_id"] for r in others}
        for admin_view in (pending(admin), pending(admin, department=DEPARTMENT)):
            assert request_id in {r["document_id"] for r in admin_view}

    path = f"/protocol/registrations/{request_id}"
    seen = clerk.get(path)
    assert (seen.status_code, seen.json()["department"]) == (200, DEPARTMENT)
    hidden = other_clerk.get(path)
    assert (hidden.status_code, hidden.json()["code"]) == (404, "not_found")
    assert admin.get(path).status_code == 200
