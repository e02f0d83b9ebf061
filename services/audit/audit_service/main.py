"""Composition root: `uvicorn audit_service.main:app`.

It consumes what every service's sealer publishes (`audit.history`, `audit.checkpoints`) into
the archive, and publishes nothing: its own events (the auditors' reads, the verifications) feed
its read models only.
"""

from __future__ import annotations

import httpx
from portal_events.topics import AUDIT_CHECKPOINTS, AUDIT_HISTORY
from portal_web.service import Runtime, Service

from audit_service.api import ERRORS, HISTORY_CLIENT, router
from audit_service.application import AuditApplication
from audit_service.integration import handlers
from audit_service.settings import AuditSettings
from audit_service.views import (
    AuditTrailProjection,
    AuditTrailView,
    LastVerificationProjection,
    LastVerificationView,
)


def history_client(runtime: Runtime) -> httpx.Client:
    """The client the state route asks the owning services with."""
    return httpx.Client(timeout=runtime.settings.audit_history_timeout_seconds)


service = Service(
    name="audit",
    title="Audit",
    description="SPEC X-1: every case's history across services, a case's state at a moment, "
    "the export of stored events, the integrity of every service's history, and the audit "
    "trail of the auditors' own reads.",
    settings=AuditSettings,
    application=AuditApplication,
    routers=[router],
    errors=ERRORS,
    read_models=[
        (AuditTrailProjection, AuditTrailView),
        (LastVerificationProjection, LastVerificationView),
    ],
    consumes=[AUDIT_HISTORY, AUDIT_CHECKPOINTS],
    handlers=handlers,
    resources={HISTORY_CLIENT: history_client},
)
app = service.create_app()
