"""HTTP API of the business service, under /business (SPEC B-1..B-3).

Who: business users (role `business`) whose profile identity reported complete with an ΑΦΜ and
whose representative was verified in person (403 `profile_incomplete`, `not_verified`); anyone
else 403 `forbidden`. Everything is the caller's ΑΦΜ's: another business's ids are 404. One
exception, reading tax declarations (X-3: the back-office worklist sends the revenue department
to `GET /business/tax-declarations/{declaration_id}`): the revenue department's clerks,
auditors and admins read every business's declarations, and change none; other clerks 403
(businesses' tax affairs are revenue's).

Routes that call the Application are plain `def` (the library is synchronous); domain errors are
answered by `ERRORS`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query
from portal_events.application import Idempotency, event_name
from portal_events.departments import REVENUE
from portal_events.projections import ReadModel
from portal_web import (
    ApiError,
    CurrentPrincipal,
    ErrorBody,
    ErrorTable,
    HttpError,
    IdempotencyKey,
    PagingParams,
    Principal,
    error_responses,
    require_roles,
    text,
)
from portal_web.service import ServiceRuntime, application_of, read_model_of, resource_of

from business_service.application import (
    EVERY_BUSINESS,
    BusinessApplication,
    DebtLine,
    DeclarationScope,
)
from business_service.domainmodel import (
    BusinessError,
    DebtAlreadyPaid,
    DebtNotFound,
    Declaration,
    DeclarationAlreadyPaid,
    DeclarationInvalid,
    DeclarationNotFound,
    DeclarationRejected,
    NothingToPay,
    NotVerified,
    PaymentInProgress,
    PeriodAlreadyDeclared,
    ProfileIncomplete,
)
from business_service.municipal_system import (
    MUNICIPAL_SYSTEM,
    MunicipalSystem,
    MunicipalSystemUnavailable,
)
from business_service.schemas import (
    DECLARATION_ID_EXAMPLE,
    DebtPublic,
    DebtStatus,
    DebtSummaryPage,
    DeclarationCreate,
    DeclarationCreated,
    DeclarationPaymentCreated,
    DeclarationPublic,
    DeclarationStatus,
    DeclarationSummary,
    DeclarationSummaryPage,
    HistoryEntry,
    PaymentCreated,
    SurchargeRules,
    TaxRules,
    WarrantStatus,
    WarrantSummary,
    WarrantSummaryPage,
    WarrantTotals,
)
from business_service.settings import BusinessSettings
from business_service.views import DeclarationSummaryView, WarrantSyncView, WarrantView

SYSTEM_RETRY_AFTER_SECONDS = 30
REVENUE_DEPARTMENT = REVENUE

router = APIRouter(prefix="/business", tags=["business"])

BusinessApp = Annotated[BusinessApplication, Depends(application_of)]
System = Annotated[MunicipalSystem, resource_of(MUNICIPAL_SYSTEM)]
Warrants = Annotated[ReadModel[WarrantView], read_model_of(WarrantView)]
WarrantSyncs = Annotated[ReadModel[WarrantSyncView], read_model_of(WarrantSyncView)]
Declarations = Annotated[ReadModel[DeclarationSummaryView], read_model_of(DeclarationSummaryView)]
BusinessUser = Annotated[Principal, Depends(require_roles("business"))]
DeclarationId = Annotated[
    UUID, Path(description="The declaration's id", examples=[DECLARATION_ID_EXAMPLE])
]
DebtId = Annotated[text(100), Path(description="The information system's id of the debt")]

ERRORS: ErrorTable = {
    ProfileIncomplete: HttpError(
        403,
        "profile_incomplete",
        "Συμπληρώστε πρώτα το προφίλ της επιχείρησης (με ΑΦΜ). "
        "(Complete the business's profile, with its ΑΦΜ, first.)",
    ),
    NotVerified: HttpError(
        403,
        "not_verified",
        "Ο εκπρόσωπος της επιχείρησης δεν έχει ταυτοποιηθεί. "
        "(The business's representative is not verified in person.)",
    ),
    DeclarationNotFound: HttpError(404, "not_found", "Η δήλωση δεν βρέθηκε. (Not found.)"),
    DebtNotFound: HttpError(404, "not_found", "Η οφειλή δεν βρέθηκε. (Not found.)"),
    DeclarationInvalid: HttpError(
        422,
        "invalid_input",
        "Η δήλωση δεν είναι σωστή. (The declaration is invalid.)",
        lambda e: [{"field": field, "problem": p} for field, p in e.problems.items()],
    ),
    PeriodAlreadyDeclared: HttpError(
        409,
        "period_already_declared",
        "Η περίοδος έχει ήδη δηλωθεί. (The period is declared already.)",
    ),
    DeclarationAlreadyPaid: HttpError(
        409, "already_paid", "Η δήλωση έχει ήδη πληρωθεί. (Already paid.)"
    ),
    DeclarationRejected: HttpError(
        409,
        "declaration_rejected",
        "Η δήλωση απορρίφθηκε· υποβάλετε νέα. (Rejected: submit the declaration again.)",
    ),
    DebtAlreadyPaid: HttpError(409, "already_paid", "Η οφειλή έχει ήδη πληρωθεί. (Already paid.)"),
    NothingToPay: HttpError(
        409,
        "nothing_to_pay",
        "Το ποσό είναι μηδενικό· δεν υπάρχει τίποτα να πληρωθεί με κάρτα. "
        "(The total is zero: there is nothing to pay by card.)",
    ),
    PaymentInProgress: HttpError(
        409,
        "payment_in_progress",
        "Άλλη πληρωμή για την ίδια περίοδο είναι σε εξέλιξη. (Another payment is open.)",
    ),
    MunicipalSystemUnavailable: HttpError(
        503,
        "municipal_system_unavailable",
        "Το πληροφοριακό σύστημα του δήμου δεν απαντά· δοκιμάστε ξανά σε λίγο. "
        "(The municipal information system is unavailable; nothing was recorded.)",
        headers=lambda _: {"Retry-After": str(SYSTEM_RETRY_AFTER_SECONDS)},
    ),
    BusinessError: HttpError(409, "conflict", str),
}

SYSTEM_DOWN: dict[int | str, dict[str, Any]] = {
    503: {
        "model": ErrorBody,
        "description": "municipal_system_unavailable: the information system did not answer; "
        "nothing was recorded, try again",
        "headers": {
            "Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}
        },
    }
}
WHO = (
    "Business users only (others: 403 `forbidden`), with a complete profile (403 "
    "`profile_incomplete`) and a verified representative (403 `not_verified`)."
)
READERS = (
    "A business user (with a complete profile, 403 `profile_incomplete`, and a verified "
    "representative, 403 `not_verified`): its own ΑΦΜ's. Read only, every business's: clerks of "
    "the revenue department (`revenue`), auditors, admins. Citizens and other departments' "
    "clerks: 403 `forbidden`."
)


async def declaration_reader(principal: CurrentPrincipal) -> Principal:
    """Who may read tax declarations: businesses, the revenue department's clerks, auditors and
    admins; anyone else 403 `forbidden` (as `require_roles`, before the parameters are read)."""
    if principal.role in ("business", "auditor", "admin") or (
        principal.role == "clerk" and principal.department == REVENUE_DEPARTMENT
    ):
        return principal
    raise ApiError(
        403,
        "forbidden",
        "Tax declarations are read by their business and the revenue department only.",
    )


DeclarationReader = Annotated[Principal, Depends(declaration_reader)]


def declarations_scope(principal: Principal, business: BusinessApplication) -> DeclarationScope:
    """A business: its own ΑΦΜ's declarations (403 `profile_incomplete`, `not_verified`);
    the revenue department's staff (`declaration_reader`): every business's."""
    if principal.role == "business":
        return DeclarationScope(afm=caller_afm(principal, business))
    return EVERY_BUSINESS


def caller_afm(principal: Principal, business: BusinessApplication) -> str:
    """The ΑΦΜ the caller acts for (403 `profile_incomplete`, `not_verified` otherwise). Asked
    in each route's body, not as a dependency: FastAPI runs dependencies before it validates
    the parameters, and a malformed request is 422 whoever sends it (nothing is looked up)."""
    return business.eligible_afm(principal.user_id)


@router.get(
    "/tax/rules",
    response_model=TaxRules,
    summary="The municipal tax's rules (SPEC B-2)",
    description="SPEC B-2, B-3. Public. The rules in force, as data: the rate per category "
    "(basis points of gross receipts), the filing deadline, the late-payment surcharge "
    "schedule and its cap, the quotes' validity.",
)
def tax_rules(business: BusinessApp) -> TaxRules:
    rules = business.rules
    return TaxRules(
        rates=rules.rates,
        deadline_months_after_period_end=rules.deadline_months_after_period_end,
        surcharges=SurchargeRules(
            monthly_basis_points=rules.surcharges.monthly_basis_points,
            cap_percent=rules.surcharges.cap_percent,
        ),
        debt_payable_within_days=rules.debt_payable_within_days,
        quote_validity_hours=rules.max_quote_validity.total_seconds() / 3600,
    )


@router.get(
    "/warrants",
    response_model=WarrantSummaryPage,
    summary="The business's payment warrants (SPEC B-1)",
    description=f"SPEC B-1. {WHO} Every payment warrant the municipality issued to the "
    "caller's ΑΦΜ, newest first, optionally of one `year` and `status`, with the sums per "
    "status. From the service's own copy, synced from the information system now (and by a "
    "worker); while the system is down, the copy as of `as_of`.",
    responses=error_responses(401, 403, 422),
)
def list_warrants(
    principal: BusinessUser,
    business: BusinessApp,
    system: System,
    warrants: Warrants,
    syncs: WarrantSyncs,
    runtime: ServiceRuntime,
    paging: PagingParams,
    year: Annotated[int | None, Query(ge=2000, le=9999, description="Issued in this year")] = None,
    status: Annotated[WarrantStatus | None, Query(description="Only of this status")] = None,
) -> WarrantSummaryPage:
    afm = caller_afm(principal, business)
    settings: BusinessSettings = runtime.settings
    last = syncs.view.synced_at(afm)
    now = business.clock()
    due = last is None or (now - last).total_seconds() >= settings.warrant_sync_interval_seconds
    as_of: datetime | None
    try:
        position = business.sync_warrants(afm, system, record_sync=due)
    except MunicipalSystemUnavailable:
        as_of = last
    else:
        runtime.settle(WarrantView, position)
        as_of = business.clock()  # the system answered: the copy matches it as of now
    rows, total = warrants.view.of_business(afm, year, status, paging.limit, paging.offset)
    return WarrantSummaryPage(
        items=[WarrantSummary(**row) for row in rows],
        total=total,
        limit=paging.limit,
        offset=paging.offset,
        totals=WarrantTotals(**warrants.view.totals(afm, year)),
        as_of=as_of,
    )


@router.post(
    "/tax-declarations",
    status_code=201,
    response_model=DeclarationCreated,
    summary="Declare the municipal tax of a period and get its quote (SPEC B-2)",
    description=f"SPEC B-2. {WHO} Checks the period (1-12 monthly, 1-4 quarterly, over by "
    "today), the VAT return date (not before the period's end, not in the future) and the "
    "revenue (not negative): 422 naming the field. The information system confirms the "
    "business's category and its earlier declarations: the period filed there, or accepted or "
    "being paid here: 409 `period_already_declared`. Answers the tax, the surcharges to date "
    "and the total, valid until `valid_until`, to be paid as one unit with the declaration. "
    "The system unavailable: 503 with Retry-After, nothing recorded. With an `Idempotency-Key`, "
    "a repeat answers the same declaration.",
    responses=error_responses(401, 403, 409, 422) | SYSTEM_DOWN,
)
def declare(
    body: DeclarationCreate,
    principal: BusinessUser,
    business: BusinessApp,
    system: System,
    runtime: ServiceRuntime,
    idempotency_key: IdempotencyKey = None,
) -> DeclarationCreated:
    afm = caller_afm(principal, business)
    command = body.model_dump(mode="json")
    written = business.declare(
        business_id=principal.user_id,
        afm=afm,
        period_type=body.period_type,
        period=body.period,
        year=body.year,
        gross_revenue=body.gross_revenue,
        vat_return_date=body.vat_return_date,
        system=system,
        idempotency=Idempotency.of(principal.user_id, idempotency_key, command),
    )
    runtime.settle(DeclarationSummaryView, written.position)
    declaration = business.declaration(afm, UUID(written.result["declaration_id"]))
    return DeclarationCreated(
        declaration_id=declaration.id, status=declaration.status, **declaration.quote
    )


@router.get(
    "/tax-declarations",
    response_model=DeclarationSummaryPage,
    summary="Tax declarations: the business's own, or every business's (SPEC B-2, X-3)",
    description=f"SPEC B-2, X-3. {READERS} Newest first, optionally of one `status` and one "
    "`afm` (a business asking for another ΑΦΜ's gets none), paged (`limit`, `offset`), with the "
    "`total`. No token: 401; a malformed filter: 422.",
    responses=error_responses(401, 403, 422),
)
def list_declarations(
    principal: DeclarationReader,
    business: BusinessApp,
    declarations: Declarations,
    paging: PagingParams,
    status: Annotated[DeclarationStatus | None, Query(description="Only of this status")] = None,
    afm: Annotated[
        str | None,
        Query(pattern=r"^[0-9]{9}$", description="Only this ΑΦΜ's", examples=["094014201"]),
    ] = None,
) -> DeclarationSummaryPage:
    scope = declarations_scope(principal, business)
    if scope.afm is not None and afm not in (None, scope.afm):
        return DeclarationSummaryPage.of([], 0, paging)
    rows, total = declarations.view.page(scope.afm or afm, status, paging.limit, paging.offset)
    return DeclarationSummaryPage.of([DeclarationSummary(**row) for row in rows], total, paging)


@router.get(
    "/tax-declarations/{declaration_id}",
    response_model=DeclarationPublic,
    summary="One tax declaration (SPEC B-2, X-3)",
    description=f"SPEC B-2, X-3. {READERS} The declaration's ΑΦΜ, status (quoted, "
    "payment_pending, accepted, rejected), whether it is filed, its amounts, its payment and "
    "its history: the same for the business and for the revenue department (the back-office "
    "worklist's link). A quote that ran out unpaid is rejected (`quote_expired`) when looked "
    "at. Another business's, or no such declaration: 404; no token: 401; a malformed id: 422.",
    responses=error_responses(401, 403, 404, 422),
)
def get_declaration(
    declaration_id: DeclarationId, principal: DeclarationReader, business: BusinessApp
) -> DeclarationPublic:
    scope = declarations_scope(principal, business)
    declaration, history = business.declaration_history(scope, declaration_id)
    return _declaration_public(declaration, history)


def _declaration_public(declaration: Declaration, history: list[Any]) -> DeclarationPublic:
    payment = declaration.open_payment
    return DeclarationPublic(
        declaration_id=declaration.id,
        afm=declaration.afm,
        period_type=declaration.period_type,  # type: ignore[arg-type]
        period=declaration.period,
        year=declaration.year,
        gross_revenue=declaration.gross_revenue,
        vat_return_date=declaration.vat_return_date,
        status=declaration.status,
        filed=declaration.receipt is not None,
        receipt=declaration.receipt,
        reference=declaration.reference,
        payment_id=payment["payment_id"] if payment else declaration.paid_payment_id,
        rejection_reason=declaration.rejection_reason,
        history=[HistoryEntry(event=event_name(e), at=e.timestamp) for e in history],
        **declaration.quote,
    )


def _checkout_url(runtime: ServiceRuntime, payment_id: str) -> str:
    settings: BusinessSettings = runtime.settings
    return f"{settings.portal_public_url.rstrip('/')}/payments/{payment_id}/checkout"


def _payment_created(runtime: ServiceRuntime, result: dict[str, Any]) -> PaymentCreated:
    payment_id = result["payment_id"]
    return PaymentCreated(
        payment_id=payment_id,
        redirect_url=_checkout_url(runtime, payment_id),
        amount=result["amount"],
    )


@router.post(
    "/tax-declarations/{declaration_id}/payment",
    status_code=201,
    response_model=DeclarationPaymentCreated,
    summary="Pay a declaration by card, or accept a nil one (SPEC B-2, P-1)",
    description=f"SPEC B-2, P-1. {WHO} Starts paying the quoted total: answers the payment and "
    "the `redirect_url` (the checkout, then the bank's page). Its payment already open: that "
    "same payment again. Accepted already: 409 `already_paid`; rejected (or its quote ran out "
    "now): 409 `declaration_rejected`; another declaration of the period accepted: 409 "
    "`period_already_declared`, being paid: 409 `payment_in_progress`. Another business's: "
    "404. The declaration is accepted only when the payments service reports this payment "
    "completed; a payment completing for a declaration already accepted or rejected is "
    "recorded as needing a refund (a person's to give back), never accepted twice. A nil "
    "declaration (total 0: a period without receipts) has nothing to pay: it is accepted at "
    "once, with the same 409s for its period, and answers `payment_id` and `redirect_url` null "
    "and `amount` 0 (a repeat: the same again); it is then filed like any other. With an "
    "`Idempotency-Key`, a repeat answers the same payment.",
    responses=error_responses(401, 403, 404, 409, 422),
)
def pay_declaration(
    declaration_id: DeclarationId,
    principal: BusinessUser,
    business: BusinessApp,
    runtime: ServiceRuntime,
    idempotency_key: IdempotencyKey = None,
) -> DeclarationPaymentCreated:
    afm = caller_afm(principal, business)
    command = {"declaration_id": str(declaration_id), "action": "pay"}
    written = business.start_declaration_payment(
        afm,
        declaration_id,
        payer_id=principal.user_id,
        idempotency=Idempotency.of(principal.user_id, idempotency_key, command),
    )
    runtime.settle(DeclarationSummaryView, written.position)
    payment_id = written.result["payment_id"]  # None: nil, accepted with nothing to pay
    return DeclarationPaymentCreated(
        payment_id=payment_id,
        redirect_url=None if payment_id is None else _checkout_url(runtime, payment_id),
        amount=written.result["amount"],
    )


def _debt_public(line: DebtLine) -> DebtPublic:
    record, quote = line.record, line.quote
    return DebtPublic(
        debt_id=record.debt_id,
        description=record.description,
        period=record.period,
        assessed_on=record.assessed_on,
        principal=record.principal,
        surcharges=0 if line.status == "paid" else quote.surcharges,
        total=(line.paid_amount or record.principal) if line.status == "paid" else quote.total,
        valid_until=quote.valid_until,
        reference=line.reference,
        status=line.status,  # type: ignore[arg-type]
        payment_id=line.payment_id,
        paid_at=line.paid_at,
    )


@router.get(
    "/debts",
    response_model=DebtSummaryPage,
    summary="The business's assessed debts (SPEC B-3)",
    description=f"SPEC B-3. {WHO} The caller's ΑΦΜ's assessed municipal-tax debts, as the "
    "information system holds them now, with surcharges to date, total and RF code: the open "
    "ones (with those being paid), or `status=paid` for the paid ones. Listed live, not from a "
    "copy (a debt's amount and status are the system's, and a stale one could be paid twice): "
    "while the system is down, 503 `municipal_system_unavailable` with Retry-After.",
    responses=error_responses(401, 403, 422) | SYSTEM_DOWN,
)
def list_debts(
    principal: BusinessUser,
    business: BusinessApp,
    system: System,
    paging: PagingParams,
    status: Annotated[
        DebtStatus | None, Query(description="paid: the paid ones; otherwise the open ones")
    ] = None,
) -> DebtSummaryPage:
    afm = caller_afm(principal, business)
    lines = business.debts(afm, system)
    wanted = [line for line in lines if (line.status == "paid") == (status == "paid")]
    if status == "payment_pending":
        wanted = [line for line in wanted if line.status == "payment_pending"]
    wanted.sort(key=lambda line: (line.record.assessed_on, line.record.debt_id), reverse=True)
    page = wanted[paging.offset : paging.offset + paging.limit]
    return DebtSummaryPage(
        items=[_debt_public(line) for line in page],
        total=len(wanted),
        limit=paging.limit,
        offset=paging.offset,
        as_of=business.clock(),
    )


@router.get(
    "/debts/{debt_id}",
    response_model=DebtPublic,
    summary="One assessed debt (SPEC B-3)",
    description=f"SPEC B-3. {WHO} The debt with its amounts computed now. Not the caller's "
    "ΑΦΜ's, or unknown: 404; the system unavailable: 503 with Retry-After.",
    responses=error_responses(401, 403, 404, 422) | SYSTEM_DOWN,
)
def get_debt(
    debt_id: DebtId, principal: BusinessUser, business: BusinessApp, system: System
) -> DebtPublic:
    afm = caller_afm(principal, business)
    return _debt_public(business.debt(afm, debt_id, system))


@router.post(
    "/debts/{debt_id}/payment",
    status_code=201,
    response_model=PaymentCreated,
    summary="Pay an assessed debt by card (SPEC B-3, P-1)",
    description=f"SPEC B-3, P-1. {WHO} Starts paying the debt's total as of now: answers the "
    "payment and the `redirect_url`. Its payment already open: that same payment again. Paid "
    "already (here, or at the municipality meanwhile): 409 `already_paid`. Not the caller's "
    "ΑΦΜ's: 404; the system unavailable: 503. "
    "With an `Idempotency-Key`, a repeat answers the same payment.",
    responses=error_responses(401, 403, 404, 409, 422) | SYSTEM_DOWN,
)
def pay_debt(
    debt_id: DebtId,
    principal: BusinessUser,
    business: BusinessApp,
    system: System,
    runtime: ServiceRuntime,
    idempotency_key: IdempotencyKey = None,
) -> PaymentCreated:
    afm = caller_afm(principal, business)
    command = {"debt_id": debt_id, "action": "pay"}
    written = business.start_debt_payment(
        afm,
        debt_id,
        payer_id=principal.user_id,
        system=system,
        idempotency=Idempotency.of(principal.user_id, idempotency_key, command),
    )
    return _payment_created(runtime, written.result)
