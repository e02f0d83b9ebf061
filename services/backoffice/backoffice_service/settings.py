"""Everything configurable about the backoffice service, from the environment."""

from __future__ import annotations

from portal_web import ServiceSettings


class BackofficeSettings(ServiceSettings):
    postgres_dbname: str = "backoffice"
