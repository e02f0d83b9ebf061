"""HTTP API of the requests service, under /requests (SPEC R-1..R-5).

Routes that call the Application are plain `def` (the library is synchronous). They catch no
domain errors: `ERRORS` below is the service's one table from domain exceptions to HTTP answers
(not found / not yours -> 404, conflicts -> 409, invalid -> 422), installed by the kit.
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
    DepartmentCode,
    ErrorTable,
    HttpError,
    IdempotencyKey,
    PagingParams,
    Principal,
    error_responses,
)
from portal_web.service import ServiceRuntime, application_of, read_model_of

from requests_service.application import RequestsApplication, Scope
from requests_service.domainmodel import (
    CategoryUnknown,
    ProtocolAlreadyAssigned,
    RequestNotFound,
    RequestsError,
    Status,
    SubmissionInvalid,
    TransitionNotAllowed,
)
from requests_service.schemas import (
    REQUEST_ID_EXAMPLE,
    AnonymousRequestAccepted,
    AnonymousRequestCreate,
    InboxRequestSummary,
    InboxRequestSummaryPage,
    ProtocolRequestAccepted,
    ReplyCreate,
    RequestCreate,
    RequestCreated,
    RequestPublic,
    RequestSummary,
    RequestSummaryPage,
    StatusUpdate,
)
from requests_service.views import RequestSummaryView

router = APIRouter(prefix="/requests", tags=["requests"])

RequestsApp = Annotated[RequestsApplication, Depends(application_of)]
RequestSummaries = Annotated[ReadModel[RequestSummaryView], read_model_of(RequestSummaryView)]
RequestId = Annotated[
    UUID,
    Path(
        description="The request's id (from the submission or a list)",
        examples=[REQUEST_ID_EXAMPLE],
    ),
]

ERRORS: ErrorTable = {
    RequestNotFound: HttpError(404, "not_found", "Το αίτημα δεν βρέθηκε. (Request not found.)"),
    SubmissionInvalid: HttpError(
        422,
        "invalid_input",
        "Λείπουν ή είναι άκυρα πεδία.",
        lambda e: [{"field": f, "problem": p} for f, p in e.errors.items()],
    ),
    CategoryUnknown: HttpError(
        422,
        "unknown_category",
        "Άγνωστη κατηγορία.",
        lambda e: [{"field": "category", "problem": "unknown", "allowed": e.known}],
    ),
    TransitionNotAllowed: HttpError(
        409, "invalid_transition", str, lambda e: {"current": e.current, "wanted": e.wanted}
    ),
    ProtocolAlreadyAssigned: HttpError(
        409, "protocol_already_assigned", str, lambda e: {"protocol_number": e.number}
    ),
    RequestsError: HttpError(409, "conflict", str),  # any other domain rule
}


# The gateway's answer when an address submits anonymously too often (it never reaches us).
RATE_LIMITED: dict[int | str, dict[str, Any]] = {
    429: error_responses(429)[429]
    | {
        "description": "Too many submissions from this address: try again later (the gateway)",
        "headers": {
            "Retry-After": {
                "description": "Seconds to wait before trying again",
                "schema": {"type": "integer"},
            }
        },
    }
}


def scope_of(principal: Principal) -> Scope:
    """Citizens and businesses: their own; clerks: their department's; admin/auditor: all."""
    if principal.role in ("admin", "auditor"):
        return Scope(everything=True)
    if principal.role == "clerk":
        return Scope(department=principal.department)
    return Scope(owner_id=principal.user_id)


TRANSITIONS_DOC = (
    "Allowed: submitted → under_review | in_progress | rejected; under_review → in_progress | "
    "completed | rejected; in_progress → completed | rejected; completed and rejected are final."
)


@router.post(
    "/anonymous",
    status_code=202,
    response_model=AnonymousRequestAccepted,
    responses=error_responses(409, 422) | RATE_LIMITED,
    summary="Anonymous submission (SPEC R-1)",
    description="SPEC R-1. No login. Reaches the default department's inbox; returns no id, "
    "since an anonymous visitor cannot follow it. With an `Idempotency-Key`, a repeat records "
    "nothing. The gateway limits how often one address may submit (429 with `Retry-After`).",
)
def submit_anonymous(
    body: AnonymousRequestCreate,
    requests: RequestsApp,
    runtime: ServiceRuntime,
    idempotency_key: IdempotencyKey = None,
) -> AnonymousRequestAccepted:
    submission = requests.submit_anonymous(
        subject=body.subject,
        text=body.text,
        desired_action=body.desired_action,
        kind=body.kind,
        idempotency_key=idempotency_key,
    )
    runtime.settle(RequestSummaryView, submission.position)  # the clerks' inbox shows it at once
    return AnonymousRequestAccepted(
        message="Η υποβολή σας καταχωρήθηκε. (Your submission was recorded.)"
    )


@router.post(
    "",
    status_code=201,
    response_model=RequestCreated,
    responses=error_responses(401, 403, 409, 422),
    summary="Named submission (SPEC R-2)",
    description="SPEC R-2, R-3. Records the request, complaint or proposal and returns its id "
    "and number; it is already in the caller's list (`GET /requests`) when this answers. With "
    "an `Idempotency-Key`, a repeat returns the request the first call recorded; the same key "
    "with any field different is 409.",
)
def submit(
    body: RequestCreate,
    principal: CitizenOrBusiness,
    requests: RequestsApp,
    runtime: ServiceRuntime,
    idempotency_key: IdempotencyKey = None,
) -> RequestCreated:
    submission = requests.submit(
        submitted_by=principal.user_id,
        kind=body.kind,
        subject=body.subject,
        text=body.text,
        desired_action=body.desired_action,
        category=body.category,
        idempotency_key=idempotency_key,
    )
    runtime.settle(RequestSummaryView, submission.position)
    return RequestCreated(id=submission.id, number=submission.number)


@router.get(
    "",
    response_model=RequestSummaryPage,
    responses=error_responses(401),
    summary="My requests (SPEC R-5)",
    description="SPEC R-5. The caller's own requests, newest first, with status and protocol; "
    "paged (`limit`, `offset`), with the `total`.",
)
def my_requests(
    principal: CurrentPrincipal, summaries: RequestSummaries, paging: PagingParams
) -> RequestSummaryPage:
    rows, total = summaries.view.submitted_by(principal.user_id, paging.limit, paging.offset)
    return RequestSummaryPage.of([RequestSummary.of(row) for row in rows], total, paging)


@router.get(
    "/inbox",
    response_model=InboxRequestSummaryPage,
    responses=error_responses(401, 403, 422),
    summary="Clerk inbox (SPEC R-3, X-3)",
    description="SPEC R-3, X-3. A clerk's department's requests (named and anonymous), newest "
    "first; an admin sees every department or filters by one. Paged (`limit`, `offset`), with "
    "the `total`.",
)
def inbox(
    principal: ClerkOrAdmin,
    summaries: RequestSummaries,
    paging: PagingParams,
    status: Annotated[Status | None, Query(description="Only this status")] = None,
    department: Annotated[
        DepartmentCode | None,
        Query(
            description="Admin only: one department's, by its code in the department catalogue "
            "(`GET /identity/departments`); a clerk always sees their own department's",
            examples=["technical"],
        ),
    ] = None,
) -> InboxRequestSummaryPage:
    wanted = department.value if department else None
    if principal.role == "clerk":
        wanted = principal.department
        if wanted is None:  # a clerk without a department has no inbox
            return InboxRequestSummaryPage.of([], 0, paging)
    rows, total = summaries.view.inbox(
        wanted, status.value if status else None, paging.limit, paging.offset
    )
    items = [InboxRequestSummary(**row) for row in rows]
    return InboxRequestSummaryPage.of(items, total, paging)


@router.get(
    "/{request_id}",
    response_model=RequestPublic,
    responses=error_responses(401, 404),
    summary="One request (SPEC R-5)",
    description="SPEC R-5, X-1. Subject, text, the municipality's reply, protocol, status and "
    "history. Only its submitter, clerks of its department, admins and auditors see it; for "
    "anyone else it does not exist (404). The ETag is the aggregate version.",
)
def get_request(
    request_id: RequestId, principal: CurrentPrincipal, requests: RequestsApp, response: Response
) -> RequestPublic:
    detail = requests.detail(request_id, scope=scope_of(principal))
    response.headers["ETag"] = f'"{detail.request.version}"'
    return RequestPublic.of(detail)


@router.post(
    "/{request_id}/reply",
    response_model=RequestPublic,
    responses=error_responses(401, 403, 404, 409, 422),
    summary="Reply (SPEC R-3)",
    description="SPEC R-3. A clerk of the request's department (or an admin) records the "
    "municipality's reply; the latest reply is shown, every reply stays in the history. With "
    "an `Idempotency-Key`, a repeat records no second reply.",
)
def reply(
    request_id: RequestId,
    body: ReplyCreate,
    principal: ClerkOrAdmin,
    requests: RequestsApp,
    runtime: ServiceRuntime,
    idempotency_key: IdempotencyKey = None,
) -> RequestPublic:
    scope = scope_of(principal)
    position = requests.reply(
        request_id,
        body.text,
        scope=scope,
        replied_by=principal.user_id,
        idempotency_key=idempotency_key,
    )
    runtime.settle(RequestSummaryView, position)
    return RequestPublic.of(requests.detail(request_id, scope=scope))


@router.post(
    "/{request_id}/status",
    response_model=RequestPublic,
    responses=error_responses(401, 403, 404, 409, 422),
    summary="Change status (SPEC R-3)",
    description=f"SPEC R-3. A clerk of the request's department (or an admin). {TRANSITIONS_DOC} "
    "Anything else: 409.",
)
def change_status(
    request_id: RequestId,
    body: StatusUpdate,
    principal: ClerkOrAdmin,
    requests: RequestsApp,
    runtime: ServiceRuntime,
) -> RequestPublic:
    scope = scope_of(principal)
    position = requests.change_status(request_id, body.status, body.note, scope=scope)
    runtime.settle(RequestSummaryView, position)
    return RequestPublic.of(requests.detail(request_id, scope=scope))


@router.post(
    "/{request_id}/protocol",
    status_code=202,
    response_model=ProtocolRequestAccepted,
    responses=error_responses(401, 403, 404, 409),
    summary="Ask for a protocol number (SPEC R-4)",
    description="SPEC R-4. Asks the protocol registry to register the request; the number and "
    "date appear in the request (and the citizen's list) once assigned. Asking again while it "
    "is requested or pending is accepted and changes nothing (202); once it has its number: 409. "
    "A request never gets two numbers.",
)
def request_protocol(
    request_id: RequestId, principal: ClerkOrAdmin, requests: RequestsApp, runtime: ServiceRuntime
) -> ProtocolRequestAccepted:
    scope = scope_of(principal)
    position = requests.request_protocol(request_id, scope=scope)
    runtime.settle(RequestSummaryView, position)
    request = requests.get_request(request_id, scope=scope)
    return ProtocolRequestAccepted(
        id=request.id, protocol_status=request.protocol_status or "requested"
    )
