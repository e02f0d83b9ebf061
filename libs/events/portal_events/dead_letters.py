"""Look at a service's dead-letter topic, and replay it into its consumer after a fix (issue 5 §1).

    python -m portal_events.dead_letters list SERVICE [--group GROUP]
    python -m portal_events.dead_letters replay SERVICE [--group GROUP]

`list` prints every message on `SERVICE.dead-letter` (or `--group`'s only): its offset, whether
it was replayed, where it came from, its type, event id, reason and time.

`replay` sends each dead letter of consumer group GROUP (default: SERVICE, which is the
service's group) back to its original topic, same key and headers, marked
`dlq.replay_for=GROUP`: that group's consumers process it again, every other group skips it
(`portal_events.consumer`). The command follows the dead-letter topic with a consumer group of
its own (`replay_group(GROUP)`) and commits after each batch it has re-sent, so a dead letter is
replayed once; a message that fails again is dead-lettered again and waits for the next replay.
Handlers are idempotent, so replaying a message that did get applied is harmless.

Kafka is found at KAFKA_BOOTSTRAP_SERVERS (default 127.0.0.1:19092).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from portal_events.consumer import (
    CONSUMER_GROUP_HEADER,
    DLQ_HEADER_PREFIX,
    FAILED_AT_HEADER,
    ORIGINAL_OFFSET_HEADER,
    ORIGINAL_PARTITION_HEADER,
    ORIGINAL_TOPIC_HEADER,
    REASON_HEADER,
    REPLAY_FOR_HEADER,
    REPLAY_OF_HEADER,
)
from portal_events.topics import dead_letter_topic

DEFAULT_BOOTSTRAP_SERVERS = "127.0.0.1:19092"


def replay_group(group: str) -> str:
    """The consumer group with which `replay` remembers how far it replayed for `group`."""
    return f"{group}.dead-letter-replay"


@dataclass(frozen=True)
class DeadLetter:
    """One message on a dead-letter topic, as an operator reads it."""

    partition: int
    offset: int
    original_topic: str | None
    original_partition: int | None
    original_offset: int | None
    consumer_group: str | None
    type: str | None
    event_id: str | None
    reason: str
    failed_at: str
    replayed: bool = False

    @classmethod
    def from_record(
        cls, record: ConsumerRecord[bytes, bytes], *, replayed: bool = False
    ) -> DeadLetter:
        headers = _headers(record)
        type_, event_id = _type_and_event_id(record.value)
        return cls(
            partition=record.partition,
            offset=record.offset,
            original_topic=headers.get(ORIGINAL_TOPIC_HEADER),
            original_partition=_int(headers.get(ORIGINAL_PARTITION_HEADER)),
            original_offset=_int(headers.get(ORIGINAL_OFFSET_HEADER)),
            consumer_group=headers.get(CONSUMER_GROUP_HEADER),
            type=type_,
            event_id=event_id,
            reason=headers.get(REASON_HEADER, ""),
            failed_at=headers.get(FAILED_AT_HEADER, ""),
            replayed=replayed,
        )

    def line(self) -> str:
        origin = f"{self.original_topic}[{self.original_partition}]@{self.original_offset}"
        return "\t".join(
            [
                f"{self.partition}@{self.offset}",
                "replayed" if self.replayed else "waiting",
                origin,
                self.consumer_group or "-",
                self.type or "-",
                self.event_id or "-",
                self.failed_at or "-",
                " ".join(self.reason.split())[:300],
            ]
        )


async def list_dead_letters(
    service: str, *, group: str | None = None, bootstrap_servers: str | None = None
) -> list[DeadLetter]:
    """Every message on `service`'s dead-letter topic (only `group`'s, if given), oldest first."""
    bootstrap_servers = bootstrap_servers or _bootstrap_servers()
    await _require_topic(bootstrap_servers, dead_letter_topic(service))
    records = await _read_to_end(bootstrap_servers, dead_letter_topic(service))
    groups = {group} if group else {_headers(r).get(CONSUMER_GROUP_HEADER) for r in records}
    replayed_to = {
        g: await _committed(bootstrap_servers, replay_group(g)) for g in groups if g is not None
    }
    letters = []
    for record in records:
        letter_group = _headers(record).get(CONSUMER_GROUP_HEADER)
        if group and letter_group != group:
            continue
        tp = TopicPartition(record.topic, record.partition)
        replayed = record.offset < replayed_to.get(letter_group, {}).get(tp, 0)
        letters.append(DeadLetter.from_record(record, replayed=replayed))
    return letters


async def replay_dead_letters(
    service: str, *, group: str | None = None, bootstrap_servers: str | None = None
) -> list[DeadLetter]:
    """Send `group`'s not yet replayed dead letters back to their topics; returns what it sent.

    Reads up to the end the topic had when it began, so what fails again during the replay
    waits for the next one.
    """
    group = group or service
    bootstrap_servers = bootstrap_servers or _bootstrap_servers()
    topic = dead_letter_topic(service)
    await _require_topic(bootstrap_servers, topic)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        group_id=replay_group(group),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers, enable_idempotence=True, acks="all"
    )
    await producer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in await producer.partitions_for(topic)]
        consumer.assign(partitions)
        await consumer.start()
        try:
            ends = await consumer.end_offsets(partitions)
            return await _replay(consumer, producer, group, ends)
        finally:
            await consumer.stop()
    finally:
        await producer.stop()


async def _replay(
    consumer: AIOKafkaConsumer,
    producer: AIOKafkaProducer,
    group: str,
    ends: dict[TopicPartition, int],
) -> list[DeadLetter]:
    replayed: list[DeadLetter] = []
    remaining = {tp for tp, end in ends.items() if await consumer.position(tp) < end}
    while remaining:
        batches = await consumer.getmany(*remaining, timeout_ms=1000)
        for tp, batch in batches.items():
            records = [r for r in batch if r.offset < ends[tp]]
            if not records:
                continue
            sent = []
            for record in records:
                headers = _headers(record)
                if headers.get(CONSUMER_GROUP_HEADER) != group:
                    continue  # another group's dead letter: its own replay takes it
                letter = DeadLetter.from_record(record, replayed=True)
                if letter.original_topic is None:
                    continue  # not written by EventConsumer: nowhere to send it
                sent.append(await producer.send(letter.original_topic, **_replay_of(record, group)))
                replayed.append(letter)
            await asyncio.gather(*sent)
            await consumer.commit({tp: records[-1].offset + 1})
        remaining = {tp for tp in remaining if await consumer.position(tp) < ends[tp]}
    return replayed


def _replay_of(record: ConsumerRecord[bytes, bytes], group: str) -> dict[str, Any]:
    original = [(k, v) for k, v in record.headers or () if not k.startswith(DLQ_HEADER_PREFIX)]
    where = f"{record.topic}[{record.partition}]@{record.offset}"
    return {
        "value": record.value,
        "key": record.key,
        "headers": [
            *original,
            (REPLAY_FOR_HEADER, group.encode()),
            (REPLAY_OF_HEADER, where.encode()),
        ],
    }


class NoSuchTopic(LookupError):
    pass


async def _require_topic(bootstrap_servers: str, topic: str) -> None:
    """Fail clearly on a mistyped service, before a client's metadata request could create it."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        topics = await admin.list_topics()
    finally:
        await admin.close()
    if topic not in topics:
        raise NoSuchTopic(f"no topic {topic} on {bootstrap_servers}")


async def _read_to_end(bootstrap_servers: str, topic: str) -> list[ConsumerRecord[bytes, bytes]]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        partitions = list(consumer.assignment())
        ends = await consumer.end_offsets(partitions)
        records: list[ConsumerRecord[bytes, bytes]] = []
        remaining = {tp for tp, end in ends.items() if await consumer.position(tp) < end}
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, batch in batches.items():
                records.extend(r for r in batch if r.offset < ends[tp])
            remaining = {tp for tp in remaining if await consumer.position(tp) < ends[tp]}
        return sorted(records, key=lambda r: (r.partition, r.offset))
    finally:
        await consumer.stop()


async def _committed(bootstrap_servers: str, group: str) -> dict[TopicPartition, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return {tp: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}


def _headers(record: ConsumerRecord[Any, Any]) -> dict[str, str]:
    return {
        key: bytes(value).decode(errors="replace")
        for key, value in record.headers or ()
        if key.startswith(DLQ_HEADER_PREFIX)
    }


def _type_and_event_id(value: bytes | None) -> tuple[str | None, str | None]:
    try:
        envelope = json.loads(value or b"")
    except ValueError:
        return None, None
    if not isinstance(envelope, dict):
        return None, None
    return _str(envelope.get("type")), _str(envelope.get("event_id"))


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() else None


def _bootstrap_servers() -> str:
    return os.environ.get("KAFKA_BOOTSTRAP_SERVERS", DEFAULT_BOOTSTRAP_SERVERS)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m portal_events.dead_letters",
        description="List a service's dead-letter topic, or replay it into its consumer group.",
    )
    parser.add_argument("command", choices=["list", "replay"])
    parser.add_argument("service", help="the service whose SERVICE.dead-letter topic to read")
    parser.add_argument(
        "--group", help="consumer group (default: all for list, SERVICE for replay)"
    )
    args = parser.parse_args(argv)
    try:
        return _run(args)
    except NoSuchTopic as exc:
        print(exc, file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    if args.command == "list":
        letters = asyncio.run(list_dead_letters(args.service, group=args.group))
        print("at\tstate\toriginal\tgroup\ttype\tevent_id\tfailed_at\treason")
        for letter in letters:
            print(letter.line())
        print(f"{len(letters)} dead letter(s) on {dead_letter_topic(args.service)}")
    else:
        letters = asyncio.run(replay_dead_letters(args.service, group=args.group))
        for letter in letters:
            print(f"replayed {letter.line()}")
        print(f"{len(letters)} dead letter(s) replayed for group {args.group or args.service}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
