"""Identity's public events: private domain events translated to the contracts other services
consume (SPEC ID-4: they learn registration, completeness and verification from these, never by
calling identity). Staff creation, log-out and the e-mail index stay private."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from portal_events.contracts import (
    Contract,
    ProfileUpdatedV1,
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


PUBLIC_EVENTS: dict[type[Any], Callable[[Any], Contract | None]] = {
    User.Registered: _registered,
    User.ProfileUpdated: _profile_updated,
    User.Verified: _verified,
    User.VerificationRevoked: _verification_revoked,
}
"""Domain event class -> its public contract; main.py publishes them on identity.user.events."""
