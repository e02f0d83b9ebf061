"""A mapper that stamps every stored domain event with who did it and why (DESIGN: metadata).

Services enable it with `MAPPER_TOPIC = "portal_events.mapper:MetadataMapper"` in their
Application's env. The metadata travels inside the stored event state under `metadata`; the
library's `@event` methods only receive the attributes named in their signatures, so aggregates
never see it, while auditors and the relay do.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.persistence import Mapper, StoredEvent

from portal_events.context import current_metadata

METADATA = "metadata"
MAPPER_TOPIC = "portal_events.mapper:MetadataMapper"


class MetadataMapper(Mapper[Any]):
    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        if METADATA not in vars(domain_event):
            object.__setattr__(domain_event, METADATA, current_metadata())
        return super().to_stored_event(domain_event)


def event_metadata(domain_event: Any) -> dict[str, Any]:
    """The metadata recorded with a domain event (empty for events stored without it)."""
    return dict(vars(domain_event).get(METADATA) or {})
