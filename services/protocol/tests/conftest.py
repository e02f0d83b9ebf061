"""Real PostgreSQL (a fresh database per test, from the root `fresh_database` fixture) and the
real registry simulator, for the registrar and API tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from portal_simulators.protocol_registry import create_app as create_registry
from portal_simulators.testing import serve


@pytest.fixture
def database(fresh_database):
    return fresh_database("protocol")


@pytest.fixture
def pg_env(infra, database):
    return infra.pg_env(database)


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
