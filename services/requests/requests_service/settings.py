"""Everything configurable about the requests service, from the environment. The rest (Kafka,
token checks, read-your-writes timeout) is the kit's `ServiceSettings`; the consumer group and
the dead-letter topic follow from the service's name."""

from __future__ import annotations

from portal_web import ServiceSettings


class RequestsSettings(ServiceSettings):
    postgres_dbname: str = "requests"
