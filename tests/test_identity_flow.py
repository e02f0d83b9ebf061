"""Identity end to end through the gateway, and its events on Kafka (SPEC ID-1..ID-4)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer
from portal_events.contracts import IDENTITY_USER_EVENTS
from portal_events.envelope import Envelope

pytestmark = pytest.mark.integration


async def _identity_events_of(bootstrap: str, user_id: str, want: set[str]) -> dict[str, Envelope]:
    """Read identity's topic from the start until the user's wanted event types are seen."""
    consumer = AIOKafkaConsumer(
        IDENTITY_USER_EVENTS,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    found: dict[str, Envelope] = {}
    try:
        deadline = asyncio.get_running_loop().time() + 20
        while not want <= set(found) and asyncio.get_running_loop().time() < deadline:
            for records in (await consumer.getmany(timeout_ms=300)).values():
                for record in records:
                    envelope = Envelope.from_bytes(record.value)
                    if envelope.subject == user_id:
                        found[envelope.type] = envelope
    finally:
        await consumer.stop()
    return found


def test_id1_to_id4_register_complete_verify_revoke_and_publish(new_citizen, clerk_of, stack):
    citizen = new_citizen()  # ID-1 register + log in, ID-2 complete profile
    me = citizen.get("/identity/me").json()
    assert me["kind"] == "citizen" and me["profile_complete"] is True
    assert me["verified"] is False

    clerk = clerk_of("citizen_services")
    verification = {"document_type": "identity_card", "document_number": "ΑΒ123456"}
    # ID-3: only a clerk records an in-person verification.
    assert (
        citizen.post(f"/identity/users/{citizen.user_id}/verification", json=verification)
    ).status_code == 403
    verified = clerk.post(f"/identity/users/{citizen.user_id}/verification", json=verification)
    assert verified.status_code in (200, 201), verified.text
    assert citizen.get("/identity/me").json()["verified"] is True

    revoked = clerk.delete(
        f"/identity/users/{citizen.user_id}/verification",
        json={"reason": "Το έγγραφο είχε λήξει"},
    )
    assert revoked.status_code in (200, 204), revoked.text
    assert citizen.get("/identity/me").json()["verified"] is False

    # ID-4: the other services learn all of it from identity's events on Kafka.
    events = asyncio.run(
        _identity_events_of(
            stack.kafka_bootstrap,
            citizen.user_id,
            {"UserRegistered", "ProfileUpdated", "UserVerified", "VerificationRevoked"},
        )
    )
    assert set(events) == {
        "UserRegistered",
        "ProfileUpdated",
        "UserVerified",
        "VerificationRevoked",
    }
    assert events["ProfileUpdated"].data["profile_complete"] is True
    assert events["ProfileUpdated"].data["afm"] == "090000045"
    assert events["VerificationRevoked"].data["reason"] == "Το έγγραφο είχε λήξει"
    assert events["UserVerified"].actor == {"id": clerk.user_id, "role": "clerk"}


def test_id1_wrong_password_and_unknown_email_look_the_same(gateway, new_citizen):
    citizen = new_citizen(complete_profile=False)
    wrong = gateway.post(
        "/identity/token", data={"username": citizen.email, "password": "not-the-password"}
    )
    unknown = gateway.post(
        "/identity/token",
        data={"username": f"nobody-{uuid.uuid4().hex[:6]}@example.gr", "password": "whatever"},
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


def test_id1_tokens_verify_with_the_published_jwks(gateway, new_citizen):
    import jwt

    citizen = new_citizen(complete_profile=False)
    jwks = gateway.get("/identity/.well-known/jwks.json").json()
    key = jwt.PyJWKSet.from_dict(jwks).keys[0]
    claims = jwt.decode(citizen.token, key.key, algorithms=["ES256"], audience="portal")
    assert claims["sub"] == citizen.user_id and claims["role"] == "citizen"
    # A token signed by anyone else is refused everywhere.
    forged = jwt.encode(
        {**claims, "role": "admin"},
        "not-the-key-but-thirty-two-bytes!",
        algorithm="HS256",
        headers={"kid": key.key_id},
    )
    for path in ("/identity/me", "/requests"):
        response = gateway.get(path, headers={"Authorization": f"Bearer {forged}"})
        assert response.status_code == 401, path


def test_id4_only_the_admin_creates_staff(gateway, new_citizen, admin):
    citizen = new_citizen(complete_profile=False)
    body = {
        "email": f"x-{uuid.uuid4().hex[:6]}@dimos.gr",
        "password": "Staff-pass-1",
        "role": "clerk",
        "department": "technical",
    }
    assert citizen.post("/identity/staff", json=body).status_code == 403
    assert gateway.post("/identity/staff", json=body).status_code == 401
    assert admin.post("/identity/staff", json=body).status_code == 201
