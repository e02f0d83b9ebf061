"""The fines service's Application: fines, their quotes and their payments (SPEC F-1..F-6)."""

from __future__ import annotations

from portal_events.application import ServiceApplication


class FinesApplication(ServiceApplication):
    name = "fines"
