"""The notifications service's aggregates (SPEC X-2).

- `Notification`: one thing a person is told, in the portal and, when due, by e-mail. Its id is
  derived from what caused it (the source event's id, or the document for a protocol number), so
  a redelivered event finds it already there and tells nobody twice. Its e-mail is an outbox
  entry: due from creation until it is sent or given up.
- `Recipient`: what the service knows of a user: the address and name identity announced, and
  whether they want e-mails (their preference, `PUT /notifications/preferences`).
- `ProtocolDocument`: the two halves of "your document got its protocol number". The owner of the
  document (requests, certificates) says whose it is (`ProtocolRequested`); the protocol service
  says which number it got (`ProtocolAssigned`), without the applicant. They travel on different
  topics, so either may arrive first; whichever completes the pair creates the notification.
- `MailingStart`: since when events are e-mailed about. The topics are kept forever and a new
  consumer group reads them from the beginning, so a first deployment (or a reset consumer
  group, or a rebuilt database) replays months of history; its notifications belong in the
  portal's list, but e-mailing them to people now would be wrong. One per service, under a fixed
  id, recorded at the first start (or set by the operator's `MAIL_SINCE`): only events that
  occurred at or after it are e-mailed, so an outage of this service, however long, loses no
  e-mail, while history is never mailed.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

# Fixed forever: ids derived from these make repeated events land on the same aggregates.
NOTIFICATION_NAMESPACE = UUID("9d8f6a0e-3c2b-4e7d-a1f5-6b4c2d9e8f10")
RECIPIENT_NAMESPACE = UUID("4a7e2c91-5d3b-4f8a-9e6c-1b0d2f3a4c5e")
DOCUMENT_NAMESPACE = UUID("c3e1f5a7-2b4d-4c6e-8f0a-9d1b3e5f7a2c")
MAILING_START_ID = UUID("e2b7c4d1-8a3f-4e6b-9c05-7f1d3a5b9e24")


class NotificationsError(Exception):
    """Base of the notifications service's domain errors."""


class NotificationNotFound(NotificationsError):
    """No such notification, or not the caller's."""


class NoEmail(StrEnum):
    """Why a notification is in the portal only (recorded in it, for clerks and auditors)."""

    BEFORE_MAILING_BEGAN = "before_mailing_began"  # history: it happened before `MailingStart`
    NO_ADDRESS = "no_address"  # identity never announced the recipient's address
    EMAIL_OFF = "email_off"  # the recipient turned e-mails off (and it is no security notice)


def notification_id_for(source: str) -> UUID:
    """The notification caused by `source`: a source event's id, or a derived key such as
    `protocol-assigned/<document id>`."""
    return uuid5(NOTIFICATION_NAMESPACE, source)


class Notification(Aggregate):
    TOPIC = "notifications:Notification"

    class Created(Aggregate.Created):
        """`title` and `body` are what the person was told, as rendered then (Greek, plain
        text); `params` are the template's values, from which the e-mail is rendered.
        `email_to` is None when no e-mail is to be sent, and then `no_email` says why (a
        `NoEmail` value).

        Version 2 adds `no_email`. Version 1, stored before, reads with None: why it was not
        e-mailed (no address, or e-mails turned off) was not recorded then."""

        TOPIC = "notifications:Notification.Created"
        class_version = 2
        source: str
        recipient_id: UUID
        kind: str
        params: dict[str, str]
        title: str
        body: str
        link: str | None
        email_to: str | None
        recipient_name: str | None
        no_email: str | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["no_email"] = None

    class Read(Aggregate.Event):
        TOPIC = "notifications:Notification.Read"
        read_at: datetime

    class EmailSent(Aggregate.Event):
        TOPIC = "notifications:Notification.EmailSent"
        message_id: str

    class EmailAttemptFailed(Aggregate.Event):
        TOPIC = "notifications:Notification.EmailAttemptFailed"
        attempt: int
        reason: str
        next_attempt_at: datetime

    class EmailGivenUp(Aggregate.Event):
        """The SMTP server refused it for good (a 5xx for the recipient or the message)."""

        TOPIC = "notifications:Notification.EmailGivenUp"
        reason: str

    @staticmethod
    def create_id(source: str, **_: Any) -> UUID:
        return notification_id_for(source)

    @event(Created)
    def __init__(
        self,
        source: str,
        recipient_id: UUID,
        kind: str,
        params: dict[str, str],
        title: str,
        body: str,
        link: str | None,
        email_to: str | None,
        recipient_name: str | None,
        no_email: str | None,
    ) -> None:
        self.source = source
        self.recipient_id = recipient_id
        self.kind = kind
        self.params = params
        self.title = title
        self.body = body
        self.link = link
        self.email_to = email_to
        self.recipient_name = recipient_name
        self.no_email = no_email
        self.read_at: datetime | None = None
        self.email_attempts = 0
        self.email_status = "due" if email_to else "none"
        self.last_email_failure: str | None = None

    @property
    def created_at(self) -> datetime:
        return self.created_on

    @property
    def email_due(self) -> bool:
        return self.email_status == "due"

    def mark_read(self, now: datetime) -> None:
        """Once: reading it again changes nothing."""
        if self.read_at is None:
            self._read(now)

    @event(Read)
    def _read(self, read_at: datetime) -> None:
        self.read_at = read_at

    def record_email_sent(self, message_id: str) -> None:
        if self.email_due:
            self._email_sent(message_id)

    @event(EmailSent)
    def _email_sent(self, message_id: str) -> None:
        self.email_status = "sent"

    def record_email_failure(self, reason: str, next_attempt_at: datetime) -> None:
        if self.email_due:
            self._email_attempt_failed(self.email_attempts + 1, reason, next_attempt_at)

    @event(EmailAttemptFailed)
    def _email_attempt_failed(self, attempt: int, reason: str, next_attempt_at: datetime) -> None:
        self.email_attempts = attempt
        self.last_email_failure = reason

    def give_up_email(self, reason: str) -> None:
        if self.email_due:
            self._email_given_up(reason)

    @event(EmailGivenUp)
    def _email_given_up(self, reason: str) -> None:
        self.email_status = "given_up"
        self.last_email_failure = reason


class Recipient(Aggregate):
    """A user as the notifications service knows them: address, name, e-mail preference.

    Made by whichever comes first: identity's events or the user's own preferences call (staff
    are never announced by UserRegistered, yet may set preferences)."""

    TOPIC = "notifications:Recipient"

    class Created(Aggregate.Created):
        TOPIC = "notifications:Recipient.Created"
        user_id: UUID

    class AddressLearnt(Aggregate.Event):
        TOPIC = "notifications:Recipient.AddressLearnt"
        address: str

    class NameLearnt(Aggregate.Event):
        TOPIC = "notifications:Recipient.NameLearnt"
        display_name: str

    class EmailPreferenceSet(Aggregate.Event):
        TOPIC = "notifications:Recipient.EmailPreferenceSet"
        email: bool

    @staticmethod
    def create_id(user_id: UUID) -> UUID:
        return recipient_id_for(user_id)

    @event(Created)
    def __init__(self, user_id: UUID) -> None:
        self.user_id = user_id
        self.address: str | None = None
        self.display_name: str | None = None
        self.email_enabled = True  # until the user turns e-mails off

    def learn_address(self, address: str) -> None:
        if address != self.address:
            self._address_learnt(address)

    @event(AddressLearnt)
    def _address_learnt(self, address: str) -> None:
        self.address = address

    def learn_name(self, display_name: str) -> None:
        if display_name != self.display_name:
            self._name_learnt(display_name)

    @event(NameLearnt)
    def _name_learnt(self, display_name: str) -> None:
        self.display_name = display_name

    def set_email_preference(self, email: bool) -> None:
        if email != self.email_enabled:
            self._email_preference_set(email)

    @event(EmailPreferenceSet)
    def _email_preference_set(self, email: bool) -> None:
        self.email_enabled = email


def recipient_id_for(user_id: UUID) -> UUID:
    return uuid5(RECIPIENT_NAMESPACE, str(user_id))


class ProtocolDocument(Aggregate):
    """A document on its way to a protocol number: whose it is and, once given, its number."""

    TOPIC = "notifications:ProtocolDocument"

    class Created(Aggregate.Created):
        TOPIC = "notifications:ProtocolDocument.Created"
        document_id: UUID

    class Requested(Aggregate.Event):
        TOPIC = "notifications:ProtocolDocument.Requested"
        document_type: str
        title: str
        applicant_id: UUID | None

    class Assigned(Aggregate.Event):
        TOPIC = "notifications:ProtocolDocument.Assigned"
        document_type: str
        protocol_number: str
        protocol_date: str  # ISO date

    @staticmethod
    def create_id(document_id: UUID) -> UUID:
        return document_id_for(document_id)

    @event(Created)
    def __init__(self, document_id: UUID) -> None:
        self.document_id = document_id
        self.document_type: str | None = None
        self.title: str | None = None
        self.applicant_id: UUID | None = None
        self.requested = False
        self.protocol_number: str | None = None
        self.protocol_date: str | None = None

    @property
    def assigned(self) -> bool:
        return self.protocol_number is not None

    @property
    def complete(self) -> bool:
        """Both halves are known: whose it is and its number."""
        return self.requested and self.assigned

    def record_request(self, document_type: str, title: str, applicant_id: UUID | None) -> None:
        if not self.requested:
            self._requested(document_type, title, applicant_id)

    @event(Requested)
    def _requested(self, document_type: str, title: str, applicant_id: UUID | None) -> None:
        self.document_type = document_type
        self.title = title
        self.applicant_id = applicant_id
        self.requested = True

    def record_assignment(
        self, document_type: str, protocol_number: str, protocol_date: str
    ) -> None:
        if not self.assigned:
            self._assigned(document_type, protocol_number, protocol_date)

    @event(Assigned)
    def _assigned(self, document_type: str, protocol_number: str, protocol_date: str) -> None:
        self.document_type = self.document_type or document_type
        self.protocol_number = protocol_number
        self.protocol_date = protocol_date


def document_id_for(document_id: UUID) -> UUID:
    return uuid5(DOCUMENT_NAMESPACE, str(document_id))


class MailingStart(Aggregate):
    """Since when events are e-mailed about: one, under `MAILING_START_ID`.

    Created once, at the service's first start (`set_by` "first_start"), or with the operator's
    `MAIL_SINCE`; replicas starting together all try to create it under the same id and the
    store keeps only the first, so they agree. Later starts change it only when `MAIL_SINCE`
    names another instant (`Moved`)."""

    TOPIC = "notifications:MailingStart"
    FIRST_START = "first_start"
    MAIL_SINCE = "MAIL_SINCE"

    class Created(Aggregate.Created):
        TOPIC = "notifications:MailingStart.Created"
        since: datetime
        set_by: str

    class Moved(Aggregate.Event):
        TOPIC = "notifications:MailingStart.Moved"
        since: datetime
        set_by: str

    @staticmethod
    def create_id(**_: Any) -> UUID:
        return MAILING_START_ID

    @event(Created)
    def __init__(self, since: datetime, set_by: str) -> None:
        self.since = since
        self.set_by = set_by

    def move(self, since: datetime, set_by: str) -> None:
        if since != self.since:
            self._moved(since, set_by)

    @event(Moved)
    def _moved(self, since: datetime, set_by: str) -> None:
        self.since = since
        self.set_by = set_by

    def mails(self, occurred_at: datetime) -> bool:
        """Whether an event that occurred at `occurred_at` is e-mailed about (not history)."""
        return occurred_at >= self.since
