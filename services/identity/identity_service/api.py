"""Identity's HTTP API under /identity (SPEC ID-1..ID-4). Routes that call the Application are
plain `def` (the library is synchronous); auth dependencies come from portal_web."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import structlog
from fastapi import APIRouter, Depends, Form, Path, Query, Request, Response
from portal_web import (
    ApiError,
    CurrentPrincipal,
    Principal,
    error_responses,
    require_roles,
)
from pydantic import BaseModel, ConfigDict, Field

from identity_service.application import IdentityApplication, TokenIssuer, Written
from identity_service.domainmodel import (
    AlreadyVerified,
    EmailTaken,
    IdentityError,
    InvalidProfile,
    NotApplicable,
    NotVerified,
    User,
    UserNotFound,
    normalise_email,
)
from identity_service.views import LoginThrottle, UserRow, UsersView

log = structlog.get_logger()

router = APIRouter(prefix="/identity", tags=["identity"])

EMAIL = Field(
    max_length=254,
    pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
    description="E-mail address; also the login name (case-insensitive)",
    examples=["maria@example.gr"],
)
PASSWORD = Field(
    min_length=8,
    max_length=128,
    description="Password, 8 to 128 characters; stored only as an argon2id hash",
    examples=["s3cret-pw"],
)
USER_ID = Field(
    description="The user's id (as returned at registration)",
    examples=["5f0c3c1e-8a4f-4a43-9d0b-2f6f3a9d7c11"],
)
UserId = Annotated[
    UUID,
    Path(
        description="The user's id (from `GET /identity/users`)",
        examples=["5f0c3c1e-8a4f-4a43-9d0b-2f6f3a9d7c11"],
    ),
]
LIFETIME_NOTE = (
    "Tokens are short-lived (TOKEN_TTL_SECONDS, default 15 minutes). Logout makes identity itself "
    "refuse the token at once; other services verify tokens locally and accept them until expiry."
)


# --- wiring --------------------------------------------------------------------------------------


def _identity(request: Request) -> IdentityApplication:
    return request.app.state.identity


def _view(request: Request) -> UsersView:
    return request.app.state.users.view


Identity = Annotated[IdentityApplication, Depends(_identity)]
View = Annotated[UsersView, Depends(_view)]


def _settled(request: Request, written: Written) -> None:
    """Read-your-writes: wait (briefly) until the read model has the write, then answer anyway."""
    request.app.state.users.wait(
        written.position, timeout=request.app.state.settings.projection_wait_seconds
    )


async def active_principal(request: Request, principal: CurrentPrincipal) -> Principal:
    """The caller, unless they logged out with this token (identity's own routes check it)."""
    view = _view(request)
    if principal.token_id and await asyncio.to_thread(view.is_revoked, principal.token_id):
        raise ApiError(401, "invalid_token", "The access token was revoked (logged out).")
    return principal


Me = Annotated[Principal, Depends(active_principal)]
Admin = Annotated[Principal, Depends(require_roles("admin"))]
Clerk = Annotated[Principal, Depends(require_roles("clerk"))]
Staff = Annotated[Principal, Depends(require_roles("clerk", "auditor", "admin"))]

_ERRORS: dict[type[IdentityError], tuple[int, str, str]] = {
    UserNotFound: (404, "not_found", "Ο χρήστης δεν βρέθηκε (user not found)."),
    EmailTaken: (409, "email_taken", "Το e-mail χρησιμοποιείται ήδη (e-mail already registered)."),
    AlreadyVerified: (409, "already_verified", "Ο χρήστης είναι ήδη πιστοποιημένος."),
    NotVerified: (409, "not_verified", "Ο χρήστης δεν είναι πιστοποιημένος."),
    NotApplicable: (409, "not_applicable", "Η ενέργεια δεν αφορά αυτόν τον λογαριασμό."),
}


@contextmanager
def domain_errors() -> Iterator[None]:
    """Map the domain's exceptions to the shared error shape."""
    try:
        yield
    except InvalidProfile as exc:
        raise ApiError(
            422, "invalid_input", exc.message, [{"field": exc.field, "problem": exc.message}]
        ) from exc
    except IdentityError as exc:
        status, code, message = _ERRORS[type(exc)]
        raise ApiError(status, code, message, str(exc) or None) from exc


# --- models --------------------------------------------------------------------------------------


class RegisterIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"kind": "citizen", "email": "maria@example.gr", "password": "s3cret-pw"}]
        }
    )
    kind: Literal["citizen", "business"] = Field(description="Natural person or business")
    email: str = EMAIL
    password: str = PASSWORD


class CreatedUser(BaseModel):
    user_id: UUID = Field(
        description="The new account's id", examples=["5f0c3c1e-8a4f-4a43-9d0b-2f6f3a9d7c11"]
    )


class TokenOut(BaseModel):
    access_token: str = Field(
        description="ES256-signed JWT; send it as `Authorization: Bearer <token>`",
        examples=["eyJhbGciOiJFUzI1NiIsImtpZCI6Ii4uLiJ9.eyJzdWIiOiIuLi4ifQ.c2lnbmF0dXJl"],
    )
    token_type: Literal["bearer"] = Field(
        "bearer",
        description="Always `bearer` (OAuth2 token type)",
        examples=["bearer"],
    )
    expires_in: int = Field(description="Seconds until the token expires", examples=[900])


class ProfileIn(BaseModel):
    """Citizens: first_name … phone; businesses: legal_name, afm (required), address,
    representative. Fields that do not belong to the caller's kind are rejected (422)."""

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
    first_name: str | None = Field(None, max_length=100, description="Όνομα")
    last_name: str | None = Field(None, max_length=100, description="Επώνυμο")
    father_name: str | None = Field(None, max_length=100, description="Πατρώνυμο")
    date_of_birth: date | None = Field(None, description="Ημερομηνία γέννησης")
    afm: str | None = Field(None, max_length=9, description="ΑΦΜ: 9 digits, check digit valid")
    id_document_number: str | None = Field(None, max_length=30, description="Αρ. ταυτότητας")
    address: str | None = Field(None, max_length=200, description="Διεύθυνση")
    phone: str | None = Field(None, max_length=30, description="Τηλέφωνο")
    legal_name: str | None = Field(None, max_length=200, description="Επωνυμία (businesses)")
    representative: str | None = Field(None, max_length=200, description="Εκπρόσωπος")


class Verification(BaseModel):
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


class UserOut(BaseModel):
    user_id: UUID = USER_ID
    kind: Literal["citizen", "business", "staff"] = Field(
        description="Natural person, business, or municipality staff", examples=["citizen"]
    )
    email: str = Field(
        description="E-mail address; also the login name", examples=["maria@example.gr"]
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
    verification: Verification | None = Field(
        None, description="The in-person verification, while verified; null otherwise"
    )

    @classmethod
    def of(cls, user: User) -> UserOut:
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
        )


class StaffIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "email": "clerk@dimos.gr",
                    "password": "s3cret-pw",
                    "role": "clerk",
                    "department": "technical_services",
                }
            ]
        }
    )
    email: str = EMAIL
    password: str = PASSWORD
    role: Literal["clerk", "auditor", "admin"] = Field(
        description="clerk: works a department's inbox; auditor: reads everything; admin: all",
        examples=["clerk"],
    )
    department: str | None = Field(
        None,
        max_length=100,
        description="Required for clerks (their inbox)",
        examples=["citizen_services"],
    )


class UserSummary(BaseModel):
    """One line of a user search (SPEC ID-4)."""

    user_id: UUID = USER_ID
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
    registered_at: datetime = Field(
        description="When the account was created (UTC)", examples=["2026-03-01T09:00:00Z"]
    )

    @classmethod
    def of(cls, row: UserRow) -> UserSummary:
        return cls(**vars(row))


class UserPage(BaseModel):
    """A page of search results."""

    items: list[UserSummary] = Field(description="The users on this page")
    total: int = Field(description="How many users match, over all pages", examples=[42])
    limit: int = Field(description="The page size asked for", examples=[20])
    offset: int = Field(description="How many matches were skipped", examples=[0])


class VerificationIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"document_type": "identity_card", "document_number": "ΑΚ 123456"}]
        }
    )
    document_type: str = Field(
        min_length=1,
        max_length=50,
        description="Document shown in person, e.g. identity_card, passport, company_documents",
    )
    document_number: str = Field(
        min_length=1,
        max_length=50,
        description="The number of the document shown",
        examples=["ΑΚ 123456"],
    )


class RevocationIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"reason": "Το έγγραφο είχε λήξει (expired document)"}]}
    )
    reason: str = Field(
        min_length=1,
        max_length=500,
        description="Why the verification is revoked (kept in the history)",
        examples=["Το έγγραφο είχε λήξει (expired document)"],
    )


# --- routes --------------------------------------------------------------------------------------


@router.post(
    "/users",
    status_code=201,
    response_model=CreatedUser,
    responses=error_responses(409, 422),
    summary="Register as a citizen or business (SPEC ID-1)",
)
def register(body: RegisterIn, request: Request, identity: Identity) -> CreatedUser:
    """SPEC ID-1. Passwords are stored as argon2id hashes. 409 if the e-mail is registered."""
    with domain_errors():
        written = identity.register(body.kind, body.email, body.password)
    _settled(request, written)
    return CreatedUser(user_id=written.user_id)


def client_address(request: Request) -> str:
    """The caller's address: the hop our gateway appended to X-Forwarded-For (the leftmost ones
    are whatever the client claimed), else X-Real-IP, else the TCP peer."""
    forwarded = request.headers.get("x-forwarded-for", "")
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    if hops:
        return hops[-1][:64]
    real_ip = request.headers.get("x-real-ip", "").strip()
    if real_ip:
        return real_ip[:64]
    return request.client.host if request.client else "unknown"


@router.post(
    "/token",
    response_model=TokenOut,
    responses=error_responses(401, 422, 429),
    summary="Log in: exchange e-mail and password for an access token (SPEC ID-1)",
    description=(
        "SPEC ID-1. OAuth2 password form (`username` = e-mail). The same 401 for an unknown "
        "e-mail and a wrong password. After 5 failures per account or 20 per client address in "
        "15 minutes: 429 with Retry-After. " + LIFETIME_NOTE
    ),
)
def token(
    request: Request,
    identity: Identity,
    username: Annotated[
        str, Form(max_length=254, description="E-mail", examples=["maria@example.gr"])
    ],
    password: Annotated[
        str, Form(max_length=128, description="The account's password", examples=["s3cret-pw"])
    ],
    grant_type: Annotated[
        str | None,
        Form(
            pattern="^password$",
            description="OAuth2 grant type: `password` or omitted",
            examples=["password"],
        ),
    ] = None,
) -> TokenOut:
    throttle: LoginThrottle = request.app.state.login_throttle
    account, address = normalise_email(username), client_address(request)
    wait = throttle.retry_after(account, address)
    if wait is not None:
        raise ApiError(
            429,
            "too_many_failed_logins",
            "Πολλές αποτυχημένες προσπάθειες· δοκιμάστε αργότερα (too many failed logins).",
            headers={"Retry-After": str(wait)},
        )
    user = identity.authenticate(account, password)
    if user is None:
        throttle.record_failure(account, address)
        raise ApiError(
            401, "invalid_credentials", "Λάθος e-mail ή κωδικός (wrong e-mail or password)."
        )
    throttle.forget_account(account)
    issuer: TokenIssuer = request.app.state.token_issuer
    issued = issuer.issue(user)
    return TokenOut(access_token=issued.access_token, expires_in=issued.expires_in)


@router.post(
    "/logout",
    status_code=204,
    responses=error_responses(401),
    summary="Log out: revoke this access token (SPEC ID-1)",
    description="SPEC ID-1. " + LIFETIME_NOTE,
)
def logout(request: Request, me: Me, identity: Identity) -> Response:
    expires_at = datetime.fromtimestamp(me.expires_at or 0, UTC)
    with domain_errors():
        written = identity.revoke_token(me.user_id, me.token_id or "", expires_at)
    _settled(request, written)
    return Response(status_code=204)


@router.get(
    "/me",
    response_model=UserOut,
    responses=error_responses(401),
    summary="The caller's account, profile, completeness and verification (SPEC ID-2, ID-3)",
)
def me(me: Me, identity: Identity) -> UserOut:
    """SPEC ID-2, ID-3, ID-4."""
    with domain_errors():
        return UserOut.of(identity.get_user(me.user_id))


@router.put(
    "/me/profile",
    response_model=UserOut,
    responses=error_responses(401, 409, 422),
    summary="Fill in or replace the caller's details (SPEC ID-2)",
)
def put_profile(body: ProfileIn, request: Request, me: Me, identity: Identity) -> UserOut:
    """SPEC ID-2. Replaces the whole profile; the ΑΦΜ check digit is validated (422 with the
    reason); businesses must give their ΑΦΜ. `profile_complete` is derived."""
    profile: dict[str, Any] = body.model_dump(exclude_none=True)
    if "date_of_birth" in profile:
        profile["date_of_birth"] = profile["date_of_birth"].isoformat()
    with domain_errors():
        written = identity.update_profile(me.user_id, profile)
        _settled(request, written)
        return UserOut.of(identity.get_user(me.user_id))


@router.post(
    "/staff",
    status_code=201,
    response_model=CreatedUser,
    responses=error_responses(401, 403, 409, 422),
    summary="Create a clerk, auditor or admin (admin only; SPEC ID-4)",
)
def create_staff(body: StaffIn, request: Request, admin: Admin, identity: Identity) -> CreatedUser:
    """SPEC ID-4. A clerk needs a department (422 without)."""
    with domain_errors():
        written = identity.create_staff(body.email, body.password, body.role, body.department)
    _settled(request, written)
    return CreatedUser(user_id=written.user_id)


@router.get(
    "/users",
    response_model=UserPage,
    responses=error_responses(401, 403, 422),
    summary="Search users by e-mail, name or ΑΦΜ (staff; SPEC ID-3, ID-4)",
)
def search_users(
    staff: Staff,
    view: View,
    q: Annotated[str | None, Query(max_length=100, description="Part of e-mail/name/ΑΦΜ")] = None,
    limit: Annotated[int, Query(ge=1, le=100, description="Page size (1-100)")] = 20,
    offset: Annotated[
        int, Query(ge=0, le=100_000, description="How many matches to skip (paging)")
    ] = 0,
) -> UserPage:
    """SPEC ID-4: clerks find the person in front of them to verify them (ID-3)."""
    rows, total = view.search(q, limit, offset)
    return UserPage(
        items=[UserSummary.of(r) for r in rows], total=total, limit=limit, offset=offset
    )


@router.post(
    "/users/{user_id}/verification",
    status_code=201,
    response_model=UserOut,
    responses=error_responses(401, 403, 404, 409, 422),
    summary="Record an in-person verification (clerk; SPEC ID-3)",
)
def verify_user(
    user_id: UserId, body: VerificationIn, request: Request, clerk: Clerk, identity: Identity
) -> UserOut:
    """SPEC ID-3: the person (or the company's representative) appeared with this document.
    409 if already verified or if the account is staff."""
    with domain_errors():
        written = identity.verify(user_id, body.document_type, body.document_number, clerk.user_id)
        _settled(request, written)
        return UserOut.of(identity.get_user(user_id))


@router.delete(
    "/users/{user_id}/verification",
    response_model=UserOut,
    responses=error_responses(401, 403, 404, 409, 422),
    summary="Revoke a verification, with a reason (clerk; SPEC ID-3)",
)
def revoke_verification(
    user_id: UserId, body: RevocationIn, request: Request, clerk: Clerk, identity: Identity
) -> UserOut:
    """SPEC ID-3 (expected). 409 if the user is not verified."""
    with domain_errors():
        written = identity.revoke_verification(user_id, body.reason, clerk.user_id)
        _settled(request, written)
        return UserOut.of(identity.get_user(user_id))


@router.get(
    "/.well-known/jwks.json",
    summary="Public keys that verify identity's tokens (JWKS)",
    description="Public and cacheable; every service verifies tokens locally with it (ID-4).",
)
def jwks(request: Request, response: Response) -> dict[str, Any]:
    response.headers["Cache-Control"] = "public, max-age=300"
    return request.app.state.token_issuer.jwks()
