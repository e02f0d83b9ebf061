"""The identity service (SPEC ID-1..ID-4), declared from the kit.

Run: `uvicorn identity_service.main:app`."""

from __future__ import annotations

from portal_events.schema import creating_tables
from portal_events.topics import IDENTITY_USER_EVENTS
from portal_web.service import Runtime, Service

from identity_service.api import ERRORS, ISSUER_RESOURCE, THROTTLE_RESOURCE, router
from identity_service.application import IdentityApplication
from identity_service.integration import PUBLIC_EVENTS
from identity_service.settings import IdentitySettings, check_admin_password
from identity_service.throttle import PostgresThrottle
from identity_service.tokens import TokenIssuer
from identity_service.views import (
    RevokedTokensProjection,
    RevokedTokensView,
    UsersProjection,
    UsersView,
)


def bootstrap_admin(runtime: Runtime) -> None:
    """SPEC ID-4: the first admin, from PORTAL_ADMIN_EMAIL and PORTAL_ADMIN_PASSWORD if set.
    Outside the local stack a missing, short or well-known password stops start-up
    (AdminPasswordRefused, saying what to set; ASVS 5.0 V6.3.2)."""
    settings = runtime.settings
    check_admin_password(settings)
    email, password = settings.portal_admin_email, settings.portal_admin_password
    if email and password:
        runtime.application.bootstrap_admin(email, password.get_secret_value())


def login_throttle(runtime: Runtime) -> PostgresThrottle:
    """The throttle in the Application's database, its table created if need be."""
    throttle = PostgresThrottle(
        runtime.application.recorder.datastore, runtime.settings.throttle_limits
    )
    creating_tables(throttle.create_table)
    return throttle


service = Service(
    name="identity",
    title="Identity service",
    description=(
        "Users, profiles, in-person verification, roles and tokens of the municipal portal "
        "(SPEC ID-1..ID-4). Tokens are ES256 JWTs; their public keys are at "
        "`/identity/.well-known/jwks.json`."
    ),
    settings=IdentitySettings,
    application=IdentityApplication,
    routers=[router],
    errors=ERRORS,
    read_models=[(UsersProjection, UsersView), (RevokedTokensProjection, RevokedTokensView)],
    publishes={IDENTITY_USER_EVENTS: PUBLIC_EVENTS},
    resources={  # the key file is read here, at start-up, never at import
        ISSUER_RESOURCE: lambda runtime: TokenIssuer.from_settings(runtime.settings),
        THROTTLE_RESOURCE: login_throttle,
    },
    token_verifier=lambda runtime: runtime.resources[ISSUER_RESOURCE].verifier(),
    # Logged-out tokens, disabled users, tokens from before a password change or role change:
    # refused on every route that takes a token (ASVS 5.0 V7.4.1, V7.4.2).
    token_revocations=lambda runtime: runtime.read_model(RevokedTokensView).view,
    on_startup=bootstrap_admin,
)
app = service.create_app()
