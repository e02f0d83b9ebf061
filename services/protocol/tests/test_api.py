"""HTTP API on real PostgreSQL with the registrar running against the registry simulator; Kafka
off (SPEC X-3, R-4, the error shape, issue 5's list envelope and text checks)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from protocol_service.main import service
from protocol_service.settings import ProtocolSettings

DEPARTMENT = "technical"


@pytest.fixture
def bearer(token):
    """bearer(role): headers with a token of that role; a clerk's is of DEPARTMENT unless told."""

    def headers(role: str, department: str | None = DEPARTMENT) -> dict[str, str]:
        clerks_department = department if role == "clerk" else None
        return {"Authorization": f"Bearer {token(role, department=clerks_department)}"}

    return headers


@pytest.fixture
def client(infra, database, registry, token_verifier):
    settings = ProtocolSettings(
        postgres_host=infra.pg_host,
        postgres_port=infra.pg_port,
        postgres_password=infra.pg_password,
        postgres_dbname=database,
        kafka_enabled=False,
        protocol_registry_url=str(registry.base_url),
        # After a first failure the next attempt is a minute away: the test sees attempt 1.
        protocol_retry_base_seconds=60,
        protocol_registrar_poll_seconds=0.05,
        log_format="console",
    )
    with TestClient(service.create_app(settings, token_verifier=token_verifier)) as client:
        yield client


def eventually(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while (value := check()) is None or value is False:
        assert time.monotonic() < deadline, "not reached in time"
        time.sleep(0.05)
    return value


def request_registration(
    client: TestClient, title: str = "Αίτημα 1", department: str | None = DEPARTMENT
) -> uuid.UUID:
    document_id = uuid.uuid4()
    client.app.state.runtime.application.request_registration(
        document_id=document_id, document_type="request", title=title, department=department
    )
    return document_id


def test_health(client):
    health = client.get("/protocol/health").json()
    assert health["status"] == "ok", health
    assert {"read_model:pending_registrations_v2", "registrar"} <= set(health["checks"])


def test_pending_list_and_detail_for_staff_x3_r4(client, registry, bearer):
    """SPEC X-3: staff see what is pending, in the list envelope; R-4: one document's state."""
    registry.put("/control", json={"mode": "down"})
    document_id = request_registration(client)

    def failed_once() -> dict[str, Any] | None:
        page = client.get("/protocol/registrations?status=pending", headers=bearer("clerk"))
        assert page.status_code == 200, page.text
        body = page.json()
        return body if body["items"] and body["items"][0]["attempts"] == 1 else None

    page = eventually(failed_once)
    assert (page["total"], page["limit"], page["offset"]) == (1, 100, 0)
    (item,) = page["items"]
    assert (item["document_id"], item["last_failure"]) == (str(document_id), "HTTP 503")
    assert item["department"] == DEPARTMENT

    detail = client.get(f"/protocol/registrations/{document_id}", headers=bearer("auditor"))
    assert detail.status_code == 200
    assert detail.json()["status"] == "pending"
    assert detail.json()["attempts"] == 1
    assert detail.json()["last_failure"] == "HTTP 503"


def test_registrar_assigns_and_the_document_leaves_the_pending_list_r4(client, bearer):
    """SPEC R-4: with the registry up, the worker gets the number; pending is empty again."""
    document_id = request_registration(client)

    def assigned() -> dict[str, Any] | None:
        detail = client.get(f"/protocol/registrations/{document_id}", headers=bearer("admin"))
        return detail.json() if detail.json()["status"] == "assigned" else None

    registration = eventually(assigned)
    assert registration["protocol_number"] and registration["protocol_date"]
    assert registration["next_attempt_at"] is None
    emptied = eventually(
        lambda: client.get("/protocol/registrations", headers=bearer("clerk")).json()["total"] == 0
    )
    assert emptied


def test_pending_list_pages_with_the_total_issue5(client, registry, bearer):
    """issue 5 §2: `{items, total, limit, offset}`, oldest first, `limit`/`offset` paging."""
    registry.put("/control", json={"mode": "down"})
    documents = [request_registration(client, title=f"Αίτημα {n}") for n in range(3)]
    eventually(
        lambda: client.get("/protocol/registrations", headers=bearer("clerk")).json()["total"] == 3
    )
    page = client.get("/protocol/registrations?limit=2&offset=1", headers=bearer("clerk")).json()
    assert (page["total"], page["limit"], page["offset"]) == (3, 2, 1)
    assert [item["document_id"] for item in page["items"]] == [str(d) for d in documents[1:]]


def test_auth_and_errors(client, bearer):
    """DESIGN "HTTP": 401 without a token, 403 for citizens, 404 unknown, 422 invalid input."""
    assert client.get("/protocol/registrations").status_code == 401
    forbidden = client.get("/protocol/registrations", headers=bearer("citizen"))
    assert forbidden.status_code == 403
    assert forbidden.json()["code"] == "forbidden"
    unknown = client.get(f"/protocol/registrations/{uuid.uuid4()}", headers=bearer("admin"))
    assert (unknown.status_code, unknown.json()) == (
        404,
        {"code": "not_found", "message": "No protocol registration for this document."},
    )
    invalid = client.get("/protocol/registrations?status=assigned", headers=bearer("clerk"))
    assert invalid.status_code == 422
    assert (
        client.get("/protocol/registrations/not-a-uuid", headers=bearer("clerk")).status_code == 422
    )
    too_many = client.get("/protocol/registrations?limit=501", headers=bearer("clerk"))
    assert too_many.status_code == 422


def test_control_characters_in_the_query_are_refused_issue5(client, bearer):
    """issue 5 §1: a NUL (or other control character) in a parameter is 422 naming it."""
    refused = client.get("/protocol/registrations?status=pend%00ing", headers=bearer("clerk"))
    assert refused.status_code == 422
    assert refused.json()["details"][0]["field"] == "query.status"


def pending_ids(client: TestClient, headers: dict[str, str], **params: str) -> set[str]:
    page = client.get("/protocol/registrations", params=params, headers=headers)
    assert page.status_code == 200, page.text
    return {item["document_id"] for item in page.json()["items"]}


def test_issue6_a_clerk_sees_only_their_departments_registrations(client, registry, bearer):
    """Issue 6: a clerk lists and reads only their department's registrations; another's is 404
    (its existence not revealed), as is one without a department; admins and auditors see all
    and may filter by department."""
    registry.put("/control", json={"mode": "down"})  # all stay pending, so all are listed
    technical = str(request_registration(client, department="technical"))
    sanitation = str(request_registration(client, department="sanitation"))
    unassigned = str(request_registration(client, department=None))
    everything = {technical, sanitation, unassigned}
    eventually(lambda: pending_ids(client, bearer("admin")) == everything)

    assert pending_ids(client, bearer("clerk", "technical")) == {technical}
    assert pending_ids(client, bearer("clerk", "sanitation"), department="technical") == {
        sanitation
    }  # a clerk's own department, whatever the filter
    assert pending_ids(client, bearer("clerk", None)) == set()
    assert pending_ids(client, bearer("auditor")) == everything
    assert pending_ids(client, bearer("admin"), department="sanitation") == {sanitation}

    def answer(document_id: str, headers: dict[str, str]) -> int:
        return client.get(f"/protocol/registrations/{document_id}", headers=headers).status_code

    assert answer(technical, bearer("clerk", "technical")) == 200
    hidden = client.get(
        f"/protocol/registrations/{technical}", headers=bearer("clerk", "sanitation")
    )
    assert (hidden.status_code, hidden.json()["code"]) == (404, "not_found")
    assert answer(unassigned, bearer("clerk", "technical")) == 404
    assert answer(technical, bearer("clerk", None)) == 404
    assert {answer(d, bearer("auditor")) for d in everything} == {200}
    detail = client.get(f"/protocol/registrations/{unassigned}", headers=bearer("admin"))
    assert (detail.status_code, detail.json()["department"]) == (200, None)


def test_issue6_the_department_filter_takes_only_catalogue_codes(client, bearer):
    refused = client.get(
        "/protocol/registrations", params={"department": "nowhere"}, headers=bearer("admin")
    )
    assert refused.status_code == 422
    assert [d["field"] for d in refused.json()["details"]] == ["query.department"]
