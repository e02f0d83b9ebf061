"""Simulator of the municipality's fines register (σύστημα διαχείρισης προστίμων), SPEC F-4.

The municipal police record the fines they issue here; the fines service asks it, through its
adapter, whether a fine a citizen typed in is on record, and records the ones that are not yet.
It behaves as the fines service sees the real system, failures included:

- `POST /lookups` `{fine_number, plate}` -> 200 with the fine, or 404. A POST, so that plates
  never appear in a URL (or an access log).
- `POST /fines` with header `Idempotency-Key: <key>` and body `{fine_number, plate, fine_type,
  issued_at, amount}` records a fine: 201 with the fine. The same key again answers 200 with the
  fine recorded the first time, so a client that lost the answer and asks again never records a
  fine twice. A fine number already recorded under another key is 409 `fine_number_taken`, with
  that fine in `details`.
- `GET /fines/{fine_number}`: the fine, or 404 (for operators).
- `PUT /control` `{mode: up|down|slow, delay_seconds?}` / `GET /control`: `down` answers 503 on
  the fines routes; `slow` does the work, then waits `delay_seconds` before answering (a client
  that times out has lost the answer, not the record).
- `GET /health`: always 200, reports the mode.

Amounts are integer cents; `amount` is the base amount of the fine as issued (the law of its day).
Fine numbers and plates are stored as sent: the fines service normalises them (upper case, Latin
letters, no spaces or dashes) before it asks. A few demo fines are on record from the start
(`DEMO_FINES`). State lives in SQLite at `FINES_REGISTER_DB` and survives a restart; the mode does
not. No authentication: a local simulator, reachable only from this machine.

Run: `FINES_REGISTER_DB=/tmp/fines-register.sqlite3 uvicorn portal_simulators.fines_register:app`.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Header, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from portal_simulators.outage import Control, add_control

DEFAULT_DB = "fines-register.sqlite3"

FineStatus = Literal["unpaid", "paid"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS fines (
    fine_number TEXT PRIMARY KEY,
    plate TEXT NOT NULL,
    fine_type TEXT NOT NULL,
    issued_at TEXT NOT NULL,
    amount INTEGER NOT NULL,
    status TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    idempotency_key TEXT UNIQUE
);
"""

# Issued by the municipal police before the portal existed (no idempotency key). Plates in the
# normalised form: ΥΖΑ1234 is "YZA1234" (Greek letters to their Latin look-alikes).
DEMO_FINES: tuple[dict[str, Any], ...] = (
    {
        "fine_number": "2026000101",
        "plate": "YZA1234",
        "fine_type": "P-40",
        "issued_at": "2026-06-15T09:30:00+03:00",
        "amount": 8000,
        "status": "unpaid",
    },
    {
        "fine_number": "2026000102",
        "plate": "IKH4521",
        "fine_type": "P-69",
        "issued_at": "2026-11-20T11:05:00+02:00",
        "amount": 3000,
        "status": "unpaid",
    },
    {
        "fine_number": "2026000103",
        "plate": "NBP3342",
        "fine_type": "P-40",
        "issued_at": "2026-10-02T18:45:00+03:00",
        "amount": 8000,
        "status": "paid",
    },
)


class FineQuery(BaseModel):
    fine_number: str = Field(min_length=1, max_length=30, examples=["2026000101"])
    plate: str = Field(min_length=1, max_length=20, examples=["YZA1234"])


class FineIn(FineQuery):
    fine_type: str = Field(min_length=1, max_length=30, examples=["P-40"])
    issued_at: datetime = Field(examples=["2026-06-15T09:30:00+03:00"])
    amount: int = Field(gt=0, description="Base amount in cents", examples=[8000])


class FineOut(FineIn):
    status: FineStatus
    recorded_at: datetime
    idempotency_key: str | None = Field(
        description="The key it was recorded under; null for the police's own"
    )


class NumberTaken(Exception):
    """The fine number is on record already, under another key."""

    def __init__(self, existing: FineOut) -> None:
        super().__init__(existing.fine_number)
        self.existing = existing


class Register:
    """The register's book, in one SQLite file."""

    def __init__(self, path: str, now: Callable[[], datetime]) -> None:
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()  # one connection shared by the server's threads
        self._now = now
        with self._lock:
            if self._db.execute("SELECT count(*) FROM fines").fetchone()[0] == 0:
                for fine in DEMO_FINES:
                    self._insert(
                        {**fine, "recorded_at": fine["issued_at"], "idempotency_key": None}
                    )

    def lookup(self, fine_number: str, plate: str) -> FineOut | None:
        with self._lock:
            fine = self._get(fine_number)
        return fine if fine is not None and fine.plate == plate else None

    def get(self, fine_number: str) -> FineOut | None:
        with self._lock:
            return self._get(fine_number)

    def record(self, key: str, fine: FineIn) -> tuple[FineOut, bool]:
        """Record `fine` under `key`; (the fine, created). NumberTaken if another key has it."""
        with self._lock:
            row = self._db.execute(
                "SELECT * FROM fines WHERE idempotency_key = ?", (key,)
            ).fetchone()
            if row is not None:
                return _fine(row), False
            existing = self._get(fine.fine_number)
            if existing is not None:
                raise NumberTaken(existing)
            self._insert(
                {
                    **fine.model_dump(),
                    "issued_at": fine.issued_at.isoformat(),
                    "status": "unpaid",
                    "recorded_at": self._now().isoformat(),
                    "idempotency_key": key,
                }
            )
            return self._get(fine.fine_number), True  # type: ignore[return-value]

    def _insert(self, fine: dict[str, Any]) -> None:
        self._db.execute(
            "INSERT INTO fines VALUES (:fine_number, :plate, :fine_type, :issued_at, :amount, "
            ":status, :recorded_at, :idempotency_key)",
            fine,
        )

    def _get(self, fine_number: str) -> FineOut | None:
        row = self._db.execute(
            "SELECT * FROM fines WHERE fine_number = ?", (fine_number,)
        ).fetchone()
        return None if row is None else _fine(row)

    def close(self) -> None:
        self._db.close()


def _fine(row: sqlite3.Row) -> FineOut:
    return FineOut.model_validate(dict(row))


def _error(status: int, code: str, message: str, details: Any = None) -> JSONResponse:
    body = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    return JSONResponse(body, status_code=status)


def _unavailable() -> JSONResponse:
    return _error(503, "unavailable", "The fines register is unavailable.")


def utc_now() -> datetime:
    return datetime.now(UTC)


def create_app(db_path: str | None = None, now: Callable[[], datetime] = utc_now) -> FastAPI:
    """Build the simulator; `now` (when a fine was recorded) is injectable for tests."""
    register = Register(db_path or os.environ.get("FINES_REGISTER_DB", DEFAULT_DB), now)
    app = FastAPI(title="Fines register simulator", description=__doc__, version="0.1.0")
    app.state.register = register
    control = add_control(app, Control)

    @app.post(
        "/lookups",
        response_model=FineOut,
        tags=["fines"],
        responses={404: {"description": "No fine with this number and plate"}},
    )
    async def lookup(query: FineQuery) -> FineOut | JSONResponse:
        """The fine with this number and plate, or 404."""
        if control().down:
            return _unavailable()
        fine = await asyncio.to_thread(register.lookup, query.fine_number, query.plate)
        await control().delay()
        if fine is None:
            return _error(404, "not_found", "No fine with this number and plate.")
        return fine

    @app.post(
        "/fines",
        status_code=201,
        response_model=FineOut,
        tags=["fines"],
        responses={
            200: {"model": FineOut, "description": "Already recorded under this key"},
            409: {"description": "The number is recorded already, under another key"},
        },
    )
    async def record(
        fine: FineIn,
        response: Response,
        idempotency_key: Annotated[
            str, Header(min_length=1, max_length=200, description="The caller's id of the fine")
        ],
    ) -> FineOut | JSONResponse:
        """Record a fine (201), or answer the one recorded under this key before (200)."""
        if control().down:
            return _unavailable()
        try:
            recorded, created = await asyncio.to_thread(register.record, idempotency_key, fine)
        except NumberTaken as taken:
            return _error(
                409,
                "fine_number_taken",
                "This fine number is on record already.",
                taken.existing.model_dump(mode="json"),
            )
        await control().delay()
        response.status_code = 201 if created else 200
        return recorded

    @app.get("/fines/{fine_number}", response_model=FineOut, tags=["fines"])
    def get_fine(fine_number: str) -> FineOut | JSONResponse:
        """The fine with this number, or 404."""
        if control().down:
            return _unavailable()
        fine = register.get(fine_number)
        if fine is None:
            return _error(404, "not_found", "No fine with this number.")
        return fine

    return app


def __getattr__(name: str) -> FastAPI:
    # `app` for uvicorn, built on first access so that importing the module creates no file.
    if name == "app":
        globals()["app"] = create_app()
        return globals()["app"]
    raise AttributeError(name)
