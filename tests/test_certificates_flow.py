"""Certificates end to end through the gateway, across identity, certificates, protocol, the
registry simulator and Kafka (SPEC C-1..C-6; issue 8): who may apply, the protocol number in the
answer (or pending through an outage, then exactly one), department scoping, the issued PDF and
its verification code, the two lists."""

from __future__ import annotations

import io
import uuid

import pytest
from certificate_applications import FAMILY_STATUS, TAP
from portal_roles import CITIZEN_PROFILE
from pypdf import PdfReader

pytestmark = pytest.mark.integration


def protocol_of(user, certificate_id: str) -> dict | None:
    return user.get(f"/certificates/{certificate_id}").json()["protocol"]


def refusal(citizen) -> str:
    """The code of the 403 an application gets (C-1)."""
    response = citizen.post("/certificates/civil-registry", json=FAMILY_STATUS)
    assert response.status_code == 403, response.text
    return response.json()["code"]


def test_c1_incomplete_profile_then_unverified_are_refused_saying_which(new_citizen, eventually):
    citizen = new_citizen(complete_profile=False)
    assert refusal(citizen) == "profile_incomplete"
    assert citizen.put("/identity/me/profile", json=CITIZEN_PROFILE).status_code == 200
    # Once certificates has heard of the complete profile, the verification is what is missing.
    eventually(lambda: refusal(citizen) == "not_verified")
    assert citizen.get("/certificates/civil-registry").json()["total"] == 0


def test_c4_c5_family_status_protocol_number_scoping_issue_pdf_and_verification(
    verified_citizen, clerk_of, gateway
):
    citizen = verified_citizen()
    created = citizen.post(
        "/certificates/civil-registry",
        json=FAMILY_STATUS,
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert created.status_code == 201, created.text
    application = created.json()
    assert application["protocol_status"] == "assigned", application
    protocol_number = application["protocol"]["number"]
    certificate_id = application["id"]

    # C-5: a clerk of another department does not see it; the civil registry's does.
    revenue = clerk_of("revenue")
    assert revenue.get(f"/certificates/{certificate_id}").status_code == 404
    assert certificate_id not in {
        i["id"] for i in revenue.get("/certificates/inbox").json()["items"]
    }
    registry_clerk = clerk_of("civil_registry")
    inbox = registry_clerk.get("/certificates/inbox").json()["items"]
    assert certificate_id in {i["id"] for i in inbox}

    issued = registry_clerk.post(f"/certificates/{certificate_id}/issue", json={})
    assert issued.status_code == 200, issued.text
    code = issued.json()["verification_code"]

    # The citizen downloads the PDF: protocol number and her surname, in Greek.
    document = citizen.get(f"/certificates/{certificate_id}/document")
    assert document.status_code == 200
    assert document.headers["content-type"] == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(document.content)).pages)
    assert protocol_number in text
    assert CITIZEN_PROFILE["last_name"] in text

    # Anyone checks the code (no login); a made-up one is unknown.
    verified = gateway.get(f"/certificates/verify/{code}")
    assert verified.status_code == 200, verified.text
    assert verified.json()["authentic"] is True
    assert verified.json()["protocol"]["number"] == protocol_number
    assert verified.json()["holder_initials"] == "Ε. Π."
    made_up = gateway.get("/certificates/verify/AAAA-BBBB-CCCC-DDDD")
    assert (made_up.status_code, made_up.json()["code"]) == (404, "unknown_verification_code")

    detail = citizen.get(f"/certificates/{certificate_id}").json()
    assert detail["status"] == "issued" and detail["verification_code"] == code


def test_c4_registry_down_pending_then_exactly_one_number(
    verified_citizen, clerk_of, registry, registry_simulator, eventually
):
    citizen = verified_citizen()
    registry("down")
    created = citizen.post("/certificates/civil-registry", json=FAMILY_STATUS)
    assert created.status_code == 201, created.text
    assert created.json()["protocol_status"] == "pending"
    assert created.json()["protocol"] is None
    certificate_id = created.json()["id"]

    registry("up")
    number = eventually(lambda: (protocol_of(citizen, certificate_id) or {}).get("number"))
    # Exactly one number, the same at the registry, in the protocol service and here.
    at_registry = registry_simulator.get(f"/registrations/{certificate_id}")
    assert at_registry.status_code == 200
    assert at_registry.json()["protocol_number"] == number
    registration = clerk_of("civil_registry").get(f"/protocol/registrations/{certificate_id}")
    assert registration.status_code == 200, registration.text
    assert registration.json()["protocol_number"] == number
    history = citizen.get(f"/certificates/{certificate_id}").json()["history"]
    assert [h["event"] for h in history].count("ProtocolAssigned") == 1


def test_c6_a_tap_application_is_in_the_tap_list_only(verified_citizen, clerk_of):
    citizen = verified_citizen()
    created = citizen.post("/certificates/tap", json=TAP)
    assert created.status_code == 201, created.text
    certificate_id = created.json()["id"]
    assert [i["id"] for i in citizen.get("/certificates/tap").json()["items"]] == [certificate_id]
    assert citizen.get("/certificates/civil-registry").json()["items"] == []
    detail = citizen.get(f"/certificates/{certificate_id}").json()
    assert detail["property"]["electricity_supply_number"] == "1 12345678-01 2"
    revenue_inbox = clerk_of("revenue").get("/certificates/inbox?kind=tap").json()["items"]
    assert certificate_id in {i["id"] for i in revenue_inbox}
