"""The archive on real PostgreSQL: kept once however often delivered, cases found by any id or
human number and made of every service's events in causal order, the export (SPEC X-1, issue
10 "A case's history and its state at a moment")."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from audit_service.application import AuditApplication
from audit_service.archive import ExportFilter
from audit_service.domainmodel import CaseNotFound
from portal_events.contracts import HistoryCheckpointV1
from portal_events.history import decode_state

pytestmark = pytest.mark.integration


@pytest.fixture
def app(pg_env):
    app = AuditApplication(env=pg_env)
    yield app
    app.close()


@pytest.fixture
def archived(app, request_case):
    for event in request_case.events:
        assert app.archive.keep_event(event)
    return request_case


def test_an_event_is_archived_once_with_who_when_and_why_x1(app, request_case, infra, database):
    created = request_case.requests[1]
    assert app.archive.keep_event(created)
    assert not app.archive.keep_event(created)  # redelivered: nothing more
    with infra.connect(database) as connection:
        rows = connection.execute(
            "SELECT service, position, aggregate_id, version, topic, state, state_sha256, hash, "
            "occurred_at, actor_id, actor_role, correlation_id, causation_id "
            "FROM archived_events"
        ).fetchall()
    assert len(rows) == 1
    row = rows[0]
    assert row[:6] == ("requests", 2, created.aggregate_id, 1, created.topic, created.state)
    assert (bytes(row[6]).hex(), bytes(row[7]).hex()) == (created.state_sha256, created.hash)
    assert row[8].isoformat() == decode_state(created.state)[0]
    assert row[9:] == ("anonymous", "anonymous", "corr-1", None)


def test_a_checkpoint_is_kept_once_and_the_latest_per_service_answers_x1(app):
    first = HistoryCheckpointV1(
        service="requests",
        position=10,
        head_hash="ab" * 32,
        events=9,
        checkpointed_at="2026-03-01T10:00:00+00:00",
    )
    later = first.model_copy(update={"position": 25, "events": 24, "head_hash": "cd" * 32})
    assert app.archive.keep_checkpoint(first)
    assert not app.archive.keep_checkpoint(first)
    assert app.archive.keep_checkpoint(later)
    latest = app.last_checkpoints()["requests"]
    assert (latest.position, latest.events, latest.head_hash) == (25, 24, "cd" * 32)


def test_a_case_is_found_by_any_of_its_ids_or_its_number_x1(app, archived):
    by_id = app.case_root(str(archived.request_id))
    assert (by_id.service, by_id.aggregate_type, by_id.aggregate_id) == (
        "requests",
        "Request",
        archived.request_id,
    )
    assert app.case_root(str(archived.request_id).upper()) == by_id
    assert app.case_root("2026/000042") == by_id
    registration = app.case_root(str(archived.registration_id))
    assert (registration.service, registration.aggregate_type) == ("protocol", "Registration")
    with pytest.raises(CaseNotFound):
        app.case_root("2026/999999")
    with pytest.raises(CaseNotFound):
        app.case_root(str(uuid.uuid4()))


def test_a_number_names_the_aggregate_that_mentioned_it_first_x1(app, archived):
    """2026/000017 is this request's protocol number and, first, another request's number."""
    assert app.case_root("2026/000017").aggregate_id == archived.other_request_id


def test_a_requests_case_holds_every_step_of_every_service_in_causal_order_x1(app, archived):
    entries = app.case_history(app.case_root("2026/000042"))
    assert [(e["service"], e["position"]) for e in entries] == archived.case_steps()
    names = [(e["aggregate_type"], e["name"]) for e in entries]
    assert names == [
        ("Request", "Created"),
        ("Request", "Replied"),
        ("Notification", "Created"),
        ("Request", "ProtocolRequested"),
        ("Registration", "Requested"),
        ("Registration", "AttemptFailed"),
        ("Registration", "Assigned"),
        ("Request", "ProtocolAssigned"),
    ]
    assert entries[0]["actor"] == {"id": "anonymous", "role": "anonymous"}
    assert entries[1]["actor"] == archived.clerk
    assert entries[4]["actor"] == {"id": "protocol", "role": "system"}
    assert entries[4]["data"]["document_id"] == str(archived.request_id)


def test_bookkeeping_audit_records_and_a_colliding_number_stay_out_of_the_case_x1(app, archived):
    members = {e["aggregate_id"] for e in app.case_history(app.case_root("2026/000042"))}
    assert members == {
        str(archived.request_id),
        str(archived.registration_id),
        str(archived.notification_id),
    }


def test_the_export_streams_every_event_by_service_in_log_order_x1(app, archived):
    lines = list(app.export(ExportFilter()))
    assert [(line["service"], line["position"]) for line in lines] == sorted(
        (event.service, event.position) for event in archived.events
    )
    first = lines[0]
    sealed = next(e for e in archived.events if (e.service, e.position) == ("audit", 1))
    assert (first["state"], first["state_sha256"], first["hash"]) == (
        sealed.state,
        sealed.state_sha256,
        sealed.hash,
    )
    json.dumps(lines)  # every line is JSON as it is


def test_the_export_selects_by_service_time_and_event_name_x1(app, archived):
    def positions(**wanted) -> list[tuple[str, int]]:
        return [(line["service"], line["position"]) for line in app.export(ExportFilter(**wanted))]

    assert positions(service="protocol") == [("protocol", 1), ("protocol", 2), ("protocol", 3)]
    assert positions(event_name="Replied") == [("requests", 5)]
    assert positions(event_name="Created") == [
        ("notifications", 1),
        ("requests", 2),
        ("requests", 4),
    ]
    t0 = archived.t0
    assert positions(
        service="requests", start=t0 + timedelta(minutes=10), end=t0 + timedelta(minutes=20)
    ) == [("requests", 5)]
