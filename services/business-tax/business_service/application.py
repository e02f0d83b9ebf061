"""The business service's Application."""

from __future__ import annotations

from portal_events.application import ServiceApplication


class BusinessApplication(ServiceApplication):
    name = "business"
