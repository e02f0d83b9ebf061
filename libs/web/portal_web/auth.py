"""Verify identity's JWTs locally (ES256, issuer, audience, expiry) and check roles.

Identity publishes its public keys as a JWKS; every other service fetches and caches them
(PyJWT's PyJWKClient) and never calls identity per request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, Protocol
from uuid import UUID

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from portal_events import context
from starlette.concurrency import run_in_threadpool

from portal_web.errors import ApiError

ALGORITHM = "ES256"  # pinned: a token naming another `alg` is rejected
ROLES = ("citizen", "business", "clerk", "auditor", "admin")
STAFF_ROLES = ("clerk", "auditor", "admin")


@dataclass(frozen=True)
class Principal:
    """The authenticated caller, as the token says."""

    user_id: UUID
    role: str
    email: str | None = None
    department: str | None = None
    token_id: str | None = None
    expires_at: int | None = None
    issued_at: int | None = None

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES


class TokenRevocations(Protocol):
    """Says whether a token that verified is refused all the same (logged out, password
    changed, account disabled, role changed) before it expires.

    `refusal` runs in a worker thread, never on the event loop, so it may query PostgreSQL.
    """

    def refusal(self, principal: Principal) -> str | None:
        """None to accept the token; else a short English reason, e.g. "account disabled"."""
        ...


class TokenVerifier:
    """Verifies bearer tokens with a static public key (identity itself, tests) or a JWKS URL."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        jwks_url: str | None = None,
        public_key: Any = None,
    ) -> None:
        if (jwks_url is None) == (public_key is None):
            raise ValueError("give exactly one of jwks_url and public_key")
        self.issuer = issuer
        self.audience = audience
        self._public_key = public_key
        self._jwks = jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=300) if jwks_url else None

    def _key_for(self, token: str) -> Any:
        if self._jwks is None:
            return self._public_key
        return self._jwks.get_signing_key_from_jwt(token).key

    def verify(self, token: str) -> Principal:
        try:
            claims = jwt.decode(
                token,
                self._key_for(token),
                algorithms=[ALGORITHM],
                issuer=self.issuer,
                audience=self.audience,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
            return Principal(
                user_id=UUID(claims["sub"]),
                role=_known_role(claims.get("role")),
                email=claims.get("email"),
                department=claims.get("department"),
                token_id=claims.get("jti"),
                expires_at=claims.get("exp"),
                issued_at=claims.get("iat"),
            )
        except (jwt.PyJWTError, ValueError, KeyError) as exc:
            raise ApiError(401, "invalid_token", "The access token is invalid or expired.") from exc


def _known_role(role: Any) -> str:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    return str(role)


_bearer = HTTPBearer(auto_error=False, description="Access token from POST /identity/token")


def _verifier(request: Request) -> TokenVerifier:
    return request.app.state.token_verifier


async def _refuse_revoked(request: Request, principal: Principal) -> None:
    revocations: TokenRevocations | None = request.app.state.token_revocations
    if revocations is None:
        return
    reason = await run_in_threadpool(revocations.refusal, principal)
    if reason is not None:
        raise ApiError(401, "invalid_token", f"The access token is no longer valid: {reason}.")


async def optional_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal | None:
    """The caller if a token was given (a bad or refused token is still a 401), else None.

    `async` on purpose: the actor it sets must be visible to the (sync) route that follows.
    """
    if credentials is None:
        return None
    principal = _verifier(request).verify(credentials.credentials)
    await _refuse_revoked(request, principal)
    context.set_actor(context.Actor(id=str(principal.user_id), role=principal.role))
    return principal


async def current_principal(
    principal: Annotated[Principal | None, Depends(optional_principal)],
) -> Principal:
    if principal is None:
        raise ApiError(
            401,
            "unauthenticated",
            "Log in first: this needs an access token.",
        )
    return principal


OptionalPrincipal = Annotated[Principal | None, Depends(optional_principal)]
CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require_roles(*roles: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency that lets only the given roles through (403 for others)."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {unknown}")

    async def dependency(principal: CurrentPrincipal) -> Principal:
        if principal.role not in roles:
            raise ApiError(
                403,
                "forbidden",
                f"This needs one of the roles: {', '.join(roles)}.",
            )
        return principal

    return dependency


# Role aliases: each name says exactly which roles it admits, the same in every service.
Admin = Annotated[Principal, Depends(require_roles("admin"))]
Clerk = Annotated[Principal, Depends(require_roles("clerk"))]
ClerkOrAdmin = Annotated[Principal, Depends(require_roles("clerk", "admin"))]
AnyStaff = Annotated[Principal, Depends(require_roles(*STAFF_ROLES))]
CitizenOrBusiness = Annotated[Principal, Depends(require_roles("citizen", "business"))]
