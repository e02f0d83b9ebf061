"""Everything configurable about the notifications service, from the environment.

Field names are the environment variables' (case-insensitive): `SMTP_HOST`, `MAIL_FROM`, ...
Locally the SMTP server is Mailpit (no authentication, no TLS); elsewhere a real relay, with
`SMTP_USERNAME`/`SMTP_PASSWORD` and `SMTP_STARTTLS=true`.

`MAIL_SINCE` is for an operator who rebuilds the service's database (or first deploys it with a
known cut-over): events that occurred before it are not e-mailed, only listed in the portal.
Unset, that instant is the service's first start, recorded once (`MailingStart`).
"""

from __future__ import annotations

from portal_web import ServiceSettings
from pydantic import AwareDatetime, Field, SecretStr


class NotificationsSettings(ServiceSettings):
    postgres_dbname: str = "notifications"

    smtp_host: str = Field("127.0.0.1", description="The SMTP server e-mails are handed to")
    smtp_port: int = Field(1025, description="Its port (Mailpit: 1025; a relay: 587)")
    smtp_username: str = Field("", description="Empty: no authentication")
    smtp_password: SecretStr = Field(SecretStr(""), description="With smtp_username")
    smtp_starttls: bool = Field(False, description="Upgrade the connection with STARTTLS")
    smtp_timeout_seconds: float = Field(10.0, description="Connecting and each SMTP command")

    mail_from: str = Field(
        "noreply@demo.portal.gr",
        description="The sender's address; its domain is also the Message-ID's right-hand side",
    )
    mail_since: AwareDatetime | None = Field(
        None,
        description="ISO-8601 with a time zone, e.g. 2026-11-25T12:00:00+02:00: e-mail nothing "
        "that occurred before it (unset: nothing before the service's first start)",
    )
    mail_retry_base_seconds: float = Field(1.0, description="First wait after a failed send")
    mail_retry_max_seconds: float = Field(60.0, description="Longest wait between two attempts")
    # A new notification wakes the mailer at once; this poll is the fallback (retries that come
    # due, a replica whose view follower is on standby).
    mailer_poll_seconds: float = 1.0
    mailer_concurrency: int = 2

    portal_public_url: str = Field(
        "http://127.0.0.1:8000", description="The portal as people reach it (links in e-mails)"
    )
    municipality_name: str = Field(
        "Δήμος Παραδείγματος", description="Who signs the e-mails (their From name)"
    )
