"""Identity's configuration, from the environment (names as the stack launcher sets them).
Read-your-writes waits `READ_YOUR_WRITES_TIMEOUT_SECONDS` at most (the base's setting).

The bootstrapped admin (ASVS 5.0 V6.3.2: no default account with a known password): outside
`PORTAL_ENVIRONMENT=local`, identity refuses to start (`check_admin_password`, called by the
start-up hook) when PORTAL_ADMIN_EMAIL is set without a
PORTAL_ADMIN_PASSWORD of at least 12 characters that is not a well-known one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from portal_web import ServiceSettings
from pydantic import Field, SecretStr, field_validator

from identity_service.throttle import IPNetwork, ThrottleLimits, parse_networks

ADMIN_PASSWORD_MIN_LENGTH = 12
# Passwords anyone can look up: the local stack's demo password (printed by `make up`, in the
# README and docker-compose.yml) and the usual first guesses. Compared casefolded.
WELL_KNOWN_ADMIN_PASSWORDS = frozenset(
    password.casefold()
    for password in (
        "Demo-Admin-2026!",
        "admin",
        "administrator",
        "password",
        "password123",
        "password1234",
        "changeme",
        "change-me-now",
        "123456789012",
        "qwertyuiopas",
        "adminadmin12",
        "Admin123456!",
    )
)


class AdminPasswordRefused(ValueError):
    """The bootstrapped admin's password is not fit for anything but the local stack."""


class IdentitySettings(ServiceSettings):
    jwt_private_key_file: Path | None = Field(
        None, description="PEM of the EC P-256 key that signs tokens (ES256); required to run"
    )
    token_ttl_seconds: int = Field(900, ge=60, le=86400)

    # `local`: the developer's stack, where the demo admin password is fine. Anything else is
    # treated as production.
    portal_environment: Literal["local", "production"] = "production"

    # The first admin, created at start-up unless the address exists (SPEC ID-4).
    portal_admin_email: str | None = None
    portal_admin_password: SecretStr | None = None

    # The proxies (the gateway) whose X-Forwarded-For is believed: comma-separated IPs or CIDRs.
    # None by default: the TCP peer is the client.
    trusted_proxies: str = ""

    # Log-in throttling (SPEC ID-1; see identity_service.throttle).
    login_window_seconds: int = Field(900, ge=1)
    login_max_failures_per_account_address: int = Field(5, ge=1)
    login_max_failures_per_address: int = Field(30, ge=1)
    login_delay_free_failures: int = Field(3, ge=0)
    login_delay_max_seconds: float = Field(4.0, ge=0, le=30)

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        parse_networks(value)  # a typo stops start-up, not every log-in
        return value

    @property
    def trusted_proxy_networks(self) -> tuple[IPNetwork, ...]:
        return parse_networks(self.trusted_proxies)

    @property
    def throttle_limits(self) -> ThrottleLimits:
        return ThrottleLimits(
            window_seconds=self.login_window_seconds,
            max_failures_per_account_address=self.login_max_failures_per_account_address,
            max_failures_per_address=self.login_max_failures_per_address,
            delay_free_failures=self.login_delay_free_failures,
            delay_max_seconds=self.login_delay_max_seconds,
        )


def check_admin_password(settings: IdentitySettings) -> None:
    """AdminPasswordRefused, with what to do, unless the bootstrapped admin's password is fit
    for `settings.portal_environment`."""
    if settings.portal_environment == "local" or not settings.portal_admin_email:
        return
    password = settings.portal_admin_password
    secret = password.get_secret_value() if password is not None else ""
    if len(secret) < ADMIN_PASSWORD_MIN_LENGTH:
        problem = "is not set" if not secret else "is shorter than 12 characters"
    elif secret.casefold() in WELL_KNOWN_ADMIN_PASSWORDS:
        problem = "is a well-known password (such as the local stack's demo password)"
    else:
        return
    raise AdminPasswordRefused(
        f"PORTAL_ADMIN_EMAIL is set but PORTAL_ADMIN_PASSWORD {problem}. Outside "
        f"PORTAL_ENVIRONMENT=local the bootstrapped admin needs a password of your own of at "
        f"least {ADMIN_PASSWORD_MIN_LENGTH} characters; or unset PORTAL_ADMIN_EMAIL."
    )
