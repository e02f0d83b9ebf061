"""The worklist's order-independence and idempotence (SPEC X-3), without infrastructure: the
same events applied in any order, any of them twice, give the same rows; what each contract
means for a case (issue 8: requests, protocol registrations, certificates, fines, people)."""

from __future__ import annotations

import random
import sys
import uuid
from pathlib import Path

import pytest
from backoffice_service.deadlines import Deadlines
from backoffice_service.integration import CHANGES
from backoffice_service.worklist import States, case_row, person_row
from portal_events.contracts import (
    PaymentCompletedV1,
    ProtocolRegistrationPendingV1,
    RequestSubmittedV1,
)
from portal_events.envelope import Envelope

sys.path.insert(0, str(Path(__file__).parent))
from sample_events import CERTIFICATE, CITIZEN, at, envelope, history

DEADLINES = Deadlines.load()


def applied(envelopes: list[Envelope]) -> States:
    states = States()
    for env in envelopes:
        states.apply(CHANGES[type(env.contract())](env, env.contract()))
    return states


def rows(states: States) -> tuple[list[dict], list[dict]]:
    cases = [
        case_row(kind, item_id, s, DEADLINES) for (kind, item_id), s in sorted(states.cases.items())
    ]
    people = [person_row(user_id, s) for user_id, s in sorted(states.people.items())]
    return cases, people


def test_every_contract_of_the_history_has_its_function():
    assert {type(e.contract()) for e in history()} <= set(CHANGES)


@pytest.mark.parametrize("seed", range(12))
def test_x3_any_order_of_the_events_gives_the_same_rows(seed):
    events = history()
    expected = applied(events)
    shuffled = events[:]
    random.Random(seed).shuffle(shuffled)
    assert applied(shuffled) == expected
    assert rows(applied(shuffled)) == rows(expected)


def test_x3_the_reverse_order_gives_the_same_rows():
    """The hardest interleaving: the protocol number before the request for it, the payment
    before the fine, the issue before the application, the latest name first."""
    assert applied(list(reversed(history()))) == applied(history())


def test_x3_a_redelivered_event_changes_nothing():
    events = history()
    once = applied(events)
    assert applied(events + events) == once
    assert applied([e for e in events for _ in range(3)]) == once


def test_x3_what_the_history_gives():
    cases, people = rows(applied(history()))
    by_kind = {row["kind"]: row for row in cases if row["received_at"] is not None}

    request = by_kind["request"]
    assert (request["service"], request["case_type"], request["number"]) == (
        "requests",
        "complaint",
        "2026/000042",
    )
    assert (request["department"], request["applicant_id"]) == ("technical", CITIZEN)
    assert (request["status"], request["open"]) == ("in_progress", True)
    assert request["due_base"] == at(1 + 50)

    registration = by_kind["protocol_registration"]
    assert (registration["status"], registration["open"]) == ("assigned", False)
    assert (registration["number"], registration["department"]) == ("2026/001234", "technical")

    certificate = by_kind["certificate"]
    assert (certificate["status"], certificate["open"], certificate["department"]) == (
        "issued",
        False,
        "civil_registry",
    )
    assert certificate["due_base"] == at(4 + 50 + 6)  # six days awaiting the applicant
    assert certificate["paused_since"] is None

    fine = by_kind["fine"]
    assert (fine["status"], fine["open"], fine["department"]) == ("paid", False, "municipal_police")
    assert fine["due_base"] == at(5 + 60)

    # The highest version of identity's user aggregate wins: the latest name, verified again.
    assert people == [{"user_id": CITIZEN, "name": "Ελένη Παπαδοπούλου", "verified": True}]
    assert len(cases) == 4  # a payment of something else than a fine is not the worklist's


def test_x3_a_case_is_partial_until_its_submission_is_known():
    """A payment before its fine, a pending registration before its request: rows without a
    submission (not listed) until the rest arrives."""
    events = history()
    payment = next(e for e in events if isinstance(e.contract(), PaymentCompletedV1))
    pending = next(e for e in events if isinstance(e.contract(), ProtocolRegistrationPendingV1))
    cases, _ = rows(applied([payment, pending]))
    assert sorted((r["kind"], r["status"], r["received_at"]) for r in cases) == [
        ("fine", "paid", None),
        ("protocol_registration", "pending", None),
    ]


def test_x3_a_certificate_awaiting_the_applicant_has_its_clock_stopped():
    waiting = [e for e in history() if e.sequence <= 3 and e.subject == str(CERTIFICATE)]
    cases, _ = rows(applied(waiting))
    [certificate] = cases
    assert (certificate["status"], certificate["open"]) == ("awaiting_applicant", True)
    assert (certificate["due_base"], certificate["paused_since"]) == (at(54), at(10))


def test_x3_an_anonymous_request_has_no_applicant():
    anonymous = RequestSubmittedV1(
        request_id=uuid.uuid4(),
        number="2026/000043",
        kind="request",
        subject="Θόρυβος",
        department="citizen_services",
        anonymous=True,
        submitted_by=None,
        submitted_at=at(1),
    )
    cases, people = rows(applied([envelope(anonymous, anonymous.request_id, 1, 1)]))
    assert (cases[0]["applicant_id"], cases[0]["status"], people) == (None, "submitted", [])
