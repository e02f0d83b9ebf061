"""What the backoffice service's HTTP API answers (SPEC X-3); every field described."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from portal_web import ListPage
from pydantic import BaseModel, Field

ITEM_ID_EXAMPLE = "3b9a4c52-1d2e-4f6a-8b7c-9d0e1f2a3b4c"

ItemKindName = Literal["request", "certificate", "protocol_registration", "fine", "tax_declaration"]
ItemStatus = Literal[
    "submitted",
    "under_review",
    "in_progress",
    "awaiting_applicant",
    "completed",
    "issued",
    "rejected",
    "requested",
    "pending",
    "assigned",
    "recorded",
    "paid",
    "accepted",
    "filed",
]


class Applicant(BaseModel):
    """Who the case is about, as identity last reported them."""

    id: UUID = Field(description="The user's id", examples=["0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"])
    name: str | None = Field(
        description="Full or legal name (identity's display name); null until known",
        examples=["Ελένη Παπαδοπούλου"],
    )
    verified: bool = Field(description="Verified in person by a clerk (SPEC ID-3)")


class WorklistItem(BaseModel):
    """One case on a department's worklist (SPEC X-3)."""

    service: str = Field(description="The service where the case lives", examples=["requests"])
    kind: ItemKindName = Field(description="What kind of case", examples=["request"])
    case_type: str | None = Field(
        description="What it is within its kind: a request's kind (request, complaint, "
        "proposal), a certificate's type, a registered document's type, a fine's type code, a "
        "tax declaration's period type (monthly, quarterly)",
        examples=["complaint"],
    )
    id: UUID = Field(
        description="The case's id in its service (for a protocol registration: the document's id)",
        examples=[ITEM_ID_EXAMPLE],
    )
    number: str | None = Field(
        description="Its human number (for a protocol registration: the protocol number, "
        "once assigned; for a tax declaration: the information system's receipt, once filed)",
        examples=["2026/000042"],
    )
    subject: str | None = Field(
        description="Subject or title, as the citizen or the service gave it",
        examples=["Σπασμένος φανοστάτης"],
    )
    applicant: Applicant | None = Field(
        description="The applicant (for a tax declaration: the business user who declared); "
        "null for anonymous requests and recorded fines"
    )
    department: str | None = Field(
        description="The department that handles it (department catalogue code)",
        examples=["citizen_services"],
    )
    status: ItemStatus | None = Field(description="Its current status", examples=["submitted"])
    open: bool = Field(
        description="Still to be worked (not completed, issued, rejected, assigned, paid or filed)"
    )
    received_at: datetime = Field(
        description="When it was submitted (UTC); the deadline counts from here",
        examples=["2026-03-02T10:15:00Z"],
    )
    changed_at: datetime | None = Field(
        description="When it last changed (UTC)", examples=["2026-03-03T08:00:00Z"]
    )
    due_by: datetime | None = Field(
        description="Its due date at `as_of` (GET /backoffice/deadlines; the time spent "
        "waiting for the applicant is added); null when its kind has no deadline",
        examples=["2026-04-21T10:15:00Z"],
    )
    overdue: bool = Field(description="Open and past its due date at `as_of`")
    link: str = Field(
        description="The API path where it is worked (through the gateway)",
        examples=[f"/requests/{ITEM_ID_EXAMPLE}"],
    )


class WorklistItemPage(ListPage[WorklistItem]):
    """A page of the worklist, soonest due first (SPEC X-3)."""


class DepartmentLoad(BaseModel):
    """How much open work one department has (SPEC X-3)."""

    department: str = Field(description="Department catalogue code", examples=["civil_registry"])
    open: int = Field(description="Open cases", examples=[12])
    overdue: int = Field(description="Open cases past their due date at `as_of`", examples=[2])
    median_age_days: float | None = Field(
        description="Median age of the open cases at `as_of`, in days; null without any",
        examples=[6.5],
    )


class WorklistSummary(BaseModel):
    """Open and overdue cases per department (SPEC X-3)."""

    as_of: datetime = Field(description="The moment the figures are computed at (UTC)")
    items: list[DepartmentLoad] = Field(description="One line per department in scope")


class DeadlinePublic(BaseModel):
    """How long one kind of case may take (SPEC X-3)."""

    kind: ItemKindName = Field(description="The kind of case", examples=["certificate"])
    days: int | None = Field(
        description="Calendar days from submission to the due date; null: no due date",
        examples=[50],
    )
    paused_by: list[str] = Field(
        description="Statuses during which the clock stops (waiting for the applicant)",
        examples=[["awaiting_applicant"]],
    )
    basis: str = Field(
        description="Why this deadline (law or policy), in Greek",
        examples=["Κώδικας Διοικητικής Διαδικασίας (ν. 2690/1999), άρθρο 4"],
    )


class DeadlineList(BaseModel):
    """The deadlines the worklist's due dates come from (SPEC X-3)."""

    items: list[DeadlinePublic] = Field(description="One per kind of case")
