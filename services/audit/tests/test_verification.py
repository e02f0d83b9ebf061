"""Verification of a service's history against the archive (SPEC X-1, issue 10 "Tamper
evidence"), on real PostgreSQL: a small service's events in a fresh database, an archive (the
audit database's tables) in another, holding the hashes and a checkpoint its sealer would have
published; then the service's rows are edited as an intruder would.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import pytest
from audit_service import cli, export
from audit_service.verification import (
    BAD_DATA,
    BAD_STATE,
    CHANGED,
    CHECKPOINT,
    DELETED,
    EDITED_LINE,
    INSERTED,
    MISSING,
    Postgres,
    Verification,
    verify_export,
    verify_service,
)
from eventsourcing.domain import Aggregate, event
from portal_events import chain
from portal_events.application import ServiceApplication

SERVICE = "ledger"

ARCHIVE_TABLES = """
CREATE TABLE archived_events (service text, position bigint, aggregate_id uuid, version int,
    topic text, state text, state_sha256 bytea, hash bytea, occurred_at timestamptz,
    actor_id text, actor_role text, correlation_id text, causation_id text,
    PRIMARY KEY (service, position));
CREATE TABLE history_checkpoints (service text, position bigint, head_hash bytea, events bigint,
    checkpointed_at timestamptz, PRIMARY KEY (service, position));
"""


class Account(Aggregate):
    TOPIC = "ledger:Account"

    class Created(Aggregate.Created):  # never stored: accounts are created by `Opened`
        TOPIC = "ledger:Account.Created"

    class Opened(Aggregate.Created):
        TOPIC = "ledger:Account.Opened"
        holder: str

    class Credited(Aggregate.Event):
        TOPIC = "ledger:Account.Credited"
        amount: int

    class PasswordSet(Aggregate.Event):
        TOPIC = "ledger:Account.PasswordSet"
        password_hash: str

    @event(Opened)
    def __init__(self, holder: str) -> None:
        self.holder = holder
        self.balance = 0

    @event(Credited)
    def credit(self, amount: int) -> None:
        self.balance += amount

    @event(PasswordSet)
    def set_password(self, password_hash: str) -> None:
        pass


class LedgerApplication(ServiceApplication):
    name = SERVICE


@dataclass
class Ledger:
    """The service's database, its archive's, and how to reach both."""

    postgres: Postgres
    database: str
    archive: str

    def log(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        with self.postgres.connect(self.database, autocommit=True) as conn:
            cursor = conn.execute(query, params)
            return cursor.fetchall() if cursor.description else []

    def event_at(self, position: int) -> tuple[UUID, int]:
        ((aggregate_id, version),) = self.log(
            "SELECT originator_id, originator_version FROM ledger_events "
            "WHERE notification_id = %s",
            position,
        )
        return aggregate_id, version

    def archive_the_log(self) -> None:
        """Archive every stored event with its link, and a checkpoint at the head: what the
        sealer and the audit service would have made of the log as it is now."""
        rows = self.log(
            "SELECT notification_id, originator_id, originator_version, topic, state "
            "FROM ledger_events ORDER BY notification_id"
        )
        head = chain.GENESIS
        with self.postgres.connect(self.archive, autocommit=True) as conn:
            conn.execute("DELETE FROM archived_events")
            for position, aggregate_id, version, topic, state in rows:
                digest = chain.state_digest(state)
                head = chain.link(head, position, aggregate_id, version, topic, digest)
                conn.execute(
                    "INSERT INTO archived_events (service, position, aggregate_id, version, "
                    "topic, state, state_sha256, hash) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                    (SERVICE, position, aggregate_id, version, topic, state.decode(), digest, head),
                )
            conn.execute(
                "INSERT INTO history_checkpoints VALUES (%s, %s, %s, %s, now()) "
                "ON CONFLICT DO NOTHING",
                (SERVICE, rows[-1][0], head, len(rows)),
            )

    def verify(self) -> Verification:
        return verify_service(
            self.postgres, SERVICE, database=self.database, audit_database=self.archive
        )


@pytest.fixture(scope="module")
def databases(infra, fresh_database) -> Ledger:
    """The service's database and the archive's, made once for the module."""
    postgres = Postgres(infra.pg_host, infra.pg_port, infra.pg_user, infra.pg_password)
    databases = Ledger(postgres, fresh_database("verification"), fresh_database("archive"))
    with postgres.connect(databases.archive, autocommit=True) as conn:
        conn.execute(ARCHIVE_TABLES)
    return databases


@pytest.fixture
def ledger(infra, databases) -> Ledger:
    """Ten events of three accounts (one setting a password, a secret exports mask), with a gap
    at position 6 (a number a failed transaction used), all archived and checkpointed."""
    databases.log("DROP TABLE IF EXISTS ledger_events")  # its positions start again at 1
    with databases.postgres.connect(databases.archive, autocommit=True) as conn:
        conn.execute("TRUNCATE archived_events, history_checkpoints")
    app = LedgerApplication(env=infra.pg_env(databases.database) | {"CREATE_TABLE": "y"})
    try:
        accounts = [Account(holder=name) for name in ("Ελένη", "Νίκος", "Μαρία")]
        accounts[0].credit(100)
        accounts[1].credit(5)
        app.save(*accounts)
        databases.log("SELECT nextval('ledger_events_notification_id_seq')")
        accounts[0].credit(20)
        accounts[2].set_password("$argon2id$secret")
        accounts[2].credit(7)
        accounts[1].credit(1)
        accounts[0].credit(3)
        app.save(*accounts)
    finally:
        app.close()
    databases.archive_the_log()
    return databases


def only(result: Verification, kind: str) -> list[Any]:
    return [p for p in result.problems if p.kind == kind]


def test_an_untouched_history_verifies(ledger):
    result = ledger.verify()

    assert result.ok, result.problems
    assert (result.events, result.position, result.checkpoints) == (10, 11, 1)
    assert result.events_per_second > 0


def test_events_after_the_archives_head_are_not_yet_sealed_not_a_failure(ledger):
    app = LedgerApplication(env={"PERSISTENCE_MODULE": "eventsourcing.postgres"} | _env(ledger))
    try:
        app.save(Account(holder="Γιώργος"))
    finally:
        app.close()

    result = ledger.verify()

    assert result.ok, result.problems
    assert (result.events, result.unsealed, result.position) == (11, 1, 11)


def _env(ledger: Ledger) -> dict[str, str]:
    return {
        "POSTGRES_HOST": ledger.postgres.host,
        "POSTGRES_PORT": str(ledger.postgres.port),
        "POSTGRES_USER": ledger.postgres.user,
        "POSTGRES_PASSWORD": ledger.postgres.password,
        "POSTGRES_DBNAME": ledger.database,
    }


def test_an_updated_state_fails_naming_that_event(ledger):
    """Issue 10: an UPDATE of one stored event's state -> fails and names that event."""
    aggregate_id, version = ledger.event_at(7)
    ledger.log(
        "UPDATE ledger_events SET state = convert_to(replace(convert_from(state, 'UTF8'), "
        "'\"amount\":20', '\"amount\":2000'), 'UTF8') "
        "WHERE notification_id = 7"
    )

    result = ledger.verify()

    assert not result.ok
    (changed,) = only(result, CHANGED)
    assert (changed.service, changed.position, changed.aggregate_id, changed.version) == (
        SERVICE,
        7,
        aggregate_id,
        version,
    )
    assert f"ledger: changed at position 7 (aggregate {aggregate_id}, version {version})" in str(
        changed
    )
    assert [p.kind for p in result.problems] == [CHANGED, CHECKPOINT]


def test_a_deleted_event_fails_naming_the_gap(ledger):
    """Issue 10: a DELETE of one -> fails and names the gap."""
    aggregate_id, version = ledger.event_at(4)
    ledger.log("DELETE FROM ledger_events WHERE notification_id = 4")

    result = ledger.verify()

    (deleted,) = only(result, DELETED)
    assert (deleted.position, deleted.aggregate_id, deleted.version) == (4, aggregate_id, version)
    assert "gap" in str(deleted)
    assert not only(result, CHANGED)  # the events after it are not blamed


def test_the_last_archived_event_deleted_is_a_gap_too(ledger):
    ledger.log("DELETE FROM ledger_events WHERE notification_id = 11")

    assert [(p.kind, p.position) for p in ledger.verify().problems] == [
        (DELETED, 11),
        (CHECKPOINT, 11),
    ]


def test_an_inserted_event_fails_naming_it(ledger):
    aggregate_id, _ = ledger.event_at(3)
    ledger.log(
        "INSERT INTO ledger_events (notification_id, originator_id, originator_version, topic, "
        "state) SELECT 6, originator_id, 99, topic, state FROM ledger_events "
        "WHERE notification_id = 3"
    )

    result = ledger.verify()

    (inserted,) = only(result, INSERTED)
    assert (inserted.position, inserted.aggregate_id, inserted.version) == (6, aggregate_id, 99)
    assert not only(result, CHANGED)


def test_an_archive_edited_to_match_is_caught_by_the_checkpoint(ledger):
    """Whoever edits a service's event and the archive's hashes to match cannot also rewrite
    the checkpoint the sealer published when the history was intact."""
    ledger.log(
        "UPDATE ledger_events SET state = convert_to(replace(convert_from(state, 'UTF8'), "
        "'\"amount\":100', '\"amount\":1'), 'UTF8') "
        "WHERE notification_id = 2"
    )
    ledger.archive_the_log()  # every archived hash recomputed from the edited log

    result = ledger.verify()

    assert [(p.kind, p.position) for p in result.problems] == [(CHECKPOINT, 11)]


def test_an_edited_checkpoint_fails(ledger):
    with ledger.postgres.connect(ledger.archive, autocommit=True) as conn:
        conn.execute("UPDATE history_checkpoints SET head_hash = %s", (bytes(32),))

    assert [p.kind for p in ledger.verify().problems] == [CHECKPOINT]


def test_a_service_without_its_database_fails(ledger):
    result = verify_service(
        ledger.postgres, SERVICE, database=ledger.database + "_gone", audit_database=ledger.archive
    )

    assert [p.kind for p in result.problems] == [MISSING]


def test_the_command_exits_0_when_all_holds_and_1_naming_the_event(ledger, monkeypatch, capsys):
    """`make verify-history` is this command: its exit status and what it prints."""
    for name, value in _env(ledger).items():
        monkeypatch.setenv(name, value)
    command = ["verify", "--service", SERVICE, "--database", ledger.database]
    command += ["--audit-database", ledger.archive, "--no-record"]

    assert cli.main(command) == 0
    assert "ledger: ok: 10 events up to position 11, 1 checkpoints" in capsys.readouterr().out

    aggregate_id, version = ledger.event_at(2)
    ledger.log("DELETE FROM ledger_events WHERE notification_id = 2")
    assert cli.main(command) == 1
    assert f"deleted at position 2 (aggregate {aggregate_id}, version {version})" in (
        capsys.readouterr().out
    )


# --- offline, from an export --------------------------------------------------------------------


def _export(ledger: Ledger) -> tuple[list[str], list[str]]:
    lines = [
        json.dumps(line)
        for line in export.database_lines(ledger.postgres, SERVICE, ledger.database)
    ]
    checkpoints = [
        json.dumps(point)
        for point in export.checkpoint_lines(ledger.postgres, [SERVICE], ledger.archive)
    ]
    return lines, checkpoints


def test_an_exported_history_verifies_offline_masked_state_by_digest(ledger):
    lines, checkpoints = _export(ledger)

    (result,) = verify_export(lines, checkpoints)

    assert result.ok, result.problems
    assert (result.events, result.position, result.checkpoints) == (10, 11, 1)
    assert result.digest_only == 1  # the password's event: its state is not exported
    assert result.anchored_at is None


def test_the_export_from_the_archive_is_the_export_from_the_database(ledger):
    from_database, _ = _export(ledger)
    from_archive = [
        json.dumps(line) for line in export.archive_lines(ledger.postgres, SERVICE, ledger.archive)
    ]

    assert from_archive == from_database


def _edited(lines: list[str], index: int, change) -> list[str]:
    line = json.loads(lines[index])
    change(line)
    return [*lines[:index], json.dumps(line), *lines[index + 1 :]]


def test_edited_data_in_an_export_line_fails_naming_it(ledger):
    lines, checkpoints = _export(ledger)
    edited = _edited(lines, 3, lambda line: line["data"].update(amount=1_000_000))

    (result,) = verify_export(edited, checkpoints)

    (problem,) = result.problems
    assert (problem.kind, problem.position) == (BAD_DATA, json.loads(lines[3])["position"])
    assert "data" in problem.detail


def _rewrite_amount(line: dict[str, Any]) -> None:
    """An edit made consistent within its line: state, digest and data."""
    line["state"] = line["state"].replace('"amount":20', '"amount":2')
    line["state_sha256"] = hashlib.sha256(line["state"].encode()).hexdigest()
    line["data"]["amount"] = 2


def test_an_export_line_rewritten_consistently_breaks_the_chain_there(ledger):
    lines, checkpoints = _export(ledger)

    (result,) = verify_export(_edited(lines, 5, _rewrite_amount), checkpoints)

    assert [(p.kind, p.position) for p in result.problems] == [(EDITED_LINE, 7)]


def test_an_export_with_its_chain_recomputed_is_caught_by_the_checkpoint(ledger):
    lines, checkpoints = _export(ledger)
    edited = [json.loads(line) for line in _edited(lines, 5, _rewrite_amount)]
    head = chain.GENESIS
    for line in edited:
        head = chain.link(
            head,
            line["position"],
            UUID(line["aggregate_id"]),
            line["version"],
            line["topic"],
            bytes.fromhex(line["state_sha256"]),
        )
        line["hash"] = head.hex()

    (result,) = verify_export([json.dumps(line) for line in edited], checkpoints)

    assert [(p.kind, p.position) for p in result.problems] == [(CHECKPOINT, 11)]


def test_an_export_line_with_a_state_not_its_digest_fails(ledger):
    lines, checkpoints = _export(ledger)
    edited = _edited(lines, 0, lambda line: line.update(state=line["state"].replace("Ελένη", "Ε")))

    (result,) = verify_export(edited, checkpoints)

    assert BAD_STATE in [p.kind for p in result.problems]


def test_a_line_removed_from_an_export_fails(ledger):
    lines, checkpoints = _export(ledger)

    (result,) = verify_export([*lines[:4], *lines[5:]], checkpoints)

    assert [(p.kind, p.position) for p in result.problems] == [(EDITED_LINE, 7)]


def test_an_export_of_a_range_is_verified_from_its_first_line(ledger):
    lines, checkpoints = _export(ledger)

    (result,) = verify_export(lines[4:], checkpoints)

    assert result.ok, result.problems
    assert (result.anchored_at, result.events, result.checkpoints) == (5, 6, 1)


def test_a_database_on_a_cluster_of_its_own_is_found_at_its_own_host(monkeypatch):
    """X-1 with issue 12's production layout (busy services on PostgreSQL clusters of their
    own): verification reads each service's database from its cluster, the rest from the
    shared one."""
    monkeypatch.setenv("POSTGRES_HOST", "postgres")
    monkeypatch.setenv("POSTGRES_HOST_REQUESTS", "postgres-requests")
    postgres = Postgres.from_env()
    assert postgres.host_of("requests") == "postgres-requests"
    assert postgres.host_of("audit") == "postgres"
    assert postgres.host_of("protocol") == "postgres"
