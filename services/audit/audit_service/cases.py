"""What makes a case out of the archive (SPEC X-1), as pure functions: what an event refers to,
and the causal order of a case's entries.

A case is one aggregate, its root (a request, a fine), and every aggregate of any service whose
events refer to the root's id: for a request, its protocol registration (its `document_id`), the
notifications about it (their `request_id`), notifications' record of its protocol number; for
a fine, its payments (their `payable_id`). The references are read from the events' data: every
UUID in any string, and every human number (`2026/000042`, the form of `portal_events.numbering`
and of the registry's protocol numbers), however deep.

Human numbers find a case's root, but do not make an aggregate part of a case: the requests'
numbers and the registry's protocol numbers have the same form and both run from 1 each year,
so `2026/000017` is, in general, one request's number and another document's protocol number.
Ids are unique; they alone join aggregates to a case.

The kit's bookkeeping aggregates (topics `portal:...`, such as the idempotency records, whose
stored results repeat the ids they created) and the year counters refer to nothing, so they
never join a case; nor do the audit service's own records (the auditors' reads name the cases
they looked at: the trail, not the case, holds them).
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, cast
from uuid import UUID

from portal_events.contracts import Contract, all_contracts
from portal_events.envelope import event_id_for
from portal_events.history import aggregate_type, occurred

AUDIT_SERVICE = "audit"

_UUID = re.compile(
    r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"
)
_HUMAN_NUMBER = re.compile(r"(?<![\d/])\d{4}/\d{6}(?![\d/])")


def is_human_number(text: str) -> bool:
    """Whether `text` is a human number such as `2026/000042` (a request's, a protocol's)."""
    return _HUMAN_NUMBER.fullmatch(text) is not None


def refers(service: str, topic: str) -> bool:
    """Whether events of this topic (of `service`) may join cases (see the module docstring)."""
    return (
        service != AUDIT_SERVICE
        and not topic.startswith("portal:")
        and aggregate_type(topic) != "YearCounter"
    )


def references(data: Any) -> set[str]:
    """Every UUID (in its usual lower-case form) and human number in `data`, recursively."""
    found: set[str] = set()
    for text in _strings(data):
        found.update(str(UUID(match)) for match in _UUID.findall(text))
        found.update(_HUMAN_NUMBER.findall(text))
    return found


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


# --- causal order ----------------------------------------------------------------------------

_CONTRACTS: Sequence[type[Contract]] = all_contracts()


def published_ids(service: str, aggregate_id: str, version: int) -> Iterator[str]:
    """The envelope ids any public contract made of this stored event would have (the relay's
    ids are deterministic: `portal_events.envelope.event_id_for`); a consumer stamps the
    envelope's id as the causation id of what it stores."""
    for contract in _CONTRACTS:
        # event_id_for reads only the contract's TYPE and VERSION, which the class has.
        yield str(event_id_for(service, aggregate_id, version, cast(Contract, contract)))


def causal_order(entries: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """History entries (`portal_events.history.entry`) in causal order.

    An aggregate's events stay in version order; an event caused by a message another entry
    published (its causation id is that message's envelope id) comes after that entry; the
    rest by when they occurred (then service and position, for a stable answer).
    """
    entries = list(entries)
    publisher: dict[str, int] = {}
    if any(e.get("causation_id") for e in entries):
        for index, e in enumerate(entries):
            for event_id in published_ids(e["service"], e["aggregate_id"], e["version"]):
                publisher[event_id] = index
    previous_version: dict[tuple[str, str, int], int] = {
        (e["service"], e["aggregate_id"], e["version"]): index for index, e in enumerate(entries)
    }
    waiting_for = [0] * len(entries)
    followers: list[list[int]] = [[] for _ in entries]
    for index, e in enumerate(entries):
        causes = {
            previous_version.get((e["service"], e["aggregate_id"], e["version"] - 1)),
            publisher.get(e.get("causation_id") or ""),
        }
        for cause in causes - {None, index}:
            assert cause is not None
            followers[cause].append(index)
            waiting_for[index] += 1

    def key(index: int) -> tuple[datetime, str, int, int]:
        e = entries[index]
        return (_when(e), e["service"], e["position"], index)

    ready = [key(i) for i, count in enumerate(waiting_for) if count == 0]
    heapq.heapify(ready)
    ordered: list[int] = []
    while ready:
        index = heapq.heappop(ready)[-1]
        ordered.append(index)
        for follower in followers[index]:
            waiting_for[follower] -= 1
            if waiting_for[follower] == 0:
                heapq.heappush(ready, key(follower))
    if len(ordered) < len(entries):  # a cycle cannot happen; were it to, lose no entry
        placed = set(ordered)
        ordered += sorted((i for i in range(len(entries)) if i not in placed), key=key)
    return [entries[i] for i in ordered]


_NEVER = datetime.min.replace(tzinfo=UTC)


def _when(entry: dict[str, Any]) -> datetime:
    moment = occurred(entry)
    if moment is None:
        return _NEVER
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
