"""Everything configurable about the fines service, from the environment."""

from __future__ import annotations

from portal_web import ServiceSettings
from pydantic import Field


class FinesSettings(ServiceSettings):
    postgres_dbname: str = "fines"

    fines_register_url: str = Field(
        "http://127.0.0.1:8203", description="Base URL of the fines register (or its simulator)"
    )
    fines_register_timeout_seconds: float = 2.0
    portal_public_url: str = Field(
        "http://127.0.0.1:8000", description="The gateway's public base URL, as browsers see it"
    )
