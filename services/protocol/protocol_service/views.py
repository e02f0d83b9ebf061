"""Read model: the registrations still waiting for a protocol number (SPEC X-3, C-4).

The registrar works from this table (what is due, and when), so a restart of the service loses
no pending registration; clerks see the same table as "protocol registrations pending".
Rows and the tracking position are written in one transaction (exactly-once, rebuildable).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import singledispatchmethod
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.projection import Projection
from portal_events.mapper import event_metadata
from psycopg.sql import SQL, Identifier

from protocol_service.domainmodel import Registration

COLUMNS = (
    "registration_id, document_id, document_type, title, applicant_id, attempts, last_failure, "
    "requested_at, next_attempt_at, correlation_id"
)


class PendingRegistrationsView(PostgresTrackingRecorder):
    table_name = "protocol_pending_registrations"

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self.check_identifier_length(self.table_name)
        self.sql_create_statements.append(
            self._sql(
                "CREATE TABLE IF NOT EXISTS {table} ("
                "registration_id uuid PRIMARY KEY, "
                "document_id uuid NOT NULL UNIQUE, "
                "document_type text NOT NULL, "
                "title text NOT NULL, "
                "applicant_id uuid, "
                "attempts integer NOT NULL DEFAULT 0, "
                "last_failure text, "
                "requested_at timestamptz NOT NULL, "
                "next_attempt_at timestamptz NOT NULL, "
                "correlation_id text)"
            )
        )
        self.sql_create_statements.append(
            SQL("CREATE INDEX IF NOT EXISTS {index} ON {table} (next_attempt_at)").format(
                index=Identifier(f"{self.table_name}_due"), table=self._table
            )
        )

    @property
    def _table(self) -> Any:
        return Identifier(self.datastore.schema, self.table_name)

    def _sql(self, statement: str) -> Any:
        return SQL(statement).format(table=self._table, columns=SQL(COLUMNS))

    # --- written by the projection -------------------------------------------------------------

    def add(self, row: dict[str, Any], tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                self._sql(
                    "INSERT INTO {table} (registration_id, document_id, document_type, title, "
                    "applicant_id, requested_at, next_attempt_at, correlation_id) VALUES "
                    "(%(registration_id)s, %(document_id)s, "
                    "%(document_type)s, %(title)s, %(applicant_id)s, %(requested_at)s, "
                    "%(requested_at)s, %(correlation_id)s) ON CONFLICT DO NOTHING"
                ),
                row,
            )
            self._insert_tracking(curs, tracking)

    def record_failure(
        self,
        registration_id: UUID,
        attempts: int,
        reason: str,
        next_attempt_at: datetime,
        tracking: Tracking,
    ) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                self._sql(
                    "UPDATE {table} SET attempts = %s, last_failure = %s, next_attempt_at = %s "
                    "WHERE registration_id = %s"
                ),
                (attempts, reason, next_attempt_at, registration_id),
            )
            self._insert_tracking(curs, tracking)

    def remove(self, registration_id: UUID, tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                self._sql("DELETE FROM {table} WHERE registration_id = %s"), (registration_id,)
            )
            self._insert_tracking(curs, tracking)

    # --- read by the registrar and the API -----------------------------------------------------

    @contextmanager
    def claim_due(self, now: datetime) -> Iterator[dict[str, Any] | None]:
        """Lock one due row for the duration of the block (None when nothing is due).

        `FOR UPDATE SKIP LOCKED` rather than one advisory lock for a single active worker:
        every replica's registrar works in parallel, each on different registrations, and a
        crashed replica's locks go with its connection. The lock is held while the registry is
        called, so no two workers ever call it for the same document at the same time.
        """
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                self._sql(
                    "SELECT {columns} FROM {table} WHERE next_attempt_at <= %s "
                    "ORDER BY next_attempt_at LIMIT 1 FOR UPDATE SKIP LOCKED"
                ),
                (now,),
            )
            yield curs.fetchone()

    def list_pending(self, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(
                self._sql(
                    "SELECT {columns} FROM {table} "
                    "ORDER BY requested_at, document_id LIMIT %s OFFSET %s"
                ),
                (limit, offset),
            )
            return list(curs.fetchall())


class PendingRegistrationsProjection(Projection[PendingRegistrationsView]):
    name = "protocol_pending"
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
