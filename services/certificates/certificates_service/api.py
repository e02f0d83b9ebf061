"""HTTP API of the certificates service, under /certificates (SPEC C-1..C-6).

Routes that call the Application are plain `def` (the library is synchronous; the wait for a
protocol number blocks a worker thread, never the event loop). They catch no domain errors:
`ERRORS` below is the one table from domain exceptions to HTTP answers, installed by the kit.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Response
from portal_events.projections import ReadModel
from portal_web import (
    CitizenOrBusiness,
    ClerkOrAdmin,
    CurrentPrincipal,
    ErrorTable,
    HttpError,
    IdempotencyKey,
    PagingParams,
    Principal,
    error_responses,
    text,
)
from portal_web.service import ServiceRuntime, application_of, read_model_of, resource_of

from certificates_service.application import CertificatesApplication, Scope
from certificates_service.documents import DocumentStore
from certificates_service.domainmodel import (
    ApplicationInvalid,
    CertificateNotFound,
    CertificatesError,
    Kind,
    NotIssued,
    NotVerified,
    ProfileIncomplete,
    ProtocolPending,
    Status,
    TransitionNotAllowed,
    VerificationCodeUnknown,
    initials,
)
from certificates_service.schemas import (
    CERTIFICATE_ID_EXAMPLE,
    VERIFICATION_CODE_EXAMPLE,
    CertificateCreated,
    CertificateIssue,
    CertificatePublic,
    CertificateRejection,
    CertificateSummary,
    CertificateSummaryPage,
    CertificateTypeList,
    CertificateTypeSummary,
    CivilRegistryCertificateCreate,
    DeliveryMethodList,
    DeliveryMethodPublic,
    ProtocolPublic,
    ReplyCreate,
    StatusUpdate,
    TapCertificateCreate,
    VerificationResult,
)
from certificates_service.views import CertificateSummaryView

DOCUMENTS = "documents"  # the resource: where issued PDFs are kept

router = APIRouter(prefix="/certificates", tags=["certificates"])

CertificatesApp = Annotated[CertificatesApplication, Depends(application_of)]
CertificateSummaries = Annotated[
    ReadModel[CertificateSummaryView], read_model_of(CertificateSummaryView)
]
Documents = Annotated[DocumentStore, resource_of(DOCUMENTS)]
CertificateId = Annotated[
    UUID,
    Path(
        description="The certificate's id (from the application or a list)",
        examples=[CERTIFICATE_ID_EXAMPLE],
    ),
]
VerificationCodeParam = Annotated[
    text(64),
    Path(
        description="The code printed on the certificate (any case, with or without hyphens)",
        examples=[VERIFICATION_CODE_EXAMPLE],
    ),
]

ERRORS: ErrorTable = {
    ApplicationInvalid: HttpError(
        422,
        "invalid_input",
        "Λείπουν ή είναι άκυρα πεδία. (Missing or invalid fields.)",
        lambda e: [{"field": f, "problem": p} for f, p in e.errors.items()],
    ),
    ProfileIncomplete: HttpError(
        403,
        "profile_incomplete",
        "Συμπληρώστε πρώτα το προφίλ σας. (Complete your profile first: SPEC C-1.)",
    ),
    NotVerified: HttpError(
        403,
        "not_verified",
        "Απαιτείται ταυτοποίηση με φυσική παρουσία σε υπάλληλο του Δήμου. "
        "(In-person verification is needed first: SPEC C-1.)",
    ),
    CertificateNotFound: HttpError(
        404, "not_found", "Το πιστοποιητικό δεν βρέθηκε. (Certificate not found.)"
    ),
    TransitionNotAllowed: HttpError(
        409, "invalid_transition", str, lambda e: {"current": e.current, "wanted": e.wanted}
    ),
    ProtocolPending: HttpError(
        409,
        "protocol_pending",
        "Δεν έχει ακόμη αριθμό πρωτοκόλλου: δοκιμάστε ξανά σε λίγο. "
        "(No protocol number yet; try again shortly.)",
    ),
    NotIssued: HttpError(409, "not_issued", "Το πιστοποιητικό δεν έχει εκδοθεί. (Not issued yet.)"),
    VerificationCodeUnknown: HttpError(
        404,
        "unknown_verification_code",
        "Ο κωδικός δεν αντιστοιχεί σε πιστοποιητικό του Δήμου. (No certificate has this code.)",
    ),
    CertificatesError: HttpError(409, "conflict", str),  # any other domain rule
}

PDF_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The issued certificate (PDF)",
        "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
    }
}


def scope_of(principal: Principal) -> Scope:
    """Applicants: their own; clerks: their department's; admins and auditors: all."""
    if principal.role in ("admin", "auditor"):
        return Scope(everything=True)
    if principal.role == "clerk":
        return Scope(department=principal.department)
    return Scope(owner_id=principal.user_id)


def clerks_scope(principal: Principal) -> Scope:
    """Whom clerks' commands reach: a clerk their department's, an admin all."""
    if principal.role == "admin":
        return Scope(everything=True)
    return Scope(department=principal.department)


APPLY_DOC = (
    "Only citizens and businesses with a complete profile and an in-person verification (ID-3) "
    "may apply: otherwise 403 `profile_incomplete` (checked first) or `not_verified`; staff "
    "403 `forbidden`. Every field is checked against the catalogue; any wrong field is 422 "
    "naming it, and nothing is recorded. The application is registered in the protocol "
    "automatically (C-4): the answer waits a moment for the number and says `assigned` (with "
    "number and date) or `pending` (it arrives later, automatically; never two numbers). With "
    "an `Idempotency-Key`, a repeat answers the first application and records nothing."
)


# --- public ------------------------------------------------------------------------------------


@router.get(
    "/civil-registry/types",
    response_model=CertificateTypeList,
    summary="Civil-registry certificate types (SPEC C-2)",
    description="SPEC C-2. The catalogue (data): each type's code, Greek name and the "
    "department that handles it. No login.",
)
def civil_registry_types(certificates: CertificatesApp) -> CertificateTypeList:
    types = certificates.catalogue.civil_registry.values()
    return CertificateTypeList(items=[CertificateTypeSummary.of(t) for t in types])


@router.get(
    "/delivery-methods",
    response_model=DeliveryMethodList,
    summary="Delivery methods (SPEC C-2, C-3)",
    description="SPEC C-2, C-3. By e-mail, by post (needs an address) or collected in person "
    "at a named service point (one method per point). No login.",
)
def delivery_methods(certificates: CertificatesApp) -> DeliveryMethodList:
    methods = certificates.catalogue.delivery_methods.values()
    return DeliveryMethodList(items=[DeliveryMethodPublic.of(m) for m in methods])


@router.get(
    "/verify/{code}",
    response_model=VerificationResult,
    responses=error_responses(404, 422, 429),
    summary="Check a certificate's verification code (SPEC C-5)",
    description="SPEC C-5. No login: what a notary or a bank checks when handed the paper (the "
    "QR code leads here). Authentic certificates answer their number, type, title, issue date "
    "and protocol, and the holder's initials only; any other code is 404 "
    "`unknown_verification_code`. The code may be typed in any case, with or without hyphens. "
    "The gateway limits checks per address (429 with Retry-After): codes are not guessed.",
)
def verify(code: VerificationCodeParam, certificates: CertificatesApp) -> VerificationResult:
    certificate = certificates.verify(code)
    protocol = ProtocolPublic.of(certificate.protocol_number, certificate.protocol_date)
    assert protocol is not None and certificate.issued_at is not None  # issued: both are set
    return VerificationResult(
        authentic=True,
        number=certificate.number,
        certificate_type=certificate.certificate_type,
        title=certificate.title,
        issued_at=certificate.issued_at,
        protocol=protocol,
        holder_initials=initials(certificate.applicant_name),
    )


# --- applicants (C-1..C-4, C-6) ---------------------------------------------------------------


@router.post(
    "/civil-registry",
    status_code=201,
    response_model=CertificateCreated,
    responses=error_responses(401, 403, 409, 422),
    summary="Apply for a civil-registry certificate (SPEC C-1, C-2, C-4)",
    description=f"SPEC C-1, C-2, C-4. {APPLY_DOC}",
)
def apply_civil_registry(
    body: CivilRegistryCertificateCreate,
    principal: CitizenOrBusiness,
    certificates: CertificatesApp,
    runtime: ServiceRuntime,
    idempotency_key: IdempotencyKey = None,
) -> CertificateCreated:
    applied = certificates.apply_civil_registry(
        applicant_id=principal.user_id,
        certificate_type=body.certificate_type,
        details=body.details,
        delivery_method=body.delivery_method,
        delivery_address=body.delivery_address,
        idempotency_key=idempotency_key,
    )
    return _answer_application(applied.id, applied.position, certificates, runtime)


@router.post(
    "/tap",
    status_code=201,
    response_model=CertificateCreated,
    responses=error_responses(401, 403, 409, 422),
    summary="Apply for a TAP certificate (SPEC C-1, C-3, C-4)",
    description=f"SPEC C-1, C-3, C-4. The property: address, electricity supply number as "
    f"printed on the bill (12 digits, e.g. `1 12345678-01 2`) and area in m² (> 0). {APPLY_DOC}",
)
def apply_tap(
    body: TapCertificateCreate,
    principal: CitizenOrBusiness,
    certificates: CertificatesApp,
    runtime: ServiceRuntime,
    idempotency_key: IdempotencyKey = None,
) -> CertificateCreated:
    applied = certificates.apply_tap(
        applicant_id=principal.user_id,
        property_address=body.property.address,
        electricity_supply_number=body.property.electricity_supply_number,
        area_m2=body.property.area_m2,
        details=body.details,
        delivery_method=body.delivery_method,
        delivery_address=body.delivery_address,
        idempotency_key=idempotency_key,
    )
    return _answer_application(applied.id, applied.position, certificates, runtime)


def _answer_application(
    certificate_id: UUID,
    position: int | None,
    certificates: CertificatesApplication,
    runtime: ServiceRuntime,
) -> CertificateCreated:
    """C-4: wait a moment for the protocol number; the caller's lists show it at once."""
    wait = runtime.settings.certificates_protocol_wait_seconds
    certificate = certificates.wait_for_protocol(certificate_id, wait)
    runtime.settle(CertificateSummaryView, position)
    return CertificateCreated.of(certificate)


def _my_list(
    kind: Kind, principal: Principal, summaries: ReadModel[CertificateSummaryView], paging: Any
) -> CertificateSummaryPage:
    rows, total = summaries.view.applied_by(
        principal.user_id, kind.value, paging.limit, paging.offset
    )
    return CertificateSummaryPage.of([CertificateSummary.of(row) for row in rows], total, paging)


@router.get(
    "/civil-registry",
    response_model=CertificateSummaryPage,
    responses=error_responses(401, 422),
    summary="My civil-registry certificates (SPEC C-6)",
    description="SPEC C-6. The caller's own civil-registry applications, newest first, each "
    "with its protocol and status; paged (`limit`, `offset`) with the `total`. Staff apply for "
    "nothing: their list is empty.",
)
def my_civil_registry_certificates(
    principal: CurrentPrincipal, summaries: CertificateSummaries, paging: PagingParams
) -> CertificateSummaryPage:
    return _my_list(Kind.CIVIL_REGISTRY, principal, summaries, paging)


@router.get(
    "/tap",
    response_model=CertificateSummaryPage,
    responses=error_responses(401, 422),
    summary="My TAP certificates (SPEC C-6)",
    description="SPEC C-6. The caller's own TAP applications, newest first, each with its "
    "protocol and status; paged (`limit`, `offset`) with the `total`.",
)
def my_tap_certificates(
    principal: CurrentPrincipal, summaries: CertificateSummaries, paging: PagingParams
) -> CertificateSummaryPage:
    return _my_list(Kind.TAP, principal, summaries, paging)


# --- clerks (C-5) ----------------------------------------------------------------------------


@router.get(
    "/inbox",
    response_model=CertificateSummaryPage,
    responses=error_responses(401, 403, 422),
    summary="Clerks' inbox of applications (SPEC C-5)",
    description="SPEC C-5. The applications of the clerk's department (as the catalogue "
    "routes them: civil registry, revenue), newest first; admins see every department's. "
    "Filters: `status`, `kind`. Paged (`limit`, `offset`) with the `total`. Others: 403.",
)
def inbox(
    principal: ClerkOrAdmin,
    summaries: CertificateSummaries,
    paging: PagingParams,
    status: Annotated[Status | None, Query(description="Only this status")] = None,
    kind: Annotated[Kind | None, Query(description="Only this kind")] = None,
) -> CertificateSummaryPage:
    department = None
    if principal.role == "clerk":
        department = principal.department
        if department is None:  # a clerk without a department has no inbox
            return CertificateSummaryPage.of([], 0, paging)
    rows, total = summaries.view.inbox(
        department,
        status.value if status else None,
        kind.value if kind else None,
        paging.limit,
        paging.offset,
    )
    return CertificateSummaryPage.of([CertificateSummary.of(row) for row in rows], total, paging)


CLERK_ONLY = (
    "Clerks of the certificate's department and admins; citizens 403, other departments' "
    "clerks 404 (for them it does not exist)."
)


@router.get(
    "/{certificate_id}",
    response_model=CertificatePublic,
    responses=error_responses(401, 404),
    summary="One certificate (SPEC C-6)",
    description="SPEC C-6. Details, the municipality's reply, protocol, status and history "
    "(who did what), and once issued its `verification_code`. Only its applicant, clerks of "
    "its department, auditors and admins see it; for anyone else it does not exist (404).",
)
def get_certificate(
    certificate_id: CertificateId, principal: CurrentPrincipal, certificates: CertificatesApp
) -> CertificatePublic:
    return CertificatePublic.of(certificates.detail(certificate_id, scope=scope_of(principal)))


@router.post(
    "/{certificate_id}/status",
    response_model=CertificatePublic,
    responses=error_responses(401, 403, 404, 409, 422),
    summary="Change an application's status (SPEC C-5)",
    description="SPEC C-5. submitted → under_review | awaiting_applicant; under_review ↔ "
    "awaiting_applicant (the applicant is asked for something). Issued and rejected are final: "
    f"409. {CLERK_ONLY}",
)
def change_status(
    certificate_id: CertificateId,
    body: StatusUpdate,
    principal: ClerkOrAdmin,
    certificates: CertificatesApp,
    runtime: ServiceRuntime,
) -> CertificatePublic:
    scope = clerks_scope(principal)
    position = certificates.change_status(certificate_id, body.status, body.note, scope=scope)
    runtime.settle(CertificateSummaryView, position)
    return CertificatePublic.of(certificates.detail(certificate_id, scope=scope))


@router.post(
    "/{certificate_id}/reply",
    response_model=CertificatePublic,
    responses=error_responses(401, 403, 404, 409, 422),
    summary="Reply to the applicant (SPEC C-5)",
    description="SPEC C-5. The municipality's reply; the latest is shown, every reply stays in "
    f"the history. With an `Idempotency-Key`, a repeat records no second reply. {CLERK_ONLY}",
)
def reply(
    certificate_id: CertificateId,
    body: ReplyCreate,
    principal: ClerkOrAdmin,
    certificates: CertificatesApp,
    runtime: ServiceRuntime,
    idempotency_key: IdempotencyKey = None,
) -> CertificatePublic:
    scope = clerks_scope(principal)
    position = certificates.reply(
        certificate_id,
        body.text,
        scope=scope,
        replied_by=principal.user_id,
        idempotency_key=idempotency_key,
    )
    runtime.settle(CertificateSummaryView, position)
    return CertificatePublic.of(certificates.detail(certificate_id, scope=scope))


@router.post(
    "/{certificate_id}/issue",
    response_model=CertificatePublic,
    responses=error_responses(401, 403, 404, 409, 422),
    summary="Issue the certificate as a PDF document (SPEC C-5)",
    description="SPEC C-5. Makes the PDF (the municipality, title, text with the applicant's "
    "details, protocol number and date, issue date, verification code and its QR code), keeps "
    "it, and answers the certificate with its `verification_code`; the document's SHA-256 is "
    "in the `CertificateIssued` event. Without a protocol number yet: 409 `protocol_pending`; "
    f"already issued or rejected: 409. {CLERK_ONLY}",
)
def issue(
    certificate_id: CertificateId,
    principal: ClerkOrAdmin,
    certificates: CertificatesApp,
    documents: Documents,
    runtime: ServiceRuntime,
    body: CertificateIssue | None = None,
) -> CertificatePublic:
    scope = clerks_scope(principal)
    position = certificates.issue(
        certificate_id, scope=scope, issued_by=principal.user_id, documents=documents
    )
    runtime.settle(CertificateSummaryView, position)
    return CertificatePublic.of(certificates.detail(certificate_id, scope=scope))


@router.post(
    "/{certificate_id}/reject",
    response_model=CertificatePublic,
    responses=error_responses(401, 403, 404, 409, 422),
    summary="Reject the application, with a reason (SPEC C-5)",
    description="SPEC C-5. The applicant is told the reason. Already issued or rejected: 409. "
    f"{CLERK_ONLY}",
)
def reject(
    certificate_id: CertificateId,
    body: CertificateRejection,
    principal: ClerkOrAdmin,
    certificates: CertificatesApp,
    runtime: ServiceRuntime,
) -> CertificatePublic:
    scope = clerks_scope(principal)
    position = certificates.reject(
        certificate_id, body.reason, scope=scope, rejected_by=principal.user_id
    )
    runtime.settle(CertificateSummaryView, position)
    return CertificatePublic.of(certificates.detail(certificate_id, scope=scope))


@router.get(
    "/{certificate_id}/document",
    response_class=Response,
    responses=PDF_RESPONSE | error_responses(401, 404, 409),
    summary="Download the issued certificate (SPEC C-5, C-6)",
    description="SPEC C-5, C-6. The PDF, byte for byte the one whose SHA-256 the "
    "`CertificateIssued` event records. Its applicant, clerks of its department, auditors and "
    "admins; anyone else 404. Not issued yet: 409 `not_issued`.",
)
def document(
    certificate_id: CertificateId,
    principal: CurrentPrincipal,
    certificates: CertificatesApp,
    documents: Documents,
) -> Response:
    certificate, content = certificates.document(
        certificate_id, scope=scope_of(principal), documents=documents
    )
    filename = f"certificate-{certificate.number.replace('/', '-')}.pdf"
    return Response(
        content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
