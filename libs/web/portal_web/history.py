"""The kit's history routes, in every service (SPEC X-1): what only the service that owns an
aggregate can answer, because only it has the domain model to replay it.

`GET /{service}/history/aggregates/{id}/state?at=` replays one aggregate's stored events up to
an instant and answers its attributes then, for auditors and admins. The public gateway does not
route `/<service>/history/` (deploy/nginx/portal.conf.template): the audit service calls each
service on its own address, so that every auditor's read goes through the audit trail.

The state is the aggregate's attributes made plain JSON (ids, times, amounts, enums, nested
values), without the library's bookkeeping (`_id`, `_version`, `_pending_events`) but with when
it was created and last modified; secrets (`portal_events.history.SECRET_FIELDS`) are masked.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from collections.abc import Iterator, Mapping
from datetime import date, datetime, time
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from eventsourcing.utils import get_topic
from fastapi import APIRouter, Depends, Path, Query, Request
from portal_events.history import MASKED, SECRET_FIELDS, aggregate_type
from pydantic import AwareDatetime, BaseModel, Field

from portal_web.auth import Principal, require_roles
from portal_web.errors import ApiError, ErrorBody

AuditorOrAdmin = Annotated[Principal, Depends(require_roles("auditor", "admin"))]

# The library's bookkeeping on every aggregate: shown as `created_on` and `modified_on`, or not
# at all (the version is part of the answer; pending events are never part of a stored state).
_LIBRARY_ATTRIBUTES = {
    "_id": None,
    "_version": None,
    "_pending_events": None,
    "_created_on": "created_on",
    "_modified_on": "modified_on",
}


class AggregateStateAt(BaseModel):
    """An aggregate as it was at an instant, replayed from its stored events."""

    service: str = Field(examples=["requests"])
    aggregate_id: UUID = Field(
        description="The aggregate's id", examples=["3f2b8c1e-6d4a-4f5b-9c7e-1a2b3c4d5e6f"]
    )
    aggregate_type: str = Field(examples=["Request"], description="From the stored topic")
    version: int = Field(description="The version it had at `at`: its events up to then")
    at: datetime = Field(description="The instant asked for", examples=["2026-03-01T08:00:00Z"])
    state: dict[str, Any] = Field(
        description="Its attributes then, as JSON; secrets are shown as " + json.dumps(MASKED)
    )


def history_router(service: str) -> APIRouter:
    """The routes under `/{service}/history/`, for auditors and admins."""
    router = APIRouter(prefix=f"/{service}/history", tags=["history"])

    @router.get(
        "/aggregates/{aggregate_id}/state",
        response_model=AggregateStateAt,
        summary="An aggregate's state at an instant (auditors)",
        description=(
            "SPEC X-1: replays one of this service's aggregates up to `at` (its events at or "
            "before that instant) and answers its attributes then, with the version it had. "
            "`at` is ISO-8601 with a time zone, e.g. `2026-03-01T10:00:00Z` (a `+` offset "
            "written `%2B` in a URL). 404 when no event of it is stored at or before `at`. "
            "For auditors and admins; not routed by the public gateway (the audit service "
            "asks each service directly, recording the read in the audit trail)."
        ),
        responses={404: {"model": ErrorBody}},
    )
    def aggregate_state(
        request: Request,
        aggregate_id: Annotated[UUID, Path(description="Any aggregate id of this service")],
        at: Annotated[AwareDatetime, Query(description="The instant, ISO-8601 with offset")],
        _: AuditorOrAdmin,
    ) -> AggregateStateAt:
        application = request.app.state.runtime.application
        replayed = replay_until(application.events.get(aggregate_id), at)
        if replayed is None:
            raise ApiError(
                404,
                "not_found",
                f"No event of aggregate {aggregate_id} is stored at or before {at.isoformat()}.",
            )
        aggregate, topic = replayed
        return AggregateStateAt(
            service=service,
            aggregate_id=aggregate_id,
            aggregate_type=aggregate_type(topic),
            version=aggregate.version,
            at=at,
            state=aggregate_state_json(aggregate),
        )

    return router


def replay_until(events: Iterator[Any], at: datetime) -> tuple[Any, str] | None:
    """The aggregate made of `events` (oldest first) that happened at or before `at`, and its
    first event's stored topic; None when there is none. Events are in version order, and
    versions are stored in the order they happened, so the first one after `at` ends it."""
    aggregate: Any = None
    topic = ""
    for domain_event in events:
        if domain_event.timestamp > at:
            break
        if aggregate is None:
            topic = get_topic(type(domain_event))
        aggregate = domain_event.mutate(aggregate)
    return None if aggregate is None else (aggregate, topic)


def aggregate_state_json(aggregate: Any) -> dict[str, Any]:
    """The aggregate's attributes as JSON, its secrets masked (see the module docstring)."""
    state: dict[str, Any] = {}
    for name, value in vars(aggregate).items():
        if name in _LIBRARY_ATTRIBUTES:
            shown = _LIBRARY_ATTRIBUTES[name]
            if shown is not None:
                state[shown] = plain(value)
        else:
            state[name] = plain(value)
    return _masked(state)


def plain(value: Any) -> Any:
    """`value` as JSON values: ids and times as text, amounts as exact text, enums as their
    values, collections as lists (sets sorted), dataclasses and pydantic models as objects."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, enum.Enum):
        return plain(value.value)
    if isinstance(value, UUID | Decimal):
        return str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, BaseModel):
        return plain(value.model_dump())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(plain(key)): plain(item) for key, item in value.items()}
    if isinstance(value, set | frozenset):
        return sorted((plain(item) for item in value), key=_sort_key)
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return str(value)


def _sort_key(item: Any) -> str:
    return json.dumps(item, sort_keys=True, ensure_ascii=False)


def _masked(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: MASKED if key in SECRET_FIELDS else _masked(item) for key, item in value.items()
        }
    if isinstance(value, list):
        return [_masked(item) for item in value]
    return value
