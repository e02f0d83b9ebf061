"""The business service's side of Kafka: what it publishes and what it consumes.

Publishes, on `business.tax.events`: `WarrantIssuedV1` and `WarrantPaidV1` (B-1: a warrant the
sync saw new, or newly paid; its recipients are the business users of the ΑΦΜ);
`TaxDeclarationAcceptedV1`, `TaxDeclarationRejectedV1`, `TaxDeclarationFiledV1` (B-2); and
`PaymentRequestedV1` (payable_type "tax_declaration" or "tax_debt") when a payment starts: the
payments service creates the payment with that id. Users, businesses, guards, syncs, filing
attempts and refunds stay private.

Consumes, on `payments.payment.events`: PaymentCompleted, PaymentFailed, PaymentExpired of our
payables (other payables are not ours and are skipped); on `identity.user.events`:
ProfileUpdated, UserVerified, VerificationRevoked (who may use the service), ordered by the user
aggregate's version (`envelope.sequence`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from portal_events.consumer import Handler, refusing_domain_errors
from portal_events.contracts import (
    Contract,
    PaymentCompletedV1,
    PaymentExpiredV1,
    PaymentFailedV1,
    PaymentRequestedV1,
    ProfileUpdatedV1,
    TaxDeclarationAcceptedV1,
    TaxDeclarationFiledV1,
    TaxDeclarationRejectedV1,
    UserVerifiedV1,
    VerificationRevokedV1,
    WarrantIssuedV1,
    WarrantPaidV1,
)
from portal_events.envelope import Envelope

from business_service.application import BusinessApplication
from business_service.domainmodel import BusinessError, Debt, Declaration, Warrant

DECLARATION = "tax_declaration"
DEBT = "tax_debt"


def _warrant_issued(e: Warrant.Seen) -> WarrantIssuedV1:
    return WarrantIssuedV1(
        warrant_id=e.originator_id,
        number=e.number,
        afm=e.afm,
        recipients=e.recipients,
        amount=e.amount,
        description=e.description,
        issued_on=e.issued_on,
    )


def _payment_requested(payable_type: str) -> Callable[[Any], PaymentRequestedV1]:
    def translate(e: Any) -> PaymentRequestedV1:
        return PaymentRequestedV1(
            payment_id=e.payment_id,
            payable_type=payable_type,
            payable_id=e.originator_id,
            amount=e.amount,
            currency="EUR",
            description=e.description,
            reference=e.reference,
            payer_id=e.payer_id,
            requested_at=e.timestamp,
        )

    return translate


def _warrant_paid(e: Warrant.Paid) -> WarrantPaidV1:
    return WarrantPaidV1(
        warrant_id=e.originator_id,
        number=e.number,
        afm=e.afm,
        recipients=e.recipients,
        amount=e.amount,
        paid_on=e.paid_on,
    )


def _subject(e: Declaration.Outcome) -> dict[str, Any]:
    return {
        "declaration_id": e.originator_id,
        "afm": e.afm,
        "business_id": e.business_id,
        "period_type": e.period_type,
        "period": e.period,
        "year": e.year,
    }


def _accepted(e: Declaration.Accepted) -> TaxDeclarationAcceptedV1:
    return TaxDeclarationAcceptedV1(
        **_subject(e), total=e.amount, payment_id=e.payment_id, accepted_at=e.timestamp
    )


def _rejected(e: Declaration.Rejected) -> TaxDeclarationRejectedV1:
    return TaxDeclarationRejectedV1(**_subject(e), reason=e.reason, rejected_at=e.timestamp)


def _filed(e: Declaration.Filed) -> TaxDeclarationFiledV1:
    return TaxDeclarationFiledV1(**_subject(e), filed_at=e.filed_at, receipt=e.receipt)


PUBLIC_EVENTS: dict[type, Callable[[Any], Contract | None]] = {
    Warrant.Seen: _warrant_issued,
    Warrant.Paid: _warrant_paid,
    Declaration.PaymentStarted: _payment_requested(DECLARATION),
    Declaration.Accepted: _accepted,
    Declaration.Rejected: _rejected,
    Declaration.Filed: _filed,
    Debt.PaymentStarted: _payment_requested(DEBT),
}

REJECTION_REASONS = {"failed": "payment_failed", "expired": "payment_expired"}


def handlers(app: BusinessApplication) -> dict[type[Contract], Handler]:
    """The consumer's handlers (called in a worker thread), each idempotent. An outcome of a
    payment for a payable we do not have can never be applied: it is refused (dead-lettered at
    once, for a person to look at)."""

    def profile_updated(envelope: Envelope, contract: ProfileUpdatedV1) -> None:
        app.record_profile(
            contract.user_id,
            kind=contract.kind,
            afm=contract.afm,
            complete=contract.profile_complete,
            identity_version=envelope.sequence,
        )

    def verified(envelope: Envelope, contract: UserVerifiedV1) -> None:
        app.record_verification(contract.user_id, verified=True, identity_version=envelope.sequence)

    def revoked(envelope: Envelope, contract: VerificationRevokedV1) -> None:
        app.record_verification(
            contract.user_id, verified=False, identity_version=envelope.sequence
        )

    def completed(envelope: Envelope, contract: PaymentCompletedV1) -> None:
        with refusing_domain_errors(BusinessError):
            if contract.payable_type == DECLARATION:
                app.record_declaration_paid(
                    contract.payable_id,
                    contract.payment_id,
                    contract.amount,
                    contract.completed_at,
                )
            elif contract.payable_type == DEBT:
                app.record_debt_paid(
                    contract.payable_id,
                    contract.payment_id,
                    contract.amount,
                    contract.completed_at,
                )

    def ended(payable_type: str, payable_id: Any, payment_id: Any, outcome: str) -> None:
        with refusing_domain_errors(BusinessError):
            if payable_type == DECLARATION:
                app.record_declaration_payment_ended(
                    payable_id,
                    payment_id,
                    REJECTION_REASONS[outcome],  # type: ignore[arg-type]
                )
            elif payable_type == DEBT:
                app.record_debt_payment_ended(payable_id, payment_id, outcome)

    def failed(envelope: Envelope, contract: PaymentFailedV1) -> None:
        ended(contract.payable_type, contract.payable_id, contract.payment_id, "failed")

    def expired(envelope: Envelope, contract: PaymentExpiredV1) -> None:
        ended(contract.payable_type, contract.payable_id, contract.payment_id, "expired")

    return {
        ProfileUpdatedV1: profile_updated,
        UserVerifiedV1: verified,
        VerificationRevokedV1: revoked,
        PaymentCompletedV1: completed,
        PaymentFailedV1: failed,
        PaymentExpiredV1: expired,
    }
