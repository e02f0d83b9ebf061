"""Everything configurable about the notifications service, from the environment."""

from __future__ import annotations

from portal_web import ServiceSettings


class NotificationsSettings(ServiceSettings):
    postgres_dbname: str = "notifications"
