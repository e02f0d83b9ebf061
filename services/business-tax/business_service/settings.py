"""Everything configurable about the business service, from the environment."""

from __future__ import annotations

from portal_web import ServiceSettings


class BusinessSettings(ServiceSettings):
    postgres_dbname: str = "business"

    # The municipal information system (or its simulator). A business user may wait on its
    # answer: better a quick 503 than a hung page.
    municipal_system_url: str = "http://127.0.0.1:8204"
    municipal_system_timeout_seconds: float = 2.0
