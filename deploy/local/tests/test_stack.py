"""The local stack, against real processes: run with the default stack, or with PORTAL_STATE_DIR
and PORTAL_*_PORT pointing at a separate one."""

from __future__ import annotations

import asyncio
import os
import time
import urllib.error
import urllib.request

import psycopg
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from portal_stack import StackInfo, ensure_up
from portal_stack.config import Config
from portal_stack.kafka import declared_topics
from portal_stack.procs import read_pid
from portal_stack.services import load
from portal_stack.stack import processes

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


def test_each_service_has_its_database(stack: StackInfo) -> None:
    with psycopg.connect(stack.pg_dsn("postgres")) as conn:
        names = {row[0] for row in conn.execute("SELECT datname FROM pg_database")}
    assert {p.database for p in load().services} <= names


def test_the_gateway_answers_and_routes_to_every_listed_process(stack: StackInfo) -> None:
    assert _get(f"{stack.gateway_url}/health") == 200
    for process in load().processes:
        # A stripped prefix is the gateway's, so the process's own path follows it.
        path = (
            f"/{process.name}{process.health_path}" if process.strip_prefix else process.health_path
        )
        assert _get(stack.gateway_url + path) == 200, process.name


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
        url = f"{stack.gateway_url}/{process.name}"
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
