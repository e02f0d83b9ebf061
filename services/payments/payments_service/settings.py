"""Everything configurable about the payments service, from the environment."""

from __future__ import annotations

from portal_web import ServiceSettings


class PaymentsSettings(ServiceSettings):
    postgres_dbname: str = "payments"
