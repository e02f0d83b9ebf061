"""The business service, declared from the kit: `uvicorn business_service.main:app`."""

from __future__ import annotations

from portal_web.service import Service

from business_service.application import BusinessApplication
from business_service.settings import BusinessSettings

service = Service(
    name="business",
    title="Business services",
    description="Payment warrants, municipal tax declared and paid as one unit, assessed tax "
    "debts paid online (SPEC B-1..B-3).",
    settings=BusinessSettings,
    application=BusinessApplication,
)
app = service.create_app()
