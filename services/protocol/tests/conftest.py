"""Real PostgreSQL (a fresh database per test) and the real registry simulator, for the registrar
and API tests. Coordinates from PORTAL_TEST_PG_HOST / PORTAL_TEST_PG_PORT."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest
from portal_simulators.protocol_registry import create_app as create_registry
from portal_simulators.testing import serve

PG_HOST = os.environ.get("PORTAL_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("PORTAL_TEST_PG_PORT", "55432"))
ADMIN_DSN = f"host={PG_HOST} port={PG_PORT} user=postgres password=postgres dbname=postgres"


@pytest.fixture
def database():
    name = f"protocol_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield name
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_env(database):
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_HOST": PG_HOST,
        "POSTGRES_PORT": str(PG_PORT),
        "POSTGRES_USER": "postgres",
        "POSTGRES_PASSWORD": "postgres",
        "POSTGRES_DBNAME": database,
    }


@pytest.fixture
def registry(tmp_path):
    """The simulator, served for real; yields an httpx client on it (base_url = its URL)."""
    app = create_registry(str(tmp_path / "registry.sqlite3"))
    with serve(app) as url, httpx.Client(base_url=url, timeout=5) as client:
        yield client


class Clock:
    """The registrar's clock, moved by hand so that 'due' is deterministic."""

    def __init__(self) -> None:
        # Ahead of the wall clock, so what is requested during the test is already due.
        self.now = datetime.now(UTC) + timedelta(minutes=1)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock():
    return Clock()
