"""Verifying that no service's stored history was edited (SPEC X-1, tamper evidence).

Every service's sealer chains its stored events (`portal_events.chain`) and publishes each
event's link and, every minute and on demand, a checkpoint of the head; the audit service keeps
both in its own database (tables `archived_events` and `history_checkpoints`), out of reach of
whoever can edit a service's database.

Verification recomputes a service's chain from the service's OWN events table and compares it,
in one streaming merge by position, with the archive:

- an event whose recomputed link differs from the archived hash was CHANGED;
- an archived position missing from the log was DELETED (a gap);
- a position in the log that the archive lacks, below the archive's head, was INSERTED;
- positions after the archive's head are not sealed yet: counted, not a failure;
- a checkpoint whose head hash differs from the chain recomputed from the log at its position
  fails too: it is what catches an archive edited to match an edited log.

After a problem the comparison goes on from the archive's hash, so that each edited event is
named, not only the first. `verify_export` does the same offline, from the lines of an NDJSON
export (`portal_events.history.entry(..., with_state=True)`).

Both ends are read in REPEATABLE READ snapshots, the archive's first: the sealer archives only
what the service stored, so everything in the archive's snapshot is in the later log snapshot.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import psycopg
from portal_events import history
from portal_events.chain import GENESIS, link
from psycopg import sql

AUDIT_DATABASE = "audit"
MAX_PROBLEMS = 100
"""Problems kept per service (the rest are counted): a mass edit names its first hundred."""
FETCH_ROWS = 10_000

CHANGED, DELETED, INSERTED, CHECKPOINT, MISSING = (
    "changed",
    "deleted",
    "inserted",
    "checkpoint",
    "missing",
)
EDITED_LINE, BAD_STATE, BAD_DATA, OUT_OF_ORDER = "edited", "state", "data", "order"


@dataclass(frozen=True)
class Problem:
    """One thing that does not hold, naming the exact event where there is one."""

    kind: str
    service: str
    position: int | None
    detail: str
    aggregate_id: UUID | str | None = None
    version: int | None = None

    def __str__(self) -> str:
        where = f"{self.service}: {self.kind}"
        if self.position is not None:
            where += f" at position {self.position}"
        if self.aggregate_id is not None:
            where += f" (aggregate {self.aggregate_id}, version {self.version})"
        return f"{where}: {self.detail}"


@dataclass
class Verification:
    """The outcome for one service."""

    service: str
    events: int = 0
    """Stored events read (from the log, or lines of an export)."""
    position: int = 0
    """The last position verified: the archive's head (or the export's last line)."""
    unsealed: int = 0
    """Events after the archive's head: not sealed yet, so not verifiable yet."""
    checkpoints: int = 0
    digest_only: int = 0
    """Export lines whose state is masked: verified by their digest, not their data."""
    anchored_at: int | None = None
    """An export that does not start at the service's first event is verified from here on."""
    problems: list[Problem] = field(default_factory=list)
    problem_count: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.problem_count == 0

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0

    def add(self, problem: Problem) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)

    def problem_text(self) -> str | None:
        """The first problem, and how many more: what `record_verification` keeps."""
        if self.ok:
            return None
        more = self.problem_count - 1
        return str(self.problems[0]) + (f" (and {more} more)" if more else "")

    def summary(self) -> str:
        result = "ok" if self.ok else f"FAILED ({self.problem_count} problems)"
        line = (
            f"{self.service}: {result}: {self.events:,} events up to position {self.position:,}"
            f", {self.checkpoints:,} checkpoints, {self.events_per_second:,.0f} events/s"
        )
        if self.unsealed:
            line += f", {self.unsealed:,} not yet sealed"
        if self.digest_only:
            line += f", {self.digest_only:,} with masked state verified by digest only"
        if self.anchored_at is not None:
            line += f", verified from position {self.anchored_at:,} (the export starts there)"
        return line


# --- the merge --------------------------------------------------------------------------------

LogRow = tuple[int, UUID, int, str, bytes]
"""(position, aggregate id, version, topic, state bytes): a row of the service's events table."""
ArchivedRow = tuple[int, UUID, int, bytes]
"""(position, aggregate id, version, hash) from `archived_events`."""
CheckpointRow = tuple[int, bytes]
"""(position, head hash) from `history_checkpoints`."""


def verify_chain(
    service: str,
    log: Iterable[LogRow],
    archived: Iterable[ArchivedRow],
    checkpoints: Iterable[CheckpointRow],
) -> Verification:
    """Compare the chain recomputed from `log` with the archive; all three in position order."""
    result = Verification(service)
    started = time.perf_counter()
    archive_rows = iter(archived)
    checkpoint_rows = iter(checkpoints)
    sha256 = hashlib.sha256
    chain = GENESIS  # recomputed from the log alone: what checkpoints are compared with
    reference = GENESIS  # the archive's hash of the last archived position passed
    stored = 0
    archive = next(archive_rows, None)
    checkpoint = next(checkpoint_rows, None)

    checkpoint_failed = False

    def check(checkpoint: CheckpointRow, chain: bytes) -> None:
        # Once the recomputed chain diverges it differs at every later checkpoint: the first
        # one is named.
        nonlocal checkpoint_failed
        result.checkpoints += 1
        if chain != checkpoint[1] and not checkpoint_failed:
            checkpoint_failed = True
            result.add(
                Problem(
                    CHECKPOINT,
                    service,
                    checkpoint[0],
                    "the chain recomputed from the service's events differs from the "
                    "checkpoint's head hash (an event at or before it was changed, deleted "
                    "or inserted, or the archive was edited to match)",
                )
            )

    for position, aggregate_id, version, topic, state in log:
        while checkpoint is not None and checkpoint[0] < position:
            check(checkpoint, chain)
            checkpoint = next(checkpoint_rows, None)
        while archive is not None and archive[0] < position:
            result.add(_deleted(service, archive))
            reference = archive[3]
            archive = next(archive_rows, None)
        digest = sha256(state).digest()
        previous, chain = chain, link(chain, position, aggregate_id, version, topic, digest)
        stored += 1
        if archive is None:
            result.unsealed += 1
        elif archive[0] == position:
            expected = archive[3]
            if chain != expected and (
                previous == reference
                or link(reference, position, aggregate_id, version, topic, digest) != expected
            ):
                result.add(
                    Problem(
                        CHANGED,
                        service,
                        position,
                        "its hash differs from the archived one (the stored event was changed)",
                        aggregate_id,
                        version,
                    )
                )
            reference = expected
            result.position = position
            archive = next(archive_rows, None)
        else:
            result.add(
                Problem(
                    INSERTED,
                    service,
                    position,
                    "the archive has no event at this position (it was inserted)",
                    aggregate_id,
                    version,
                )
            )
    while archive is not None:
        result.add(_deleted(service, archive))
        result.position = archive[0]
        archive = next(archive_rows, None)
    while checkpoint is not None:
        check(checkpoint, chain)
        checkpoint = next(checkpoint_rows, None)
    result.events = stored
    result.seconds = time.perf_counter() - started
    return result


def _deleted(service: str, archived: ArchivedRow) -> Problem:
    position, aggregate_id, version, _ = archived
    return Problem(
        DELETED,
        service,
        position,
        "gap: the archived event is missing from the service's events (it was deleted)",
        aggregate_id,
        version,
    )


# --- from the databases -------------------------------------------------------------------------


@dataclass(frozen=True)
class Postgres:
    """Where the databases are: POSTGRES_HOST/PORT/USER/PASSWORD as the services read them,
    by default the local stack's. A database on a cluster of its own (a busy service's, in
    production layouts) is found at POSTGRES_HOST_<DATABASE> (e.g. POSTGRES_HOST_REQUESTS)."""

    host: str = "127.0.0.1"
    port: int = 54329
    user: str = "postgres"
    password: str = "postgres"  # noqa: S105 - the local stack's, as for `make rebuild-worklist`
    hosts: Mapping[str, str] = field(default_factory=dict)  # database -> its cluster's host

    @classmethod
    def from_env(cls) -> Postgres:
        prefix = "POSTGRES_HOST_"
        return cls(
            host=os.environ.get("POSTGRES_HOST", cls.host),
            port=int(os.environ.get("POSTGRES_PORT", cls.port)),
            user=os.environ.get("POSTGRES_USER", cls.user),
            password=os.environ.get("POSTGRES_PASSWORD", cls.password),
            hosts={
                name.removeprefix(prefix).lower(): value
                for name, value in os.environ.items()
                if name.startswith(prefix) and value
            },
        )

    def host_of(self, dbname: str) -> str:
        return self.hosts.get(dbname.lower(), self.host)

    def connect(self, dbname: str, **kwargs: Any) -> psycopg.Connection[Any]:
        return psycopg.connect(
            host=self.host_of(dbname),
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=dbname,
            **kwargs,
        )


def events_table(service: str) -> str:
    """The eventsourcing Application's table: `<application name>_events`, and every service's
    Application is named after the service."""
    return f"{service.lower()}_events"


ARCHIVED_SERVICES = sql.SQL(
    """
    WITH RECURSIVE archived(service) AS (
        (SELECT service FROM archived_events ORDER BY service LIMIT 1)
        UNION ALL
        SELECT (SELECT a.service FROM archived_events a WHERE a.service > archived.service
                ORDER BY a.service LIMIT 1)
        FROM archived WHERE archived.service IS NOT NULL
    )
    SELECT service FROM archived WHERE service IS NOT NULL
    UNION SELECT DISTINCT service FROM history_checkpoints
    ORDER BY service
    """
)
"""Every service in the archive (a skip scan of the primary key, not a scan of every row)."""


def archived_services(conn: psycopg.Connection[Any]) -> list[str]:
    return [row[0] for row in conn.execute(ARCHIVED_SERVICES)]


def streamed(
    conn: psycopg.Connection[Any], name: str, query: sql.Composable, params: Iterable[Any] = ()
) -> Iterator[tuple[Any, ...]]:
    """The rows of `query` through a server-side cursor, fetched in large batches (inside the
    connection's transaction)."""
    with conn.cursor(name=name) as cursor:
        cursor.itersize = FETCH_ROWS
        cursor.execute(query, tuple(params))
        while rows := cursor.fetchmany(FETCH_ROWS):
            yield from rows


LOG_QUERY = sql.SQL(
    "SELECT notification_id, originator_id, originator_version, topic, state FROM {} "
    "ORDER BY notification_id"
)


def log_rows(conn: psycopg.Connection[Any], service: str) -> Iterator[LogRow]:
    return streamed(conn, "log", LOG_QUERY.format(sql.Identifier(events_table(service))))  # type: ignore[return-value]


def verify_service(
    postgres: Postgres,
    service: str,
    *,
    database: str | None = None,
    audit_database: str = AUDIT_DATABASE,
) -> Verification:
    """Verify one service's events (in `database`, by default the service's own) against the
    archive in `audit_database`."""
    database = database or service
    with ExitStack() as stack:
        archive = stack.enter_context(snapshot(postgres, audit_database))
        archive.execute("SELECT 1")  # the archive's snapshot is taken before the log's
        try:
            log = stack.enter_context(snapshot(postgres, database))
        except psycopg.OperationalError as error:
            return _missing(service, f"cannot read database {database!r}: {error}".strip())
        table = events_table(service)
        if log.execute("SELECT to_regclass(%s)", (table,)).fetchone() == (None,):
            return _missing(service, f"database {database!r} has no table {table}")
        archived = streamed(
            archive,
            "archived",
            sql.SQL(
                "SELECT position, aggregate_id, version, hash FROM archived_events "
                "WHERE service = %s ORDER BY position"
            ),
            (service,),
        )
        checkpoints = streamed(
            archive,
            "checkpoints",
            sql.SQL(
                "SELECT position, head_hash FROM history_checkpoints "
                "WHERE service = %s ORDER BY position"
            ),
            (service,),
        )
        return verify_chain(service, log_rows(log, service), archived, checkpoints)


@contextmanager
def snapshot(postgres: Postgres, dbname: str) -> Iterator[psycopg.Connection[Any]]:
    """A read-only REPEATABLE READ transaction: one consistent view of a database."""
    with postgres.connect(dbname) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        with conn.transaction():
            yield conn


def _missing(service: str, detail: str) -> Verification:
    result = Verification(service)
    result.add(Problem(MISSING, service, None, detail))
    return result


def verify_archived_services(
    postgres: Postgres,
    *,
    services: Iterable[str] | None = None,
    database: str | None = None,
    audit_database: str = AUDIT_DATABASE,
) -> Iterator[Verification]:
    """Verify each of `services` (by default every service in the archive), one by one."""
    if services is None:
        with postgres.connect(audit_database) as conn:
            services = archived_services(conn)
    for service in services:
        yield verify_service(postgres, service, database=database, audit_database=audit_database)


# --- offline, from an export ----------------------------------------------------------------------


@dataclass
class _ExportChain:
    verification: Verification
    hash: bytes | None = None  # None: no line of the service read yet
    position: int = -1
    checkpoints: list[tuple[int, bytes]] = field(default_factory=list)
    """The service's checkpoints not yet passed, in position order."""


def verify_export(lines: Iterable[str], checkpoints: Iterable[str] = ()) -> list[Verification]:
    """Verify an NDJSON export (lines of `history.entry(..., with_state=True)`, each service's
    lines in position order, services possibly interleaved) and, if given, checkpoint lines
    (`{"service", "position", "head_hash", ...}`, as `export --checkpoints` writes them).

    A line whose `state` is present must give its `state_sha256` and re-derive to the same line
    (data, actor, names...); a masked line is verified by its digest only. A service's first line
    is linked from GENESIS; if it is not the service's first event (an export of a range), the
    chain is verified from that line on (`anchored_at`). A checkpoint is compared where the
    export has its position; one inside the export's range whose position is missing fails."""
    started = time.perf_counter()
    chains: dict[str, _ExportChain] = {}
    pending: dict[str, list[tuple[int, bytes]]] = {}
    for text in checkpoints:
        if text.strip():
            point = json.loads(text)
            pending.setdefault(point["service"], []).append(
                (int(point["position"]), bytes.fromhex(point["head_hash"]))
            )
    for points in pending.values():
        points.sort()

    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        line = json.loads(text)
        service = line["service"]
        state = chains.get(service)
        if state is None:
            state = chains[service] = _ExportChain(
                Verification(service), checkpoints=pending.pop(service, [])
            )
        _verify_line(state, line, number)
    for service, points in pending.items():  # checkpoints of services the export lacks
        chains[service] = _ExportChain(Verification(service), checkpoints=points)
    results = []
    for state in chains.values():
        _pass_checkpoints(state, None)
        state.verification.seconds = time.perf_counter() - started
        results.append(state.verification)
    return results


def _verify_line(state: _ExportChain, line: dict[str, Any], number: int) -> None:
    result = state.verification
    service, position = result.service, int(line["position"])
    aggregate_id, version = UUID(line["aggregate_id"]), int(line["version"])

    def problem(kind: str, detail: str) -> None:
        result.add(
            Problem(kind, service, position, f"line {number}: {detail}", aggregate_id, version)
        )

    if position <= state.position:
        problem(OUT_OF_ORDER, f"position not after the previous line's ({state.position})")
        return
    result.events += 1
    digest = bytes.fromhex(line["state_sha256"])
    stored = line.get("state")
    if stored is None:
        result.digest_only += 1
    elif hashlib.sha256(stored.encode()).digest() != digest:
        problem(BAD_STATE, "its state does not give its state_sha256 (the state was edited)")
    else:
        derived = history.entry(
            service=service,
            position=position,
            aggregate_id=aggregate_id,
            version=version,
            topic=line["topic"],
            state=stored,
            state_sha256=line["state_sha256"],
            chain_hash=line["hash"],
            with_state=True,
        )
        edited = sorted(
            key for key in derived.keys() | line.keys() if derived.get(key) != line.get(key)
        )
        if edited:
            problem(BAD_DATA, f"{', '.join(edited)} not as its stored state says (edited)")
    claimed = bytes.fromhex(line["hash"])
    previous = GENESIS if state.hash is None else state.hash
    if link(previous, position, aggregate_id, version, line["topic"], digest) != claimed:
        if state.hash is None:
            result.anchored_at = position  # a range: nothing before it to link from
        else:
            problem(
                EDITED_LINE,
                "its hash does not follow from the line before (this line, or one before it, "
                "was changed, deleted or inserted)",
            )
    _pass_checkpoints(state, position)
    if state.checkpoints and state.checkpoints[0][0] == position:
        result.checkpoints += 1
        if state.checkpoints.pop(0)[1] != claimed:
            problem(CHECKPOINT, "the checkpoint's head hash at this position differs")
    state.hash, state.position = claimed, position
    result.position = position


def _pass_checkpoints(state: _ExportChain, position: int | None) -> None:
    """Checkpoints before `position` (all that remain, for None) have been passed: each one
    after the export's first line and without a line at its position is a missing event."""
    result = state.verification
    while state.checkpoints and (position is None or state.checkpoints[0][0] < position):
        point, _ = state.checkpoints.pop(0)
        if state.hash is not None and point > state.position and position is not None:
            result.checkpoints += 1
            result.add(
                Problem(
                    CHECKPOINT,
                    result.service,
                    point,
                    "the export has no line at this checkpoint's position (deleted)",
                )
            )
