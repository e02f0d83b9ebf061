"""What can go wrong while making a page, and the page each becomes (`install_error_pages`).

- `ApiError`: the gateway answered an error (`{code, message, details}`). A form page catches
  it when `error.is_refusal` (422, 409, ...) and re-renders the form (forms.form_errors); left
  uncaught, 401 sends the visitor to log in again, 403/404 become those pages (another user's
  case is a 404, as the API says), anything else the 503 page.
- `GatewayUnavailable`: the gateway did not answer in time (or at all): the 503 page.
- `LoginRequired`, `RoleForbidden`, `CsrfRejected`: raised by the session dependencies.
- Anything else (a bug): the 500 page, logged (`ErrorPageMiddleware`), never the services' JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = structlog.get_logger(__name__)


@dataclass
class ApiError(Exception):
    status: int
    code: str
    message: str
    details: Any = None
    field_details: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(f"{self.status} {self.code}: {self.message}")
        if isinstance(self.details, list):
            self.field_details = [d for d in self.details if isinstance(d, dict) and "field" in d]

    @property
    def is_refusal(self) -> bool:
        """The API refused what was typed (shown on the form), rather than the page failing."""
        return self.status in (400, 409, 422, 429)


class GatewayUnavailable(Exception):
    """The gateway (or the service behind it) did not answer."""


class LoginRequired(Exception):
    def __init__(self, next_path: str = "/portal") -> None:
        super().__init__(next_path)
        self.next_path = next_path


class RoleForbidden(Exception):
    """A logged-in user opened a page for another role."""


class CsrfRejected(Exception):
    """A form came without the session's CSRF token."""


PAGES = {
    403: ("Δεν επιτρέπεται η πρόσβαση", "Δεν έχετε δικαίωμα να δείτε αυτή τη σελίδα."),
    404: ("Η σελίδα δεν βρέθηκε", "Ελέγξτε τη διεύθυνση ή επιστρέψτε στην αρχική σελίδα."),
    500: (
        "Κάτι πήγε στραβά",
        "Παρουσιάστηκε σφάλμα από την πλευρά μας και καταγράφηκε. Δοκιμάστε ξανά σε λίγο.",
    ),
    503: (
        "Η υπηρεσία δεν είναι διαθέσιμη",
        "Η υπηρεσία δεν είναι διαθέσιμη αυτή τη στιγμή. Δοκιμάστε ξανά σε λίγα λεπτά.",
    ),
}


def login_redirect(next_path: str) -> RedirectResponse:
    return RedirectResponse(f"/portal/login?next={quote(next_path)}", status_code=303)


async def error_page(request: Request, status: int, message: str | None = None) -> Response:
    from portal_ui.templating import render  # the templates need the session and settings

    title, default = PAGES.get(status, PAGES[503])
    return await render(
        request,
        "error.html",
        title=title,
        message=message or default,
        status_code=status,
        with_badge=False,
    )


def install_error_pages(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, error: ApiError) -> Response:
        if error.status == 401:
            request.state.session.log_out()
            return login_redirect(request.url.path)
        if error.status in (403, 404):
            return await error_page(request, error.status)
        log.warning("api_error_page", status=error.status, code=error.code)
        return await error_page(request, 503)

    @app.exception_handler(GatewayUnavailable)
    async def gateway_unavailable(request: Request, error: GatewayUnavailable) -> Response:
        log.warning("gateway_unavailable", error=str(error))
        return await error_page(request, 503)

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, error: LoginRequired) -> Response:
        return login_redirect(error.next_path)

    @app.exception_handler(RoleForbidden)
    async def role_forbidden(request: Request, error: RoleForbidden) -> Response:
        return await error_page(request, 403)

    @app.exception_handler(CsrfRejected)
    async def csrf_rejected(request: Request, error: CsrfRejected) -> Response:
        return await error_page(
            request,
            403,
            "Η φόρμα έληξε ή δεν στάλθηκε από αυτή τη σελίδα. Ανοίξτε τη σελίδα ξανά και "
            "υποβάλετε τη φόρμα από την αρχή.",
        )

    @app.exception_handler(RequestValidationError)
    async def bad_address(request: Request, error: RequestValidationError) -> Response:
        return await error_page(request, 404)  # e.g. /portal/requests/not-an-id

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        if error.status_code == 405:
            return await error_page(request, 404)
        return await error_page(request, error.status_code if error.status_code in PAGES else 404)


class ErrorPageMiddleware:
    """A page that fails unexpectedly answers the Greek 500 page, the failure logged. Installed
    inside the session middleware, so that the page has the visitor's session (and outside the
    routes' own handlers, which take the failures they know)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def noting_the_start(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, noting_the_start)
        except Exception as exc:
            if started:
                raise  # part of the page is out: only cutting the connection is left
            log.exception("page_failed", error=repr(exc))
            response = await error_page(Request(scope, receive), 500)
            await response(scope, receive, send)
