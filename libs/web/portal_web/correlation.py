"""Take or make the X-Correlation-ID at the HTTP edge and bind it for the whole request.

Every answer carries it, a 500 too: an exception no handler took is answered here, inside the
request's context (so its log line has the correlation id), rather than by Starlette's outermost
error middleware, which answers outside every other middleware and would drop the header.
"""

from __future__ import annotations

import re

import structlog
from portal_events import context
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from portal_web.errors import error_response

HEADER = "x-correlation-id"
# A caller-supplied id is kept only if it is short and plain, so logs can't be polluted.
_VALID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")

log = structlog.get_logger(__name__)


class CorrelationIdMiddleware:
    """Pure ASGI middleware: the context it binds is visible to routes and dependencies."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(HEADER.encode(), b"").decode("latin-1")
        correlation_id = given if _VALID.match(given) else context.new_correlation_id()
        started = False

        async def send_with_header(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message.setdefault("headers", [])
                message["headers"].append((HEADER.encode(), correlation_id.encode()))
            await send(message)

        with context.bound(correlation_id=correlation_id, actor=context.Actor.anonymous()):
            try:
                await self.app(scope, receive, send_with_header)
            except Exception as exc:
                log.exception("unhandled_error", error=repr(exc))
                if started:
                    raise  # part of the answer is out: the server can only cut the connection
                response = error_response(
                    500, "internal_error", "Something went wrong on our side."
                )
                await response(scope, receive, send_with_header)
