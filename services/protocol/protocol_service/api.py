"""HTTP API of the protocol service: what is pending and what each document got (SPEC X-3, R-4).

Staff only, each within their scope (issue 6): a clerk sees their own department's
registrations, admins and auditors every one. Another department's registration does not exist
for a clerk (404, not 403: its existence is not revealed).
"""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query
from portal_events.projections import ReadModel
from portal_web import (
    AnyStaff,
    DepartmentCode,
    ErrorTable,
    HttpError,
    PagingParams,
    Principal,
    error_responses,
)
from portal_web.service import application_of, read_model_of

from protocol_service.application import EVERYTHING, ProtocolApplication, Scope
from protocol_service.domainmodel import RegistrationNotFound
from protocol_service.schemas import (
    DOCUMENT_ID_EXAMPLE,
    PendingRegistrationSummary,
    PendingRegistrationSummaryPage,
    RegistrationPublic,
)
from protocol_service.views import PendingRegistrationView

router = APIRouter(prefix="/protocol", tags=["protocol"])

ProtocolApp = Annotated[ProtocolApplication, Depends(application_of)]
PendingRegistrations = Annotated[
    ReadModel[PendingRegistrationView], read_model_of(PendingRegistrationView)
]
DocumentId = Annotated[
    UUID,
    Path(
        description="The document's id (for a request: the request's id)",
        examples=[DOCUMENT_ID_EXAMPLE],
    ),
]
# A closed set, stricter than free text: anything else (control characters included) is 422.
StatusFilter = Annotated[
    Literal["pending"], Query(description="Which registrations: only `pending` for now")
]
DepartmentFilter = Annotated[
    DepartmentCode | None,
    Query(
        description="Admins and auditors: only this department's, by its code in the department "
        "catalogue (`GET /identity/departments`). A clerk always sees their own department's.",
        examples=["technical"],
    ),
]

ERRORS: ErrorTable = {
    RegistrationNotFound: HttpError(404, "not_found", "No protocol registration for this document.")
}


def scope_of(principal: Principal) -> Scope:
    """Admins and auditors: every registration; a clerk: their department's (none without
    one)."""
    if principal.role in ("admin", "auditor"):
        return EVERYTHING
    return Scope(department=principal.department)


@router.get(
    "/registrations",
    response_model=PendingRegistrationSummaryPage,
    summary="Protocol registrations pending",
    description="SPEC X-3: the registrations still waiting for a protocol number, oldest first, "
    "a page at a time with the total. A clerk sees their own department's; admins and auditors "
    "see all, or one department's (`department`).",
    responses=error_responses(401, 403, 422),
)
def list_registrations(
    principal: AnyStaff,
    paging: PagingParams,
    pending: PendingRegistrations,
    status: StatusFilter = "pending",
    department: DepartmentFilter = None,
) -> PendingRegistrationSummaryPage:
    scope = scope_of(principal)
    wanted = department.value if department else None
    if not scope.everything:
        wanted = scope.department
        if wanted is None:  # a clerk without a department sees no registration
            return PendingRegistrationSummaryPage.of([], 0, paging)
    rows, total = pending.view.pending(paging.limit, paging.offset, department=wanted)
    items = [PendingRegistrationSummary.model_validate(row) for row in rows]
    return PendingRegistrationSummaryPage.of(items, total, paging)


@router.get(
    "/registrations/{document_id}",
    response_model=RegistrationPublic,
    summary="One document's registration",
    description="SPEC R-4, C-4: status, attempts and (once assigned) protocol number and date "
    "of a document. A clerk sees their own department's (another department's: 404); admins "
    "and auditors see all.",
    responses=error_responses(401, 403, 404, 422),
)
def get_registration(
    document_id: DocumentId, principal: AnyStaff, app: ProtocolApp
) -> RegistrationPublic:
    registration = app.registration(document_id, scope=scope_of(principal))
    return RegistrationPublic.model_validate(registration)
