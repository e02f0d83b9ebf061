"""Outages on the real stack (issue 5, "Tests that must exist"): PostgreSQL stopped for 15 s, the
Kafka broker killed with SIGKILL, the requests service killed with SIGKILL — and afterwards no
request lost, none doubled, no protocol number given twice, nothing dead-lettered. And the SMTP
server down while e-mails are due (issue 8): each is retried and sent once when it is back.

These tests break infrastructure, so they run on a stack of their own (its own state dir,
`.stack-outages/` in the checkout, and its own ports), started for this module by
`portal_stack.ensure_up()` with environment overrides and stopped at the end; the shared stack
that other tests and engineers use is never touched. The faults come from `portal_stack.faults`.
The stack's state, logs included, stays in STATE_DIR after the run for a post-mortem
(`<STATE_DIR>/logs/`); the next run wipes it first.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import NewTopic
from portal_stack import StackInfo, ensure_up, faults, kafka, stack
from portal_stack.config import Config

pytestmark = pytest.mark.integration

# Inside the checkout (ignored by git), so that two checkouts never share one.
STATE_DIR = Path(__file__).resolve().parents[1] / ".stack-outages"
# Every port of the shared stack shifted by this: no clash with it, and none inside Linux's
# ephemeral range (32768-60999) where a client's connection could hold it.
PORT_SHIFT = 10_000
DEPARTMENT = "citizen_services"  # where requests without a category go (routing.toml)
MAIL_DOMAIN = "demo.portal.gr"  # of MAIL_FROM, the right-hand side of every Message-ID
PROTOCOL_REQUESTS = 200
POSTGRES_OUTAGE_SECONDS = 15
BROKER_OUTAGE_SECONDS = 5
BURST, BURST_WORKERS, KILL_AFTER = 200, 8, 50
RECOVERY_SECONDS = 120  # the registrar's backoff is capped at 30 s; this leaves room for several


@contextlib.contextmanager
def environment(overrides: dict[str, str]) -> Iterator[None]:
    """os.environ with overrides, restored afterwards (portal_stack reads its settings there)."""
    saved = {name: os.environ.get(name) for name in overrides}
    os.environ.update(overrides)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@dataclass
class OutageStack:
    env: dict[str, str]
    info: StackInfo

    def fault(self, action: Callable[..., None], *args: Any) -> None:
        """Run a `portal_stack.faults` action against this stack."""
        with environment(self.env):
            action(Config.from_env(), *args)

    def client(self, timeout: float = 10.0) -> httpx.Client:
        return httpx.Client(base_url=self.info.gateway_url, timeout=timeout)

    def dead_letter_offsets(self) -> dict[str, int]:
        """The end offset of every dead-letter topic (summed over its partitions)."""
        dead_letters = [t for t in kafka.declared_topics() if t.name.endswith(".dead-letter")]
        assert dead_letters, "no dead-letter topics declared"
        return asyncio.run(_end_offsets(self.info.kafka_bootstrap, dead_letters))

    def registrations(self, title_fragment: str) -> list[tuple[str, str, str]]:
        """(document id, protocol number, title) of every number the registry simulator issued
        for a title containing the fragment (read-only from its SQLite file: it keeps no other
        record of what it issued per document)."""
        path = self.info.state_dir / "registry-sim.sqlite3"
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            return db.execute(
                "SELECT idempotency_key, protocol_number, title FROM registrations "
                "WHERE instr(title, ?) > 0",
                (title_fragment,),
            ).fetchall()

    def email_events(self, notification_id: str) -> list[str]:
        """What the notifications service's mailer recorded for one notification (EmailSent,
        EmailAttemptFailed, ...), oldest first, read from that service's own database."""
        with psycopg.connect(self.info.pg_dsn("notifications"), autocommit=True) as db:
            rows = db.execute(
                "SELECT topic FROM notifications_events WHERE originator_id = %s "
                "AND topic LIKE 'notifications:Notification.Email%%' ORDER BY originator_version",
                (uuid.UUID(notification_id),),
            ).fetchall()
        return [topic.rsplit(".", 1)[-1] for (topic,) in rows]

    def emails_of(self, notification_id: str) -> list[dict[str, Any]]:
        """The messages in this stack's Mailpit that carry the notification's Message-ID."""
        message_id = f"{notification_id}@{MAIL_DOMAIN}"
        with httpx.Client(base_url=self.info.mailpit_url, timeout=10.0) as mailpit:
            response = mailpit.get("/api/v1/search", params={"query": f"message-id:{message_id}"})
        response.raise_for_status()
        return [m for m in response.json()["messages"] if m["MessageID"] == message_id]


async def _end_offsets(bootstrap: str, topics: list[NewTopic]) -> dict[str, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        offsets = {}
        for topic in topics:
            partitions = [TopicPartition(topic.name, p) for p in range(topic.num_partitions)]
            offsets[topic.name] = sum((await consumer.end_offsets(partitions)).values())
        return offsets
    finally:
        await consumer.stop()


def _outage_environment(shared: Config) -> dict[str, str]:
    """The variables that make portal_stack run a second stack beside the shared one."""
    ports = {
        "pg": shared.pg_port,
        "kafka": shared.kafka_port,
        "kafka-controller": shared.kafka_controller_port,
        "gateway": shared.gateway_port,
        "smtp": shared.smtp_port,
        "mailpit": shared.mailpit_port,
        **{service.name: service.port for service in shared.services},
    }
    return {"PORTAL_STATE_DIR": str(STATE_DIR)} | {
        f"PORTAL_{name.upper().replace('-', '_')}_PORT": str(port + PORT_SHIFT)
        for name, port in ports.items()
    }


def _share_kafka_jars(shared: Config) -> None:
    """Reuse the shared stack's cache of the broker's jars instead of fetching them again."""
    cache, link = shared.state / "jars", STATE_DIR / "jars"
    if not cache.is_dir():
        return  # the outage stack fetches its own
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() and link.resolve() != cache.resolve():
        link.unlink()  # left by a checkout elsewhere
    if not link.exists():
        link.symlink_to(cache)


@pytest.fixture(scope="module")
def outage_stack() -> Iterator[OutageStack]:
    shared = Config.from_env()
    env = _outage_environment(shared)
    _share_kafka_jars(shared)
    try:
        with environment(env):
            stack.reset()  # leftovers of an interrupted run
            info = ensure_up()
        yield OutageStack(env, info)
    finally:
        with environment(env):
            stack.down()


# --- the portal as its users reach it --------------------------------------------------------


@dataclass
class User:
    client: httpx.Client
    token: str

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}"} | kwargs.pop("headers", {})
        return self.client.request(method, path, headers=headers, **kwargs)


def _login(client: httpx.Client, email: str, password: str) -> str:
    response = client.post("/identity/token", data={"username": email, "password": password})
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def _new_citizen(client: httpx.Client) -> User:
    email, password = f"outage-{uuid.uuid4().hex[:10]}@example.gr", "Kalimera-" + uuid.uuid4().hex
    response = client.post(
        "/identity/users", json={"kind": "citizen", "email": email, "password": password}
    )
    assert response.status_code == 201, response.text
    return User(client, _login(client, email, password))


def _new_clerk(client: httpx.Client, info: StackInfo) -> User:
    admin = User(client, _login(client, info.admin_email, info.admin_password))
    email, password = f"clerk-{uuid.uuid4().hex[:8]}@dimos.gr", "Ypallilos-" + uuid.uuid4().hex
    response = admin.request(
        "POST",
        "/identity/staff",
        json={"email": email, "password": password, "role": "clerk", "department": DEPARTMENT},
    )
    assert response.status_code == 201, response.text
    return User(client, _login(client, email, password))


def _submission(subject: str) -> dict[str, str]:
    return {"kind": "request", "subject": subject, "text": "Αποκατάσταση του πεζοδρομίου."}


def _items(page: Any) -> list[dict[str, Any]]:
    # The list is becoming the envelope {items, total, limit, offset} (issue 5 §2); both count.
    return page["items"] if isinstance(page, dict) else page


def _all_requests(citizen: User) -> list[dict[str, Any]]:
    """The citizen's whole list, page by page."""
    items: list[dict[str, Any]] = []
    while True:
        response = citizen.request("GET", "/requests", params={"limit": 100, "offset": len(items)})
        assert response.status_code == 200, response.text
        page = _items(response.json())
        items += page
        if len(page) < 100:
            return items


def _eventually(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.5)
    raise AssertionError(f"{what}: not within {timeout} s; last: {last!r}")


# --- protocol requests across an infrastructure outage ---------------------------------------


def _ask_protocol(clerk: User, request_id: str, timeout: float) -> bool:
    """One ask, as a client makes it; True when accepted (202, or 409: it already has a number).
    A 5xx or no answer at all is "not accepted": the caller asks again later."""
    try:
        response = clerk.request("POST", f"/requests/{request_id}/protocol", timeout=timeout)
    except httpx.TransportError:
        return False
    if response.status_code >= 500:
        return False
    assert response.status_code in (202, 409), response.text
    return True


def _protocol_numbers_survive(
    stack_: OutageStack, break_it: Callable[[], None], repair: Callable[[], None], hold: float
) -> None:
    """200 named requests; the clerk asks a protocol number for each; half-way through the
    infrastructure breaks, is held broken `hold` seconds while the asks go on, and is repaired;
    refused asks are asked again. Then every request has exactly one number, all distinct, the
    registry issued one per document, and nothing went to a dead-letter topic."""
    with stack_.client() as client:
        citizen, clerk = _new_citizen(client), _new_clerk(client, stack_.info)
        run = uuid.uuid4().hex[:8]
        request_ids = []
        for i in range(PROTOCOL_REQUESTS):
            created = citizen.request("POST", "/requests", json=_submission(f"Έλεγχος {run} {i}"))
            assert created.status_code == 201, created.text
            request_ids.append(created.json()["id"])
        dead_letters_before = stack_.dead_letter_offsets()

        half = PROTOCOL_REQUESTS // 2
        accepted = {rid for rid in request_ids[:half] if _ask_protocol(clerk, rid, timeout=10)}
        break_it()
        repaired_at = time.monotonic() + hold
        for rid in request_ids[half:]:
            if time.monotonic() >= repaired_at:
                break
            if _ask_protocol(clerk, rid, timeout=2):
                accepted.add(rid)
        time.sleep(max(0.0, repaired_at - time.monotonic()))
        repair()

        def ask_the_rest() -> bool:
            for rid in set(request_ids) - accepted:
                if _ask_protocol(clerk, rid, timeout=10):
                    accepted.add(rid)
            return accepted == set(request_ids)

        _eventually(ask_the_rest, RECOVERY_SECONDS, "every ask accepted after the repair")

        def numbers() -> dict[str, str] | None:
            listed = {
                i["id"]: (i.get("protocol") or {}).get("number") for i in _all_requests(citizen)
            }
            shown = {rid: listed.get(rid) for rid in request_ids}
            return shown if all(shown.values()) else None

        shown = _eventually(numbers, RECOVERY_SECONDS, "a protocol number on every request")

    assert len(set(shown.values())) == PROTOCOL_REQUESTS, "two requests share a protocol number"
    issued = stack_.registrations(run)
    assert len(issued) == PROTOCOL_REQUESTS, "the registry issued more numbers than documents"
    assert {key: number for key, number, _ in issued} == shown
    assert stack_.dead_letter_offsets() == dead_letters_before


def test_postgres_stopped_for_15_s_under_protocol_requests(outage_stack):
    """Issue 5: PostgreSQL stopped for 15 s and started again while 200 protocol requests are
    in flight -> every accepted request gets exactly one number; the dead-letter topics (of every
    service) get nothing."""
    _protocol_numbers_survive(
        outage_stack,
        break_it=lambda: outage_stack.fault(faults.stop_postgres),
        repair=lambda: outage_stack.fault(faults.start_postgres),
        hold=POSTGRES_OUTAGE_SECONDS,
    )


def test_broker_killed_under_protocol_requests(outage_stack):
    """Issue 5: the Kafka broker killed with SIGKILL and restarted during the same -> the same."""
    _protocol_numbers_survive(
        outage_stack,
        break_it=lambda: outage_stack.fault(faults.kill_kafka),
        repair=lambda: outage_stack.fault(faults.start_kafka),
        hold=BROKER_OUTAGE_SECONDS,
    )


# --- submissions across a killed service -----------------------------------------------------


def test_requests_service_killed_during_a_burst_of_submissions(outage_stack):
    """Issue 5: the requests service killed with SIGKILL during a burst of submissions (and
    restarted) -> every 201 is in the citizen's list, none twice. Each submission carries an
    Idempotency-Key and is repeated until answered, as a client would, so the list holds exactly
    the answered submissions."""
    with outage_stack.client() as client:
        citizen = _new_citizen(client)
    run = uuid.uuid4().hex[:8]
    keys = [str(uuid.uuid4()) for _ in range(BURST)]
    answered: dict[int, str] = {}  # submission index -> id from its 201
    lock = threading.Lock()
    pending = iter(range(BURST))
    time_to_kill = threading.Event()

    def submit(user: User, i: int) -> None:
        try:
            response = user.request(
                "POST",
                "/requests",
                json=_submission(f"Ριπή {run} {i}"),
                headers={"Idempotency-Key": keys[i]},
                timeout=5,
            )
        except httpx.TransportError:
            return
        if response.status_code >= 500:
            return
        assert response.status_code == 201, response.text
        with lock:
            answered[i] = response.json()["id"]
            if len(answered) >= KILL_AFTER:
                time_to_kill.set()

    def worker() -> None:
        with outage_stack.client() as own:
            user = User(own, citizen.token)
            with lock:
                index = next(pending, None)
            while index is not None:
                submit(user, index)
                with lock:
                    index = next(pending, None)

    with ThreadPoolExecutor(BURST_WORKERS) as pool:
        workers = [pool.submit(worker) for _ in range(BURST_WORKERS)]
        assert time_to_kill.wait(60), f"not even {KILL_AFTER} submissions answered"
        outage_stack.fault(faults.kill_service, "requests")
        outage_stack.fault(faults.start_service, "requests")
        for done in workers:
            done.result()
    assert len(answered) < BURST, "the kill came after the burst: nothing was tested"

    with outage_stack.client() as client:
        user = User(client, citizen.token)

        def resubmit_unanswered() -> bool:
            for i in sorted(set(range(BURST)) - set(answered)):
                submit(user, i)
            return len(answered) == BURST

        _eventually(resubmit_unanswered, RECOVERY_SECONDS, "every submission answered")
        listed = [item["id"] for item in _all_requests(user)]

    assert len(listed) == len(set(listed)), "a request is listed twice"
    assert set(answered.values()) <= set(listed), "an answered submission is missing"
    assert len(set(answered.values())) == BURST, "two submissions were answered with one id"
    assert sorted(listed) == sorted(answered.values()), "a submission was recorded twice"


# --- e-mails across an SMTP outage -----------------------------------------------------------


def _notification(user: User, kind: str) -> Callable[[], dict[str, Any] | None]:
    """A check for `_eventually`: the user's notification of that kind, once it is there."""

    def check() -> dict[str, Any] | None:
        response = user.request("GET", "/notifications")
        assert response.status_code == 200, response.text
        return next((n for n in response.json()["items"] if n["kind"] == kind), None)

    return check


def test_smtp_down_emails_are_sent_once_when_it_is_back(outage_stack):
    """Issue 8: e-mails due while the SMTP server (Mailpit) is down are tried, the failure
    recorded, and each is sent exactly once when it is back: a citizen's welcome (registered
    during the outage) and the notification of a clerk's reply."""
    outage_stack.fault(faults.stop_mailpit)
    try:
        with outage_stack.client() as client:
            citizen, clerk = _new_citizen(client), _new_clerk(client, outage_stack.info)
            created = citizen.request("POST", "/requests", json=_submission("Χωρίς αλληλογραφία"))
            assert created.status_code == 201, created.text
            reply = clerk.request(
                "POST", f"/requests/{created.json()['id']}/reply", json={"text": "Ελήφθη."}
            )
            assert reply.status_code == 200, reply.text
            due = [
                _eventually(_notification(citizen, kind), RECOVERY_SECONDS, f"the {kind}")
                for kind in ("welcome", "request_replied")
            ]
        for notification in due:
            _eventually(
                lambda n=notification: "EmailAttemptFailed" in outage_stack.email_events(n["id"]),
                RECOVERY_SECONDS,
                f"a failed attempt to e-mail the {notification['kind']}",
            )
    finally:
        outage_stack.fault(faults.start_mailpit)

    for notification in due:
        _eventually(
            lambda n=notification: "EmailSent" in outage_stack.email_events(n["id"]),
            RECOVERY_SECONDS,
            f"the {notification['kind']} e-mailed after the outage",
        )
        assert outage_stack.email_events(notification["id"]).count("EmailSent") == 1
        assert len(outage_stack.emails_of(notification["id"])) == 1, notification["kind"]
