"""The group-commit writer (issue 12 "Group commit", "Numbering in the writer"), on real
PostgreSQL: commands queued while a commit runs are saved in one transaction, each caller gets
its own recordings or its own conflict, no aggregate is left with a version gap, a reader tailing
the log never skips an id, a crash loses only what was never acknowledged, and numbers taken in
the writer's batches stay sequential across replicas."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar
from uuid import UUID

import pytest
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError
from portal_events import numbering
from portal_events.application import Idempotency, ServiceApplication
from portal_events.context import Actor, bound
from portal_events.mapper import event_metadata
from portal_events.numbering import YearNumbering

HERE = Path(__file__).parent
NAMESPACE = UUID("7c1d9e4b-3a2f-4b8e-9d6c-5e4f3a2b1c0d")


class Ledger(Aggregate):
    TOPIC = "group-commit-tests:Ledger"

    class Created(Aggregate.Created):
        TOPIC = "group-commit-tests:Ledger.Created"

    @event("Opened", topic="group-commit-tests:Ledger.Opened")
    def __init__(self, label: str, number: str | None = None) -> None:
        self.label = label
        self.number = number
        self.entries = 0

    @event("Entered", topic="group-commit-tests:Ledger.Entered")
    def enter(self) -> None:
        self.entries += 1


class YearCounter(numbering.YearCounter):
    TOPIC = "group-commit-tests:YearCounter"

    class Created(numbering.YearCounter.Created):
        TOPIC = "group-commit-tests:YearCounter.Created"

    class Issued(numbering.YearCounter.Issued):
        TOPIC = "group-commit-tests:YearCounter.Issued"

    @staticmethod
    def create_id(year: int) -> UUID:
        return uuid.uuid5(NAMESPACE, f"group-commit-tests/number/{year}")


class Ledgers(ServiceApplication):
    name = "ledgers"
    env: ClassVar[dict[str, str]] = {**ServiceApplication.env, "POSTGRES_POOL_SIZE": "20"}

    def __init__(self, env: dict[str, str] | None = None) -> None:
        super().__init__(env)
        self.numbering = YearNumbering(YearCounter, self.repository)

    def open_numbered(self, label: str, key: str | None = None) -> tuple[str, int | None]:
        def create(number: str) -> tuple[list[Aggregate], dict[str, Any]]:
            ledger = Ledger(label, number)
            return [ledger], {"id": str(ledger.id), "number": number}

        idempotency = Idempotency.of("tests", key, {"label": label})
        written = self.save_numbered(idempotency, self.numbering, 2026, create)
        return written.result["number"], written.position


@pytest.fixture
def database(infra, fresh_database) -> dict[str, str]:
    return infra.pg_env(fresh_database("group_commit"))


@pytest.fixture
def stored_versions(infra, database) -> Callable[[], dict[UUID, list[int]]]:
    """Every aggregate's stored versions, in order, as the database holds them now."""

    def read() -> dict[UUID, list[int]]:
        with infra.connect(database["POSTGRES_DBNAME"]) as conn:
            rows = conn.execute(
                "SELECT originator_id, originator_version FROM ledgers_events "
                "ORDER BY originator_id, originator_version"
            ).fetchall()
        found: dict[UUID, list[int]] = {}
        for originator_id, version in rows:
            found.setdefault(originator_id, []).append(version)
        return found

    return read


@pytest.fixture
def ledgers(database) -> Iterator[Ledgers]:
    app = Ledgers(env=database)
    yield app
    app.close()


class Batch:
    """Hold the writer while commands queue up, then let it save them in one batch."""

    def __init__(self, app: Ledgers) -> None:
        self.app = app
        self.threads: list[threading.Thread] = []
        self.outcomes: dict[str, Any] = {}
        self.inserts = 0
        insert = app.recorder.insert_events

        def counting(*args: Any, **kwargs: Any) -> Any:
            self.inserts += 1
            return insert(*args, **kwargs)

        app.recorder.insert_events = counting  # type: ignore[method-assign]

    def __enter__(self) -> Batch:
        self.app.writer._write_lock.acquire()
        return self

    def queue(self, name: str, command: Callable[[], Any]) -> None:
        """Run `command` in a thread of its own; wait until its save is queued (so the order of
        `queue` calls is the batch's order)."""

        def run() -> None:
            try:
                self.outcomes[name] = command()
            except Exception as exc:
                self.outcomes[name] = exc

        queued = len(self.app.writer._queued)
        thread = threading.Thread(target=run)
        thread.start()
        self.threads.append(thread)
        deadline = time.monotonic() + 10
        while len(self.app.writer._queued) == queued:
            assert thread.is_alive() or name in self.outcomes, "the command never queued"
            assert time.monotonic() < deadline, "the command never queued"
            time.sleep(0.001)

    def __exit__(self, *exc: object) -> None:
        self.app.writer._write_lock.release()
        for thread in self.threads:
            thread.join(timeout=30)


def assert_no_version_gaps(stored: dict[UUID, list[int]]) -> None:
    for originator_id, versions in stored.items():
        assert versions == list(range(1, len(versions) + 1)), (originator_id, versions)


def test_32_concurrent_commands_are_saved_in_one_transaction_each_caller_getting_its_own(
    ledgers, stored_versions
):
    """Issue 12 "Group commit": every command that queued while a commit ran goes into the next
    transaction, and each caller is answered with its own recordings and actor."""
    with Batch(ledgers) as batch:
        for i in range(32):

            def command(i: int = i) -> tuple[Ledger, list[Any]]:
                ledger = Ledger(f"ledger {i}")
                with bound(correlation_id=f"corr-{i}", actor=Actor(f"citizen-{i}", "citizen")):
                    return ledger, ledgers.save(ledger)

            batch.queue(f"caller {i}", command)

    assert batch.inserts == 1  # one transaction for all 32
    assert (ledgers.writer.commands, ledgers.writer.transactions) == (32, 1)  # the metrics' totals
    positions = set()
    for i in range(32):
        ledger, recordings = batch.outcomes[f"caller {i}"]
        assert [r.domain_event.originator_id for r in recordings] == [ledger.id]
        stored = ledgers.repository.get(ledger.id)
        assert stored.label == f"ledger {i}"
        event_stored = next(iter(ledgers.events.get(ledger.id)))
        metadata = event_metadata(event_stored)  # stamped in the caller's context
        assert metadata["actor"]["id"] == f"citizen-{i}"
        assert metadata["correlation_id"] == f"corr-{i}"
        positions.add(recordings[-1].notification.id)
    assert len(positions) == 32
    # Ids were handed out in queue order, as one transaction's insert hands them out.
    ordered = [batch.outcomes[f"caller {i}"][1][-1].notification.id for i in range(32)]
    assert ordered == sorted(ordered)
    assert_no_version_gaps(stored_versions())


def test_a_conflict_fails_only_its_item_and_later_items_on_the_same_aggregate(
    ledgers, database, stored_versions
):
    """Issue 12 "Group commit": an optimistic-concurrency conflict fails the item that caused it
    and every later item of the batch touching the same aggregate; the rest are saved, and no
    aggregate is left with a version gap."""
    contested = Ledger("contested")
    bystander = Ledger("bystander")
    ledgers.save(contested, bystander)

    # Another replica enters into the contested ledger first.
    other = Ledgers(env=database)
    try:
        theirs = other.repository.get(contested.id)
        theirs.enter()
        other.save(theirs)
    finally:
        other.close()

    stale = contested  # still at version 1, unaware of the other replica's entry
    before = Ledger("before")
    after = Ledger("after")
    with Batch(ledgers) as batch:
        batch.queue("before", lambda: ledgers.save(before))
        stale.enter()  # version 2, which the other replica already took
        batch.queue("conflicting", lambda: ledgers.save(stale))
        fresh_bystander = ledgers.repository.get(bystander.id)
        fresh_bystander.enter()
        batch.queue("independent", lambda: ledgers.save(fresh_bystander))
        stale.enter()  # version 3, made from the unsaved version 2
        batch.queue("dependent", lambda: ledgers.save(stale))
        batch.queue("after", lambda: ledgers.save(after))

    assert isinstance(batch.outcomes["conflicting"], IntegrityError)
    assert isinstance(batch.outcomes["dependent"], IntegrityError)
    for name in ("before", "independent", "after"):
        assert isinstance(batch.outcomes[name], list), (name, batch.outcomes[name])
    assert ledgers.repository.get(contested.id).entries == 1  # only the other replica's entry
    assert ledgers.repository.get(bystander.id).entries == 1
    assert ledgers.repository.get(before.id).label == "before"
    assert ledgers.repository.get(after.id).label == "after"
    assert_no_version_gaps(stored_versions())
    # The caller's usual retry (reload, change, save) then succeeds.
    written = ledgers.changing(lambda: ledgers.repository.get(contested.id), Ledger.enter)
    assert written.result.entries == 2


def test_a_command_that_fails_to_build_takes_no_number_and_fails_alone(ledgers):
    """Issue 12 "Numbering in the writer": a numbered command whose aggregates cannot be built
    fails for its caller only, and the number it would have had goes to the next command."""

    def broken(number: str) -> tuple[list[Aggregate], dict[str, Any]]:
        raise ValueError("cannot build")

    with Batch(ledgers) as batch:
        batch.queue("first", lambda: ledgers.open_numbered("first"))
        batch.queue(
            "broken",
            lambda: ledgers.save_numbered(None, ledgers.numbering, 2026, broken),
        )
        batch.queue("second", lambda: ledgers.open_numbered("second"))

    assert batch.inserts == 1
    assert isinstance(batch.outcomes["broken"], ValueError)
    assert batch.outcomes["first"][0] == "2026/000001"
    assert batch.outcomes["second"][0] == "2026/000002"


def test_numbers_are_issued_in_the_batch_and_taken_again_when_another_replica_moved_the_counter(
    ledgers, database, stored_versions
):
    """Issue 12 "Numbering in the writer": a batch's commands take consecutive numbers with one
    counter save; when another replica took numbers meanwhile, the batch is built again with the
    next free ones, with no error for the callers."""

    def open_as(i: int) -> tuple[str, int | None]:
        with bound(correlation_id=f"corr-{i}"):
            return ledgers.open_numbered(f"ledger {i}")

    with Batch(ledgers) as batch:
        for i in range(5):
            batch.queue(f"caller {i}", lambda i=i: open_as(i))
    assert batch.inserts == 1
    # Built in the writer's batch, stamped with each caller's own context.
    for notification in ledgers.recorder.select_notifications(1, 100):
        if notification.topic == "group-commit-tests:Ledger.Opened":
            opened = ledgers.mapper.to_domain_event(notification)
            assert event_metadata(opened)["correlation_id"] == f"corr-{opened.label[-1]}"
    assert sorted(batch.outcomes[f"caller {i}"][0] for i in range(5)) == [
        f"2026/00000{n}" for n in range(1, 6)
    ]

    other = Ledgers(env=database)  # another replica: its own writer and counter
    try:
        assert other.open_numbered("elsewhere")[0] == "2026/000006"
    finally:
        other.close()

    # This replica's counter in memory is now out of date: the batch conflicts over it, is
    # built again, and the callers get the next free numbers.
    with Batch(ledgers) as batch:
        batch.queue("a", lambda: ledgers.open_numbered("a"))
        batch.queue("b", lambda: ledgers.open_numbered("b"))
    assert batch.inserts == 2  # the conflicting try and the rebuilt batch
    assert [batch.outcomes["a"][0], batch.outcomes["b"][0]] == ["2026/000007", "2026/000008"]
    assert_no_version_gaps(stored_versions())


def test_a_repeated_idempotency_key_in_one_batch_records_once(ledgers, stored_versions):
    """Issue 12 with DESIGN "HTTP" idempotency: twins queued in the same batch conflict on the
    key's record; the first is saved, the second finds it on its retry and gets the same
    result, and no number is lost."""
    with Batch(ledgers) as batch:
        batch.queue("first", lambda: ledgers.open_numbered("twin", key="k-1"))
        batch.queue("twin", lambda: ledgers.open_numbered("twin", key="k-1"))
        batch.queue("other", lambda: ledgers.open_numbered("other"))

    assert batch.outcomes["first"][0] == batch.outcomes["twin"][0]
    assert batch.outcomes["twin"][1] is None  # a repeat: nothing new to wait for
    numbers = sorted([batch.outcomes["first"][0], batch.outcomes["other"][0]])
    assert numbers == ["2026/000001", "2026/000002"]
    assert_no_version_gaps(stored_versions())


def test_numbers_stay_sequential_and_distinct_with_two_replicas_submitting_at_once(
    database, stored_versions
):
    """Issue 12: two replicas, each with its own writer and counter, submitting concurrently."""
    replicas = [Ledgers(env=database), Ledgers(env=database)]
    numbers: list[str] = []
    lock = threading.Lock()

    def submit(app: Ledgers, count: int) -> None:
        for i in range(count):
            number, _ = app.open_numbered(f"ledger {i}")
            with lock:
                numbers.append(number)

    try:
        threads = [threading.Thread(target=submit, args=(replicas[i % 2], 15)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    finally:
        for app in replicas:
            app.close()
    assert sorted(numbers) == [f"2026/{n:06d}" for n in range(1, 121)]
    assert_no_version_gaps(stored_versions())


def test_a_reader_tailing_the_log_while_16_writers_commit_never_skips_an_id(database):
    """Issue 12: ids become visible in commit order (the recorder's table lock is kept), so a
    reader following the log from its last id sees every id that is ever committed."""
    replicas = [Ledgers(env=database), Ledgers(env=database)]
    seen: list[int] = []
    writing = threading.Event()
    writing.set()

    def write(app: Ledgers) -> None:
        for i in range(40):
            ledger = Ledger(f"ledger {i}")
            ledger.enter()
            app.save(ledger)

    def tail() -> None:
        recorder = replicas[0].recorder
        last = 0
        while True:
            still_writing = writing.is_set()
            found = recorder.select_notifications(last, 500, inclusive_of_start=False)
            for notification in found:
                seen.append(notification.id)
                last = notification.id
            if not found and not still_writing:
                return

    try:
        reader = threading.Thread(target=tail)
        reader.start()
        writers = [threading.Thread(target=write, args=(replicas[i % 2],)) for i in range(16)]
        for thread in writers:
            thread.start()
        for thread in writers:
            thread.join(timeout=120)
        writing.clear()
        reader.join(timeout=60)
        committed = [n.id for n in replicas[0].recorder.select_notifications(1, 10_000)]
    finally:
        for app in replicas:
            app.close()
    assert len(committed) == 16 * 40 * 2
    assert seen == committed  # nothing skipped, nothing out of order


def test_a_crash_between_enqueue_and_commit_loses_only_unacknowledged_commands(
    database, stored_versions
):
    """Issue 12 "Durability stays as it is": a process killed (SIGKILL) while its writer has
    commands queued and in flight leaves every acknowledged command saved and loadable."""
    env = {**os.environ, **database}
    child = subprocess.Popen(
        [sys.executable, str(HERE / "group_commit_process.py")],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    acknowledged: list[UUID] = []
    try:
        assert child.stdout is not None
        for line in child.stdout:
            acknowledged.append(UUID(line.strip()))
            if len(acknowledged) >= 300:
                break
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    stored = stored_versions()
    assert set(acknowledged) <= set(stored)
    assert_no_version_gaps(stored_versions())
    app = Ledgers(env=database)
    try:
        for ledger_id in acknowledged:
            assert app.repository.get(ledger_id).entries == 1
    finally:
        app.close()


class SnapshottingLedgers(Ledgers):
    snapshotting_intervals: ClassVar[dict[type[Any], int]] = {YearCounter: 10}
    env: ClassVar[dict[str, str]] = {**Ledgers.env, "AGGREGATE_CACHE_MAXSIZE": "100"}


def test_snapshots_and_the_aggregate_cache_work_as_with_the_librarys_save(database):
    """Issue 12 "Snapshots, the aggregate cache and notifications keep working": the counter is
    snapshotted at its interval from inside numbered batches, and the cache stays current."""
    app = SnapshottingLedgers(env=database)
    try:
        with Batch(app) as batch:
            for i in range(25):
                batch.queue(f"caller {i}", lambda i=i: app.open_numbered(f"ledger {i}"))
        assert batch.inserts == 1
        assert app.snapshots is not None
        counter_id = YearCounter.create_id(2026)
        snapshots = [s.originator_version for s in app.snapshots.get(counter_id)]
        assert snapshots == [10, 20]
        ledger = Ledger("cached")
        app.save(ledger)
        loaded = app.repository.get(ledger.id)  # now in the cache
        assert app.repository.cache is not None
        assert app.repository.cache.get(ledger.id).id == ledger.id
        loaded.enter()
        app.save(loaded)
        assert app.repository.get(ledger.id).entries == 1  # the cached copy fast-forwarded
    finally:
        app.close()
