"""The notifications service, declared from the kit: `uvicorn notifications_service.main:app`.

It consumes the public events of identity, requests, protocol, certificates, payments and
business, tells the person concerned in the portal (the notification list read model) and by
e-mail (the mailer worker sends what the same read model shows as due, through the SMTP server,
retrying through outages) (SPEC X-2). It publishes nothing.

At every start, before the consumer runs, it records since when events are e-mailed (once: the
first start, or `MAIL_SINCE`), so that the history a new consumer group replays from the kept
topics fills the portal's lists without e-mailing anyone months late.
"""

from __future__ import annotations

import structlog
from portal_web.service import Runtime, Service

from notifications_service.api import ERRORS, router
from notifications_service.application import NotificationsApplication
from notifications_service.integration import CONSUMED_TOPICS, handlers
from notifications_service.mailer import Mailer
from notifications_service.settings import NotificationsSettings
from notifications_service.views import NotificationProjection, NotificationView

log = structlog.get_logger(__name__)


def begin_mailing(runtime: Runtime) -> None:
    """Record since when events are e-mailed (the first start, or `MAIL_SINCE`), and say it."""
    settings: NotificationsSettings = runtime.settings
    application: NotificationsApplication = runtime.application
    since = application.begin_mailing(settings.mail_since)
    log.info(
        "mailing_since", since=since.isoformat(), mail_since_set=settings.mail_since is not None
    )


service = Service(
    name="notifications",
    title="Notifications",
    description="Notifications (SPEC X-2): in the portal and by e-mail, from every service's "
    "events, in Greek. Each person sees only their own; e-mail can be turned off, except "
    "security notices.",
    settings=NotificationsSettings,
    application=NotificationsApplication,
    routers=[router],
    errors=ERRORS,
    read_models=[(NotificationProjection, NotificationView)],
    consumes=list(CONSUMED_TOPICS),
    handlers=handlers,
    workers={"mailer": Mailer.of},
    on_startup=begin_mailing,
)
app = service.create_app()
