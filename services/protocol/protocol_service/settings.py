"""Everything configurable about the protocol service, from the environment."""

from __future__ import annotations

from portal_web import ServiceSettings
from pydantic import Field


class ProtocolSettings(ServiceSettings):
    postgres_dbname: str = "protocol"

    protocol_registry_url: str = Field(
        "http://127.0.0.1:8201", description="Base URL of the protocol registry (or simulator)"
    )
    protocol_registry_timeout_seconds: float = 2.0
    protocol_retry_base_seconds: float = 1.0
    protocol_retry_max_seconds: float = 30.0
    # A new registration wakes the registrar at once; this poll is the fallback (retries that
    # come due, a replica whose pending view follower is on standby).
    protocol_registrar_poll_seconds: float = 1.0
    protocol_registrar_concurrency: int = 4
