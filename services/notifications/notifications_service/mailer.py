"""The mailer: sends the e-mails that are due, through a real SMTP server (SPEC X-2).

Sending is an outbox. A notification with an address is due from its creation; the mailer claims
due ones from the notification view (so a restart loses none), sends each as one
multipart/alternative message (plain text + HTML) with the standard library's `smtplib`, in a
worker thread, and records what happened:

- accepted: `EmailSent`;
- the server down, unreachable, slow, or refusing for now (4xx), or our own account refused
  (a configuration problem, not this e-mail's): `EmailAttemptFailed`, and the next attempt after
  an exponential backoff (`MAIL_RETRY_BASE_SECONDS` doubling up to `MAIL_RETRY_MAX_SECONDS`),
  for as long as it takes;
- refused for good (a 5xx for the recipient or the message): `EmailGivenUp`, logged; the
  notification stays in the portal.

The `Message-ID` is derived from the notification (`<{notification_id}@{domain of MAIL_FROM}>`),
and the `Date` is the notification's, so a retry after a crash between sending and recording is
recognisably the same e-mail, which receiving systems and people can tell apart from a second one.

The mailer is the service's worker (`Mailer.of`), the SMTP client a plain object it holds.
"""

from __future__ import annotations

import smtplib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from uuid import UUID

import structlog
from portal_events import context
from portal_events.background import PollingWorker, RetryPolicy
from portal_web.service import Runtime

from notifications_service.application import NotificationsApplication
from notifications_service.domainmodel import Notification
from notifications_service.settings import NotificationsSettings
from notifications_service.templates import EmailContent
from notifications_service.views import NotificationView

log = structlog.get_logger(__name__)
ACTOR = context.Actor.system("notifications-mailer")


# --- the message ------------------------------------------------------------------------------


def message_id_for(notification_id: UUID, mail_from: str) -> str:
    """Deterministic: one notification, one Message-ID, however often it is sent."""
    domain = mail_from.rpartition("@")[2] or "localhost"
    return f"<{notification_id}@{domain}>"


def build_message(
    notification: Notification,
    content: EmailContent,
    *,
    mail_from: str,
    municipality_name: str,
) -> EmailMessage:
    """The e-mail of `notification`: plain text and HTML alternatives, from the municipality."""
    assert notification.email_to is not None
    message = EmailMessage()
    message["Subject"] = content.subject
    message["From"] = Address(display_name=municipality_name, addr_spec=mail_from)
    message["To"] = Address(
        display_name=notification.recipient_name or "", addr_spec=notification.email_to
    )
    message["Date"] = format_datetime(notification.created_at.astimezone(UTC))
    message["Message-ID"] = message_id_for(notification.id, mail_from)
    # RFC 3834: sent by a program; auto-responders should not answer it.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(content.text)
    message.add_alternative(content.html, subtype="html")
    return message


# --- the SMTP server --------------------------------------------------------------------------


class TemporaryFailure(Exception):
    """Not sent this time; trying again later may succeed."""


class PermanentFailure(Exception):
    """Refused for good for this recipient or message (5xx); trying again would not help."""


@dataclass(frozen=True)
class SmtpServer:
    """An SMTP server to hand e-mails to: one connection per message (they are few)."""

    host: str
    port: int
    username: str = ""
    password: str = ""
    starttls: bool = False
    timeout_seconds: float = 10.0

    @classmethod
    def of(cls, settings: NotificationsSettings) -> SmtpServer:
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value(),
            starttls=settings.smtp_starttls,
            timeout_seconds=settings.smtp_timeout_seconds,
        )

    def send(self, message: EmailMessage) -> None:
        """Hand `message` over; raise TemporaryFailure or PermanentFailure if not accepted."""
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout_seconds) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.username:
                    smtp.login(self.username, self.password)
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()))
            raise _by_code(code, f"recipient refused: {code} {_text(reply)}") from exc
        except smtplib.SMTPDataError as exc:
            raise _by_code(exc.smtp_code, f"message refused: {exc.smtp_code}") from exc
        except smtplib.SMTPResponseException as exc:
            # Our sender, our login or the greeting refused: the server's or our configuration's
            # trouble, not this e-mail's; it is retried (and logged) until that is fixed.
            raise TemporaryFailure(f"{type(exc).__name__}: {exc.smtp_code}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            # Refused connection, timeout, dropped connection, TLS trouble.
            raise TemporaryFailure(f"unreachable: {type(exc).__name__}") from exc


def _by_code(code: int, reason: str) -> Exception:
    return PermanentFailure(reason) if 500 <= code < 600 else TemporaryFailure(reason)


def _text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else reply


def utc_now() -> datetime:
    return datetime.now(UTC)


# --- the worker -------------------------------------------------------------------------------


class Mailer(PollingWorker):
    """The service's worker: `concurrency` loops, each one e-mail at a time.

    Cancelled, a loop first lets the send in hand finish and record its outcome (at most about
    the SMTP timeout). Abandoned half-way (cancelled again, or the process killed), an e-mail
    stays due and is sent again later with the same Message-ID.
    """

    name = "mailer"

    def __init__(
        self,
        app: NotificationsApplication,
        view: NotificationView,
        server: SmtpServer,
        policy: RetryPolicy,
        *,
        mail_from: str,
        municipality_name: str,
        public_url: str,
        poll_seconds: float = 1.0,
        concurrency: int = 2,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        super().__init__(poll_seconds=poll_seconds, concurrency=concurrency)
        self.app = app
        self.view = view
        self.server = server
        self.policy = policy
        self.mail_from = mail_from
        self.municipality_name = municipality_name
        self.public_url = public_url
        self.clock = clock

    @classmethod
    def of(cls, runtime: Runtime) -> Mailer:
        settings: NotificationsSettings = runtime.settings
        notifications = runtime.read_model(NotificationView)
        mailer = cls(
            runtime.application,
            notifications.view,
            SmtpServer.of(settings),
            RetryPolicy(settings.mail_retry_base_seconds, settings.mail_retry_max_seconds),
            mail_from=settings.mail_from,
            municipality_name=settings.municipality_name,
            public_url=settings.portal_public_url,
            poll_seconds=settings.mailer_poll_seconds,
            concurrency=settings.mailer_concurrency,
        )
        # A new notification wakes the mailer at once; polling is the fallback.
        notifications.on_applied(mailer.wake)
        return mailer

    def message_for(self, notification: Notification) -> EmailMessage:
        content = self.app.templates.render_email(
            notification.kind,
            notification.params,
            recipient_name=notification.recipient_name,
            municipality_name=self.municipality_name,
            public_url=self.public_url,
        )
        return build_message(
            notification,
            content,
            mail_from=self.mail_from,
            municipality_name=self.municipality_name,
        )

    def process_one(self) -> bool:
        """Send one due e-mail, if any; True when the SMTP server was tried."""
        with self.view.claim_due_email(self.clock()) as row:
            if row is None:
                return False
            with context.bound(correlation_id=row["correlation_id"], actor=ACTOR):
                return self._attempt(row["id"])

    def _attempt(self, notification_id: UUID) -> bool:
        notification = self.app.notification(notification_id)
        if not notification.email_due:
            return False  # the view lags a moment behind the notification
        message = self.message_for(notification)
        try:
            self.server.send(message)
        except TemporaryFailure as exc:
            attempt = notification.email_attempts + 1
            next_at = self.clock() + timedelta(seconds=self.policy.delay(attempt))
            self.app.record_email_failure(notification_id, str(exc), next_at)
            log.warning(
                "email_send_failed",
                notification_id=str(notification_id),
                attempt=attempt,
                reason=str(exc),
                next_attempt_at=next_at.isoformat(),
            )
        except PermanentFailure as exc:
            self.app.give_up_email(notification_id, str(exc))
            log.error("email_given_up", notification_id=str(notification_id), reason=str(exc))
        else:
            self.app.record_email_sent(notification_id, message["Message-ID"])
            log.info(
                "email_sent",
                notification_id=str(notification_id),
                kind=notification.kind,
                message_id=message["Message-ID"],
            )
        return True
