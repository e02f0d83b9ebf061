"""Businesses at the gateway and the municipal information system behind them, for the end-to-end
tests of the business services (SPEC B-1..B-3; issue 9).

Every business is registered with an ΑΦΜ of its own (`portal_roles.new_afm`): the business
service and the information system scope warrants, debts and declarations by ΑΦΜ, so a test
that shared one would see another test's. Only the demo ΑΦΜ is shared, and only read.

The information system's simulator is reached on the gateway's operators' listener (never the
public one), as an operator or the municipality's finance department would: to issue and pay
warrants, assess debts, look up what was filed, and switch it down and up.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from portal_roles import BUSINESS_PROFILE, new_afm

# The simulator's demo business: warrants, open debts and an earlier declaration from the start.
DEMO_AFM = "094014201"
# What the clerk saw in person: the representative's identity card (ID-3).
REPRESENTATIVE_SEEN = {"document_type": "identity_card", "document_number": "ΑΒ123456"}
MUNICIPALITY_TZ = ZoneInfo("Europe/Athens")


@dataclass
class Business:
    """A logged-in business user (kind `business`) and the ΑΦΜ of its profile."""

    client: httpx.Client
    user_id: str
    afm: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.client.get(path, headers=self.headers, **kwargs)

    def post(self, path: str, key: str | None = None, **kwargs: Any) -> httpx.Response:
        """POST with an Idempotency-Key (a new one unless `key` is given)."""
        headers = self.headers | {"Idempotency-Key": key or uuid.uuid4().hex}
        return self.client.post(path, headers=headers, **kwargs)


def register_business(gateway: httpx.Client, afm: str | None = None) -> Business:
    """A business registered (ID-1), logged in, with a complete profile (ID-2) whose ΑΦΜ is
    `afm` or a new one of its own; not verified yet."""
    email = f"business-{uuid.uuid4().hex[:10]}@example.gr"
    password = "Kalimera-" + uuid.uuid4().hex[:10]
    created = gateway.post(
        "/identity/users", json={"kind": "business", "email": email, "password": password}
    )
    assert created.status_code == 201, created.text
    token = gateway.post("/identity/token", data={"username": email, "password": password})
    assert token.status_code == 200, token.text
    business = Business(
        gateway, created.json()["user_id"], afm or new_afm(), token.json()["access_token"]
    )
    profile = BUSINESS_PROFILE | {"afm": business.afm}
    saved = gateway.put("/identity/me/profile", json=profile, headers=business.headers)
    assert saved.status_code == 200, saved.text
    return business


def refusal_code(business: Business) -> str | None:
    """None if the business service serves the business, else the code of its 403."""
    response = business.get("/business/warrants")
    if response.status_code == 200:
        return None
    assert response.status_code == 403, response.text
    return response.json()["code"]


# --- periods a declaration may name today (B-2: past periods only) ----------------------------


def today() -> date:
    """Today in the municipality, as the business service counts periods."""
    return datetime.now(MUNICIPALITY_TZ).date()


def last_month() -> tuple[int, int]:
    """(year, month) of the last month that has ended."""
    now = today()
    return (now.year, now.month - 1) if now.month > 1 else (now.year - 1, 12)


def last_quarter() -> tuple[int, int]:
    """(year, quarter) of the last quarter that has ended."""
    now = today()
    quarter = (now.month - 1) // 3
    return (now.year, quarter) if quarter else (now.year - 1, 4)


def period_end(period_type: str, period: int, year: int) -> date:
    last_month_of_period = period if period_type == "monthly" else 3 * period
    first_after = date(year + last_month_of_period // 12, last_month_of_period % 12 + 1, 1)
    return first_after - timedelta(days=1)


def declaration_body(
    period_type: str, period: int, year: int, gross_revenue: int = 2_000_000_00
) -> dict[str, Any]:
    """A declaration of a past period, its VAT return filed the day after the period ended."""
    vat_return_date = min(period_end(period_type, period, year) + timedelta(days=1), today())
    return {
        "period_type": period_type,
        "period": period,
        "year": year,
        "gross_revenue": gross_revenue,
        "vat_return_date": vat_return_date.isoformat(),
    }


# --- the municipal information system's simulator (operators' listener) ----------------------


class MunicipalSystem:
    """The simulator as an operator reaches it: `http://<operators>/municipal-system/...`."""

    def __init__(self, operators_url: str) -> None:
        self.client = httpx.Client(base_url=f"{operators_url}/municipal-system", timeout=10.0)

    def close(self) -> None:
        self.client.close()

    def set_mode(self, mode: str) -> None:
        """up, down (503 on every route) or slow."""
        response = self.client.put("/control", json={"mode": mode})
        assert response.status_code == 200, response.text

    def issue_warrant(self, afm: str, amount: int, description: str) -> dict[str, Any]:
        response = self.client.post(
            "/warrants",
            json={
                "afm": afm,
                "amount": amount,
                "description": description,
                "budget_code": "20-6262.001",
            },
        )
        assert response.status_code == 201, response.text
        return response.json()

    def pay_warrant(self, number: str) -> dict[str, Any]:
        response = self.client.post(f"/warrants/{number}/pay", json={})
        assert response.status_code == 200, response.text
        return response.json()

    def assess_debt(self, afm: str, principal: int, period: str) -> dict[str, Any]:
        response = self.client.post(
            "/debts",
            json={
                "afm": afm,
                "principal": principal,
                "description": "Τέλος 0,5 % επί των ακαθάριστων εσόδων: διαφορά από έλεγχο",
                "period": period,
            },
        )
        assert response.status_code == 201, response.text
        return response.json()

    def debt(self, debt_id: str) -> dict[str, Any]:
        response = self.client.get(f"/debts/{debt_id}")
        assert response.status_code == 200, response.text
        return response.json()

    def filed_declaration(self, declaration_id: str) -> dict[str, Any] | None:
        """The filed declaration, or None if the system does not have it."""
        response = self.client.get(f"/declarations/{declaration_id}")
        if response.status_code == 404:
            return None
        assert response.status_code == 200, response.text
        return response.json()
