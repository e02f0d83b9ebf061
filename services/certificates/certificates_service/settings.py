"""Everything configurable about the certificates service, from the environment."""

from __future__ import annotations

from portal_web import ServiceSettings


class CertificatesSettings(ServiceSettings):
    postgres_dbname: str = "certificates"
