"""HTTP API of the payments service, under /payments (SPEC P-1, P-2, F-6).

- The payer: `GET /payments/{id}` (theirs only; anyone else's is 404, its existence not
  revealed).
- The finance department: `GET /payments?status=` for reconciliation and refunds. Clerks of
  `revenue`, admins and auditors; a clerk of another department is refused (403), not shown an
  empty list: payments are not their department's work at all.
- The browser (public; the payment's unguessable id is the capability): `checkout`, where the
  owner's `redirect_url` points (it opens the bank's session and sends the browser to the
  bank's page), and `return`, where the bank sends the browser back (the result).
- The bank (public, verified): `POST /payments/bank/notifications`, see `bank_notification`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, TypeVar
from uuid import UUID

import structlog
from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse
from portal_events import context
from portal_events.departments import REVENUE
from portal_events.projections import ReadModel
from portal_web import (
    AnyStaff,
    ApiError,
    CurrentPrincipal,
    ErrorTable,
    HttpError,
    PagingParams,
    Principal,
    error_responses,
)
from portal_web.service import ServiceRuntime, application_of, read_model_of, resource_of
from pydantic import ValidationError

from payments_service.application import PaymentsApplication
from payments_service.bank import BANK, Bank, BankUnavailable
from payments_service.domainmodel import Payment, PaymentNotFound
from payments_service.pages import bank_unavailable_page, not_found_page, result_page
from payments_service.schemas import (
    PAYMENT_ID_EXAMPLE,
    BankNotification,
    PaymentPublic,
    PaymentSummary,
    PaymentSummaryPage,
)
from payments_service.settings import PaymentsSettings
from payments_service.signatures import SignatureRefused, verify
from payments_service.views import PaymentSummaryView

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/payments", tags=["payments"])

FINANCE_DEPARTMENT = REVENUE
BANK_ACTOR = context.Actor.system("bank")

PaymentsApp = Annotated[PaymentsApplication, Depends(application_of)]
PaymentSummaries = Annotated[ReadModel[PaymentSummaryView], read_model_of(PaymentSummaryView)]
BankClient = Annotated[Bank, resource_of(BANK)]
PaymentId = Annotated[UUID, Path(description="The payment's id", examples=[PAYMENT_ID_EXAMPLE])]
StatusFilter = Annotated[
    Literal["created", "awaiting_bank", "completed", "failed", "expired"] | None,
    Query(description="Only payments in this status"),
]
RefundFilter = Annotated[
    bool | None,
    Query(description="true: only payments flagged for refund; false: only the others"),
]

ERRORS: ErrorTable = {
    PaymentNotFound: HttpError(404, "not_found", "Η πληρωμή δεν βρέθηκε. (Payment not found.)")
}

T = TypeVar("T")
# How often a browser's page looks again for what it waits for (a payment, a result).
WAIT_INTERVAL_SECONDS = 0.05


async def finance_staff(principal: AnyStaff) -> Principal:
    """Admins, auditors and clerks of the finance department (`revenue`); other clerks 403."""
    if principal.role == "clerk" and principal.department != FINANCE_DEPARTMENT:
        raise ApiError(
            403, "forbidden", "Payments are listed for the finance department's clerks only."
        )
    return principal


FinanceStaff = Annotated[Principal, Depends(finance_staff)]


def _html(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"text/html": {"schema": {"type": "string"}}}}


def _json_error(status: int) -> dict[str, Any]:
    """An error answered in the kit's JSON shape by a route whose own answers are HTML (FastAPI
    would otherwise document it as text/html)."""
    return {
        "description": error_responses(status)[status]["description"],
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
    }


def _redirect(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "headers": {"Location": {"description": "Where to go", "schema": {"type": "string"}}},
    }


@router.get(
    "",
    response_model=PaymentSummaryPage,
    summary="Payments by status (reconciliation)",
    description="SPEC P-2: payments, oldest first, a page at a time with the total, optionally "
    "of one `status` and/or `refund_flagged` (charges the bank reported that were not applied "
    "and must be refunded). For clerks of the finance department (`revenue`), admins and "
    "auditors; other clerks 403.",
    responses=error_responses(401, 403, 422),
)
def list_payments(
    _: FinanceStaff,
    paging: PagingParams,
    summaries: PaymentSummaries,
    status: StatusFilter = None,
    refund_flagged: RefundFilter = None,
) -> PaymentSummaryPage:
    rows, total = summaries.view.page(
        paging.limit, paging.offset, status=status, refund_flagged=refund_flagged
    )
    items = [PaymentSummary.model_validate(row) for row in rows]
    return PaymentSummaryPage.of(items, total, paging)


@router.get(
    "/{payment_id}",
    response_model=PaymentPublic,
    summary="One of my payments",
    description="SPEC P-1, F-6: the payment's status and amount, and when it completed or why "
    "it failed. Its payer only; anyone else's payment is 404.",
    responses=error_responses(401, 404, 422),
)
def get_payment(
    payment_id: PaymentId, principal: CurrentPrincipal, payments: PaymentsApp
) -> PaymentPublic:
    return PaymentPublic.of(payments.payment(payment_id, payer_id=principal.user_id))


@router.get(
    "/{payment_id}/checkout",
    status_code=303,
    response_class=HTMLResponse,
    summary="Go to the bank's payment page (browser)",
    description="SPEC P-1, F-6: where the payable's `redirect_url` points. Opens the payment's "
    "session at the bank (once; again the same one) and answers 303 to the bank's hosted page, "
    "where the payer enters the card; the portal never sees it (P-2). A payment just requested "
    "is waited for a few seconds. A finished or overdue payment: 303 to its result page. "
    "Public: the unguessable payment id is the capability.",
    responses={
        303: _redirect("To the bank's page, or to the payment's result page"),
        404: _html("No such payment (Greek HTML page)"),
        422: _json_error(422),
        503: _html("The bank is unavailable: try again later (Greek HTML page)"),
    },
)
async def checkout(
    payment_id: PaymentId, payments: PaymentsApp, bank: BankClient, runtime: ServiceRuntime
) -> Response:
    settings: PaymentsSettings = runtime.settings
    payment = await _waiting(
        lambda: payments.find_payment(payment_id),
        lambda found: found is not None,
        settings.payment_checkout_wait_seconds,
    )
    if payment is None:
        return not_found_page()
    return await run_in_threadpool(_to_the_bank, payment, payments, bank, settings)


def _to_the_bank(
    payment: Payment, payments: PaymentsApplication, bank: Bank, settings: PaymentsSettings
) -> Response:
    result_url = settings.return_url(payment.id)
    overdue = datetime.now(UTC) - payment.created_on >= timedelta(
        seconds=settings.payment_expire_after_seconds
    )
    if not payment.is_open or overdue:
        # Never send anyone to pay what is over or about to be expired by the reconciler.
        return RedirectResponse(result_url, status_code=303)
    if payment.page_url is None:
        try:
            session = bank.open_session(payment, settings.notify_url, result_url)
        except BankUnavailable as exc:
            log.warning("bank_session_unavailable", payment_id=str(payment.id), reason=str(exc))
            return bank_unavailable_page()
        payment = payments.record_session(payment.id, session.session_id, session.page_url)
        if payment.page_url is None:
            # It ended meanwhile (the reconciler expired it): close the session just opened.
            _cancel_quietly(bank, payment)
            return RedirectResponse(result_url, status_code=303)
    return RedirectResponse(payment.page_url, status_code=303)


@router.get(
    "/{payment_id}/return",
    response_class=HTMLResponse,
    summary="The payment's result (browser)",
    description="SPEC P-1, F-6: where the bank sends the payer back. A small Greek page with "
    "the result: completed, failed (and why) or expired; while the bank's notification has not "
    "arrived it waits a few seconds, then shows a page that reloads itself. Public: the "
    "unguessable payment id is the capability.",
    responses={
        200: _html("The result (Greek HTML page)"),
        404: _html("No such payment (Greek HTML page)"),
        422: _json_error(422),
    },
)
async def payment_return(
    payment_id: PaymentId, payments: PaymentsApp, runtime: ServiceRuntime
) -> HTMLResponse:
    settings: PaymentsSettings = runtime.settings
    payment = await run_in_threadpool(payments.find_payment, payment_id)
    if payment is None:
        return not_found_page()
    if payment.status == "awaiting_bank":
        payment = await _waiting(
            lambda: payments.payment(payment_id),
            lambda current: not current.is_open,
            settings.payment_return_wait_seconds,
        )
    return result_page(payment)


# --- the bank's notifications ------------------------------------------------------------------


async def verified_notification(
    request: Request,
    runtime: ServiceRuntime,
    bank_timestamp: Annotated[
        str | None,
        Header(alias="Bank-Timestamp", description="When the bank signed it (unix seconds)"),
    ] = None,
    bank_signature: Annotated[
        str | None,
        Header(
            alias="Bank-Signature",
            description='v1=<hex HMAC-SHA256(secret, f"{timestamp}." + body)>',
        ),
    ] = None,
) -> BankNotification:
    """The notification, once its signature over the exact bytes received checks out.

    Forged or unsigned: 401 `invalid_signature`; correctly signed but outside the tolerance
    window: 401 `stale_signature` (401 rather than 400: freshness is part of authenticating the
    sender, and either way the message is not believed). Only then is the body read: 422 if it
    is not a notification. The body is never logged.
    """
    body = await request.body()
    settings: PaymentsSettings = runtime.settings
    try:
        verify(
            settings.bank_notification_secret.get_secret_value().encode(),
            bank_timestamp,
            bank_signature,
            body,
            now=time.time(),
            tolerance_seconds=settings.bank_notification_tolerance_seconds,
        )
    except SignatureRefused as exc:
        log.warning("bank_notification_refused", code=exc.code, reason=str(exc))
        raise ApiError(401, exc.code, str(exc)) from None
    try:
        return BankNotification.model_validate_json(body)
    except ValidationError as exc:
        # Where and what, never the input itself.
        problems = [
            {"field": ".".join(str(p) for p in error["loc"]), "problem": error["msg"]}
            for error in exc.errors(include_input=False, include_url=False)
        ]
        raise ApiError(422, "invalid_input", "Not a notification.", problems) from None


VerifiedNotification = Annotated[BankNotification, Depends(verified_notification)]


@router.post(
    "/bank/notifications",
    status_code=204,
    response_class=Response,
    summary="The bank's result of a payment (server to server)",
    description="SPEC P-2: the bank's signed notification (HMAC-SHA256 over the timestamp and "
    "the raw body, checked in constant time, within a tolerance window). Applied once: a "
    "duplicate, a replay inside the window or an out-of-order notification is answered 204 "
    "and changes nothing; a success after the payment ended is recorded and flagged for "
    "refund, never applied. A correctly signed notification of an order the portal never "
    "made is answered 204 too (the bank would retry a 4xx for ever) and logged as an error "
    "for people to look at. Forged or stale: 401; not a notification: 422.",
    responses=error_responses(401, 422),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": BankNotification.model_json_schema()}},
        }
    },
)
def bank_notification(notification: VerifiedNotification, payments: PaymentsApp) -> Response:
    context.set_actor(BANK_ACTOR)
    described = {
        "event_id": notification.event_id,
        "order_id": notification.order_id,
        "status": notification.status,
    }
    payment = payments.find_payment(payment_id) if (payment_id := _uuid(notification)) else None
    if payment is None:
        log.error("bank_notification_unknown_order", **described)
        return Response(status_code=204)
    if notification.status == "succeeded":
        assert notification.transaction_id is not None  # checked by the model
        outcome = payments.record_success(
            payment.id,
            transaction_id=notification.transaction_id,
            amount=notification.amount,
            source="notification",
        )
    else:
        outcome = payments.record_failure(
            payment.id, reason=notification.reason or "declined", source="notification"
        )
    log.info("bank_notification", outcome=outcome, **described)
    return Response(status_code=204)


# --- helpers -----------------------------------------------------------------------------------


def _uuid(notification: BankNotification) -> UUID | None:
    try:
        return UUID(notification.order_id)
    except ValueError:
        return None


async def _waiting(look: Callable[[], T], done: Callable[[T], bool], seconds: float) -> T:
    """Look (in a worker thread) until `done` or `seconds` have passed; the last look. The wait
    itself holds no thread: anyone may open a page with an unknown id."""
    deadline = time.monotonic() + seconds
    value = await run_in_threadpool(look)
    while not done(value) and time.monotonic() < deadline:
        await asyncio.sleep(WAIT_INTERVAL_SECONDS)
        value = await run_in_threadpool(look)
    return value


def _cancel_quietly(bank: Bank, payment: Payment) -> None:
    try:
        bank.cancel(payment.id)
    except BankUnavailable as exc:
        # A charge that still came through would be flagged for refund, never applied.
        log.warning("bank_cancel_unavailable", payment_id=str(payment.id), reason=str(exc))
