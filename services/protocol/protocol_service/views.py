"""Read model: the registrations still waiting for a protocol number (SPEC X-3, C-4).

The registrar works from this table (what is due, and when), so a restart of the service loses
no pending registration; clerks see the same table as "protocol registrations pending".
Rows and the tracking position are written in one transaction (exactly-once, rebuildable).

Each row carries the registration's department, so that a clerk lists only their department's
(issue 6). The table took that column under a new projection name (`_v2`): a projection with a
new name gets a fresh table, rebuilt from the first event (`portal_events.views`), whereas the
`CREATE TABLE IF NOT EXISTS` of the DDL would leave an existing table without it. The old
table, `pending_registrations`, is no longer read or written.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime
from functools import singledispatchmethod
from typing import Any, ClassVar, LiteralString
from uuid import UUID

from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection
from portal_events.mapper import event_metadata
from portal_events.views import PostgresView

from protocol_service.domainmodel import Registration

COLUMNS = (
    "registration_id, document_id, document_type, title, applicant_id, department, attempts, "
    "last_failure, requested_at, next_attempt_at, correlation_id"
)


class PendingRegistrationView(PostgresView):
    ddl = (
        "CREATE TABLE IF NOT EXISTS {table} ("
        "registration_id uuid PRIMARY KEY, "
        "document_id uuid NOT NULL UNIQUE, "
        "document_type text NOT NULL, "
        "title text NOT NULL, "
        "applicant_id uuid, "
        "department text, "
        "attempts integer NOT NULL DEFAULT 0, "
        "last_failure text, "
        "requested_at timestamptz NOT NULL, "
        "next_attempt_at timestamptz NOT NULL, "
        "correlation_id text)",
    )
    indexes: ClassVar[dict[str, LiteralString]] = {
        "due": "next_attempt_at",  # what is due
        "department": "department, requested_at",  # a department's list
    }

    # --- written by the projection -------------------------------------------------------------

    def add(self, row: dict[str, Any], tracking: Tracking) -> None:
        self.write(
            "INSERT INTO {table} (registration_id, document_id, document_type, title, "
            "applicant_id, department, requested_at, next_attempt_at, correlation_id) VALUES "
            "(%(registration_id)s, %(document_id)s, %(document_type)s, %(title)s, "
            "%(applicant_id)s, %(department)s, %(requested_at)s, %(requested_at)s, "
            "%(correlation_id)s) "
            "ON CONFLICT DO NOTHING",
            row,
            tracking,
        )

    def record_failure(
        self,
        registration_id: UUID,
        attempts: int,
        reason: str,
        next_attempt_at: datetime,
        tracking: Tracking,
    ) -> None:
        self.write(
            "UPDATE {table} SET attempts = %(attempts)s, last_failure = %(reason)s, "
            "next_attempt_at = %(next_attempt_at)s WHERE registration_id = %(registration_id)s",
            {
                "registration_id": registration_id,
                "attempts": attempts,
                "reason": reason,
                "next_attempt_at": next_attempt_at,
            },
            tracking,
        )

    def remove(self, registration_id: UUID, tracking: Tracking) -> None:
        self.write(
            "DELETE FROM {table} WHERE registration_id = %(registration_id)s",
            {"registration_id": registration_id},
            tracking,
        )

    # --- read by the registrar and the API -----------------------------------------------------

    def claim_due(self, now: datetime) -> AbstractContextManager[dict[str, Any] | None]:
        """Lock the registration due first for the duration of the block (None when nothing is
        due). The lock is held while the registry is called, so no two workers ever call it for
        the same document at the same time."""
        return self.claim_first(
            columns=COLUMNS,
            where="WHERE next_attempt_at <= %(now)s",
            order_by="next_attempt_at",
            params={"now": now},
        )

    def pending(
        self, limit: int, offset: int = 0, department: str | None = None
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of the pending registrations of `department` (of all, departments or none,
        when None), oldest first, and how many there are."""
        return self.select_page(
            columns=COLUMNS,
            where="WHERE %(department)s::text IS NULL OR department = %(department)s",
            order_by="requested_at, document_id",
            params={"department": department},
            limit=limit,
            offset=offset,
        )


class PendingRegistrationProjection(Projection[PendingRegistrationView]):
    # _v2: with the department (see the module docstring); renamed, the view rebuilds from zero.
    name = "pending_registrations_v2"
    topics = (
        Registration.Requested.TOPIC,
        Registration.AttemptFailed.TOPIC,
        Registration.Assigned.TOPIC,
    )

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.insert_tracking(tracking)

    @process_event.register(Registration.Requested)
    def _requested(self, event: Registration.Requested, tracking: Tracking) -> None:
        row = {
            "registration_id": event.originator_id,
            "document_id": event.document_id,
            "document_type": event.document_type,
            "title": event.title,
            "applicant_id": event.applicant_id,
            "department": event.department,
            "requested_at": event.timestamp,
            "correlation_id": event_metadata(event).get("correlation_id"),
        }
        self.view.add(row, tracking)

    @process_event.register(Registration.AttemptFailed)
    def _attempt_failed(self, event: Registration.AttemptFailed, tracking: Tracking) -> None:
        self.view.record_failure(
            event.originator_id, event.attempt, event.reason, event.next_attempt_at, tracking
        )

    @process_event.register(Registration.Assigned)
    def _assigned(self, event: Registration.Assigned, tracking: Tracking) -> None:
        self.view.remove(event.originator_id, tracking)
