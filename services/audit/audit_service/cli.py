"""The auditors' command line (SPEC X-1): verify the services' histories, export them, ask for
checkpoints.

    python -m audit_service.cli verify [--service NAME [--database DB]] [--no-record]
        Recompute each service's chain from its own database and compare it with the audit
        archive's hashes and checkpoints (every service in the archive, or NAME). Prints per
        service the events, the position verified up to and events/s; exit 0 when all holds,
        1 naming each changed, deleted ("gap") or inserted event (service, position, aggregate
        id, version) or failing checkpoint. Events after the archive's head are "not yet
        sealed" (counted, not a failure). Each service's result is recorded for
        GET /audit/integrity unless --no-record. `make verify-history ARGS=...` runs it.

    python -m audit_service.cli verify --export FILE [--checkpoints FILE]
        Offline, no database: verify an NDJSON export (`export`, or GET /audit/events): every
        line's link in its service's chain, every line's state against its state_sha256 and
        its data (lines with a masked state are verified by digest only), and, with
        --checkpoints, the checkpoints `export --checkpoints` wrote (one JSON object per line:
        service, position, head_hash, events, checkpointed_at). An export of a range is
        verified from its first line of each service on.

    python -m audit_service.cli export [--service NAME] [--from-database [--database DB]]
                                       [--out FILE] [--checkpoints FILE]
        Replay a whole service's history (or every service's) into the NDJSON export, to FILE
        or stdout, with progress (events done, events/s, time left) on stderr. From the archive
        by default; --from-database reads the service's own events and recomputes the chain.
        --checkpoints FILE writes the archived checkpoints beside. `make export-history`.

    python -m audit_service.cli checkpoint [--service NAME [--database DB]] [--timeout S]
        Ask each service's sealer for a checkpoint now and wait until the archive holds one
        at or after the service's current head.

Every command takes --audit-database (default "audit"). The databases are found as the services
find theirs: POSTGRES_HOST, POSTGRES_PORT, POSTGRES_USER, POSTGRES_PASSWORD (default: the local
stack, 127.0.0.1:54329, postgres/postgres); a service's database is named after it. A database
on a PostgreSQL cluster of its own (docker-compose's `postgres-requests`, ...) is found at
POSTGRES_HOST_<DATABASE>, e.g. POSTGRES_HOST_REQUESTS=postgres-requests.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from typing import Any, TextIO

from portal_events.progress import Progress
from portal_events.sealer import request_checkpoint
from psycopg import sql
from psycopg.conninfo import make_conninfo

from audit_service import export
from audit_service.application import AuditApplication
from audit_service.settings import AuditSettings
from audit_service.verification import (
    AUDIT_DATABASE,
    Postgres,
    Verification,
    archived_services,
    events_table,
    verify_archived_services,
    verify_export,
)

OK, FAILED, USAGE = 0, 1, 2
CHECKPOINT_POLL_SECONDS = 0.2


def main(argv: list[str] | None = None) -> int:
    arguments = parser()
    args = arguments.parse_args(argv)
    if args.database and not args.service:
        arguments.error("--database needs --service (a database holds one service's events)")
    postgres = Postgres.from_env()
    return args.run(args, postgres)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="python -m audit_service.cli", description=__doc__.splitlines()[0]
    )
    commands = top.add_subparsers(required=True, metavar="verify|export|checkpoint")

    def command(name: str, run: Any, help: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help)
        sub.set_defaults(run=run)
        sub.add_argument("--service", help="one service (default: every archived one)")
        sub.add_argument("--database", help="the service's database (default: its name)")
        sub.add_argument("--audit-database", default=AUDIT_DATABASE, help="the archive's")
        return sub

    verify = command("verify", run_verify, "verify the services' chains")
    verify.add_argument("--no-record", action="store_true", help="do not record the results")
    verify.add_argument("--export", metavar="FILE", help="verify an NDJSON export offline")
    verify.add_argument("--checkpoints", metavar="FILE", help="checkpoints for --export")

    exporting = command("export", run_export, "replay histories into the NDJSON export")
    exporting.add_argument(
        "--from-database", action="store_true", help="read the service's own events"
    )
    exporting.add_argument("--out", metavar="FILE", help="default: stdout")
    exporting.add_argument("--checkpoints", metavar="FILE", help="write checkpoints here too")

    checkpoint = command("checkpoint", run_checkpoint, "ask the sealers for checkpoints")
    checkpoint.add_argument("--timeout", type=float, default=30.0, help="seconds (default 30)")
    return top


# --- verify -------------------------------------------------------------------------------------


def run_verify(args: argparse.Namespace, postgres: Postgres) -> int:
    if args.export:
        return _verify_export_file(args.export, args.checkpoints)
    if args.checkpoints:
        print("--checkpoints goes with --export (online, the archive's are used)", file=sys.stderr)
        return USAGE
    services = [args.service] if args.service else None
    results = []
    for result in verify_archived_services(
        postgres, services=services, database=args.database, audit_database=args.audit_database
    ):
        _print_result(result)
        results.append(result)
    if not results:
        print("no service has archived events yet: nothing to verify")
    if not args.no_record:
        _record(postgres, args.audit_database, results)
    return OK if all(result.ok for result in results) else FAILED


def _verify_export_file(path: str, checkpoints_path: str | None) -> int:
    with ExitStack() as stack:
        lines = stack.enter_context(open(path, encoding="utf-8"))
        checkpoints: Iterable[str] = ()
        if checkpoints_path:
            checkpoints = stack.enter_context(open(checkpoints_path, encoding="utf-8"))
        results = verify_export(lines, checkpoints)
    for result in results:
        _print_result(result)
    if not results:
        print(f"{path}: no lines")
    return OK if all(result.ok for result in results) else FAILED


def _print_result(result: Verification) -> None:
    print(result.summary())
    for problem in result.problems:
        print(f"  {problem}")
    if result.problem_count > len(result.problems):
        print(f"  ... and {result.problem_count - len(result.problems)} more")


def _record(postgres: Postgres, audit_database: str, results: list[Verification]) -> None:
    """Keep each result for GET /audit/integrity (an event of the audit service's own)."""
    if not results:
        return
    settings = AuditSettings(
        postgres_host=postgres.host_of(audit_database),
        postgres_port=postgres.port,
        postgres_user=postgres.user,
        postgres_password=postgres.password,
        postgres_dbname=audit_database,
    )
    app = AuditApplication(env=settings.eventsourcing_env())
    try:
        for result in results:
            app.record_verification(
                result.service,
                result.position,
                result.events,
                result.ok,
                result.problem_text(),
                result.events_per_second,
            )
    finally:
        app.close()


# --- export -------------------------------------------------------------------------------------


def run_export(args: argparse.Namespace, postgres: Postgres) -> int:
    with ExitStack() as stack:
        out: TextIO = sys.stdout
        if args.out:
            out = stack.enter_context(open(args.out, "w", encoding="utf-8"))
        if args.from_database:
            services = [args.service] if args.service else _archived(postgres, args)
            total = sum(export.database_count(postgres, s, args.database) for s in services)
            lines: Iterator[dict[str, Any]] = (
                line
                for service in services
                for line in export.database_lines(postgres, service, args.database)
            )
        else:
            services = [args.service] if args.service else None
            total = export.archived_count(postgres, args.service, args.audit_database)
            lines = export.archive_lines(postgres, args.service, args.audit_database)
        progress = Progress(total, sys.stderr, label="exporting")
        started = time.perf_counter()
        written = export.write_lines(lines, out, progress)
        progress.finish()
        elapsed = time.perf_counter() - started
        if args.checkpoints:
            with open(args.checkpoints, "w", encoding="utf-8") as file:
                export.write_lines(
                    export.checkpoint_lines(postgres, services, args.audit_database), file
                )
    rate = written / elapsed if elapsed > 0 else 0.0
    print(f"exported {written:,} events, {rate:,.0f} events/s", file=sys.stderr)
    return OK


def _archived(postgres: Postgres, args: argparse.Namespace) -> list[str]:
    with postgres.connect(args.audit_database) as conn:
        return archived_services(conn)


# --- checkpoint ---------------------------------------------------------------------------------


def run_checkpoint(args: argparse.Namespace, postgres: Postgres) -> int:
    services = [args.service] if args.service else _archived(postgres, args)
    heads = {}
    for service in services:
        database = args.database or service
        with postgres.connect(database) as conn:
            query = sql.SQL("SELECT coalesce(max(notification_id), 0) FROM {}").format(
                sql.Identifier(events_table(service))
            )
            heads[service] = conn.execute(query).fetchone()[0]  # type: ignore[index]
        request_checkpoint(
            make_conninfo(
                host=postgres.host_of(database),
                port=postgres.port,
                user=postgres.user,
                password=postgres.password,
                dbname=database,
            )
        )
    deadline = time.monotonic() + args.timeout
    waiting = dict(heads)
    with postgres.connect(args.audit_database, autocommit=True) as audit:
        while waiting:
            for service, head in list(waiting.items()):
                row = audit.execute(
                    "SELECT max(position) FROM history_checkpoints WHERE service = %s",
                    (service,),
                ).fetchone()
                if row and row[0] is not None and row[0] >= head:
                    print(f"{service}: checkpoint at position {row[0]:,} (head {head:,})")
                    del waiting[service]
            if waiting and time.monotonic() > deadline:
                for service, head in waiting.items():
                    print(
                        f"{service}: no checkpoint at or after position {head:,} in the archive "
                        f"after {args.timeout:g} s (is its sealer running, and the audit "
                        "service consuming audit.checkpoints?)",
                        file=sys.stderr,
                    )
                return FAILED
            if waiting:
                time.sleep(CHECKPOINT_POLL_SECONDS)
    return OK


if __name__ == "__main__":
    sys.exit(main())
