"""The portal never sees a card number (SPEC P-2; issue 7 "A scan (test) that no card number
pattern appears in the services' logs, tables or Kafka topics after the end-to-end run").

The scan pays fines itself first, with each of the bank simulator's test cards (success, declined,
insufficient funds), so that it does not depend on which tests ran before it; on a full run it
also sees everything the earlier tests left. Then it reads, as text:
- every log file of the stack's log dir but the bank simulator's own (the bank is not the
  portal: it may log the last four digits, and card numbers pass through its page by design);
- every row of every table of every portal database (deploy/services.toml), bytea decoded;
- every message (key, value, headers) of every Kafka topic, from the beginning.

What counts as a card number: the three test cards, however grouped (spaces, dashes), and any
run of 13 to 19 digits, not part of a longer word, whose first digit is a card network's major
industry identifier (2-6, ISO/IEC 7812) and which passes the Luhn check, as PAN scanners look for
them. Epoch timestamps (starting with 1), hex identifiers and RF codes (digits glued to letters)
and decimal fractions are not. A separate test plants numbers in a log, a table and a topic, and
the scan finds them.

The fuzzer (tests/test_schemathesis.py) makes up inputs: random 16-digit numbers, some of which
pass the Luhn check by chance, and literals Hypothesis draws from the project's own modules, the
bank simulator's test cards among them. Its requests come from FUZZING_NETWORK, so the access-log
lines of its requests are set aside: what they hold is what the fuzzer sent, not what the portal
handled.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import re
import sys
import time
import uuid
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from portal_stack.services import load as load_service_list
from psycopg import sql

sys.path.insert(0, str(Path(__file__).parent))
from fine_payments import (
    INSUFFICIENT_FUNDS_CARD,
    TEST_CARDS,
    look_up_new_fine,
    new_browser,
    new_payment,
    pay_on_bank_page,
    payment_status,
    wait_until_fines_accept,
)
from portal_roles import FUZZING_NETWORK, Casting

pytestmark = pytest.mark.integration

BANK_SIMULATOR = "bank"  # its log is not the portal's
FINAL_STATUSES = {"completed", "failed", "expired"}
TOPIC_SCAN_SECONDS = 120

# --- what a card number looks like -----------------------------------------------------------

_TEST_CARD_PATTERNS = [
    re.compile("[ -]?".join(card[i : i + 4] for i in range(0, len(card), 4))) for card in TEST_CARDS
]
# A run of 13-19 digits that is not part of a longer word (hex ids, RF codes, IBANs are glued to
# letters) nor a decimal fraction, starting with a card network's major industry identifier.
_DIGIT_RUN = re.compile(r"(?<![0-9A-Za-z])(?<!\d\.)[2-6]\d{12,18}(?![0-9A-Za-z])")


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, digit in enumerate(reversed(digits)):
        value = int(digit) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


# The start of a uvicorn access-log line's message: the client's address.
_ACCESS_LINE_CLIENT = re.compile(r'"event": "(\d{1,3}(?:\.\d{1,3}){3}):\d+ - \\"')


def made_up_by_the_fuzzer(line: str) -> bool:
    """An access-log line of a request the fuzzer made (see the module docstring)."""
    client = _ACCESS_LINE_CLIENT.search(line)
    return client is not None and ipaddress.ip_address(client.group(1)) in ipaddress.ip_network(
        FUZZING_NETWORK
    )


def card_numbers_in(text: str) -> set[str]:
    """The card numbers in `text`, masked (first six and last four digits, as PCI DSS allows
    showing them), so that a failure report carries none."""
    found = {
        re.sub(r"\D", "", match.group()) for p in _TEST_CARD_PATTERNS for match in p.finditer(text)
    }
    found |= {m.group() for m in _DIGIT_RUN.finditer(text) if luhn_valid(m.group())}
    return {f"{number[:6]}…{number[-4:]}" for number in found}


@dataclass(frozen=True)
class Finding:
    where: str
    numbers: frozenset[str]

    def __str__(self) -> str:
        return f"{self.where}: {', '.join(sorted(self.numbers))}"


def findings_in(where: str, text: str) -> Iterator[Finding]:
    if numbers := card_numbers_in(text):
        yield Finding(where, frozenset(numbers))


# --- where the portal keeps things ------------------------------------------------------------


def scan_logs(directory: Path, skip: Iterable[str] = ()) -> list[Finding]:
    """Every line of every log file in `directory` whose process name is not in `skip`."""
    findings = []
    for path in sorted(p for p in directory.iterdir() if p.is_file()):
        if path.name.split(".")[0] in skip:
            continue
        with path.open(encoding="utf-8", errors="replace") as lines:
            for number, line in enumerate(lines, 1):
                if not made_up_by_the_fuzzer(line):
                    findings += findings_in(f"log {path.name}:{number}", line)
    return findings


def as_text(value: object) -> str:
    """A column's value as text; bytea (eventsourcing's stored state) decoded, decompressed
    first when it is zlib-compressed."""
    if isinstance(value, memoryview):
        value = value.tobytes()
    if isinstance(value, bytes):
        with contextlib.suppress(zlib.error):
            value = zlib.decompress(value)
        return value.decode("utf-8", errors="replace")
    return str(value)


def scan_database(conninfo: str, database: str) -> list[Finding]:
    """Every row of every table (all schemas but the catalogue's) of one database."""
    findings = []
    with psycopg.connect(conninfo, dbname=database) as conn:
        tables = conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables"
            " WHERE table_type = 'BASE TABLE'"
            " AND table_schema NOT IN ('pg_catalog', 'information_schema')"
            " ORDER BY 1, 2"
        ).fetchall()
        for schema, table in tables:
            query = sql.SQL("SELECT * FROM {}.{}").format(
                sql.Identifier(schema), sql.Identifier(table)
            )
            with conn.cursor(name=f"scan_{uuid.uuid4().hex}") as rows:
                rows.execute(query)
                for row_number, row in enumerate(rows, 1):
                    text = "\t".join(as_text(value) for value in row)
                    findings += findings_in(
                        f"table {database}.{schema}.{table} row {row_number}", text
                    )
    return findings


async def topic_partitions(bootstrap: str, topics: Iterable[str] | None) -> list[TopicPartition]:
    """The partitions of `topics`, or of every topic but Kafka's internal ones."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(list(topics) if topics is not None else None)
    finally:
        await admin.close()
    return [
        TopicPartition(topic["topic"], partition["partition"])
        for topic in sorted(described, key=lambda t: t["topic"])
        if not topic["is_internal"] and not topic["topic"].startswith("__")
        for partition in sorted(topic["partitions"], key=lambda p: p["partition"])
    ]


async def scan_topics(bootstrap: str, topics: Iterable[str] | None = None) -> list[Finding]:
    """Every message of every topic (all but Kafka's internal ones unless `topics` names them),
    read from the beginning up to the end offsets found when the scan starts."""
    partitions = await topic_partitions(bootstrap, topics)
    if not partitions:
        return []
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None
    )
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        findings = []
        pending = {tp for tp in partitions if ends[tp] > 0}
        deadline = time.monotonic() + TOPIC_SCAN_SECONDS
        while pending and time.monotonic() < deadline:
            batches = await consumer.getmany(*pending, timeout_ms=1000, max_records=5000)
            for tp, messages in batches.items():
                for message in messages:
                    parts = [message.key or b"", message.value or b""]
                    parts += [
                        name.encode() + b"=" + (value or b"") for name, value in message.headers
                    ]
                    text = "\t".join(as_text(part) for part in parts)
                    where = f"topic {tp.topic}[{tp.partition}] offset {message.offset}"
                    findings += findings_in(where, text)
            pending = {tp for tp in pending if await consumer.position(tp) < ends[tp]}
        assert not pending, f"not read to their end within {TOPIC_SCAN_SECONDS}s: {pending}"
        return findings
    finally:
        await consumer.stop()


def portal_databases() -> list[str]:
    return [p.database for p in load_service_list().services if p.database]


# --- the scan ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def payments_with_every_test_card(gateway, admin) -> list[str]:
    """Fines paid (or tried) with each test card through the bank's page, as the flow does; the
    payment ids, each final (so its logs, events and rows are written)."""
    citizen = Casting(gateway, admin.token).registered("citizen")
    wait_until_fines_accept(gateway, citizen.headers)
    payment_ids = []
    with new_browser() as browser:
        for card in TEST_CARDS:
            fine = look_up_new_fine(gateway, citizen.headers)
            payment = new_payment(gateway, citizen.headers, fine["fine_id"])
            _, answer = pay_on_bank_page(browser, payment["redirect_url"], card)
            assert browser.get(answer.headers["location"]).status_code == 200
            payment_ids.append(payment["payment_id"])
    for payment_id in payment_ids:
        wait_until_final(gateway, citizen.headers, payment_id)
    return payment_ids


def wait_until_final(gateway: httpx.Client, headers: dict[str, str], payment_id: str) -> None:
    deadline = time.monotonic() + 15
    while (status := payment_status(gateway, headers, payment_id)) not in FINAL_STATUSES:
        assert time.monotonic() < deadline, f"payment {payment_id} still {status}"
        time.sleep(0.1)


def test_p2_the_fuzzers_own_requests_are_set_aside_and_only_they(tmp_path):
    """Only the access-log lines of the fuzzer's own requests are set aside, whatever numbers
    they hold (one of its made-up numbers, a test card it drew from the project's source); the
    same lines from any other client are findings."""
    lucky = "4237167286945666"  # Luhn-valid by chance, as the fuzzer once sent it
    assert luhn_valid(lucky)
    line = (
        '{{"service": "identity", "event": "{client}:0 - '
        '\\"GET /identity/users?q={q} HTTP/1.1\\" 422"}}\n'
    )
    (tmp_path / "identity.log").write_text(
        line.format(client="198.18.35.168", q=lucky)
        + line.format(client="198.18.35.168", q=TEST_CARDS[0])
        + line.format(client="203.0.113.7", q=lucky)
        + line.format(client="203.0.113.7", q=TEST_CARDS[0])
    )
    findings = scan_logs(tmp_path)
    assert [finding.where for finding in findings] == ["log identity.log:3", "log identity.log:4"]


def test_p2_no_card_number_in_any_log_table_or_topic(stack, payments_with_every_test_card):
    """P-2 "the portal never sees card numbers": after payments with every test card, no card
    number in any log of the stack (the bank's own aside), any table of any portal database, or
    any message of any Kafka topic."""
    conninfo = stack.pg_dsn("postgres")
    findings = scan_logs(stack.state_dir / "logs", skip={BANK_SIMULATOR})
    for database in portal_databases():
        findings += scan_database(conninfo, database)
    findings += asyncio.run(scan_topics(stack.kafka_bootstrap))
    assert not findings, "card numbers found:\n" + "\n".join(map(str, findings[:50]))


# --- the scan can fail -------------------------------------------------------------------------


def test_what_counts_as_a_card_number():
    """The test cards however grouped and any Luhn-valid card-like run count; epoch timestamps,
    hex ids, RF codes, phone numbers, tax numbers and Luhn-invalid runs do not."""
    assert card_numbers_in("card 4111 1111 1111 1111 ok") == {"411111…1111"}
    assert card_numbers_in('{"pan": "4000-0000-0000-0002"}') == {"400000…0002"}
    assert card_numbers_in("card_number=4000000000009995&cvc=123") == {"400000…9995"}
    assert card_numbers_in("mastercard 5555555555554444, amex 378282246310005") == {
        "555555…4444",
        "378282…0005",
    }
    innocent = (
        "ts=1767225600123 ns=1767225600123456789 id=4f1c2a9e0b7d4e8f9a6b3c2d1e0f4a5b "
        "rf=RF18539007547034 iban=GR1601101250000000012300695 tel=+302101234567 afm=090000045 "
        "fraction=0.22668632420616655 not-luhn=4111111111111112 short=411111111111"
    )
    assert card_numbers_in(innocent) == set()


def test_the_scan_finds_numbers_planted_in_a_log_a_table_and_a_topic(
    tmp_path, stack, fresh_database
):
    """The scan can fail: a card number planted in a log line, in a table (plain and in
    compressed bytea) and in a Kafka message is found in each, and the bank's log is skipped."""
    (tmp_path / "payments.log").write_text(
        '{"level": "info", "msg": "paid"}\n{"msg": "card 4111111111111111"}\n'
    )
    (tmp_path / f"{BANK_SIMULATOR}.log").write_text("last digits of 5555555555554444\n")
    assert [str(f) for f in scan_logs(tmp_path, skip={BANK_SIMULATOR})] == [
        "log payments.log:2: 411111…1111"
    ]

    database = fresh_database("cardscan")
    with psycopg.connect(stack.pg_dsn(database), autocommit=True) as conn:
        conn.execute("CREATE TABLE planted (note text, state bytea)")
        conn.execute(
            "INSERT INTO planted VALUES (%s, %s), (%s, %s)",
            (
                "nothing here",
                zlib.compress(b'{"card": "' + INSUFFICIENT_FUNDS_CARD.encode() + b'"}'),
                "pan 5555555555554444",
                b"",
            ),
        )
    found = scan_database(stack.pg_dsn("postgres"), database)
    assert sorted(str(f) for f in found) == [
        f"table {database}.public.planted row 1: 400000…9995",
        f"table {database}.public.planted row 2: 555555…4444",
    ]

    topic = f"card-scan-probe-{uuid.uuid4().hex[:10]}"
    found = asyncio.run(planted_in_topic(stack.kafka_bootstrap, topic))
    assert [str(f) for f in found] == [f"topic {topic}[0] offset 1: 400000…0002"]


async def planted_in_topic(bootstrap: str, topic: str) -> list[Finding]:
    """Make a topic, put an innocent message and a card number in it, scan it, delete it."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(topic, b'{"amount": 4000}')
            await producer.send_and_wait(topic, b'{"note": "4000000000000002"}', key=b"k")
        finally:
            await producer.stop()
        return await scan_topics(bootstrap, [topic])
    finally:
        await admin.delete_topics([topic])
        await admin.close()
