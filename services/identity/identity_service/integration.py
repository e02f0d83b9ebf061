"""Identity's public events: private domain events translated to the contracts other services
consume (SPEC ID-4: they learn registration, completeness and verification from these, never by
calling identity; and from disabling, enabling, password change and staff update which tokens to
refuse before they expire, ASVS 5.0 V7.4.2). Staff creation, log-out and the e-mail index stay
private; a password hash never leaves identity."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from portal_events.contracts import (
    Contract,
    PasswordChangedV1,
    ProfileUpdatedV1,
    StaffUpdatedV1,
    UserDisabledV1,
    UserEnabledV1,
    UserRegisteredV1,
    UserVerifiedV1,
    VerificationRevokedV1,
)

from identity_service.domainmodel import User, display_name


def _registered(event: User.Registered) -> UserRegisteredV1:
    return UserRegisteredV1(
        user_id=event.originator_id,
        kind=event.kind,
        email=event.email,
        registered_at=event.timestamp,
    )


def _profile_updated(event: User.ProfileUpdated) -> ProfileUpdatedV1:
    return ProfileUpdatedV1(
        user_id=event.originator_id,
        kind=event.kind,
        afm=event.profile.get("afm"),
        display_name=display_name(event.kind, event.profile),
        profile_complete=event.profile_complete,
    )


def _verified(event: User.Verified) -> UserVerifiedV1:
    return UserVerifiedV1(
        user_id=event.originator_id,
        document_type=event.document_type,
        verified_by=UUID(event.verified_by),
        verified_at=event.timestamp,
    )


def _verification_revoked(event: User.VerificationRevoked) -> VerificationRevokedV1:
    return VerificationRevokedV1(
        user_id=event.originator_id,
        reason=event.reason,
        revoked_by=UUID(event.revoked_by),
        revoked_at=event.timestamp,
    )


def _disabled(event: User.Disabled) -> UserDisabledV1:
    return UserDisabledV1(
        user_id=event.originator_id,
        reason=event.reason,
        disabled_by=UUID(event.disabled_by),
        disabled_at=event.timestamp,
    )


def _enabled(event: User.Enabled) -> UserEnabledV1:
    return UserEnabledV1(
        user_id=event.originator_id, enabled_by=UUID(event.enabled_by), enabled_at=event.timestamp
    )


def _password_changed(event: User.PasswordChanged) -> PasswordChangedV1:
    return PasswordChangedV1(user_id=event.originator_id, changed_at=event.timestamp)


def _staff_updated(event: User.StaffUpdated) -> StaffUpdatedV1:
    return StaffUpdatedV1(
        user_id=event.originator_id,
        role=event.role,
        department=event.department,
        updated_by=UUID(event.updated_by),
        updated_at=event.timestamp,
    )


PUBLIC_EVENTS: dict[type[Any], Callable[[Any], Contract | None]] = {
    User.Registered: _registered,
    User.ProfileUpdated: _profile_updated,
    User.Verified: _verified,
    User.VerificationRevoked: _verification_revoked,
    User.Disabled: _disabled,
    User.Enabled: _enabled,
    User.PasswordChanged: _password_changed,
    User.StaffUpdated: _staff_updated,
}
"""Domain event class -> its public contract; main.py publishes them on identity.user.events."""
