"""The archive: every service's stored events as their sealers published them, and the chains'
checkpoints, in the audit service's database (SPEC X-1).

Fed from Kafka (`audit.history`, `audit.checkpoints`; `integration.py`) idempotently: a message
delivered again inserts nothing (`ON CONFLICT DO NOTHING` on the primary keys). The audit
service never reads another service's tables; it holds its own copy of every stored event,
private ones included, exactly as stored (the state's bytes, its digest and its link in the
service's chain), which is what the case histories, the export and the offline verification
read. Tables (helper tools read them by these names):

    archived_events(service, position, aggregate_id, version, topic, state, state_sha256, hash,
                    occurred_at, actor_id, actor_role, correlation_id, causation_id)
    history_checkpoints(service, position, head_hash, events, checkpointed_at)
    case_references(reference, service, aggregate_id, first_position, first_occurred_at)

`case_references` indexes, for each id and human number an event mentions (`cases.references`),
the aggregates that mention it and where first: how a case is found (`find_root`) and what it
is made of (`case_events`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, LiteralString
from uuid import UUID

import psycopg
from eventsourcing.postgres import PostgresDatastore
from portal_events.contracts import HistoryCheckpointV1, StoredEventSealedV1
from portal_events.history import aggregate_type, decode_state, entry
from psycopg.rows import dict_row

from audit_service import cases

DDL: tuple[LiteralString, ...] = (
    """CREATE TABLE IF NOT EXISTS archived_events (
        service text NOT NULL,
        position bigint NOT NULL,
        aggregate_id uuid NOT NULL,
        version int NOT NULL,
        topic text NOT NULL,
        state text NOT NULL,
        state_sha256 bytea NOT NULL,
        hash bytea NOT NULL,
        occurred_at timestamptz,
        actor_id text,
        actor_role text,
        correlation_id text,
        causation_id text,
        PRIMARY KEY (service, position))""",
    "CREATE INDEX IF NOT EXISTS archived_events_aggregate "
    "ON archived_events (aggregate_id, version)",
    """CREATE TABLE IF NOT EXISTS history_checkpoints (
        service text NOT NULL,
        position bigint NOT NULL,
        head_hash bytea NOT NULL,
        events bigint NOT NULL,
        checkpointed_at timestamptz NOT NULL,
        PRIMARY KEY (service, position))""",
    """CREATE TABLE IF NOT EXISTS case_references (
        reference text NOT NULL,
        service text NOT NULL,
        aggregate_id uuid NOT NULL,
        first_position bigint NOT NULL,
        first_occurred_at timestamptz,
        PRIMARY KEY (reference, service, aggregate_id))""",
)

_KEEP_EVENT: LiteralString = """
INSERT INTO archived_events (service, position, aggregate_id, version, topic, state,
    state_sha256, hash, occurred_at, actor_id, actor_role, correlation_id, causation_id)
VALUES (%(service)s, %(position)s, %(aggregate_id)s, %(version)s, %(topic)s, %(state)s,
    %(state_sha256)s, %(hash)s, %(occurred_at)s, %(actor_id)s, %(actor_role)s,
    %(correlation_id)s, %(causation_id)s)
ON CONFLICT DO NOTHING"""

# A service's events arrive in the order of its log, so the first row kept is the first mention.
_KEEP_REFERENCE: LiteralString = """
INSERT INTO case_references (reference, service, aggregate_id, first_position, first_occurred_at)
VALUES (%(reference)s, %(service)s, %(aggregate_id)s, %(position)s, %(occurred_at)s)
ON CONFLICT DO NOTHING"""

_KEEP_CHECKPOINT: LiteralString = """
INSERT INTO history_checkpoints (service, position, head_hash, events, checkpointed_at)
VALUES (%(service)s, %(position)s, %(head_hash)s, %(events)s, %(checkpointed_at)s)
ON CONFLICT DO NOTHING"""

_ENTRY_COLUMNS: LiteralString = (
    "service, position, aggregate_id, version, topic, state, state_sha256, hash"
)

EXPORT_CHUNK = 2000
"""Rows fetched per round trip by the export's server-side cursor."""


@dataclass(frozen=True)
class CaseRoot:
    """The aggregate a case is about."""

    service: str
    aggregate_type: str
    aggregate_id: UUID


@dataclass(frozen=True)
class ExportFilter:
    """Which archived events an export holds: one service's or all; occurred in [start, end);
    of one stable event name."""

    service: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    event_name: str | None = None


@dataclass(frozen=True)
class Checkpoint:
    service: str
    position: int
    head_hash: str
    events: int
    checkpointed_at: datetime


class Archive:
    """The archive's tables in the audit service's database (see the module docstring)."""

    def __init__(self, datastore: PostgresDatastore) -> None:
        self.datastore = datastore
        with datastore.transaction(commit=True) as cursor:
            for statement in DDL:
                cursor.execute(statement)

    # --- written by the consumer ---------------------------------------------------------------

    def keep_event(self, sealed: StoredEventSealedV1) -> bool:
        """Archive one stored event and index what it refers to; False if it was already."""
        occurred_at, metadata, data, _ = decode_state(sealed.state)
        actor = metadata.get("actor") or {}
        row = {
            "service": sealed.service,
            "position": sealed.position,
            "aggregate_id": sealed.aggregate_id,
            "version": sealed.version,
            "topic": sealed.topic,
            "state": sealed.state,
            "state_sha256": bytes.fromhex(sealed.state_sha256),
            "hash": bytes.fromhex(sealed.hash),
            "occurred_at": datetime.fromisoformat(occurred_at) if occurred_at else None,
            "actor_id": actor.get("id"),
            "actor_role": actor.get("role"),
            "correlation_id": metadata.get("correlation_id"),
            "causation_id": metadata.get("causation_id"),
        }
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(_KEEP_EVENT, row)
            if cursor.rowcount != 1:
                return False
            if cases.refers(sealed.service, sealed.topic):
                own_id = str(sealed.aggregate_id)
                cursor.executemany(
                    _KEEP_REFERENCE,
                    [row | {"reference": ref} for ref in cases.references(data) - {own_id}],
                )
        return True

    def keep_checkpoint(self, checkpoint: HistoryCheckpointV1) -> bool:
        """Keep one checkpoint; False if it was kept already."""
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                _KEEP_CHECKPOINT,
                {
                    "service": checkpoint.service,
                    "position": checkpoint.position,
                    "head_hash": bytes.fromhex(checkpoint.head_hash),
                    "events": checkpoint.events,
                    "checkpointed_at": checkpoint.checkpointed_at,
                },
            )
            return cursor.rowcount == 1

    # --- cases -----------------------------------------------------------------------------------

    def find_root(self, reference: str) -> CaseRoot | None:
        """The aggregate `reference` names: the aggregate with that id if one is archived (the
        first created, should two services hold the id), else the one whose events mentioned
        the id or human number first; None when nothing does."""
        with self.datastore.get_connection() as connection:
            row = None
            if _is_uuid(reference):
                row = connection.execute(
                    "SELECT service, aggregate_id FROM archived_events "
                    "WHERE aggregate_id = %(id)s AND service <> %(audit)s "
                    "ORDER BY version, occurred_at LIMIT 1",
                    {"id": reference, "audit": cases.AUDIT_SERVICE},
                ).fetchone()
            if row is None:
                row = connection.execute(
                    "SELECT service, aggregate_id FROM case_references "
                    "WHERE reference = %(reference)s "
                    "ORDER BY first_occurred_at, service, first_position LIMIT 1",
                    {"reference": _normal(reference)},
                ).fetchone()
            if row is None:
                return None
            topic = connection.execute(
                "SELECT topic FROM archived_events WHERE service = %(service)s "
                "AND aggregate_id = %(aggregate_id)s ORDER BY version LIMIT 1",
                row,
            ).fetchone()
        assert topic is not None  # a reference is only kept with its archived event
        return CaseRoot(row["service"], aggregate_type(topic["topic"]), row["aggregate_id"])

    def case_events(self, root: CaseRoot) -> list[dict[str, Any]]:
        """The entries (`portal_events.history.entry`) of the root's events and of those of
        every aggregate that refers to the root's id, in causal order (`cases.causal_order`)."""
        with self.datastore.get_connection() as connection:
            members = {(root.service, root.aggregate_id)} | {
                (row["service"], row["aggregate_id"])
                for row in connection.execute(
                    "SELECT service, aggregate_id FROM case_references "
                    "WHERE reference = %(reference)s",
                    {"reference": str(root.aggregate_id)},
                )
            }
            rows = connection.execute(
                f"SELECT {_ENTRY_COLUMNS} FROM archived_events "  # noqa: S608 - a literal
                "WHERE aggregate_id = ANY(%(ids)s) ORDER BY service, position",
                {"ids": sorted({aggregate_id for _, aggregate_id in members})},
            ).fetchall()
        return cases.causal_order(
            _entry(row) for row in rows if (row["service"], row["aggregate_id"]) in members
        )

    # --- export ------------------------------------------------------------------------------

    def export(self, wanted: ExportFilter) -> Iterator[dict[str, Any]]:
        """The archived events `wanted` selects, as export lines (`entry(..., with_state=True)`),
        by service, then in each service's log order. Read through a server-side cursor, a chunk
        at a time, on a connection of its own (a long export holds no pooled connection)."""
        with (
            psycopg.connect(**self.datastore.pool.kwargs) as connection,
            connection.transaction(),
            connection.cursor(name="audit_export", row_factory=dict_row) as cursor,
        ):
            cursor.itersize = EXPORT_CHUNK
            cursor.execute(
                f"SELECT {_ENTRY_COLUMNS} FROM archived_events "  # noqa: S608 - a literal
                "WHERE (%(service)s::text IS NULL OR service = %(service)s) "
                "AND (%(start)s::timestamptz IS NULL OR occurred_at >= %(start)s) "
                "AND (%(end)s::timestamptz IS NULL OR occurred_at < %(end)s) "
                "AND (%(name)s::text IS NULL OR right(topic, length(%(name)s) + 1) "
                "IN ('.' || %(name)s, ':' || %(name)s)) "
                "ORDER BY service, position",
                {
                    "service": wanted.service,
                    "start": wanted.start,
                    "end": wanted.end,
                    "name": wanted.event_name,
                },
            )
            for row in cursor:
                yield _entry(row, with_state=True)

    # --- integrity ---------------------------------------------------------------------------

    def last_checkpoints(self) -> dict[str, Checkpoint]:
        """Each service's latest checkpoint (by position)."""
        with self.datastore.get_connection() as connection:
            rows = connection.execute(
                "SELECT DISTINCT ON (service) service, position, head_hash, events, "
                "checkpointed_at FROM history_checkpoints ORDER BY service, position DESC"
            ).fetchall()
        return {
            row["service"]: Checkpoint(
                service=row["service"],
                position=row["position"],
                head_hash=bytes(row["head_hash"]).hex(),
                events=row["events"],
                checkpointed_at=row["checkpointed_at"],
            )
            for row in rows
        }


def _entry(row: dict[str, Any], *, with_state: bool = False) -> dict[str, Any]:
    return entry(
        service=row["service"],
        position=row["position"],
        aggregate_id=row["aggregate_id"],
        version=row["version"],
        topic=row["topic"],
        state=row["state"],
        state_sha256=bytes(row["state_sha256"]).hex(),
        chain_hash=bytes(row["hash"]).hex(),
        with_state=with_state,
    )


def _is_uuid(text: str) -> bool:
    try:
        UUID(text)
    except ValueError:
        return False
    return True


def _normal(reference: str) -> str:
    """A reference as the index keeps it: a UUID in its usual lower-case form."""
    return str(UUID(reference)) if _is_uuid(reference) else reference
