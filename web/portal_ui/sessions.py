"""The visitor's session: an encrypted, HttpOnly cookie, and the route dependencies built on it.

The cookie holds the access token, who the user is and the CSRF token, encrypted with Fernet
under a key derived from PORTAL_SESSION_KEY (SHA-256), so the token never reaches page scripts
and a visitor can neither read nor forge it. SameSite=Lax, Secure when the browser came over
TLS. The session lives as long as the browser's session and at most `MAX_AGE_SECONDS`; the
token inside it expires sooner (15 minutes), after which the next API call's 401 sends the
visitor back to log in.

Routes use:
- `CurrentUser`: the logged-in user (anonymous visitors are sent to log in and come back);
- `require_role("clerk", ...)`: the same, limited to roles (others: the 403 page);
- `CheckedForm`: the POSTed form, after checking its `csrf_token` (missing or wrong: 403 page);
- `csrf_token(request)`: the token to put in a form (templates get it as `csrf_token`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import asdict, dataclass, field
from typing import Annotated

from cryptography.fernet import Fernet, InvalidToken
from fastapi import Depends, Request
from starlette.datastructures import FormData, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from portal_ui.errors import CsrfRejected, LoginRequired, RoleForbidden

COOKIE_NAME = "portal_session"
MAX_AGE_SECONDS = 12 * 60 * 60
CSRF_FIELD = "csrf_token"


@dataclass
class User:
    """Who is logged in, as identity's `/identity/me` said at log-in."""

    user_id: str
    email: str
    kind: str  # citizen, business or staff
    roles: list[str]
    token: str
    department: str | None = None

    @property
    def role(self) -> str:
        """The role the portal's navigation is built for (a user has one in practice)."""
        return self.roles[0] if self.roles else self.kind

    def has_role(self, *roles: str) -> bool:
        return any(role in self.roles for role in roles)


@dataclass
class Session:
    csrf_token: str | None = None
    user: User | None = None
    # One-time messages for the next page (e.g. «Η αίτηση υποβλήθηκε»), shown in a banner.
    flashes: list[str] = field(default_factory=list)

    def log_in(self, user: User) -> None:
        # A new CSRF token at every change of identity (no token fixation across log-in).
        self.user = user
        self.csrf_token = secrets.token_urlsafe(32)

    def log_out(self) -> None:
        self.user = None
        self.csrf_token = secrets.token_urlsafe(32)
        self.flashes = []

    def flash(self, message: str) -> None:
        self.flashes.append(message)

    def pop_flashes(self) -> list[str]:
        flashes, self.flashes = self.flashes, []
        return flashes

    def dump(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":")).encode()

    @classmethod
    def load(cls, data: bytes) -> Session:
        raw = json.loads(data)
        user = User(**raw["user"]) if raw.get("user") else None
        return cls(csrf_token=raw.get("csrf_token"), user=user, flashes=raw.get("flashes", []))


def fernet_for(session_key: str) -> Fernet:
    """The cookie's cipher: its key is the SHA-256 of the configured secret."""
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(session_key.encode()).digest()))


class SessionMiddleware:
    """Loads the session into `request.state.session` and writes the cookie back if it changed.

    Pages a logged-in user sees are also marked `Cache-Control: no-store`.
    """

    def __init__(self, app: ASGIApp, session_key: str) -> None:
        self.app = app
        self.fernet = fernet_for(session_key)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cookie = _cookie(scope, COOKIE_NAME)
        session = Session()
        if cookie:
            try:
                session = Session.load(self.fernet.decrypt(cookie, ttl=MAX_AGE_SECONDS))
            except (InvalidToken, ValueError, TypeError, KeyError):
                session = Session()  # expired, tampered with or from an older key: start afresh
        loaded = session.dump()
        scope.setdefault("state", {})["session"] = session
        secure = _came_over_tls(scope)

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(raw=message.setdefault("headers", []))
                if session.dump() != loaded:
                    value = self.fernet.encrypt(session.dump()).decode()
                    attributes = "; Path=/; HttpOnly; SameSite=Lax" + ("; Secure" if secure else "")
                    headers.append("Set-Cookie", f"{COOKIE_NAME}={value}{attributes}")
                if session.user is not None:
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def _cookie(scope: Scope, name: str) -> bytes | None:
    for header, value in scope["headers"]:
        if header == b"cookie":
            for part in value.split(b";"):
                key, _, content = part.strip().partition(b"=")
                if key == name.encode():
                    return content
    return None


def _came_over_tls(scope: Scope) -> bool:
    # The app is reachable only through the gateway (bound to 127.0.0.1), which says how the
    # browser came in.
    forwarded = dict(scope["headers"]).get(b"x-forwarded-proto", b"").decode("latin-1")
    return scope.get("scheme") == "https" or forwarded.lower() == "https"


def session_of(request: Request) -> Session:
    return request.state.session


def csrf_token(request: Request) -> str:
    """The session's CSRF token, made on first use (so anonymous forms have one too)."""
    session = session_of(request)
    if session.csrf_token is None:
        session.csrf_token = secrets.token_urlsafe(32)
    return session.csrf_token


def current_user(request: Request) -> User:
    user = session_of(request).user
    if user is None:
        raise LoginRequired(request.url.path)
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def require_role(*roles: str):
    """A dependency: the logged-in user, if they hold one of `roles` (else the 403 page).

    Use: `user: Annotated[User, Depends(require_role("clerk"))]`.
    """

    def dependency(user: CurrentUser) -> User:
        if not user.has_role(*roles):
            raise RoleForbidden()
        return user

    return dependency


async def checked_form(request: Request) -> FormData:
    """The POSTed form, if its `csrf_token` matches the session's; else the 403 page."""
    form = await request.form()
    given = form.get(CSRF_FIELD)
    expected = session_of(request).csrf_token
    if not isinstance(given, str) or not expected or not hmac.compare_digest(given, expected):
        raise CsrfRejected()
    return form


CheckedForm = Annotated[FormData, Depends(checked_form)]
