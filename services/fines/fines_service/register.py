"""Adapter to the municipality's fines register (its fines-management system), SPEC F-4.

The register is where the municipal police record fines; the fines service asks it whether a
fine is on record and records the ones that are not. Its HTTP API (the simulator in
deploy/simulators/portal_simulators/fines_register.py speaks it):

- `POST /lookups` {fine_number, plate} -> 200 the fine | 404;
- `POST /fines` + `Idempotency-Key` {fine_number, plate, fine_type, issued_at, amount} -> 201 the
  fine | 200 the fine recorded under that key before | 409 `fine_number_taken`.

Short timeouts: a citizen waits on the answer, so an unreachable, slow or failing register is
`RegisterUnavailable` at once (the API answers 503 with Retry-After) rather than a hung page. The
key sent with a registration is the fine's id, derived from its municipality and number: a retry
after a lost answer gets the fine recorded the first time, never a second one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

import httpx
import structlog
from portal_web.service import Runtime

from fines_service.domainmodel import RegisterUnavailable
from fines_service.settings import FinesSettings

log = structlog.get_logger()

REGISTER = "register"
"""The name of the register client among the service's resources."""


@dataclass(frozen=True)
class RegisteredFine:
    """A fine as the register holds it (amount: the base amount as issued, in cents)."""

    fine_number: str
    plate: str
    fine_type: str
    issued_at: datetime
    amount: int
    paid: bool

    @classmethod
    def of(cls, data: dict[str, Any]) -> RegisteredFine:
        return cls(
            fine_number=data["fine_number"],
            plate=data["plate"],
            fine_type=data["fine_type"],
            issued_at=datetime.fromisoformat(data["issued_at"]),
            amount=int(data["amount"]),
            paid=data["status"] == "paid",
        )


class FineNumberTaken(Exception):
    """The register holds this fine number already, recorded with other details."""

    def __init__(self, existing: RegisteredFine) -> None:
        super().__init__(existing.fine_number)
        self.existing = existing


class FinesRegister(Protocol):
    """The fines register, as the fines service needs it."""

    def lookup(self, fine_number: str, plate: str) -> RegisteredFine | None:
        """The fine with this number and plate, or None; RegisterUnavailable."""
        ...

    def record(
        self,
        key: UUID,
        *,
        fine_number: str,
        plate: str,
        fine_type: str,
        issued_at: datetime,
        amount: int,
    ) -> RegisteredFine:
        """Record the fine under `key` (idempotent); FineNumberTaken, RegisterUnavailable."""
        ...


class HttpFinesRegister:
    """The register's HTTP API through one pooled client with short timeouts."""

    def __init__(self, base_url: str, timeout_seconds: float = 2.0) -> None:
        self._http = httpx.Client(base_url=base_url, timeout=timeout_seconds)

    @classmethod
    def of(cls, runtime: Runtime) -> HttpFinesRegister:
        """The client a running service declares as its `REGISTER` resource."""
        settings: FinesSettings = runtime.settings
        return cls(settings.fines_register_url, settings.fines_register_timeout_seconds)

    def lookup(self, fine_number: str, plate: str) -> RegisteredFine | None:
        response = self._post("/lookups", {"fine_number": fine_number, "plate": plate})
        if response.status_code == 404:
            return None
        return RegisteredFine.of(self._expect(response, 200))

    def record(
        self,
        key: UUID,
        *,
        fine_number: str,
        plate: str,
        fine_type: str,
        issued_at: datetime,
        amount: int,
    ) -> RegisteredFine:
        body = {
            "fine_number": fine_number,
            "plate": plate,
            "fine_type": fine_type,
            "issued_at": issued_at.isoformat(),
            "amount": amount,
        }
        response = self._post("/fines", body, headers={"Idempotency-Key": str(key)})
        if response.status_code == 409:
            raise FineNumberTaken(RegisteredFine.of(response.json()["details"]))
        return RegisteredFine.of(self._expect(response, 200, 201))

    def _post(
        self, path: str, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> httpx.Response:
        try:
            return self._http.post(path, json=body, headers=headers)
        except httpx.TimeoutException as exc:
            log.warning("fines_register_timeout", path=path)
            raise RegisterUnavailable("timeout") from exc
        except httpx.HTTPError as exc:
            log.warning("fines_register_unreachable", path=path, error=type(exc).__name__)
            raise RegisterUnavailable(f"unreachable: {type(exc).__name__}") from exc

    @staticmethod
    def _expect(response: httpx.Response, *statuses: int) -> dict[str, Any]:
        if response.status_code not in statuses:
            # A 4xx here would be our bug; either way the citizen is told to try again later.
            log.warning("fines_register_refused", status=response.status_code)
            raise RegisterUnavailable(f"HTTP {response.status_code}")
        data: dict[str, Any] = response.json()
        return data

    def close(self) -> None:
        self._http.close()
