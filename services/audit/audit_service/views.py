"""Read models of the audit service's own events (SPEC X-1).

- `AuditTrailView`: every auditor read, newest first, by auditor and by case: the audit trail
  (`GET /audit/trail`). A read names its case as asked and, when it resolved, the root
  aggregate's id, so that asking for the trail of a case by its id finds the reads made by its
  number too.
- `LastVerificationView`: each service's latest verification (`GET /audit/integrity`).

Rows and the tracking position are written in one transaction (exactly-once, rebuildable).
"""

from __future__ import annotations

from functools import singledispatchmethod
from typing import Any, ClassVar, LiteralString
from uuid import UUID

from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection
from portal_events.views import PostgresView
from psycopg.types.json import Jsonb

from audit_service.domainmodel import AuditorRead, Verification

TRAIL_COLUMNS: LiteralString = (
    "read_id, auditor_id, auditor_role, kind, case_ref, case_aggregate_id, query, read_at"
)


class AuditTrailView(PostgresView):
    ddl = (
        "CREATE TABLE IF NOT EXISTS {table} ("
        "read_id uuid PRIMARY KEY, "
        "auditor_id uuid NOT NULL, "
        "auditor_role text NOT NULL, "
        "kind text NOT NULL, "
        "case_ref text, "
        "case_aggregate_id uuid, "
        "query jsonb NOT NULL, "
        "read_at timestamptz NOT NULL)",
    )
    indexes: ClassVar[dict[str, LiteralString]] = {
        "newest": "read_at DESC",
        "auditor": "auditor_id, read_at DESC",
        "case_ref": "case_ref, read_at DESC",
        "case_aggregate": "case_aggregate_id, read_at DESC",
    }

    def add(self, row: dict[str, Any], tracking: Tracking) -> None:
        self.write(
            "INSERT INTO {table} (read_id, auditor_id, auditor_role, kind, case_ref, "
            "case_aggregate_id, query, read_at) VALUES (%(read_id)s, %(auditor_id)s, "
            "%(auditor_role)s, %(kind)s, %(case_ref)s, %(case_aggregate_id)s, %(query)s, "
            "%(read_at)s) ON CONFLICT DO NOTHING",
            row | {"query": Jsonb(row["query"])},
            tracking,
        )

    def reads(
        self,
        *,
        auditor_id: UUID | None,
        case: str | None,
        case_aggregate_id: UUID | None,
        limit: int,
        offset: int,
    ) -> tuple[list[dict[str, Any]], int]:
        """A page of the reads, newest first: of one auditor, and/or of one case (as asked, or
        by its root's id when `case_aggregate_id` is given)."""
        return self.select_page(
            columns=TRAIL_COLUMNS,
            where="WHERE (%(auditor_id)s::uuid IS NULL OR auditor_id = %(auditor_id)s) "
            "AND (%(case)s::text IS NULL OR case_ref = %(case)s "
            "OR case_aggregate_id = %(case_aggregate_id)s)",
            order_by="read_at DESC, read_id",
            params={
                "auditor_id": auditor_id,
                "case": case,
                "case_aggregate_id": case_aggregate_id,
            },
            limit=limit,
            offset=offset,
        )


class AuditTrailProjection(Projection[AuditTrailView]):
    name = "audit_trail"
    topics = (AuditorRead.Recorded.TOPIC,)

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.insert_tracking(tracking)

    @process_event.register(AuditorRead.Recorded)
    def _recorded(self, event: AuditorRead.Recorded, tracking: Tracking) -> None:
        row = {
            "read_id": event.originator_id,
            "auditor_id": event.auditor_id,
            "auditor_role": event.auditor_role,
            "kind": event.kind,
            "case_ref": event.case,
            "case_aggregate_id": event.case_aggregate_id,
            "query": event.query,
            "read_at": event.timestamp,
        }
        self.view.add(row, tracking)


VERIFICATION_COLUMNS: LiteralString = (
    "service, verification_id, verified_at, position, events, ok, problem, events_per_second"
)


class LastVerificationView(PostgresView):
    ddl = (
        "CREATE TABLE IF NOT EXISTS {table} ("
        "service text PRIMARY KEY, "
        "verification_id uuid NOT NULL, "
        "verified_at timestamptz NOT NULL, "
        "position bigint NOT NULL, "
        "events bigint NOT NULL, "
        "ok boolean NOT NULL, "
        "problem text, "
        "events_per_second double precision NOT NULL)",
    )

    def record(self, row: dict[str, Any], tracking: Tracking) -> None:
        """Keep the verification unless a later one of the service is kept already."""
        self.write(
            "INSERT INTO {table} AS kept (service, verification_id, verified_at, position, "
            "events, ok, problem, events_per_second) VALUES ("
            "%(service)s, %(verification_id)s, %(verified_at)s, %(position)s, %(events)s, "
            "%(ok)s, %(problem)s, %(events_per_second)s) "
            "ON CONFLICT (service) DO UPDATE SET verification_id = EXCLUDED.verification_id, "
            "verified_at = EXCLUDED.verified_at, position = EXCLUDED.position, "
            "events = EXCLUDED.events, ok = EXCLUDED.ok, problem = EXCLUDED.problem, "
            "events_per_second = EXCLUDED.events_per_second "
            "WHERE EXCLUDED.verified_at >= kept.verified_at",
            row,
            tracking,
        )

    def latest(self) -> list[dict[str, Any]]:
        return self.select(
            "SELECT " + VERIFICATION_COLUMNS + " FROM {table} ORDER BY service",  # noqa: S608
            {},
        )


class LastVerificationProjection(Projection[LastVerificationView]):
    name = "last_verifications"
    topics = (Verification.Recorded.TOPIC,)

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.insert_tracking(tracking)

    @process_event.register(Verification.Recorded)
    def _recorded(self, event: Verification.Recorded, tracking: Tracking) -> None:
        row = {
            "service": event.service,
            "verification_id": event.originator_id,
            "verified_at": event.timestamp,
            "position": event.position,
            "events": event.events,
            "ok": event.ok,
            "problem": event.problem,
            "events_per_second": event.events_per_second,
        }
        self.view.record(row, tracking)
