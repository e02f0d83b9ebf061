"""Read model: every notification, as its recipient lists it and as the mailer's outbox.

One table serves both: the recipient's list (newest first, with the unread count) and the
e-mails that are due (`email_status = 'due'` and their next attempt time has come), which the
mailer claims one at a time. Rows change with their tracking record in one transaction (the
kit's `PostgresView.write`), so a restart loses no due e-mail and a rebuild gives the same rows.
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

from notifications_service.domainmodel import Notification

LIST_COLUMNS = "id, kind, title, body, link, created_at, read_at"
NEWEST_FIRST = "created_at DESC, id DESC"

Rows = list[dict[str, Any]]


class NotificationView(PostgresView):
    ddl = (
        "CREATE TABLE IF NOT EXISTS {table} ("
        "id uuid PRIMARY KEY, "
        "recipient_id uuid NOT NULL, "
        "kind text NOT NULL, "
        "title text NOT NULL, "
        "body text NOT NULL, "
        "link text, "
        "created_at timestamptz NOT NULL, "
        "read_at timestamptz, "
        # none (in the portal only), due, sent, given_up
        "email_status text NOT NULL, "
        "email_attempts integer NOT NULL DEFAULT 0, "
        "next_email_at timestamptz, "
        "correlation_id text)",
    )
    indexes: ClassVar[dict[str, LiteralString]] = {
        "recipient": "recipient_id, created_at DESC",
        "outbox": "email_status, next_email_at",
    }

    # --- written by the projection -------------------------------------------------------------

    def add(self, row: dict[str, Any], tracking: Tracking) -> None:
        self.write(
            "INSERT INTO {table} (id, recipient_id, kind, title, body, link, created_at, "
            "email_status, next_email_at, correlation_id) VALUES (%(id)s, %(recipient_id)s, "
            "%(kind)s, %(title)s, %(body)s, %(link)s, %(created_at)s, %(email_status)s, "
            "%(created_at)s, %(correlation_id)s) ON CONFLICT (id) DO NOTHING",
            row,
            tracking,
        )

    def mark_read(self, notification_id: UUID, read_at: datetime, tracking: Tracking) -> None:
        self.write(
            "UPDATE {table} SET read_at = %(read_at)s WHERE id = %(id)s",
            {"id": notification_id, "read_at": read_at},
            tracking,
        )

    def email_attempt_failed(
        self, notification_id: UUID, attempts: int, next_email_at: datetime, tracking: Tracking
    ) -> None:
        self.write(
            "UPDATE {table} SET email_attempts = %(attempts)s, next_email_at = %(next)s "
            "WHERE id = %(id)s",
            {"id": notification_id, "attempts": attempts, "next": next_email_at},
            tracking,
        )

    def email_settled(self, notification_id: UUID, status: str, tracking: Tracking) -> None:
        """The e-mail was sent or given up: no longer due."""
        self.write(
            "UPDATE {table} SET email_status = %(status)s, next_email_at = NULL WHERE id = %(id)s",
            {"id": notification_id, "status": status},
            tracking,
        )

    # --- read by the API -----------------------------------------------------------------------

    def of_recipient(
        self, recipient_id: UUID, *, unread_only: bool, limit: int, offset: int = 0
    ) -> tuple[Rows, int]:
        """A page of the recipient's notifications, newest first, and how many there are."""
        return self.select_page(
            columns=LIST_COLUMNS,
            where="WHERE recipient_id = %(recipient)s AND (NOT %(unread_only)s OR read_at IS NULL)",
            order_by=NEWEST_FIRST,
            params={"recipient": recipient_id, "unread_only": unread_only},
            limit=limit,
            offset=offset,
        )

    def unread_count(self, recipient_id: UUID) -> int:
        rows = self.select(
            "SELECT count(*) AS unread FROM {table} "
            "WHERE recipient_id = %(recipient)s AND read_at IS NULL",
            {"recipient": recipient_id},
        )
        return rows[0]["unread"]

    def unread_ids(self, recipient_id: UUID) -> list[UUID]:
        rows = self.select(
            "SELECT id FROM {table} WHERE recipient_id = %(recipient)s AND read_at IS NULL "
            "ORDER BY created_at",
            {"recipient": recipient_id},
        )
        return [row["id"] for row in rows]

    # --- read by the mailer --------------------------------------------------------------------

    def claim_due_email(self, now: datetime) -> AbstractContextManager[dict[str, Any] | None]:
        """Lock the notification whose e-mail is due first for the duration of the block (None
        when none is): no two mailer loops ever send the same e-mail at the same time."""
        return self.claim_first(
            columns="id, correlation_id, email_attempts",
            where="WHERE email_status = 'due' AND next_email_at <= %(now)s",
            order_by="next_email_at",
            params={"now": now},
        )


class NotificationProjection(Projection[NotificationView]):
    name = "notification_list"
    topics = (
        Notification.Created.TOPIC,
        Notification.Read.TOPIC,
        Notification.EmailSent.TOPIC,
        Notification.EmailAttemptFailed.TOPIC,
        Notification.EmailGivenUp.TOPIC,
    )

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.insert_tracking(tracking)

    @process_event.register(Notification.Created)
    def _created(self, event: Notification.Created, tracking: Tracking) -> None:
        row = {
            "id": event.originator_id,
            "recipient_id": event.recipient_id,
            "kind": event.kind,
            "title": event.title,
            "body": event.body,
            "link": event.link,
            "created_at": event.timestamp,
            "email_status": "due" if event.email_to else "none",
            "correlation_id": event_metadata(event).get("correlation_id"),
        }
        self.view.add(row, tracking)

    @process_event.register(Notification.Read)
    def _read(self, event: Notification.Read, tracking: Tracking) -> None:
        self.view.mark_read(event.originator_id, event.read_at, tracking)

    @process_event.register(Notification.EmailAttemptFailed)
    def _email_attempt_failed(
        self, event: Notification.EmailAttemptFailed, tracking: Tracking
    ) -> None:
        self.view.email_attempt_failed(
            event.originator_id, event.attempt, event.next_attempt_at, tracking
        )

    @process_event.register(Notification.EmailSent)
    def _email_sent(self, event: Notification.EmailSent, tracking: Tracking) -> None:
        self.view.email_settled(event.originator_id, "sent", tracking)

    @process_event.register(Notification.EmailGivenUp)
    def _email_given_up(self, event: Notification.EmailGivenUp, tracking: Tracking) -> None:
        self.view.email_settled(event.originator_id, "given_up", tracking)
