"""Translation of domain events into public contracts for the relay, and of the registry's
outcomes for the consumer (issue 2 §3, issue 5 §2, R-4)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from uuid import uuid4

import pytest
from portal_events.application import IdempotencyRecord
from portal_events.consumer import MessageRefused
from portal_events.contracts import (
    PROTOCOL_REGISTRATION_EVENTS,
    REQUESTS_REQUEST_EVENTS,
    ProtocolAssignedV1,
    ProtocolRegistrationPendingV1,
    ProtocolRequestedV1,
    RequestRepliedV1,
    RequestStatusChangedV1,
    RequestSubmittedV1,
)
from portal_events.envelope import wrap
from requests_service.application import RequestsApplication
from requests_service.domainmodel import Request, Status, YearCounter
from requests_service.integration import handlers
from requests_service.main import service


def new_request(submitted_by=None) -> Request:
    return Request(
        number="2026/000007",
        kind="complaint",
        subject="Θέμα",
        text="Κείμενο",
        desired_action=None,
        category="roads" if submitted_by else None,
        department="technical" if submitted_by else "citizen_services",
        submitted_by=submitted_by,
    )


def test_r4_request_events_become_public_contracts():
    user = uuid4()
    request = new_request(user)
    request.change_status(Status.IN_PROGRESS, "Ανατέθηκε")
    request.answer("Απάντηση")
    request.request_protocol()
    request.record_protocol("1", "2026-01-02")
    published = [c for e in request.collect_events() for c in service.translate(e)]
    assert {topic for topic, _ in published} == {REQUESTS_REQUEST_EVENTS}
    submitted, changed, replied, protocol = (c for _, c in published)  # assigned stays private
    assert isinstance(submitted, RequestSubmittedV1)
    assert (submitted.number, submitted.department, submitted.anonymous) == (
        "2026/000007",
        "technical",
        False,
    )
    assert isinstance(changed, RequestStatusChangedV1) and changed.status == "in_progress"
    assert changed.submitted_by == user and changed.number == "2026/000007"
    assert isinstance(replied, RequestRepliedV1) and replied.submitted_by == user
    assert isinstance(protocol, ProtocolRequestedV1)
    assert (protocol.document_id, protocol.document_type) == (request.id, "request")
    assert (protocol.title, protocol.applicant_id) == ("Θέμα", user)
    assert protocol.department == "technical"  # issue 6: its clerks see the registration


def test_r1_anonymous_submission_contract_has_no_submitter():
    ((_, contract),) = service.translate(new_request().collect_events()[0])
    assert contract.anonymous is True and contract.submitted_by is None


def test_counter_and_idempotency_records_are_private():
    counter = YearCounter(2026)
    counter.issue()
    record = IdempotencyRecord("owner", "key-0001", "fingerprint", {"id": "x"})
    private = [*counter.collect_events(), *record.collect_events()]
    assert all(service.translate(e) == [] for e in private)


def test_r4_consumed_contracts_are_the_protocol_outcomes():
    """The consumer takes the registry's outcomes from the protocol service's topic (R-4)."""
    assert list(service.consumes) == [PROTOCOL_REGISTRATION_EVENTS]
    app = RequestsApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    try:
        consumed = handlers(app)
    finally:
        app.close()
    assert set(consumed) == {ProtocolAssignedV1, ProtocolRegistrationPendingV1}


def test_r4_an_outcome_for_a_request_that_does_not_exist_is_refused_for_good():
    """issue 5 §1: a domain refusal goes to the dead-letter topic at once (MessageRefused), not
    through the retries meant for outages."""
    app = RequestsApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    try:
        assigned = handlers(app)[ProtocolAssignedV1]
        contract = ProtocolAssignedV1(
            document_id=uuid4(),
            document_type="request",
            protocol_number="2026/000001",
            protocol_date=date(2026, 11, 26),
        )
        with pytest.raises(MessageRefused, match="RequestNotFound"):
            assigned(
                wrap(
                    contract,
                    source="protocol",
                    subject="x",
                    sequence=2,
                    occurred_at=datetime.now(UTC),
                ),
                contract,
            )
    finally:
        app.close()


def test_issue6_a_protocol_request_stored_before_departments_loads_and_publishes_none():
    """Version 1 of ProtocolRequested (stored before the department rode along) still loads,
    and translates to a contract without a department (admins and auditors see it)."""
    app = RequestsApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    try:
        request = new_request(uuid4())
        request.request_protocol()
        stored = [app.mapper.to_stored_event(e) for e in request.collect_events()]
        state = app.mapper.transcoder.decode(stored[-1].state)
        assert (state.pop("class_version"), state.pop("department")) == (2, "technical")
        stored[-1] = replace(stored[-1], state=app.mapper.transcoder.encode(state))
        app.recorder.insert_events(stored)

        (_, old_event) = app.repository.event_store.get(request.id)
        assert old_event.department is None
        ((_, contract),) = service.translate(old_event)
        assert isinstance(contract, ProtocolRequestedV1) and contract.department is None
        assert app.repository.get(request.id).protocol_status == "requested"
    finally:
        app.close()
