"""The payments service's side of Kafka: what it publishes and what it consumes.

Publishes on `payments.payment.events` the end of every payment, once: `PaymentCompletedV1`,
`PaymentFailedV1`, `PaymentExpiredV1`, for the owner of the payable. The rest (requested,
session opened, refund flagged) stays private. Consumes `PaymentRequestedV1`, which the owner
of a payable publishes on its own topic: `PAYABLE_OWNER_TOPICS` lists them (business tax will
be one more entry; payments knows no more of a payable than the contract says).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from portal_events.consumer import Handler
from portal_events.contracts import (
    Contract,
    PaymentCompletedV1,
    PaymentExpiredV1,
    PaymentFailedV1,
    PaymentRequestedV1,
)
from portal_events.envelope import Envelope
from portal_events.topics import BUSINESS_TAX_EVENTS, FINES_FINE_EVENTS

from payments_service.application import PaymentsApplication
from payments_service.domainmodel import Payment

PAYABLE_OWNER_TOPICS = (FINES_FINE_EVENTS, BUSINESS_TAX_EVENTS)
"""The topics of the services whose payables are paid here."""


def completed(domain_event: Payment.Completed) -> PaymentCompletedV1:
    return PaymentCompletedV1(
        payment_id=domain_event.originator_id,
        payable_type=domain_event.payable_type,
        payable_id=domain_event.payable_id,
        amount=domain_event.amount,
        payer_id=domain_event.payer_id,
        completed_at=domain_event.completed_at,
    )


def failed(domain_event: Payment.Failed) -> PaymentFailedV1:
    return PaymentFailedV1(
        payment_id=domain_event.originator_id,
        payable_type=domain_event.payable_type,
        payable_id=domain_event.payable_id,
        payer_id=domain_event.payer_id,
        reason=domain_event.reason,
        failed_at=domain_event.failed_at,
    )


def expired(domain_event: Payment.Expired) -> PaymentExpiredV1:
    return PaymentExpiredV1(
        payment_id=domain_event.originator_id,
        payable_type=domain_event.payable_type,
        payable_id=domain_event.payable_id,
        payer_id=domain_event.payer_id,
        expired_at=domain_event.expired_at,
    )


PUBLIC_EVENTS: dict[type, Callable[[Any], Contract | None]] = {
    Payment.Completed: completed,
    Payment.Failed: failed,
    Payment.Expired: expired,
}


def handlers(app: PaymentsApplication) -> dict[type[Contract], Handler]:
    """Handlers of incoming contracts (the consumer binds correlation, causation and actor)."""

    def payment_requested(envelope: Envelope, contract: PaymentRequestedV1) -> None:
        """Record the payment under the owner's id: a redelivery finds it and changes nothing."""
        app.request_payment(
            payment_id=contract.payment_id,
            payable_type=contract.payable_type,
            payable_id=contract.payable_id,
            amount=contract.amount,
            currency=contract.currency,
            description=contract.description,
            reference=contract.reference,
            payer_id=contract.payer_id,
            requested_at=contract.requested_at,
        )

    return {PaymentRequestedV1: payment_requested}
