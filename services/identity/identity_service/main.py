"""Composition root of the identity service: `uvicorn identity_service.main:app`."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import structlog
from fastapi import FastAPI
from portal_events import context
from portal_events.background import BackgroundLoops
from portal_events.projections import ReadModel
from portal_events.relay import OutboxRelay
from portal_events.schema import creating_tables
from portal_web import TokenVerifier, configure_logging, create_service_app

from identity_service.api import router
from identity_service.application import IdentityApplication, TokenIssuer
from identity_service.integration import to_contracts
from identity_service.settings import IdentitySettings
from identity_service.views import LoginThrottle, UsersProjection, UsersView

log = structlog.get_logger()


def _token_issuer(settings: IdentitySettings) -> TokenIssuer:
    if settings.jwt_private_key_file is None:
        raise RuntimeError("JWT_PRIVATE_KEY_FILE is required: the EC P-256 key that signs tokens")
    return TokenIssuer(
        settings.jwt_private_key_file.read_bytes(),
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        ttl_seconds=settings.token_ttl_seconds,
    )


def _bootstrap_admin(identity: IdentityApplication, settings: IdentitySettings) -> None:
    if not (settings.portal_admin_email and settings.portal_admin_password):
        return
    with context.bound(actor=context.Actor.system("identity-bootstrap")):
        created = identity.bootstrap_admin(
            settings.portal_admin_email, settings.portal_admin_password.get_secret_value()
        )
    log.info("admin_bootstrap", created=created is not None)


def create_app(settings: IdentitySettings | None = None) -> FastAPI:
    settings = settings or IdentitySettings()
    configure_logging("identity", settings.log_format, settings.log_level)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The key is read here, not at import, so that importing the module needs no secrets.
        issuer = _token_issuer(settings)
        env = settings.eventsourcing_env() | {"SINGLE_ROW_TRACKING": "y"}
        identity = creating_tables(lambda: IdentityApplication(env=env))
        with contextlib.ExitStack() as stack:
            stack.callback(identity.close)
            users = ReadModel(identity, UsersProjection, UsersView)
            stack.callback(users.close)
            throttle = LoginThrottle(
                identity.recorder.datastore,  # type: ignore[attr-defined]
                window_seconds=settings.login_window_seconds,
                max_per_account=settings.login_max_failures_per_account,
                max_per_address=settings.login_max_failures_per_address,
            )
            creating_tables(throttle.create_table)
            _bootstrap_admin(identity, settings)
            app.state.identity = identity
            app.state.users = users
            app.state.login_throttle = throttle
            app.state.token_issuer = issuer
            # Identity verifies its own tokens with its own key: no HTTP call to itself.
            app.state.token_verifier = TokenVerifier(
                issuer=settings.jwt_issuer,
                audience=settings.jwt_audience,
                public_key=issuer.public_key,
            )
            app.state.health_checks["users_projection"] = users.healthy

            loops = BackgroundLoops()
            if settings.kafka_enabled:
                relay = OutboxRelay(
                    identity,
                    to_contracts,
                    source="identity",
                    bootstrap_servers=settings.kafka_bootstrap_servers,
                )
                loops.start("relay", relay.run)
            app.state.health_checks |= loops.health_checks()
            try:
                yield
            finally:
                await loops.stop()

    return create_service_app(
        name="identity",
        title="Identity service",
        description=(
            "Users, profiles, in-person verification, roles and tokens of the municipal portal "
            "(SPEC ID-1..ID-4). Tokens are ES256 JWTs; their public keys are at "
            "`/identity/.well-known/jwks.json`."
        ),
        settings=settings,
        routers=[router],
        lifespan=lifespan,
    )


app = create_app()
