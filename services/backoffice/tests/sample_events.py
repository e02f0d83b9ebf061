"""One citizen's cases, and one business's tax declarations, as their producers publish them,
for the worklist's tests (SPEC X-3, B-2)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

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
    TaxDeclarationAcceptedV1,
    TaxDeclarationFiledV1,
    UserVerifiedV1,
    VerificationRevokedV1,
)
from portal_events.envelope import Envelope, wrap

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
CITIZEN = uuid.uuid4()
CLERK = uuid.uuid4()
REQUEST = uuid.uuid4()
CERTIFICATE = uuid.uuid4()
FINE = uuid.uuid4()
PAYMENT = uuid.uuid4()
TAX_DEBT = uuid.uuid4()
BUSINESS = uuid.uuid4()
AFM = "094014201"
FILED_QUARTER = uuid.uuid4()  # accepted and filed with the information system
UNFILED_MONTH = uuid.uuid4()  # accepted while the information system is down


def at(days: float) -> datetime:
    return T0 + timedelta(days=days)


def envelope(contract, subject: uuid.UUID, sequence: int, days: float) -> Envelope:
    return wrap(
        contract, source="test", subject=str(subject), sequence=sequence, occurred_at=at(days)
    )


def history() -> list[Envelope]:
    """One citizen's request, its protocol registration, a certificate with a wait for the
    applicant, a recorded fine paid, identity's reports, and a business's tax declarations (a
    quarter accepted and filed, a month accepted but not yet filed), as their producers publish
    them."""
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
        *tax_declarations(),
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


def tax_declarations() -> list[Envelope]:
    quarter = {
        "declaration_id": FILED_QUARTER,
        "afm": AFM,
        "business_id": BUSINESS,
        "period_type": "quarterly",
        "period": 1,
        "year": 2026,
    }
    month = quarter | {"declaration_id": UNFILED_MONTH, "period_type": "monthly", "period": 2}
    return [
        envelope(
            ProfileUpdatedV1(
                user_id=BUSINESS, kind="business", display_name="ΑΒΓ ΑΕ", profile_complete=True
            ),
            BUSINESS,
            2,
            0,
        ),
        envelope(
            TaxDeclarationAcceptedV1(
                **quarter, total=45_678, payment_id=uuid.uuid4(), accepted_at=at(7)
            ),
            FILED_QUARTER,
            4,
            7,
        ),
        envelope(
            TaxDeclarationFiledV1(**quarter, filed_at=at(7.01), receipt="ΔΤ-2026/000088"),
            FILED_QUARTER,
            5,
            7.01,
        ),
        envelope(
            TaxDeclarationAcceptedV1(
                **month, total=12_000, payment_id=uuid.uuid4(), accepted_at=at(8)
            ),
            UNFILED_MONTH,
            4,
            8,
        ),
    ]
