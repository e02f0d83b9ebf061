"""Registration, application, backoff, contracts; in-memory persistence (SPEC R-4, C-4)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from portal_events import context
from portal_events.contracts import (
    ProtocolAssignedV1,
    ProtocolRegistrationPendingV1,
    ProtocolRequestedV1,
)
from portal_events.envelope import wrap
from portal_events.mapper import event_metadata
from portal_events.topics import PROTOCOL_REGISTRATION_EVENTS
from protocol_service.application import EVERYTHING, ProtocolApplication, Scope
from protocol_service.domainmodel import (
    Registration,
    RegistrationAlreadyAssigned,
    RegistrationNotFound,
    id_for,
)
from protocol_service.integration import handlers
from protocol_service.main import service

NOW = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def app():
    app = ProtocolApplication()
    yield app
    app.close()


def request(app: ProtocolApplication, document_id: uuid.UUID) -> bool:
    return app.request_registration(
        document_id=document_id, document_type="request", title="Αίτημα 2026/000001"
    )


def test_duplicate_request_makes_one_registration_c4(app):
    document_id = uuid.uuid4()
    assert request(app, document_id) is True
    assert request(app, document_id) is False

    registration = app.registration(document_id, scope=EVERYTHING)
    assert registration.id == id_for(document_id)
    assert registration.version == 1
    assert registration.status == "pending"
    assert registration.is_due(NOW)


def test_unknown_document_is_not_found(app):
    with pytest.raises(RegistrationNotFound):
        app.registration(uuid.uuid4(), scope=EVERYTHING)


def test_failed_attempts_count_and_reschedule_then_assignment_is_final_c4(app):
    document_id = uuid.uuid4()
    request(app, document_id)
    later = NOW + timedelta(seconds=2)
    app.record_failed_attempt(document_id, "HTTP 503", later)
    registration = app.record_failed_attempt(document_id, "timeout", later)
    assert (registration.attempts, registration.last_failure) == (2, "timeout")
    assert not registration.is_due(NOW)
    assert registration.is_due(later)

    app.record_assignment(document_id, "2026/000017", date(2026, 3, 1))
    # A second answer (e.g. after a lost response) changes nothing: one document, one number.
    registration = app.record_assignment(document_id, "2026/000099", date(2026, 3, 2))
    assert (registration.protocol_number, registration.version) == ("2026/000017", 4)
    assert registration.status == "assigned"
    assert not registration.is_due(later)
    with pytest.raises(RegistrationAlreadyAssigned):
        app.record_failed_attempt(document_id, "late failure", later)


def test_events_carry_actor_and_correlation_metadata_x1(app):
    document_id = uuid.uuid4()
    with context.bound(correlation_id="corr-1", actor=context.Actor("u1", "clerk")):
        request(app, document_id)
    (stored,) = app.repository.event_store.get(id_for(document_id))
    assert event_metadata(stored)["correlation_id"] == "corr-1"
    assert event_metadata(stored)["actor"] == {"id": "u1", "role": "clerk"}


def published(domain_event: object) -> object:
    """The contract the relay publishes for a stored event (on the registration topic), or
    None for a private one."""
    translated = service.translate(domain_event)
    assert {topic for topic, _ in translated} <= {PROTOCOL_REGISTRATION_EVENTS}
    return translated[0][1] if translated else None


def test_contracts_assigned_and_pending_reminders_c4(app):
    """SPEC C-4: the owner is told at the first failure and every 10th, not at each retry."""
    document_id = uuid.uuid4()
    request(app, document_id)
    for _ in range(20):
        app.record_failed_attempt(document_id, "HTTP 503", NOW)
    app.record_assignment(document_id, "2026/000017", date(2026, 3, 1))
    requested, *failures, assigned = app.repository.event_store.get(id_for(document_id))

    assert published(requested) is None  # Requested is private
    reminders = {n: published(e) for n, e in enumerate(failures, start=1) if published(e)}
    assert sorted(reminders) == [1, 10, 20]
    assert reminders[1] == ProtocolRegistrationPendingV1(
        document_id=document_id,
        document_type="request",
        attempts=1,
        reason="HTTP 503",
        next_attempt_at=NOW,
    )
    assert published(assigned) == ProtocolAssignedV1(
        document_id=document_id,
        document_type="request",
        protocol_number="2026/000017",
        protocol_date=date(2026, 3, 1),
    )


def test_consumer_handler_is_idempotent_r4(app):
    contract = ProtocolRequestedV1(
        document_id=uuid.uuid4(),
        document_type="request",
        title="Αίτημα 2026/000001",
        requested_at=NOW,
    )
    envelope = wrap(
        contract, source="requests", subject=str(contract.document_id), sequence=5, occurred_at=NOW
    )
    handler = handlers(app)[ProtocolRequestedV1]
    handler(envelope, contract)
    handler(envelope, contract)  # redelivered

    (stored,) = app.repository.event_store.get(id_for(contract.document_id))
    assert isinstance(stored, Registration.Requested)
    assert (stored.document_id, stored.title) == (contract.document_id, contract.title)


def test_issue6_the_registration_records_the_department_of_the_request(app):
    contract = ProtocolRequestedV1(
        document_id=uuid.uuid4(),
        document_type="request",
        title="Αίτημα 2026/000002",
        requested_at=NOW,
        department="technical",
    )
    envelope = wrap(
        contract, source="requests", subject=str(contract.document_id), sequence=6, occurred_at=NOW
    )
    handlers(app)[ProtocolRequestedV1](envelope, contract)

    (stored,) = app.repository.event_store.get(id_for(contract.document_id))
    assert stored.department == "technical"
    assert app.registration(contract.document_id, scope=EVERYTHING).department == "technical"


def test_issue6_a_clerk_sees_only_their_departments_registrations(app):
    """Admins and auditors (EVERYTHING) see all; a clerk their department's; a registration
    without a department is in no clerk's scope; elsewhere it does not exist (not found)."""
    technical, unassigned = uuid.uuid4(), uuid.uuid4()
    app.request_registration(
        document_id=technical, document_type="request", title="Α", department="technical"
    )
    app.request_registration(document_id=unassigned, document_type="request", title="Β")

    assert app.registration(technical, scope=Scope(department="technical")).document_id == technical
    for scope in (Scope(department="sanitation"), Scope(department=None)):
        with pytest.raises(RegistrationNotFound):
            app.registration(technical, scope=scope)
    with pytest.raises(RegistrationNotFound):
        app.registration(unassigned, scope=Scope(department="technical"))
    assert app.registration(unassigned, scope=EVERYTHING).department is None


def test_issue6_a_registration_stored_before_departments_loads_without_one(app):
    """Version 1 of Requested, stored before the department was recorded, still loads: with
    department None (admins and auditors only)."""
    document_id = uuid.uuid4()
    registration = Registration(
        document_id=document_id,
        document_type="request",
        title="Αίτημα 2025/000001",
        applicant_id=None,
        department="technical",
    )
    (stored,) = [app.mapper.to_stored_event(e) for e in registration.collect_events()]
    state = app.mapper.transcoder.decode(stored.state)
    assert (state.pop("class_version"), state.pop("department")) == (2, "technical")
    app.recorder.insert_events([replace(stored, state=app.mapper.transcoder.encode(state))])

    loaded = app.registration(document_id, scope=EVERYTHING)
    assert (loaded.title, loaded.department, loaded.status) == (
        "Αίτημα 2025/000001",
        None,
        "pending",
    )
    app.record_assignment(document_id, "2025/000099", date(2025, 12, 30))  # and it carries on
    assert app.registration(document_id, scope=EVERYTHING).status == "assigned"
