"""Fixtures of the business service's tests.

- Unit tests: `system`, an in-memory `MunicipalSystem` (the stand-in for the other party's
  information system: it keeps the real one's promises, filing idempotent per declaration, a
  debt's payment idempotent per payment, the 409s as the adapter raises them; `down` fails every
  call as an outage does), and nothing else: eventsourcing's in-memory persistence.
- API tests: real PostgreSQL (a fresh database per session, the root `fresh_database`) and the
  real municipal information system simulator served in-process; Kafka off (the consumer's
  handlers are called directly where a test needs identity's or payments' events).
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import date, datetime
from types import SimpleNamespace
from typing import Any
from uuid import UUID

import httpx
import pytest
from business_service.main import service
from business_service.municipal_system import (
    BusinessRecord,
    DebtAlreadyPaid,
    DebtRecord,
    DeclarationAlreadyFiled,
    DeclarationFiling,
    FiledDeclaration,
    FilingReceipt,
    MunicipalSystemUnavailable,
    WarrantRecord,
)
from business_service.settings import BusinessSettings
from fastapi.testclient import TestClient
from portal_events.contracts import ProfileUpdatedV1, UserVerifiedV1
from portal_simulators.municipal_system import create_app as create_municipal_system
from portal_simulators.testing import serve

_serial = itertools.count(1)
FILED_AT = datetime.fromisoformat("2026-05-15T09:00:00+03:00")  # the in-memory system's "now"


def new_afm() -> str:
    """A valid ΑΦΜ (check digit) no other test uses (the simulator refuses a bad one)."""
    stem = f"2{uuid.uuid4().int % 10**4:04d}{next(_serial):03d}"
    check = sum(int(d) * 2 ** (8 - i) for i, d in enumerate(stem)) % 11 % 10
    return f"{stem}{check}"


# --- unit tests ---------------------------------------------------------------------------------


class InMemoryMunicipalSystem:
    def __init__(self) -> None:
        self.categories: dict[str, str] = {}
        self.filings: dict[UUID, tuple[DeclarationFiling, FilingReceipt]] = {}
        self.warrant_records: dict[str, list[WarrantRecord]] = {}
        self.debt_records: dict[str, DebtRecord] = {}
        self.debt_payments: dict[str, UUID] = {}
        self.down = False
        self.refuses_own_filing_again = False  # a system that answers 409 to a retried filing
        self.calls: list[str] = []

    def _call(self, name: str) -> None:
        self.calls.append(name)
        if self.down:
            raise MunicipalSystemUnavailable("HTTP 503")

    # --- the protocol ---------------------------------------------------------------------------

    def business(self, afm: str) -> BusinessRecord:
        self._call("business")
        filed = tuple(
            FiledDeclaration(
                str(filing.declaration_id),
                filing.period_type,
                filing.period,
                filing.year,
                receipt.filed_at,
            )
            for filing, receipt in self.filings.values()
            if filing.afm == afm
        )
        category = self.categories.get(afm, "standard")
        return BusinessRecord(afm, None, category, filed)  # type: ignore[arg-type]

    def warrants(self, afm: str) -> list[WarrantRecord]:
        self._call("warrants")
        return list(reversed(self.warrant_records.get(afm, [])))

    def debts(self, afm: str) -> list[DebtRecord]:
        self._call("debts")
        return [debt for debt in self.debt_records.values() if debt.afm == afm]

    def debt(self, afm: str, debt_id: str) -> DebtRecord | None:
        self._call("debt")
        debt = self.debt_records.get(debt_id)
        return debt if debt is not None and debt.afm == afm else None

    def record_debt_payment(
        self, debt_id: str, payment_id: UUID, amount: int, paid_at: datetime
    ) -> None:
        self._call("record_debt_payment")
        debt = self.debt_records[debt_id]
        if debt.status == "paid":
            if self.debt_payments.get(debt_id) == payment_id:
                return
            raise DebtAlreadyPaid(debt)
        self.debt_records[debt_id] = replace(debt, status="paid", paid_at=paid_at)
        self.debt_payments[debt_id] = payment_id

    def file_declaration(self, filing: DeclarationFiling) -> FilingReceipt:
        self._call("file_declaration")
        if filing.total > 0 and (filing.payment_id is None or filing.paid_at is None):
            raise MunicipalSystemUnavailable("HTTP 422")  # unpaid: refused, as the adapter says
        if filing.declaration_id in self.filings:
            if self.refuses_own_filing_again:
                raise DeclarationAlreadyFiled(filing, str(filing.declaration_id))
            return self.filings[filing.declaration_id][1]
        for earlier, _ in self.filings.values():
            if (earlier.afm, earlier.period_type, earlier.period, earlier.year) == (
                filing.afm,
                filing.period_type,
                filing.period,
                filing.year,
            ):
                raise DeclarationAlreadyFiled(filing, str(earlier.declaration_id))
        receipt = FilingReceipt(f"ΑΠ-{filing.year}/{len(self.filings) + 1:06d}", FILED_AT)
        self.filings[filing.declaration_id] = (filing, receipt)
        return receipt

    # --- what the municipality's staff do -------------------------------------------------------

    def issue_warrant(self, afm: str, number: str, amount: int, issued_on: date) -> None:
        record = WarrantRecord(
            number, afm, issued_on, amount, "Προμήθεια", "10-6612.001", "issued", None
        )
        self.warrant_records.setdefault(afm, []).append(record)

    def pay_warrant(self, afm: str, number: str, paid_on: date) -> None:
        records = self.warrant_records[afm]
        for index, record in enumerate(records):
            if record.number == number:
                records[index] = replace(record, status="paid", paid_on=paid_on)

    def assess_debt(self, afm: str, debt_id: str, principal: int, assessed_on: date) -> None:
        self.debt_records[debt_id] = DebtRecord(
            debt_id,
            afm,
            "Τέλος ακαθαρίστων εσόδων",
            "2025 Q3",
            assessed_on,
            principal,
            "open",
            None,
        )

    def pay_debt_at_the_counter(self, debt_id: str, paid_at: datetime) -> None:
        debt = self.debt_records[debt_id]
        self.debt_records[debt_id] = replace(debt, status="paid", paid_at=paid_at)

    def file_at_the_counter(self, afm: str, period_type: str, period: int, year: int) -> None:
        filing = DeclarationFiling(
            UUID(int=len(self.filings) + 1), afm, period_type, period, year,  # type: ignore[arg-type]
            0, 0, 0, 0, UUID(int=0), datetime.fromisoformat("2026-01-01T00:00:00+00:00"),
        )  # fmt: skip
        self.filings[filing.declaration_id] = (filing, FilingReceipt("ΑΠ-counter", FILED_AT))


@pytest.fixture
def system() -> InMemoryMunicipalSystem:
    return InMemoryMunicipalSystem()


@pytest.fixture
def fresh_afm() -> str:
    """An ΑΦΜ of a business nobody has seen yet."""
    return new_afm()


# --- API tests ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def municipal_server(tmp_path_factory) -> Iterator[httpx.Client]:
    """The information system simulator, served for real; an httpx client on it."""
    path = str(tmp_path_factory.mktemp("municipal") / "municipal.sqlite3")
    with (
        serve(create_municipal_system(path)) as url,
        httpx.Client(base_url=url, timeout=5) as client,
    ):
        yield client


@pytest.fixture
def municipal(municipal_server) -> Iterator[httpx.Client]:
    """The simulator for one test, left up however the test ends."""
    yield municipal_server
    municipal_server.put("/control", json={"mode": "up"})


@pytest.fixture(scope="session")
def settings(infra, fresh_database, municipal_server) -> BusinessSettings:
    return BusinessSettings(
        postgres_host=infra.pg_host,
        postgres_port=infra.pg_port,
        postgres_user=infra.pg_user,
        postgres_password=infra.pg_password,
        postgres_dbname=fresh_database("business"),
        kafka_enabled=False,
        municipal_system_url=str(municipal_server.base_url),
        municipal_system_timeout_seconds=0.5,
        portal_public_url="http://portal.test",
        filer_poll_seconds=0.1,
        filing_retry_base_seconds=0.2,
        filing_retry_max_seconds=0.5,
        log_format="console",
    )


@pytest.fixture(scope="session")
def client(settings, token_verifier) -> Iterator[TestClient]:
    with TestClient(service.create_app(settings, token_verifier=token_verifier)) as test_client:
        yield test_client


@pytest.fixture
def business(client, token) -> Callable[..., dict[str, str]]:
    """business(afm=None, complete=True, verified=True) -> headers of a new business user of
    that ΑΦΜ (a new one by default), as identity's events left it."""
    from business_service.integration import handlers

    handle = handlers(client.app.state.runtime.application)

    def make(
        afm: str | None = None, complete: bool = True, verified: bool = True
    ) -> dict[str, str]:
        user_id = uuid.uuid4()
        profile = ProfileUpdatedV1(
            user_id=user_id, kind="business", afm=afm or new_afm(), profile_complete=complete
        )
        handle[ProfileUpdatedV1](envelope(1), profile)
        if verified:
            handle[UserVerifiedV1](
                envelope(2),
                UserVerifiedV1(
                    user_id=user_id,
                    document_type="id_card",
                    verified_by=uuid.uuid4(),
                    verified_at=datetime.fromisoformat("2026-01-05T10:00:00+00:00"),
                ),
            )
        return {"Authorization": f"Bearer {token('business', user_id=user_id)}"}

    return make


def envelope(sequence: int) -> Any:
    """What the handlers read of identity's envelope: the user aggregate's version."""
    return SimpleNamespace(sequence=sequence)
