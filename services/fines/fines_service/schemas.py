"""What the fines service's HTTP API accepts and answers (SPEC F-1..F-6); every field described.

Amounts are integer cents of EUR. Plates and fine numbers are normalised as they come in
(`identifiers`), so every answer shows them in their normal form.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from portal_web import ListPage, text
from pydantic import AfterValidator, BaseModel, Field

from fines_service.catalogue import ATHENS
from fines_service.identifiers import (
    normalise_fine_number,
    normalise_plate,
    normalise_rf,
    plate_for_display,
)

FINE_ID_EXAMPLE = "6a1f3c9e-4b2d-5e8f-9a0b-1c2d3e4f5a6b"
RF_EXAMPLE = "RF1651012026000101"

FineStatus = Literal["payable", "payment_pending", "paid"]


def _issued_in_the_past(moment: datetime) -> datetime:
    """A time without a zone is Athens time (as printed on the ticket); none in the future."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ATHENS)
    if moment > datetime.now(UTC):
        raise ValueError("is in the future")
    return moment


MunicipalityCode = Annotated[
    text(10),
    Field(description="Κωδικός Δήμου, as printed on the ticket", examples=["5101"]),
]
FineTypeCode = Annotated[
    text(30),
    Field(description="Είδος Κλήσης: the fine type's code, as printed", examples=["P-69"]),
]
FineNumber = Annotated[
    text(40),
    AfterValidator(normalise_fine_number),
    Field(
        description="The fine's number (Αριθμός Κλήσης); spaces and dashes are ignored",
        examples=["2026 000 101"],
    ),
]
Plate = Annotated[
    text(20),
    AfterValidator(normalise_plate),
    Field(
        description="The vehicle's plate, Greek or Latin letters alike (ΥΖΑ-1234 = YZA1234); "
        "spaces and dashes are ignored",
        examples=["ΥΖΑ-1234"],
    ),
]
IssuedAt = Annotated[
    datetime,
    AfterValidator(_issued_in_the_past),
    Field(
        description="Date and time of the fine, as on the ticket (without a zone: Athens time); "
        "not in the future",
        examples=["2026-11-20T11:05:00+02:00"],
    ),
]
CreditorReference = Annotated[
    text(40),
    AfterValidator(normalise_rf),
    Field(
        description="An RF code (ISO 11649); spaces allowed, a wrong check digit is refused",
        examples=[RF_EXAMPLE],
    ),
]


def _cents(description: str, example: int) -> Any:
    return Field(description=f"{description}, in cents of EUR", examples=[example])


class FineTypeSummary(BaseModel):
    """A fine type payable to this municipality (F-2)."""

    code: str = Field(description="Είδος Κλήσης, as printed on tickets", examples=["P-69"])
    description: str = Field(
        description="What the offence is, in Greek",
        examples=["Στάθμευση σε θέση ελεγχόμενης στάθμευσης χωρίς αντίτιμο (Ρ-69)"],
    )
    amount: int = _cents("Base amount of a fine of this type issued today", 3000)


class FineTypes(BaseModel):
    """The municipality and the fine types payable to it (F-2)."""

    municipality_code: str = Field(description="Κωδικός Δήμου", examples=["5101"])
    municipality_name: str = Field(description="The municipality", examples=["Δήμος Πύλης"])
    types: list[FineTypeSummary] = Field(description="Payable here, in the catalogue's order")


class FineCheck(BaseModel):
    """What the ticket says: municipality and fine type (F-2)."""

    municipality_code: MunicipalityCode
    fine_type: FineTypeCode


class FineCheckResult(BaseModel):
    """The fine type is payable here; its amount (F-2)."""

    fine_type: str = Field(description="The fine type's code", examples=["P-69"])
    description: str = Field(description="What the offence is, in Greek")
    amount: int = _cents("Base amount of a fine of this type issued today", 3000)


class FineLookup(FineCheck):
    """The ticket's details (F-2, F-3)."""

    fine_number: FineNumber
    plate: Plate
    issued_at: IssuedAt


class FineCreate(BaseModel):
    """A fine the municipal police issued, recorded ahead of the citizen (F-4)."""

    fine_type: FineTypeCode
    fine_number: FineNumber
    plate: Plate
    issued_at: IssuedAt


class FineCreated(BaseModel):
    """The fine's id (stable: derived from the municipality and the fine number)."""

    fine_id: UUID = Field(description="The fine's id", examples=[FINE_ID_EXAMPLE])


class QuotePublic(BaseModel):
    """What the fine costs at `computed_at`, holding until `valid_until` (F-5)."""

    base: int = _cents("The fine's base amount as issued", 3000)
    surcharges: int = _cents("Surcharges for late payment (προσαυξήσεις)", 0)
    total: int = _cents("What is owed: base plus surcharges", 3000)
    computed_at: datetime = Field(description="When it was computed (UTC)")
    valid_until: datetime = Field(
        description="Until when this amount holds (UTC); later, the fine is quoted again"
    )
    reference: str = Field(
        description="RF code (ISO 11649) identifying the fine as the payable",
        examples=[RF_EXAMPLE],
    )


class FineDetails(BaseModel):
    """The fine as the fines register records it (F-4)."""

    municipality_code: str = Field(description="Κωδικός Δήμου", examples=["5101"])
    fine_number: str = Field(description="Normalised fine number", examples=["2026000101"])
    plate: str = Field(description="Normalised plate (Latin letters)", examples=["YZA1234"])
    plate_display: str = Field(description="The plate as printed", examples=["ΥΖΑ1234"])
    fine_type: str = Field(description="The fine type's code", examples=["P-40"])
    description: str = Field(description="What the offence is, in Greek")
    issued_at: datetime = Field(description="When the fine was issued")
    reference: str = Field(description="The fine's RF code", examples=[RF_EXAMPLE])

    @classmethod
    def of(cls, fine: Any) -> FineDetails:
        return cls(
            municipality_code=fine.municipality_code,
            fine_number=fine.fine_number,
            plate=fine.plate,
            plate_display=plate_for_display(fine.plate),
            fine_type=fine.fine_type,
            description=fine.description,
            issued_at=fine.issued_at,
            reference=fine.reference,
        )


def _quote_of(quote: dict[str, Any] | None, reference: str) -> QuotePublic | None:
    return None if quote is None else QuotePublic(**quote, reference=reference)


class FineLookupResult(BaseModel):
    """The fine, now in the caller's list, and what it costs now (F-4, F-5)."""

    fine_id: UUID = Field(description="The fine's id", examples=[FINE_ID_EXAMPLE])
    found: bool = Field(
        description="true: the register had it; false: it was registered there just now (F-4)"
    )
    status: FineStatus = Field(description="payable, payment_pending or paid")
    details: FineDetails = Field(description="The fine as the fines register records it")
    quote: QuotePublic | None = Field(description="What it costs now; null once paid")

    @classmethod
    def of(cls, fine: Any, found: bool, quote: dict[str, Any] | None) -> FineLookupResult:
        return cls(
            fine_id=fine.id,
            found=found,
            status=fine.status,
            details=FineDetails.of(fine),
            quote=_quote_of(quote, fine.reference),
        )


class FinePublic(BaseModel):
    """One fine: its details, status and what it costs now (F-5, F-6)."""

    fine_id: UUID = Field(description="The fine's id", examples=[FINE_ID_EXAMPLE])
    status: FineStatus = Field(description="payable, payment_pending or paid")
    details: FineDetails = Field(description="The fine as the fines register records it")
    quote: QuotePublic | None = Field(description="What it costs now; null once paid")
    payment_id: UUID | None = Field(
        None, description="The open payment's id while payment_pending; the paying one once paid"
    )
    paid_at: datetime | None = Field(None, description="When the bank completed the payment")

    @classmethod
    def of(cls, fine: Any, quote: dict[str, Any] | None) -> FinePublic:
        open_payment = fine.open_payment
        return cls(
            fine_id=fine.id,
            status=fine.status,
            details=FineDetails.of(fine),
            quote=_quote_of(quote, fine.reference),
            payment_id=open_payment["payment_id"] if open_payment else fine.paid_payment_id,
            paid_at=fine.paid_at,
        )


class FineSummary(BaseModel):
    """One line of a list of fines: status and last quote (F-5)."""

    fine_id: UUID = Field(description="The fine's id", examples=[FINE_ID_EXAMPLE])
    fine_number: str = Field(description="Normalised fine number", examples=["2026000101"])
    plate: str = Field(description="Normalised plate", examples=["YZA1234"])
    fine_type: str = Field(description="The fine type's code", examples=["P-40"])
    description: str = Field(description="What the offence is, in Greek")
    issued_at: datetime = Field(description="When the fine was issued")
    status: FineStatus = Field(description="payable, payment_pending or paid")
    quote: QuotePublic | None = Field(
        description="The last quote (it may have expired: see valid_until); null if paid "
        "before any was made"
    )

    @classmethod
    def of(cls, row: dict[str, Any]) -> FineSummary:
        quote = None
        if row["total"] is not None:
            quote = {
                "base": row["base"],
                "surcharges": row["surcharges"],
                "total": row["total"],
                "computed_at": row["computed_at"],
                "valid_until": row["valid_until"],
            }
        return cls(
            fine_id=row["fine_id"],
            fine_number=row["fine_number"],
            plate=row["plate"],
            fine_type=row["fine_type"],
            description=row["description"],
            issued_at=row["issued_at"],
            status=row["status"],
            quote=_quote_of(quote, row["reference"]),
        )


class FineSummaryPage(ListPage[FineSummary]):
    """A page of fines, newest first."""


class FinePaymentCreated(BaseModel):
    """The payment to open in the browser (F-6, P-1)."""

    payment_id: UUID = Field(description="The payment's id (GET /payments/{payment_id})")
    redirect_url: str = Field(
        description="Where to send the browser: the checkout, which leads to the bank's page",
        examples=["http://127.0.0.1:8000/payments/3b9a4c52-1d2e-4f6a-8b7c-9d0e1f2a3b4c/checkout"],
    )
    amount: int = _cents("What will be charged: the quote's total", 3000)
