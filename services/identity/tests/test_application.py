"""The identity Application on in-memory persistence, without HTTP (SPEC ID-1..ID-4)."""

import asyncio
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from identity_service.application import IdentityApplication
from identity_service.domainmodel import (
    CommandNotApplicable,
    CredentialsInvalid,
    EmailTaken,
    OwnAccountProtected,
    PasswordIncorrect,
    ProfileInvalid,
    User,
    UserAlreadyVerified,
    UserNotFound,
    email_index_id,
)
from identity_service.tokens import TokenIssuer
from portal_events.application import IdempotencyKeyReused
from portal_events.mapper import event_metadata


class RecordedAttempt:
    """A throttle reservation in memory (throttle.Attempt): remembers the outcome it is told."""

    delay_seconds = 0.0

    def __init__(self) -> None:
        self.outcome: str | None = None

    def succeeded(self) -> None:
        self.outcome = "succeeded"

    def failed(self) -> None:
        self.outcome = "failed"


@pytest.fixture
def app():
    app = IdentityApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    yield app
    app.close()


@pytest.fixture(scope="module")
def signing_key():
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def issuer(signing_key):
    pem = signing_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return TokenIssuer(pem, "portal-identity", "portal", 900)


@pytest.fixture
def attempt():
    return RecordedAttempt()


def user_id(written) -> UUID:
    return UUID(written.result["user_id"])


def test_id1_register_then_log_in_gives_a_token_for_the_account(app, issuer, attempt, signing_key):
    written = app.register("citizen", "Maria@Example.gr", "correct horse")
    assert written.position is not None
    issued = app.log_in("maria@example.gr", "correct horse", attempt, issuer=issuer)
    claims = jwt.decode(
        issued.access_token, signing_key.public_key(), algorithms=["ES256"], audience="portal"
    )
    assert claims["sub"] == str(user_id(written)) and claims["email"] == "maria@example.gr"
    assert app.get_user(user_id(written)).password_hash.startswith("$argon2id$")
    assert attempt.outcome == "succeeded"


def test_id1_wrong_password_and_unknown_email_fail_alike_and_count(app, issuer):
    app.register("citizen", "m@example.gr", "correct horse")
    for email, password in (("m@example.gr", "wrong"), ("nobody@example.gr", "correct horse")):
        attempt = RecordedAttempt()
        with pytest.raises(CredentialsInvalid):
            app.log_in(email, password, attempt, issuer=issuer)
        assert attempt.outcome == "failed"


def test_id4_a_disabled_account_fails_like_a_wrong_password(app, issuer, attempt):
    """ASVS 5.0 V6.3.8 (chosen at L2 too): the right password of a disabled account gets the
    same CredentialsInvalid as a wrong one and counts as a failure: saying "disabled" would tell
    whoever holds the password that it is right."""
    citizen = user_id(app.register("citizen", "m@example.gr", "correct horse"))
    app.disable(citizen, "fraud", uuid4())
    with pytest.raises(CredentialsInvalid):
        app.log_in("m@example.gr", "correct horse", attempt, issuer=issuer)
    assert attempt.outcome == "failed"
    app.enable(citizen, uuid4())
    app.log_in("m@example.gr", "correct horse", RecordedAttempt(), issuer=issuer)


def test_id1_password_change_needs_the_current_password(app, issuer, attempt):
    """ASVS 5.0 V6.2.2, V6.2.3: the user changes their password with the current one; a wrong
    current password counts as a failed log-in."""
    citizen = user_id(app.register("citizen", "m@example.gr", "first-password"))
    with pytest.raises(PasswordIncorrect):
        app.change_password(citizen, "not-it", "second-password", attempt)
    assert attempt.outcome == "failed"
    written = app.change_password(citizen, "first-password", "second-password", RecordedAttempt())
    assert written.position is not None
    assert written.result.tokens_valid_after is not None
    with pytest.raises(CredentialsInvalid):
        app.log_in("m@example.gr", "first-password", RecordedAttempt(), issuer=issuer)
    issued = app.log_in("m@example.gr", "second-password", RecordedAttempt(), issuer=issuer)
    # ASVS 5.0 V7.4.3: tokens are judged by their issue second; a new one is issued after it.
    iat = jwt.decode(issued.access_token, options={"verify_signature": False})["iat"]
    assert iat > written.result.tokens_valid_after.timestamp()


def test_id4_disable_enable_and_staff_update_record_the_admin(app):
    admin, clerk = (
        uuid4(),
        user_id(app.create_staff("c@dimos.gr", "pw-123456", "clerk", "technical")),
    )
    app.disable(clerk, "left the job", admin)
    app.disable(clerk, "again", admin)  # a repeat records nothing
    app.enable(clerk, admin)
    app.update_staff(clerk, None, "sanitation", admin)
    app.update_staff(clerk, "auditor", None, admin)
    events = [e for e in app.events.get(clerk)][1:]
    assert [type(e).__name__ for e in events] == [
        "Disabled",
        "Enabled",
        "StaffUpdated",
        "StaffUpdated",
    ]
    assert events[0].disabled_by == events[1].enabled_by == events[2].updated_by == str(admin)
    user = app.get_user(clerk)
    assert (user.role, user.department, user.disabled) == ("auditor", None, False)
    assert all(event_metadata(e)["actor"] for e in app.repository.event_store.get(clerk))


def test_id4_staff_update_keeps_a_valid_staff_member(app):
    admin = uuid4()
    auditor = user_id(app.create_staff("a@dimos.gr", "pw-123456", "auditor"))
    with pytest.raises(ProfileInvalid) as no_department:
        app.update_staff(auditor, "clerk", None, admin)
    assert no_department.value.field == "department"
    with pytest.raises(ProfileInvalid) as unknown:
        app.update_staff(auditor, "clerk", "technical_services", admin)
    assert unknown.value.field == "department"
    with pytest.raises(ProfileInvalid):
        app.update_staff(auditor, None, "technical", admin)  # an auditor has no department
    citizen = user_id(app.register("citizen", "m@example.gr", "pw-123456"))
    with pytest.raises(CommandNotApplicable):
        app.update_staff(citizen, "admin", None, admin)


def test_id4_an_admin_cannot_disable_or_demote_themselves(app):
    admin = user_id(app.create_staff("admin@dimos.gr", "pw-123456", "admin"))
    with pytest.raises(OwnAccountProtected):
        app.disable(admin, "oops", admin)
    with pytest.raises(OwnAccountProtected):
        app.update_staff(admin, "auditor", None, admin)
    assert app.get_user(admin).role == "admin" and not app.get_user(admin).disabled


def test_id1_duplicate_email_is_rejected_case_insensitively_and_for_lookalikes(app):
    app.register("citizen", "maria@example.gr", "pw-123456")
    for twin in (" MARIA@EXAMPLE.GR", "ＭＡＲＩＡ@example.gr"):
        with pytest.raises(EmailTaken):
            app.register("business", twin, "pw-123456")


def test_id1_a_keyed_registration_repeated_answers_the_first_without_the_password(app, issuer):
    """issue 5 §2: Idempotency-Key on creations; the password is not fingerprinted, so a repeat
    with another password answers the first result and the first password stays."""
    first = app.register("citizen", "m@example.gr", "first-password", "key-00000001")
    again = app.register("citizen", "M@example.gr", "other-password", "key-00000001")
    assert again.result == first.result and again.position is None
    app.log_in("m@example.gr", "first-password", RecordedAttempt(), issuer=issuer)
    with pytest.raises(CredentialsInvalid):
        app.log_in("m@example.gr", "other-password", RecordedAttempt(), issuer=issuer)
    with pytest.raises(IdempotencyKeyReused):
        app.register("business", "m@example.gr", "first-password", "key-00000001")


def test_id4_staff_creation_keys_are_each_admins_own(app):
    admin, other_admin = uuid4(), uuid4()
    first = app.create_staff(
        "c@dimos.gr", "pw-123456", "clerk", "technical", admin_id=admin, idempotency_key="key-1234"
    )
    again = app.create_staff(
        "c@dimos.gr", "pw-654321", "clerk", "technical", admin_id=admin, idempotency_key="key-1234"
    )
    assert again.result == first.result
    # Another admin's key of the same value is another command: the address is taken.
    with pytest.raises(EmailTaken):
        app.create_staff(
            "c@dimos.gr",
            "pw-123456",
            "clerk",
            "technical",
            admin_id=other_admin,
            idempotency_key="key-1234",
        )


def test_id4_bootstrap_admin_is_idempotent(app):
    first = app.bootstrap_admin("admin@dimos.gr", "secret-pw")
    assert first is not None
    assert app.bootstrap_admin("Admin@dimos.gr", "other") is None
    assert app.get_user(first).role == "admin"


def test_id2_profile_update_and_validation(app):
    business = user_id(app.register("business", "b@example.gr", "pw-123456"))
    with pytest.raises(ProfileInvalid):
        app.update_profile(business, {"legal_name": "ΑΒΓ", "afm": "123456789"})
    written = app.update_profile(business, {"legal_name": "ΑΒΓ", "afm": "090000045"})
    assert written.result.profile["afm"] == "090000045"
    assert app.get_user(business).profile["afm"] == "090000045"


def test_id3_verify_records_the_clerk_and_metadata(app):
    citizen = user_id(app.register("citizen", "m@example.gr", "pw-123456"))
    clerk = uuid4()
    app.verify(citizen, "identity_card", "AK1", clerk)
    assert app.get_user(citizen).verification["verified_by"] == str(clerk)
    app.revoke_verification(citizen, "expired document", clerk)
    assert not app.get_user(citizen).verified
    stored = app.repository.event_store.get(citizen)
    assert all("actor" in event_metadata(e) for e in stored)


def test_id3_a_keyed_verification_repeated_records_nothing(app):
    citizen = user_id(app.register("citizen", "m@example.gr", "pw-123456"))
    clerk = uuid4()
    first = app.verify(citizen, "identity_card", "AK1", clerk, "key-verify-1")
    again = app.verify(citizen, "identity_card", "AK1", clerk, "key-verify-1")
    assert again.result == first.result and again.position is None
    assert sum(isinstance(e, User.Verified) for e in app.events.get(citizen)) == 1
    with pytest.raises(UserAlreadyVerified):
        app.verify(citizen, "identity_card", "AK1", clerk)


def test_unknown_user_and_index_id_are_not_found(app):
    with pytest.raises(UserNotFound):
        app.get_user(uuid4())
    app.register("citizen", "m@example.gr", "pw-123456")
    with pytest.raises(UserNotFound):
        app.get_user(email_index_id("m@example.gr"))


def test_id1_log_out_records_the_token_id(app):
    citizen = user_id(app.register("citizen", "m@example.gr", "pw-123456"))
    expires_at = datetime.now(UTC) + timedelta(minutes=15)
    written = app.log_out(citizen, "jti-1", expires_at)
    assert written.position is not None
    revoked = [e for e in app.events.get(citizen) if isinstance(e, User.TokenRevoked)]
    assert [(e.jti, e.expires_at) for e in revoked] == [("jti-1", expires_at)]


def test_id4_token_claims(app, issuer, signing_key):
    clerk_id = user_id(app.create_staff("c@dimos.gr", "pw-123456", "clerk", "technical"))
    now = datetime.now(UTC)
    token = issuer.issue(app.get_user(clerk_id), now=now)
    assert jwt.get_unverified_header(token.access_token)["kid"] == issuer.kid
    claims = jwt.decode(
        token.access_token, signing_key.public_key(), algorithms=["ES256"], audience="portal"
    )
    assert claims["sub"] == str(clerk_id) and claims["role"] == "clerk"
    assert claims["department"] == "technical" and claims["iss"] == "portal-identity"
    assert claims["exp"] - claims["iat"] == 900
    assert token.expires_at - now == timedelta(seconds=900)
    assert issuer.jwks()["keys"][0]["kid"] == issuer.kid
    assert asyncio.run(issuer.verifier().authenticate(token.access_token)).user_id == clerk_id
