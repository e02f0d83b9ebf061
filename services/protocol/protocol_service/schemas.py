"""What the protocol service's HTTP API answers (SPEC X-3, R-4); every field described."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal
from uuid import UUID

from portal_web import ListPage
from pydantic import BaseModel, ConfigDict, Field

DOCUMENT_ID_EXAMPLE = "3b9a4c52-1d2e-4f6a-8b7c-9d0e1f2a3b4c"

RegistrationStatus = Literal["pending", "assigned"]


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


def _department() -> Any:
    return Field(
        description="The department handling the document, whose clerks see the registration "
        "(a code of the department catalogue, `GET /identity/departments`); null: admins and "
        "auditors only",
        examples=["technical"],
    )


def _attempts() -> Any:
    return Field(description="Failed attempts so far", examples=[2])


def _last_failure() -> Any:
    return Field(
        None, description="Why the last attempt failed; null if none", examples=["HTTP 503"]
    )


class PendingRegistrationSummary(BaseModel):
    """A document still waiting for its protocol number (SPEC X-3): one line of the list."""

    document_id: UUID = _document_id()
    document_type: str = _document_type()
    title: str = _title()
    department: str | None = _department()
    attempts: int = _attempts()
    last_failure: str | None = _last_failure()
    requested_at: datetime = Field(
        description="When the registration was asked for (UTC)",
        examples=["2026-03-02T10:15:00Z"],
    )
    next_attempt_at: datetime = Field(
        description="When the next attempt is due (UTC)", examples=["2026-03-02T10:15:30Z"]
    )


class PendingRegistrationSummaryPage(ListPage[PendingRegistrationSummary]):
    """A page of the pending registrations, oldest first (SPEC X-3)."""


class RegistrationPublic(BaseModel):
    """One document's registration at the protocol registry (SPEC R-4)."""

    # Made from the Registration aggregate's attributes.
    model_config = ConfigDict(from_attributes=True)

    document_id: UUID = _document_id()
    document_type: str = _document_type()
    title: str = _title()
    department: str | None = _department()
    status: RegistrationStatus = Field(
        description="pending: the registry has not answered yet (retrying); assigned: numbered",
        examples=["assigned"],
    )
    attempts: int = _attempts()
    last_failure: str | None = _last_failure()
    next_attempt_at: datetime | None = Field(
        None,
        description="When the next attempt is due (UTC); null once assigned",
        examples=["2026-03-02T10:15:30Z"],
    )
    protocol_number: str | None = Field(
        None, description="Αριθμός πρωτοκόλλου, once assigned", examples=["2026/000017"]
    )
    protocol_date: date | None = Field(
        None, description="Ημερομηνία πρωτοκόλλου, once assigned", examples=["2026-03-02"]
    )
