"""Everything configurable about the requests service, from the environment."""

from __future__ import annotations

from portal_web import ServiceSettings


class RequestsSettings(ServiceSettings):
    postgres_dbname: str = "requests"

    consumer_group_id: str = "requests"
    dead_letter_topic: str = "requests.dead-letter"

    # Read-your-writes: how long a write waits for its projection before answering anyway.
    read_your_writes_timeout_seconds: float = 2.0
