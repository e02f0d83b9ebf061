"""Issue 6, "Gateway and local stack hygiene": the local PostgreSQL asks for a password (SCRAM),
and a cluster an earlier stack initialised with `trust` is moved to it on the next start, its
data kept. On a cluster of its own (own state dir and port), never the shared one."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from portal_simulators.testing import free_port
from portal_stack import postgres
from portal_stack.config import Config
from portal_stack.procs import run
from portal_stack.system import postgres_bin

pytestmark = pytest.mark.integration


@pytest.fixture
def own_cluster(monkeypatch) -> Iterator[Config]:
    # Under /tmp (which anyone may pass through), not pytest's private tmp dir: the `postgres`
    # user must reach the cluster, and the stack would open the folders above it to do so.
    state = Path(tempfile.mkdtemp(prefix="portal-pg-auth-"))
    monkeypatch.setenv("PORTAL_STATE_DIR", str(state))
    monkeypatch.setenv("PORTAL_PG_PORT", str(free_port()))
    cfg = Config.from_env()
    cfg.logs.mkdir(parents=True)
    try:
        yield cfg
    finally:
        postgres.stop_server(cfg)
        shutil.rmtree(state, ignore_errors=True)


def _connect(cfg: Config, password: str) -> psycopg.Connection:
    return psycopg.connect(
        host="127.0.0.1", port=cfg.pg_port, user=postgres.USER, password=password, dbname="postgres"
    )


def _refuses_a_wrong_password(cfg: Config) -> bool:
    try:
        _connect(cfg, "wrong").close()
    except psycopg.OperationalError as e:
        return "password authentication failed" in str(e)
    return False


def test_a_new_cluster_asks_for_the_password(own_cluster: Config) -> None:
    postgres.ensure_running(own_cluster, lambda _: None)

    assert _refuses_a_wrong_password(own_cluster)
    with _connect(own_cluster, postgres.PASSWORD) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    hba = (postgres.data_dir(own_cluster) / "pg_hba.conf").read_text()
    assert "trust" not in hba


def test_a_cluster_initialised_with_trust_is_moved_to_scram_with_its_data(
    own_cluster: Config,
) -> None:
    # What earlier versions of the stack made: trust over the socket and from 127.0.0.1.
    postgres.ensure_running(own_cluster, lambda _: None)
    data = postgres.data_dir(own_cluster)
    (data / "pg_hba.conf").write_text("local all all trust\nhost all all 127.0.0.1/32 trust\n")
    run(postgres._as_postgres([f"{postgres_bin()}/pg_ctl", "-D", str(data), "reload"]))
    with _connect(own_cluster, "anything") as conn:  # trust: any password passes
        conn.execute("ALTER ROLE postgres PASSWORD NULL")
        conn.execute("CREATE TABLE kept (n int)")
        conn.execute("INSERT INTO kept VALUES (42)")
        conn.commit()

    postgres.ensure_running(own_cluster, lambda _: None)  # the next `make up`: still running

    assert _refuses_a_wrong_password(own_cluster)
    with _connect(own_cluster, postgres.PASSWORD) as conn:
        assert conn.execute("SELECT n FROM kept").fetchall() == [(42,)]
