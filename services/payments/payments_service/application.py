"""The payments service's Application."""

from __future__ import annotations

from portal_events.application import ServiceApplication


class PaymentsApplication(ServiceApplication):
    name = "payments"
