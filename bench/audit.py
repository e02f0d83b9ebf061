"""Benchmark: the auditors' tools (issue 10 "Benchmark"), against the running stack.

Prints figures; asserts nothing. Usage:
    make bench-audit                         # defaults; starts the stack when it is not up
    .venv/bin/python bench/audit.py --events 500000 --reads 200

- Chain verification, events/s: `audit_service.verification.verify_service` over a bench service
  of `--events` stored events (database `bench_audit`, made once and kept: many aggregates saved
  per transaction) against an archive of its hashes and a checkpoint (database
  `bench_audit_archive`, the audit database's tables), as `make verify-history` reads them.
- Export, events/s: the CLI's export of that service from its database (the chain recomputed)
  and from the archive, written as NDJSON to /dev/null; and GET /audit/events through the
  gateway as an auditor (the stack's whole archive, streamed).
- GET /audit/cases/{id}, p50/p99: a request submitted by a citizen and replied to 49 times by a
  clerk through the API (a case of 50 events), read `--reads` times once archived.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import time
import uuid

import httpx
from audit_service import export
from audit_service.archive import DDL
from audit_service.verification import Postgres, verify_service
from eventsourcing.domain import Aggregate, event
from figures import ms, percentile
from portal_events.application import ServiceApplication
from portal_events.chain import GENESIS, link
from portal_stack import ensure_up

SERVICE = "bench_audit"
ARCHIVE = "bench_audit_archive"
PER_TRANSACTION = 1000
CASE_EVENTS = 50
ARCHIVED_TIMEOUT_SECONDS = 120


class Parcel(Aggregate):
    TOPIC = "bench_audit:Parcel"

    class Created(Aggregate.Created):  # never stored: parcels are created by `Registered`
        TOPIC = "bench_audit:Parcel.Created"

    class Registered(Aggregate.Created):
        TOPIC = "bench_audit:Parcel.Registered"
        label: str

    @event(Registered)
    def __init__(self, label: str) -> None:
        self.label = label


class BenchApplication(ServiceApplication):
    name = SERVICE


def stored_events(postgres: Postgres, database: str, table: str) -> int:
    with postgres.connect("postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone():
            conn.execute(f'CREATE DATABASE "{database}"')
            return 0
    with postgres.connect(database) as conn:
        if conn.execute("SELECT to_regclass(%s)", (table,)).fetchone() == (None,):
            return 0
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def prepare_service(postgres: Postgres, events: int) -> None:
    """The bench service's events and their archive, made once (kept for the next run)."""
    have = stored_events(postgres, SERVICE, f"{SERVICE}_events")
    if have < events:
        print(f"storing {events - have:,} events in database {SERVICE} (once) ...", flush=True)
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_HOST": postgres.host,
            "POSTGRES_PORT": str(postgres.port),
            "POSTGRES_USER": postgres.user,
            "POSTGRES_PASSWORD": postgres.password,
            "POSTGRES_DBNAME": SERVICE,
            "CREATE_TABLE": "y",
        }
        app = BenchApplication(env=env)
        try:
            for start in range(have, events, PER_TRANSACTION):
                count = min(PER_TRANSACTION, events - start)
                app.save(*(Parcel(label=f"parcel {start + i:08d}") for i in range(count)))
        finally:
            app.close()
    if stored_events(postgres, ARCHIVE, "archived_events") != max(events, have):
        print(f"archiving them in database {ARCHIVE} ...", flush=True)
        archive_log(postgres)
    for database in (SERVICE, ARCHIVE):  # as an aged database: hint bits set, statistics
        with postgres.connect(database, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")


def archive_log(postgres: Postgres) -> None:
    """What the sealer and the audit service would have archived of the bench service."""
    head, position, count = GENESIS, 0, 0
    with postgres.connect(ARCHIVE) as archive, postgres.connect(SERVICE) as log:
        for statement in DDL:
            archive.execute(statement)
        archive.execute("DELETE FROM archived_events WHERE service = %s", (SERVICE,))
        archive.execute("DELETE FROM history_checkpoints WHERE service = %s", (SERVICE,))
        columns = "service, position, aggregate_id, version, topic, state, state_sha256, hash"
        with archive.cursor().copy(f"COPY archived_events ({columns}) FROM STDIN") as copy:
            rows = log.cursor(name="log")
            rows.execute(
                f"SELECT notification_id, originator_id, originator_version, topic, state "
                f"FROM {SERVICE}_events ORDER BY notification_id"
            )
            for position, aggregate_id, version, topic, state in rows:
                digest = hashlib.sha256(state).digest()
                head = link(head, position, aggregate_id, version, topic, digest)
                copy.write_row(
                    (SERVICE, position, aggregate_id, version, topic, state.decode(), digest, head)
                )
                count += 1
        archive.execute(
            "INSERT INTO history_checkpoints VALUES (%s, %s, %s, %s, now())",
            (SERVICE, position, head, count),
        )


def bench_verification(postgres: Postgres) -> None:
    for run in (1, 2):
        result = verify_service(postgres, SERVICE, audit_database=ARCHIVE)
        state = "ok" if result.ok else f"FAILED: {result.problem_text()}"
        print(
            f"  chain verification (run {run}): {result.events:,} events in "
            f"{result.seconds:.2f} s, {result.events_per_second:,.0f} events/s ({state})"
        )


def bench_cli_export(postgres: Postgres) -> None:
    sources = {
        "from the service's database": export.database_lines(postgres, SERVICE),
        "from the archive": export.archive_lines(postgres, SERVICE, ARCHIVE),
    }
    for label, lines in sources.items():
        with open(os.devnull, "w", encoding="utf-8") as sink:
            started = time.perf_counter()
            written = export.write_lines(lines, sink)
            elapsed = time.perf_counter() - started
        print(f"  CLI export {label}: {written:,} events, {written / elapsed:,.0f} events/s")


def staff_token(portal: httpx.Client, admin: dict[str, str], role: str, **extra: str) -> dict:
    email, password = (
        f"bench-{role}-{uuid.uuid4().hex[:10]}@example.gr",
        "Bench-" + uuid.uuid4().hex[:10],
    )
    created = portal.post(
        "/identity/staff",
        json={"email": email, "password": password, "role": role} | extra,
        headers=admin,
    )
    created.raise_for_status()
    return token(portal, email, password)


def token(portal: httpx.Client, email: str, password: str) -> dict[str, str]:
    response = portal.post("/identity/token", data={"username": email, "password": password})
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def bench_gateway(stack, reads: int) -> None:
    with httpx.Client(base_url=stack.gateway_url, timeout=120) as portal:
        admin = token(portal, stack.admin_email, stack.admin_password)
        auditor = staff_token(portal, admin, "auditor")

        started, lines = time.perf_counter(), 0
        with portal.stream("GET", "/audit/events", headers=auditor) as response:
            response.raise_for_status()
            for _ in response.iter_lines():
                lines += 1
        elapsed = time.perf_counter() - started
        print(f"  GET /audit/events: {lines:,} events, {lines / elapsed:,.0f} events/s")

        clerk = staff_token(portal, admin, "clerk", department="citizen_services")
        email, password = f"bench-citizen-{uuid.uuid4().hex[:10]}@example.gr", "Bench-2026-citizen"
        portal.post(
            "/identity/users", json={"kind": "citizen", "email": email, "password": password}
        ).raise_for_status()
        citizen = token(portal, email, password)
        submitted = portal.post(
            "/requests",
            json={"kind": "complaint", "subject": "Λακκούβα", "text": "Στη γωνία Ερμού."},
            headers=citizen,
        )
        submitted.raise_for_status()
        case = submitted.json()["id"]
        for number in range(CASE_EVENTS - 1):
            portal.post(
                f"/requests/{case}/reply", json={"text": f"Απάντηση {number}"}, headers=clerk
            ).raise_for_status()
        deadline = time.perf_counter() + ARCHIVED_TIMEOUT_SECONDS
        while True:
            history = portal.get(f"/audit/cases/{case}", headers=auditor)
            if history.status_code == 200 and len(history.json()["entries"]) >= CASE_EVENTS:
                break
            if time.perf_counter() > deadline:
                raise TimeoutError(f"case {case} not archived whole: {history.text[:300]}")
            time.sleep(0.2)
        entries = len(history.json()["entries"])
        timings = []
        for _ in range(reads):
            started = time.perf_counter()
            portal.get(f"/audit/cases/{case}", headers=auditor).raise_for_status()
            timings.append(time.perf_counter() - started)
        print(
            f"  GET /audit/cases/{{id}} ({entries} events, {reads} reads): "
            f"p50 {ms(percentile(timings, 50))}   p99 {ms(percentile(timings, 99))}"
        )


def main(args: argparse.Namespace, stack) -> None:
    postgres = Postgres.from_env()
    prepare_service(postgres, args.events)
    print(f"audit: a bench service of {args.events:,} stored events")
    bench_verification(postgres)
    bench_cli_export(postgres)
    bench_gateway(stack, args.reads)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000, help="stored events (>= 200,000)")
    parser.add_argument("--reads", type=int, default=100, help="GET /audit/cases/{id} reads")
    arguments = parser.parse_args()
    main(arguments, ensure_up())
