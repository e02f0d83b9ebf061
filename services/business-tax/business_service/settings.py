"""Everything configurable about the business service, from the environment."""

from __future__ import annotations

from portal_web import ServiceSettings
from pydantic import Field


class BusinessSettings(ServiceSettings):
    postgres_dbname: str = "business"

    # The municipal information system (or its simulator). A business user may wait on its
    # answer: better a quick 503 than a hung page.
    municipal_system_url: str = "http://127.0.0.1:8204"
    municipal_system_timeout_seconds: float = 2.0

    business_rules_path: str = Field(
        "", description="A rules TOML file to use instead of the one shipped with the service"
    )
    portal_public_url: str = Field(
        "http://127.0.0.1:8000",
        description="The gateway's public base URL as browsers reach it (for redirect URLs)",
    )

    # B-1: the warrant syncer visits every known ΑΦΜ this often; a list request syncs too, and
    # records the sync (the copy's `as_of`) at most this often.
    warrant_sync_interval_seconds: float = 300.0
    warrant_syncer_poll_seconds: float = 10.0

    # B-2, B-3: the filer files accepted declarations and reports paid debts, retrying with
    # exponential backoff while the system is down.
    filer_poll_seconds: float = 1.0
    filer_concurrency: int = 2
    filing_retry_base_seconds: float = 2.0
    filing_retry_max_seconds: float = 300.0

    # B-2: quotes that ran out unpaid are rejected (`quote_expired`) this often.
    quote_expirer_poll_seconds: float = 30.0

    def eventsourcing_env(self) -> dict[str, str]:
        # The Application reads its rules from its environment (see BusinessApplication).
        return super().eventsourcing_env() | {"BUSINESS_RULES_PATH": self.business_rules_path}
