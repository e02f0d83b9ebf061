"""The FastAPI app every service builds: docs and health under its prefix, errors, correlation."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import APIRouter, FastAPI, Response
from portal_events.health import ComponentHealth
from pydantic import BaseModel, Field

from portal_web.auth import TokenVerifier
from portal_web.correlation import CorrelationIdMiddleware
from portal_web.docs import install_docs
from portal_web.errors import ErrorTable, install_error_handlers, install_error_table
from portal_web.metrics import install_metrics
from portal_web.security_headers import SecurityHeadersMiddleware
from portal_web.settings import ServiceSettings

HealthCheck = Callable[[], "bool | ComponentHealth"]


class Check(BaseModel):
    """One dependency or background component."""

    ok: bool = Field(description="Whether it is healthy (readiness fails if not)")
    detail: dict[str, Any] = Field(
        default_factory=dict,
        description="Figures for operators: lag, parked events, retries, ...",
        examples=[{"lag_events": 0, "lag_seconds": 0.0, "parked": 0}],
    )


class Health(BaseModel):
    """What `GET /<service>/health` answers."""

    status: str = Field(
        description="`ok` if every check passes, else `degraded`", examples=["ok", "degraded"]
    )
    service: str = Field(description="The service that answered", examples=["requests"])
    checks: dict[str, Check] = Field(
        description="Each dependency or background component, whether it is healthy, and its "
        "figures",
        examples=[{"read_model:request_summaries": {"ok": True, "detail": {"lag_events": 0}}}],
    )


def create_service_app(
    *,
    name: str,
    title: str,
    description: str,
    settings: ServiceSettings,
    routers: Sequence[APIRouter],
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[Any]] | None = None,
    health_checks: dict[str, HealthCheck] | None = None,
    token_verifier: TokenVerifier | None = None,
    errors: ErrorTable | None = None,
    version: str = "0.1.0",
) -> FastAPI:
    """Build a service's app; all its paths live under `/<name>` so the gateway needs no rewrites.

    `health_checks` are read from `app.state.health_checks` at request time too, so a lifespan
    can add checks for what it starts.
    """
    prefix = f"/{name}"
    app = FastAPI(
        title=title,
        description=description,
        version=version,
        lifespan=lifespan,
        docs_url=None,  # served by install_docs, from the project's files (no CDN)
        redoc_url=None,
        openapi_url=f"{prefix}/openapi.json",
    )
    app.state.settings = settings
    app.state.health_checks = dict(health_checks or {})
    app.state.token_verifier = token_verifier or TokenVerifier.from_settings(settings)
    # Set by the composition root (portal_web.service) once the service's database is open.
    app.state.token_revocations = None
    # Before the routers: `/<service>/{id}` routes would otherwise capture these paths.
    install_docs(app, prefix, title)
    app.state.metrics = install_metrics(app, prefix, name)
    install_error_handlers(app)
    install_error_table(app, errors or {})
    # Outermost last: security headers mark every answer, the correlation middleware's 500 too.
    app.add_middleware(CorrelationIdMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)

    @app.get(
        f"{prefix}/health",
        response_model=Health,
        tags=["operations"],
        responses={503: {"model": Health, "description": "Degraded: a check failed"}},
    )
    def health(response: Response) -> Health:
        """Readiness of the service and of what it runs (projections, relay, consumers):
        200 when every check passes, 503 (same body) when any fails, so that a load balancer
        or the stack launcher stops sending it traffic."""
        checks = {name: _check(probe) for name, probe in app.state.health_checks.items()}
        healthy = all(check.ok for check in checks.values())
        if not healthy:
            response.status_code = 503
        return Health(status="ok" if healthy else "degraded", service=name, checks=checks)

    for router in routers:
        app.include_router(router)
    return app


def _check(probe: HealthCheck) -> Check:
    try:
        outcome = probe()
    except Exception as exc:  # a check that cannot tell is a failing check, not a 500
        return Check(ok=False, detail={"error": repr(exc)[:200]})
    if isinstance(outcome, ComponentHealth):
        return Check(ok=outcome.ok, detail=outcome.detail)
    return Check(ok=bool(outcome))
