"""The backoffice service's Application."""

from __future__ import annotations

from portal_events.application import ServiceApplication


class BackofficeApplication(ServiceApplication):
    name = "backoffice"
