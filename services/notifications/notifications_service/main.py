"""The notifications service, declared from the kit: `uvicorn notifications_service.main:app`."""

from __future__ import annotations

from portal_web.service import Service

from notifications_service.application import NotificationsApplication
from notifications_service.settings import NotificationsSettings

service = Service(
    name="notifications",
    title="Notifications",
    description="Notifications: "
    "in the portal and by e-mail, from every service's events (SPEC X-2).",
    settings=NotificationsSettings,
    application=NotificationsApplication,
)
app = service.create_app()
