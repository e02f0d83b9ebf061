"""The audit service's Application (its own events: the auditors' reads, verifications)."""

from __future__ import annotations

from portal_events.application import ServiceApplication


class AuditApplication(ServiceApplication):
    name = "audit"
