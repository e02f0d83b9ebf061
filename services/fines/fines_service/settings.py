"""Everything configurable about the fines service, from the environment."""

from __future__ import annotations

from portal_web import ServiceSettings
from pydantic import Field


class FinesSettings(ServiceSettings):
    postgres_dbname: str = "fines"

    fines_register_url: str = Field(
        "http://127.0.0.1:8203", description="Base URL of the fines register (or its simulator)"
    )
    # A citizen waits on the register's answer: better a quick 503 than a hung page.
    fines_register_timeout_seconds: float = 2.0
    fines_catalogue_path: str = Field(
        "", description="A catalogue TOML file to use instead of the one shipped with the service"
    )
    portal_public_url: str = Field(
        "http://127.0.0.1:8000",
        description="The gateway's public base URL as browsers reach it (for redirect URLs)",
    )

    def eventsourcing_env(self) -> dict[str, str]:
        # The Application reads its catalogue from its environment (see FinesApplication).
        return super().eventsourcing_env() | {"FINES_CATALOGUE_PATH": self.fines_catalogue_path}
