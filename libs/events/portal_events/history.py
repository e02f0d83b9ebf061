"""A stored event as auditors read it (SPEC X-1): the entries of a case's history and the lines of
the NDJSON export, built the same way wherever they are made (the audit service's archive, the
command-line export from a service's own database).

An entry shows the event's stable name, its aggregate type (from the stored topic, never a
Python class name), when it happened, who did it and why (the metadata the kit stamps on every
stored event: actor, correlation id, causation id) and its data, decoded from the library's
JSON (UUIDs, dates and times as ISO text). Secrets an event carries (a password hash) are
masked: auditors need to see that a password changed, not its hash.

An export line also carries what verification needs: `state_sha256` and `hash` (the event's
link in the service's chain, `portal_events.chain`) and `state`, the stored bytes exactly (as
text), except for events with a masked field, whose state is left out. Offline verification
(`python -m audit_service.cli verify --export FILE`) recomputes the chain from the lines and
checks that each line's `state` gives its digest and its `data`.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from uuid import UUID

SECRET_FIELDS = frozenset({"password_hash"})
"""Event attributes never shown: masked in entries and exports."""

MASKED = "[masked]"


def aggregate_type(topic: str) -> str:
    """`Request` for a stored topic such as `requests:Request.Replied`."""
    path = topic.rsplit(":", 1)[-1]
    return path.rsplit(".", 1)[0] if "." in path else path


def event_name(topic: str) -> str:
    """`Replied` for `...:Request.Replied`: an event's stable name, from its stored topic."""
    return topic.rsplit(":", 1)[-1].rsplit(".", 1)[-1]


def _plain(value: Any) -> Any:
    """The library's transcoded JSON made plain: `{"_type_": ..., "_data_": ...}` becomes its data
    (a UUID in its usual form), recursively."""
    if isinstance(value, dict):
        if set(value) == {"_type_", "_data_"}:
            data = _plain(value["_data_"])
            if value["_type_"] == "uuid_hex" and isinstance(data, str):
                return str(UUID(data))
            return data
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def decode_state(state: str) -> tuple[str | None, dict[str, Any], dict[str, Any], list[str]]:
    """(occurred_at ISO text, metadata, data with secrets masked, names of masked fields) of a
    stored event's state."""
    raw = json.loads(state)
    timestamp = _plain(raw.pop("timestamp", None))
    metadata = _plain(raw.pop("metadata", None) or {})
    data = _plain(raw)
    masked = sorted(name for name in data if name in SECRET_FIELDS)
    for name in masked:
        data[name] = MASKED
    return timestamp, metadata, data, masked


def entry(
    *,
    service: str,
    position: int,
    aggregate_id: UUID | str,
    version: int,
    topic: str,
    state: str,
    state_sha256: str,
    chain_hash: str,
    with_state: bool = False,
) -> dict[str, Any]:
    """One stored event for people (a case's history) or, `with_state`, one export line."""
    occurred_at, metadata, data, masked = decode_state(state)
    line: dict[str, Any] = {
        "service": service,
        "position": position,
        "aggregate_type": aggregate_type(topic),
        "aggregate_id": str(aggregate_id),
        "version": version,
        "name": event_name(topic),
        "topic": topic,
        "occurred_at": occurred_at,
        "actor": metadata.get("actor") or {"id": "system", "role": "system"},
        "correlation_id": metadata.get("correlation_id"),
        "causation_id": metadata.get("causation_id"),
        "data": data,
        "masked": masked,
        "state_sha256": state_sha256,
        "hash": chain_hash,
    }
    if with_state:
        line["state"] = None if masked else state
    return line


def occurred(line: dict[str, Any]) -> datetime | None:
    value = line.get("occurred_at")
    return datetime.fromisoformat(value) if isinstance(value, str) else None
