"""The identity Application on in-memory persistence (SPEC ID-1..ID-4)."""

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from identity_service.application import IdentityApplication, TokenIssuer
from identity_service.domainmodel import EmailTaken, InvalidProfile, UserNotFound
from portal_events.mapper import event_metadata


@pytest.fixture
def app():
    app = IdentityApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    yield app
    app.close()


def test_id1_register_and_authenticate(app):
    written = app.register("citizen", "Maria@Example.gr", "correct horse")
    assert written.position is not None
    user = app.authenticate("maria@example.gr", "correct horse")
    assert user is not None and user.id == written.user_id
    assert user.password_hash.startswith("$argon2id$")


def test_id1_wrong_password_and_unknown_email_both_fail(app):
    app.register("citizen", "m@example.gr", "correct horse")
    assert app.authenticate("m@example.gr", "wrong") is None
    assert app.authenticate("nobody@example.gr", "correct horse") is None


def test_id1_duplicate_email_is_rejected_case_insensitively(app):
    app.register("citizen", "m@example.gr", "pw-123456")
    with pytest.raises(EmailTaken):
        app.register("business", " M@EXAMPLE.GR", "pw-123456")


def test_id4_bootstrap_admin_is_idempotent(app):
    first = app.bootstrap_admin("admin@dimos.gr", "secret-pw")
    assert first is not None
    assert app.bootstrap_admin("admin@dimos.gr", "other") is None
    assert app.get_user(first).role == "admin"


def test_id2_profile_update_and_validation(app):
    user_id = app.register("business", "b@example.gr", "pw-123456").user_id
    with pytest.raises(InvalidProfile):
        app.update_profile(user_id, {"legal_name": "ΑΒΓ", "afm": "123456789"})
    app.update_profile(user_id, {"legal_name": "ΑΒΓ", "afm": "090000045"})
    assert app.get_user(user_id).profile["afm"] == "090000045"


def test_id3_verify_records_the_clerk_and_metadata(app):
    user_id = app.register("citizen", "m@example.gr", "pw-123456").user_id
    clerk = uuid4()
    app.verify(user_id, "identity_card", "AK1", clerk)
    assert app.get_user(user_id).verification["verified_by"] == str(clerk)
    app.revoke_verification(user_id, "expired document", clerk)
    assert not app.get_user(user_id).verified
    stored = app.repository.event_store.get(user_id)
    assert all("actor" in event_metadata(e) for e in stored)


def test_unknown_user_and_index_id_are_not_found(app):
    with pytest.raises(UserNotFound):
        app.get_user(uuid4())
    from identity_service.domainmodel import email_index_id

    app.register("citizen", "m@example.gr", "pw-123456")
    with pytest.raises(UserNotFound):
        app.get_user(email_index_id("m@example.gr"))


def test_id4_token_claims(app):
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    issuer = TokenIssuer(pem, "portal-identity", "portal", 900)
    clerk_id = app.create_staff("c@dimos.gr", "pw-123456", "clerk", "roads").user_id
    now = datetime.now(UTC)
    token = issuer.issue(app.get_user(clerk_id), now=now)
    assert jwt.get_unverified_header(token.access_token)["kid"] == issuer.kid
    claims = jwt.decode(
        token.access_token, key.public_key(), algorithms=["ES256"], audience="portal"
    )
    assert claims["sub"] == str(clerk_id) and claims["role"] == "clerk"
    assert claims["department"] == "roads" and claims["iss"] == "portal-identity"
    assert claims["exp"] - claims["iat"] == 900
    assert token.expires_at - now == timedelta(seconds=900)
    assert issuer.jwks()["keys"][0]["kid"] == issuer.kid
