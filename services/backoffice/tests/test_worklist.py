"""The worklist's order-independence and idempotence (SPEC X-3), without infrastructure: the
same events applied in any order, any of them twice, give the same rows; what each contract
means for a case (issue 8: requests, protocol registrations, certificates, fines, people; issue 9:
tax declarations accepted but not yet filed with the information system)."""

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
from sample_events import (
    BUSINESS,
    CERTIFICATE,
    CITIZEN,
    FILED_QUARTER,
    UNFILED_MONTH,
    at,
    envelope,
    history,
    tax_declarations,
)

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
    by_kind = {
        row["kind"]: row
        for row in cases
        if row["received_at"] is not None and row["kind"] != "tax_declaration"
    }

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
    assert {"user_id": CITIZEN, "name": "Ελένη Παπαδοπούλου", "verified": True} in people
    # A payment of something else than a fine is not the worklist's: 4 cases and 2 declarations.
    assert len(cases) == 6


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


def test_b2_x3_an_accepted_declaration_is_revenues_until_filed():
    """Issue 9: a declaration accepted (paid) opens an item on the revenue department's
    worklist, due a day later (filing is automatic: an item older than that means the
    information system has been down); its filing closes it, numbered with the receipt."""
    cases, people = rows(applied(tax_declarations()))
    declarations = {row["item_id"]: row for row in cases}

    unfiled = declarations[UNFILED_MONTH]
    assert (unfiled["kind"], unfiled["service"], unfiled["case_type"]) == (
        "tax_declaration",
        "business",
        "monthly",
    )
    assert (unfiled["department"], unfiled["applicant_id"]) == ("revenue", BUSINESS)
    assert unfiled["subject"] == "Δήλωση δημοτικού τέλους 02/2026, ΑΦΜ 094014201"
    assert (unfiled["status"], unfiled["open"], unfiled["number"]) == ("accepted", True, None)
    assert (unfiled["received_at"], unfiled["due_base"]) == (at(8), at(9))

    filed = declarations[FILED_QUARTER]
    assert filed["subject"] == "Δήλωση δημοτικού τέλους 1ο τρίμηνο 2026, ΑΦΜ 094014201"
    assert (filed["status"], filed["open"], filed["number"]) == ("filed", False, "ΔΤ-2026/000088")
    assert (filed["received_at"], filed["changed_at"]) == (at(7), at(7.01))
    assert people == [{"user_id": BUSINESS, "name": "ΑΒΓ ΑΕ", "verified": False}]


def test_b2_x3_a_filing_heard_before_its_acceptance_waits_and_then_closes_it():
    """The filing may be read before the acceptance (a rebuild, a redelivery): the row stays
    partial (unlisted), and the acceptance then completes it, closed."""
    accepted, filed = [e for e in tax_declarations() if e.subject == str(FILED_QUARTER)]
    [partial], _ = rows(applied([filed]))
    assert (partial["status"], partial["received_at"]) == ("filed", None)
    [row], _ = rows(applied([filed, accepted]))
    assert (row["status"], row["open"], row["received_at"]) == ("filed", False, at(7))
