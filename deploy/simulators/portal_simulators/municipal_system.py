"""Simulator of the municipal information system (ΟΠΣ of the municipality's finances), SPEC
B-1..B-3: the payment warrants issued to suppliers, the assessed municipal-tax debts and the
municipal-tax declarations it has accepted.

The business service reads warrants and debts from it and files paid declarations with it,
through its adapter (services/business-tax/business_service/municipal_system.py). It behaves as
that adapter sees the real system, failures included:

- `GET /businesses/{afm}` -> 200 `{afm, legal_name, category, declarations: [...]}`. A business
  the system has not seen is created on first sight with category `standard` (0.5 % of gross
  receipts; `special` owes 5 %; the rates themselves are the service's data). 422 `invalid_afm`
  for an ΑΦΜ that is not 9 digits with a valid check digit.
- `GET /warrants?afm=` -> 200 `{items}` newest first; `POST /warrants` `{afm, amount, description,
  budget_code, issued_on?}` -> 201 the warrant, numbered `ΧΕ-<year>/<seq>`; `POST
  /warrants/{number}/pay` `{paid_on?}` -> 200 the warrant, paid (again: 200 unchanged). The last
  two are for operators and tests: the system issues and pays warrants while the portal runs.
- `GET /debts?afm=` -> 200 `{items}` (open and paid); `GET /debts/{debt_id}` -> 200 | 404;
  `POST /debts` `{afm, principal, description, period, assessed_on?}` -> 201 (operators, tests).
- `POST /debts/{debt_id}/payments` `{payment_id, amount, paid_at}` -> 200 the debt, paid. The
  same payment again: 200 unchanged; a debt paid by another payment: 409 `already_paid` with the
  debt in `details`; an amount below the principal: 422 `amount_too_low`.
- `POST /declarations` `{declaration_id, afm, period_type, period, year, gross_revenue, tax,
  surcharges, total, payment_id, paid_at}` -> 201 `{declaration_id, receipt, filed_at}`; the
  same declaration_id again: 200 with the same receipt; another declaration already filed for
  the same ΑΦΜ and period: 409 `period_already_declared` (the filed one in `details`). A nil
  declaration (total 0: a period without receipts) needs no payment (`payment_id` and `paid_at`
  null or left out); any other total without its payment: 422.
- `GET /declarations/{declaration_id}` -> 200 the filed declaration | 404.
- `PUT /control` `{mode: up|down|slow, delay_seconds?}` / `GET /control`: `down` answers 503 on
  every route above; `slow` does the work, then waits `delay_seconds` before answering (a client
  that times out has lost the answer, not the filing: the retry gets the same receipt).
- `GET /health`: always 200, reports the mode.

Amounts are integer cents, dates ISO 8601, "today" is Europe/Athens. Errors are JSON `{code,
message, details?}`. The demo business (ΑΦΜ 094014201) has warrants, two open debts and one
earlier declaration from the start (`DEMO_*`). State lives in SQLite at `MUNICIPAL_SYSTEM_DB` and
survives a restart; the mode does not. No authentication: a local simulator, reachable only
from this machine (the gateway's operators' listener, never the public one).

Run: `MUNICIPAL_SYSTEM_DB=/tmp/municipal.sqlite3 uvicorn portal_simulators.municipal_system:app`.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar
from uuid import UUID
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, model_validator

from portal_simulators.outage import Control, add_control

ATHENS = ZoneInfo("Europe/Athens")
DEFAULT_DB = "municipal-system.sqlite3"
DEMO_AFM = "094014201"

Category = Literal["standard", "special"]
PeriodType = Literal["monthly", "quarterly"]
PERIODS_PER_YEAR: dict[str, int] = {"monthly": 12, "quarterly": 4}
T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS businesses (
    afm TEXT PRIMARY KEY,
    legal_name TEXT,
    category TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS warrants (
    number TEXT PRIMARY KEY,
    year INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    afm TEXT NOT NULL,
    issued_on TEXT NOT NULL,
    amount INTEGER NOT NULL,
    description TEXT NOT NULL,
    budget_code TEXT NOT NULL,
    status TEXT NOT NULL,
    paid_on TEXT,
    UNIQUE (year, seq)
);
CREATE INDEX IF NOT EXISTS warrants_by_afm ON warrants (afm);
CREATE TABLE IF NOT EXISTS debts (
    debt_id TEXT PRIMARY KEY,
    year INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    afm TEXT NOT NULL,
    description TEXT NOT NULL,
    period TEXT NOT NULL,
    assessed_on TEXT NOT NULL,
    principal INTEGER NOT NULL,
    status TEXT NOT NULL,
    paid_at TEXT,
    payment_id TEXT,
    paid_amount INTEGER,
    UNIQUE (year, seq)
);
CREATE INDEX IF NOT EXISTS debts_by_afm ON debts (afm);
"""

# A nil declaration (total 0) is filed without a payment; any other only with one.
_DECLARATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS {table} (
    declaration_id TEXT PRIMARY KEY,
    afm TEXT NOT NULL,
    period_type TEXT NOT NULL,
    period INTEGER NOT NULL,
    year INTEGER NOT NULL,
    gross_revenue INTEGER NOT NULL,
    tax INTEGER NOT NULL,
    surcharges INTEGER NOT NULL,
    total INTEGER NOT NULL,
    payment_id TEXT,
    paid_at TEXT,
    receipt TEXT NOT NULL UNIQUE,
    receipt_year INTEGER NOT NULL,
    receipt_seq INTEGER NOT NULL,
    filed_at TEXT NOT NULL,
    UNIQUE (afm, period_type, period, year),
    CHECK (total = 0 OR (payment_id IS NOT NULL AND paid_at IS NOT NULL))
)
"""

_NEXT_SEQ = {
    "warrants": "SELECT coalesce(max(seq), 0) + 1 FROM warrants WHERE year = ?",
    "debts": "SELECT coalesce(max(seq), 0) + 1 FROM debts WHERE year = ?",
    "receipts": "SELECT coalesce(max(receipt_seq), 0) + 1 FROM declarations WHERE receipt_year = ?",
}

DEMO_BUSINESS = {"afm": DEMO_AFM, "legal_name": "ΑΒΓ Τεχνική ΑΕ", "category": "standard"}

# Warrants issued to the demo business, a contractor of the municipality; the older ones paid.
DEMO_WARRANTS: tuple[dict[str, Any], ...] = (
    {
        "number": "ΧΕ-2025/001874",
        "issued_on": "2025-10-06",
        "amount": 1_240_000,
        "description": "Συντήρηση δικτύου δημοτικού φωτισμού, Γ΄ τρίμηνο 2025",
        "budget_code": "20-6262.001",
        "status": "paid",
        "paid_on": "2025-11-04",
    },
    {
        "number": "ΧΕ-2026/000093",
        "issued_on": "2026-01-28",
        "amount": 385_600,
        "description": "Επισκευή στέγης 3ου Δημοτικού Σχολείου",
        "budget_code": "15-6261.003",
        "status": "paid",
        "paid_on": "2026-02-20",
    },
    {
        "number": "ΧΕ-2026/000731",
        "issued_on": "2026-05-14",
        "amount": 2_148_000,
        "description": "Προμήθεια και τοποθέτηση κάδων ανακύκλωσης",
        "budget_code": "20-7135.003",
        "status": "paid",
        "paid_on": "2026-06-30",
    },
    {
        "number": "ΧΕ-2026/001422",
        "issued_on": "2026-09-22",
        "amount": 912_500,
        "description": "Συντήρηση δικτύου δημοτικού φωτισμού, Γ΄ τρίμηνο 2026",
        "budget_code": "20-6262.001",
        "status": "issued",
        "paid_on": None,
    },
    {
        "number": "ΧΕ-2026/001690",
        "issued_on": "2026-11-03",
        "amount": 467_000,
        "description": "Αποκατάσταση πεζοδρομίων οδού Αγίου Δημητρίου",
        "budget_code": "30-7333.004",
        "status": "issued",
        "paid_on": None,
    },
)

# Municipal tax (art. 20 ν. 2539/1997) the system assessed itself: one quarter never declared,
# one declared short.
DEMO_DEBTS: tuple[dict[str, Any], ...] = (
    {
        "debt_id": "BO-2026-000118",
        "description": "Τέλος 0,5 % επί των ακαθάριστων εσόδων (άρθρο 20 ν. 2539/1997), "
        "Γ΄ τρίμηνο 2025: μη υποβληθείσα δήλωση",
        "period": "2025 Q3",
        "assessed_on": "2026-03-16",
        "principal": 61_850,
    },
    {
        "debt_id": "BO-2026-000342",
        "description": "Τέλος 0,5 % επί των ακαθάριστων εσόδων (άρθρο 20 ν. 2539/1997), "
        "Δ΄ τρίμηνο 2025: διαφορά από έλεγχο δήλωσης",
        "period": "2025 Q4",
        "assessed_on": "2026-06-09",
        "principal": 14_275,
    },
)

# Declared and paid at the counter before the portal existed.
DEMO_DECLARATIONS: tuple[dict[str, Any], ...] = (
    {
        "declaration_id": "6f1c2a4e-6d1b-5c53-9a57-0e2d8b1f3c41",
        "period_type": "quarterly",
        "period": 1,
        "year": 2026,
        "gross_revenue": 14_820_000,
        "tax": 74_100,
        "surcharges": 0,
        "total": 74_100,
        "payment_id": "0b7e5d8a-3f2c-5e41-8d6a-6c9f1e2a7b30",
        "paid_at": "2026-04-21T10:12:00+03:00",
        "receipt": "ΑΠ-2026/000412",
        "filed_at": "2026-04-21T10:12:00+03:00",
    },
)

Afm = Annotated[str, Field(examples=[DEMO_AFM], description="ΑΦΜ: 9 digits, valid check digit")]
Cents = Annotated[int, Field(ge=0, le=10**13, description="Cents")]


def afm_is_valid(afm: str) -> bool:
    """The ΑΦΜ check: 9 digits; the sum of d_i * 2^(8-i) over the first 8, mod 11, mod 10, is
    the 9th. All zeros passes the arithmetic but is no ΑΦΜ."""
    if len(afm) != 9 or not afm.isascii() or not afm.isdigit() or afm == "0" * 9:
        return False
    return sum(int(d) * 2 ** (8 - i) for i, d in enumerate(afm[:8])) % 11 % 10 == int(afm[8])


class InvalidRequest(Exception):
    """A request the system refuses (4xx): `code` says why."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details


def _require_afm(afm: str) -> str:
    if not afm_is_valid(afm):
        raise InvalidRequest(422, "invalid_afm", f"{afm!r} is not a valid ΑΦΜ.")
    return afm


class FiledDeclarationSummary(BaseModel):
    declaration_id: str
    period_type: PeriodType
    period: int
    year: int
    filed_at: datetime


class BusinessOut(BaseModel):
    afm: str
    legal_name: str | None
    category: Category
    declarations: list[FiledDeclarationSummary]


class WarrantIn(BaseModel):
    afm: Afm
    amount: int = Field(gt=0, le=10**13, description="Cents", examples=[467_000])
    description: str = Field(min_length=1, max_length=500)
    budget_code: str = Field(
        pattern=r"^\d{2}-\d{4}(\.\d{3})?$", description="ΚΑΕ", examples=["30-7333.004"]
    )
    issued_on: date | None = Field(None, description="Default: today")


class WarrantOut(BaseModel):
    number: str
    afm: str
    issued_on: date
    amount: int
    description: str
    budget_code: str
    status: Literal["issued", "paid"]
    paid_on: date | None


class WarrantPaymentIn(BaseModel):
    paid_on: date | None = Field(None, description="Default: today")


class DebtIn(BaseModel):
    afm: Afm
    principal: int = Field(gt=0, le=10**13, description="Cents", examples=[14_275])
    description: str = Field(min_length=1, max_length=500)
    period: str = Field(min_length=4, max_length=30, examples=["2025 Q4"])
    assessed_on: date | None = Field(None, description="Default: today")


class DebtOut(BaseModel):
    debt_id: str
    afm: str
    description: str
    period: str
    assessed_on: date
    principal: int
    status: Literal["open", "paid"]
    paid_at: datetime | None
    payment_id: str | None


class DebtPaymentIn(BaseModel):
    payment_id: UUID
    amount: int = Field(gt=0, le=10**13, description="Cents paid: principal and surcharges")
    paid_at: datetime


class DeclarationIn(BaseModel):
    declaration_id: str = Field(min_length=1, max_length=100, pattern=r"^[^/?#\s]+$")
    afm: Afm
    period_type: PeriodType
    period: int = Field(ge=1, le=12, description="Month 1-12 or quarter 1-4")
    year: int = Field(ge=2000, le=2100)
    gross_revenue: Cents
    tax: Cents
    surcharges: Cents
    total: Cents
    payment_id: UUID | None = Field(None, description="The payment; null only if total is 0")
    paid_at: datetime | None = Field(None, description="When it was paid; null only if total is 0")

    @model_validator(mode="after")
    def _consistent(self) -> DeclarationIn:
        if self.period > PERIODS_PER_YEAR[self.period_type]:
            raise ValueError(
                f"a {self.period_type} period is 1-{PERIODS_PER_YEAR[self.period_type]}"
            )
        if self.total != self.tax + self.surcharges:
            raise ValueError("total must be tax + surcharges")
        if (self.payment_id is None) != (self.paid_at is None):
            raise ValueError("payment_id and paid_at go together")
        if self.total > 0 and self.payment_id is None:
            raise ValueError("a total above 0 is filed only with its payment")
        return self


class FilingReceiptOut(BaseModel):
    declaration_id: str
    receipt: str
    filed_at: datetime


class DeclarationOut(FilingReceiptOut):
    afm: str
    period_type: PeriodType
    period: int
    year: int
    gross_revenue: int
    tax: int
    surcharges: int
    total: int
    payment_id: str | None
    paid_at: datetime | None


class Items(BaseModel, Generic[T]):
    items: list[T]


class System:
    """The system's books, in one SQLite file."""

    def __init__(self, path: str, now: Callable[[], datetime]) -> None:
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()  # one connection shared by the server's threads
        self._now = now
        with self._transaction():
            self._ensure_declarations_table()
            if self._db.execute("SELECT count(*) FROM businesses").fetchone()[0] == 0:
                self._load_demo()

    def today(self) -> date:
        return self._now().astimezone(ATHENS).date()

    # Businesses

    def business(self, afm: str) -> BusinessOut:
        with self._transaction():
            row = self._ensure_business(afm)
            declarations = self._db.execute(
                "SELECT declaration_id, period_type, period, year, filed_at FROM declarations "
                "WHERE afm = ? ORDER BY year, period_type, period",
                (afm,),
            ).fetchall()
        return BusinessOut(
            afm=afm,
            legal_name=row["legal_name"],
            category=row["category"],
            declarations=[FiledDeclarationSummary.model_validate(dict(d)) for d in declarations],
        )

    # Warrants

    def warrants(self, afm: str) -> list[WarrantOut]:
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM warrants WHERE afm = ? ORDER BY issued_on DESC, year DESC, seq DESC",
                (afm,),
            ).fetchall()
        return [_warrant(row) for row in rows]

    def issue_warrant(self, warrant: WarrantIn) -> WarrantOut:
        issued_on = warrant.issued_on or self.today()
        with self._transaction():
            self._ensure_business(warrant.afm)
            seq = self._next_seq("warrants", issued_on.year)
            number = f"ΧΕ-{issued_on.year}/{seq:06d}"
            self._insert_warrant(
                {
                    **warrant.model_dump(exclude={"issued_on"}),
                    "number": number,
                    "issued_on": issued_on.isoformat(),
                    "status": "issued",
                    "paid_on": None,
                }
            )
            return self._warrant(number)  # type: ignore[return-value]

    def pay_warrant(self, number: str, paid_on: date | None) -> WarrantOut:
        with self._transaction():
            warrant = self._warrant(number)
            if warrant is None:
                raise InvalidRequest(404, "not_found", f"No warrant {number}.")
            if warrant.status == "paid":
                return warrant
            paid_on = paid_on or self.today()
            if paid_on < warrant.issued_on:
                raise InvalidRequest(422, "invalid_date", "paid_on is before the warrant's issue.")
            self._db.execute(
                "UPDATE warrants SET status = 'paid', paid_on = ? WHERE number = ?",
                (paid_on.isoformat(), number),
            )
            return self._warrant(number)  # type: ignore[return-value]

    # Debts

    def debts(self, afm: str) -> list[DebtOut]:
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM debts WHERE afm = ? ORDER BY assessed_on DESC, year DESC, seq DESC",
                (afm,),
            ).fetchall()
        return [_debt(row) for row in rows]

    def debt(self, debt_id: str) -> DebtOut | None:
        with self._lock:
            return self._debt(debt_id)

    def assess_debt(self, debt: DebtIn) -> DebtOut:
        assessed_on = debt.assessed_on or self.today()
        with self._transaction():
            self._ensure_business(debt.afm)
            seq = self._next_seq("debts", assessed_on.year)
            debt_id = f"BO-{assessed_on.year}-{seq:06d}"
            self._insert_debt(
                {
                    **debt.model_dump(exclude={"assessed_on"}),
                    "debt_id": debt_id,
                    "assessed_on": assessed_on.isoformat(),
                }
            )
            return self._debt(debt_id)  # type: ignore[return-value]

    def record_debt_payment(self, debt_id: str, payment: DebtPaymentIn) -> DebtOut:
        with self._transaction():
            debt = self._debt(debt_id)
            if debt is None:
                raise InvalidRequest(404, "not_found", f"No debt {debt_id}.")
            if debt.status == "paid":
                if debt.payment_id == str(payment.payment_id):
                    return debt
                raise InvalidRequest(
                    409,
                    "already_paid",
                    "This debt was paid by another payment.",
                    debt.model_dump(mode="json"),
                )
            if payment.amount < debt.principal:
                raise InvalidRequest(
                    422, "amount_too_low", f"The principal alone is {debt.principal} cents."
                )
            self._db.execute(
                "UPDATE debts SET status = 'paid', paid_at = ?, payment_id = ?, paid_amount = ? "
                "WHERE debt_id = ?",
                (payment.paid_at.isoformat(), str(payment.payment_id), payment.amount, debt_id),
            )
            return self._debt(debt_id)  # type: ignore[return-value]

    # Declarations

    def file_declaration(self, filing: DeclarationIn) -> tuple[DeclarationOut, bool]:
        """File `filing`; (the filed declaration, created). Idempotent per declaration_id."""
        with self._transaction():
            existing = self._declaration(filing.declaration_id)
            if existing is not None:
                return existing, False
            row = self._db.execute(
                "SELECT declaration_id FROM declarations "
                "WHERE afm = ? AND period_type = ? AND period = ? AND year = ?",
                (filing.afm, filing.period_type, filing.period, filing.year),
            ).fetchone()
            if row is not None:
                filed = self._declaration(row["declaration_id"])
                raise InvalidRequest(
                    409,
                    "period_already_declared",
                    "This period is declared already.",
                    filed.model_dump(mode="json"),  # type: ignore[union-attr]
                )
            self._ensure_business(filing.afm)
            filed_at = self._now()
            seq = self._next_seq("receipts", filed_at.year)
            self._insert_declaration(
                {
                    **filing.model_dump(mode="json"),
                    "receipt": f"ΑΠ-{filed_at.year}/{seq:06d}",
                    "filed_at": filed_at.isoformat(),
                }
            )
            return self._declaration(filing.declaration_id), True  # type: ignore[return-value]

    def declaration(self, declaration_id: str) -> DeclarationOut | None:
        with self._lock:
            return self._declaration(declaration_id)

    def close(self) -> None:
        self._db.close()

    # Storage

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _ensure_declarations_table(self) -> None:
        """Create the declarations' table, or rebuild one from before nil declarations, whose
        payment columns were NOT NULL (SQLite cannot drop a constraint), keeping its rows."""
        columns = self._db.execute("PRAGMA table_info(declarations)").fetchall()
        if not any(c["name"] == "payment_id" and c["notnull"] for c in columns):
            self._db.execute(_DECLARATIONS_TABLE.format(table="declarations"))
            return
        self._db.execute(_DECLARATIONS_TABLE.format(table="declarations_rebuilt"))
        self._db.execute("INSERT INTO declarations_rebuilt SELECT * FROM declarations")
        self._db.execute("DROP TABLE declarations")
        self._db.execute("ALTER TABLE declarations_rebuilt RENAME TO declarations")

    def _ensure_business(self, afm: str) -> sqlite3.Row:
        self._db.execute(
            "INSERT INTO businesses (afm, legal_name, category) VALUES (?, NULL, 'standard') "
            "ON CONFLICT (afm) DO NOTHING",
            (afm,),
        )
        row: sqlite3.Row = self._db.execute(
            "SELECT * FROM businesses WHERE afm = ?", (afm,)
        ).fetchone()
        return row

    def _next_seq(self, series: str, year: int) -> int:
        """The next number of `series` (warrants, debts, receipts) in `year`."""
        row = self._db.execute(_NEXT_SEQ[series], (year,)).fetchone()
        return int(row[0])

    def _insert_warrant(self, warrant: dict[str, Any]) -> None:
        year, seq = warrant["number"].removeprefix("ΧΕ-").split("/")
        self._db.execute(
            "INSERT INTO warrants (number, year, seq, afm, issued_on, amount, description, "
            "budget_code, status, paid_on) VALUES (:number, :year, :seq, :afm, :issued_on, "
            ":amount, :description, :budget_code, :status, :paid_on)",
            warrant | {"year": int(year), "seq": int(seq)},
        )

    def _insert_debt(self, debt: dict[str, Any]) -> None:
        _, year, seq = debt["debt_id"].split("-")
        self._db.execute(
            "INSERT INTO debts (debt_id, year, seq, afm, description, period, assessed_on, "
            "principal, status) VALUES (:debt_id, :year, :seq, :afm, :description, :period, "
            ":assessed_on, :principal, 'open')",
            debt | {"year": int(year), "seq": int(seq)},
        )

    def _insert_declaration(self, declaration: dict[str, Any]) -> None:
        year, seq = declaration["receipt"].removeprefix("ΑΠ-").split("/")
        self._db.execute(
            "INSERT INTO declarations (declaration_id, afm, period_type, period, year, "
            "gross_revenue, tax, surcharges, total, payment_id, paid_at, receipt, receipt_year, "
            "receipt_seq, filed_at) VALUES (:declaration_id, :afm, :period_type, :period, :year, "
            ":gross_revenue, :tax, :surcharges, :total, :payment_id, :paid_at, :receipt, "
            ":receipt_year, :receipt_seq, :filed_at)",
            declaration | {"receipt_year": int(year), "receipt_seq": int(seq)},
        )

    def _load_demo(self) -> None:
        self._db.execute(
            "INSERT INTO businesses VALUES (:afm, :legal_name, :category)", DEMO_BUSINESS
        )
        for warrant in DEMO_WARRANTS:
            self._insert_warrant(warrant | {"afm": DEMO_AFM})
        for debt in DEMO_DEBTS:
            self._insert_debt(debt | {"afm": DEMO_AFM})
        for declaration in DEMO_DECLARATIONS:
            self._insert_declaration(declaration | {"afm": DEMO_AFM})

    def _warrant(self, number: str) -> WarrantOut | None:
        row = self._db.execute("SELECT * FROM warrants WHERE number = ?", (number,)).fetchone()
        return None if row is None else _warrant(row)

    def _debt(self, debt_id: str) -> DebtOut | None:
        row = self._db.execute("SELECT * FROM debts WHERE debt_id = ?", (debt_id,)).fetchone()
        return None if row is None else _debt(row)

    def _declaration(self, declaration_id: str) -> DeclarationOut | None:
        row = self._db.execute(
            "SELECT * FROM declarations WHERE declaration_id = ?", (declaration_id,)
        ).fetchone()
        return None if row is None else DeclarationOut.model_validate(dict(row))


def _warrant(row: sqlite3.Row) -> WarrantOut:
    return WarrantOut.model_validate(dict(row))


def _debt(row: sqlite3.Row) -> DebtOut:
    return DebtOut.model_validate(dict(row))


def _error(status: int, code: str, message: str, details: Any = None) -> JSONResponse:
    body = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    return JSONResponse(body, status_code=status)


def utc_now() -> datetime:
    return datetime.now(UTC)


AfmQuery = Annotated[str, Query(description="ΑΦΜ: 9 digits, valid check digit")]
NOT_FOUND = {404: {"description": "Not known to the system"}}
INVALID = {422: {"description": "Invalid ΑΦΜ or body (`code`, `message`, `details`)"}}


def create_app(db_path: str | None = None, now: Callable[[], datetime] = utc_now) -> FastAPI:
    """Build the simulator; `now` (filing times, "today") is injectable for tests."""
    system = System(db_path or os.environ.get("MUNICIPAL_SYSTEM_DB", DEFAULT_DB), now)
    app = FastAPI(
        title="Municipal information system simulator", description=__doc__, version="0.1.0"
    )
    app.state.system = system
    control = add_control(app, Control)
    operations = {"/health", "/control", "/docs", "/openapi.json"}

    @app.middleware("http")
    async def outage(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        """The switch, on every route but its own and health: down is 503 before anything is
        read; slow answers late, after the work is done."""
        if request.url.path in operations:
            return await call_next(request)
        if control().down:
            return _error(503, "unavailable", "The municipal information system is unavailable.")
        response = await call_next(request)
        await control().delay()
        return response

    @app.exception_handler(InvalidRequest)
    async def refused(_: Request, exc: InvalidRequest) -> JSONResponse:
        return _error(exc.status, exc.code, exc.message, exc.details)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {
                "field": ".".join(str(part) for part in error["loc"][1:]) or "body",
                "message": error["msg"],
            }
            for error in exc.errors()
        ]
        return _error(422, "invalid_request", "The request is not valid.", details)

    @app.get(
        "/businesses/{afm}", response_model=BusinessOut, tags=["businesses"], responses=INVALID
    )
    def get_business(afm: str) -> BusinessOut:
        """The business with this ΑΦΜ (created, category standard, on first sight)."""
        return system.business(_require_afm(afm))

    @app.get("/warrants", response_model=Items[WarrantOut], tags=["warrants"], responses=INVALID)
    def list_warrants(afm: AfmQuery) -> Items[WarrantOut]:
        """Every warrant issued to this ΑΦΜ, newest first."""
        return Items(items=system.warrants(_require_afm(afm)))

    @app.post(
        "/warrants",
        status_code=201,
        response_model=WarrantOut,
        tags=["warrants"],
        responses=INVALID,
    )
    def issue_warrant(warrant: WarrantIn) -> WarrantOut:
        """Issue a warrant (operators, tests): numbered ΧΕ-<year>/<seq> by its issue date."""
        _require_afm(warrant.afm)
        return system.issue_warrant(warrant)

    @app.post(
        "/warrants/{number:path}/pay",
        response_model=WarrantOut,
        tags=["warrants"],
        responses=NOT_FOUND | INVALID,
    )
    def pay_warrant(number: str, payment: WarrantPaymentIn | None = None) -> WarrantOut:
        """Pay a warrant (operators, tests); paid already: unchanged."""
        return system.pay_warrant(number, payment.paid_on if payment else None)

    @app.get("/debts", response_model=Items[DebtOut], tags=["debts"], responses=INVALID)
    def list_debts(afm: AfmQuery) -> Items[DebtOut]:
        """Every assessed debt of this ΑΦΜ, open and paid, newest first."""
        return Items(items=system.debts(_require_afm(afm)))

    @app.post("/debts", status_code=201, response_model=DebtOut, tags=["debts"], responses=INVALID)
    def assess_debt(debt: DebtIn) -> DebtOut:
        """Assess a debt (operators, tests): id BO-<year>-<seq> by its assessment date."""
        _require_afm(debt.afm)
        return system.assess_debt(debt)

    @app.get("/debts/{debt_id}", response_model=DebtOut, tags=["debts"], responses=NOT_FOUND)
    def get_debt(debt_id: str) -> DebtOut:
        """One debt."""
        debt = system.debt(debt_id)
        if debt is None:
            raise InvalidRequest(404, "not_found", f"No debt {debt_id}.")
        return debt

    @app.post(
        "/debts/{debt_id}/payments",
        response_model=DebtOut,
        tags=["debts"],
        responses=NOT_FOUND
        | INVALID
        | {409: {"description": "`already_paid`: paid by another payment (the debt in details)"}},
    )
    def pay_debt(debt_id: str, payment: DebtPaymentIn) -> DebtOut:
        """Record the debt's payment; the same payment again: unchanged."""
        return system.record_debt_payment(debt_id, payment)

    @app.post(
        "/declarations",
        status_code=201,
        response_model=FilingReceiptOut,
        tags=["declarations"],
        responses=INVALID
        | {
            200: {"model": FilingReceiptOut, "description": "Filed already: the same receipt"},
            409: {"description": "`period_already_declared` (the filed one in details)"},
        },
    )
    def file_declaration(filing: DeclarationIn, response: Response) -> FilingReceiptOut:
        """File a paid or nil declaration (201), or answer the receipt it got before (200)."""
        _require_afm(filing.afm)
        filed, created = system.file_declaration(filing)
        response.status_code = 201 if created else 200
        return FilingReceiptOut(
            declaration_id=filed.declaration_id, receipt=filed.receipt, filed_at=filed.filed_at
        )

    @app.get(
        "/declarations/{declaration_id}",
        response_model=DeclarationOut,
        tags=["declarations"],
        responses=NOT_FOUND,
    )
    def get_declaration(declaration_id: str) -> DeclarationOut:
        """A filed declaration."""
        filed = system.declaration(declaration_id)
        if filed is None:
            raise InvalidRequest(404, "not_found", f"No declaration {declaration_id}.")
        return filed

    return app


def __getattr__(name: str) -> FastAPI:
    # `app` for uvicorn, built on first access so that importing the module creates no file.
    if name == "app":
        globals()["app"] = create_app()
        return globals()["app"]
    raise AttributeError(name)
