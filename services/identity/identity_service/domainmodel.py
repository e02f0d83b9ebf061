"""Identity's aggregates: the User and the e-mail index that keeps e-mail addresses unique.

Every aggregate and event has an explicit, stable TOPIC (history must survive renames, DESIGN).
Events are declared as classes with `apply` rather than through `@event` so that one aggregate can
have two ways of being created (self-registration and staff creation) with their own topics.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from eventsourcing.domain import Aggregate
from portal_web.text import clean_email

Kind = Literal["citizen", "business", "staff"]
Role = Literal["citizen", "business", "clerk", "auditor", "admin"]
STAFF_ROLES: tuple[str, ...] = ("clerk", "auditor", "admin")

# SPEC ID-2: the fields a profile needs to be complete, per kind of user.
CITIZEN_REQUIRED = (
    "first_name",
    "last_name",
    "father_name",
    "date_of_birth",
    "afm",
    "id_document_number",
    "address",
    "phone",
)
BUSINESS_REQUIRED = ("legal_name", "afm", "address", "representative")
PROFILE_FIELDS: dict[str, tuple[str, ...]] = {
    "citizen": CITIZEN_REQUIRED,
    "business": BUSINESS_REQUIRED,
}

AFM_INVALID = "Μη έγκυρος ΑΦΜ: 9 ψηφία με σωστό ψηφίο ελέγχου (invalid tax id: check digit)"
AFM_REQUIRED = "Ο ΑΦΜ είναι υποχρεωτικός για επιχειρήσεις (tax id required for businesses)"

# Fixed namespace: the index id of an e-mail address must be the same in every process, forever.
EMAIL_INDEX_NAMESPACE = uuid.UUID("3d0c7b0e-9f1a-4c55-8d2e-6a4b1f7e2c90")


class IdentityError(Exception):
    """Base of identity's domain exceptions (api.ERRORS answers each with an HTTP status)."""


class UserNotFound(IdentityError):
    """No user has this id (or the id is not a user's)."""


class EmailTaken(IdentityError):
    """Another account already has this address (in its canonical form)."""


class ProfileInvalid(IdentityError):
    """A profile field (or a staff account's department) is not acceptable; names the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class CommandNotApplicable(IdentityError):
    """The command makes no sense for this user (e.g. verifying a staff account)."""


class UserAlreadyVerified(IdentityError):
    """A verification is recorded already; revoke it before recording another."""


class UserNotVerified(IdentityError):
    """There is no verification to revoke."""


class CredentialsInvalid(IdentityError):
    """Log-in refused: unknown address or wrong password (deliberately not saying which)."""


class LoginThrottled(IdentityError):
    """Too many failed log-ins for the account or the client address (SPEC ID-1, expected)."""

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(f"try again in {retry_after_seconds} s")
        self.retry_after_seconds = retry_after_seconds


def afm_is_valid(afm: str) -> bool:
    """Greek tax id (ΑΦΜ) check: 9 digits; the sum of d_i * 2^(8-i) over the first 8 digits,
    mod 11, mod 10, equals the 9th digit. All zeros passes the arithmetic but is not an ΑΦΜ."""
    if len(afm) != 9 or not afm.isascii() or not afm.isdigit() or afm == "0" * 9:
        return False
    total = sum(int(d) * 2 ** (8 - i) for i, d in enumerate(afm[:8]))
    return total % 11 % 10 == int(afm[8])


def normalise_email(email: str) -> str:
    """The canonical form of an address (NFKC, casefolded, trimmed): the very function behind
    the API's `Email` type, so that the address an account is stored and indexed under is the
    one a look-alike ("ＭＡRIA@example.gr") is compared with. ValueError if not an address."""
    return clean_email(email)


def email_index_id(email: str) -> uuid.UUID:
    return uuid.uuid5(EMAIL_INDEX_NAMESPACE, normalise_email(email))


def clean_profile(kind: str, profile: dict[str, Any]) -> dict[str, str]:
    """The stored form of a profile: known fields only, stripped, blanks dropped; ΑΦΜ checked.

    Raises ProfileInvalid for an unknown kind of field, a bad ΑΦΜ, or a business without ΑΦΜ.
    """
    allowed = PROFILE_FIELDS.get(kind)
    if allowed is None:
        raise CommandNotApplicable("staff accounts have no citizen or business profile")
    cleaned: dict[str, str] = {}
    for name, value in profile.items():
        if name not in allowed:
            raise ProfileInvalid(name, f"unknown field for a {kind} profile")
        text = str(value).strip() if value is not None else ""
        if text:
            cleaned[name] = text
    afm = cleaned.get("afm")
    if afm is not None and not afm_is_valid(afm):
        raise ProfileInvalid("afm", AFM_INVALID)
    if kind == "business" and afm is None:
        raise ProfileInvalid("afm", AFM_REQUIRED)
    return cleaned


def is_profile_complete(kind: str, profile: dict[str, str]) -> bool:
    required = PROFILE_FIELDS.get(kind)
    return required is not None and all(profile.get(name) for name in required)


def display_name(kind: str, profile: dict[str, str]) -> str | None:
    if kind == "business":
        return profile.get("legal_name")
    names = [profile.get("first_name"), profile.get("last_name")]
    return " ".join(n for n in names if n) or None


class User(Aggregate):
    """A person or business that uses the portal, or a member of staff (SPEC ID-1..ID-4)."""

    TOPIC = "identity:User"

    kind: str
    role: str
    email: str
    password_hash: str
    department: str | None
    profile: dict[str, str]
    verification: dict[str, Any] | None

    class Event(Aggregate.Event):
        TOPIC = "identity:User.Event"

    class Registered(Aggregate.Created):
        """A citizen or business registered themselves (ID-1)."""

        TOPIC = "identity:User.Registered"
        kind: str
        email: str
        password_hash: str

    class StaffCreated(Aggregate.Created):
        """An admin created a clerk, auditor or admin (ID-4), or the admin was bootstrapped."""

        TOPIC = "identity:User.StaffCreated"
        email: str
        password_hash: str
        role: str
        department: str | None

    class ProfileUpdated(Aggregate.Event):
        """The profile was replaced (ID-2). `kind` and `profile_complete` are recorded as they
        were at the time so that the event can be published without reading the aggregate."""

        TOPIC = "identity:User.ProfileUpdated"
        kind: str
        profile: dict[str, str]
        profile_complete: bool

        def apply(self, aggregate: User) -> None:
            aggregate.profile = dict(self.profile)

    class Verified(Aggregate.Event):
        """A clerk saw the person (or the company's representative) with documents (ID-3)."""

        TOPIC = "identity:User.Verified"
        document_type: str
        document_number: str
        verified_by: str

        def apply(self, aggregate: User) -> None:
            aggregate.verification = {
                "document_type": self.document_type,
                "document_number": self.document_number,
                "verified_by": self.verified_by,
                "verified_at": self.timestamp.isoformat(),
            }

    class VerificationRevoked(Aggregate.Event):
        TOPIC = "identity:User.VerificationRevoked"
        reason: str
        revoked_by: str

        def apply(self, aggregate: User) -> None:
            aggregate.verification = None

    class TokenRevoked(Aggregate.Event):
        """The user logged out: the token's id is refused by identity until it expires."""

        TOPIC = "identity:User.TokenRevoked"
        jti: str
        expires_at: datetime

        def apply(self, aggregate: User) -> None:
            pass

    def __init__(
        self,
        email: str,
        password_hash: str,
        kind: str = "staff",
        role: str | None = None,
        department: str | None = None,
    ) -> None:
        # Both creation events land here: Registered gives a kind, StaffCreated a role.
        self.kind = kind
        self.role = role or kind
        self.email = email
        self.password_hash = password_hash
        self.department = department
        self.profile = {}
        self.verification = None

    @classmethod
    def register(cls, kind: str, email: str, password_hash: str) -> User:
        if kind not in PROFILE_FIELDS:
            raise CommandNotApplicable(f"cannot self-register as {kind!r}")
        return cls._create(
            cls.Registered, kind=kind, email=normalise_email(email), password_hash=password_hash
        )

    @classmethod
    def create_staff(
        cls, email: str, password_hash: str, role: str, department: str | None
    ) -> User:
        if role not in STAFF_ROLES:
            raise CommandNotApplicable(f"{role!r} is not a staff role")
        if role == "clerk" and not department:
            raise ProfileInvalid("department", "a clerk belongs to a department")
        return cls._create(
            cls.StaffCreated,
            email=normalise_email(email),
            password_hash=password_hash,
            role=role,
            department=department if role == "clerk" else None,
        )

    @property
    def verified(self) -> bool:
        return self.verification is not None

    @property
    def profile_complete(self) -> bool:
        return is_profile_complete(self.kind, self.profile)

    def update_profile(self, profile: dict[str, Any]) -> None:
        cleaned = clean_profile(self.kind, profile)
        self.trigger_event(
            self.ProfileUpdated,
            kind=self.kind,
            profile=cleaned,
            profile_complete=is_profile_complete(self.kind, cleaned),
        )

    def verify(self, document_type: str, document_number: str, clerk_id: str) -> None:
        if self.kind == "staff":
            raise CommandNotApplicable("staff accounts are not verified in person")
        if self.verified:
            raise UserAlreadyVerified("the user is already verified")
        self.trigger_event(
            self.Verified,
            document_type=document_type,
            document_number=document_number,
            verified_by=clerk_id,
        )

    def revoke_verification(self, reason: str, clerk_id: str) -> None:
        if not self.verified:
            raise UserNotVerified("the user is not verified")
        self.trigger_event(self.VerificationRevoked, reason=reason, revoked_by=clerk_id)

    def revoke_token(self, jti: str, expires_at: datetime) -> None:
        self.trigger_event(self.TokenRevoked, jti=jti, expires_at=expires_at)


class EmailIndex(Aggregate):
    """Claims an e-mail address for one user. Its id is derived from the address, so a second
    registration with the same address collides on version 1 when both are saved (ID-1)."""

    TOPIC = "identity:EmailIndex"

    class Created(Aggregate.Created):
        TOPIC = "identity:EmailIndex.Created"
        user_id: uuid.UUID

    def __init__(self, user_id: uuid.UUID) -> None:
        self.user_id = user_id

    @classmethod
    def claim(cls, email: str, user_id: uuid.UUID) -> EmailIndex:
        return cls._create(cls.Created, id=email_index_id(email), user_id=user_id)
