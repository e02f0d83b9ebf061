"""The benchmark's no-op target (issue 5, benchmarks): it refuses what a named submission refuses
and answers 201 `{}` to the rest, so the two are compared on the same work of parsing."""

from __future__ import annotations

import httpx
import pytest
from portal_simulators.noop import app
from portal_simulators.testing import serve


@pytest.fixture(scope="module")
def noop():
    with serve(app) as url, httpx.Client(base_url=url, timeout=5) as client:
        yield client


def test_a_submission_shaped_body_is_201_with_an_empty_object(noop):
    body = {"kind": "complaint", "subject": "Θέμα", "text": "Κείμενο", "category": "roads"}
    response = noop.post("/noop/echo", json=body)
    assert response.status_code == 201
    assert response.json() == {}


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "wish", "subject": "Θέμα", "text": "Κείμενο"},
        {"kind": "request", "subject": "   ", "text": "Κείμενο"},
        {"kind": "request", "subject": "Θ" * 201, "text": "Κείμενο"},
        {"kind": "request", "subject": "Θέμα"},
    ],
    ids=["bad-kind", "blank-subject", "long-subject", "no-text"],
)
def test_what_a_submission_refuses_is_422(noop, body):
    assert noop.post("/noop/echo", json=body).status_code == 422


def test_health(noop):
    assert noop.get("/noop/health").status_code == 200
