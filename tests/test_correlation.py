"""One correlation id from the HTTP edge through stored events, Kafka and the next service's
stored events (issue 2 §3 "Correlation"; SPEC X-1: who did it and why)."""

from __future__ import annotations

import json
import uuid

import psycopg
import pytest

pytestmark = pytest.mark.integration


def _stored_events(stack, service: str) -> list[tuple[str, str, dict]]:
    """A service's stored events (originator id, topic, state), as an auditor would read them."""
    with psycopg.connect(stack.pg_dsn(service)) as conn:
        rows = conn.execute(
            f"SELECT originator_id, topic, state FROM {service}_events ORDER BY originator_version"
        ).fetchall()
    return [(str(oid), topic, json.loads(bytes(state))) for oid, topic, state in rows]


def _metadata_of(stack, service: str, mentioning: str) -> list[dict]:
    """Metadata (+ topic) of the events of one aggregate, or of those whose state mentions it."""
    return [
        {"topic": topic, **state["metadata"]}
        for oid, topic, state in _stored_events(stack, service)
        if oid == mentioning or uuid.UUID(mentioning).hex in json.dumps(state)
    ]


def test_correlation_id_flows_from_http_into_both_services_events(
    new_citizen, clerk_of, stack, eventually
):
    citizen = new_citizen()
    clerk = clerk_of("citizen_services")
    submitted = citizen.post(
        "/requests",
        json={"kind": "proposal", "subject": "Ποδηλατόδρομος", "text": "Στην παραλιακή."},
        headers={"X-Correlation-ID": "corr-submit-1"},
    )
    request_id = submitted.json()["id"]
    asked = clerk.post(
        f"/requests/{request_id}/protocol", headers={"X-Correlation-ID": "corr-ask-1"}
    )
    assert asked.status_code == 202
    eventually(lambda: citizen.get(f"/requests/{request_id}").json().get("protocol") or {})

    requests_events = _metadata_of(stack, "requests", request_id)
    submitted_event = requests_events[0]
    assert submitted_event["correlation_id"] == "corr-submit-1"
    assert submitted_event["actor"] == {"id": citizen.user_id, "role": "citizen"}
    asked_event = next(e for e in requests_events if e["correlation_id"] == "corr-ask-1")
    assert asked_event["actor"] == {"id": clerk.user_id, "role": "clerk"}

    # The protocol service recorded the registration in the same correlation, as a consequence
    # of that event; the number came back to requests, still in it.
    protocol_events = _metadata_of(stack, "protocol", request_id)
    assert protocol_events, "the protocol service stored nothing for this document"
    assert all(e["correlation_id"] == "corr-ask-1" for e in protocol_events)
    assert protocol_events[0]["actor"] == {"id": "protocol", "role": "system"}
    assert protocol_events[0]["causation_id"]
    assigned_back = [e for e in requests_events if "Assigned" in e["topic"]]
    assert assigned_back and assigned_back[0]["correlation_id"] == "corr-ask-1"
    assert assigned_back[0]["actor"]["role"] == "system"
    assert assigned_back[0]["causation_id"]
