"""The kit's history route behind the gateway (SPEC X-1, issue 10): the public gateway does not
route `/<service>/history/...`, so an auditor reads histories only through the audit service
(which records every read); the service itself answers the audit service on its own port."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx
import pytest

pytestmark = pytest.mark.integration


def test_history_is_not_routed_by_the_gateway_but_answered_on_the_services_own_port(
    gateway, stack, new_citizen, admin
):
    citizen = new_citizen()
    submitted = citizen.post(
        "/requests", json={"kind": "request", "subject": "Φωτισμός", "text": "Σβηστός στύλος."}
    )
    assert submitted.status_code == 201, submitted.text
    request_id = submitted.json()["id"]

    email, password = f"auditor-{uuid.uuid4().hex[:8]}@dimos.gr", "Elegktis-2026"
    created = admin.post(
        "/identity/staff", json={"email": email, "password": password, "role": "auditor"}
    )
    assert created.status_code == 201, created.text
    token = gateway.post("/identity/token", data={"username": email, "password": password})
    assert token.status_code == 200, token.text
    auditor = {"Authorization": f"Bearer {token.json()['access_token']}"}
    path = f"/requests/history/aggregates/{request_id}/state"
    at = {"at": datetime.now(UTC).isoformat()}

    through_gateway = gateway.get(path, params=at, headers=auditor)
    assert through_gateway.status_code == 404, through_gateway.text
    assert through_gateway.json()["code"] == "not_found"

    direct = httpx.get(stack.url_of("requests") + path, params=at, headers=auditor, timeout=10)
    assert direct.status_code == 200, direct.text
    answer = direct.json()
    assert (answer["service"], answer["aggregate_id"], answer["aggregate_type"]) == (
        "requests",
        request_id,
        "Request",
    )
    assert answer["state"]["subject"] == "Φωτισμός"
