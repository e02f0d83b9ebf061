"""HTTP API of the requests service, under /requests (SPEC R-1..R-5).

Routes that call the Application are plain `def` (the library is synchronous). Domain errors
become the shared error shape: not found / not yours -> 404, conflicts -> 409, invalid -> 422.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

import structlog
from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from portal_events.projections import ReadModel
from portal_web import ApiError, CurrentPrincipal, Principal, error_responses, require_roles
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from requests_service.application import (
    Contention,
    RequestDetail,
    RequestsApplication,
    Scope,
)
from requests_service.domainmodel import (
    CATEGORY_MAX,
    DESIRED_ACTION_MAX,
    NOTE_MAX,
    SUBJECT_MAX,
    TEXT_MAX,
    IdempotencyKeyReused,
    InvalidSubmission,
    InvalidTransition,
    Kind,
    ProtocolAlreadyAssigned,
    RequestNotFound,
    RequestsError,
    Status,
    UnknownCategory,
)
from requests_service.views import Page, RequestSummaries

log = structlog.get_logger(__name__)

router = APIRouter(prefix="/requests", tags=["requests"])


@dataclass
class Services:
    """What the routes need, built once per process in main.py's lifespan."""

    app: RequestsApplication
    read_model: ReadModel[RequestSummaries]
    read_your_writes_timeout: float

    @property
    def summaries(self) -> RequestSummaries:
        return self.read_model.view

    def wait_for_view(self, position: int | None) -> None:
        """Read-your-writes: let the projection reach this write before answering."""
        self.read_model.wait(position, self.read_your_writes_timeout)


def services(request: Request) -> Services:
    return request.app.state.requests


ServicesDep = Annotated[Services, Depends(services)]


def page(
    limit: Annotated[
        int, Query(ge=1, le=500, description="How many items at most (newest first)")
    ] = 100,
    offset: Annotated[int, Query(ge=0, description="How many of the newest to skip")] = 0,
) -> Page:
    return Page(limit=limit, offset=offset)


PageDep = Annotated[Page, Depends(page)]
Staff = Annotated[Principal, Depends(require_roles("clerk", "admin"))]
Submitter = Annotated[Principal, Depends(require_roles("citizen", "business"))]


def scope_of(principal: Principal) -> Scope:
    """Citizens and businesses: their own; clerks: their department's; admin/auditor: all."""
    if principal.role in ("admin", "auditor"):
        return Scope(everything=True)
    if principal.role == "clerk":
        return Scope(department=principal.department)
    return Scope(owner_id=principal.user_id)


@contextmanager
def domain_errors() -> Iterator[None]:
    """Translate the domain's exceptions into the shared HTTP error shape."""
    try:
        yield
    except RequestNotFound as exc:
        raise ApiError(404, "not_found", "Το αίτημα δεν βρέθηκε. (Request not found.)") from exc
    except InvalidSubmission as exc:
        details = [{"field": f, "problem": p} for f, p in exc.errors.items()]
        raise ApiError(422, "invalid_input", "Λείπουν ή είναι άκυρα πεδία.", details) from exc
    except UnknownCategory as exc:
        details = [{"field": "category", "problem": "unknown", "allowed": exc.known}]
        raise ApiError(422, "unknown_category", "Άγνωστη κατηγορία.", details) from exc
    except InvalidTransition as exc:
        details = {"current": exc.current, "wanted": exc.wanted}
        raise ApiError(409, "invalid_transition", str(exc), details) from exc
    except ProtocolAlreadyAssigned as exc:
        details = {"protocol_number": exc.number}
        raise ApiError(409, "protocol_already_assigned", str(exc), details) from exc
    except IdempotencyKeyReused as exc:
        raise ApiError(409, "idempotency_key_reused", str(exc)) from exc
    except Contention as exc:
        raise ApiError(409, "conflict", str(exc)) from exc
    except RequestsError as exc:  # any other domain rule
        raise ApiError(409, "conflict", str(exc)) from exc


# --- models ------------------------------------------------------------------------------------


def _text(max_length: int) -> Any:
    # Stripped first, so whitespace-only counts as missing (R-2: clear error, nothing recorded).
    return Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=max_length)
    ]


Subject = _text(SUBJECT_MAX)
Text = _text(TEXT_MAX)
DesiredAction = _text(DESIRED_ACTION_MAX)
Note = _text(NOTE_MAX)
Category = _text(CATEGORY_MAX)

REQUEST_ID_EXAMPLE = "3b9a4c52-1d2e-4f6a-8b7c-9d0e1f2a3b4c"
RequestId = Annotated[
    UUID,
    Path(
        description="The request's id (from the submission or a list)",
        examples=[REQUEST_ID_EXAMPLE],
    ),
]


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


class AnonymousSubmission(BaseModel):
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

    subject: Subject = Field(description="Θέμα, at most 200 characters")
    text: Text = Field(description="Κείμενο, at most 5000 characters")
    desired_action: DesiredAction | None = Field(
        None, description="Επιθυμητή Ενέργεια, at most 2000 characters"
    )
    kind: Kind = Field(Kind.REQUEST, description="request, complaint or proposal")


class NamedSubmission(BaseModel):
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
    subject: Subject = Field(description="Θέμα, at most 200 characters")
    text: Text = Field(description="Κείμενο, at most 5000 characters")
    desired_action: DesiredAction | None = Field(
        None, description="Επιθυμητή Ενέργεια, at most 2000 characters"
    )
    category: Category | None = Field(
        None, description="Decides the competent department (routing.toml); none: default"
    )


class Created(BaseModel):
    id: UUID = _id()
    number: str = _number()


class Receipt(BaseModel):
    message: str = Field(
        description="Confirmation for the visitor (Greek, with English)",
        examples=["Η υποβολή σας καταχωρήθηκε."],
    )


class ProtocolInfo(BaseModel):
    number: str = Field(description="Αριθμός πρωτοκόλλου", examples=["1234"])
    date: dt.date = Field(description="Ημερομηνία πρωτοκόλλου", examples=["2026-03-02"])


class RequestSummary(BaseModel):
    """One line of the citizen's list (R-5)."""

    id: UUID = _id()
    number: str = _number()
    kind: Kind = _kind()
    subject: str = _subject()
    status: Status = _status()
    protocol: ProtocolInfo | None = Field(None, description="Once the registry assigned it")
    protocol_status: str | None = _protocol_status(None)
    submitted_at: dt.datetime = _submitted_at()
    updated_at: dt.datetime = Field(
        description="When it last changed (UTC)", examples=["2026-03-03T08:30:00Z"]
    )


class InboxItem(BaseModel):
    """One line of a clerk's inbox (R-3, X-3)."""

    id: UUID = _id()
    number: str = _number()
    kind: Kind = _kind()
    subject: str = _subject()
    status: Status = _status()
    anonymous: bool = Field(description="Submitted without login (SPEC R-1)")
    category: str | None = Field(
        description="The category given at submission; null if none", examples=["roads"]
    )
    department: str = Field(
        description="The competent department (whose inbox it is in)", examples=["technical"]
    )
    protocol_status: str | None = _protocol_status()
    submitted_at: dt.datetime = _submitted_at()


class HistoryItem(BaseModel):
    """One recorded change of the request (every change is kept)."""

    at: dt.datetime = Field(description="When it happened (UTC)", examples=["2026-03-02T10:15:00Z"])
    event: str = Field(description="What happened (the event's name)", examples=["StatusChanged"])
    status: Status | None = Field(
        None, description="The status after this change, if it set one", examples=["in_progress"]
    )
    note: str | None = Field(
        None, description="The clerk's note on a status change, if any", examples=["Ανατέθηκε"]
    )
    actor_role: str | None = Field(
        None, description="The role of whoever made the change", examples=["clerk"]
    )


class RequestView(RequestSummary):
    """The full request (R-5), read from the event store: always the latest state."""

    text: str = Field(description="Κείμενο", examples=["Μεγάλη λακκούβα μπροστά στο νούμερο 12."])
    desired_action: str | None = Field(
        description="Επιθυμητή Ενέργεια; null if not given",
        examples=["Επισκευή του οδοστρώματος"],
    )
    category: str | None = Field(
        description="The category given at submission; null if none", examples=["roads"]
    )
    department: str = Field(
        description="The competent department (whose inbox it is in)", examples=["technical"]
    )
    anonymous: bool = Field(description="Submitted without login (SPEC R-1)")
    reply: str | None = Field(
        None,
        description="Η απάντηση του Δήμου (the latest reply); null until one is given",
        examples=["Ενημερώθηκε το συνεργείο."],
    )
    history: list[HistoryItem] = Field(description="Every change, oldest first")


class ReplyBody(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"text": "Το συνεργείο θα επισκευάσει τη λακκούβα."}]}
    )

    text: Text = Field(description="The municipality's reply, at most 5000 characters")


class StatusBody(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"status": "in_progress", "note": "Ανατέθηκε"}]}
    )

    status: Status = Field(description="New status; see the allowed transitions")
    note: Note | None = Field(None, description="Why, at most 2000 characters")


class ProtocolAccepted(BaseModel):
    id: UUID = _id()
    protocol_status: str = Field(
        description="requested, pending (registry retrying) or assigned",
        examples=["requested"],
    )


def _protocol(row: dict[str, Any]) -> ProtocolInfo | None:
    if row.get("protocol_number") is None:
        return None
    return ProtocolInfo(number=row["protocol_number"], date=row["protocol_date"])


def _request_view(detail: RequestDetail) -> RequestView:
    r = detail.request
    return RequestView(
        id=r.id,
        number=r.number,
        kind=r.kind,
        subject=r.subject,
        status=r.status,
        protocol=_protocol(vars(r)),
        protocol_status=r.protocol_status,
        submitted_at=r.created_on,
        updated_at=r.modified_on,
        text=r.text,
        desired_action=r.desired_action,
        category=r.category,
        department=r.department,
        anonymous=r.anonymous,
        reply=r.reply,
        history=[HistoryItem(**vars(h)) for h in detail.history],
    )


# --- routes ------------------------------------------------------------------------------------

TRANSITIONS_DOC = (
    "Allowed: submitted → under_review | in_progress | rejected; under_review → in_progress | "
    "completed | rejected; in_progress → completed | rejected; completed and rejected are final."
)


@router.post(
    "/anonymous",
    status_code=202,
    response_model=Receipt,
    responses=error_responses(422),
    summary="Anonymous submission (SPEC R-1)",
    description="SPEC R-1. No login. Reaches the default department's inbox; returns no id, "
    "since an anonymous visitor cannot follow it.",
)
def submit_anonymous(body: AnonymousSubmission, svc: ServicesDep) -> Receipt:
    with domain_errors():
        submission = svc.app.submit_anonymous(
            subject=body.subject,
            text=body.text,
            desired_action=body.desired_action,
            kind=body.kind,
        )
    svc.wait_for_view(submission.position)  # so that the clerks' inbox shows it at once
    return Receipt(message="Η υποβολή σας καταχωρήθηκε. (Your submission was recorded.)")


@router.post(
    "",
    status_code=201,
    response_model=Created,
    responses=error_responses(401, 403, 409, 422),
    summary="Named submission (SPEC R-2)",
    description="SPEC R-2, R-3. Records the request, complaint or proposal and returns its id "
    "and number; it is already in the caller's list (`GET /requests`) when this answers.",
)
def submit(
    body: NamedSubmission,
    principal: Submitter,
    svc: ServicesDep,
    idempotency_key: Annotated[
        str | None,
        Header(
            min_length=8,
            max_length=100,
            description="Optional. A repeat with the same key (a double click, a retry) returns "
            "the request the first one recorded and records nothing; the same key with a "
            "different submission is 409.",
            examples=["7c1f7e9e-3c4b-4a0e-8a57-1d7d6a1b2f10"],
        ),
    ] = None,
) -> Created:
    with domain_errors():
        submission = svc.app.submit(
            submitted_by=principal.user_id,
            kind=body.kind,
            subject=body.subject,
            text=body.text,
            desired_action=body.desired_action,
            category=body.category,
            idempotency_key=idempotency_key,
        )
    svc.wait_for_view(submission.position)
    return Created(id=submission.id, number=submission.number)


@router.get(
    "",
    response_model=list[RequestSummary],
    responses=error_responses(401),
    summary="My requests (SPEC R-5)",
    description="SPEC R-5. The caller's own requests, newest first, with status and protocol.",
)
def my_requests(
    principal: CurrentPrincipal, svc: ServicesDep, page: PageDep
) -> list[RequestSummary]:
    return [
        RequestSummary(**row, protocol=_protocol(row))
        for row in svc.summaries.submitted_by(principal.user_id, page)
    ]


@router.get(
    "/inbox",
    response_model=list[InboxItem],
    responses=error_responses(401, 403),
    summary="Clerk inbox (SPEC R-3, X-3)",
    description="SPEC R-3, X-3. A clerk's department's requests (named and anonymous), newest "
    "first; an admin sees every department or filters by one.",
)
def inbox(
    principal: Staff,
    svc: ServicesDep,
    page: PageDep,
    status: Annotated[Status | None, Query(description="Only this status")] = None,
    department: Annotated[
        str | None, Query(max_length=CATEGORY_MAX, description="Admin only: one department")
    ] = None,
) -> list[InboxItem]:
    if principal.role == "clerk":
        department = principal.department
        if department is None:  # a clerk without a department has no inbox
            return []
    rows = svc.summaries.inbox(department, status.value if status else None, page)
    return [InboxItem(**row) for row in rows]


@router.get(
    "/{request_id}",
    response_model=RequestView,
    responses=error_responses(401, 404),
    summary="One request (SPEC R-5)",
    description="SPEC R-5, X-1. Subject, text, the municipality's reply, protocol, status and "
    "history. Only its submitter, clerks of its department, admins and auditors see it; for "
    "anyone else it does not exist (404). The ETag is the aggregate version.",
)
def get_request(
    request_id: RequestId, principal: CurrentPrincipal, svc: ServicesDep, response: Response
) -> RequestView:
    with domain_errors():
        detail = svc.app.detail(request_id, scope=scope_of(principal))
    response.headers["ETag"] = f'"{detail.request.version}"'
    return _request_view(detail)


def _handled(
    svc: Services, request_id: UUID, principal: Principal, position: int | None
) -> RequestView:
    svc.wait_for_view(position)
    with domain_errors():
        return _request_view(svc.app.detail(request_id, scope=scope_of(principal)))


@router.post(
    "/{request_id}/reply",
    response_model=RequestView,
    responses=error_responses(401, 403, 404, 422),
    summary="Reply (SPEC R-3)",
    description="SPEC R-3. A clerk of the request's department (or an admin) records the "
    "municipality's reply; the latest reply is shown, every reply stays in the history.",
)
def reply(
    request_id: RequestId, body: ReplyBody, principal: Staff, svc: ServicesDep
) -> RequestView:
    with domain_errors():
        position = svc.app.reply(request_id, body.text, scope=scope_of(principal))
    return _handled(svc, request_id, principal, position)


@router.post(
    "/{request_id}/status",
    response_model=RequestView,
    responses=error_responses(401, 403, 404, 409, 422),
    summary="Change status (SPEC R-3)",
    description=f"SPEC R-3. A clerk of the request's department (or an admin). {TRANSITIONS_DOC} "
    "Anything else: 409.",
)
def change_status(
    request_id: RequestId, body: StatusBody, principal: Staff, svc: ServicesDep
) -> RequestView:
    with domain_errors():
        position = svc.app.change_status(
            request_id, body.status, body.note, scope=scope_of(principal)
        )
    return _handled(svc, request_id, principal, position)


@router.post(
    "/{request_id}/protocol",
    status_code=202,
    response_model=ProtocolAccepted,
    responses=error_responses(401, 403, 404, 409),
    summary="Ask for a protocol number (SPEC R-4)",
    description="SPEC R-4. Asks the protocol registry to register the request; the number and "
    "date appear in the request (and the citizen's list) once assigned. Asking again while it "
    "is requested or pending is accepted and changes nothing (202); once it has its number: 409. "
    "A request never gets two numbers.",
)
def request_protocol(request_id: RequestId, principal: Staff, svc: ServicesDep) -> ProtocolAccepted:
    scope = scope_of(principal)
    with domain_errors():
        position = svc.app.request_protocol(request_id, scope=scope)
        svc.wait_for_view(position)
        request = svc.app.get_request(request_id, scope=scope)
    return ProtocolAccepted(id=request.id, protocol_status=request.protocol_status or "requested")
