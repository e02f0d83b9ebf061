"""HTTP API of the fines service on real PostgreSQL (SPEC F-1..F-6)."""

from __future__ import annotations


def test_health(client):
    assert client.get("/fines/health").json()["status"] == "ok"
