"""What the business service's HTTP API accepts and answers (SPEC B-1..B-3); every field
described. Amounts are integer cents of EUR; rates and surcharges basis points (1/100 %)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal
from uuid import UUID

from portal_web import ListPage
from pydantic import BaseModel, Field

DECLARATION_ID_EXAMPLE = "4f1c2b3a-5d6e-4f70-8a9b-0c1d2e3f4a5b"

DeclarationStatus = Literal["quoted", "payment_pending", "accepted", "rejected"]
PeriodType = Literal["monthly", "quarterly"]
WarrantStatus = Literal["issued", "paid"]
DebtStatus = Literal["open", "payment_pending", "paid"]


def _cents(description: str, example: int) -> Any:
    return Field(description=f"{description}, in cents of EUR", examples=[example])


# A bound far above any business's receipts (a trillion euros), so that every amount fits the
# read models' bigint columns and the payments service's amounts.
MAX_GROSS_REVENUE = 10**14


def _afm() -> Any:
    return Field(description="The business's ΑΦΜ (tax registration number)", examples=["094014201"])


def _period_type() -> Any:
    return Field(
        description="How the business files VAT: monthly (periods 1-12) or quarterly (1-4)"
    )


def _period() -> Any:
    return Field(description="The month (1-12) or quarter (1-4)", examples=[1])


def _year() -> Any:
    return Field(description="The period's year", examples=[2026])


def _vat_return_date() -> Any:
    return Field(
        description="When the VAT return was filed: not before the period's end nor in the future"
    )


# --- rules ---------------------------------------------------------------------------------------


class SurchargeRules(BaseModel):
    monthly_basis_points: int = Field(
        description="Surcharge per month or part of a month late (basis points)", examples=[73]
    )
    cap_percent: int = Field(
        description="Surcharges never exceed this % of the tax", examples=[100]
    )


class TaxRules(BaseModel):
    """The rules in force, as data (B-2, B-3)."""

    rates: dict[str, int] = Field(
        description="Basis points of gross receipts, per category of business",
        examples=[{"standard": 50, "special": 500}],
    )
    deadline_months_after_period_end: int = Field(
        description="Filed and paid by the last day of this many months after the period ends",
        examples=[1],
    )
    surcharges: SurchargeRules = Field(description="Late-payment surcharges and their cap")
    debt_payable_within_days: int = Field(
        description="An assessed debt runs no surcharges for this many days after assessment",
        examples=[30],
    )
    quote_validity_hours: float = Field(
        description="A quote holds until its amount changes, and at most this long", examples=[24]
    )


# --- B-1 -----------------------------------------------------------------------------------------


class WarrantSummary(BaseModel):
    """A payment warrant issued to the business (B-1)."""

    warrant_id: UUID = Field(description="Stable per (ΑΦΜ, number)")
    number: str = Field(description="The warrant's number", examples=["ΧΕ-2026/118"])
    issued_on: date = Field(description="Date of issue")
    amount: int = _cents("Amount", 125000)
    description: str = Field(description="What it pays, in Greek")
    budget_code: str = Field(description="Budget code (ΚΑΕ)", examples=["20.6654.0001"])
    status: WarrantStatus = Field(description="issued or paid")
    paid_on: date | None = Field(description="Date of payment, once paid")


class WarrantTotals(BaseModel):
    issued: int = _cents(
        "Sum of the issued (unpaid) warrants of the year asked (all years if none)", 0
    )
    paid: int = _cents("Sum of the paid warrants of the year asked (all years if none)", 0)


class WarrantSummaryPage(ListPage[WarrantSummary]):
    """A page of the business's warrants, newest first, from the service's copy (B-1)."""

    totals: WarrantTotals = Field(description="Sums per status (over every page)")
    as_of: datetime | None = Field(
        description="When the copy last matched the information system (now, if it answered "
        "this request); null if it never answered"
    )


# --- B-2 -----------------------------------------------------------------------------------------


class DeclarationCreate(BaseModel):
    """A municipal-tax declaration (B-2), as in the VAT return."""

    period_type: PeriodType = _period_type()
    period: int = _period()
    year: int = _year()
    gross_revenue: int = Field(
        description="Gross receipts of the period as in the VAT return, in cents of EUR (not "
        "negative)",
        examples=[1500000],
        le=MAX_GROSS_REVENUE,
    )
    vat_return_date: date = _vat_return_date()


class QuoteBreakdown(BaseModel):
    """How the amounts were computed."""

    category: str = Field(description="The business's category, per the information system")
    rate_basis_points: int = Field(description="Rate of the category", examples=[50])
    gross_revenue: int = _cents("Gross receipts declared", 1500000)
    tax: int = _cents("Tax: the rate of the gross receipts, rounded half up", 7500)
    deadline: date = Field(description="Last day to file and pay without surcharges")
    months_late: int = Field(description="Months or parts of a month after the deadline")
    surcharge_basis_points_per_month: int = Field(description="Surcharge per month late")
    surcharge_cap: int = _cents("The most the surcharges can be", 7500)
    surcharges: int = _cents("Surcharges", 0)


class DeclarationQuote(BaseModel):
    tax: int = _cents("Tax", 7500)
    surcharges: int = _cents("Late-payment surcharges", 0)
    total: int = _cents("Tax plus surcharges: what is paid", 7500)
    computed_at: datetime = Field(description="When it was computed (UTC)")
    valid_until: datetime = Field(
        description="Until when it holds (UTC); unpaid by then, the declaration is rejected"
    )
    breakdown: QuoteBreakdown = Field(description="How it was computed")


class DeclarationCreated(DeclarationQuote):
    """The declaration, quoted: shown before paying (B-2)."""

    declaration_id: UUID = Field(examples=[DECLARATION_ID_EXAMPLE])
    status: DeclarationStatus = Field(description="quoted")


class HistoryEntry(BaseModel):
    event: str = Field(description="What happened (a stable name)", examples=["Accepted"])
    at: datetime = Field(description="When")


class DeclarationPublic(DeclarationQuote):
    """One declaration: its saga's state, amounts, payment and history (B-2); the same for its
    business and for the revenue department's staff (X-3)."""

    declaration_id: UUID = Field(examples=[DECLARATION_ID_EXAMPLE])
    afm: str = _afm()
    period_type: PeriodType = _period_type()
    period: int = _period()
    year: int = _year()
    gross_revenue: int = _cents("Gross receipts declared", 1500000)
    vat_return_date: date = _vat_return_date()
    status: DeclarationStatus = Field(description="quoted, payment_pending, accepted, rejected")
    filed: bool = Field(description="The information system has it (after acceptance)")
    receipt: str | None = Field(description="The information system's receipt, once filed")
    reference: str = Field(description="RF code (ISO 11649) of the payment")
    payment_id: UUID | None = Field(description="The open payment, or the one that paid it")
    rejection_reason: str | None = Field(
        description="payment_failed, payment_expired or quote_expired, once rejected"
    )
    history: list[HistoryEntry] = Field(description="Every change, oldest first")


class DeclarationSummary(BaseModel):
    """One line of the declarations (B-2)."""

    declaration_id: UUID = Field(examples=[DECLARATION_ID_EXAMPLE])
    afm: str = _afm()
    period_type: PeriodType = _period_type()
    period: int = _period()
    year: int = _year()
    gross_revenue: int = _cents("Gross receipts declared", 1500000)
    status: DeclarationStatus = Field(description="quoted, payment_pending, accepted, rejected")
    filed: bool = Field(description="The information system has it")
    tax: int = _cents("Tax", 7500)
    surcharges: int = _cents("Surcharges as quoted", 0)
    total: int = _cents("Total as quoted", 7500)
    valid_until: datetime = Field(description="Until when the quote held")
    declared_at: datetime = Field(description="When it was declared (UTC)")


class DeclarationSummaryPage(ListPage[DeclarationSummary]):
    """A page of declarations (a business's own, or every business's), newest first."""


CHECKOUT_URL_EXAMPLE = (
    "http://127.0.0.1:8000/payments/3b9a4c52-1d2e-4f6a-8b7c-9d0e1f2a3b4c/checkout"
)


class PaymentCreated(BaseModel):
    """The payment to open in the browser (P-1)."""

    payment_id: UUID = Field(description="The payment's id (GET /payments/{payment_id})")
    redirect_url: str = Field(
        description="Where to send the browser: the checkout, which leads to the bank's page",
        examples=[CHECKOUT_URL_EXAMPLE],
    )
    amount: int = _cents("What will be charged", 7500)


class DeclarationPaymentCreated(BaseModel):
    """The payment to open in the browser (P-1); for a nil declaration (total 0) none: it was
    accepted at once, with nothing to pay (B-2)."""

    payment_id: UUID | None = Field(
        description="The payment's id (GET /payments/{payment_id}); null for a nil declaration"
    )
    redirect_url: str | None = Field(
        description="Where to send the browser: the checkout, which leads to the bank's page; "
        "null for a nil declaration (no bank page)",
        examples=[CHECKOUT_URL_EXAMPLE],
    )
    amount: int = _cents("What will be charged (0 for a nil declaration)", 7500)


# --- B-3 -----------------------------------------------------------------------------------------


class DebtPublic(BaseModel):
    """An assessed debt with what it costs now (B-3)."""

    debt_id: str = Field(description="The information system's id of the debt")
    description: str = Field(description="What is owed, in Greek")
    period: str = Field(description="The period assessed", examples=["2025 Q3"])
    assessed_on: date = Field(description="Date of assessment")
    principal: int = _cents("Principal", 42000)
    surcharges: int = _cents("Surcharges to date", 0)
    total: int = _cents("Principal plus surcharges: what is paid now", 42000)
    valid_until: datetime = Field(description="Until when this total holds (UTC)")
    reference: str = Field(description="RF code (ISO 11649) of the debt")
    status: DebtStatus = Field(description="open, payment_pending or paid")
    payment_id: UUID | None = Field(description="The open payment, or the one that paid it")
    paid_at: datetime | None = Field(description="When it was paid")


class DebtSummaryPage(ListPage[DebtPublic]):
    """A page of the business's debts, as the information system holds them now."""

    as_of: datetime = Field(description="When the information system was asked (now)")
