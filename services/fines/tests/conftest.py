"""Real PostgreSQL (a fresh database per test session, from the root `fresh_database` fixture)
and the real fines register simulator, served in-process; Kafka off."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from fines_service.main import service
from fines_service.settings import FinesSettings


@pytest.fixture(scope="session")
def settings(infra, fresh_database) -> FinesSettings:
    return FinesSettings(
        postgres_host=infra.pg_host,
        postgres_port=infra.pg_port,
        postgres_user=infra.pg_user,
        postgres_password=infra.pg_password,
        postgres_dbname=fresh_database("fines"),
        kafka_enabled=False,
        log_format="console",
    )


@pytest.fixture(scope="session")
def client(settings, token_verifier) -> Iterator[TestClient]:
    with TestClient(service.create_app(settings, token_verifier=token_verifier)) as test_client:
        yield test_client
