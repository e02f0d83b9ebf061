"""HTTP API on real PostgreSQL; Kafka and the registrar loop off (SPEC X-3, R-4, errors)."""

from __future__ import annotations

import time
import uuid

import pytest
from fastapi.testclient import TestClient
from protocol_service.main import create_app
from protocol_service.settings import ProtocolSettings


@pytest.fixture
def bearer(token):
    return lambda role: {"Authorization": f"Bearer {token(role)}"}


@pytest.fixture
def client(infra, database, registry, token_verifier):
    settings = ProtocolSettings(
        postgres_host=infra.pg_host,
        postgres_port=infra.pg_port,
        postgres_password=infra.pg_password,
        postgres_dbname=database,
        kafka_enabled=False,
        registrar_enabled=False,
        protocol_registry_url=str(registry.base_url),
        log_format="console",
    )
    app = create_app(settings)
    app.state.token_verifier = token_verifier
    with TestClient(app) as client:
        yield client


def test_health(client):
    assert client.get("/protocol/health").json()["status"] == "ok"


def test_pending_list_and_detail_for_staff_x3_r4(client, registry, bearer):
    registry.put("/control", json={"mode": "down"})
    state = client.app.state
    document_id = uuid.uuid4()
    state.protocol_app.request_registration(
        document_id=document_id, document_type="request", title="Αίτημα 1"
    )
    deadline = time.monotonic() + 5
    while not state.pending_view.list_pending() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert state.registrar.process_one() is True

    response = client.get("/protocol/registrations?status=pending", headers=bearer("clerk"))
    assert response.status_code == 200
    (item,) = response.json()["items"]
    assert item["document_id"] == str(document_id)

    detail = client.get(f"/protocol/registrations/{document_id}", headers=bearer("auditor"))
    assert detail.status_code == 200
    assert detail.json()["status"] == "pending"
    assert detail.json()["attempts"] == 1
    assert detail.json()["last_failure"] == "HTTP 503"


def test_auth_and_errors(client, bearer):
    assert client.get("/protocol/registrations").status_code == 401
    forbidden = client.get("/protocol/registrations", headers=bearer("citizen"))
    assert forbidden.status_code == 403
    assert forbidden.json()["code"] == "forbidden"
    unknown = client.get(f"/protocol/registrations/{uuid.uuid4()}", headers=bearer("admin"))
    assert (unknown.status_code, unknown.json()["code"]) == (404, "not_found")
    invalid = client.get("/protocol/registrations?status=assigned", headers=bearer("clerk"))
    assert invalid.status_code == 422
    assert (
        client.get("/protocol/registrations/not-a-uuid", headers=bearer("clerk")).status_code == 422
    )
