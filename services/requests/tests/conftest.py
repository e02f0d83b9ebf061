"""API test fixtures: the service on a fresh real PostgreSQL database, Kafka disabled; tokens
come from the root conftest's `token` fixture."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from requests_service.main import service
from requests_service.settings import RequestsSettings


@pytest.fixture(scope="session")
def settings(infra, fresh_database) -> RequestsSettings:
    return RequestsSettings(
        postgres_host=infra.pg_host,
        postgres_port=infra.pg_port,
        postgres_user=infra.pg_user,
        postgres_password=infra.pg_password,
        postgres_dbname=fresh_database("requests"),
        kafka_enabled=False,
        log_format="console",
    )


@pytest.fixture(scope="session")
def client(settings, token_verifier) -> Iterator[TestClient]:
    with TestClient(service.create_app(settings, token_verifier=token_verifier)) as test_client:
        yield test_client
