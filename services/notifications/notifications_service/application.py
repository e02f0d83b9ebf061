"""The notifications service's Application."""

from __future__ import annotations

from portal_events.application import ServiceApplication


class NotificationsApplication(ServiceApplication):
    name = "notifications"
