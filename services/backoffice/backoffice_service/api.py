"""HTTP API of the backoffice service, under /backoffice (SPEC X-3).

Staff only. A clerk sees their own department's worklist (asking for another department is
403: the worklists of the departments are no secret, but not theirs to work); admins and
auditors see every department's, or one. Citizens and businesses get 403.

`as_of` is the moment "overdue" and ages are computed at (default: the service's clock), so
that planners, and tests, can look ahead.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from portal_events.departments import DEPARTMENTS
from portal_web import AnyStaff, ApiError, DepartmentCode, PagingParams, Principal, error_responses
from portal_web.service import application_of
from pydantic import AfterValidator

from backoffice_service.application import BackofficeApplication
from backoffice_service.deadlines import is_overdue
from backoffice_service.schemas import (
    Applicant,
    DeadlineList,
    DeadlinePublic,
    DepartmentLoad,
    ItemKindName,
    ItemStatus,
    WorklistItem,
    WorklistItemPage,
    WorklistSummary,
)
from backoffice_service.worklist import LINK_OF

router = APIRouter(prefix="/backoffice", tags=["backoffice"])

BackofficeApp = Annotated[BackofficeApplication, Depends(application_of)]

# Far enough either way for any planning; keeps date arithmetic inside what PostgreSQL and
# Python represent.
EARLIEST_AS_OF = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_AS_OF = datetime(2200, 1, 1, tzinfo=UTC)


def _moment(value: datetime) -> datetime:
    value = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if not EARLIEST_AS_OF <= value <= LATEST_AS_OF:
        raise ValueError("as_of must be between 2000-01-01 and 2200-01-01")
    return value


AsOf = Annotated[
    datetime | None,
    AfterValidator(lambda v: None if v is None else _moment(v)),
    Query(
        description="ISO-8601 moment to compute overdue and ages at (default: now; without a "
        "zone: UTC)",
        examples=["2026-06-01T00:00:00Z"],
    ),
]
DepartmentFilter = Annotated[
    DepartmentCode | None,
    Query(
        description="Only this department's (catalogue code, `GET /identity/departments`). A "
        "clerk may only name their own (else 403); admins and auditors any, or none for all.",
        examples=["civil_registry"],
    ),
]
KindFilter = Annotated[ItemKindName | None, Query(description="Only cases of this kind")]
StatusFilter = Annotated[ItemStatus | None, Query(description="Only cases in this status")]
OverdueFilter = Annotated[
    bool | None,
    Query(description="true: only cases past their due date at `as_of`; false: only the others"),
]
IncludeClosed = Annotated[
    bool,
    Query(description="Also cases already completed, issued, rejected, assigned, paid or filed"),
]


def departments_in_scope(principal: Principal, asked: DepartmentCode | None) -> list[str] | None:
    """The departments the caller may see and asked for; None: every one (and cases of no
    department). A clerk asking for another department: 403."""
    if principal.role in ("admin", "auditor"):
        return None if asked is None else [asked.value]
    own = principal.department
    if asked is not None and asked.value != own:
        raise ApiError(
            403,
            "forbidden",
            "Ένας υπάλληλος βλέπει μόνο τη λίστα εργασιών του τμήματός του. "
            "(A clerk sees only their own department's worklist.)",
        )
    return [own] if own else []


def _item(row: dict[str, Any], as_of: datetime) -> WorklistItem:
    applicant_id = row["applicant_id"]
    return WorklistItem(
        service=row["service"],
        kind=row["kind"],
        case_type=row["case_type"],
        id=row["item_id"],
        number=row["number"],
        subject=row["subject"],
        applicant=None
        if applicant_id is None
        else Applicant(
            id=applicant_id, name=row["applicant_name"], verified=row["applicant_verified"]
        ),
        department=row["department"],
        status=row["status"],
        open=row["open"],
        received_at=row["received_at"],
        changed_at=row["changed_at"],
        due_by=row["due_by"],
        overdue=is_overdue(row["open"], row["due_by"], as_of),
        link=LINK_OF[row["kind"]].format(id=row["item_id"]),
    )


@router.get(
    "/worklist",
    response_model=WorklistItemPage,
    summary="A department's worklist",
    description="SPEC X-3: the cases a department has to work, built from every service's "
    "events: requests, certificate applications, protocol registrations pending, fines "
    "recorded by the municipal police, businesses' tax declarations accepted but not yet filed "
    "with the municipality's information system (SPEC B-2). Soonest due first (cases without "
    "a due date last), a page at a time with the total. Open cases only unless "
    "`include_closed`. A clerk sees their own department's (another `department`: 403); admins "
    "and auditors all, or one department's. `overdue` and due dates are computed at `as_of` "
    "(default now).",
    responses=error_responses(401, 403, 422),
)
def worklist(
    principal: AnyStaff,
    app: BackofficeApp,
    paging: PagingParams,
    department: DepartmentFilter = None,
    kind: KindFilter = None,
    status: StatusFilter = None,
    overdue: OverdueFilter = None,
    include_closed: IncludeClosed = False,
    as_of: AsOf = None,
) -> WorklistItemPage:
    departments = departments_in_scope(principal, department)
    moment = as_of or app.now()
    if departments == []:  # a clerk without a department has no worklist
        return WorklistItemPage.of([], 0, paging)
    rows, total = app.worklist.page(
        as_of=moment,
        departments=departments,
        kind=kind,
        status=status,
        overdue=overdue,
        include_closed=include_closed,
        limit=paging.limit,
        offset=paging.offset,
    )
    return WorklistItemPage.of([_item(row, moment) for row in rows], total, paging)


@router.get(
    "/summary",
    response_model=WorklistSummary,
    summary="Open and overdue cases per department",
    description="SPEC X-3: per department, the open cases, how many are past their due date "
    "and the median age of the open ones in days, at `as_of` (default now). A clerk sees "
    "their own department; admins and auditors every department of the catalogue.",
    responses=error_responses(401, 403, 422),
)
def summary(principal: AnyStaff, app: BackofficeApp, as_of: AsOf = None) -> WorklistSummary:
    moment = as_of or app.now()
    departments = departments_in_scope(principal, None)
    rows = app.worklist.summary(as_of=moment, departments=list(departments or DEPARTMENTS))
    return WorklistSummary(
        as_of=moment,
        items=[
            DepartmentLoad(
                department=row["department"],
                open=row["open"],
                overdue=row["overdue"],
                median_age_days=None
                if row["median_age_days"] is None
                else round(float(row["median_age_days"]), 2),
            )
            for row in rows
        ],
    )


@router.get(
    "/deadlines",
    response_model=DeadlineList,
    summary="The deadlines of the worklist",
    description="SPEC X-3: how long each kind of case may take from its submission, which "
    "statuses stop the clock, and why (ν. 2690/1999 art. 4 for citizens' applications). Data "
    "of the service (deadlines.toml, or BACKOFFICE_DEADLINES_FILE). Any staff member.",
    responses=error_responses(401, 403),
)
def deadlines(principal: AnyStaff, app: BackofficeApp) -> DeadlineList:
    return DeadlineList(
        items=[
            DeadlinePublic(kind=d.kind, days=d.days, paused_by=sorted(d.paused_by), basis=d.basis)
            for d in app.deadlines.by_kind.values()
        ]
    )
