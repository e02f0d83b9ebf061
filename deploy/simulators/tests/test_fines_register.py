"""The fines register simulator (SPEC F-4), over HTTP."""

from __future__ import annotations

from fastapi.testclient import TestClient
from portal_simulators.fines_register import create_app


def test_health():
    assert TestClient(create_app()).get("/health").json()["status"] == "ok"
