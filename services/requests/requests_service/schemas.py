"""What the requests API accepts and answers (SPEC R-1..R-5): request and response models only.

Every string accepted goes through the kit's `text(n)` (NFC, no control characters, stripped,
at most n characters), so nothing that a PostgreSQL text column would refuse is ever recorded.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from uuid import UUID

from portal_web import ListPage, text
from pydantic import BaseModel, ConfigDict, Field

from requests_service.application import RequestDetail
from requests_service.domainmodel import (
    CATEGORY_MAX,
    DESIRED_ACTION_MAX,
    NOTE_MAX,
    SUBJECT_MAX,
    TEXT_MAX,
    Kind,
    Status,
)

Subject = text(SUBJECT_MAX)
Text = text(TEXT_MAX)
DesiredAction = text(DESIRED_ACTION_MAX)
Note = text(NOTE_MAX)
Category = text(CATEGORY_MAX)

REQUEST_ID_EXAMPLE = "3b9a4c52-1d2e-4f6a-8b7c-9d0e1f2a3b4c"


def _id() -> Any:
    return Field(description="The request's id", examples=[REQUEST_ID_EXAMPLE])


def _number() -> Any:
    return Field(description="Α.Α.: sequential per year", examples=["2026/000042"])


def _kind() -> Any:
    return Field(description="Αίτημα / Καταγγελία / Πρόταση", examples=["complaint"])


def _subject() -> Any:
    return Field(description="Θέμα", examples=["Λακκούβα στην οδό Ερμού"])


def _status() -> Any:
    return Field(
        description="submitted, under_review, in_progress, completed or rejected",
        examples=["in_progress"],
    )


def _protocol_status(default: Any = ...) -> Any:
    return Field(
        default,
        description="requested, pending (registry retrying) or assigned; null if never",
        examples=["assigned"],
    )


def _submitted_at() -> Any:
    return Field(description="When it was submitted (UTC)", examples=["2026-03-02T10:15:00Z"])


def _category() -> Any:
    return Field(description="The category given at submission; null if none", examples=["roads"])


def _department() -> Any:
    return Field(
        description="The competent department, whose clerks' inbox it is in: a code of the "
        "department catalogue (`GET /identity/departments`)",
        examples=["technical"],
    )


def _anonymous() -> Any:
    return Field(description="Submitted without login (SPEC R-1)")


# --- bodies ------------------------------------------------------------------------------------


class AnonymousRequestCreate(BaseModel):
    """R-1: no login; the visitor cannot follow it afterwards."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "subject": "Σκουπίδια στην πλατεία",
                    "text": "Οι κάδοι στην πλατεία Αγίου Νικολάου δεν έχουν αδειάσει.",
                    "desired_action": "Αποκομιδή",
                }
            ]
        }
    )

    subject: Subject = Field(description=f"Θέμα, at most {SUBJECT_MAX} characters")
    text: Text = Field(description=f"Κείμενο, at most {TEXT_MAX} characters")
    desired_action: DesiredAction | None = Field(
        None, description=f"Επιθυμητή Ενέργεια, at most {DESIRED_ACTION_MAX} characters"
    )
    kind: Kind = Field(Kind.REQUEST, description="request, complaint or proposal")


class RequestCreate(BaseModel):
    """R-2: a logged-in citizen's or business's request, complaint or proposal."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kind": "complaint",
                    "subject": "Λακκούβα στην οδό Ερμού",
                    "text": "Μεγάλη λακκούβα μπροστά στο νούμερο 12.",
                    "desired_action": "Επισκευή του οδοστρώματος",
                    "category": "roads",
                }
            ]
        }
    )

    kind: Kind = Field(description="Αίτημα / Καταγγελία / Πρόταση")
    subject: Subject = Field(description=f"Θέμα, at most {SUBJECT_MAX} characters")
    text: Text = Field(description=f"Κείμενο, at most {TEXT_MAX} characters")
    desired_action: DesiredAction | None = Field(
        None, description=f"Επιθυμητή Ενέργεια, at most {DESIRED_ACTION_MAX} characters"
    )
    category: Category | None = Field(
        None,
        description="Decides the competent department through the routing table (e.g. roads → "
        "technical); an unknown category is 422, listing the known ones; none: the default "
        "department",
    )


class ReplyCreate(BaseModel):
    """R-3: the municipality's reply to a request."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"text": "Το συνεργείο θα επισκευάσει τη λακκούβα."}]}
    )

    text: Text = Field(description=f"The municipality's reply, at most {TEXT_MAX} characters")


class StatusUpdate(BaseModel):
    """R-3: a status change, with an optional note."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"status": "in_progress", "note": "Ανατέθηκε"}]}
    )

    status: Status = Field(description="New status; see the allowed transitions")
    note: Note | None = Field(None, description=f"Why, at most {NOTE_MAX} characters")


# --- answers -----------------------------------------------------------------------------------


class RequestCreated(BaseModel):
    """The answer to a named submission (R-2): the user gets back its id and number."""

    id: UUID = _id()
    number: str = _number()


class AnonymousRequestAccepted(BaseModel):
    """The answer to an anonymous submission (R-1): a confirmation, no id to follow."""

    message: str = Field(
        description="Confirmation for the visitor (Greek, with English)",
        examples=["Η υποβολή σας καταχωρήθηκε."],
    )


class ProtocolPublic(BaseModel):
    """The protocol registry's number and date of a request (R-4)."""

    number: str = Field(description="Αριθμός πρωτοκόλλου", examples=["1234"])
    date: dt.date = Field(description="Ημερομηνία πρωτοκόλλου", examples=["2026-03-02"])

    @classmethod
    def of(cls, number: str | None, date: str | dt.date | None) -> ProtocolPublic | None:
        return None if number is None else cls(number=number, date=date)


class RequestSummary(BaseModel):
    """One line of the citizen's list (R-5)."""

    id: UUID = _id()
    number: str = _number()
    kind: Kind = _kind()
    subject: str = _subject()
    status: Status = _status()
    protocol: ProtocolPublic | None = Field(None, description="Once the registry assigned it")
    protocol_status: str | None = _protocol_status(None)
    submitted_at: dt.datetime = _submitted_at()
    updated_at: dt.datetime = Field(
        description="When it last changed (UTC)", examples=["2026-03-03T08:30:00Z"]
    )

    @classmethod
    def of(cls, row: dict[str, Any]) -> RequestSummary:
        return cls(**row, protocol=ProtocolPublic.of(row["protocol_number"], row["protocol_date"]))


class InboxRequestSummary(BaseModel):
    """One line of a clerk's inbox (R-3, X-3)."""

    id: UUID = _id()
    number: str = _number()
    kind: Kind = _kind()
    subject: str = _subject()
    status: Status = _status()
    anonymous: bool = _anonymous()
    category: str | None = _category()
    department: str = _department()
    protocol_status: str | None = _protocol_status()
    submitted_at: dt.datetime = _submitted_at()


class HistoryEntry(BaseModel):
    """One recorded change of the request (every change is kept)."""

    at: dt.datetime = Field(description="When it happened (UTC)", examples=["2026-03-02T10:15:00Z"])
    event: str = Field(
        description="What happened: the event's stable name (Submitted, StatusChanged, Replied, "
        "ProtocolRequested, ProtocolPending, ProtocolAssigned)",
        examples=["StatusChanged"],
    )
    status: Status | None = Field(
        None, description="The status after this change, if it set one", examples=["in_progress"]
    )
    note: str | None = Field(
        None, description="The clerk's note on a status change, if any", examples=["Ανατέθηκε"]
    )
    actor_role: str | None = Field(
        None, description="The role of whoever made the change", examples=["clerk"]
    )


class RequestPublic(RequestSummary):
    """The full request (R-5), read from the event store: always the latest state."""

    text: str = Field(description="Κείμενο", examples=["Μεγάλη λακκούβα μπροστά στο νούμερο 12."])
    desired_action: str | None = Field(
        description="Επιθυμητή Ενέργεια; null if not given",
        examples=["Επισκευή του οδοστρώματος"],
    )
    category: str | None = _category()
    department: str = _department()
    anonymous: bool = _anonymous()
    reply: str | None = Field(
        None,
        description="Η απάντηση του Δήμου (the latest reply); null until one is given",
        examples=["Ενημερώθηκε το συνεργείο."],
    )
    history: list[HistoryEntry] = Field(description="Every change, oldest first")

    @classmethod
    def of(cls, detail: RequestDetail) -> RequestPublic:
        r = detail.request
        return cls(
            id=r.id,
            number=r.number,
            kind=r.kind,
            subject=r.subject,
            status=r.status,
            protocol=ProtocolPublic.of(r.protocol_number, r.protocol_date),
            protocol_status=r.protocol_status,
            submitted_at=r.created_on,
            updated_at=r.modified_on,
            text=r.text,
            desired_action=r.desired_action,
            category=r.category,
            department=r.department,
            anonymous=r.anonymous,
            reply=r.reply,
            history=[HistoryEntry(**vars(change)) for change in detail.history],
        )


class ProtocolRequestAccepted(BaseModel):
    """The answer to asking for a protocol number (R-4): where the request stands."""

    id: UUID = _id()
    protocol_status: str = Field(
        description="requested, pending (registry retrying) or assigned",
        examples=["requested"],
    )


class RequestSummaryPage(ListPage[RequestSummary]):
    """A page of the caller's own requests, newest first (SPEC R-5)."""


class InboxRequestSummaryPage(ListPage[InboxRequestSummary]):
    """A page of a clerk's inbox, newest first (SPEC R-3, X-3)."""
