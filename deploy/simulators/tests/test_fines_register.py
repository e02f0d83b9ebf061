"""The fines register simulator (SPEC F-4: look a fine up, record it once), over HTTP."""

from __future__ import annotations

import httpx
import pytest
from portal_simulators.fines_register import DEMO_FINES, create_app
from portal_simulators.testing import serve

NEW_FINE = {
    "fine_number": "2026009999",
    "plate": "ABE1234",
    "fine_type": "P-40",
    "issued_at": "2026-11-02T10:00:00+02:00",
    "amount": 8000,
}


@pytest.fixture
def db_path(tmp_path):
    return str(tmp_path / "fines-register.sqlite3")


@pytest.fixture
def register(db_path):
    with serve(create_app(db_path)) as url, httpx.Client(base_url=url, timeout=5) as client:
        yield client


def record(client: httpx.Client, key: str, fine: dict | None = None, **kwargs) -> httpx.Response:
    return client.post("/fines", json=fine or NEW_FINE, headers={"Idempotency-Key": key}, **kwargs)


def test_demo_fines_are_found_by_number_and_plate_f4(register):
    demo = DEMO_FINES[0]
    found = register.post(
        "/lookups", json={"fine_number": demo["fine_number"], "plate": demo["plate"]}
    )
    assert found.status_code == 200, found.text
    assert {key: found.json()[key] for key in demo} == demo
    assert found.json()["idempotency_key"] is None  # the police's own, not the portal's
    wrong_plate = register.post(
        "/lookups", json={"fine_number": demo["fine_number"], "plate": "XXX0000"}
    )
    assert wrong_plate.status_code == 404
    assert wrong_plate.json()["code"] == "not_found"


def test_recording_is_idempotent_by_key_f4(register):
    created = record(register, "fine-key-1")
    again = record(register, "fine-key-1")
    assert (created.status_code, again.status_code) == (201, 200)
    assert again.json() == created.json()
    assert created.json()["status"] == "unpaid"
    assert created.json()["idempotency_key"] == "fine-key-1"
    lookup = {"fine_number": NEW_FINE["fine_number"], "plate": NEW_FINE["plate"]}
    assert register.post("/lookups", json=lookup).json() == created.json()


def test_a_number_on_record_under_another_key_is_409(register):
    record(register, "fine-key-1")
    taken = record(register, "fine-key-2", NEW_FINE | {"plate": "ZZZ9999"})
    assert taken.status_code == 409
    assert taken.json()["code"] == "fine_number_taken"
    assert taken.json()["details"]["plate"] == NEW_FINE["plate"]


def test_down_answers_503_and_records_nothing(register):
    register.put("/control", json={"mode": "down"})
    assert record(register, "fine-key-1").status_code == 503
    assert register.post("/lookups", json={"fine_number": "1", "plate": "A"}).status_code == 503
    assert register.get("/health").json() == {"status": "ok", "mode": "down"}
    register.put("/control", json={"mode": "up"})
    assert register.get(f"/fines/{NEW_FINE['fine_number']}").status_code == 404


def test_slow_records_before_answering_so_a_retry_gets_the_same_fine(register):
    """A client that times out lost the answer, not the record: never a fine recorded twice."""
    register.put("/control", json={"mode": "slow", "delay_seconds": 1})
    with pytest.raises(httpx.TimeoutException):
        record(register, "fine-key-1", timeout=0.2)
    register.put("/control", json={"mode": "up"})
    retried = record(register, "fine-key-1")
    assert retried.status_code == 200
    assert retried.json()["idempotency_key"] == "fine-key-1"


def test_fines_survive_a_restart(db_path):
    with serve(create_app(db_path)) as url, httpx.Client(base_url=url) as client:
        assert record(client, "fine-key-1").status_code == 201
    with serve(create_app(db_path)) as url, httpx.Client(base_url=url) as client:
        assert client.get(f"/fines/{NEW_FINE['fine_number']}").status_code == 200
        assert client.get("/control").json()["mode"] == "up"
        assert client.get("/health").json()["status"] == "ok"
