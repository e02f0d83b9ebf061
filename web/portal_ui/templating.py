"""Rendering a page: `await render(request, "pages/x.html", title=..., **context)`.

Every template gets, besides its context: `user` (or None), `csrf_token`, `municipality`,
`nav` (the header's links), `unread` (the notifications badge; None when not logged in or when
notifications did not answer), `flashes` (one-time messages) and `current_path`; and the Greek
filters of formatting.py. `fields` (macros.html) is imported by each template that has a form.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from portal_ui import formatting, navigation
from portal_ui.errors import ApiError, GatewayUnavailable
from portal_ui.gateway import gateway_client
from portal_ui.sessions import csrf_token

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
templates.env.filters.update(formatting.FILTERS)


async def unread_count(request: Request) -> int | None:
    try:
        page = await gateway_client(request).get("/notifications", params={"limit": 1})
    except (ApiError, GatewayUnavailable):
        return None  # the badge is not worth failing a page for
    return int(page.get("unread", 0))


async def render(
    request: Request,
    template: str,
    *,
    status_code: int = 200,
    with_badge: bool = True,
    **context: Any,
) -> HTMLResponse:
    session = request.state.session
    user = session.user
    return templates.TemplateResponse(
        request,
        template,
        {
            "user": user,
            "csrf_token": csrf_token(request),
            "municipality": request.app.state.settings.municipality_name,
            "nav": navigation.links_for(user.roles if user else None),
            "unread": await unread_count(request) if user and with_badge else None,
            "flashes": session.pop_flashes(),
            "current_path": request.url.path,
            **context,
        },
        status_code=status_code,
    )
