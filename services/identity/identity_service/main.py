"""The identity service (SPEC ID-1..ID-4), declared from the kit.

Run: `uvicorn identity_service.main:app`."""

from __future__ import annotations

from portal_events.topics import IDENTITY_USER_EVENTS
from portal_web.service import Runtime, Service

from identity_service.api import ERRORS, ISSUER_RESOURCE, THROTTLE_RESOURCE, router
from identity_service.application import IdentityApplication
from identity_service.integration import PUBLIC_EVENTS
from identity_service.settings import IdentitySettings
from identity_service.tokens import TokenIssuer
from identity_service.views import (
    LoginThrottle,
    RevokedTokensProjection,
    RevokedTokensView,
    UsersProjection,
    UsersView,
)


def bootstrap_admin(runtime: Runtime) -> None:
    """SPEC ID-4: the first admin, from PORTAL_ADMIN_EMAIL and PORTAL_ADMIN_PASSWORD if set."""
    email, password = runtime.settings.portal_admin_email, runtime.settings.portal_admin_password
    if email and password:
        runtime.application.bootstrap_admin(email, password.get_secret_value())


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
        THROTTLE_RESOURCE: lambda runtime: LoginThrottle.of(runtime.application, runtime.settings),
    },
    token_verifier=lambda runtime: runtime.resources[ISSUER_RESOURCE].verifier(),
    on_startup=bootstrap_admin,
)
app = service.create_app()
