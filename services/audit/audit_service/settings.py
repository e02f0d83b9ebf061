"""Everything configurable about the audit service, from the environment. The rest is the kit's
`ServiceSettings`."""

from __future__ import annotations

from portal_web import ServiceSettings


class AuditSettings(ServiceSettings):
    postgres_dbname: str = "audit"
    audit_service_urls: str = ""
    """`name=base URL` pairs, comma-separated: where each service answers the kit's history
    routes (a case's state at a moment is replayed by the service that owns it)."""
    audit_history_timeout_seconds: float = 10.0
    """How long a service may take to replay an aggregate's state for `GET .../state`."""

    def url_of(self, service: str) -> str | None:
        pairs = (item.split("=", 1) for item in self.audit_service_urls.split(",") if "=" in item)
        return {name.strip(): url.strip().rstrip("/") for name, url in pairs}.get(service)
