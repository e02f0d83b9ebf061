"""Identity's public events: private domain events translated to the contracts other services
consume (SPEC ID-4: they learn registration, completeness and verification from these)."""

from __future__ import annotations

from functools import singledispatch
from typing import Any
from uuid import UUID

from portal_events.contracts import (
    IDENTITY_USER_EVENTS,
    Contract,
    ProfileUpdatedV1,
    UserRegisteredV1,
    UserVerifiedV1,
    VerificationRevokedV1,
)

from identity_service.domainmodel import User, display_name

Published = list[tuple[str, Contract]]


@singledispatch
def to_contracts(domain_event: Any) -> Published:
    """(topic, contract) pairs for one stored event; private events (staff creation, logout,
    the e-mail index) publish nothing."""
    return []


@to_contracts.register(User.Registered)
def _(event: User.Registered) -> Published:
    contract = UserRegisteredV1(
        user_id=event.originator_id,
        kind=event.kind,
        email=event.email,
        registered_at=event.timestamp,
    )
    return [(IDENTITY_USER_EVENTS, contract)]


@to_contracts.register(User.ProfileUpdated)
def _(event: User.ProfileUpdated) -> Published:
    contract = ProfileUpdatedV1(
        user_id=event.originator_id,
        kind=event.kind,
        afm=event.profile.get("afm"),
        display_name=display_name(event.kind, event.profile),
        profile_complete=event.profile_complete,
    )
    return [(IDENTITY_USER_EVENTS, contract)]


@to_contracts.register(User.Verified)
def _(event: User.Verified) -> Published:
    contract = UserVerifiedV1(
        user_id=event.originator_id,
        document_type=event.document_type,
        verified_by=UUID(event.verified_by),
        verified_at=event.timestamp,
    )
    return [(IDENTITY_USER_EVENTS, contract)]


@to_contracts.register(User.VerificationRevoked)
def _(event: User.VerificationRevoked) -> Published:
    contract = VerificationRevokedV1(
        user_id=event.originator_id,
        reason=event.reason,
        revoked_by=UUID(event.revoked_by),
        revoked_at=event.timestamp,
    )
    return [(IDENTITY_USER_EVENTS, contract)]
