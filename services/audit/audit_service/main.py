"""Composition root: `uvicorn audit_service.main:app`."""

from __future__ import annotations

from portal_web.service import Service

from audit_service.application import AuditApplication
from audit_service.settings import AuditSettings

service = Service(
    name="audit",
    title="Audit",
    description="SPEC X-1: every case's history across services, a case's state at a moment, "
    "the export of stored events, the integrity of every service's history.",
    settings=AuditSettings,
    application=AuditApplication,
)
app = service.create_app()
