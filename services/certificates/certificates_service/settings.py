"""Everything configurable about the certificates service, from the environment. The rest (Kafka,
token checks, read-your-writes timeout) is the kit's `ServiceSettings`."""

from __future__ import annotations

from portal_web import ServiceSettings
from pydantic import Field

from certificates_service.documents import DEFAULT_FONT_DIR


class CertificatesSettings(ServiceSettings):
    postgres_dbname: str = "certificates"

    municipality_name: str = Field(
        "Δήμος Παραδείγματος", description="Printed at the head of every certificate"
    )
    portal_public_url: str = Field(
        "http://127.0.0.1:8000",
        description="The gateway's public base URL as browsers reach it: the QR code on a "
        "certificate points at {portal_public_url}/certificates/verify/{code}",
    )
    certificates_font_dir: str = Field(
        DEFAULT_FONT_DIR,
        description="Where DejaVuSans.ttf and DejaVuSans-Bold.ttf are (Debian fonts-dejavu-core)",
    )
    # C-4: how long an application's answer waits for its protocol number before saying
    # "pending" (the number then arrives later on its own).
    certificates_protocol_wait_seconds: float = Field(2.0, ge=0, le=30)

    def eventsourcing_env(self) -> dict[str, str]:
        # The Application prints certificates: it reads these from its environment.
        return super().eventsourcing_env() | {
            "MUNICIPALITY_NAME": self.municipality_name,
            "PORTAL_PUBLIC_URL": self.portal_public_url,
            "CERTIFICATES_FONT_DIR": self.certificates_font_dir,
        }
