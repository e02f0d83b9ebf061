"""HTTP API of the fines service, under /fines (SPEC F-1..F-6).

Who may do what:
- citizens and businesses with a complete profile (F-1; else 403 `profile_incomplete`) look
  fines up, see the ones they looked up and pay them; another's fine does not exist for them
  (404, not 403: its existence is not revealed);
- clerks of the municipal police (`municipal_police`) record fines ahead of the citizen and see
  every fine, by status; admins too; auditors see every fine; other clerks see none (403).

Routes that call the Application are plain `def` (the library is synchronous); domain errors
are answered by `ERRORS`.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query
from portal_events.application import Idempotency
from portal_events.departments import MUNICIPAL_POLICE
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
)
from portal_web.service import ServiceRuntime, application_of, read_model_of, resource_of

from fines_service.application import EVERYTHING, FinesApplication, Scope
from fines_service.domainmodel import (
    FineAlreadyPaid,
    FineAlreadyRecorded,
    FineDetailsMismatch,
    FineNotFound,
    FinesError,
    FineTypeNotPayable,
    FineTypeUnknown,
    MunicipalityForeign,
    PaymentInProgress,
    ProfileIncomplete,
    RegisterUnavailable,
)
from fines_service.register import REGISTER, FinesRegister
from fines_service.schemas import (
    FINE_ID_EXAMPLE,
    RF_EXAMPLE,
    CreditorReference,
    FineCheck,
    FineCheckResult,
    FineCreate,
    FineCreated,
    FineLookup,
    FineLookupResult,
    FinePaymentCreated,
    FinePublic,
    FineStatus,
    FineSummary,
    FineSummaryPage,
    FineTypes,
    FineTypeSummary,
)
from fines_service.settings import FinesSettings
from fines_service.views import FineSummaryView

REGISTER_RETRY_AFTER_SECONDS = 30

router = APIRouter(prefix="/fines", tags=["fines"])

FinesApp = Annotated[FinesApplication, Depends(application_of)]
Register = Annotated[FinesRegister, resource_of(REGISTER)]
FineSummaries = Annotated[ReadModel[FineSummaryView], read_model_of(FineSummaryView)]
FineId = Annotated[
    UUID, Path(description="The fine's id (from a lookup or a list)", examples=[FINE_ID_EXAMPLE])
]
Payer = Annotated[Principal, Depends(require_roles("citizen", "business"))]
PoliceOrAdmin = Annotated[Principal, Depends(require_roles("clerk", "admin"))]

ERRORS: ErrorTable = {
    FineNotFound: HttpError(404, "not_found", "Η κλήση δεν βρέθηκε. (Fine not found.)"),
    ProfileIncomplete: HttpError(
        403,
        "profile_incomplete",
        "Συμπληρώστε πρώτα το προφίλ σας. (Complete your profile first: SPEC F-1.)",
    ),
    MunicipalityForeign: HttpError(
        422,
        "foreign_municipality",
        "Η κλήση είναι άλλου δήμου και δεν πληρώνεται εδώ. (Another municipality's fine.)",
        lambda e: [{"field": "municipality_code", "problem": "foreign", "ours": e.ours}],
    ),
    FineTypeNotPayable: HttpError(
        422,
        "fine_type_not_payable",
        "Αυτό το είδος κλήσης δεν πληρώνεται στον δήμο. (Not payable to the municipality.)",
        lambda e: [{"field": "fine_type", "problem": "not_payable", "allowed": e.payable}],
    ),
    FineTypeUnknown: HttpError(
        422,
        "unknown_fine_type",
        "Άγνωστο είδος κλήσης. (Unknown fine type.)",
        lambda e: [{"field": "fine_type", "problem": "unknown", "allowed": e.payable}],
    ),
    FineDetailsMismatch: HttpError(
        422,
        "fine_details_mismatch",
        "Ο αριθμός κλήσης είναι καταχωρημένος με άλλα στοιχεία (πινακίδα). "
        "(The fine number is on record with another plate.)",
    ),
    FineAlreadyRecorded: HttpError(
        409, "fine_already_recorded", "Η κλήση είναι ήδη καταχωρημένη. (Already on record.)"
    ),
    FineAlreadyPaid: HttpError(409, "already_paid", "Η κλήση έχει ήδη πληρωθεί. (Already paid.)"),
    PaymentInProgress: HttpError(
        409,
        "payment_in_progress",
        "Η κλήση πληρώνεται ήδη από άλλον χρήστη. (Another user's payment is open.)",
    ),
    RegisterUnavailable: HttpError(
        503,
        "fines_register_unavailable",
        "Το σύστημα διαχείρισης προστίμων δεν απαντά· δοκιμάστε ξανά σε λίγο. "
        "(The fines register is unavailable; nothing was recorded. Try again shortly.)",
        headers=lambda _: {"Retry-After": str(REGISTER_RETRY_AFTER_SECONDS)},
    ),
    FinesError: HttpError(409, "conflict", str),
}

REGISTER_DOWN: dict[int | str, dict[str, Any]] = {
    503: {
        "model": ErrorBody,
        "description": "fines_register_unavailable: the fines register did not answer; nothing "
        "was recorded, try again (the same request registers nothing twice)",
        "headers": {
            "Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}
        },
    }
}


def scope_of(principal: Principal) -> Scope:
    """Admins, auditors, municipal police clerks: every fine; a citizen or business: theirs;
    another department's clerk: none."""
    if principal.role in ("admin", "auditor") or _is_police(principal):
        return EVERYTHING
    if principal.is_staff:
        return Scope()
    return Scope(holder_id=principal.user_id)


def _is_police(principal: Principal) -> bool:
    return principal.role == "clerk" and principal.department == MUNICIPAL_POLICE


def _require_may_consult(principal: Principal, fines: FinesApplication) -> None:
    """Staff consult the catalogue freely; citizens and businesses need a complete profile."""
    if not principal.is_staff:
        fines.require_complete_profile(principal.user_id)


@router.get(
    "/types",
    response_model=FineTypes,
    summary="Fine types payable here (SPEC F-2)",
    description="SPEC F-1, F-2. This municipality's code and name and the fine types payable to "
    "it, with the base amount (cents) of a fine issued today. Citizens and businesses need a "
    "complete profile (403 `profile_incomplete`).",
    responses=error_responses(401, 403),
)
def fine_types(principal: CurrentPrincipal, fines: FinesApp) -> FineTypes:
    _require_may_consult(principal, fines)
    catalogue = fines.catalogue
    return FineTypes(
        municipality_code=catalogue.municipality_code,
        municipality_name=catalogue.municipality_name,
        types=[
            FineTypeSummary(code=t.code, description=t.description, amount=t.amount)
            for t in catalogue.payable_types
        ],
    )


@router.post(
    "/check",
    response_model=FineCheckResult,
    summary="Check a ticket's municipality and type (SPEC F-2)",
    description="SPEC F-1, F-2. The fine type and its amount if the fine is payable here. "
    "Another municipality's code: 422 `foreign_municipality`; an unknown type: 422 "
    "`unknown_fine_type`; a type paid elsewhere: 422 `fine_type_not_payable`.",
    responses=error_responses(401, 403, 422),
)
def check(body: FineCheck, principal: CurrentPrincipal, fines: FinesApp) -> FineCheckResult:
    _require_may_consult(principal, fines)
    fine_type = fines.check(body.municipality_code, body.fine_type)
    return FineCheckResult(
        fine_type=fine_type.code, description=fine_type.description, amount=fine_type.amount
    )


@router.post(
    "/lookup",
    response_model=FineLookupResult,
    summary="Look a fine up, registering it if new (SPEC F-3, F-4, F-5)",
    description="SPEC F-1..F-5. The fine with this number and plate, from the municipality's "
    "fines register; if the register has no such fine, it is registered there now (`found`: "
    "false), once however often this is repeated. Answers its details and what it costs now "
    "(a quote with its RF code, valid until `valid_until`); the fine is in the caller's list "
    "from now on. Checks as `POST /fines/check` (422); the number on record with another "
    "plate: 422 `fine_details_mismatch`; the register unavailable: 503 "
    "`fines_register_unavailable` with Retry-After, and nothing recorded.",
    responses=error_responses(401, 403, 409, 422) | REGISTER_DOWN,
)
def lookup(
    body: FineLookup,
    principal: Payer,
    fines: FinesApp,
    register: Register,
    runtime: ServiceRuntime,
) -> FineLookupResult:
    fines.require_complete_profile(principal.user_id)
    result = fines.lookup(
        user_id=principal.user_id,
        municipality_code=body.municipality_code,
        fine_type=body.fine_type,
        fine_number=body.fine_number,
        plate=body.plate,
        issued_at=body.issued_at,
        register=register,
    )
    runtime.settle(FineSummaryView, result.position)  # in the caller's list when answered
    return FineLookupResult.of(result.fine, result.found, fines.current_quote(result.fine))


@router.post(
    "",
    status_code=201,
    response_model=FineCreated,
    summary="Record a fine ahead of the citizen (SPEC F-4)",
    description="SPEC F-4. A clerk of the municipal police (or an admin) records a fine in the "
    "fines register and here, before any citizen looks it up. A number already on record: 409 "
    "`fine_already_recorded`. With an `Idempotency-Key`, a repeat answers the same fine. The "
    "register unavailable: 503 with Retry-After, nothing recorded.",
    responses=error_responses(401, 403, 409, 422) | REGISTER_DOWN,
)
def record_fine(
    body: FineCreate,
    principal: PoliceOrAdmin,
    fines: FinesApp,
    register: Register,
    runtime: ServiceRuntime,
    idempotency_key: IdempotencyKey = None,
) -> FineCreated:
    if principal.role == "clerk" and not _is_police(principal):
        raise ApiError(403, "forbidden", "Only the municipal police records fines.")
    command = body.model_dump(mode="json")
    written = fines.register_fine(
        clerk_id=principal.user_id,
        fine_type=body.fine_type,
        fine_number=body.fine_number,
        plate=body.plate,
        issued_at=body.issued_at,
        register=register,
        idempotency=Idempotency.of(principal.user_id, idempotency_key, command),
    )
    runtime.settle(FineSummaryView, written.position)
    return FineCreated(fine_id=written.result["fine_id"])


@router.get(
    "",
    response_model=FineSummaryPage,
    summary="Fines: the caller's, or all by status (SPEC F-5, F-6)",
    description="SPEC F-5, F-6. A citizen or business: the fines they looked up, newest first, "
    "with status and last quote. Clerks of the municipal police, admins and auditors: every "
    "fine, optionally of one `status`; other clerks: 403. Paged (`limit`, `offset`), with the "
    "`total`.",
    responses=error_responses(401, 403, 422),
)
def list_fines(
    principal: CurrentPrincipal,
    summaries: FineSummaries,
    paging: PagingParams,
    status: Annotated[FineStatus | None, Query(description="Only fines in this status")] = None,
) -> FineSummaryPage:
    scope = scope_of(principal)
    if scope.everything:
        rows, total = summaries.view.all(status, paging.limit, paging.offset)
    elif scope.holder_id is not None:
        rows, total = summaries.view.held_by(scope.holder_id, status, paging.limit, paging.offset)
    else:
        raise ApiError(403, "forbidden", "Only the municipal police's clerks list fines.")
    return FineSummaryPage.of([FineSummary.of(row) for row in rows], total, paging)


@router.get(
    "/by-reference/{rf}",
    response_model=FinePublic,
    summary="A fine by its RF code",
    description="SPEC F-5. The fine an RF code (ISO 11649, as printed on the quote) identifies, "
    "for whoever may see it (as `GET /fines/{fine_id}`). A malformed code or a wrong check "
    "digit: 422; no such fine, or not the caller's: 404.",
    responses=error_responses(401, 404, 422),
)
def fine_by_reference(
    rf: Annotated[CreditorReference, Path(examples=[RF_EXAMPLE])],
    principal: CurrentPrincipal,
    fines: FinesApp,
) -> FinePublic:
    fine = fines.fine(fines.fine_id_by_reference(rf), scope=scope_of(principal))
    return FinePublic.of(fine, fines.current_quote(fine))


@router.get(
    "/{fine_id}",
    response_model=FinePublic,
    summary="One fine (SPEC F-5)",
    description="SPEC F-5, F-6. The fine's details, status and what it costs now (the last "
    "quote while it holds, else a fresh one). Only those who looked it up, the municipal "
    "police, admins and auditors see it; for anyone else it does not exist (404).",
    responses=error_responses(401, 404, 422),
)
def get_fine(fine_id: FineId, principal: CurrentPrincipal, fines: FinesApp) -> FinePublic:
    fine = fines.fine(fine_id, scope=scope_of(principal))
    return FinePublic.of(fine, fines.current_quote(fine))


@router.post(
    "/{fine_id}/payment",
    status_code=201,
    response_model=FinePaymentCreated,
    summary="Pay a fine by card (SPEC F-6, P-1)",
    description="SPEC F-5, F-6, P-1. Starts paying the whole amount: answers the payment and "
    "the `redirect_url` to send the browser to (the bank's page, through the checkout). An "
    "expired quote is renewed first and its total is what is charged. The caller's payment of "
    "the fine already open: that same payment again, never a second one. Paid already: 409 "
    "`already_paid`; another user's payment open: 409 `payment_in_progress`. Only someone who "
    "looked the fine up may pay it (others: 404). With an `Idempotency-Key`, a repeat answers "
    "the same payment.",
    responses=error_responses(401, 403, 404, 409, 422),
)
def start_payment(
    fine_id: FineId,
    principal: Payer,
    fines: FinesApp,
    runtime: ServiceRuntime,
    idempotency_key: IdempotencyKey = None,
) -> FinePaymentCreated:
    fines.require_complete_profile(principal.user_id)
    command = {"fine_id": str(fine_id), "action": "pay"}
    written = fines.start_payment(
        fine_id,
        payer_id=principal.user_id,
        idempotency=Idempotency.of(principal.user_id, idempotency_key, command),
    )
    runtime.settle(FineSummaryView, written.position)
    settings: FinesSettings = runtime.settings
    payment_id = written.result["payment_id"]
    return FinePaymentCreated(
        payment_id=payment_id,
        redirect_url=f"{settings.portal_public_url.rstrip('/')}/payments/{payment_id}/checkout",
        amount=written.result["amount"],
    )
