"""Real PostgreSQL (a fresh database per test, from the root `fresh_database` fixture), the
real bank simulator, and the payments service served for real (uvicorn in a thread, lifespan
on: the read model and the reconciler run), so the bank's notifications reach it over HTTP."""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from payments_service.application import PaymentsApplication
from payments_service.main import service
from payments_service.settings import PaymentsSettings
from portal_simulators.bank import create_app as create_bank
from portal_simulators.testing import free_port, serve
from portal_web.service import Runtime

API_KEY = secrets.token_urlsafe(24)
SECRET = secrets.token_urlsafe(32)
AMOUNT = 123456


@contextmanager
def serving(app: FastAPI, port: int, startup_timeout: float = 20.0) -> Iterator[str]:
    """Serve `app` with its lifespan (unlike portal_simulators.testing.serve)."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the payments service did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


@pytest.fixture
def bank_app(tmp_path):
    """The bank simulator (its ledger is `bank_app.state.ledger`)."""
    app = create_bank(
        str(tmp_path / "bank.sqlite3"),
        api_key=API_KEY,
        notification_secret=SECRET,
        retry_base_seconds=0.1,
    )
    yield app
    app.state.notifier.close()


@pytest.fixture
def bank(bank_app):
    """The bank simulator, served; an httpx client on it (base_url = its URL)."""
    with serve(bank_app) as url, httpx.Client(base_url=url, timeout=10) as client:
        yield client


@dataclass
class Payments:
    """The running service: its URL, a client (redirects not followed), its Application."""

    url: str
    http: httpx.Client
    app: PaymentsApplication
    runtime: Runtime
    database: str

    def request(self, payer_id: uuid.UUID, payable_id: uuid.UUID | None = None) -> uuid.UUID:
        """What the consumer does with a PaymentRequested (Kafka is off in these tests)."""
        payment_id = uuid.uuid4()
        self.app.request_payment(
            payment_id=payment_id,
            payable_type="fine",
            payable_id=payable_id or uuid.uuid4(),
            amount=AMOUNT,
            currency="EUR",
            description="Κλήση ΚΟΚ 12345",
            reference=None,
            payer_id=payer_id,
            requested_at=datetime.now(UTC),
        )
        return payment_id

    def status(self, payment_id: uuid.UUID) -> str:
        return self.app.payment(payment_id).status


@pytest.fixture
def payments(infra, fresh_database, bank, token_verifier) -> Callable[..., Any]:
    """payments(**settings) -> a context manager running the service with those settings."""

    @contextmanager
    def run(**overrides: Any) -> Iterator[Payments]:
        database = fresh_database("payments")
        port = free_port()
        settings = PaymentsSettings(
            postgres_host=infra.pg_host,
            postgres_port=infra.pg_port,
            postgres_password=infra.pg_password,
            postgres_dbname=database,
            kafka_enabled=False,
            portal_public_url=f"http://127.0.0.1:{port}",
            bank_url=str(bank.base_url),
            bank_api_key=API_KEY,
            bank_notification_secret=SECRET,
            log_format="console",
            **(
                {"payment_reconcile_after_seconds": 60, "payment_checkout_wait_seconds": 0.5}
                | overrides
            ),
        )
        app = service.create_app(settings, token_verifier=token_verifier)
        with serving(app, port) as url, httpx.Client(base_url=url, timeout=15) as http:
            runtime = app.state.runtime
            yield Payments(url, http, runtime.application, runtime, database)

    return run


@pytest.fixture
def notification_secret() -> str:
    """The secret the bank signs with (to sign notifications by hand)."""
    return SECRET
