"""Identity's configuration, from the environment (names as the stack launcher sets them).
Read-your-writes waits `READ_YOUR_WRITES_TIMEOUT_SECONDS` at most (the base's setting)."""

from __future__ import annotations

from pathlib import Path

from portal_web import ServiceSettings
from pydantic import Field, SecretStr


class IdentitySettings(ServiceSettings):
    jwt_private_key_file: Path | None = Field(
        None, description="PEM of the EC P-256 key that signs tokens (ES256); required to run"
    )
    token_ttl_seconds: int = Field(900, ge=60, le=86400)

    # The first admin, created at start-up unless the address exists (SPEC ID-4).
    portal_admin_email: str | None = None
    portal_admin_password: SecretStr | None = None

    # Log-in throttling (SPEC ID-1, expected): failures per window before 429.
    login_window_seconds: int = 900
    login_max_failures_per_account: int = 5
    login_max_failures_per_address: int = 20
