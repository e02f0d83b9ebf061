"""Everything configurable about the business service, from the environment."""

from __future__ import annotations

from portal_web import ServiceSettings


class BusinessSettings(ServiceSettings):
    postgres_dbname: str = "business"
