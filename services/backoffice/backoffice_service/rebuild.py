"""Rebuild the worklist from zero from Kafka and compare it with the live one (SPEC X-3).

    python -m backoffice_service.rebuild            # rebuild beside the live worklist, compare
    python -m backoffice_service.rebuild --replace  # ... and put the rebuilt one in its place

Reads every topic the service consumes from offset 0 up to the end offsets at start, with its
own consumer (no group, nothing committed: the live consumer is not disturbed), and applies the
same functions as the live consumer (`integration.CHANGES`) into a fresh worklist
(`worklist_rebuild_*` tables beside the live `worklist_*`), showing on stderr the events done,
events/s and the time left. Event topics are kept forever (`portal_events.topics`), so offset 0
has every event.

Then it compares the two once both hold the same events (each worklist records the id of every
event it applied): while the live consumer has applied events the rebuild has not read, the
rebuild reads on; while the rebuild is ahead, it waits for the live consumer. It prints "equal"
and exits 0, or prints the differing rows and exits 1. With `--replace` the rebuilt worklist
then replaces the live one (exit 0 once replaced). Settings come from the service's environment
(POSTGRES_*, KAFKA_BOOTSTRAP_SERVERS, BACKOFFICE_DEADLINES_FILE).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TextIO

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from eventsourcing.postgres import PostgresDatastore
from portal_events.consumer import REPLAY_FOR_HEADER
from portal_events.envelope import Envelope
from portal_events.progress import Progress
from psycopg.sql import SQL
from pydantic import ValidationError

from backoffice_service.deadlines import Deadlines
from backoffice_service.integration import CHANGES, CONSUMED_TOPICS
from backoffice_service.settings import BackofficeSettings
from backoffice_service.views import LIVE, WorklistView
from backoffice_service.worklist import Change

REBUILT = "worklist_rebuild"
GROUP = "backoffice"  # the live consumer's group: dead letters replayed for it count
CHANGES_BY_TYPE = {(c.TYPE, c.VERSION): changes_of for c, changes_of in CHANGES.items()}
COMPARE_TIMEOUT_SECONDS = 60.0
STALL_SECONDS = 10.0
SHOWN_DIFFERENCES = 50


@dataclass
class Comparison:
    equal: bool
    differences: list[dict[str, Any]]
    only_live: int = 0  # events the live worklist applied and the rebuild did not
    only_rebuilt: int = 0


def changes_of(record: ConsumerRecord[bytes, bytes]) -> tuple[Envelope, list[Change]] | None:
    """The envelope and worklist changes of one message, as the live consumer would apply
    them; None for what it skips (unknown types, another group's replayed dead letters, what
    cannot be decoded)."""
    for key, value in record.headers or ():
        if key == REPLAY_FOR_HEADER and bytes(value).decode(errors="replace") != GROUP:
            return None
    try:
        envelope = Envelope.from_bytes(record.value or b"")
        function = CHANGES_BY_TYPE.get((envelope.type, envelope.version))
        if function is None:
            return None
        return envelope, function(envelope, envelope.contract())
    except ValidationError:
        return None  # the live consumer dead-letters it


class Rebuild:
    def __init__(self, settings: BackofficeSettings, out: TextIO = sys.stderr) -> None:
        self.settings = settings
        self.out = out
        self.datastore = PostgresDatastore(
            dbname=settings.postgres_dbname,
            host=settings.postgres_host,
            port=str(settings.postgres_port),
            user=settings.postgres_user,
            password=settings.postgres_password,
            pool_size=2,  # the swap holds one connection while the rebuild writes on the other
        )
        deadlines = Deadlines.load(settings.backoffice_deadlines_file or None)
        self.live = WorklistView(self.datastore, deadlines, LIVE)
        self.rebuilt = WorklistView(self.datastore, deadlines, REBUILT)

    async def run(self, replace: bool) -> int:
        self.live.create_tables()  # a service that never ran has an empty one
        self.rebuilt.drop_tables()
        self.rebuilt.create_tables()
        consumer = AIOKafkaConsumer(
            *CONSUMED_TOPICS,
            bootstrap_servers=self.settings.kafka_bootstrap_servers,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
        )
        await consumer.start()
        try:
            partitions = sorted(consumer.assignment())
            starts = await consumer.beginning_offsets(partitions)
            ends = await consumer.end_offsets(partitions)
            progress = Progress(sum(ends[tp] - starts[tp] for tp in partitions), self.out)
            await self._read_until(consumer, ends, progress)
            progress.finish()
            comparison = await self._compare(consumer)
            self._report(comparison)
            if replace:
                await self._replace(consumer)
                print("replaced: the rebuilt worklist is now the live one")
                return 0
        finally:
            await consumer.stop()
        return 0 if comparison.equal else 1

    async def _replace(self, consumer: AIOKafkaConsumer) -> None:
        """Swap the rebuilt worklist in. The live one is locked against writes first; then
        the rebuild reads up to the end of every topic, so it holds every event the live one
        does (and perhaps some more, which the live consumer will find applied already)."""
        with self.live.locked_against_writes() as cursor:
            partitions = sorted(consumer.assignment())
            await self._read_until(consumer, await consumer.end_offsets(partitions))
            self.rebuilt.put_in_place_of(self.live, cursor)

    async def _read_until(
        self,
        consumer: AIOKafkaConsumer,
        ends: Mapping[TopicPartition, int],
        progress: Progress | None = None,
    ) -> None:
        """Apply every message before `ends` (per partition) to the rebuilt worklist."""
        remaining = {tp for tp, end in ends.items() if await consumer.position(tp) < end}
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=1000, max_records=2000)
            events: list[tuple[Any, list[Change]]] = []
            read = 0
            for tp, records in batches.items():
                for record in records:
                    if record.offset >= ends[tp]:
                        # Beyond this pass: read again by the next one, if any.
                        consumer.seek(tp, ends[tp])
                        break
                    read += 1
                    applied = changes_of(record)
                    if applied is not None:
                        envelope, changes = applied
                        events.append((envelope.event_id, changes))
            if events:
                await asyncio.to_thread(self.rebuilt.apply_many, events)
            if progress is not None:
                progress.add(read)
            remaining = {tp for tp in remaining if await consumer.position(tp) < ends[tp]}

    async def _compare(self, consumer: AIOKafkaConsumer) -> Comparison:
        """Compare once both worklists hold the same events (see the module docstring). The
        rebuild waits for the live consumer while it catches up, and gives up waiting (and
        compares what there is) once the live one has applied nothing for `STALL_SECONDS`:
        then it will not apply what it lacks (e.g. events it dead-lettered)."""
        deadline = time.monotonic() + COMPARE_TIMEOUT_SECONDS
        waited_for, progress_at = -1, time.monotonic()
        while True:
            comparison = await asyncio.to_thread(self._compare_snapshot)
            now = time.monotonic()
            if comparison.only_rebuilt != waited_for:
                waited_for, progress_at = comparison.only_rebuilt, now
            give_up = now > deadline or now - progress_at > STALL_SECONDS
            if comparison.only_live and not give_up:
                partitions = sorted(consumer.assignment())
                await self._read_until(consumer, await consumer.end_offsets(partitions))
            elif comparison.only_rebuilt and not give_up:
                await asyncio.sleep(0.5)  # the live consumer is catching up
            else:
                return comparison

    def _compare_snapshot(self) -> Comparison:
        """Both worklists as of one snapshot: which events only one holds, and the rows that
        differ (only meaningful when no event is held by one only)."""
        live, rebuilt = self.live.tables(), self.rebuilt.tables()
        with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as cur:
            cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            counts = {}
            for name, (a, b) in {
                "only_live": (live, rebuilt),
                "only_rebuilt": (rebuilt, live),
            }.items():
                cur.execute(
                    SQL(
                        "SELECT count(*) AS n FROM (SELECT event_id FROM {a} "
                        "EXCEPT SELECT event_id FROM {b}) d"
                    ).format(a=a["applied"], b=b["applied"])
                )
                counts[name] = cur.fetchone()["n"]
            differences = []
            for table, key in (("items", "kind, item_id"), ("people", "user_id")):
                cur.execute(
                    SQL(
                        "SELECT to_jsonb(l) AS live, to_jsonb(r) AS rebuilt "
                        "FROM {live} l FULL JOIN {rebuilt} r USING ({key}) "
                        "WHERE to_jsonb(l) IS DISTINCT FROM to_jsonb(r) ORDER BY {key}"
                    ).format(live=live[table], rebuilt=rebuilt[table], key=SQL(key))
                )
                differences += [{"table": table, **row} for row in cur.fetchall()]
        equal = not differences and not counts["only_live"] and not counts["only_rebuilt"]
        return Comparison(equal, differences, **counts)

    def _report(self, comparison: Comparison) -> None:
        if comparison.equal:
            print("equal")
            return
        print(
            f"different: {len(comparison.differences)} rows differ; events applied only live: "
            f"{comparison.only_live}, only in the rebuild: {comparison.only_rebuilt}"
        )
        for difference in comparison.differences[:SHOWN_DIFFERENCES]:
            print(json.dumps(difference, ensure_ascii=False, sort_keys=True, default=str))

    def close(self) -> None:
        self.datastore.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m backoffice_service.rebuild",
        description="Rebuild the back-office worklist from Kafka and compare it with the live one.",
    )
    parser.add_argument(
        "--replace", action="store_true", help="put the rebuilt worklist in place of the live one"
    )
    args = parser.parse_args(argv)
    rebuild = Rebuild(BackofficeSettings())
    try:
        return asyncio.run(rebuild.run(replace=args.replace))
    finally:
        rebuild.close()


if __name__ == "__main__":
    sys.exit(main())
