"""The certificates service, declared from the kit: `uvicorn certificates_service.main:app`."""

from __future__ import annotations

from portal_web.service import Service

from certificates_service.application import CertificatesApplication
from certificates_service.settings import CertificatesSettings

service = Service(
    name="certificates",
    title="Certificates",
    description="Certificates: "
    "civil-registry and TAP applications, automatic protocol, verifiable PDF documents "
    "(SPEC C-1..C-6).",
    settings=CertificatesSettings,
    application=CertificatesApplication,
)
app = service.create_app()
