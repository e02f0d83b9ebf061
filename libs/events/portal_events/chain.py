"""The hash chain over a service's stored events: what makes an edited history evident (X-1).

Every stored event (a row of the service's notification log) is linked to the one before it:

    hash(n) = SHA-256( hash(n-1) || canonical(n) )
    canonical(n) = position (8 bytes, big-endian) || aggregate id (16 bytes)
                   || version (8 bytes, big-endian) || len(topic) (4 bytes) || topic (UTF-8)
                   || SHA-256(state)

with `hash` of "before the first event" being `GENESIS` (32 zero bytes). `position` is the
notification id, `state` the stored bytes of the event (its data, timestamp and metadata: actor,
correlation and causation ids). Changing, deleting or inserting any stored event changes the hash
of that event and of every later one. The state enters through its digest so that an export may
mask a secret field (a password hash) and still be verified by sequence.

The positions of a log may have gaps (a transaction that failed used a number): the chain links
consecutive stored events, whatever their positions.
"""

from __future__ import annotations

import hashlib
import struct
from uuid import UUID

GENESIS = bytes(32)
"""The hash before a service's first event."""

_HEADER = struct.Struct(">q16sqI")


def state_digest(state: bytes) -> bytes:
    """SHA-256 of a stored event's state bytes."""
    return hashlib.sha256(state).digest()


def canonical(
    position: int, aggregate_id: UUID, version: int, topic: str, state_sha256: bytes
) -> bytes:
    """The bytes of one stored event that its link in the chain covers."""
    encoded_topic = topic.encode()
    return (
        _HEADER.pack(position, aggregate_id.bytes, version, len(encoded_topic))
        + encoded_topic
        + state_sha256
    )


def link(
    previous: bytes,
    position: int,
    aggregate_id: UUID,
    version: int,
    topic: str,
    state_sha256: bytes,
) -> bytes:
    """The hash of a stored event, given the hash of the one before it."""
    return hashlib.sha256(
        previous + canonical(position, aggregate_id, version, topic, state_sha256)
    ).digest()
