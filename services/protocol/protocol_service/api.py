"""HTTP API of the protocol service: what is pending and what each document got (SPEC X-3, R-4)."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query
from portal_events.projections import ReadModel
from portal_web import AnyStaff, ErrorTable, HttpError, PagingParams, error_responses
from portal_web.service import application_of, read_model_of

from protocol_service.application import ProtocolApplication
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

ERRORS: ErrorTable = {
    RegistrationNotFound: HttpError(404, "not_found", "No protocol registration for this document.")
}


@router.get(
    "/registrations",
    response_model=PendingRegistrationSummaryPage,
    summary="Protocol registrations pending",
    description="SPEC X-3: the registrations still waiting for a protocol number, oldest first, "
    "a page at a time with the total (clerk, admin, auditor).",
    responses=error_responses(401, 403, 422),
)
def list_registrations(
    _: AnyStaff,
    paging: PagingParams,
    pending: PendingRegistrations,
    status: StatusFilter = "pending",
) -> PendingRegistrationSummaryPage:
    rows, total = pending.view.pending(paging.limit, paging.offset)
    items = [PendingRegistrationSummary.model_validate(row) for row in rows]
    return PendingRegistrationSummaryPage.of(items, total, paging)


@router.get(
    "/registrations/{document_id}",
    response_model=RegistrationPublic,
    summary="One document's registration",
    description="SPEC R-4, C-4: status, attempts and (once assigned) protocol number and date "
    "of a document (clerk, admin, auditor).",
    responses=error_responses(401, 403, 404, 422),
)
def get_registration(document_id: DocumentId, _: AnyStaff, app: ProtocolApp) -> RegistrationPublic:
    return RegistrationPublic.model_validate(app.registration(document_id))
