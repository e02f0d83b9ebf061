"""Identity's public events (SPEC ID-4: other services learn from them, never by calling)."""

from datetime import UTC, datetime
from uuid import uuid4

from identity_service.domainmodel import EmailIndex, User
from identity_service.main import service
from portal_events.contracts import (
    PasswordChangedV1,
    ProfileUpdatedV1,
    StaffUpdatedV1,
    UserDisabledV1,
    UserEnabledV1,
    UserRegisteredV1,
    UserVerifiedV1,
    VerificationRevokedV1,
)
from portal_events.topics import IDENTITY_USER_EVENTS


def _published(*aggregates):
    """(topic, contract) as the relay publishes them for the aggregates' new events, in order."""
    return [pair for a in aggregates for e in a.collect_events() for pair in service.translate(e)]


def test_id4_user_lifecycle_is_published_on_the_user_topic():
    clerk = str(uuid4())
    user = User.register("business", "b@example.gr", "hash")
    user.update_profile(
        {"legal_name": "ΑΒΓ ΑΕ", "afm": "090000045", "address": "Α 1", "representative": "Ν"}
    )
    user.verify("company_documents", "ΓΕΜΗ 1", clerk)
    user.revoke_verification("expired", clerk)
    published = _published(user)
    assert {topic for topic, _ in published} == {IDENTITY_USER_EVENTS}
    registered, profile, verified, revoked = (contract for _, contract in published)
    assert isinstance(registered, UserRegisteredV1) and registered.kind == "business"
    assert registered.user_id == user.id and registered.email == "b@example.gr"
    assert isinstance(profile, ProfileUpdatedV1)
    assert profile.afm == "090000045" and profile.display_name == "ΑΒΓ ΑΕ"
    assert profile.profile_complete is True and profile.kind == "business"
    assert isinstance(verified, UserVerifiedV1) and str(verified.verified_by) == clerk
    assert isinstance(revoked, VerificationRevokedV1) and revoked.reason == "expired"


def test_id4_private_events_are_not_published():
    staff = User.create_staff("c@dimos.gr", "hash", "clerk", "technical")
    staff.revoke_token("jti-1", datetime.now(UTC))
    index = EmailIndex.claim("c@dimos.gr", staff.id)
    assert _published(staff, index) == []


def test_id4_account_management_is_published_with_the_admin_and_never_a_password_hash():
    """issue 6: the other services refuse tokens from these (UserDisabled, UserEnabled,
    PasswordChanged, StaffUpdated); ASVS 5.0 V7.4.2."""
    admin = uuid4()
    clerk = User.create_staff("c@dimos.gr", "hash", "clerk", "technical")
    clerk.collect_events()
    clerk.disable("left the job", str(admin))
    clerk.enable(str(admin))
    clerk.change_password("new-hash")
    clerk.update_staff(None, "sanitation", str(admin))
    published = _published(clerk)
    assert {topic for topic, _ in published} == {IDENTITY_USER_EVENTS}
    disabled, enabled, changed, updated = (contract for _, contract in published)
    assert isinstance(disabled, UserDisabledV1) and disabled.disabled_by == admin
    assert disabled.reason == "left the job" and disabled.user_id == clerk.id
    assert isinstance(enabled, UserEnabledV1) and enabled.enabled_by == admin
    assert isinstance(changed, PasswordChangedV1) and "hash" not in changed.model_dump_json()
    assert isinstance(updated, StaffUpdatedV1) and updated.updated_by == admin
    assert (updated.role, updated.department) == ("clerk", "sanitation")
