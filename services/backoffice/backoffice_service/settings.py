"""Everything configurable about the backoffice service, from the environment."""

from __future__ import annotations

from portal_web import ServiceSettings
from pydantic import Field


class BackofficeSettings(ServiceSettings):
    postgres_dbname: str = "backoffice"

    backoffice_deadlines_file: str = Field(
        "",
        description="A deadlines TOML file to use instead of the one shipped with the service "
        "(BACKOFFICE_DEADLINES_FILE)",
    )

    def eventsourcing_env(self) -> dict[str, str]:
        # The Application reads its deadlines from its environment (see BackofficeApplication).
        return super().eventsourcing_env() | {
            "BACKOFFICE_DEADLINES_FILE": self.backoffice_deadlines_file
        }
