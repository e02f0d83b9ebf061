"""The audit service's records and the rules that make a case, with in-memory persistence
(SPEC X-1, issue 10 "A case's history and its state at a moment")."""

from __future__ import annotations

import uuid

import pytest
from audit_service.application import AuditApplication
from audit_service.cases import causal_order, is_human_number, references, refers
from audit_service.domainmodel import AuditorRead, ReadKind, Verification
from portal_events.history import entry


@pytest.fixture
def app():
    app = AuditApplication()
    yield app
    app.close()


def stored_events(app: AuditApplication) -> list:
    return list(app.recorder.select_notifications(start=1, limit=100))


def test_a_read_is_recorded_with_who_what_and_which_case_x1(app):
    auditor_id, root_id = uuid.uuid4(), uuid.uuid4()
    position = app.record_read(
        auditor_id=auditor_id,
        auditor_role="auditor",
        kind=ReadKind.CASE_STATE,
        case="2026/000042",
        case_aggregate_id=root_id,
        query={"at": "2026-03-01T10:00:00+02:00", "type": None},
    )
    (notification,) = stored_events(app)
    assert notification.id == position
    assert notification.topic == AuditorRead.Recorded.TOPIC
    read = app.repository.get(notification.originator_id)
    assert (read.auditor_id, read.auditor_role, read.kind) == (auditor_id, "auditor", "case_state")
    assert (read.case, read.case_aggregate_id) == ("2026/000042", root_id)
    assert read.query == {"at": "2026-03-01T10:00:00+02:00"}  # absent parameters left out


def test_every_read_is_a_record_of_its_own_x1(app):
    for _ in range(3):
        app.record_read(auditor_id=uuid.uuid4(), auditor_role="admin", kind=ReadKind.INTEGRITY)
    assert len({n.originator_id for n in stored_events(app)}) == 3


def test_a_verification_is_recorded_for_the_integrity_report_x1(app):
    app.record_verification("requests", 120, 118, False, "requests position 7 changed", 51234.5)
    (notification,) = stored_events(app)
    assert notification.topic == Verification.Recorded.TOPIC
    verification = app.repository.get(notification.originator_id)
    assert (verification.service, verification.position, verification.events) == (
        "requests",
        120,
        118,
    )
    assert (verification.ok, verification.problem) == (False, "requests position 7 changed")
    assert verification.events_per_second == 51234.5


def test_the_archive_needs_postgresql(app):
    with pytest.raises(RuntimeError, match="PostgreSQL"):
        app.case_root("2026/000042")


def test_references_are_ids_and_human_numbers_anywhere_in_the_data_x1():
    request_id, user_id = uuid.uuid4(), uuid.uuid4()
    data = {
        "params": {"request_id": str(request_id), "number": "2026/000042"},
        "link": f"/requests/{request_id}",
        "recipients": [str(user_id).upper()],
        "body": "Ο αριθμός πρωτοκόλλου 2026/000017 δόθηκε.",
        "amount": 8000,
        "fine_number": "2026000101",
        "date": "2026/03/01",
    }
    assert references(data) == {str(request_id), str(user_id), "2026/000042", "2026/000017"}


def test_human_numbers():
    assert is_human_number("2026/000042")
    assert not is_human_number("2026/42")
    assert not is_human_number("12026/000042")


def test_bookkeeping_and_the_audit_services_own_records_never_join_a_case_x1():
    assert refers("requests", "requests:Request.Created")
    assert not refers("requests", "portal:IdempotencyRecord.Recorded")
    assert not refers("requests", "requests:YearCounter.Issued")
    assert not refers("audit", "audit:AuditorRead.Recorded")


def test_causal_order_follows_versions_and_causation_over_clocks_x1(request_case):
    """An event caused by a message another entry published comes after that entry, even when
    its service's clock says otherwise; each aggregate's events stay in version order."""
    case = request_case
    members = [e for e in case.events if (e.service, e.position) in set(case.case_steps())]
    entries = [
        entry(
            service=e.service,
            position=e.position,
            aggregate_id=e.aggregate_id,
            version=e.version,
            topic=e.topic,
            state=e.state,
            state_sha256=e.state_sha256,
            chain_hash=e.hash,
        )
        for e in reversed(members)
    ]
    ordered = causal_order(entries)
    assert [(e["service"], e["position"]) for e in ordered] == case.case_steps()
