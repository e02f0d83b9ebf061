"""Identity's HTTP API under /identity (SPEC ID-1..ID-4): routes, their dependencies and the
table answering identity's domain errors. Routes call the Application (plain `def`: the library
is synchronous) and raise nothing HTTP-specific; the kit answers domain errors from `ERRORS`.

Identity itself refuses a token at once when its holder has logged out (`signed_in` routes);
the other services verify tokens locally and accept them until they expire.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Form, Path, Query, Request, Response
from portal_events.projections import ReadModel
from portal_web import (
    Admin,
    AnyStaff,
    ApiError,
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

from identity_service.application import IdentityApplication
from identity_service.domainmodel import (
    CommandNotApplicable,
    CredentialsInvalid,
    EmailTaken,
    LoginThrottled,
    ProfileInvalid,
    UserAlreadyVerified,
    UserNotFound,
    UserNotVerified,
)
from identity_service.schemas import (
    ProfileUpdate,
    StaffCreate,
    TokenCreate,
    TokenPublic,
    UserCreate,
    UserCreated,
    UserPublic,
    UserSummary,
    UserSummaryPage,
    VerificationCreate,
    VerificationRevoke,
)
from identity_service.tokens import TokenIssuer
from identity_service.views import LoginThrottle, RevokedTokensView, UsersView

# The names under which main.py declares identity's resources.
ISSUER_RESOURCE = "token_issuer"
THROTTLE_RESOURCE = "login_throttle"

LIFETIME_NOTE = (
    "Tokens are short-lived (TOKEN_TTL_SECONDS, default 15 minutes). Logout makes identity itself "
    "refuse the token at once; other services verify tokens locally and accept them until expiry."
)

# --- dependencies ----------------------------------------------------------------------------

IdentityApp = Annotated[IdentityApplication, Depends(application_of)]
Users = Annotated[ReadModel[UsersView], read_model_of(UsersView)]
RevokedTokens = Annotated[ReadModel[RevokedTokensView], read_model_of(RevokedTokensView)]
Issuer = Annotated[TokenIssuer, resource_of(ISSUER_RESOURCE)]
Throttle = Annotated[LoginThrottle, resource_of(THROTTLE_RESOURCE)]
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


def refuse_logged_out_tokens(principal: CurrentPrincipal, revoked: RevokedTokens) -> None:
    """SPEC ID-1 logout: a token whose holder logged out is refused by identity at once."""
    if principal.token_id and revoked.view.is_revoked(principal.token_id):
        raise ApiError(401, "invalid_token", "The access token was revoked (logged out).")


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
    CredentialsInvalid: HttpError(
        401, "invalid_credentials", "Λάθος e-mail ή κωδικός (wrong e-mail or password)."
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
# Routes for a logged-in caller: their token must not have been logged out.
signed_in = APIRouter(dependencies=[Depends(refuse_logged_out_tokens)])


@router.post(
    "/users",
    status_code=201,
    response_model=UserCreated,
    responses=error_responses(409, 422),
    summary="Register as a citizen or business (SPEC ID-1)",
)
def register(
    body: UserCreate, identity: IdentityApp, runtime: ServiceRuntime, key: IdempotencyKey = None
) -> UserCreated:
    """SPEC ID-1. Passwords are stored as argon2id hashes. 409 `email_taken` if the address (in
    its canonical form: case and look-alike characters do not count) is registered.
    `Idempotency-Key`: the password is not part of the fingerprint (it is never stored in any
    fast hash), so a repeat with the same key and another password answers the first result."""
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
        "e-mail and a wrong password. After 5 failures per account or 20 per client address in "
        "15 minutes: 429 with Retry-After. " + LIFETIME_NOTE
    ),
)
def log_in(
    form: Annotated[TokenCreate, Form()],
    request: Request,
    identity: IdentityApp,
    throttle: Throttle,
    issuer: Issuer,
) -> TokenPublic:
    issued = identity.log_in(
        form.username, form.password, client_address(request), throttle=throttle, issuer=issuer
    )
    return TokenPublic(access_token=issued.access_token, expires_in=issued.expires_in)


@signed_in.post(
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


@signed_in.get(
    "/me",
    response_model=UserPublic,
    responses=error_responses(401),
    summary="The caller's account, profile, completeness and verification (SPEC ID-2, ID-3)",
)
def me(me: CurrentPrincipal, identity: IdentityApp) -> UserPublic:
    """SPEC ID-2, ID-3, ID-4."""
    return UserPublic.of(identity.get_user(me.user_id))


@signed_in.put(
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


@signed_in.post(
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
    """SPEC ID-4. A clerk needs a department (422 without). `Idempotency-Key`: the password is
    not part of the fingerprint, so a repeat with the same key and another password answers the
    first result."""
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


@signed_in.get(
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


@signed_in.post(
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


@signed_in.delete(
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


@router.get(
    "/.well-known/jwks.json",
    summary="Public keys that verify identity's tokens (JWKS)",
    description="Public and cacheable; every service verifies tokens locally with it (ID-4).",
)
def jwks(issuer: Issuer, response: Response) -> dict[str, Any]:
    response.headers["Cache-Control"] = "public, max-age=300"
    return issuer.jwks()


router.include_router(signed_in)
