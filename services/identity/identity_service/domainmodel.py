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
from portal_events.departments import DEPARTMENTS
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


class OwnAccountProtected(IdentityError):
    """An admin may not disable their own account or change their own role: the portal must
    never be left without an admin by a slip of the admin's own hand."""


class CredentialsInvalid(IdentityError):
    """Log-in refused: unknown address or wrong password (deliberately not saying which)."""


class LoginThrottled(IdentityError):
    """Too many failed log-ins for the account or the client address (SPEC ID-1, expected)."""

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(f"try again in {retry_after_seconds} s")
        self.retry_after_seconds = retry_after_seconds


class PasswordIncorrect(IdentityError):
    """The current password given to change it is wrong (SPEC ID-1)."""


def check_department(role: str, department: str | None) -> str | None:
    """The department a member of staff with `role` keeps: a clerk's must be in the catalogue
    (ProfileInvalid naming `department` otherwise); other roles have none."""
    if role != "clerk":
        return None
    if not department:
        raise ProfileInvalid("department", "a clerk belongs to a department")
    if department not in DEPARTMENTS:
        raise ProfileInvalid(
            "department",
            f"{department!r} is not a department; see GET /identity/departments",
        )
    return department


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
    disabled: bool
    # Tokens issued at or before this instant are refused (password change, staff update,
    # disabling): self-contained tokens cannot be recalled, so their issue time is judged.
    tokens_valid_after: datetime | None

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

    class PasswordChanged(Aggregate.Event):
        """The user changed their password (ID-1): every earlier token is refused."""

        TOPIC = "identity:User.PasswordChanged"
        password_hash: str

        def apply(self, aggregate: User) -> None:
            aggregate.password_hash = self.password_hash
            aggregate.tokens_valid_after = self.timestamp

    class Disabled(Aggregate.Event):
        """An admin disabled the account (ID-4): no log-in, every token refused."""

        TOPIC = "identity:User.Disabled"
        reason: str
        disabled_by: str

        def apply(self, aggregate: User) -> None:
            aggregate.disabled = True
            aggregate.tokens_valid_after = self.timestamp

    class Enabled(Aggregate.Event):
        """An admin enabled the account again; tokens from before it was disabled stay
        refused (the user logs in afresh)."""

        TOPIC = "identity:User.Enabled"
        enabled_by: str

        def apply(self, aggregate: User) -> None:
            aggregate.disabled = False

    class StaffUpdated(Aggregate.Event):
        """An admin changed a staff member's role or a clerk's department (ID-4); earlier
        tokens carry the old role and department, so they are refused."""

        TOPIC = "identity:User.StaffUpdated"
        role: str
        department: str | None
        updated_by: str

        def apply(self, aggregate: User) -> None:
            aggregate.role = self.role
            aggregate.department = self.department
            aggregate.tokens_valid_after = self.timestamp

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
        self.disabled = False
        self.tokens_valid_after = None

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
        return cls._create(
            cls.StaffCreated,
            email=normalise_email(email),
            password_hash=password_hash,
            role=role,
            department=check_department(role, department),
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

    def change_password(self, password_hash: str) -> None:
        """The caller has checked the current password (Application.change_password)."""
        self.trigger_event(self.PasswordChanged, password_hash=password_hash)

    def disable(self, reason: str, admin_id: str) -> None:
        """Disabling a disabled account records nothing (a repeat is harmless)."""
        if admin_id == str(self.id):
            raise OwnAccountProtected("an admin cannot disable their own account")
        if not self.disabled:
            self.trigger_event(self.Disabled, reason=reason, disabled_by=admin_id)

    def enable(self, admin_id: str) -> None:
        """Enabling an enabled account records nothing."""
        if self.disabled:
            self.trigger_event(self.Enabled, enabled_by=admin_id)

    def update_staff(self, role: str | None, department: str | None, admin_id: str) -> None:
        """Change the role, the department, or both; the result must be a valid staff member
        (a clerk with a department of the catalogue). Nothing is recorded if nothing changes."""
        if self.kind != "staff":
            raise CommandNotApplicable("only staff accounts have a staff role")
        new_role = role or self.role
        if new_role not in STAFF_ROLES:
            raise CommandNotApplicable(f"{new_role!r} is not a staff role")
        if new_role != "clerk" and department is not None:
            raise ProfileInvalid("department", "only clerks belong to a department")
        new_department = check_department(new_role, department or self.department)
        if admin_id == str(self.id) and new_role != self.role:
            raise OwnAccountProtected("an admin cannot change their own role")
        if (new_role, new_department) != (self.role, self.department):
            self.trigger_event(
                self.StaffUpdated, role=new_role, department=new_department, updated_by=admin_id
            )


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
