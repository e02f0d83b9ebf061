"""Real PostgreSQL (a fresh database per test session, from the root `fresh_database` fixture)
and the real fines register simulator served in-process; Kafka off (the consumer's handlers are
called directly where a test needs identity's or payments' events)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from fines_service.main import service
from fines_service.settings import FinesSettings
from portal_simulators.fines_register import create_app as create_register
from portal_simulators.testing import serve


@pytest.fixture(scope="session")
def register_server(tmp_path_factory) -> Iterator[httpx.Client]:
    """The register simulator, served for real; an httpx client on it (base_url = its URL)."""
    app = create_register(str(tmp_path_factory.mktemp("register") / "fines-register.sqlite3"))
    with serve(app) as url, httpx.Client(base_url=url, timeout=5) as client:
        yield client


@pytest.fixture
def register(register_server) -> Iterator[httpx.Client]:
    """The register simulator for one test, left up however the test ends."""
    yield register_server
    register_server.put("/control", json={"mode": "up"})


@pytest.fixture(scope="session")
def settings(infra, fresh_database, register_server) -> FinesSettings:
    return FinesSettings(
        postgres_host=infra.pg_host,
        postgres_port=infra.pg_port,
        postgres_user=infra.pg_user,
        postgres_password=infra.pg_password,
        postgres_dbname=fresh_database("fines"),
        kafka_enabled=False,
        fines_register_url=str(register_server.base_url),
        fines_register_timeout_seconds=0.5,
        portal_public_url="http://portal.test",
        log_format="console",
    )


@pytest.fixture(scope="session")
def client(settings, token_verifier) -> Iterator[TestClient]:
    with TestClient(service.create_app(settings, token_verifier=token_verifier)) as test_client:
        yield test_client


@pytest.fixture
def citizen(client, token) -> Callable[..., dict[str, str]]:
    """citizen(complete=True) -> headers of a new citizen, whose profile identity reported
    complete (or not)."""

    def make(complete: bool = True, role: str = "citizen") -> dict[str, str]:
        user_id = uuid.uuid4()
        client.app.state.runtime.application.record_profile(user_id, complete, 1)
        return {"Authorization": f"Bearer {token(role, user_id=user_id)}"}

    return make


@pytest.fixture
def staff(token) -> Callable[..., dict[str, str]]:
    """staff(role, department=None) -> headers of a staff member."""

    def make(role: str, department: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token(role, department=department)}"}

    return make
