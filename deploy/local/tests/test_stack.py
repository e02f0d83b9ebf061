"""The local stack, against real processes: run with the default stack, or with PORTAL_STATE_DIR
and PORTAL_*_PORT pointing at a separate one."""

from __future__ import annotations

import asyncio
import json
import os
import smtplib
import stat
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from email.message import EmailMessage

import psycopg
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from portal_stack import StackInfo, ensure_up, mailpit
from portal_stack.config import Config
from portal_stack.kafka import declared_topics, ensure_topics
from portal_stack.procs import StackError, read_pid, wait_until
from portal_stack.services import REPO, SECRETS, load
from portal_stack.stack import _ensure_jwt_key, ensure_secret, processes, reset

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stack() -> StackInfo:
    return ensure_up()


def _get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status


def test_a_second_ensure_up_reuses_the_running_stack_quickly(stack: StackInfo) -> None:
    cfg = Config.from_env()
    pids_before = {name: pid for name, pid, _, _ in processes(cfg)}

    started = time.monotonic()
    again = ensure_up()
    elapsed = time.monotonic() - started

    assert again == stack
    assert {name: pid for name, pid, _, _ in processes(cfg)} == pids_before
    assert all(pids_before.values()), pids_before
    assert elapsed < 10, f"a no-op ensure_up took {elapsed:.1f} s"


def test_up_restarts_a_process_whose_code_changed_since_it_started(stack: StackInfo) -> None:
    """After a pull or an edit, `make test` must not run against the code a process started
    with: `up` restarts exactly the processes whose sources (or environment) changed."""
    cfg = Config.from_env()
    pids_before = {name: pid for name, pid, _, _ in processes(cfg)}
    noop_source = REPO / "deploy/simulators/portal_simulators/noop.py"
    os.utime(noop_source)  # as an edit would

    ensure_up()

    pids_after = {name: pid for name, pid, _, _ in processes(cfg)}
    assert pids_after["noop"] != pids_before["noop"]
    # Everything else keeps running: the other simulators of the same package too.
    for name in pids_before.keys() - {"noop"}:
        assert pids_after[name] == pids_before[name], name
    assert _get(f"{stack.gateway_operators_url}/noop/health") == 200


def test_the_declared_topics_exist_with_their_partitions(stack: StackInfo) -> None:
    declared = {t.name: t.num_partitions for t in declared_topics()}

    async def partitions() -> dict[str, int]:
        admin = AIOKafkaAdminClient(bootstrap_servers=stack.kafka_bootstrap)
        await admin.start()
        try:
            described = await admin.describe_topics(list(declared))
        finally:
            await admin.close()
        return {t["topic"]: len(t["partitions"]) for t in described if t["error_code"] == 0}

    assert asyncio.run(partitions()) == declared
    assert max(declared.values()) > 1


def _retention_of(bootstrap: str, names: list[str]) -> dict[str, str]:
    async def describe() -> dict[str, str]:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            resources = [
                ConfigResource(ConfigResourceType.TOPIC, name, {"retention.ms": None})
                for name in names
            ]
            responses = await admin.describe_configs(resources)
        finally:
            await admin.close()
        return {
            name: entries[0][1]
            for response in responses
            for _, _, _, name, entries in response.resources
        }

    return asyncio.run(describe())


def test_the_declared_topics_have_their_declared_retention(stack: StackInfo) -> None:
    # Issue 8: event topics are kept forever (the worklist is rebuilt from offset zero).
    declared = {t.name: t.topic_configs["retention.ms"] for t in declared_topics()}
    assert _retention_of(stack.kafka_bootstrap, list(declared)) == declared


def test_a_topic_made_with_an_older_retention_is_brought_to_the_declared_one(
    stack: StackInfo,
) -> None:
    # Issue 8: every existing stack (and compose volume) has its event topics at 7 days; the
    # next `up` (or compose's init) must keep them forever from then on.
    name = f"portal.stack-test.{uuid.uuid4().hex[:12]}"
    week = str(7 * 24 * 3600 * 1000)

    async def create_and_later_delete(create: bool) -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=stack.kafka_bootstrap)
        await admin.start()
        try:
            if create:
                await admin.create_topics(
                    [NewTopic(name, 1, 1, topic_configs={"retention.ms": week})]
                )
            else:
                await admin.delete_topics([name])
        finally:
            await admin.close()

    asyncio.run(create_and_later_delete(create=True))
    try:
        assert _retention_of(stack.kafka_bootstrap, [name]) == {name: week}
        declared = [NewTopic(name, 1, 1, topic_configs={"retention.ms": "-1"})]

        first = ensure_topics(stack.kafka_bootstrap, lambda _: None, declared)
        again = ensure_topics(stack.kafka_bootstrap, lambda _: None, declared)

        assert (first.created, first.altered) == ([], [name])
        assert (again.created, again.altered) == ([], [])
        assert _retention_of(stack.kafka_bootstrap, [name]) == {name: "-1"}
    finally:
        asyncio.run(create_and_later_delete(create=False))


def _mailpit(stack: StackInfo, path: str) -> dict:
    with urllib.request.urlopen(stack.mailpit_url + path, timeout=5) as response:
        return json.load(response)


def test_mailpit_takes_an_e_mail_over_smtp_and_shows_it_through_its_api(stack: StackInfo) -> None:
    # Issue 8: the notifications service sends to a real SMTP server whose mailbox the
    # tests read; locally it takes any login, or none.
    recipient = f"stack-{uuid.uuid4().hex[:12]}@example.gr"
    message = EmailMessage()
    message["From"] = "noreply@demo.portal.gr"
    message["To"] = recipient
    message["Subject"] = "Δοκιμή του ταχυδρομείου"
    message.set_content("Καλημέρα από το τοπικό περιβάλλον.")
    with smtplib.SMTP("127.0.0.1", stack.smtp_port, timeout=10) as smtp:
        smtp.login("anyone", "anything")
        smtp.send_message(message)

    search = f"/api/v1/search?query={urllib.parse.quote(f'to:{recipient}')}"
    found: list[dict] = []
    assert wait_until(lambda: found.extend(_mailpit(stack, search)["messages"]) or found, 10)
    assert [m["Subject"] for m in found] == ["Δοκιμή του ταχυδρομείου"]
    stored = _mailpit(stack, f"/api/v1/message/{found[0]['ID']}")
    assert stored["Text"].strip() == "Καλημέρα από το τοπικό περιβάλλον."
    assert [a["Address"] for a in stored["To"]] == [recipient]
    # The mailbox is a file in the state dir: it survives a restart of Mailpit.
    assert (stack.state_dir / "mailpit" / "mailpit.db").is_file()


def test_each_service_has_its_database(stack: StackInfo) -> None:
    with psycopg.connect(stack.pg_dsn("postgres")) as conn:
        names = {row[0] for row in conn.execute("SELECT datname FROM pg_database")}
    assert {p.database for p in load().services} <= names


def test_the_gateway_answers_and_routes_to_every_listed_process(stack: StackInfo) -> None:
    # Services on the public listener; simulators and bench targets on the operators' one.
    assert _get(f"{stack.gateway_url}/health") == 200
    assert _get(f"{stack.gateway_operators_url}/health") == 200
    for process in load().processes:
        base = stack.gateway_url if process.public else stack.gateway_operators_url
        # A stripped prefix is the gateway's, so the process's own path follows it.
        path = (
            f"/{process.name}{process.health_path}" if process.strip_prefix else process.health_path
        )
        assert _get(base + path) == 200, process.name
        assert _get(stack.url_of(process.name) + process.health_path) == 200, process.name


def test_the_gateway_passes_a_bare_prefix_to_the_service_without_redirecting(
    stack: StackInfo,
) -> None:
    # `POST /requests` is part of the contract: a 301 to /requests/ would lose the body.
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None  # surface the redirect itself as an HTTPError

    for process in load().processes:
        if process.strip_prefix:
            continue
        base = stack.gateway_url if process.public else stack.gateway_operators_url
        url = f"{base}/{process.name}"
        request = urllib.request.Request(url, data=b"{}", method="POST")
        try:
            status = urllib.request.build_opener(NoRedirect).open(request, timeout=5).status
        except urllib.error.HTTPError as e:
            status = e.code
        assert status not in (301, 302, 307, 308), process.name


def test_the_jwt_signing_key_is_private_to_its_owner(stack: StackInfo) -> None:
    assert stack.jwt_private_key_file.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert stack.jwt_private_key_file.stat().st_mode & 0o077 == 0


def test_a_stale_pid_file_counts_as_not_running(tmp_path) -> None:
    pid_file = tmp_path / "gone.pid"
    pid_file.write_text("999999999 1\n")
    assert read_pid(pid_file) is None
    # Our own pid but a different start time: the pid was reused by someone else.
    pid_file.write_text(f"{os.getpid()} 1\n")
    assert read_pid(pid_file) is None


def test_the_jwt_signing_key_is_created_private_whatever_the_umask(tmp_path) -> None:
    # Issue 6: opened with mode 0600 (O_EXCL), never written world-readable and chmod-ed later.
    key = tmp_path / "keys" / "jwt-es256.pem"
    previous = os.umask(0)
    try:
        _ensure_jwt_key(key)
    finally:
        os.umask(previous)
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(key.parent.stat().st_mode) == 0o700
    assert not key.with_suffix(".tmp").exists()


# Who is given each secret: payments and the bank simulator share theirs (issue 7); the web
# pages encrypt their session cookies with theirs (issue 11).
SECRET_HOLDERS = {
    "bank_api_key": ("payments", "bank"),
    "bank_notification_secret": ("payments", "bank"),
    "portal_session_key": ("portal",),
    "portal_pages_key": ("portal",),  # and the gateway (deploy/nginx/portal.conf.template)
}


def test_the_secrets_are_generated_once_private_and_passed_to_their_holders(
    stack: StackInfo,
) -> None:
    # Issue 7: never in the repository; generated once per state dir, mode 0600, and the same
    # value for payments and the bank simulator across every `up`.
    cfg = Config.from_env()
    assert set(SECRET_HOLDERS) == set(SECRETS)
    for name in SECRETS:
        path = cfg.secret_file(name)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        assert len(cfg.secret(name)) >= 40, name
        for process in SECRET_HOLDERS[name]:
            env = cfg.service_env(cfg.service(process))
            assert env[name.upper()] == cfg.secret(name), (process, name)
    assert stack.bank_api_key == cfg.secret("bank_api_key")
    assert stack.bank_notification_secret == cfg.secret("bank_notification_secret")
    assert stack.bank_api_key != stack.bank_notification_secret

    assert ensure_up() == stack  # the same secrets after another `up`


def test_a_secret_is_created_private_whatever_the_umask_and_never_replaced(tmp_path) -> None:
    secret = tmp_path / "keys" / "bank-api-key"
    previous = os.umask(0)
    try:
        ensure_secret(secret)
        first = secret.read_bytes()
        ensure_secret(secret)
    finally:
        os.umask(previous)
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert secret.read_bytes() == first
    ensure_secret(tmp_path / "keys" / "bank-notification-secret")
    assert (tmp_path / "keys" / "bank-notification-secret").read_bytes() != first


def _answer(url: str) -> tuple[int, dict[str, str], bytes]:
    """Status, end-to-end headers (lower-case names) and body of a GET, whatever the status.
    The correlation id is left out: the gateway gives its own when the caller sent none."""
    hop_by_hop = {"date", "server", "connection", "keep-alive", "transfer-encoding"}
    try:
        response = urllib.request.urlopen(url, timeout=10)
    except urllib.error.HTTPError as e:
        response = e
    with response:
        headers = {
            k.lower(): v
            for k, v in response.headers.items()
            if k.lower() not in hop_by_hop | {"x-correlation-id"}
        }
        return response.status, headers, response.read()


def test_the_gateway_passes_a_services_html_page_with_its_own_headers(stack: StackInfo) -> None:
    # Issue 7: payments answers browsers with HTML pages (checkout, return). The gateway adds
    # nothing to a service's answer and takes nothing away; the API docs page is an HTML page
    # every service has, with a strict CSP of its own.
    for process in load().services:
        direct = _answer(f"{stack.url_of(process.name)}/{process.name}/docs")
        through = _answer(f"{stack.gateway_url}/{process.name}/docs")
        assert direct[1]["content-type"].startswith("text/html"), process.name
        assert "content-security-policy" in direct[1], process.name
        assert through == direct, process.name
    # An error page too: the gateway's own JSON 404 never replaces the service's HTML one.
    unknown = f"/payments/{uuid.uuid4()}/return"
    direct = _answer(stack.url_of("payments") + unknown)
    assert direct[0] == 404 and direct[1]["content-type"].startswith("text/html")
    assert _answer(stack.gateway_url + unknown) == direct


def test_reset_wipes_the_mailbox_and_keeps_the_caches(monkeypatch, tmp_path) -> None:
    # Issue 8: Mailpit's mailbox is data; its build (a minute of Go) and Kafka's jars are caches.
    monkeypatch.setenv("PORTAL_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("PORTAL_TOOLS_DIR", str(tmp_path / "tools"))
    for kept_or_not in ("mailpit/mailpit.db", "logs/mailpit.log", "jars/kafka.jar", "tools/x"):
        (tmp_path / kept_or_not).parent.mkdir(exist_ok=True)
        (tmp_path / kept_or_not).write_text("")

    reset()

    assert sorted(entry.name for entry in tmp_path.iterdir()) == ["jars", "tools"]


def test_without_go_the_stack_says_how_to_get_it(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("PORTAL_TOOLS_DIR", str(tmp_path))
    monkeypatch.setattr(mailpit.shutil, "which", lambda _: None)
    monkeypatch.setattr(mailpit, "GO_FALLBACK", tmp_path / "no-go" / "go")
    with pytest.raises(StackError, match=r"built with Go, which is not installed.*go.dev/dl"):
        mailpit.ensure_binary(Config.from_env(), lambda _: None)
    assert not mailpit.binary(Config.from_env()).exists()
