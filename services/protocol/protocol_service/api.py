"""HTTP API of the protocol service: what is pending and what each document got (SPEC X-3, R-4)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from portal_web import ApiError, Principal, error_responses, require_roles
from pydantic import BaseModel, Field

from protocol_service.application import ProtocolApplication, RegistrationNotFoundError

router = APIRouter(prefix="/protocol", tags=["protocol"])
Staff = Annotated[Principal, Depends(require_roles("clerk", "admin", "auditor"))]


class PendingRegistration(BaseModel):
    document_id: UUID
    document_type: str = Field(examples=["request"])
    title: str = Field(examples=["Αίτημα 2026/000042"])
    attempts: int = Field(description="Failed attempts so far")
    last_failure: str | None = Field(None, examples=["HTTP 503"])
    requested_at: datetime
    next_attempt_at: datetime


class PendingList(BaseModel):
    items: list[PendingRegistration]


class RegistrationOut(BaseModel):
    document_id: UUID
    document_type: str
    title: str
    status: Literal["pending", "assigned"]
    attempts: int
    last_failure: str | None = None
    next_attempt_at: datetime | None = None
    protocol_number: str | None = Field(None, examples=["2026/000017"])
    protocol_date: date | None = None


def _app(request: Request) -> ProtocolApplication:
    return request.app.state.protocol_app


@router.get(
    "/registrations",
    response_model=PendingList,
    summary="Protocol registrations pending",
    description="SPEC X-3: the registrations still waiting for a protocol number, oldest first "
    "(clerk, admin, auditor).",
    responses=error_responses(401, 403, 422),
)
def list_registrations(
    request: Request,
    _: Staff,
    status: Annotated[Literal["pending"], Query(description="Only `pending` for now")] = "pending",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> PendingList:
    rows = request.app.state.pending_view.list_pending(limit=limit, offset=offset)
    return PendingList(items=[PendingRegistration.model_validate(row) for row in rows])


@router.get(
    "/registrations/{document_id}",
    response_model=RegistrationOut,
    summary="One document's registration",
    description="SPEC R-4, C-4: status, attempts and (once assigned) protocol number and date "
    "of a document (clerk, admin, auditor).",
    responses=error_responses(401, 403, 404, 422),
)
def get_registration(request: Request, document_id: UUID, _: Staff) -> RegistrationOut:
    try:
        registration = _app(request).registration(document_id)
    except RegistrationNotFoundError:
        raise ApiError(404, "not_found", "No protocol registration for this document.") from None
    return RegistrationOut(
        document_id=registration.document_id,
        document_type=registration.document_type,
        title=registration.title,
        status=registration.status,
        attempts=registration.attempts,
        last_failure=registration.last_failure,
        next_attempt_at=registration.next_attempt_at,
        protocol_number=registration.protocol_number,
        protocol_date=registration.protocol_date,
    )
