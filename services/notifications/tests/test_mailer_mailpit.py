"""The mailer against real PostgreSQL and a real SMTP server, the local stack's Mailpit: the
outbox survives an SMTP outage and each e-mail arrives once (SPEC X-2)."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from notifications_service.application import NotificationsApplication
from notifications_service.mailer import Mailer, SmtpServer
from notifications_service.views import NotificationProjection, NotificationView
from portal_events.background import RetryPolicy
from portal_events.projections import ReadModel

pytestmark = pytest.mark.integration

MAIL_FROM = "noreply@demo.portal.gr"
MUNICIPALITY = "Δήμος Παραδείγματος"


class Clock:
    """The mailer's clock, moved by hand so that 'due' is deterministic."""

    def __init__(self) -> None:
        # Ahead of the wall clock, so what is created during the test is already due.
        self.now = datetime.now(UTC) + timedelta(minutes=1)

    def __call__(self) -> datetime:
        return self.now


def now() -> datetime:
    return datetime.now(UTC)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def service(pg_env, mailpit) -> Iterator[tuple[NotificationsApplication, ReadModel, Mailer]]:
    app = NotificationsApplication(env=pg_env)
    app.begin_mailing()  # as the service's start does: what the tests make next is e-mailed
    notifications = ReadModel(app, NotificationProjection, NotificationView)
    mailer = Mailer(
        app,
        notifications.view,
        SmtpServer(mailpit.smtp_host, closed_port(), timeout_seconds=5),  # down, to start with
        RetryPolicy(base_seconds=1, max_seconds=60, jitter=0),
        mail_from=MAIL_FROM,
        municipality_name=MUNICIPALITY,
        public_url="http://127.0.0.1:8000",
        clock=Clock(),
    )
    try:
        yield app, notifications, mailer
    finally:
        notifications.close()
        app.close()


def settle(app: NotificationsApplication, notifications: ReadModel) -> None:
    assert notifications.wait(app.recorder.max_notification_id(), timeout=5)


def test_x2_smtp_down_then_back_the_email_arrives_once_with_both_parts(service, mailpit):
    app, notifications, mailer = service
    user_id = uuid.uuid4()
    address = f"mailer-{user_id.hex[:12]}@example.gr"
    welcome = app.user_registered(f"registered/{user_id}", user_id, address, occurred_at=now())
    assert welcome is not None
    settle(app, notifications)

    # The SMTP server is down: the attempt is recorded, the next one backed off.
    assert mailer.process_one() is True
    settle(app, notifications)
    failed = app.notification(welcome.id)
    assert (failed.email_status, failed.email_attempts) == ("due", 1)
    assert "ConnectionRefusedError" in (failed.last_email_failure or "")
    assert mailer.process_one() is False  # not due again before its backoff
    mailer.clock.now += timedelta(seconds=1)

    # Back: sent, recorded, and not sent again.
    mailer.server = SmtpServer(mailpit.smtp_host, mailpit.smtp_port, timeout_seconds=5)
    assert mailer.process_one() is True
    settle(app, notifications)
    assert app.notification(welcome.id).email_status == "sent"
    assert mailer.process_one() is False

    (summary,) = mailpit.messages_to(address)
    assert summary["MessageID"] == f"{welcome.id}@demo.portal.gr"
    message = mailpit.message(summary["ID"])
    assert message["Subject"] == "Καλώς ήρθατε στην ηλεκτρονική πύλη του Δήμου"
    assert message["From"] == {"Name": MUNICIPALITY, "Address": MAIL_FROM}
    assert address in message["Text"] and "Δήμος Παραδείγματος" in message["Text"]
    assert f"<strong>{address}</strong>" in message["HTML"]


def test_x2_email_turned_off_sends_nothing_but_a_security_notice(service, mailpit):
    app, notifications, mailer = service
    mailer.server = SmtpServer(mailpit.smtp_host, mailpit.smtp_port, timeout_seconds=5)
    user_id = uuid.uuid4()
    address = f"mailer-off-{user_id.hex[:12]}@example.gr"
    app.user_registered(f"registered/{user_id}", user_id, address, occurred_at=now())
    app.set_email_preference(user_id, False)
    replied = {"request_id": "x", "number": "1"}
    app.tell(f"replied/{user_id}", user_id, "request_replied", replied, occurred_at=now())
    changed = {"changed_at": "02/03/2026"}
    app.tell(f"password/{user_id}", user_id, "password_changed", changed, occurred_at=now())
    settle(app, notifications)
    while mailer.process_one():
        settle(app, notifications)

    subjects = sorted(m["Subject"] for m in mailpit.messages_to(address))
    assert subjects == [
        "Καλώς ήρθατε στην ηλεκτρονική πύλη του Δήμου",  # before e-mails were turned off
        "Ο κωδικός πρόσβασής σας άλλαξε",
    ]
