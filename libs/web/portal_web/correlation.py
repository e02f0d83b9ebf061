"""Take or make the X-Correlation-ID at the HTTP edge and bind it for the whole request."""

from __future__ import annotations

import re

from portal_events import context
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = "x-correlation-id"
# A caller-supplied id is kept only if it is short and plain, so logs can't be polluted.
_VALID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")


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

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"].append((HEADER.encode(), correlation_id.encode()))
            await send(message)

        with context.bound(correlation_id=correlation_id, actor=context.Actor.anonymous()):
            await self.app(scope, receive, send_with_header)
