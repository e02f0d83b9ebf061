"""Identity's request and response models (SPEC ID-1..ID-4), named as in every service:
`<Thing>Create` / `<Thing>Update` / `<Thing><Verb>` for what callers send, `<Thing>Public`,
`<Thing>Summary` and `<Thing>Created` for what they get back.

Every string a caller sends is a kit text type (`text(n)` or `Email`): NFC, no control
characters (422 naming the field), and e-mail addresses in their canonical form (NFKC +
casefold), so that a look-alike address is the address it imitates.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal
from uuid import UUID

from portal_events.departments import Department
from portal_web import Email, ListPage, text
from pydantic import BaseModel, ConfigDict, Field, model_validator

from identity_service.domainmodel import User

USER_ID_EXAMPLE = "5f0c3c1e-8a4f-4a43-9d0b-2f6f3a9d7c11"
Password = text(128, min_length=8, strip=False)


def _email(description: str) -> Any:
    return Field(description=description, examples=["maria@example.gr"])


def _password() -> Any:
    return Field(
        description="Password, 8 to 128 characters; stored only as an argon2id hash",
        examples=["s3cret-pw"],
    )


# --- registration and log-in (ID-1) ------------------------------------------------------------


class UserCreate(BaseModel):
    """A citizen or business registers (SPEC ID-1)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"kind": "citizen", "email": "maria@example.gr", "password": "s3cret-pw"}]
        }
    )
    kind: Literal["citizen", "business"] = Field(
        description="Natural person or business", examples=["citizen"]
    )
    email: Email = _email(
        "E-mail address; also the login name. Compared in its canonical form (case and "
        "look-alike characters do not make another address)"
    )
    password: Password = _password()


class UserCreated(BaseModel):
    """The answer to a registration or a staff creation."""

    user_id: UUID = Field(description="The new account's id", examples=[USER_ID_EXAMPLE])


class TokenCreate(BaseModel):
    """Log-in: the OAuth2 password form (`application/x-www-form-urlencoded`)."""

    username: Email = _email("The account's e-mail address")
    password: text(128, strip=False) = Field(
        description="The account's password", examples=["s3cret-pw"]
    )
    grant_type: Literal["password"] | None = Field(
        None, description="OAuth2 grant type: `password` or omitted", examples=["password"]
    )


class TokenPublic(BaseModel):
    """An access token (SPEC ID-1)."""

    access_token: str = Field(
        description="ES256-signed JWT; send it as `Authorization: Bearer <token>`",
        examples=["eyJhbGciOiJFUzI1NiIsImtpZCI6Ii4uLiJ9.eyJzdWIiOiIuLi4ifQ.c2lnbmF0dXJl"],
    )
    token_type: Literal["bearer"] = Field(
        "bearer", description="Always `bearer` (OAuth2 token type)", examples=["bearer"]
    )
    expires_in: int = Field(description="Seconds until the token expires", examples=[900])


class PasswordChange(BaseModel):
    """The user changes their password, giving the current one (SPEC ID-1; ASVS 5.0 V6.2.3)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"current_password": "s3cret-pw", "new_password": "a-longer-passphrase"}]
        }
    )
    current_password: text(128, strip=False) = Field(
        description="The password the account has now", examples=["s3cret-pw"]
    )
    new_password: Password = Field(
        description="The new password, 8 to 128 characters (longer is better); stored only as "
        "an argon2id hash",
        examples=["a-longer-passphrase"],
    )


# --- the account and its profile (ID-2, ID-3) --------------------------------------------------


class ProfileUpdate(BaseModel):
    """Citizens: first_name … phone; businesses: legal_name, afm (required), address,
    representative. Fields that do not belong to the caller's kind are rejected (422); blank
    fields count as not given."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "first_name": "Μαρία",
                    "last_name": "Παπαδοπούλου",
                    "father_name": "Γεώργιος",
                    "date_of_birth": "1980-05-17",
                    "afm": "090000045",
                    "id_document_number": "ΑΚ 123456",
                    "address": "Ερμού 1, 10563 Αθήνα",
                    "phone": "+30 210 1234567",
                },
                {
                    "legal_name": "ΑΒΓ Τεχνική ΑΕ",
                    "afm": "094014201",
                    "address": "Πειραιώς 10, Αθήνα",
                    "representative": "Νίκος Νικολάου",
                },
            ]
        },
    )
    first_name: text(100, min_length=0) | None = Field(None, description="Όνομα")
    last_name: text(100, min_length=0) | None = Field(None, description="Επώνυμο")
    father_name: text(100, min_length=0) | None = Field(None, description="Πατρώνυμο")
    date_of_birth: date | None = Field(None, description="Ημερομηνία γέννησης")
    afm: text(9, min_length=0) | None = Field(None, description="ΑΦΜ: 9 digits, check digit valid")
    id_document_number: text(30, min_length=0) | None = Field(None, description="Αρ. ταυτότητας")
    address: text(200, min_length=0) | None = Field(None, description="Διεύθυνση")
    phone: text(30, min_length=0) | None = Field(None, description="Τηλέφωνο")
    legal_name: text(200, min_length=0) | None = Field(None, description="Επωνυμία (businesses)")
    representative: text(200, min_length=0) | None = Field(
        None, description="Εκπρόσωπος (businesses)"
    )


class VerificationPublic(BaseModel):
    """An in-person verification by a clerk (SPEC ID-3)."""

    document_type: str = Field(
        description="Document shown in person", examples=["identity_card", "passport"]
    )
    document_number: str = Field(description="The document's number", examples=["ΑΚ 123456"])
    verified_by: UUID = Field(
        description="The clerk who verified", examples=["0b7e7d4a-6c1f-4a39-9f7a-3d2b1c0e9f88"]
    )
    verified_at: datetime = Field(
        description="When it was recorded (UTC)", examples=["2026-03-02T10:15:00Z"]
    )


class UserPublic(BaseModel):
    """One account as its holder (or a clerk) sees it (SPEC ID-2, ID-3, ID-4)."""

    user_id: UUID = Field(description="The account's id", examples=[USER_ID_EXAMPLE])
    kind: Literal["citizen", "business", "staff"] = Field(
        description="Natural person, business, or municipality staff", examples=["citizen"]
    )
    email: str = Field(
        description="E-mail address (canonical form); also the login name",
        examples=["maria@example.gr"],
    )
    roles: list[str] = Field(
        description="citizen, business, clerk, auditor or admin", examples=[["citizen"]]
    )
    department: str | None = Field(
        None,
        description="Clerks only: the department whose inbox they work",
        examples=["citizen_services"],
    )
    profile: dict[str, str] = Field(description="The details given so far (SPEC ID-2)")
    profile_complete: bool = Field(description="All fields this kind of user needs are present")
    verified: bool = Field(description="Verified in person by a clerk (SPEC ID-3)")
    verification: VerificationPublic | None = Field(
        None, description="The in-person verification, while verified; null otherwise"
    )
    disabled: bool = Field(
        description="Disabled by an admin: cannot log in, every token refused (SPEC ID-4)"
    )

    @classmethod
    def of(cls, user: User) -> UserPublic:
        return cls(
            user_id=user.id,
            kind=user.kind,
            email=user.email,
            roles=[user.role],
            department=user.department,
            profile=user.profile,
            profile_complete=user.profile_complete,
            verified=user.verified,
            verification=user.verification,
            disabled=user.disabled,
        )


# --- staff's work (ID-3, ID-4) -----------------------------------------------------------------


class StaffCreate(BaseModel):
    """An admin creates a member of staff (SPEC ID-4)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "email": "clerk@dimos.gr",
                    "password": "s3cret-pw",
                    "role": "clerk",
                    "department": "technical",
                }
            ]
        }
    )
    email: Email = _email("E-mail address; also the login name")
    password: Password = _password()
    role: Literal["clerk", "auditor", "admin"] = Field(
        description="clerk: works a department's inbox; auditor: reads everything; admin: all",
        examples=["clerk"],
    )
    department: text(100) | None = Field(
        None,
        description="Required for clerks (their inbox): a code from GET /identity/departments",
        examples=["citizen_services"],
    )


class StaffUpdate(BaseModel):
    """An admin changes a staff member's role, a clerk's department, or both (SPEC ID-4). The
    member's earlier tokens are refused (they carry the old role)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"department": "technical"}, {"role": "clerk", "department": "sanitation"}]
        }
    )
    role: Literal["clerk", "auditor", "admin"] | None = Field(
        None, description="The new role; unchanged if omitted", examples=["clerk"]
    )
    department: text(100) | None = Field(
        None,
        description="Clerks only: the new department, a code from GET /identity/departments; "
        "required when the role becomes clerk",
        examples=["technical"],
    )

    @model_validator(mode="after")
    def _something_to_change(self) -> StaffUpdate:
        if self.role is None and self.department is None:
            raise ValueError("give role, department or both")
        return self


class UserDisable(BaseModel):
    """An admin disables an account, saying why (SPEC ID-4; kept in the history)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"reason": "Αποχώρησε από την υπηρεσία (left the job)"}]}
    )
    reason: text(500) = Field(
        description="Why the account is disabled", examples=["Αποχώρησε από την υπηρεσία"]
    )


class DepartmentPublic(BaseModel):
    """A department of the municipality (the one catalogue every service routes with)."""

    code: str = Field(description="Stable code, used in every API", examples=["citizen_services"])
    name_el: str = Field(description="Name in Greek", examples=["Κέντρο Εξυπηρέτησης Πολιτών"])
    name_en: str = Field(description="Name in English", examples=["Citizen service centre"])

    @classmethod
    def of(cls, department: Department) -> DepartmentPublic:
        return cls(code=department.code, name_el=department.name_el, name_en=department.name_en)


class DepartmentPage(ListPage[DepartmentPublic]):
    """The department catalogue, in its own order."""


class UserSummary(BaseModel):
    """One line of a user search (SPEC ID-4)."""

    user_id: UUID = Field(description="The account's id", examples=[USER_ID_EXAMPLE])
    kind: str = Field(description="citizen, business or staff", examples=["citizen"])
    role: str = Field(
        description="citizen, business, clerk, auditor or admin", examples=["citizen"]
    )
    email: str = Field(description="E-mail address (login name)", examples=["maria@example.gr"])
    department: str | None = Field(
        description="Clerks only: their department", examples=["citizen_services"]
    )
    display_name: str | None = Field(
        description="Name from the profile (Επωνυμία for businesses); null if not given yet",
        examples=["Μαρία Παπαδοπούλου"],
    )
    afm: str | None = Field(description="ΑΦΜ, if given", examples=["090000045"])
    profile_complete: bool = Field(description="All fields this kind of user needs are present")
    verified: bool = Field(description="Verified in person by a clerk (SPEC ID-3)")
    disabled: bool = Field(description="Disabled by an admin (SPEC ID-4)")
    registered_at: datetime = Field(
        description="When the account was created (UTC)", examples=["2026-03-01T09:00:00Z"]
    )


class UserSummaryPage(ListPage[UserSummary]):
    """A page of a user search (SPEC ID-4), ordered by e-mail."""


class VerificationCreate(BaseModel):
    """A clerk records that the person appeared with a document (SPEC ID-3)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"document_type": "identity_card", "document_number": "ΑΚ 123456"}]
        }
    )
    document_type: text(50) = Field(
        description="Document shown in person, e.g. identity_card, passport, company_documents",
        examples=["identity_card"],
    )
    document_number: text(50) = Field(
        description="The number of the document shown", examples=["ΑΚ 123456"]
    )


class VerificationRevoke(BaseModel):
    """A clerk revokes a verification, saying why (SPEC ID-3)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"reason": "Το έγγραφο είχε λήξει (expired document)"}]}
    )
    reason: text(500) = Field(
        description="Why the verification is revoked (kept in the history)",
        examples=["Το έγγραφο είχε λήξει (expired document)"],
    )
