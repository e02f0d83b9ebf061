"""The worklist's order-independence and idempotence (SPEC X-3), without infrastructure: the
same events applied in any order, any of them twice, give the same rows; what each contract
means for a case (issue 8: requests, protocol registrations, certificates, fines, people)."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from backoffice_service.deadlines import Deadlines
from backoffice_service.integration import CHANGES
from backoffice_service.worklist import States, case_row, person_row
from portal_events.contracts import (
    CertificateAppliedV1,
    CertificateIssuedV1,
    CertificateRepliedV1,
    CertificateStatusChangedV1,
    FineRecordedV1,
    PaymentCompletedV1,
    ProfileUpdatedV1,
    ProtocolAssignedV1,
    ProtocolRegistrationPendingV1,
    ProtocolRequestedV1,
    RequestRepliedV1,
    RequestStatusChangedV1,
    RequestSubmittedV1,
    UserVerifiedV1,
    VerificationRevokedV1,
)
from portal_events.envelope import Envelope, wrap

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
DEADLINES = Deadlines.load()
CITIZEN = uuid.uuid4()
CLERK = uuid.uuid4()
REQUEST = uuid.uuid4()
CERTIFICATE = uuid.uuid4()
FINE = uuid.uuid4()
PAYMENT = uuid.uuid4()
TAX_DEBT = uuid.uuid4()


def at(days: float) -> datetime:
    return T0 + timedelta(days=days)


def envelope(contract, subject: uuid.UUID, sequence: int, days: float) -> Envelope:
    return wrap(
        contract, source="test", subject=str(subject), sequence=sequence, occurred_at=at(days)
    )


def history() -> list[Envelope]:
    """One citizen's request, its protocol registration, a certificate with a wait for the
    applicant, a recorded fine paid, and identity's reports, as their producers publish them."""
    certificate = {
        "certificate_id": CERTIFICATE,
        "number": "2026/000007",
        "kind": "civil_registry",
        "applicant_id": CITIZEN,
        "department": "civil_registry",
    }
    return [
        envelope(
            ProfileUpdatedV1(
                user_id=CITIZEN, kind="citizen", display_name="Ελένη Π.", profile_complete=True
            ),
            CITIZEN,
            2,
            0,
        ),
        envelope(
            UserVerifiedV1(
                user_id=CITIZEN,
                document_type="identity_card",
                verified_by=CLERK,
                verified_at=at(0.1),
            ),
            CITIZEN,
            3,
            0.1,
        ),
        envelope(
            VerificationRevokedV1(
                user_id=CITIZEN, reason="λάθος", revoked_by=CLERK, revoked_at=at(0.2)
            ),
            CITIZEN,
            4,
            0.2,
        ),
        envelope(
            UserVerifiedV1(
                user_id=CITIZEN,
                document_type="identity_card",
                verified_by=CLERK,
                verified_at=at(0.3),
            ),
            CITIZEN,
            5,
            0.3,
        ),
        envelope(
            ProfileUpdatedV1(
                user_id=CITIZEN,
                kind="citizen",
                display_name="Ελένη Παπαδοπούλου",
                profile_complete=True,
            ),
            CITIZEN,
            6,
            0.4,
        ),
        envelope(
            RequestSubmittedV1(
                request_id=REQUEST,
                number="2026/000042",
                kind="complaint",
                subject="Φανοστάτης",
                department="technical",
                anonymous=False,
                submitted_by=CITIZEN,
                submitted_at=at(1),
            ),
            REQUEST,
            1,
            1,
        ),
        envelope(
            RequestRepliedV1(
                request_id=REQUEST, number="2026/000042", submitted_by=CITIZEN, replied_at=at(2)
            ),
            REQUEST,
            2,
            2,
        ),
        envelope(
            RequestStatusChangedV1(
                request_id=REQUEST,
                number="2026/000042",
                status="in_progress",
                submitted_by=CITIZEN,
                changed_at=at(3),
            ),
            REQUEST,
            3,
            3,
        ),
        envelope(
            ProtocolRequestedV1(
                document_id=REQUEST,
                document_type="request",
                title="Αίτημα 2026/000042",
                applicant_id=CITIZEN,
                requested_at=at(3),
                department="technical",
            ),
            REQUEST,
            4,
            3,
        ),
        envelope(
            ProtocolRegistrationPendingV1(
                document_id=REQUEST,
                document_type="request",
                attempts=1,
                reason="HTTP 503",
                next_attempt_at=at(3.01),
            ),
            uuid.uuid5(REQUEST, "r"),
            2,
            3.001,
        ),
        envelope(
            ProtocolAssignedV1(
                document_id=REQUEST,
                document_type="request",
                protocol_number="2026/001234",
                protocol_date=date(2026, 3, 5),
            ),
            uuid.uuid5(REQUEST, "r"),
            3,
            3.5,
        ),
        envelope(
            CertificateAppliedV1(
                **certificate,
                certificate_type="family_status",
                title="Πιστοποιητικό οικογενειακής κατάστασης",
                applicant_name="Ελένη Π.",
                delivery_method="email",
                applied_at=at(4),
            ),
            CERTIFICATE,
            1,
            4,
        ),
        envelope(
            CertificateStatusChangedV1(
                **certificate, status="awaiting_applicant", changed_at=at(10)
            ),
            CERTIFICATE,
            3,
            10,
        ),
        envelope(CertificateRepliedV1(**certificate, replied_at=at(10)), CERTIFICATE, 4, 10),
        envelope(
            CertificateStatusChangedV1(**certificate, status="under_review", changed_at=at(16)),
            CERTIFICATE,
            5,
            16,
        ),
        envelope(
            CertificateIssuedV1(
                **certificate,
                certificate_type="family_status",
                title="Πιστοποιητικό οικογενειακής κατάστασης",
                document_sha256="0" * 64,
                issued_by=CLERK,
                issued_at=at(20),
            ),
            CERTIFICATE,
            6,
            20,
        ),
        envelope(
            FineRecordedV1(
                fine_id=FINE,
                fine_number="778899",
                fine_type="P-40",
                description="Παράνομη στάθμευση",
                amount=8000,
                department="municipal_police",
                recorded_by=CLERK,
                recorded_at=at(5),
            ),
            FINE,
            1,
            5,
        ),
        envelope(
            PaymentCompletedV1(
                payment_id=PAYMENT,
                payable_type="fine",
                payable_id=FINE,
                amount=8000,
                payer_id=CITIZEN,
                completed_at=at(6),
            ),
            PAYMENT,
            3,
            6,
        ),
        envelope(
            PaymentCompletedV1(
                payment_id=TAX_DEBT,
                payable_type="tax_debt",
                payable_id=TAX_DEBT,
                amount=100,
                payer_id=CITIZEN,
                completed_at=at(6),
            ),
            TAX_DEBT,
            3,
            6,
        ),
    ]


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
