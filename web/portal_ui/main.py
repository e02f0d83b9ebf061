"""The portal's web application: server-rendered Greek pages on the gateway's public APIs.

Served by the gateway at `/` and under `/portal/` (process `portal` of deploy/services.toml).
It has no database and no event store: every read and write is a call to a service's public API
through the gateway (gateway.py), with the visitor's token from the encrypted session cookie
(sessions.py). One router per area of the portal, in `pages/`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from portal_web.correlation import CorrelationIdMiddleware
from portal_web.logging import configure_logging
from portal_web.security_headers import SecurityHeadersMiddleware

from portal_ui.errors import ErrorPageMiddleware, install_error_pages
from portal_ui.pages import (
    account,
    admin,
    audit,
    business,
    certificates,
    citizen,
    clerk,
    fines,
    public,
)
from portal_ui.sessions import SessionMiddleware
from portal_ui.settings import Settings, get_settings

HERE = Path(__file__).parent
# The gov.gr design system's stylesheet, fetched from npm by `make web-assets`.
DIGIGOV_CSS = HERE.parent / "node_modules" / "@digigov" / "css" / "dist" / "digigov.css"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging("portal", settings.log_format)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        timeout = httpx.Timeout(settings.api_timeout_seconds, connect=3.0)
        # Every API call carries the pages' key: the gateway counts its visitors per visitor.
        pages = {"X-Portal-Pages-Key": settings.pages_key}
        async with httpx.AsyncClient(
            base_url=settings.gateway_url, timeout=timeout, headers=pages
        ) as http:
            app.state.http = http
            yield

    app = FastAPI(
        title="Portal web pages",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.settings = settings
    install_error_pages(app)

    @app.get("/portal/health", include_in_schema=False)
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/portal/static/digigov.css", include_in_schema=False)
    async def digigov_css() -> FileResponse:
        return FileResponse(DIGIGOV_CSS, media_type="text/css")

    app.mount("/portal/static", StaticFiles(directory=HERE / "static"), name="static")
    # One module per area: everyone's, citizens' and businesses', then the staff's.
    for area in (public, account, citizen, certificates, fines, business, clerk, audit, admin):
        app.include_router(area.router)

    # Outermost last: security headers mark every answer, the correlation id is bound before
    # the session is read (so its log lines and API calls carry it).
    app.add_middleware(ErrorPageMiddleware)
    app.add_middleware(SessionMiddleware, session_key=settings.session_key)
    app.add_middleware(CorrelationIdMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)
    return app


def __getattr__(name: str) -> FastAPI:
    # `portal_ui.main:app` for uvicorn, built on first use so that importing the package (in
    # tests) needs no environment.
    if name == "app":
        globals()["app"] = application = create_app()
        return application
    raise AttributeError(name)
