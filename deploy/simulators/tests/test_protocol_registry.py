"""The protocol registry simulator (SPEC R-4, C-4: one number per document, outages), over HTTP."""

from __future__ import annotations

import time
import uuid
from datetime import date

import httpx
import pytest
from portal_simulators.protocol_registry import create_app
from portal_simulators.testing import serve

DOC = {"document_type": "request", "title": "Αίτημα 2026/000001"}


class Clock:
    def __init__(self, today: date) -> None:
        self.today = today

    def __call__(self) -> date:
        return self.today


@pytest.fixture
def clock() -> Clock:
    return Clock(date(2026, 3, 1))


@pytest.fixture
def registry(tmp_path, clock):
    app = create_app(str(tmp_path / "registry.sqlite3"), today=clock)
    with serve(app) as url, httpx.Client(base_url=url, timeout=5) as client:
        yield client


def register(client: httpx.Client, key: str, **kwargs) -> httpx.Response:
    return client.post("/registrations", json=DOC, headers={"Idempotency-Key": key}, **kwargs)


def test_numbers_are_sequential_per_year_r4(registry, clock):
    first = register(registry, "doc-1")
    second = register(registry, "doc-2")
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json() == {
        "protocol_number": "2026/000001",
        "protocol_date": "2026-03-01",
        "idempotency_key": "doc-1",
    }
    assert second.json()["protocol_number"] == "2026/000002"

    clock.today = date(2027, 1, 1)
    assert register(registry, "doc-3").json()["protocol_number"] == "2027/000001"


def test_same_key_gets_the_same_number_c4(registry):
    key = str(uuid.uuid4())
    created = register(registry, key)
    again = register(registry, key)
    assert (created.status_code, again.status_code) == (201, 200)
    assert again.json() == created.json()
    assert registry.get(f"/registrations/{key}").json() == created.json()


def test_unknown_key_is_404(registry):
    response = registry.get("/registrations/nope")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_missing_idempotency_key_or_fields_is_422(registry):
    assert registry.post("/registrations", json=DOC).status_code == 422
    response = registry.post(
        "/registrations", json={"title": "no type"}, headers={"Idempotency-Key": "k"}
    )
    assert response.status_code == 422
    assert registry.get("/registrations/k").status_code == 404


def test_down_answers_503_and_registers_nothing(registry):
    assert registry.put("/control", json={"mode": "down"}).status_code == 200
    assert registry.get("/health").json() == {"status": "ok", "mode": "down"}
    response = register(registry, "doc-down")
    assert response.status_code == 503
    assert response.json()["code"] == "unavailable"

    registry.put("/control", json={"mode": "up"})
    assert registry.get("/registrations/doc-down").status_code == 404
    assert register(registry, "doc-down").json()["protocol_number"] == "2026/000001"


def test_slow_registers_then_answers_late(registry):
    registry.put("/control", json={"mode": "slow", "delay_seconds": 0.6})
    assert registry.get("/control").json() == {"mode": "slow", "delay_seconds": 0.6}

    started = time.monotonic()
    assert register(registry, "doc-slow").status_code == 201
    assert time.monotonic() - started >= 0.6

    # A client that gives up early lost the answer, not the number.
    with pytest.raises(httpx.TimeoutException):
        register(registry, "doc-lost", timeout=0.1)
    registry.put("/control", json={"mode": "up"})
    assert register(registry, "doc-lost").json()["protocol_number"] == "2026/000002"


def test_state_survives_a_restart(tmp_path, clock):
    path = str(tmp_path / "registry.sqlite3")
    with serve(create_app(path, today=clock)) as url:
        first = register(httpx.Client(base_url=url), "doc-1").json()
    with serve(create_app(path, today=clock)) as url:
        client = httpx.Client(base_url=url)
        assert register(client, "doc-1").json() == first
        assert register(client, "doc-2").json()["protocol_number"] == "2026/000002"
        assert client.get("/control").json()["mode"] == "up"
