"""Replaying everything into the NDJSON export (SPEC X-1): a whole service's history, or every
service's, one line per stored event (`portal_events.history.entry(..., with_state=True)`, the
format of `GET /audit/events`), streamed: nothing is held in memory but one fetch of rows.

Two sources: the archive (the audit service's copy, the default) or a service's own database,
whose chain is recomputed on the way, so that the `hash` of every line is the one the service's
events give now (`verify --export` then compares it with the checkpoints). Checkpoints can be
written beside, one JSON object per line, for offline verification.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

from eventsourcing.postgres import PostgresDatastore
from portal_events.chain import GENESIS, link
from portal_events.history import entry
from portal_events.progress import Progress
from psycopg import sql

from audit_service.archive import Archive, ExportFilter
from audit_service.verification import (
    AUDIT_DATABASE,
    Postgres,
    events_table,
    log_rows,
    snapshot,
    streamed,
)


def archive_lines(
    postgres: Postgres, service: str | None, audit_database: str = AUDIT_DATABASE
) -> Iterator[dict[str, Any]]:
    """The archived events of `service` (of every service for None) as export lines."""
    datastore = PostgresDatastore(
        dbname=audit_database,
        host=postgres.host,
        port=str(postgres.port),
        user=postgres.user,
        password=postgres.password,
        pool_size=1,
    )
    try:
        yield from Archive(datastore).export(ExportFilter(service=service))
    finally:
        datastore.close()


def archived_count(
    postgres: Postgres, service: str | None, audit_database: str = AUDIT_DATABASE
) -> int:
    with postgres.connect(audit_database) as conn:
        row = conn.execute(
            "SELECT count(*) FROM archived_events WHERE %(service)s::text IS NULL "
            "OR service = %(service)s",
            {"service": service},
        ).fetchone()
    return row[0] if row else 0


def database_lines(
    postgres: Postgres, service: str, database: str | None = None
) -> Iterator[dict[str, Any]]:
    """Every stored event of `service` from its own database (`database`, by default the
    service's), with the chain recomputed from them."""
    chain = GENESIS
    with snapshot(postgres, database or service) as conn:
        for position, aggregate_id, version, topic, state in log_rows(conn, service):
            digest = hashlib.sha256(state).digest()
            chain = link(chain, position, aggregate_id, version, topic, digest)
            yield entry(
                service=service,
                position=position,
                aggregate_id=aggregate_id,
                version=version,
                topic=topic,
                state=state.decode(),
                state_sha256=digest.hex(),
                chain_hash=chain.hex(),
                with_state=True,
            )


def database_count(postgres: Postgres, service: str, database: str | None = None) -> int:
    with postgres.connect(database or service) as conn:
        query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(events_table(service)))
        row = conn.execute(query).fetchone()
    return row[0] if row else 0


def checkpoint_lines(
    postgres: Postgres, services: Iterable[str] | None, audit_database: str = AUDIT_DATABASE
) -> Iterator[dict[str, Any]]:
    """The archived checkpoints of `services` (every service's for None), in position order."""
    wanted = None if services is None else list(services)
    with snapshot(postgres, audit_database) as conn:
        rows = streamed(
            conn,
            "checkpoints",
            sql.SQL(
                "SELECT service, position, head_hash, events, checkpointed_at "
                "FROM history_checkpoints WHERE %s::text[] IS NULL OR service = ANY(%s) "
                "ORDER BY service, position"
            ),
            (wanted, wanted),
        )
        for service, position, head_hash, events, checkpointed_at in rows:
            yield {
                "service": service,
                "position": position,
                "head_hash": bytes(head_hash).hex(),
                "events": events,
                "checkpointed_at": checkpointed_at.isoformat(),
            }


def write_lines(
    lines: Iterable[dict[str, Any]], out: TextIO, progress: Progress | None = None
) -> int:
    """Write `lines` as NDJSON to `out`; how many."""
    written = 0
    dumps = json.dumps
    for line in lines:
        out.write(dumps(line, ensure_ascii=False, separators=(",", ":")))
        out.write("\n")
        written += 1
        if progress is not None and written % 1000 == 0:
            progress.add(1000)
    if progress is not None:
        progress.add(written % 1000)
    return written
