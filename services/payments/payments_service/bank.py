"""Adapter to the bank's card gateway API (the simulator in deploy/simulators speaks it too).

The payments service calls the bank for three things: open the hosted-page session of a payment
(idempotent per order id, which is the payment id), ask an order's status, and cancel an open
order (reconciliation). Every call carries the API key (`Authorization: Bearer`); an outage, a
timeout or an unexpected answer is `BankUnavailable`, and the caller decides when to try again.
The bank is never sent or asked anything about cards: the payer gives the card to the bank's
own page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol
from uuid import UUID

import httpx
from portal_web.service import Runtime

from payments_service.domainmodel import Payment
from payments_service.settings import PaymentsSettings

BANK = "bank"
"""The name of the bank client among the service's resources."""

OrderStatus = Literal["open", "succeeded", "failed", "cancelled"]


class BankUnavailable(Exception):
    """The bank did not answer usefully this time (down, slow, a server error)."""


@dataclass(frozen=True)
class BankSession:
    session_id: str
    page_url: str


@dataclass(frozen=True)
class BankOrder:
    """What the bank knows of one order (one payment)."""

    order_id: str
    status: OrderStatus
    reason: str | None
    transaction_id: str | None
    amount: int


class Bank(Protocol):
    """The bank's gateway, as the payments service needs it."""

    def open_session(self, payment: Payment, notify_url: str, return_url: str) -> BankSession:
        """The payment's session at the bank (the same one again for the same payment)."""
        ...

    def order(self, payment_id: UUID) -> BankOrder | None:
        """The order's status; None if the bank never saw it."""
        ...

    def cancel(self, payment_id: UUID) -> BankOrder | None:
        """Cancel the order if still open; the order as it then is; None if never seen."""
        ...


class HttpBank:
    """The bank's HTTP API."""

    def __init__(
        self, base_url: str, api_key: str, merchant_id: str, timeout_seconds: float = 5.0
    ) -> None:
        self.merchant_id = merchant_id
        self._http = httpx.Client(
            base_url=base_url,
            timeout=timeout_seconds,
            headers={"Authorization": f"Bearer {api_key}"},
        )

    @classmethod
    def of(cls, runtime: Runtime) -> HttpBank:
        """The client a running service declares as its `BANK` resource."""
        settings: PaymentsSettings = runtime.settings
        return cls(
            settings.bank_url,
            settings.bank_api_key.get_secret_value(),
            settings.bank_merchant_id,
            settings.bank_timeout_seconds,
        )

    def open_session(self, payment: Payment, notify_url: str, return_url: str) -> BankSession:
        body = {
            "merchant_id": self.merchant_id,
            "order_id": str(payment.payment_id),
            "amount": payment.amount,
            "currency": payment.currency,
            "description": payment.description,
            "notify_url": notify_url,
            "return_url": return_url,
        }
        data = self._call("POST", "/api/sessions", json=body, found=(200, 201))
        if data is None:
            raise BankUnavailable("the bank does not know the session it just opened")
        return BankSession(session_id=data["session_id"], page_url=data["page_url"])

    def order(self, payment_id: UUID) -> BankOrder | None:
        return self._order(self._call("GET", f"/api/orders/{payment_id}"))

    def cancel(self, payment_id: UUID) -> BankOrder | None:
        return self._order(self._call("POST", f"/api/orders/{payment_id}/cancel"))

    def close(self) -> None:
        self._http.close()

    def _call(
        self, method: str, path: str, json: object = None, found: tuple[int, ...] = (200,)
    ) -> dict | None:
        try:
            response = self._http.request(method, path, json=json)
        except httpx.TimeoutException as exc:
            raise BankUnavailable("timeout") from exc
        except httpx.HTTPError as exc:
            raise BankUnavailable(f"unreachable: {type(exc).__name__}") from exc
        if response.status_code == 404:
            return None
        if response.status_code not in found:
            raise BankUnavailable(f"HTTP {response.status_code}")
        try:
            return response.json()
        except ValueError as exc:
            raise BankUnavailable("an answer that is not JSON") from exc

    @staticmethod
    def _order(data: dict | None) -> BankOrder | None:
        if data is None:
            return None
        try:
            return BankOrder(
                order_id=data["order_id"],
                status=data["status"],
                reason=data.get("reason"),
                transaction_id=data.get("transaction_id"),
                amount=int(data["amount"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise BankUnavailable("an order answer of an unexpected shape") from exc
