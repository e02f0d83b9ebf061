"""HTTP API of the audit service (SPEC X-1): a case's history across services, its state at a
moment, the export of stored events, the integrity of every service's history, and the audit
trail of the auditors' own reads.

Auditors and admins only. Every read is recorded as an event of the audit service before the
answer is given (`AuditApplication.record_read`): who, what, which case or query, when.

A case is named by any of its aggregates' ids or by a human number (`2026/000042`, which holds a
slash: the case is the rest of the path).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated, Any
from uuid import UUID

import httpx
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import StreamingResponse
from portal_events.projections import ReadModel
from portal_web import ApiError, ErrorTable, HttpError, PagingParams, Principal, text
from portal_web import error_responses as responses_for
from portal_web.auth import require_roles
from portal_web.service import ServiceRuntime, application_of, read_model_of, resource_of
from pydantic import AwareDatetime

from audit_service.application import AuditApplication
from audit_service.archive import CaseRoot, ExportFilter
from audit_service.domainmodel import (
    CaseNotFound,
    ReadKind,
    StateNotFound,
    StateUnavailable,
)
from audit_service.schemas import (
    AGGREGATE_ID_EXAMPLE,
    CASE_EXAMPLE,
    AuditorReadSummary,
    AuditorReadSummaryPage,
    CaseHistory,
    CaseRootPublic,
    CaseState,
    CheckpointPublic,
    IntegrityReport,
    ServiceIntegrity,
    VerificationPublic,
)
from audit_service.views import AuditTrailView, LastVerificationView

router = APIRouter(prefix="/audit", tags=["audit"])

HISTORY_CLIENT = "history_client"
"""The resource: an HTTP client for the services' history routes."""

AuditApp = Annotated[AuditApplication, Depends(application_of)]
AuditorOrAdmin = Annotated[Principal, Depends(require_roles("auditor", "admin"))]
Trail = Annotated[ReadModel[AuditTrailView], read_model_of(AuditTrailView)]
Verifications = Annotated[ReadModel[LastVerificationView], read_model_of(LastVerificationView)]
HistoryClient = Annotated[httpx.Client, resource_of(HISTORY_CLIENT)]

CaseParam = Annotated[
    text(100),
    Path(
        description="Any aggregate id of the case (a request's, its protocol registration's, "
        "a notification's) or a human number (`2026/000042`: a request's number or a protocol "
        "number)",
        examples=[CASE_EXAMPLE],
    ),
]
Instant = Annotated[
    AwareDatetime,
    Query(
        description="An instant, ISO-8601 with its offset (e.g. 2026-03-01T10:15:00+02:00)",
        examples=["2026-03-01T10:15:00+02:00"],
    ),
]

ERRORS: ErrorTable = {
    CaseNotFound: HttpError(
        404, "case_not_found", "No archived event has this id or number, nor mentions it."
    ),
    StateNotFound: HttpError(404, "not_found", str),
    StateUnavailable: HttpError(
        503, "service_unavailable", str, headers=lambda _: {"Retry-After": "5"}
    ),
}


def _find_root(app: AuditApplication, case: str) -> CaseRoot | None:
    try:
        return app.case_root(case)
    except CaseNotFound:
        return None


@router.get(
    "/cases/{case:path}/state",
    response_model=CaseState,
    summary="A case's state at a moment",
    description="SPEC X-1: the state of the case's root aggregate (a request, a fine) as it "
    "was at `at`, replayed up to that instant by the service that owns it, with the version it "
    "had then. Auditors and admins; the read is recorded in the audit trail.",
    responses=responses_for(401, 403, 404, 422, 503),
)
def case_state(
    case: CaseParam,
    at: Instant,
    principal: AuditorOrAdmin,
    app: AuditApp,
    request: Request,
    client: HistoryClient,
    runtime: ServiceRuntime,
) -> CaseState:
    root = _find_root(app, case)
    app.record_read(
        auditor_id=principal.user_id,
        auditor_role=principal.role,
        kind=ReadKind.CASE_STATE,
        case=case,
        case_aggregate_id=root.aggregate_id if root else None,
        query={"at": at.isoformat()},
    )
    if root is None:
        raise CaseNotFound(case)
    base_url = runtime.settings.url_of(root.service)
    if base_url is None:
        raise StateUnavailable(f"The {root.service} service's history cannot be reached.")
    url = f"{base_url}/{root.service}/history/aggregates/{root.aggregate_id}/state"
    authorization = request.headers.get("authorization")
    try:
        answer = client.get(
            url,
            params={"at": at.isoformat()},
            headers={"Authorization": authorization} if authorization else {},
        )
    except httpx.HTTPError as exc:
        raise StateUnavailable(f"The {root.service} service did not answer.") from exc
    if answer.status_code == 404:
        raise StateNotFound(f"The case's {root.aggregate_type} did not exist yet at {at}.")
    if answer.status_code >= 500:
        raise StateUnavailable(f"The {root.service} service could not replay the case.")
    if answer.status_code != 200:
        body = _json_or_none(answer)
        raise ApiError(
            answer.status_code,
            str(body.get("code", "error")) if body else "error",
            str(body.get("message", answer.text[:200])) if body else answer.text[:200],
        )
    return CaseState.model_validate(answer.json())


@router.get(
    "/cases/{case:path}",
    response_model=CaseHistory,
    summary="A case's history across services",
    description="SPEC X-1: every event of one case, from every service, in causal order: "
    "the case's root aggregate (named by its id, the id of any aggregate of the case, or a "
    "human number) and every aggregate whose events refer to it (for a request: its protocol "
    "registration and the notifications about it; for a fine: its payments). Each entry: "
    "service, aggregate type and id, version, stable event name, when, who (user id and role, "
    "or anonymous / system), correlation and causation ids, and the data. Auditors and admins; "
    "the read is recorded in the audit trail.",
    responses=responses_for(401, 403, 404, 422),
)
def case_history(case: CaseParam, principal: AuditorOrAdmin, app: AuditApp) -> CaseHistory:
    root = _find_root(app, case)
    app.record_read(
        auditor_id=principal.user_id,
        auditor_role=principal.role,
        kind=ReadKind.CASE_HISTORY,
        case=case,
        case_aggregate_id=root.aggregate_id if root else None,
    )
    if root is None:
        raise CaseNotFound(case)
    return CaseHistory.model_validate(
        {
            "case": case,
            "root": CaseRootPublic(
                service=root.service,
                aggregate_type=root.aggregate_type,
                aggregate_id=root.aggregate_id,
            ),
            "entries": app.case_history(root),
        }
    )


NDJSON = "application/x-ndjson"
_LINES_PER_CHUNK = 500


@router.get(
    "/events",
    response_class=StreamingResponse,
    summary="Export of stored events (NDJSON)",
    description="SPEC X-1: the archived stored events of every service (or one), streamed as "
    "NDJSON, one event per line (the history entry with `state`, the stored bytes, for offline "
    "verification), by service and then in each service's own log order; `from`/`to` select "
    "by when the events occurred (from inclusive, to exclusive), `type` by stable event name. "
    "Streamed from the database a chunk at a time, for any number of events. Auditors and "
    "admins; the export is recorded in the audit trail.",
    responses={
        200: {
            "description": "One JSON object per line",
            "content": {NDJSON: {"schema": {"type": "string"}}},
        },
        **responses_for(401, 403, 422),
    },
)
def export_events(
    principal: AuditorOrAdmin,
    app: AuditApp,
    service: Annotated[
        text(40) | None,
        Query(description="Only this service's events", examples=["requests"]),
    ] = None,
    start: Annotated[
        AwareDatetime | None,
        Query(
            alias="from",
            description="Only events that occurred at or after this instant (ISO-8601 with offset)",
            examples=["2026-03-01T00:00:00+02:00"],
        ),
    ] = None,
    end: Annotated[
        AwareDatetime | None,
        Query(
            alias="to",
            description="Only events that occurred before this instant (ISO-8601 with offset)",
            examples=["2026-04-01T00:00:00+03:00"],
        ),
    ] = None,
    event_name: Annotated[
        text(100) | None,
        Query(alias="type", description="Only events of this stable name", examples=["Replied"]),
    ] = None,
) -> StreamingResponse:
    wanted = ExportFilter(service=service, start=start, end=end, event_name=event_name)
    app.record_read(
        auditor_id=principal.user_id,
        auditor_role=principal.role,
        kind=ReadKind.EXPORT,
        query={
            "service": service,
            "from": start.isoformat() if start else None,
            "to": end.isoformat() if end else None,
            "type": event_name,
        },
    )
    return StreamingResponse(_ndjson(app, wanted), media_type=NDJSON)


def _ndjson(app: AuditApplication, wanted: ExportFilter) -> Iterator[bytes]:
    lines: list[str] = []
    for line in app.export(wanted):
        lines.append(json.dumps(line, ensure_ascii=False, separators=(",", ":")))
        if len(lines) == _LINES_PER_CHUNK:
            yield ("\n".join(lines) + "\n").encode()
            lines.clear()
    if lines:
        yield ("\n".join(lines) + "\n").encode()


@router.get(
    "/integrity",
    response_model=IntegrityReport,
    summary="The integrity of every service's history",
    description="SPEC X-1: per service, the latest verification of its hash chain (when, up to "
    "which position, how many events, passed or failed and where) and the latest checkpoint "
    "its sealer published (position, head hash, time). Auditors and admins; the read is "
    "recorded in the audit trail.",
    responses=responses_for(401, 403),
)
def integrity(
    principal: AuditorOrAdmin, app: AuditApp, verifications: Verifications
) -> IntegrityReport:
    app.record_read(
        auditor_id=principal.user_id, auditor_role=principal.role, kind=ReadKind.INTEGRITY
    )
    verified = {row["service"]: row for row in verifications.view.latest()}
    checkpoints = app.last_checkpoints()
    report = []
    for service in sorted(verified.keys() | checkpoints.keys()):
        verification = verified.get(service)
        checkpoint = checkpoints.get(service)
        report.append(
            ServiceIntegrity(
                service=service,
                last_verification=None
                if verification is None
                else VerificationPublic(
                    verified_at=verification["verified_at"],
                    position=verification["position"],
                    events=verification["events"],
                    result="passed" if verification["ok"] else "failed",
                    problem=verification["problem"],
                    events_per_second=verification["events_per_second"],
                ),
                last_checkpoint=None
                if checkpoint is None
                else CheckpointPublic(
                    position=checkpoint.position,
                    events=checkpoint.events,
                    head_hash=checkpoint.head_hash,
                    checkpointed_at=checkpoint.checkpointed_at,
                ),
            )
        )
    return IntegrityReport(services=report)


@router.get(
    "/trail",
    response_model=AuditorReadSummaryPage,
    summary="The auditors' reads (audit trail)",
    description="SPEC X-1: every read of the history by an auditor or admin (this one "
    "included), newest first: who, what (case_history, case_state, export, integrity, trail), "
    "which case or query, when. `auditor` keeps one auditor's; `case` the reads of one case, "
    "whether it was asked for by an id or a number. Auditors and admins; the read is "
    "recorded in the trail itself.",
    responses=responses_for(401, 403, 422),
)
def trail(
    principal: AuditorOrAdmin,
    app: AuditApp,
    reads: Trail,
    runtime: ServiceRuntime,
    paging: PagingParams,
    auditor: Annotated[
        UUID | None,
        Query(description="Only this auditor's reads (user id)", examples=[AGGREGATE_ID_EXAMPLE]),
    ] = None,
    case: Annotated[
        text(100) | None,
        Query(description="Only the reads of this case (id or number)", examples=[CASE_EXAMPLE]),
    ] = None,
) -> AuditorReadSummaryPage:
    root = _find_root(app, case) if case is not None else None
    position = app.record_read(
        auditor_id=principal.user_id,
        auditor_role=principal.role,
        kind=ReadKind.TRAIL,
        case=case,
        case_aggregate_id=root.aggregate_id if root else None,
        query={"auditor": auditor},
    )
    runtime.settle(AuditTrailView, position)
    rows, total = reads.view.reads(
        auditor_id=auditor,
        case=case,
        case_aggregate_id=root.aggregate_id if root else None,
        limit=paging.limit,
        offset=paging.offset,
    )
    items = [AuditorReadSummary.model_validate(row | {"case": row["case_ref"]}) for row in rows]
    return AuditorReadSummaryPage.of(items, total, paging)


def _json_or_none(response: httpx.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None
