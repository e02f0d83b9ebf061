"""Identity's HTTP API under /identity (SPEC ID-1..ID-4): routes, their dependencies and the
table answering identity's domain errors. Routes call the Application (plain `def`: the library
is synchronous) and raise nothing HTTP-specific; the kit answers domain errors from `ERRORS`.
The two routes that check a password (log-in, password change) are `async`: the throttle's
progressive delay is an `asyncio.sleep`, and the Application's work runs in the threadpool, so
that a delayed answer never holds a worker thread.

Identity refuses a token at once when its holder logged out, changed their password, was
disabled or had their role changed (ASVS 5.0 V7.4.1, V7.4.2): `RevokedTokensView.refusal`,
which the kit consults for every route that takes a token.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Form, Path, Query, Request, Response
from portal_events.departments import DEPARTMENTS
from portal_events.projections import ReadModel
from portal_web import (
    Admin,
    AnyStaff,
    Clerk,
    CurrentPrincipal,
    ErrorTable,
    HttpError,
    IdempotencyKey,
    PagingParams,
    error_responses,
    text,
)
from portal_web.service import ServiceRuntime, application_of, read_model_of, resource_of
from starlette.concurrency import run_in_threadpool

from identity_service.application import IdentityApplication
from identity_service.domainmodel import (
    CommandNotApplicable,
    CredentialsInvalid,
    EmailTaken,
    LoginThrottled,
    OwnAccountProtected,
    PasswordIncorrect,
    ProfileInvalid,
    UserAlreadyVerified,
    UserNotFound,
    UserNotVerified,
    normalise_email,
)
from identity_service.schemas import (
    DepartmentPage,
    DepartmentPublic,
    PasswordChange,
    ProfileUpdate,
    StaffCreate,
    StaffUpdate,
    TokenCreate,
    TokenPublic,
    UserCreate,
    UserCreated,
    UserDisable,
    UserPublic,
    UserSummary,
    UserSummaryPage,
    VerificationCreate,
    VerificationRevoke,
)
from identity_service.throttle import PostgresThrottle, client_address
from identity_service.tokens import TokenIssuer
from identity_service.views import RevokedTokensView, UsersView

# The names under which main.py declares identity's resources.
ISSUER_RESOURCE = "token_issuer"
THROTTLE_RESOURCE = "login_throttle"

LIFETIME_NOTE = (
    "Tokens are short-lived (TOKEN_TTL_SECONDS, default 15 minutes). Identity refuses a token at "
    "once after logout, a password change, disabling or a role change; the other services learn "
    "of the last three from identity's events within seconds."
)
THROTTLE_NOTE = (
    "Throttled (ASVS 5.0 V6.3.1; defaults): after 5 failures for the account from one client "
    "address, or 30 from one address, in 15 minutes: 429 with Retry-After; the gateway also "
    "answers 429 to bursts. Failures for the account from anywhere slow its answers down (up to "
    "4 s) but never lock the owner out."
)

# --- dependencies ----------------------------------------------------------------------------

IdentityApp = Annotated[IdentityApplication, Depends(application_of)]
Users = Annotated[ReadModel[UsersView], read_model_of(UsersView)]
Issuer = Annotated[TokenIssuer, resource_of(ISSUER_RESOURCE)]
Throttle = Annotated[PostgresThrottle, resource_of(THROTTLE_RESOURCE)]
UserId = Annotated[
    UUID,
    Path(
        description="The user's id (from `GET /identity/users`)",
        examples=["5f0c3c1e-8a4f-4a43-9d0b-2f6f3a9d7c11"],
    ),
]
SearchText = Annotated[
    text(100, min_length=0) | None,
    Query(description="Part of the e-mail, name or ΑΦΜ; all users if empty", examples=["Μαρία"]),
]


async def caller_address(request: Request, runtime: ServiceRuntime) -> str:
    """The client's address as TRUSTED_PROXIES lets identity believe it (throttle.py)."""
    return client_address(
        request.client.host if request.client else None,
        request.headers.getlist("x-forwarded-for"),
        runtime.settings.trusted_proxy_networks,
    )


CallerAddress = Annotated[str, Depends(caller_address)]


# --- domain errors -> HTTP -------------------------------------------------------------------


ERRORS: ErrorTable = {
    UserNotFound: HttpError(404, "not_found", "Ο χρήστης δεν βρέθηκε (user not found).", str),
    EmailTaken: HttpError(
        409, "email_taken", "Το e-mail χρησιμοποιείται ήδη (e-mail already registered).", str
    ),
    UserAlreadyVerified: HttpError(
        409, "already_verified", "Ο χρήστης είναι ήδη πιστοποιημένος.", str
    ),
    UserNotVerified: HttpError(409, "not_verified", "Ο χρήστης δεν είναι πιστοποιημένος.", str),
    CommandNotApplicable: HttpError(
        409, "not_applicable", "Η ενέργεια δεν αφορά αυτόν τον λογαριασμό.", str
    ),
    ProfileInvalid: HttpError(
        422,
        "invalid_input",
        lambda exc: exc.message,
        lambda exc: [{"field": exc.field, "problem": exc.message}],
    ),
    OwnAccountProtected: HttpError(
        409, "own_account", "Ο διαχειριστής δεν μπορεί να το κάνει στον δικό του λογαριασμό.", str
    ),
    CredentialsInvalid: HttpError(
        401, "invalid_credentials", "Λάθος e-mail ή κωδικός (wrong e-mail or password)."
    ),
    PasswordIncorrect: HttpError(
        422,
        "invalid_input",
        "Ο τρέχων κωδικός δεν είναι σωστός (the current password is wrong).",
        lambda exc: [{"field": "current_password", "problem": str(exc)}],
    ),
    LoginThrottled: HttpError(
        429,
        "too_many_failed_logins",
        "Πολλές αποτυχημένες προσπάθειες· δοκιμάστε αργότερα (too many failed logins).",
        headers=lambda exc: {"Retry-After": str(exc.retry_after_seconds)},
    ),
}

# --- routes ----------------------------------------------------------------------------------

router = APIRouter(prefix="/identity", tags=["identity"])


@router.post(
    "/users",
    status_code=201,
    response_model=UserCreated,
    responses=error_responses(409, 422, 429),
    summary="Register as a citizen or business (SPEC ID-1)",
)
def register(
    body: UserCreate, identity: IdentityApp, runtime: ServiceRuntime, key: IdempotencyKey = None
) -> UserCreated:
    """SPEC ID-1. Passwords are stored as argon2id hashes. 409 `email_taken` if the address (in
    its canonical form: case and look-alike characters do not count) is registered.
    `Idempotency-Key`: the password is not part of the fingerprint (it is never stored in any
    fast hash), so a repeat with the same key and another password answers the first result.
    429 when the gateway's rate limit for registrations is exceeded."""
    written = identity.register(body.kind, body.email, body.password, key)
    runtime.settle(UsersView, written.position)
    return UserCreated.model_validate(written.result)


@router.post(
    "/token",
    response_model=TokenPublic,
    responses=error_responses(401, 422, 429),
    summary="Log in: exchange e-mail and password for an access token (SPEC ID-1)",
    description=(
        "SPEC ID-1. OAuth2 password form (`username` = e-mail). The same 401 for an unknown "
        "e-mail, a wrong password and a disabled account. " + THROTTLE_NOTE + " " + LIFETIME_NOTE
    ),
)
async def log_in(
    form: Annotated[TokenCreate, Form()],
    address: CallerAddress,
    identity: IdentityApp,
    throttle: Throttle,
    issuer: Issuer,
) -> TokenPublic:
    attempt = await run_in_threadpool(throttle.reserve, normalise_email(form.username), address)
    await asyncio.sleep(attempt.delay_seconds)
    issued = await run_in_threadpool(
        identity.log_in, form.username, form.password, attempt, issuer=issuer
    )
    return TokenPublic(access_token=issued.access_token, expires_in=issued.expires_in)


@router.post(
    "/logout",
    status_code=204,
    responses=error_responses(401),
    summary="Log out: revoke this access token (SPEC ID-1)",
    description="SPEC ID-1. " + LIFETIME_NOTE,
)
def log_out(me: CurrentPrincipal, identity: IdentityApp, runtime: ServiceRuntime) -> Response:
    expires_at = datetime.fromtimestamp(me.expires_at or 0, UTC)
    written = identity.log_out(me.user_id, me.token_id or "", expires_at)
    runtime.settle(RevokedTokensView, written.position)
    return Response(status_code=204)


@router.get(
    "/me",
    response_model=UserPublic,
    responses=error_responses(401),
    summary="The caller's account, profile, completeness and verification (SPEC ID-2, ID-3)",
)
def me(me: CurrentPrincipal, identity: IdentityApp) -> UserPublic:
    """SPEC ID-2, ID-3, ID-4."""
    return UserPublic.of(identity.get_user(me.user_id))


@router.put(
    "/me/password",
    status_code=204,
    responses=error_responses(401, 422, 429),
    summary="Change the caller's password (SPEC ID-1)",
    description=(
        "SPEC ID-1 (ASVS 5.0 V6.2.2, V6.2.3, V7.4.3). 422 naming `current_password` when it is "
        "wrong (counted as a failed log-in), naming `new_password` when it is too short or too "
        "long. Every token issued before, this one included, is refused from then on: log in "
        "again with the new password. " + THROTTLE_NOTE
    ),
)
async def change_password(
    body: PasswordChange,
    me: CurrentPrincipal,
    address: CallerAddress,
    identity: IdentityApp,
    throttle: Throttle,
    runtime: ServiceRuntime,
) -> Response:
    user = await run_in_threadpool(identity.get_user, me.user_id)
    attempt = await run_in_threadpool(throttle.reserve, user.email, address)
    await asyncio.sleep(attempt.delay_seconds)
    written = await run_in_threadpool(
        identity.change_password, me.user_id, body.current_password, body.new_password, attempt
    )
    await run_in_threadpool(runtime.settle, RevokedTokensView, written.position)
    return Response(status_code=204)


@router.put(
    "/me/profile",
    response_model=UserPublic,
    responses=error_responses(401, 409, 422),
    summary="Fill in or replace the caller's details (SPEC ID-2)",
)
def update_profile(
    body: ProfileUpdate, me: CurrentPrincipal, identity: IdentityApp, runtime: ServiceRuntime
) -> UserPublic:
    """SPEC ID-2. Replaces the whole profile; the ΑΦΜ check digit is validated (422 with the
    reason); businesses must give their ΑΦΜ. `profile_complete` is derived."""
    written = identity.update_profile(me.user_id, body.model_dump(mode="json", exclude_none=True))
    runtime.settle(UsersView, written.position)
    return UserPublic.of(written.result)


@router.post(
    "/staff",
    status_code=201,
    response_model=UserCreated,
    responses=error_responses(401, 403, 409, 422),
    summary="Create a clerk, auditor or admin (admin only; SPEC ID-4)",
)
def create_staff(
    body: StaffCreate,
    admin: Admin,
    identity: IdentityApp,
    runtime: ServiceRuntime,
    key: IdempotencyKey = None,
) -> UserCreated:
    """SPEC ID-4. A clerk needs a department of the catalogue (`GET /identity/departments`;
    422 naming `department` otherwise). `Idempotency-Key`: the password is not part of the
    fingerprint, so a repeat with the same key and another password answers the first result."""
    written = identity.create_staff(
        body.email,
        body.password,
        body.role,
        body.department,
        admin_id=admin.user_id,
        idempotency_key=key,
    )
    runtime.settle(UsersView, written.position)
    return UserCreated.model_validate(written.result)


@router.get(
    "/users",
    response_model=UserSummaryPage,
    responses=error_responses(401, 403, 422),
    summary="Search users by e-mail, name or ΑΦΜ (staff; SPEC ID-3, ID-4)",
)
def search_users(
    staff: AnyStaff, users: Users, paging: PagingParams, q: SearchText = None
) -> UserSummaryPage:
    """SPEC ID-4: clerks find the person in front of them to verify them (ID-3); ordered by
    e-mail."""
    rows, total = users.view.search(q, paging.limit, paging.offset)
    return UserSummaryPage.of([UserSummary(**row) for row in rows], total, paging)


@router.post(
    "/users/{user_id}/verification",
    status_code=201,
    response_model=UserPublic,
    responses=error_responses(401, 403, 404, 409, 422),
    summary="Record an in-person verification (clerk; SPEC ID-3)",
)
def verify_user(
    user_id: UserId,
    body: VerificationCreate,
    clerk: Clerk,
    identity: IdentityApp,
    runtime: ServiceRuntime,
    key: IdempotencyKey = None,
) -> UserPublic:
    """SPEC ID-3: the person (or the company's representative) appeared with this document.
    409 if already verified or if the account is staff. A repeat with the same
    `Idempotency-Key` records nothing and answers the user as they are now."""
    written = identity.verify(user_id, body.document_type, body.document_number, clerk.user_id, key)
    runtime.settle(UsersView, written.position)
    return UserPublic.of(identity.get_user(user_id))


@router.delete(
    "/users/{user_id}/verification",
    response_model=UserPublic,
    responses=error_responses(401, 403, 404, 409, 422),
    summary="Revoke a verification, with a reason (clerk; SPEC ID-3)",
)
def revoke_verification(
    user_id: UserId,
    body: VerificationRevoke,
    clerk: Clerk,
    identity: IdentityApp,
    runtime: ServiceRuntime,
) -> UserPublic:
    """SPEC ID-3 (expected). 409 if the user is not verified."""
    written = identity.revoke_verification(user_id, body.reason, clerk.user_id)
    runtime.settle(UsersView, written.position)
    return UserPublic.of(written.result)


@router.post(
    "/users/{user_id}/disable",
    response_model=UserPublic,
    responses=error_responses(401, 403, 404, 409, 422),
    summary="Disable an account, with a reason (admin; SPEC ID-4)",
    description=(
        "SPEC ID-4 (ASVS 5.0 V7.4.2). The user can no longer log in and every token of theirs is "
        "refused: by identity at once, by the other services as soon as they read the "
        "`UserDisabled` event. 409 `own_account` for the admin's own account (the portal keeps "
        "an admin). Disabling a disabled account changes nothing."
    ),
)
def disable_user(
    user_id: UserId, body: UserDisable, admin: Admin, identity: IdentityApp, runtime: ServiceRuntime
) -> UserPublic:
    written = identity.disable(user_id, body.reason, admin.user_id)
    _settle_account_change(runtime, written.position)
    return UserPublic.of(written.result)


@router.post(
    "/users/{user_id}/enable",
    response_model=UserPublic,
    responses=error_responses(401, 403, 404, 409, 422),
    summary="Enable a disabled account again (admin; SPEC ID-4)",
    description=(
        "SPEC ID-4. The user may log in again; tokens from before the account was disabled stay "
        "refused. Enabling an enabled account changes nothing."
    ),
)
def enable_user(
    user_id: UserId, admin: Admin, identity: IdentityApp, runtime: ServiceRuntime
) -> UserPublic:
    written = identity.enable(user_id, admin.user_id)
    _settle_account_change(runtime, written.position)
    return UserPublic.of(written.result)


@router.patch(
    "/users/{user_id}/staff",
    response_model=UserPublic,
    responses=error_responses(401, 403, 404, 409, 422),
    summary="Change a staff member's role or a clerk's department (admin; SPEC ID-4)",
    description=(
        "SPEC ID-4. A clerk needs a department of the catalogue (422 naming `department`); "
        "other roles have none. 409 `not_applicable` for a citizen or business, `own_account` "
        "for the admin's own role. The member's earlier tokens (with the old role) are refused; "
        "they log in again."
    ),
)
def update_staff(
    user_id: UserId, body: StaffUpdate, admin: Admin, identity: IdentityApp, runtime: ServiceRuntime
) -> UserPublic:
    written = identity.update_staff(user_id, body.role, body.department, admin.user_id)
    _settle_account_change(runtime, written.position)
    return UserPublic.of(written.result)


def _settle_account_change(runtime: ServiceRuntime, position: int | None) -> None:
    """Read-your-writes for both views an account change touches: the refusal of the user's
    tokens is in force, and the user search shows it, when the admin gets the answer."""
    runtime.settle(RevokedTokensView, position)
    runtime.settle(UsersView, position)


@router.get(
    "/departments",
    response_model=DepartmentPage,
    responses=error_responses(422),
    summary="The municipality's departments (public; SPEC ID-4, R-3)",
    description=(
        "SPEC ID-4, R-3: the one catalogue a clerk's department and every routing target come "
        "from, in its own order."
    ),
)
def departments(paging: PagingParams) -> DepartmentPage:
    catalogue = [DepartmentPublic.of(department) for department in DEPARTMENTS.values()]
    window = catalogue[paging.offset : paging.offset + paging.limit]
    return DepartmentPage.of(window, len(catalogue), paging)


@router.get(
    "/.well-known/jwks.json",
    summary="Public keys that verify identity's tokens (JWKS)",
    description="Public and cacheable; every service verifies tokens locally with it (ID-4).",
)
def jwks(issuer: Issuer, response: Response) -> dict[str, Any]:
    response.headers["Cache-Control"] = "public, max-age=300"
    return issuer.jwks()
