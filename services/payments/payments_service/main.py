"""The payments service, declared from the kit: `uvicorn payments_service.main:app`."""

from __future__ import annotations

from portal_web.service import Service

from payments_service.application import PaymentsApplication
from payments_service.settings import PaymentsSettings

service = Service(
    name="payments",
    title="Payments service",
    description="Card payments through the bank's hosted page (SPEC P-1, P-2).",
    settings=PaymentsSettings,
    application=PaymentsApplication,
)
app = service.create_app()
