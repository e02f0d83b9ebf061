"""The mailer's parts that need no database: the message, the backoff, and how SMTP answers are
taken (a 5xx gives up, anything else is tried again) (SPEC X-2)."""

from __future__ import annotations

import socket
import socketserver
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
from notifications_service.application import NotificationsApplication
from notifications_service.mailer import (
    PermanentFailure,
    SmtpServer,
    TemporaryFailure,
    build_message,
    message_id_for,
)

MAIL_FROM = "noreply@demo.portal.gr"
MUNICIPALITY = "Δήμος Παραδείγματος"


@pytest.fixture
def notification():
    app = NotificationsApplication()
    app.begin_mailing()
    user_id = uuid.uuid4()
    app.user_registered("registered-1", user_id, "eleni@example.gr", occurred_at=datetime.now(UTC))
    app.user_named(user_id, "Ελένη Παπαδοπούλου")
    told = app.tell(
        "replied-1",
        user_id,
        "request_replied",
        {"request_id": str(uuid.uuid4()), "number": "2026/000042"},
        occurred_at=datetime.now(UTC),
    )
    yield app, told
    app.close()


def test_x2_message_id_is_the_notification_at_the_sender_domain():
    notification_id = uuid.UUID("7c1e2d3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f")
    assert message_id_for(notification_id, MAIL_FROM) == f"<{notification_id}@demo.portal.gr>"


def test_x2_message_is_plain_text_and_html_alternatives_from_the_municipality(notification):
    app, told = notification
    content = app.templates.render_email(
        told.kind,
        told.params,
        recipient_name=told.recipient_name,
        municipality_name=MUNICIPALITY,
        public_url="http://127.0.0.1:8000",
    )
    message = build_message(told, content, mail_from=MAIL_FROM, municipality_name=MUNICIPALITY)

    assert message["Message-ID"] == f"<{told.id}@demo.portal.gr>"
    assert message["From"].addresses[0].display_name == MUNICIPALITY
    assert message["From"].addresses[0].addr_spec == MAIL_FROM
    assert str(message["To"]) == "Ελένη Παπαδοπούλου <eleni@example.gr>"
    assert message["Subject"] == "Απάντηση στο αίτημά σας 2026/000042"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message.get_content_type() == "multipart/alternative"
    plain, html = message.iter_parts()
    assert plain.get_content_type() == "text/plain"
    assert "Ο Δήμος απάντησε στο αίτημά σας με αριθμό 2026/000042" in plain.get_content()
    assert html.get_content_type() == "text/html"
    assert "<strong>2026/000042</strong>" in html.get_content()
    # Built again (a retry), it is the same e-mail: same id, same date.
    again = build_message(told, content, mail_from=MAIL_FROM, municipality_name=MUNICIPALITY)
    assert (again["Message-ID"], again["Date"]) == (message["Message-ID"], message["Date"])
    # It goes over the wire: headers encoded for SMTP, the Greek subject as an encoded word.
    wire = message.as_bytes()
    assert b"Subject: =?utf-8?" in wire


# --- how SMTP answers are taken, against a scripted SMTP server --------------------------------


class ScriptedSmtp(socketserver.StreamRequestHandler):
    """Just enough SMTP to answer RCPT and the end of DATA with the server's `replies`."""

    def handle(self) -> None:
        replies = self.server.replies  # type: ignore[attr-defined]
        self.wfile.write(b"220 scripted ESMTP\r\n")
        while line := self.rfile.readline():
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                self.wfile.write(b"250-scripted\r\n250 8BITMIME\r\n")
            elif verb == b"RCPT":
                self.wfile.write(replies.get("rcpt", b"250 ok") + b"\r\n")
            elif verb == b"DATA":
                self.wfile.write(b"354 go on\r\n")
                while self.rfile.readline() not in (b".\r\n", b""):
                    pass
                self.wfile.write(replies.get("data", b"250 queued") + b"\r\n")
            elif verb == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 ok\r\n")


@contextmanager
def scripted_smtp(**replies: bytes) -> Iterator[SmtpServer]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), ScriptedSmtp)
    server.replies = replies  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield SmtpServer("127.0.0.1", server.server_address[1], timeout_seconds=5)
    finally:
        server.shutdown()
        server.server_close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def message(notification):
    app, told = notification
    content = app.templates.render_email(
        told.kind, told.params, recipient_name=None, municipality_name=MUNICIPALITY, public_url=""
    )
    return build_message(told, content, mail_from=MAIL_FROM, municipality_name=MUNICIPALITY)


def test_x2_accepted_is_sent(message):
    with scripted_smtp() as smtp:
        smtp.send(message)


@pytest.mark.parametrize(
    ("replies", "failure"),
    [
        ({"rcpt": b"550 5.1.1 no such mailbox"}, PermanentFailure),
        ({"data": b"554 5.6.0 message refused"}, PermanentFailure),
        ({"rcpt": b"451 4.3.0 try again later"}, TemporaryFailure),
        ({"data": b"452 4.3.1 mailbox full for now"}, TemporaryFailure),
    ],
    ids=["recipient-5xx", "message-5xx", "recipient-4xx", "message-4xx"],
)
def test_x2_5xx_gives_up_4xx_is_tried_again(message, replies, failure):
    with scripted_smtp(**replies) as smtp, pytest.raises(failure):
        smtp.send(message)


def test_x2_server_down_is_tried_again(message):
    with pytest.raises(TemporaryFailure, match="unreachable: ConnectionRefusedError"):
        SmtpServer("127.0.0.1", free_port(), timeout_seconds=2).send(message)


def test_message_date_is_the_notifications(notification, message):
    _, told = notification
    assert message["Date"].datetime == told.created_at.astimezone(UTC).replace(microsecond=0)
    assert isinstance(message["Date"].datetime, datetime)
