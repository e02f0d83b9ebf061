"""The backoffice service, declared from the kit: `uvicorn backoffice_service.main:app`.

It consumes the public events of identity, requests, protocol, certificates, fines, payments
and business into the clerks' worklist (SPEC X-3) and publishes nothing. The worklist is rebuilt
from zero with `python -m backoffice_service.rebuild`.
"""

from __future__ import annotations

from portal_web.service import Service

from backoffice_service.api import router
from backoffice_service.application import BackofficeApplication
from backoffice_service.integration import CONSUMED_TOPICS, handlers
from backoffice_service.settings import BackofficeSettings

service = Service(
    name="backoffice",
    title="Back-office",
    description="Back-office: the clerks' worklist per department, built from every service's "
    "events, with due dates from data and a summary per department (SPEC X-3).",
    settings=BackofficeSettings,
    application=BackofficeApplication,
    routers=[router],
    consumes=CONSUMED_TOPICS,
    handlers=handlers,
)
app = service.create_app()
