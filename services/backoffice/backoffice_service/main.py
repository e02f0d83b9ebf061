"""The backoffice service, declared from the kit: `uvicorn backoffice_service.main:app`."""

from __future__ import annotations

from portal_web.service import Service

from backoffice_service.application import BackofficeApplication
from backoffice_service.settings import BackofficeSettings

service = Service(
    name="backoffice",
    title="Back-office",
    description="Back-office: "
    "the clerks' worklist per department, built from every service's events (SPEC X-3).",
    settings=BackofficeSettings,
    application=BackofficeApplication,
)
app = service.create_app()
