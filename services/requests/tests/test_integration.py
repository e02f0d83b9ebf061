"""Translation of domain events into public contracts for the relay (issue §3, R-4)."""

from __future__ import annotations

from uuid import uuid4

from portal_events.contracts import (
    REQUESTS_REQUEST_EVENTS,
    ProtocolRequestedV1,
    RequestRepliedV1,
    RequestStatusChangedV1,
    RequestSubmittedV1,
)
from requests_service.domainmodel import Request, Status, YearCounter
from requests_service.integration import to_contracts


def test_r4_request_events_become_public_contracts():
    user = uuid4()
    request = Request(
        number="2026/000007",
        kind="complaint",
        subject="Θέμα",
        text="Κείμενο",
        desired_action=None,
        category="roads",
        department="technical",
        submitted_by=user,
    )
    request.change_status(Status.IN_PROGRESS, "Ανατέθηκε")
    request.answer("Απάντηση")
    request.request_protocol()
    request.record_protocol("1", "2026-01-02")
    published = [c for e in request.collect_events() for c in to_contracts(e)]
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


def test_r1_anonymous_submission_contract_has_no_submitter():
    request = Request(
        number="2026/000008",
        kind="request",
        subject="Θέμα",
        text="Κείμενο",
        desired_action=None,
        category=None,
        department="citizen_services",
        submitted_by=None,
    )
    ((_, contract),) = to_contracts(request.collect_events()[0])
    assert contract.anonymous is True and contract.submitted_by is None


def test_counter_events_are_private():
    counter = YearCounter(2026)
    counter.issue()
    assert all(to_contracts(e) == [] for e in counter.collect_events())
