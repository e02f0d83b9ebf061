"""Simulator of the municipality's protocol registry (εφαρμογή πρωτοκόλλου), SPEC R-4 / C-4.

It behaves like the real registry as the protocol service sees it, failures included:

- `POST /registrations` with header `Idempotency-Key: <document id>` and body
  `{document_type, title, applicant_id?}` registers a document: 201 with
  `{protocol_number, protocol_date, idempotency_key}`. Numbers are sequential per year
  ("2026/000017"), the date is today in Europe/Athens. The same key again answers 200 with the
  same number: one document never gets two numbers.
- `GET /registrations/{key}`: the record, or 404.
- `PUT /control` `{mode: up|down|slow, delay_seconds?}` / `GET /control`: `down` answers 503 on
  `/registrations`; `slow` registers, then waits `delay_seconds` before answering (so a client
  that times out has lost the answer, not the number: the retry gets the same number back).
- `GET /health`: always 200, reports the mode.

State lives in SQLite at `REGISTRY_SIM_DB` and survives a restart; the mode does not (a restart
is the registry coming back up). No authentication: it is a local simulator, never exposed.

Run: `REGISTRY_SIM_DB=/tmp/registry.sqlite3 uvicorn portal_simulators.protocol_registry:app`.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated
from uuid import UUID
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Header, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from portal_simulators.outage import Control, add_control

ATHENS = ZoneInfo("Europe/Athens")
DEFAULT_DB = "protocol-registry.sqlite3"


_SCHEMA = """
CREATE TABLE IF NOT EXISTS counters (year INTEGER PRIMARY KEY, last INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS registrations (
    idempotency_key TEXT PRIMARY KEY,
    protocol_number TEXT NOT NULL UNIQUE,
    protocol_date TEXT NOT NULL,
    document_type TEXT NOT NULL,
    title TEXT NOT NULL,
    applicant_id TEXT
);
"""


class RegistrationIn(BaseModel):
    document_type: str = Field(min_length=1, max_length=100, examples=["request"])
    title: str = Field(min_length=1, max_length=1000, examples=["Αίτημα 2026/000042"])
    applicant_id: UUID | None = None


class RegistrationOut(BaseModel):
    protocol_number: str = Field(examples=["2026/000017"])
    protocol_date: date
    idempotency_key: str


class Registry:
    """The registry's book: numbering and lookups, in one SQLite file."""

    def __init__(self, path: str, today: Callable[[], date]) -> None:
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()  # one connection shared by the server's threads
        self._today = today

    def register(self, key: str, doc: RegistrationIn) -> tuple[RegistrationOut, bool]:
        """Register the document under `key`; returns (record, created)."""
        with self._lock:
            existing = self._get(key)
            if existing is not None:
                return existing, False
            today = self._today()
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(
                    "INSERT INTO counters VALUES (?, 1) "
                    "ON CONFLICT (year) DO UPDATE SET last = last + 1",
                    (today.year,),
                )
                (last,) = self._db.execute(
                    "SELECT last FROM counters WHERE year = ?", (today.year,)
                ).fetchone()
                number = f"{today.year}/{last:06d}"
                self._db.execute(
                    "INSERT INTO registrations VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        key,
                        number,
                        today.isoformat(),
                        doc.document_type,
                        doc.title,
                        str(doc.applicant_id) if doc.applicant_id else None,
                    ),
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            return RegistrationOut(
                protocol_number=number, protocol_date=today, idempotency_key=key
            ), True

    def get(self, key: str) -> RegistrationOut | None:
        with self._lock:
            return self._get(key)

    def _get(self, key: str) -> RegistrationOut | None:
        row = self._db.execute(
            "SELECT protocol_number, protocol_date FROM registrations WHERE idempotency_key = ?",
            (key,),
        ).fetchone()
        if row is None:
            return None
        return RegistrationOut(
            protocol_number=row[0], protocol_date=date.fromisoformat(row[1]), idempotency_key=key
        )

    def close(self) -> None:
        self._db.close()


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status)


def athens_today() -> date:
    return datetime.now(ATHENS).date()


def create_app(db_path: str | None = None, today: Callable[[], date] = athens_today) -> FastAPI:
    """Build the simulator; `today` is injectable so tests can cross a year boundary."""
    registry = Registry(db_path or os.environ.get("REGISTRY_SIM_DB", DEFAULT_DB), today)
    app = FastAPI(
        title="Protocol registry simulator",
        description=__doc__,
        version="0.1.0",
    )
    app.state.registry = registry
    control = add_control(app, Control)

    @app.post(
        "/registrations",
        status_code=201,
        response_model=RegistrationOut,
        tags=["registrations"],
        responses={200: {"model": RegistrationOut, "description": "Already registered"}},
    )
    async def register(
        doc: RegistrationIn,
        response: Response,
        idempotency_key: Annotated[
            str, Header(min_length=1, max_length=200, description="The document id")
        ],
    ) -> RegistrationOut | JSONResponse:
        """Give the document a protocol number (201), or the one it already has (200)."""
        if control().down:
            return _error(503, "unavailable", "The protocol registry is unavailable.")
        record, created = await asyncio.to_thread(registry.register, idempotency_key, doc)
        await control().delay()  # registered first, answered late (mode `slow`)
        response.status_code = 201 if created else 200
        return record

    @app.get("/registrations/{key}", response_model=RegistrationOut, tags=["registrations"])
    def get_registration(key: str) -> RegistrationOut | JSONResponse:
        """The registration made under this idempotency key, or 404."""
        if control().down:
            return _error(503, "unavailable", "The protocol registry is unavailable.")
        record = registry.get(key)
        if record is None:
            return _error(404, "not_found", "No registration under this key.")
        return record

    return app


def __getattr__(name: str) -> FastAPI:
    # `app` for uvicorn, built on first access so that importing the module creates no file.
    if name == "app":
        globals()["app"] = create_app()
        return globals()["app"]
    raise AttributeError(name)
