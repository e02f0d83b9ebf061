"""What the payments service's HTTP API takes and answers (SPEC P-1, P-2); every field described.

No model here has a card field: the payer gives the card to the bank's own page, and the bank's
notification carries none (fields the bank might add are ignored, never stored or logged).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from portal_web import ListPage, text
from pydantic import BaseModel, ConfigDict, Field, model_validator

from payments_service.domainmodel import PaymentStatus

PAYMENT_ID_EXAMPLE = "5f1d9a2e-3c4b-4e8f-9a6d-1b2c3d4e5f60"
PAYABLE_ID_EXAMPLE = "0c8e7a6b-5d4c-4b3a-9f2e-1d0c9b8a7f6e"

PayableType = Literal["fine", "tax_declaration", "tax_debt"]


def _payment_id() -> Any:
    return Field(description="The payment's id", examples=[PAYMENT_ID_EXAMPLE])


def _status() -> Any:
    return Field(
        description="created: not yet at the bank; awaiting_bank: the bank's page is open; "
        "completed: paid; failed: not paid (see failure_reason); expired: abandoned, not paid",
        examples=["completed"],
    )


def _amount() -> Any:
    return Field(description="In cents of EUR", examples=[12345])


def _payable_type() -> Any:
    return Field(description="What kind of thing is paid", examples=["fine"])


def _payable_id() -> Any:
    return Field(description="The paid thing's id at its owner", examples=[PAYABLE_ID_EXAMPLE])


def _description() -> Any:
    return Field(description="What the payer sees at the bank", examples=["Κλήση ΚΟΚ 12345"])


def _created_at() -> Any:
    return Field(
        description="When the payment was recorded (UTC)", examples=["2026-03-02T10:15:00Z"]
    )


def _failure_reason() -> Any:
    return Field(
        None,
        description="Why it failed: declined, insufficient_funds, another_payment_open, "
        "amount_mismatch; null unless failed",
        examples=["declined"],
    )


class PaymentPublic(BaseModel):
    """One payment, as its payer sees it (SPEC P-1, F-6)."""

    model_config = ConfigDict(from_attributes=True)

    payment_id: UUID = _payment_id()
    status: PaymentStatus = _status()
    amount: int = _amount()
    payable_type: PayableType = _payable_type()
    payable_id: UUID = _payable_id()
    description: str = _description()
    created_at: datetime = _created_at()
    completed_at: datetime | None = Field(
        None,
        description="When the bank's success was recorded (UTC); null unless completed",
        examples=["2026-03-02T10:17:30Z"],
    )
    failure_reason: str | None = _failure_reason()

    @classmethod
    def of(cls, payment: Any) -> PaymentPublic:
        return cls(
            payment_id=payment.payment_id,
            status=payment.status,
            amount=payment.amount,
            payable_type=payment.payable_type,
            payable_id=payment.payable_id,
            description=payment.description,
            created_at=payment.created_on,
            completed_at=payment.completed_at,
            failure_reason=payment.failure_reason,
        )


class PaymentSummary(BaseModel):
    """One payment in the finance department's list, for reconciliation (SPEC P-2)."""

    payment_id: UUID = _payment_id()
    status: PaymentStatus = _status()
    amount: int = _amount()
    payable_type: PayableType = _payable_type()
    payable_id: UUID = _payable_id()
    payer_id: UUID = Field(description="The payer's user id", examples=[PAYABLE_ID_EXAMPLE])
    description: str = _description()
    created_at: datetime = _created_at()
    finished_at: datetime | None = Field(
        None,
        description="When it completed, failed or expired (UTC)",
        examples=["2026-03-02T10:17:30Z"],
    )
    failure_reason: str | None = _failure_reason()
    transaction_id: str | None = Field(
        None,
        description="The bank's transaction of the completed payment",
        examples=["tx_4f9c2a7e1b3d5f60a8c2e4b1"],
    )
    refund_flagged: bool = Field(
        description="The bank reported a charge the portal did not apply (after the payment "
        "ended, or of another amount): it must be refunded",
        examples=[False],
    )
    checked_at: datetime | None = Field(
        None,
        description="When the reconciler last asked the bank about it (UTC)",
        examples=["2026-03-02T10:16:00Z"],
    )


class PaymentSummaryPage(ListPage[PaymentSummary]):
    """A page of payments, oldest first (SPEC P-2)."""


class BankNotification(BaseModel):
    """The bank's signed result of a payment (verified before it is read). Fields the bank may
    add are ignored; none carries card data."""

    model_config = ConfigDict(extra="ignore")

    event_id: text(200) = Field(
        description="The bank's id of this notification; a repeat carries the same",
        examples=["evt_4f9c2a7e1b3d5f60a8c2e4b1"],
    )
    order_id: text(200) = Field(
        description="The payment's id (the order at the bank)",
        examples=[PAYMENT_ID_EXAMPLE],
    )
    session_id: text(200, min_length=0) = Field(
        description="The bank's session", examples=["cs_Zk3v9QmXr2"]
    )
    status: Literal["succeeded", "failed"] = Field(
        description="The payment's result at the bank", examples=["succeeded"]
    )
    reason: text(100) | None = Field(
        None, description="Why it failed; null on success", examples=["declined"]
    )
    amount: int = Field(ge=0, description="What the bank charged, in cents", examples=[12345])
    currency: Literal["EUR"] = Field(description="Always EUR", examples=["EUR"])
    transaction_id: text(200) | None = Field(
        None,
        description="The bank's transaction; required on success",
        examples=["tx_4f9c2a7e1b3d5f60a8c2e4b1"],
    )
    occurred_at: datetime = Field(
        description="When the bank settled it (UTC)", examples=["2026-03-02T10:17:29Z"]
    )

    @model_validator(mode="after")
    def _success_has_a_transaction(self) -> BankNotification:
        if self.status == "succeeded" and not self.transaction_id:
            raise ValueError("a success carries its transaction_id")
        return self
