"""The backoffice service's side of Kafka: one pure function per consumed contract (SPEC X-3).

Each function says what one event means for the worklist, as changes (`worklist.CaseChange`,
`worklist.PersonChange`); it reads nothing and writes nothing. The live consumer's handlers and
the rebuild (`backoffice_service.rebuild`) apply the very same functions, so a worklist rebuilt
from offset zero equals the live one. The backoffice publishes nothing.

Consumed: identity (a person's name and verification), requests (requests and their protocol
requests), protocol (numbers assigned, registrations pending), certificates (applications and
their protocol requests), fines (fines recorded by the municipal police), payments (a fine's
payment closes it) and business (a tax declaration accepted but not yet filed with the
municipality's information system is the revenue department's to watch; its filing closes it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from portal_events.consumer import Handler
from portal_events.contracts import (
    CertificateAppliedV1,
    CertificateContract,
    CertificateIssuedV1,
    CertificateRejectedV1,
    CertificateRepliedV1,
    CertificateStatusChangedV1,
    Contract,
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
    TaxDeclarationContract,
    TaxDeclarationFiledV1,
    UserVerifiedV1,
    VerificationRevokedV1,
)
from portal_events.departments import REVENUE
from portal_events.envelope import Envelope
from portal_events.topics import (
    BUSINESS_TAX_EVENTS,
    CERTIFICATES_CERTIFICATE_EVENTS,
    FINES_FINE_EVENTS,
    IDENTITY_USER_EVENTS,
    PAYMENTS_PAYMENT_EVENTS,
    PROTOCOL_REGISTRATION_EVENTS,
    REQUESTS_REQUEST_EVENTS,
)

from backoffice_service.worklist import CaseChange, Change, PersonChange, StatusEntry

CONSUMED_TOPICS = [
    IDENTITY_USER_EVENTS,
    REQUESTS_REQUEST_EVENTS,
    PROTOCOL_REGISTRATION_EVENTS,
    CERTIFICATES_CERTIFICATE_EVENTS,
    FINES_FINE_EVENTS,
    PAYMENTS_PAYMENT_EVENTS,
    BUSINESS_TAX_EVENTS,
]

# Statuses of a protocol registration and of a fine come from more than one service, whose
# versions do not compare, and a tax declaration's filing is published apart from its
# acceptance: their rank orders them instead (the first number of the order).
REGISTRATION_REQUESTED, REGISTRATION_PENDING, REGISTRATION_ASSIGNED = 0, 1, 2
FINE_RECORDED, FINE_PAID = 0, 1
DECLARATION_ACCEPTED, DECLARATION_FILED = 0, 1
# Who watches that accepted declarations reach the information system.
TAX_DEPARTMENT = REVENUE

Changes = list[Change]

# --- identity ---------------------------------------------------------------------------------


def profile_updated(envelope: Envelope, event: ProfileUpdatedV1) -> Changes:
    return [PersonChange(event.user_id, envelope.sequence, {"name": event.display_name})]


def user_verified(envelope: Envelope, event: UserVerifiedV1) -> Changes:
    return [PersonChange(event.user_id, envelope.sequence, {"verified": True})]


def verification_revoked(envelope: Envelope, event: VerificationRevokedV1) -> Changes:
    return [PersonChange(event.user_id, envelope.sequence, {"verified": False})]


# --- requests ---------------------------------------------------------------------------------


def request_submitted(envelope: Envelope, event: RequestSubmittedV1) -> Changes:
    return [
        CaseChange(
            "request",
            event.request_id,
            facts={
                "number": event.number,
                "subject": event.subject,
                "case_type": event.kind,
                "department": event.department,
                "applicant_id": event.submitted_by,
                "received_at": event.submitted_at,
            },
            statuses=(StatusEntry((envelope.sequence,), "submitted", event.submitted_at),),
            at=event.submitted_at,
        )
    ]


def request_status_changed(envelope: Envelope, event: RequestStatusChangedV1) -> Changes:
    return [
        CaseChange(
            "request",
            event.request_id,
            facts={"number": event.number, "applicant_id": event.submitted_by},
            statuses=(StatusEntry((envelope.sequence,), event.status, event.changed_at),),
            at=event.changed_at,
        )
    ]


def request_replied(envelope: Envelope, event: RequestRepliedV1) -> Changes:
    return [
        CaseChange(
            "request",
            event.request_id,
            facts={"number": event.number, "applicant_id": event.submitted_by},
            at=event.replied_at,
        )
    ]


# --- protocol ---------------------------------------------------------------------------------


def protocol_requested(envelope: Envelope, event: ProtocolRequestedV1) -> Changes:
    """Published by the document's owner (requests, certificates) on its own topic."""
    return [
        CaseChange(
            "protocol_registration",
            event.document_id,
            facts={
                "subject": event.title,
                "case_type": event.document_type,
                "department": event.department,
                "applicant_id": event.applicant_id,
                "received_at": event.requested_at,
            },
            statuses=(StatusEntry((REGISTRATION_REQUESTED, 0), "requested", event.requested_at),),
            at=event.requested_at,
        )
    ]


def protocol_registration_pending(
    envelope: Envelope, event: ProtocolRegistrationPendingV1
) -> Changes:
    return [
        CaseChange(
            "protocol_registration",
            event.document_id,
            facts={"case_type": event.document_type},
            statuses=(
                StatusEntry(
                    (REGISTRATION_PENDING, event.attempts), "pending", envelope.occurred_at
                ),
            ),
            at=envelope.occurred_at,
        )
    ]


def protocol_assigned(envelope: Envelope, event: ProtocolAssignedV1) -> Changes:
    return [
        CaseChange(
            "protocol_registration",
            event.document_id,
            facts={"number": event.protocol_number, "case_type": event.document_type},
            statuses=(StatusEntry((REGISTRATION_ASSIGNED, 0), "assigned", envelope.occurred_at),),
            at=envelope.occurred_at,
        )
    ]


# --- certificates -----------------------------------------------------------------------------


def _certificate(
    envelope: Envelope, event: CertificateContract, status: str | None, at: Any, **facts: Any
) -> Changes:
    statuses = () if status is None else (StatusEntry((envelope.sequence,), status, at),)
    return [
        CaseChange(
            "certificate",
            event.certificate_id,
            facts={
                "number": event.number,
                "department": event.department,
                "applicant_id": event.applicant_id,
                **facts,
            },
            statuses=statuses,
            at=at,
        )
    ]


def certificate_applied(envelope: Envelope, event: CertificateAppliedV1) -> Changes:
    return _certificate(
        envelope,
        event,
        "submitted",
        event.applied_at,
        subject=event.title,
        case_type=event.certificate_type,
        applicant_name=event.applicant_name,
        received_at=event.applied_at,
    )


def certificate_status_changed(envelope: Envelope, event: CertificateStatusChangedV1) -> Changes:
    return _certificate(envelope, event, event.status, event.changed_at)


def certificate_replied(envelope: Envelope, event: CertificateRepliedV1) -> Changes:
    return _certificate(envelope, event, None, event.replied_at)


def certificate_issued(envelope: Envelope, event: CertificateIssuedV1) -> Changes:
    return _certificate(
        envelope,
        event,
        "issued",
        event.issued_at,
        subject=event.title,
        case_type=event.certificate_type,
    )


def certificate_rejected(envelope: Envelope, event: CertificateRejectedV1) -> Changes:
    return _certificate(envelope, event, "rejected", event.rejected_at)


# --- fines and their payments -----------------------------------------------------------------


def fine_recorded(envelope: Envelope, event: FineRecordedV1) -> Changes:
    return [
        CaseChange(
            "fine",
            event.fine_id,
            facts={
                "number": event.fine_number,
                "subject": event.description,
                "case_type": event.fine_type,
                "department": event.department,
                "received_at": event.recorded_at,
            },
            statuses=(StatusEntry((FINE_RECORDED,), "recorded", event.recorded_at),),
            at=event.recorded_at,
        )
    ]


def payment_completed(envelope: Envelope, event: PaymentCompletedV1) -> Changes:
    """A fine's payment closes it. Fines that citizens looked up were never on a worklist:
    their rows stay partial (never listed), as they cannot be told apart here."""
    if event.payable_type != "fine":
        return []
    return [
        CaseChange(
            "fine",
            event.payable_id,
            statuses=(StatusEntry((FINE_PAID,), "paid", event.completed_at),),
            at=event.completed_at,
        )
    ]


# --- business: tax declarations on their way to the information system -----------------------


def _declaration_facts(event: TaxDeclarationContract) -> dict[str, Any]:
    """What every declaration event says of it (each event repeats the declaration's identity)."""
    if event.period_type == "monthly":
        period = f"{event.period:02d}/{event.year}"
    else:
        period = f"{event.period}ο τρίμηνο {event.year}"
    return {
        "subject": f"Δήλωση δημοτικού τέλους {period}, ΑΦΜ {event.afm}",
        "case_type": event.period_type,
        "department": TAX_DEPARTMENT,
        "applicant_id": event.business_id,
    }


def tax_declaration_accepted(envelope: Envelope, event: TaxDeclarationAcceptedV1) -> Changes:
    """Paid, hence accepted: to be filed with the information system (automatically; an item
    still open past its deadline means the system has been down that long). Rejected
    declarations were never accepted and are nobody's work."""
    return [
        CaseChange(
            "tax_declaration",
            event.declaration_id,
            facts=_declaration_facts(event) | {"received_at": event.accepted_at},
            statuses=(StatusEntry((DECLARATION_ACCEPTED,), "accepted", event.accepted_at),),
            at=event.accepted_at,
        )
    ]


def tax_declaration_filed(envelope: Envelope, event: TaxDeclarationFiledV1) -> Changes:
    """The information system has it: closed, numbered with the system's receipt."""
    return [
        CaseChange(
            "tax_declaration",
            event.declaration_id,
            facts=_declaration_facts(event) | {"number": event.receipt},
            statuses=(StatusEntry((DECLARATION_FILED,), "filed", event.filed_at),),
            at=event.filed_at,
        )
    ]


CHANGES: Mapping[type[Contract], Callable[[Envelope, Any], Changes]] = {
    ProfileUpdatedV1: profile_updated,
    UserVerifiedV1: user_verified,
    VerificationRevokedV1: verification_revoked,
    RequestSubmittedV1: request_submitted,
    RequestStatusChangedV1: request_status_changed,
    RequestRepliedV1: request_replied,
    ProtocolRequestedV1: protocol_requested,
    ProtocolRegistrationPendingV1: protocol_registration_pending,
    ProtocolAssignedV1: protocol_assigned,
    CertificateAppliedV1: certificate_applied,
    CertificateStatusChangedV1: certificate_status_changed,
    CertificateRepliedV1: certificate_replied,
    CertificateIssuedV1: certificate_issued,
    CertificateRejectedV1: certificate_rejected,
    FineRecordedV1: fine_recorded,
    PaymentCompletedV1: payment_completed,
    TaxDeclarationAcceptedV1: tax_declaration_accepted,
    TaxDeclarationFiledV1: tax_declaration_filed,
}
"""Contract class -> the pure function giving the worklist changes of one such event."""


def handlers(app: Any) -> dict[type[Contract], Handler]:
    """The live consumer's handlers: each applies its contract's changes to the live worklist
    (`BackofficeApplication.worklist`), in one transaction with the event's id."""

    def handler_for(changes_of: Callable[[Envelope, Any], Changes]) -> Handler:
        def handle(envelope: Envelope, contract: Contract) -> None:
            app.worklist.apply(envelope.event_id, changes_of(envelope, contract))

        return handle

    return {contract: handler_for(changes_of) for contract, changes_of in CHANGES.items()}
