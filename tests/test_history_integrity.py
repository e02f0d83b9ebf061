"""Tamper evidence end to end (SPEC X-1, issue 10 "Tests that must exist"): a real sealer
publishes a service's stored events and a checkpoint into the real audit topics, the real audit
service archives them, and `python -m audit_service.cli verify` (what `make verify-history`
runs) compares the service's database with that archive: untouched -> exit 0; an UPDATE of one
stored event's state -> non-zero naming that event; a DELETE of one -> non-zero naming the gap.

The shared stack's own databases are never edited (other engineers' tests run on it): the
tampered service is a small one of the test's own, in a fresh database, sealed under a service
name of its own; its rows are taken out of the archive again at the end.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from eventsourcing.domain import Aggregate, event
from portal_events.application import ServiceApplication
from portal_events.sealer import Sealer, request_checkpoint

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]
ARCHIVED_TIMEOUT_SECONDS = 60.0


class Note(Aggregate):
    TOPIC = "integrity:Note"

    class Created(Aggregate.Created):  # never stored: notes are created by `Written`
        TOPIC = "integrity:Note.Created"

    class Written(Aggregate.Created):
        TOPIC = "integrity:Note.Written"
        text: str

    class Amended(Aggregate.Event):
        TOPIC = "integrity:Note.Amended"
        text: str

    @event(Written)
    def __init__(self, text: str) -> None:
        self.text = text

    @event(Amended)
    def amend(self, text: str) -> None:
        self.text = text


@dataclass(frozen=True)
class SealedService:
    name: str
    database: str
    events: int


def _postgres_env(infra) -> dict[str, str]:
    return {
        "POSTGRES_HOST": infra.pg_host,
        "POSTGRES_PORT": str(infra.pg_port),
        "POSTGRES_USER": infra.pg_user,
        "POSTGRES_PASSWORD": infra.pg_password,
    }


@pytest.fixture
def sealed_service(infra, fresh_database):
    """Twelve events of a service of the test's own, sealed by a real `Sealer` and archived by
    the real audit service (every event and a checkpoint at the head)."""
    name = f"integrity_{uuid.uuid4().hex[:8]}"
    database = fresh_database("integrity")
    application_class = type("IntegrityApplication", (ServiceApplication,), {"name": name})
    app = application_class(env=infra.pg_env(database) | {"CREATE_TABLE": "y"})
    try:
        for number in range(4):
            note = Note(text=f"σημείωμα {number}")
            note.amend(f"σημείωμα {number}, διορθωμένο")
            note.amend(f"σημείωμα {number}, τελικό")
            app.save(note)
        sealer = Sealer(
            app, service=name, bootstrap_servers=infra.kafka_bootstrap, checkpoint_seconds=3600
        )
        asyncio.run(_seal_until_archived(infra, sealer, name, head=12))
    finally:
        app.close()
    yield SealedService(name, database, events=12)
    with infra.connect("audit") as conn:  # the archive forgets the test's service again
        conn.execute("DELETE FROM archived_events WHERE service = %s", (name,))
        conn.execute("DELETE FROM history_checkpoints WHERE service = %s", (name,))


async def _seal_until_archived(infra, sealer: Sealer, service: str, head: int) -> None:
    task = asyncio.create_task(sealer.run())
    try:
        deadline = time.monotonic() + ARCHIVED_TIMEOUT_SECONDS
        while not sealer.leading:
            await _unless_late(task, deadline, "the sealer did not start")
        request_checkpoint(sealer.app.recorder.datastore)  # type: ignore[attr-defined]
        while await asyncio.to_thread(_archived, infra, service) != (head, head):
            await _unless_late(task, deadline, f"{service} not archived up to position {head}")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def _unless_late(task: asyncio.Task[None], deadline: float, what: str) -> None:
    if task.done():
        task.result()  # the sealer's failure, if it failed
    if time.monotonic() > deadline:
        raise TimeoutError(f"{what} within {ARCHIVED_TIMEOUT_SECONDS:g} s")
    await asyncio.sleep(0.1)


def _archived(infra, service: str) -> tuple[int, int]:
    """(archived events, last checkpoint's position) of `service` in the audit database."""
    with infra.connect("audit") as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM archived_events WHERE service = %(s)s), "
            "(SELECT coalesce(max(position), -1) FROM history_checkpoints WHERE service = %(s)s)",
            {"s": service},
        ).fetchone()
    assert row is not None
    return row[0], row[1]


def verify(infra, *args: str) -> subprocess.CompletedProcess[str]:
    """The command `make verify-history ARGS=...` runs."""
    return subprocess.run(
        [sys.executable, "-m", "audit_service.cli", "verify", *args],
        env=os.environ | _postgres_env(infra),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def verify_sealed(infra, service: SealedService) -> subprocess.CompletedProcess[str]:
    # --no-record: the test's service stays off GET /audit/integrity.
    return verify(infra, "--service", service.name, "--database", service.database, "--no-record")


def test_an_untouched_history_passes(infra, sealed_service):
    verified = verify_sealed(infra, sealed_service)

    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert f"{sealed_service.name}: ok: 12 events up to position 12" in verified.stdout
    assert "events/s" in verified.stdout


def test_an_updated_event_state_fails_naming_that_event(infra, sealed_service):
    """Issue 10: an UPDATE of one stored event's state in PostgreSQL -> fails, names it."""
    table = f"{sealed_service.name}_events"
    with infra.connect(sealed_service.database) as conn:
        aggregate_id, version = conn.execute(
            f"UPDATE {table} SET state = convert_to(replace(convert_from(state, 'UTF8'), "
            "'διορθωμένο', 'αλλαγμένο'), 'UTF8') WHERE notification_id = 5 "
            "RETURNING originator_id, originator_version"
        ).fetchone()

    verified = verify_sealed(infra, sealed_service)

    assert verified.returncode != 0
    assert (
        f"{sealed_service.name}: changed at position 5 (aggregate {aggregate_id}, "
        f"version {version})" in verified.stdout
    ), verified.stdout


def test_a_deleted_event_fails_naming_the_gap(infra, sealed_service):
    """Issue 10: a DELETE of one -> fails and names the gap."""
    table = f"{sealed_service.name}_events"
    with infra.connect(sealed_service.database) as conn:
        aggregate_id, version = conn.execute(
            f"DELETE FROM {table} WHERE notification_id = 9 "
            "RETURNING originator_id, originator_version"
        ).fetchone()

    verified = verify_sealed(infra, sealed_service)

    assert verified.returncode != 0
    expected = (
        f"{sealed_service.name}: deleted at position 9 (aggregate {aggregate_id}, "
        f"version {version}): gap"
    )
    assert expected in verified.stdout, verified.stdout


def test_make_verify_history_passes_on_the_whole_stack(infra):
    """`make verify-history` as it is: every service in the archive against its database."""
    verified = subprocess.run(
        ["make", "-s", "verify-history"],
        cwd=ROOT,
        env=os.environ | _postgres_env(infra),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )

    assert verified.returncode == 0, verified.stdout + verified.stderr
