"""HTTP API on real PostgreSQL, Kafka off, the archive filled directly (SPEC X-1): roles, a
case's history, its state asked of the owning service, the export, integrity, and every read in
the audit trail."""

from __future__ import annotations

import json
import uuid

import pytest
from audit_service.main import service
from audit_service.settings import AuditSettings
from audit_service.views import LastVerificationView
from fastapi import FastAPI, Header
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from portal_simulators.testing import free_port, serve

pytestmark = pytest.mark.integration

AT = "2026-03-01T11:15:00+02:00"


@pytest.fixture
def owner():
    """The requests service's history route, as the kit answers it; it notes what it was
    asked."""
    asked: list[dict[str, str | None]] = []
    app = FastAPI()

    @app.get("/requests/history/aggregates/{aggregate_id}/state")
    def state(aggregate_id: str, at: str, authorization: str | None = Header(None)):
        asked.append({"at": at, "authorization": authorization})
        if at.startswith("2000"):
            return JSONResponse({"code": "not_found", "message": "none yet"}, status_code=404)
        return {
            "service": "requests",
            "aggregate_id": aggregate_id,
            "aggregate_type": "Request",
            "version": 1,
            "at": at,
            "state": {"status": "submitted", "reply": None},
        }

    with serve(app) as url:
        yield url, asked


@pytest.fixture
def client(infra, database, token_verifier, owner, request_case):
    url, _ = owner
    settings = AuditSettings(
        postgres_host=infra.pg_host,
        postgres_port=infra.pg_port,
        postgres_password=infra.pg_password,
        postgres_dbname=database,
        kafka_enabled=False,
        audit_service_urls=f"requests={url},protocol=http://127.0.0.1:{free_port()}",
        log_format="console",
    )
    with TestClient(service.create_app(settings, token_verifier=token_verifier)) as client:
        archive = client.app.state.runtime.application.archive
        for event in request_case.events:
            archive.keep_event(event)
        yield client


@pytest.fixture
def auditor(token):
    user_id = uuid.uuid4()
    return user_id, {"Authorization": f"Bearer {token('auditor', user_id=user_id)}"}


ROUTES = [
    "/audit/cases/2026/000042",
    f"/audit/cases/2026/000042/state?at={AT}",
    "/audit/events",
    "/audit/integrity",
    "/audit/trail",
]


@pytest.mark.parametrize("role", ["citizen", "business", "clerk"])
def test_only_auditors_and_admins_read_the_history_x1(client, token, role):
    headers = {"Authorization": f"Bearer {token(role, department='technical')}"}
    for route in ROUTES:
        answer = client.get(route.replace("+", "%2B"), headers=headers)
        assert answer.status_code == 403, (route, answer.text)
        assert answer.json()["code"] == "forbidden"
    assert client.get("/audit/integrity").status_code == 401


def test_a_case_by_its_number_across_services_x1(client, auditor, request_case):
    answer = client.get("/audit/cases/2026/000042", headers=auditor[1])
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["case"] == "2026/000042"
    assert body["root"] == {
        "service": "requests",
        "aggregate_type": "Request",
        "aggregate_id": str(request_case.request_id),
    }
    steps = [(e["service"], e["position"]) for e in body["entries"]]
    assert steps == request_case.case_steps()
    assert body["entries"][0]["actor"] == {"id": "anonymous", "role": "anonymous"}


def test_an_unknown_case_is_404_x1(client, auditor):
    answer = client.get(f"/audit/cases/{uuid.uuid4()}", headers=auditor[1])
    assert answer.status_code == 404
    assert answer.json()["code"] == "case_not_found"


def test_the_state_at_a_moment_is_asked_of_the_owning_service_x1(
    client, auditor, owner, request_case
):
    _, asked = owner
    answer = client.get(
        f"/audit/cases/{request_case.request_id}/state", params={"at": AT}, headers=auditor[1]
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["state"] == {"status": "submitted", "reply": None}
    assert answer.json()["version"] == 1
    assert asked[-1] == {
        "at": "2026-03-01T11:15:00+02:00",
        "authorization": auditor[1]["Authorization"],
    }

    before = client.get(
        "/audit/cases/2026/000042/state",
        params={"at": "2000-01-01T00:00:00+00:00"},
        headers=auditor[1],
    )
    assert before.status_code == 404
    assert before.json()["code"] == "not_found"


def test_an_unreachable_owner_is_503_x1(client, auditor, request_case):
    answer = client.get(
        f"/audit/cases/{request_case.registration_id}/state", params={"at": AT}, headers=auditor[1]
    )
    assert answer.status_code == 503
    assert answer.json()["code"] == "service_unavailable"


@pytest.mark.parametrize("at", ["yesterday", "2026-03-01T10:00:00", "2026-13-01T10:00:00Z"])
def test_an_instant_without_offset_or_malformed_is_422_x1(client, auditor, at):
    answer = client.get("/audit/cases/2026/000042/state", params={"at": at}, headers=auditor[1])
    assert answer.status_code == 422
    assert answer.json()["code"] == "invalid_input"
    assert answer.json()["details"][0]["field"] == "query.at"
    exported = client.get("/audit/events", params={"from": at}, headers=auditor[1])
    assert exported.status_code == 422


def test_the_export_is_ndjson_in_each_services_order_x1(client, auditor, request_case):
    answer = client.get("/audit/events", params={"service": "requests"}, headers=auditor[1])
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in answer.text.splitlines()]
    assert [line["position"] for line in lines] == [1, 2, 3, 4, 5, 6, 7]
    assert all(line["state"] for line in lines)


def test_integrity_answers_the_last_verification_and_checkpoint_per_service_x1(client, auditor):
    app = client.app.state.runtime.application
    app.record_verification("protocol", 3, 3, True, None, 60_000.0)
    app.record_verification("requests", 7, 7, False, "requests position 5 changed", 55_000.0)
    client.app.state.runtime.settle(LastVerificationView, app.recorder.max_notification_id())
    answer = client.get("/audit/integrity", headers=auditor[1])
    assert answer.status_code == 200
    report = {s["service"]: s for s in answer.json()["services"]}
    assert report["requests"]["last_verification"]["result"] == "failed"
    assert report["requests"]["last_verification"]["problem"] == "requests position 5 changed"
    assert report["protocol"]["last_verification"]["result"] == "passed"


def test_every_read_is_in_the_audit_trail_x1(client, auditor, token, request_case):
    auditor_id, headers = auditor
    client.get("/audit/cases/2026/000042", headers=headers)
    client.get(f"/audit/cases/{request_case.request_id}/state", params={"at": AT}, headers=headers)
    client.get("/audit/events", params={"type": "Replied"}, headers=headers)
    client.get("/audit/integrity", headers=headers)
    admin = {"Authorization": f"Bearer {token('admin')}"}
    client.get(f"/audit/cases/{request_case.request_id}", headers=admin)

    mine = client.get("/audit/trail", params={"auditor": str(auditor_id)}, headers=headers).json()
    kinds = [item["kind"] for item in mine["items"]]
    assert kinds == ["trail", "integrity", "export", "case_state", "case_history"]
    assert mine["items"][2]["query"] == {"type": "Replied"}
    assert mine["items"][3]["query"] == {"at": AT}

    case = client.get("/audit/trail", params={"case": "2026/000042"}, headers=headers).json()
    asked = {(item["auditor_role"], item["kind"], item["case"]) for item in case["items"]}
    assert {
        ("auditor", "case_history", "2026/000042"),
        ("auditor", "case_state", str(request_case.request_id)),
        ("admin", "case_history", str(request_case.request_id)),
    } <= asked
