"""The fines service's side of Kafka: what it publishes and what it consumes.

Publishes, on `fines.fine.events`: `PaymentRequestedV1` when a holder starts paying a fine (the
payments service creates the payment with that id, so a re-published request creates nothing);
`FineRecordedV1` when a staff member (a clerk of the municipal police, or an admin) records a
fine through `POST /fines`, so that it is on the department's worklist until paid (X-3). A fine
recorded by a citizen's lookup is not announced: it is the citizen's, not a clerk's work.
Everything else about a fine stays private.

Consumes, on `payments.payment.events`: `PaymentCompletedV1` (the fine is paid, once),
`PaymentFailedV1` and `PaymentExpiredV1` (the fine is payable again); other payables' payments
(business tax) are not ours and are skipped. On `identity.user.events`: `ProfileUpdatedV1`, for
F-1 (only users with a complete profile look fines up and pay them).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from portal_events.consumer import Handler
from portal_events.contracts import (
    Contract,
    FineRecordedV1,
    PaymentCompletedV1,
    PaymentExpiredV1,
    PaymentFailedV1,
    PaymentRequestedV1,
    ProfileUpdatedV1,
)
from portal_events.envelope import Envelope

from fines_service.application import FinesApplication
from fines_service.domainmodel import Fine

PAYABLE_TYPE = "fine"


def payment_requested(domain_event: Fine.PaymentStarted) -> PaymentRequestedV1:
    return PaymentRequestedV1(
        payment_id=domain_event.payment_id,
        payable_type=PAYABLE_TYPE,
        payable_id=domain_event.originator_id,
        amount=domain_event.amount,
        currency="EUR",
        description=domain_event.description,
        reference=domain_event.reference,
        payer_id=domain_event.payer_id,
        requested_at=domain_event.timestamp,
    )


def fine_recorded(domain_event: Fine.Recorded) -> FineRecordedV1 | None:
    """Announced when staff recorded the fine (it then names their department); None for a
    citizen's lookup."""
    if domain_event.department is None:
        return None
    return FineRecordedV1(
        fine_id=domain_event.originator_id,
        fine_number=domain_event.fine_number,
        fine_type=domain_event.fine_type,
        description=domain_event.description,
        amount=domain_event.base_amount,
        department=domain_event.department,
        recorded_by=domain_event.recorded_by,
        recorded_at=domain_event.timestamp,
    )


PUBLIC_EVENTS: dict[type, Callable[[Any], Contract | None]] = {
    Fine.Recorded: fine_recorded,
    Fine.PaymentStarted: payment_requested,
}


def handlers(app: FinesApplication) -> dict[type[Contract], Handler]:
    """Handlers of incoming contracts; each is idempotent (delivery is at least once)."""

    def profile_updated(envelope: Envelope, contract: ProfileUpdatedV1) -> None:
        # The user aggregate's version orders the reports: a late, older one changes nothing.
        app.record_profile(contract.user_id, contract.profile_complete, envelope.sequence)

    def payment_completed(envelope: Envelope, contract: PaymentCompletedV1) -> None:
        if contract.payable_type == PAYABLE_TYPE:
            app.record_payment_completed(
                contract.payable_id, contract.payment_id, contract.amount, contract.completed_at
            )

    def payment_failed(envelope: Envelope, contract: PaymentFailedV1) -> None:
        if contract.payable_type == PAYABLE_TYPE:
            app.record_payment_ended(
                contract.payable_id, contract.payment_id, "failed", contract.reason
            )

    def payment_expired(envelope: Envelope, contract: PaymentExpiredV1) -> None:
        if contract.payable_type == PAYABLE_TYPE:
            app.record_payment_ended(contract.payable_id, contract.payment_id, "expired", None)

    return {
        ProfileUpdatedV1: profile_updated,
        PaymentCompletedV1: payment_completed,
        PaymentFailedV1: payment_failed,
        PaymentExpiredV1: payment_expired,
    }
