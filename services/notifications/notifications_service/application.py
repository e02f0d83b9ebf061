"""The notifications service's Application: who is told what, and what became of its e-mail.

Commands come from three places: the consumer (other services' events, `integration.py`), the
API (reading, preferences) and the mailer (what the SMTP server said). Every notification is
created at most once per cause (`notification_id_for`); whether it is e-mailed, and to which
address, is decided when it is created and recorded in it (with the reason when it is not):

- an event that occurred before mailing began (`MailingStart`: the first start, or the
  operator's `MAIL_SINCE`) is history, replayed from the kept topics: in the portal only, whatever
  its kind; a month-old "your password was changed" is no security notice any more. The time is
  the source event's (`occurred_at`, the envelope's), never when it is handled, so events that
  happened while this service was down are still e-mailed when it catches up;
- otherwise the address identity announced, if any, and the recipient's preference, except for
  security notices, which always go.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate
from portal_events.application import ServiceApplication, Written

from notifications_service.domainmodel import (
    MAILING_START_ID,
    MailingStart,
    NoEmail,
    Notification,
    NotificationNotFound,
    ProtocolDocument,
    Recipient,
    document_id_for,
    notification_id_for,
    recipient_id_for,
)
from notifications_service.templates import Templates

# Where the portal shows a document that the protocol registry numbers, per document type.
DOCUMENT_PATHS = {
    "request": "/requests/{id}",
    "civil_registry_certificate": "/certificates/{id}",
    "tap_certificate": "/certificates/{id}",
}


def greek_date(value: date) -> str:
    return value.strftime("%d/%m/%Y")


def utc_now() -> datetime:
    return datetime.now(UTC)


class NotificationsApplication(ServiceApplication):
    name = "notifications"

    def __init__(
        self,
        env: dict[str, str] | None = None,
        templates: Templates | None = None,
        clock: Callable[[], datetime] = utc_now,
    ):
        # First: broken templates stop the service before it touches anything else.
        self.templates = templates or Templates.load()
        self.clock = clock
        super().__init__(env)

    # --- commands: since when e-mails are sent -------------------------------------------------

    def begin_mailing(self, since: datetime | None = None) -> datetime:
        """Record since when events are e-mailed, and return it (called at every start).

        The first call records `since` (the operator's `MAIL_SINCE`) or else now; later calls
        change nothing, unless `since` names another instant. Concurrent first starts of several
        replicas create it under one fixed id: one wins, the others reload it and agree."""
        return self._record_mailing_start(since).since

    def mailing_start(self) -> MailingStart:
        """Since when events are e-mailed; recorded now if nothing recorded it yet."""
        return self._get(MAILING_START_ID) or self._record_mailing_start(None)

    def _record_mailing_start(self, since: datetime | None) -> MailingStart:
        def attempt() -> MailingStart:
            start = self._get(MAILING_START_ID)
            if start is None:
                set_by = MailingStart.FIRST_START if since is None else MailingStart.MAIL_SINCE
                start = MailingStart(since=since or self.clock(), set_by=set_by)
            elif since is not None:
                start.move(since, MailingStart.MAIL_SINCE)
            self._save(start)
            return start

        return self.retrying(attempt)

    # --- commands: from other services' events -------------------------------------------------

    def tell(
        self,
        source: str,
        recipient_id: UUID,
        kind: str,
        params: Mapping[str, str],
        *,
        occurred_at: datetime,
    ) -> Notification | None:
        """Tell `recipient_id` about `source` (an event id, that occurred at `occurred_at`): the
        new notification, or None when `source` already made one (a redelivered event)."""

        def attempt() -> Notification | None:
            notification = self._new_notification(
                source, recipient_id, kind, params, occurred_at=occurred_at
            )
            self._save(notification)
            return notification

        return self.retrying(attempt)

    def user_registered(
        self, source: str, user_id: UUID, address: str, *, occurred_at: datetime
    ) -> Notification | None:
        """Learn the new user's address and welcome them there, in one transaction (the address
        is learnt even from history, for the e-mails to come)."""

        def attempt() -> Notification | None:
            recipient = self._recipient(user_id) or Recipient(user_id)
            recipient.learn_address(address)
            # Saved together, so the welcome sees the address it was created with.
            welcome = self._new_notification(
                source,
                user_id,
                "welcome",
                {"email": address},
                occurred_at=occurred_at,
                recipient=recipient,
            )
            self._save(recipient, welcome)
            return welcome

        return self.retrying(attempt)

    def user_named(self, user_id: UUID, display_name: str) -> None:
        """The name e-mails greet the user by (identity's ProfileUpdated)."""
        self._change_recipient(user_id, lambda recipient: recipient.learn_name(display_name))

    def protocol_requested(
        self,
        document_id: UUID,
        document_type: str,
        title: str,
        applicant_id: UUID | None,
        *,
        occurred_at: datetime,
    ) -> Notification | None:
        """Whose the document is (its owner's ProtocolRequested): the first half of the join."""
        return self._protocol_document(
            document_id,
            lambda doc: doc.record_request(document_type, title, applicant_id),
            occurred_at,
        )

    def protocol_assigned(
        self,
        document_id: UUID,
        document_type: str,
        protocol_number: str,
        protocol_date: date,
        *,
        occurred_at: datetime,
    ) -> Notification | None:
        """Which number it got (the protocol service's ProtocolAssigned): the other half."""
        return self._protocol_document(
            document_id,
            lambda doc: doc.record_assignment(
                document_type, protocol_number, protocol_date.isoformat()
            ),
            occurred_at,
        )

    def _protocol_document(
        self,
        document_id: UUID,
        change: Callable[[ProtocolDocument], None],
        occurred_at: datetime,
    ) -> Notification | None:
        """Record one half (that occurred at `occurred_at`); the half that completes the pair
        also creates the notification, in the same transaction, under an id derived from the
        document: whichever half comes second, and however often either is redelivered, the
        applicant is told once. It is news when that second half is: a number assigned after
        mailing began to a document requested before it is e-mailed."""

        def attempt() -> Notification | None:
            document = self._get(document_id_for(document_id)) or ProtocolDocument(document_id)
            change(document)
            notification = None
            if document.complete and document.applicant_id is not None:
                notification = self._new_notification(
                    f"protocol-assigned/{document_id}",
                    document.applicant_id,
                    "protocol_assigned",
                    _protocol_params(document),
                    occurred_at=occurred_at,
                )
            self._save(document, notification)
            return notification

        return self.retrying(attempt)

    # --- commands: the recipient's own ---------------------------------------------------------

    def set_email_preference(self, user_id: UUID, email: bool) -> int | None:
        """Turn e-mails on or off (security notices are sent regardless); the write's position
        (None when nothing changed)."""
        return self._change_recipient(user_id, lambda r: r.set_email_preference(email))

    def email_preference(self, user_id: UUID) -> bool:
        recipient = self._recipient(user_id)
        return True if recipient is None else recipient.email_enabled

    def mark_read(self, notification_id: UUID, owner_id: UUID) -> Written[Notification]:
        """Mark one of the owner's notifications read (again: no change); someone else's, or
        none, is NotificationNotFound."""
        return self.changing(
            lambda: self.notification(notification_id, owner_id),
            lambda notification: notification.mark_read(self.clock()),
        )

    def mark_all_read(self, notification_ids: Iterable[UUID], owner_id: UUID) -> int | None:
        """Mark these (the owner's unread, from the list) read; the last write's position."""
        position = None
        for notification_id in notification_ids:
            written = self.mark_read(notification_id, owner_id)
            position = written.position or position
        return position

    # --- commands: the mailer's outcomes -------------------------------------------------------

    def record_email_sent(self, notification_id: UUID, message_id: str) -> None:
        self._change_notification(notification_id, lambda n: n.record_email_sent(message_id))

    def record_email_failure(
        self, notification_id: UUID, reason: str, next_attempt_at: datetime
    ) -> None:
        self._change_notification(
            notification_id, lambda n: n.record_email_failure(reason, next_attempt_at)
        )

    def give_up_email(self, notification_id: UUID, reason: str) -> None:
        self._change_notification(notification_id, lambda n: n.give_up_email(reason))

    # --- queries -------------------------------------------------------------------------------

    def notification(self, notification_id: UUID, owner_id: UUID | None = None) -> Notification:
        """The notification if it exists and (when `owner_id` is given) is the owner's."""
        return self.load(
            notification_id,
            Notification,
            not_found=NotificationNotFound,
            visible=None if owner_id is None else lambda n: n.recipient_id == owner_id,
        )

    def recipient(self, user_id: UUID) -> Recipient | None:
        return self._recipient(user_id)

    # --- helpers -------------------------------------------------------------------------------

    def _new_notification(
        self,
        source: str,
        recipient_id: UUID,
        kind: str,
        params: Mapping[str, str],
        *,
        occurred_at: datetime,
        recipient: Recipient | None = None,
    ) -> Notification | None:
        """A new notification for `source` (that occurred at `occurred_at`), or None if it
        already has one."""
        if self._get(notification_id_for(source)) is not None:
            return None
        recipient = recipient or self._recipient(recipient_id)
        rendered = self.templates.render(kind, params)
        email_to, no_email = self._email_address(recipient, kind, occurred_at)
        return Notification(
            source=source,
            recipient_id=recipient_id,
            kind=kind,
            params=dict(params),
            title=rendered.title,
            body=rendered.body,
            link=rendered.link,
            email_to=email_to,
            recipient_name=recipient.display_name if recipient else None,
            no_email=no_email,
        )

    def _email_address(
        self, recipient: Recipient | None, kind: str, occurred_at: datetime
    ) -> tuple[str | None, NoEmail | None]:
        """Where to e-mail it, or why not: nothing that happened before mailing began; else the
        known address, if the recipient wants e-mails or it is a security notice."""
        if not self.mailing_start().mails(occurred_at):
            return None, NoEmail.BEFORE_MAILING_BEGAN
        if recipient is None or recipient.address is None:
            return None, NoEmail.NO_ADDRESS
        if recipient.email_enabled or self.templates.is_security(kind):
            return recipient.address, None
        return None, NoEmail.EMAIL_OFF

    def _recipient(self, user_id: UUID) -> Recipient | None:
        return self._get(recipient_id_for(user_id))

    def _get(self, aggregate_id: UUID) -> Any:
        try:
            return self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None

    def _save(self, *aggregates: Aggregate | None) -> int | None:
        """Save what changed, in one transaction; its position (None if nothing changed)."""
        changed = [a for a in aggregates if a is not None and a.pending_events]
        if not changed:
            return None
        return self.save(*changed)[-1].notification.id

    def _change_recipient(self, user_id: UUID, change: Callable[[Recipient], None]) -> int | None:
        def attempt() -> int | None:
            recipient = self._recipient(user_id) or Recipient(user_id)
            change(recipient)
            return self._save(recipient)

        return self.retrying(attempt)

    def _change_notification(
        self, notification_id: UUID, change: Callable[[Notification], None]
    ) -> None:
        self.changing(lambda: self.notification(notification_id), change)


def _protocol_params(document: ProtocolDocument) -> dict[str, str]:
    path = DOCUMENT_PATHS.get(document.document_type or "", "/")
    assert document.protocol_date is not None
    return {
        "title": document.title or "",
        "protocol_number": document.protocol_number or "",
        "protocol_date": greek_date(date.fromisoformat(document.protocol_date)),
        "document_path": path.format(id=document.document_id),
    }
