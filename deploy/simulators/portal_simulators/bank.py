"""Simulator of the bank's card gateway: a hosted payment page and signed notifications (issue 7).

It works as Greek banks' e-commerce gateways and Stripe Checkout do, as the payments service
sees them:

- `POST /api/sessions` (`Authorization: Bearer <BANK_API_KEY>`) `{merchant_id, order_id, amount,
  currency, description, notify_url, return_url}` opens a payment session: 201 `{session_id,
  page_url}`. One session per order: the same order again answers 200 with the same session
  (another amount or currency for it: 409).
- `GET /pay/{session_id}`: the hosted page (Greek: merchant, description, amount as
  `1.234,56 €`) with a form `card_number`, `expiry` (MM/YY), `cvc`, `holder` that posts back
  here. Card 4111111111111111 is paid, 4000000000000002 is `declined`, 4000000000009995 fails
  with `insufficient_funds`, any other valid card is `declined`; invalid input shows the form
  again with the errors. A paid, failed or cancelled session's page says so and takes nothing.
  After the form the browser gets 303 to `return_url?payment_id=<order_id>`.
- The result goes to `notify_url` as a signed server-to-server notification: JSON `{event_id,
  order_id, session_id, status: succeeded|failed, reason, amount, currency, transaction_id,
  occurred_at}` with `Bank-Timestamp: <unix seconds>` and `Bank-Signature: v1=<hex
  HMAC-SHA256(BANK_NOTIFICATION_SECRET, f"{timestamp}." + body)>`, signed afresh on every
  attempt and retried with backoff until the receiver answers 2xx.
- `GET /api/orders/{order_id}` (Bearer): `{order_id, session_id, status: open|succeeded|failed|
  cancelled, reason, transaction_id, amount}`, 404 for an order the bank never saw.
  `POST /api/orders/{order_id}/cancel` (Bearer): an open order becomes `cancelled` (its page then
  takes nothing); a finished one is answered as it is (a paid order cannot be cancelled).
- `PUT /control` / `GET /control`, for tests: `mode` up | down (503 on the API and the page) |
  slow (answers the API after `delay_seconds`); `notifications` deliver | drop (never sent) |
  delay (first attempt after `notification_delay_seconds`); `duplicate_probability`: how often
  a notification is sent twice on purpose (same event id). `GET /health`: always 200.

No card number is stored or logged: the form's input decides the outcome and is dropped; only
its last four digits appear in the simulator's own log. Orders and notifications live in SQLite
at `BANK_SIM_DB` and survive a restart; the control settings do not.

Configuration, from the environment: `BANK_API_KEY` and `BANK_NOTIFICATION_SECRET` (required),
`BANK_MERCHANT_ID` (default `municipality`), `BANK_PUBLIC_URL` (the base of the page URLs as
browsers reach the simulator; default: the URL the API was called on), `BANK_SIM_DB`.

Run: `BANK_API_KEY=... BANK_NOTIFICATION_SECRET=... uvicorn portal_simulators.bank:app`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import html
import json
import logging
import os
import random
import secrets
import sqlite3
import threading
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from fastapi import FastAPI, Header, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from portal_simulators.outage import Control, add_control

log = logging.getLogger("portal_simulators.bank")

DEFAULT_DB = "bank-sim.sqlite3"
MERCHANT_NAME = "Δήμος (δοκιμαστικό περιβάλλον)"
SUCCESS_CARD = "4111111111111111"
# The test cards that fail, and how; any other valid card is declined.
FAILING_CARDS = {"4000000000000002": "declined", "4000000000009995": "insufficient_funds"}

OrderStatus = Literal["open", "succeeded", "failed", "cancelled"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    order_id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL UNIQUE,
    merchant_id TEXT NOT NULL,
    amount INTEGER NOT NULL,
    currency TEXT NOT NULL,
    description TEXT NOT NULL,
    notify_url TEXT NOT NULL,
    return_url TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    transaction_id TEXT,
    created_at TEXT NOT NULL,
    finished_at TEXT
);
CREATE TABLE IF NOT EXISTS notifications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL,
    notify_url TEXT NOT NULL,
    body TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    delivered_at REAL,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS notifications_due ON notifications (delivered_at, next_attempt_at);
"""


# --- API models --------------------------------------------------------------------------------


class SessionIn(BaseModel):
    merchant_id: str = Field(min_length=1, max_length=100, examples=["municipality"])
    order_id: str = Field(min_length=1, max_length=100, description="The merchant's payment id")
    amount: int = Field(gt=0, le=100_000_000, description="In cents")
    currency: Literal["EUR"] = "EUR"
    description: str = Field(min_length=1, max_length=300)
    notify_url: str = Field(min_length=1, max_length=2000, pattern=r"^https?://")
    return_url: str = Field(min_length=1, max_length=2000, pattern=r"^https?://")


class SessionOut(BaseModel):
    session_id: str
    page_url: str


class OrderOut(BaseModel):
    order_id: str
    session_id: str
    status: OrderStatus
    reason: str | None
    transaction_id: str | None
    amount: int


class BankControl(Control):
    """The outage switch, and what happens to the notifications."""

    notifications: Literal["deliver", "drop", "delay"] = "deliver"
    notification_delay_seconds: float = Field(0.0, ge=0, le=600, description="`delay`")
    duplicate_probability: float = Field(0.0, ge=0, le=1)


@dataclass(frozen=True)
class Order:
    order_id: str
    session_id: str
    merchant_id: str
    amount: int
    currency: str
    description: str
    notify_url: str
    return_url: str
    status: OrderStatus
    reason: str | None
    transaction_id: str | None
    finished_at: str | None

    def public(self) -> OrderOut:
        return OrderOut(
            order_id=self.order_id,
            session_id=self.session_id,
            status=self.status,
            reason=self.reason,
            transaction_id=self.transaction_id,
            amount=self.amount,
        )


# --- the bank's book ---------------------------------------------------------------------------


class Ledger:
    """Orders and the notifications still to deliver, in one SQLite file."""

    _ORDER_COLUMNS = (
        "order_id, session_id, merchant_id, amount, currency, description, notify_url, "
        "return_url, status, reason, transaction_id, finished_at"
    )

    def __init__(self, path: str) -> None:
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()  # one connection shared by the server's threads

    def open_session(self, order: SessionIn) -> tuple[Order, bool]:
        """The order's session, made now or earlier; (order, created)."""
        with self._lock:
            existing = self._order("order_id", order.order_id)
            if existing is not None:
                return existing, False
            self._db.execute(
                "INSERT INTO orders (order_id, session_id, merchant_id, amount, currency, "
                "description, notify_url, return_url, status, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'open', ?)",
                (
                    order.order_id,
                    f"cs_{secrets.token_urlsafe(18)}",
                    order.merchant_id,
                    order.amount,
                    order.currency,
                    order.description,
                    order.notify_url,
                    order.return_url,
                    _now_iso(),
                ),
            )
            created = self._order("order_id", order.order_id)
            assert created is not None
            return created, True

    def order(self, order_id: str) -> Order | None:
        with self._lock:
            return self._order("order_id", order_id)

    def session(self, session_id: str) -> Order | None:
        with self._lock:
            return self._order("session_id", session_id)

    def finish(
        self, session_id: str, status: OrderStatus, reason: str | None, transaction_id: str | None
    ) -> Order | None:
        """Settle an open session; None when it is no longer open (paid, failed, cancelled)."""
        with self._lock:
            changed = self._db.execute(
                "UPDATE orders SET status = ?, reason = ?, transaction_id = ?, finished_at = ? "
                "WHERE session_id = ? AND status = 'open'",
                (status, reason, transaction_id, _now_iso(), session_id),
            ).rowcount
            return self._order("session_id", session_id) if changed else None

    def cancel(self, order_id: str) -> Order | None:
        """Cancel the order if open; the order as it now is, None if never seen."""
        with self._lock:
            self._db.execute(
                "UPDATE orders SET status = 'cancelled', finished_at = ? "
                "WHERE order_id = ? AND status = 'open'",
                (_now_iso(), order_id),
            )
            return self._order("order_id", order_id)

    def _order(self, column: Literal["order_id", "session_id"], value: str) -> Order | None:
        row = self._db.execute(
            f"SELECT {self._ORDER_COLUMNS} FROM orders WHERE {column} = ?",  # noqa: S608
            (value,),
        ).fetchone()
        return Order(*row) if row is not None else None

    # --- notifications ---

    def queue(self, event_id: str, notify_url: str, body: str, first_attempt_at: float) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO notifications (event_id, notify_url, body, next_attempt_at) "
                "VALUES (?, ?, ?, ?)",
                (event_id, notify_url, body, first_attempt_at),
            )

    def due(self, now: float, limit: int = 20) -> list[tuple[int, str, str, int]]:
        """(id, notify_url, body, attempts) of the notifications due now."""
        with self._lock:
            return self._db.execute(
                "SELECT id, notify_url, body, attempts FROM notifications "
                "WHERE delivered_at IS NULL AND next_attempt_at <= ? "
                "ORDER BY next_attempt_at LIMIT ?",
                (now, limit),
            ).fetchall()

    def delivered(self, notification_id: int, now: float) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE notifications SET delivered_at = ?, attempts = attempts + 1 WHERE id = ?",
                (now, notification_id),
            )

    def retry_later(self, notification_id: int, next_attempt_at: float, error: str) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE notifications SET attempts = attempts + 1, next_attempt_at = ?, "
                "last_error = ? WHERE id = ?",
                (next_attempt_at, error, notification_id),
            )

    def notifications(self) -> list[dict[str, Any]]:
        """Every notification with its delivery state (for tests and operators)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT event_id, notify_url, attempts, delivered_at, last_error "
                "FROM notifications ORDER BY id"
            ).fetchall()
        keys = ("event_id", "notify_url", "attempts", "delivered_at", "last_error")
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()


# --- signed notifications ----------------------------------------------------------------------


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The `Bank-Signature` header: v1=<hex HMAC-SHA256(secret, f"{timestamp}." + body)>."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"v1={mac.hexdigest()}"


class Notifier:
    """Delivers the queued notifications from a thread of its own, signing each attempt afresh
    and retrying with exponential backoff (`retry_base_seconds`, doubling, at most
    `retry_max_seconds`) until the receiver answers 2xx."""

    def __init__(
        self,
        ledger: Ledger,
        secret: str,
        *,
        retry_base_seconds: float = 0.5,
        retry_max_seconds: float = 30.0,
        poll_seconds: float = 0.05,
        timeout_seconds: float = 5.0,
    ) -> None:
        self.ledger = ledger
        self._secret = secret
        self.retry_base_seconds = retry_base_seconds
        self.retry_max_seconds = retry_max_seconds
        self.poll_seconds = poll_seconds
        self.timeout_seconds = timeout_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bank-notifier", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.timeout_seconds + 1)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                due = self.ledger.due(time.time())
            except sqlite3.ProgrammingError:  # closed under us at shutdown
                return
            for notification_id, url, body, attempts in due:
                if self._stop.is_set():
                    return
                self._deliver(notification_id, url, body.encode(), attempts)
            if not due:
                self._stop.wait(self.poll_seconds)

    def _deliver(self, notification_id: int, url: str, body: bytes, attempts: int) -> None:
        timestamp = int(time.time())
        request = urllib.request.Request(  # noqa: S310 - the merchant's own http(s) URL
            url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Bank-Timestamp": str(timestamp),
                "Bank-Signature": signature(self._secret, timestamp, body),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_seconds) as answer:  # noqa: S310
                status = answer.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        except (OSError, TimeoutError) as exc:
            status, error = None, f"unreachable: {type(exc).__name__}"
        if status is not None and 200 <= status < 300:
            self.ledger.delivered(notification_id, time.time())
            return
        if status is not None:
            error = f"HTTP {status}"
        delay = min(self.retry_max_seconds, self.retry_base_seconds * 2**attempts)
        self.ledger.retry_later(notification_id, time.time() + delay, error)
        log.warning(
            "notification %s not delivered (%s); next in %.1fs", notification_id, error, delay
        )


# --- the hosted page ---------------------------------------------------------------------------


def format_eur(cents: int) -> str:
    """Greek format: 123456 -> "1.234,56 €"."""
    euros, rest = divmod(cents, 100)
    return f"{euros:,}".replace(",", ".") + f",{rest:02d} €"


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


@dataclass(frozen=True)
class CardForm:
    """What the form posted, checked; the card number is only ever held here, in memory."""

    card_number: str
    last4: str
    errors: dict[str, str]

    @classmethod
    def parse(cls, fields: dict[str, str], today: datetime) -> CardForm:
        errors: dict[str, str] = {}
        number = "".join(fields.get("card_number", "").split())
        if not (number.isdigit() and 12 <= len(number) <= 19 and luhn_valid(number)):
            errors["card_number"] = "Μη έγκυρος αριθμός κάρτας."
        expiry = fields.get("expiry", "").strip()
        month, _, year = expiry.partition("/")
        if not (month.isdigit() and year.isdigit() and len(year) == 2 and 1 <= int(month) <= 12):
            errors["expiry"] = "Η λήξη γράφεται ΜΜ/ΕΕ."
        elif (2000 + int(year), int(month)) < (today.year, today.month):
            errors["expiry"] = "Η κάρτα έχει λήξει."
        cvc = fields.get("cvc", "").strip()
        if not (cvc.isdigit() and len(cvc) in (3, 4)):
            errors["cvc"] = "Ο κωδικός CVC είναι 3 ή 4 ψηφία."
        holder = fields.get("holder", "").strip()
        if not 1 <= len(holder) <= 100:
            errors["holder"] = "Συμπληρώστε το όνομα του κατόχου."
        return cls(card_number=number, last4=number[-4:], errors=errors)

    def outcome(self) -> str | None:
        """None for a payment that goes through, else the reason it failed."""
        if self.card_number == SUCCESS_CARD:
            return None
        return FAILING_CARDS.get(self.card_number, "declined")


_STYLE = (
    "body{font-family:sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem}"
    "label{display:block;margin-top:.8rem}input{width:100%;padding:.4rem}"
    ".error{color:#b00020}button{margin-top:1rem;padding:.5rem 1.5rem}"
)
_STYLE_HASH = "sha256-" + base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()


# The page's own policy: no script at all, its one inline style by hash, forms to itself only
# and, for the 303 that follows the card form, to the merchant's return page (browsers hold a
# form's redirects to its form-action too).
def page_policy(return_url: str | None = None) -> str:
    targets = "'self'"
    if return_url:
        parts = urlsplit(return_url)
        targets += f" {parts.scheme}://{parts.netloc}"
    return (
        f"default-src 'none'; style-src '{_STYLE_HASH}'; form-action {targets}; "
        "base-uri 'none'; frame-ancestors 'none'"
    )


def _page(title: str, body: str, status: int = 200, return_url: str | None = None) -> HTMLResponse:
    document = (
        '<!doctype html><html lang="el"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(
        document,
        status_code=status,
        headers={
            "Content-Security-Policy": page_policy(return_url),
            "Cache-Control": "no-store",
            "X-Frame-Options": "DENY",
            "Referrer-Policy": "no-referrer",
        },
    )


def _payment_page(order: Order, errors: dict[str, str] | None = None, holder: str = "") -> str:
    errors = errors or {}

    def field(name: str, label: str, extra: str, value: str = "") -> str:
        problem = errors.get(name)
        note = f'<div class="error">{html.escape(problem)}</div>' if problem else ""
        return (
            f'<label for="{name}">{label}</label>'
            f'<input id="{name}" name="{name}" value="{html.escape(value)}" {extra}>{note}'
        )

    return (
        f"<p>Έμπορος: <strong>{html.escape(MERCHANT_NAME)}</strong></p>"
        f"<p>{html.escape(order.description)}</p>"
        f"<p>Ποσό: <strong>{html.escape(format_eur(order.amount))}</strong></p>"
        f'<form method="post" action="/pay/{html.escape(order.session_id)}">'
        + field(
            "card_number",
            "Αριθμός κάρτας",
            'inputmode="numeric" autocomplete="cc-number" required',
        )
        + field("expiry", "Λήξη (ΜΜ/ΕΕ)", 'placeholder="MM/YY" autocomplete="cc-exp" required')
        + field("cvc", "CVC", 'inputmode="numeric" autocomplete="cc-csc" required')
        + field("holder", "Όνομα κατόχου", 'autocomplete="cc-name" required', holder)
        + '<button type="submit">Πληρωμή</button></form>'
    )


_FINISHED = {
    "succeeded": "Η πληρωμή αυτή έχει ήδη ολοκληρωθεί.",
    "failed": "Η πληρωμή αυτή απορρίφθηκε. Ξεκινήστε νέα πληρωμή από την ιστοσελίδα του εμπόρου.",
    "cancelled": "Η συνεδρία πληρωμής έχει λήξει ή ακυρωθεί· δεν δέχεται πληρωμή.",
}


def _with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = f"{parts.query}&{urlencode(params)}" if parts.query else urlencode(params)
    return urlunsplit(parts._replace(query=query))


# --- the app -----------------------------------------------------------------------------------

Authorization = Annotated[str | None, Header(description="Bearer <API key>")]


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status)


def _required(value: str | None, name: str) -> str:
    if not value:
        raise RuntimeError(f"{name} is not set: the bank simulator needs it")
    return value


def create_app(
    db_path: str | None = None,
    *,
    api_key: str | None = None,
    notification_secret: str | None = None,
    merchant_id: str | None = None,
    public_url: str | None = None,
    retry_base_seconds: float = 0.5,
    rand: Callable[[], float] = random.random,
) -> FastAPI:
    """Build the simulator; arguments default to the environment (see the module docstring)."""
    env = os.environ
    api_key = _required(api_key or env.get("BANK_API_KEY"), "BANK_API_KEY")
    secret = _required(
        notification_secret or env.get("BANK_NOTIFICATION_SECRET"), "BANK_NOTIFICATION_SECRET"
    )
    merchant = merchant_id or env.get("BANK_MERCHANT_ID", "municipality")
    public_base = (public_url or env.get("BANK_PUBLIC_URL") or "").rstrip("/")
    ledger = Ledger(db_path or env.get("BANK_SIM_DB", DEFAULT_DB))
    notifier = Notifier(ledger, secret, retry_base_seconds=retry_base_seconds)
    # Started here, not in the lifespan, so that it also runs where the lifespan is off.
    notifier.start()

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        notifier.close()
        ledger.close()

    app = FastAPI(
        title="Bank card gateway simulator", description=__doc__, version="0.1.0", lifespan=lifespan
    )
    app.state.ledger = ledger
    app.state.notifier = notifier
    control = add_control(app, BankControl)

    async def api_guard(authorization: str | None) -> JSONResponse | None:
        """The answer refusing an API call (unauthenticated, down), or None to go on."""
        presented = (authorization or "").removeprefix("Bearer ").encode()
        if not authorization or not hmac.compare_digest(presented, api_key.encode()):
            return _error(401, "unauthenticated", "A valid API key is required.")
        if control().down:
            return _error(503, "unavailable", "The bank's gateway is unavailable.")
        return None

    @app.post("/api/sessions", status_code=201, response_model=SessionOut, tags=["api"])
    async def open_session(
        body: SessionIn, request: Request, response: Response, authorization: Authorization = None
    ) -> SessionOut | JSONResponse:
        """Open the order's payment session (201), or answer the one it has (200)."""
        if (refusal := await api_guard(authorization)) is not None:
            return refusal
        if not hmac.compare_digest(body.merchant_id.encode(), merchant.encode()):
            return _error(403, "unknown_merchant", "No such merchant.")
        order, created = await asyncio.to_thread(ledger.open_session, body)
        if (order.amount, order.currency) != (body.amount, body.currency):
            return _error(409, "order_conflict", "This order was opened with another amount.")
        await control().delay()
        response.status_code = 201 if created else 200
        base = public_base or str(request.base_url).rstrip("/")
        return SessionOut(session_id=order.session_id, page_url=f"{base}/pay/{order.session_id}")

    @app.get("/api/orders/{order_id}", response_model=OrderOut, tags=["api"])
    async def get_order(
        order_id: str, authorization: Authorization = None
    ) -> OrderOut | JSONResponse:
        """The order's status, for the merchant's reconciliation; 404 if never seen."""
        if (refusal := await api_guard(authorization)) is not None:
            return refusal
        order = await asyncio.to_thread(ledger.order, order_id)
        await control().delay()
        if order is None:
            return _error(404, "not_found", "The bank never saw this order.")
        return order.public()

    @app.post("/api/orders/{order_id}/cancel", response_model=OrderOut, tags=["api"])
    async def cancel_order(
        order_id: str, authorization: Authorization = None
    ) -> OrderOut | JSONResponse:
        """Cancel an open order (its page then takes nothing); a finished one stays as it is."""
        if (refusal := await api_guard(authorization)) is not None:
            return refusal
        order = await asyncio.to_thread(ledger.cancel, order_id)
        await control().delay()
        if order is None:
            return _error(404, "not_found", "The bank never saw this order.")
        return order.public()

    def unavailable_page() -> HTMLResponse:
        return _page("Μη διαθέσιμη υπηρεσία", "<p>Δοκιμάστε ξανά σε λίγο.</p>", 503)

    @app.get("/pay/{session_id}", response_class=HTMLResponse, tags=["page"])
    def payment_page(session_id: str) -> HTMLResponse:
        """The hosted payment page."""
        if control().down:
            return unavailable_page()
        order = ledger.session(session_id)
        if order is None:
            return _page("Δεν βρέθηκε", "<p>Άγνωστη συνεδρία πληρωμής.</p>", 404)
        if order.status != "open":
            return _page("Πληρωμή", f"<p>{_FINISHED[order.status]}</p>")
        return _page("Ασφαλής πληρωμή με κάρτα", _payment_page(order), return_url=order.return_url)

    @app.post("/pay/{session_id}", response_class=HTMLResponse, tags=["page"])
    async def pay(session_id: str, request: Request) -> Response:
        """The form's post: settle the session, queue the notification, send the browser back."""
        if control().down:
            return unavailable_page()
        order = await asyncio.to_thread(ledger.session, session_id)
        if order is None:
            return _page("Δεν βρέθηκε", "<p>Άγνωστη συνεδρία πληρωμής.</p>", 404)
        raw = (await request.body()).decode("utf-8", errors="replace")
        fields = {name: values[0] for name, values in parse_qs(raw).items()}
        form = CardForm.parse(fields, datetime.now(UTC))
        if order.status != "open":
            return _page("Πληρωμή", f"<p>{_FINISHED[order.status]}</p>")
        if form.errors:
            page = _payment_page(order, form.errors, fields.get("holder", ""))
            return _page("Ασφαλής πληρωμή με κάρτα", page, 422, return_url=order.return_url)
        reason = form.outcome()
        status: OrderStatus = "succeeded" if reason is None else "failed"
        transaction_id = f"tx_{secrets.token_hex(12)}" if reason is None else None
        finished = await asyncio.to_thread(
            ledger.finish, session_id, status, reason, transaction_id
        )
        if finished is None:  # cancelled (or paid in another tab) meanwhile
            current = await asyncio.to_thread(ledger.session, session_id)
            assert current is not None
            return _page("Πληρωμή", f"<p>{_FINISHED[current.status]}</p>")
        log.info("order %s: card ending %s, %s", finished.order_id, form.last4, status)
        await asyncio.to_thread(_queue_notification, finished)
        return RedirectResponse(
            _with_query(finished.return_url, payment_id=finished.order_id), status_code=303
        )

    def _queue_notification(order: Order) -> None:
        settings = control()
        if settings.notifications == "drop":
            log.info("order %s: notification dropped (control)", order.order_id)
            return
        event_id = f"evt_{secrets.token_hex(12)}"
        body = json.dumps(
            {
                "event_id": event_id,
                "order_id": order.order_id,
                "session_id": order.session_id,
                "status": order.status,
                "reason": order.reason,
                "amount": order.amount,
                "currency": order.currency,
                "transaction_id": order.transaction_id,
                "occurred_at": order.finished_at,
            },
            separators=(",", ":"),
            ensure_ascii=False,
        )
        first = time.time()
        if settings.notifications == "delay":
            first += settings.notification_delay_seconds
        copies = 2 if rand() < settings.duplicate_probability else 1
        for _ in range(copies):
            ledger.queue(event_id, order.notify_url, body, first)

    return app


def __getattr__(name: str) -> FastAPI:
    # `app` for uvicorn, built on first access so that importing the module creates no file.
    if name == "app":
        globals()["app"] = create_app()
        return globals()["app"]
    raise AttributeError(name)
