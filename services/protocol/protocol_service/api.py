"""HTTP API of the protocol service: what is pending and what each document got (SPEC X-3, R-4)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Request
from portal_web import ApiError, Principal, error_responses, require_roles
from pydantic import BaseModel, Field

from protocol_service.application import ProtocolApplication, RegistrationNotFoundError

router = APIRouter(prefix="/protocol", tags=["protocol"])
Staff = Annotated[Principal, Depends(require_roles("clerk", "admin", "auditor"))]

DOCUMENT_ID_EXAMPLE = "3b9a4c52-1d2e-4f6a-8b7c-9d0e1f2a3b4c"
DocumentId = Annotated[
    UUID,
    Path(
        description="The document's id (for a request: the request's id)",
        examples=[DOCUMENT_ID_EXAMPLE],
    ),
]


def _document_id() -> Any:
    return Field(
        description="The document's id (for a request: the request's id); also the "
        "idempotency key at the registry",
        examples=[DOCUMENT_ID_EXAMPLE],
    )


def _document_type() -> Any:
    return Field(description="What kind of document it is", examples=["request"])


def _title() -> Any:
    return Field(description="The title sent to the registry", examples=["Αίτημα 2026/000042"])


def _attempts() -> Any:
    return Field(description="Failed attempts so far", examples=[2])


def _last_failure(default: Any = ...) -> Any:
    return Field(
        default, description="Why the last attempt failed; null if none", examples=["HTTP 503"]
    )


def _next_attempt_at(default: Any = ...) -> Any:
    return Field(
        default,
        description="When the next attempt is due (UTC); null once assigned",
        examples=["2026-03-02T10:15:30Z"],
    )


class PendingRegistration(BaseModel):
    """A document still waiting for its protocol number (SPEC X-3)."""

    document_id: UUID = _document_id()
    document_type: str = _document_type()
    title: str = _title()
    attempts: int = _attempts()
    last_failure: str | None = _last_failure(None)
    requested_at: datetime = Field(
        description="When the registration was asked for (UTC)",
        examples=["2026-03-02T10:15:00Z"],
    )
    next_attempt_at: datetime = Field(
        description="When the next attempt is due (UTC)", examples=["2026-03-02T10:15:30Z"]
    )


class PendingList(BaseModel):
    items: list[PendingRegistration] = Field(description="Pending registrations, oldest first")


class RegistrationOut(BaseModel):
    """One document's registration at the protocol registry (SPEC R-4)."""

    document_id: UUID = _document_id()
    document_type: str = _document_type()
    title: str = _title()
    status: Literal["pending", "assigned"] = Field(
        description="pending: the registry has not answered yet (retrying); assigned: numbered",
        examples=["assigned"],
    )
    attempts: int = _attempts()
    last_failure: str | None = _last_failure(None)
    next_attempt_at: datetime | None = _next_attempt_at(None)
    protocol_number: str | None = Field(
        None, description="Αριθμός πρωτοκόλλου, once assigned", examples=["2026/000017"]
    )
    protocol_date: date | None = Field(
        None, description="Ημερομηνία πρωτοκόλλου, once assigned", examples=["2026-03-02"]
    )


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
    limit: Annotated[int, Query(ge=1, le=500, description="Page size (1-500)")] = 100,
    offset: Annotated[int, Query(ge=0, description="How many to skip (paging)")] = 0,
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
def get_registration(request: Request, document_id: DocumentId, _: Staff) -> RegistrationOut:
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
