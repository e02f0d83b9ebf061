"""Adapter to the municipal information system (the municipality's finance system), SPEC B-1..B-3.

The system holds the payment warrants issued to suppliers, the assessed municipal-tax debts and
the declarations it has accepted; the business service reads the first two and files the third.
Its HTTP API (the simulator in deploy/simulators/portal_simulators/municipal_system.py speaks it):

- `GET /businesses/{afm}` -> the business (category, earlier declarations) | 422 malformed ΑΦΜ;
- `GET /warrants?afm=`, `GET /debts?afm=` -> {items}; `GET /debts/{debt_id}` -> one | 404;
- `POST /debts/{debt_id}/payments` {payment_id, amount, paid_at} -> 200 (idempotent per
  payment_id) | 409 `already_paid` (paid by another payment);
- `POST /declarations` {...} -> 201 {declaration_id, receipt, filed_at} | 200 the same receipt for
  the same declaration_id | 409 `period_already_declared`; payment_id and paid_at null for a nil
  declaration (total 0), required otherwise.

Short timeouts: a business user may be waiting on the answer, so an unreachable, slow or failing
system is `MunicipalSystemUnavailable` at once (the API answers 503, a worker retries later).
Writes are idempotent on the system's side (the declaration's id, the payment's id), so a retry
after a lost answer never files or records a payment twice. A 4xx no branch below expects would be
our bug; it is reported as unavailable too, since retrying it (with backoff, logged) is safer than
dropping a paid declaration.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal, Protocol
from urllib.parse import quote
from uuid import UUID

import httpx
import structlog
from portal_web.service import Runtime

from business_service.settings import BusinessSettings

log = structlog.get_logger()

MUNICIPAL_SYSTEM = "municipal_system"
"""The name of the information system's client among the service's resources."""

Category = Literal["standard", "special"]
PeriodType = Literal["monthly", "quarterly"]
WarrantStatus = Literal["issued", "paid"]
DebtStatus = Literal["open", "paid"]


class MunicipalSystemUnavailable(Exception):
    """The information system is down, too slow or failing: nothing is known, retry later."""


class DeclarationAlreadyFiled(Exception):
    """The system has another declaration for this ΑΦΜ and period already (409)."""

    def __init__(self, filing: DeclarationFiling, existing_declaration_id: str | None) -> None:
        super().__init__(
            f"{filing.afm} {filing.period_type} {filing.period}/{filing.year} "
            f"is declared already ({existing_declaration_id})"
        )
        self.filing = filing
        self.existing_declaration_id = existing_declaration_id


class DebtAlreadyPaid(Exception):
    """The debt was paid already by another payment (409 `already_paid`): this payment is one
    too many and is to be refunded."""

    def __init__(self, debt: DebtRecord) -> None:
        super().__init__(debt.debt_id)
        self.debt = debt


@dataclass(frozen=True)
class FiledDeclaration:
    """A declaration the system has accepted (through the portal or at its counter)."""

    declaration_id: str
    period_type: PeriodType
    period: int
    year: int
    filed_at: datetime

    @classmethod
    def of(cls, data: dict[str, Any]) -> FiledDeclaration:
        return cls(
            declaration_id=str(data["declaration_id"]),
            period_type=data["period_type"],
            period=int(data["period"]),
            year=int(data["year"]),
            filed_at=datetime.fromisoformat(data["filed_at"]),
        )


@dataclass(frozen=True)
class BusinessRecord:
    """What the system knows of a business: its tax category and earlier declarations."""

    afm: str
    legal_name: str | None
    category: Category
    declarations: tuple[FiledDeclaration, ...]

    @classmethod
    def of(cls, data: dict[str, Any]) -> BusinessRecord:
        return cls(
            afm=data["afm"],
            legal_name=data["legal_name"],
            category=data["category"],
            declarations=tuple(FiledDeclaration.of(item) for item in data["declarations"]),
        )


@dataclass(frozen=True)
class WarrantRecord:
    """A payment warrant (ένταλμα πληρωμής) issued to a supplier; amount in cents."""

    number: str
    afm: str
    issued_on: date
    amount: int
    description: str
    budget_code: str
    status: WarrantStatus
    paid_on: date | None

    @classmethod
    def of(cls, data: dict[str, Any]) -> WarrantRecord:
        return cls(
            number=data["number"],
            afm=data["afm"],
            issued_on=date.fromisoformat(data["issued_on"]),
            amount=int(data["amount"]),
            description=data["description"],
            budget_code=data["budget_code"],
            status=data["status"],
            paid_on=_optional(date.fromisoformat, data["paid_on"]),
        )


@dataclass(frozen=True)
class DebtRecord:
    """An assessed municipal-tax debt (βεβαιωμένη οφειλή); principal in cents, surcharges are
    the service's to compute."""

    debt_id: str
    afm: str
    description: str
    period: str
    assessed_on: date
    principal: int
    status: DebtStatus
    paid_at: datetime | None

    @classmethod
    def of(cls, data: dict[str, Any]) -> DebtRecord:
        return cls(
            debt_id=data["debt_id"],
            afm=data["afm"],
            description=data["description"],
            period=data["period"],
            assessed_on=date.fromisoformat(data["assessed_on"]),
            principal=int(data["principal"]),
            status=data["status"],
            paid_at=_optional(datetime.fromisoformat, data["paid_at"]),
        )


@dataclass(frozen=True)
class DeclarationFiling:
    """An accepted declaration, as filed with the system (amounts in cents): paid, or nil (total
    0: nothing was paid, so no payment_id nor paid_at; the system refuses any other total
    without its payment)."""

    declaration_id: UUID
    afm: str
    period_type: PeriodType
    period: int
    year: int
    gross_revenue: int
    tax: int
    surcharges: int
    total: int
    payment_id: UUID | None
    paid_at: datetime | None

    def body(self) -> dict[str, Any]:
        return {
            "declaration_id": str(self.declaration_id),
            "afm": self.afm,
            "period_type": self.period_type,
            "period": self.period,
            "year": self.year,
            "gross_revenue": self.gross_revenue,
            "tax": self.tax,
            "surcharges": self.surcharges,
            "total": self.total,
            "payment_id": None if self.payment_id is None else str(self.payment_id),
            "paid_at": None if self.paid_at is None else self.paid_at.isoformat(),
        }


@dataclass(frozen=True)
class FilingReceipt:
    """The system's receipt of a filed declaration."""

    receipt: str
    filed_at: datetime


class MunicipalSystem(Protocol):
    """The information system, as the business service needs it. Every call may raise
    MunicipalSystemUnavailable."""

    def business(self, afm: str) -> BusinessRecord:
        """The business with this ΑΦΜ: its category and earlier declarations."""
        ...

    def warrants(self, afm: str) -> list[WarrantRecord]:
        """Every warrant issued to this ΑΦΜ."""
        ...

    def debts(self, afm: str) -> list[DebtRecord]:
        """Every assessed debt of this ΑΦΜ, open and paid."""
        ...

    def debt(self, afm: str, debt_id: str) -> DebtRecord | None:
        """The debt, or None if unknown or not this ΑΦΜ's."""
        ...

    def record_debt_payment(
        self, debt_id: str, payment_id: UUID, amount: int, paid_at: datetime
    ) -> None:
        """Tell the system the debt is paid (idempotent per payment_id); DebtAlreadyPaid."""
        ...

    def file_declaration(self, filing: DeclarationFiling) -> FilingReceipt:
        """File an accepted declaration (idempotent per declaration_id);
        DeclarationAlreadyFiled."""
        ...


class HttpMunicipalSystem:
    """The system's HTTP API through one pooled client with short timeouts."""

    def __init__(self, base_url: str, timeout_seconds: float = 2.0) -> None:
        self._http = httpx.Client(base_url=base_url, timeout=timeout_seconds)

    @classmethod
    def of(cls, runtime: Runtime) -> HttpMunicipalSystem:
        """The client a running service declares as its `MUNICIPAL_SYSTEM` resource."""
        settings: BusinessSettings = runtime.settings
        return cls(settings.municipal_system_url, settings.municipal_system_timeout_seconds)

    def business(self, afm: str) -> BusinessRecord:
        return BusinessRecord.of(self._expect(self._send("GET", f"/businesses/{_seg(afm)}"), 200))

    def warrants(self, afm: str) -> list[WarrantRecord]:
        data = self._expect(self._send("GET", "/warrants", params={"afm": afm}), 200)
        return [WarrantRecord.of(item) for item in data["items"]]

    def debts(self, afm: str) -> list[DebtRecord]:
        data = self._expect(self._send("GET", "/debts", params={"afm": afm}), 200)
        return [DebtRecord.of(item) for item in data["items"]]

    def debt(self, afm: str, debt_id: str) -> DebtRecord | None:
        response = self._send("GET", f"/debts/{_seg(debt_id)}")
        if response.status_code == 404:
            return None
        debt = DebtRecord.of(self._expect(response, 200))
        return debt if debt.afm == afm else None

    def record_debt_payment(
        self, debt_id: str, payment_id: UUID, amount: int, paid_at: datetime
    ) -> None:
        body = {"payment_id": str(payment_id), "amount": amount, "paid_at": paid_at.isoformat()}
        response = self._send("POST", f"/debts/{_seg(debt_id)}/payments", json=body)
        if response.status_code == 409:
            raise DebtAlreadyPaid(DebtRecord.of(response.json()["details"]))
        self._expect(response, 200)

    def file_declaration(self, filing: DeclarationFiling) -> FilingReceipt:
        response = self._send("POST", "/declarations", json=filing.body())
        if response.status_code == 409:
            details = response.json().get("details") or {}
            raise DeclarationAlreadyFiled(filing, details.get("declaration_id"))
        data = self._expect(response, 200, 201)
        return FilingReceipt(data["receipt"], datetime.fromisoformat(data["filed_at"]))

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._http.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            log.warning("municipal_system_timeout", method=method, path=path)
            raise MunicipalSystemUnavailable("timeout") from exc
        except httpx.HTTPError as exc:
            log.warning("municipal_system_unreachable", path=path, error=type(exc).__name__)
            raise MunicipalSystemUnavailable(f"unreachable: {type(exc).__name__}") from exc

    @staticmethod
    def _expect(response: httpx.Response, *statuses: int) -> dict[str, Any]:
        if response.status_code not in statuses:
            log.warning(
                "municipal_system_refused",
                path=response.request.url.path,
                status=response.status_code,
                body=response.text[:200],
            )
            raise MunicipalSystemUnavailable(f"HTTP {response.status_code}")
        data: dict[str, Any] = response.json()
        return data

    def close(self) -> None:
        self._http.close()


def _seg(value: str) -> str:
    """`value` as one path segment (debt ids and ΑΦΜs are the system's, not ours to trust)."""
    return quote(value, safe="")


def _optional(parse: Any, value: str | None) -> Any:
    return None if value is None else parse(value)
