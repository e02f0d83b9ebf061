"""The fines service, declared from the kit: `uvicorn fines_service.main:app`."""

from __future__ import annotations

from portal_web.service import Service

from fines_service.application import FinesApplication
from fines_service.settings import FinesSettings

service = Service(
    name="fines",
    title="Fines service",
    description="Municipal traffic fines: checked, quoted and paid (SPEC F-1..F-6).",
    settings=FinesSettings,
    application=FinesApplication,
)
app = service.create_app()
