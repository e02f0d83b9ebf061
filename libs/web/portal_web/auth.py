"""Verify identity's JWTs locally (ES256, issuer, audience, expiry) and check roles.

Identity publishes its public keys as a JWKS; every other service fetches and caches them
(`portal_web.jwks`) and never calls identity per request. A token that verifies may still be
refused (`TokenRevocations`: logged out, password changed, account disabled, role changed).

A client sends the same token with every request for its lifetime, and checking an ES256
signature is the dearest step of a request's authentication (issue 12), so a token that verified
is remembered for a minute at most — never past its expiry, nor longer than a key lives in the
JWKS cache — and the revocation check still runs on every request.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
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
from portal_web.jwks import JwksKeys, KeysUnavailable, UnknownKey
from portal_web.settings import ServiceSettings

ALGORITHM = "ES256"  # pinned: a token naming another `alg` is rejected
# Verified tokens remembered: for how long at most, and how many.
VERIFIED_SECONDS = 60.0
VERIFIED_TOKENS = 10_000
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
    """Verifies bearer tokens with a static public key (identity itself, tests) or with the keys
    at a JWKS URL (every other service; `portal_web.jwks`).

    `leeway` (seconds) absorbs clock skew between identity and this service, for `exp`, `iat`
    and `nbf` alike.
    """

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        jwks_url: str | None = None,
        public_key: Any = None,
        leeway: float = 30.0,
        jwks_timeout: float = 2.0,
        jwks_ttl: float = 300.0,
        jwks_refetch_interval: float = 5.0,
    ) -> None:
        if (jwks_url is None) == (public_key is None):
            raise ValueError("give exactly one of jwks_url and public_key")
        # token -> (principal, until when it may be taken without checking its signature again)
        self._verified: OrderedDict[str, tuple[Principal, float]] = OrderedDict()
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway
        self._public_key = public_key
        self._jwks = (
            JwksKeys(
                jwks_url,
                timeout=jwks_timeout,
                ttl=jwks_ttl,
                refetch_interval=jwks_refetch_interval,
            )
            if jwks_url
            else None
        )

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> TokenVerifier:
        """The verifier of a service that is not identity: identity's keys from its JWKS."""
        return cls(
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            jwks_url=settings.jwks_url,
            leeway=settings.jwt_leeway_seconds,
            jwks_timeout=settings.jwks_timeout_seconds,
            jwks_ttl=settings.jwks_cache_seconds,
            jwks_refetch_interval=settings.jwks_refetch_interval_seconds,
        )

    async def authenticate(self, token: str) -> Principal:
        """The caller a bearer token names, once verified. A key that must be fetched is waited for
        without blocking the event loop.

        401 `invalid_token` for a bad token; 503 `identity_unavailable` when its key cannot be
        fetched from identity.
        """
        now = time.time()
        remembered = self._verified.get(token)
        if remembered is not None:
            principal, until = remembered
            if now < until:
                self._verified.move_to_end(token)
                return principal
            del self._verified[token]
        if self._jwks is None:
            principal = self._decode(token, self._public_key)
        else:
            kid = _key_id(token)
            try:
                key = await self._jwks.key(kid)
            except (KeysUnavailable, UnknownKey) as exc:
                raise self._key_problem(exc) from exc
            principal = self._decode(token, key)
        self._remember(token, principal, now)
        return principal

    def _remember(self, token: str, principal: Principal, now: float) -> None:
        expires = principal.expires_at if principal.expires_at is not None else now
        self._verified[token] = (principal, min(now + VERIFIED_SECONDS, expires + self.leeway))
        while len(self._verified) > VERIFIED_TOKENS:
            self._verified.popitem(last=False)

    def _key_problem(self, exc: Exception) -> ApiError:
        if isinstance(exc, KeysUnavailable) and self._jwks is not None:
            retry_after = max(1, math.ceil(self._jwks.refetch_interval))
            return ApiError(
                503,
                "identity_unavailable",
                "Access tokens cannot be checked right now: the identity service is "
                "unreachable. Try again shortly.",
                headers={"Retry-After": str(retry_after)},
            )
        return _invalid_token()

    def _decode(self, token: str, key: Any) -> Principal:
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                issuer=self.issuer,
                audience=self.audience,
                leeway=self.leeway,
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
            raise _invalid_token() from exc


def _invalid_token() -> ApiError:
    return ApiError(401, "invalid_token", "The access token is invalid or expired.")


def _key_id(token: str) -> str:
    """The `kid` a token names (unverified: it only picks the key to verify with)."""
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except jwt.PyJWTError as exc:
        raise _invalid_token() from exc
    if not isinstance(kid, str) or not kid:
        raise _invalid_token()
    return kid


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
    principal = await _verifier(request).authenticate(credentials.credentials)
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
