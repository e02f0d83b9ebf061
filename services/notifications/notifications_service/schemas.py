"""What the notifications API accepts and answers (SPEC X-2); every field described."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from portal_web import ListPage
from pydantic import BaseModel, ConfigDict, Field

from notifications_service.domainmodel import Notification

NOTIFICATION_ID_EXAMPLE = "7c1e2d3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"


def _unread() -> Any:
    return Field(description="How many of the caller's notifications are unread", examples=[3])


class NotificationSummary(BaseModel):
    """One notification, as the portal shows it (SPEC X-2)."""

    id: UUID = Field(description="The notification's id", examples=[NOTIFICATION_ID_EXAMPLE])
    kind: str = Field(
        description="What it is about: welcome, password_changed, account_disabled, "
        "request_replied, request_status_changed, protocol_assigned, certificate_replied, "
        "certificate_status_changed, certificate_issued, certificate_rejected, "
        "payment_completed, payment_failed, warrant_issued, warrant_paid, "
        "tax_declaration_accepted, tax_declaration_accepted_nil (nothing to pay), "
        "tax_declaration_rejected, tax_declaration_filed",
        examples=["request_replied"],
    )
    title: str = Field(description="Short title, in Greek", examples=["Απάντηση στο αίτημά σας"])
    body: str = Field(
        description="The message, in Greek (plain text)",
        examples=["Ο Δήμος απάντησε στο αίτημά σας με αριθμό 2026/000042."],
    )
    link: str | None = Field(
        description="The API path of what it is about (e.g. the request); null if none",
        examples=["/requests/3b9a4c52-1d2e-4f6a-8b7c-9d0e1f2a3b4c"],
    )
    created_at: datetime = Field(description="When it was made (UTC)")
    read_at: datetime | None = Field(description="When the caller marked it read; null: unread")


class NotificationPublic(NotificationSummary):
    """One notification (the answer to marking it read)."""

    @classmethod
    def of(cls, notification: Notification) -> NotificationPublic:
        return cls(
            id=notification.id,
            kind=notification.kind,
            title=notification.title,
            body=notification.body,
            link=notification.link,
            created_at=notification.created_at,
            read_at=notification.read_at,
        )


class NotificationSummaryPage(ListPage[NotificationSummary]):
    """A page of the caller's notifications, newest first, with the unread count (SPEC X-2)."""

    unread: int = _unread()


class UnreadCount(BaseModel):
    """What is left unread (SPEC X-2)."""

    unread: int = _unread()


class PreferencesPublic(BaseModel):
    """How the caller wants to be told (SPEC X-2)."""

    email: bool = Field(
        description="Notifications by e-mail too (true, the default) or only in the portal. "
        "Security notices (password changed, account disabled) are e-mailed regardless."
    )


class PreferencesUpdate(BaseModel):
    """Turn e-mails on or off (SPEC X-2)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"email": False}]})

    email: bool = Field(
        description="false: notifications only in the portal, except security notices"
    )
