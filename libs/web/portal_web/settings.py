"""Settings every service shares; each service subclasses them (pydantic-settings, from env)."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    postgres_host: str = "127.0.0.1"
    postgres_port: int = 54329
    postgres_user: str = "postgres"
    postgres_password: str = ""  # from the environment (the local stack's: deploy/services.toml)
    postgres_dbname: str = "postgres"

    kafka_enabled: bool = True
    kafka_bootstrap_servers: str = "127.0.0.1:19092"

    jwks_url: str = "http://127.0.0.1:8101/identity/.well-known/jwks.json"
    jwt_issuer: str = "portal-identity"
    jwt_audience: str = "portal"
    # Clock skew between identity and this service that token times (exp, iat) tolerate.
    jwt_leeway_seconds: float = 30.0
    # Identity's keys: how long one fetch may take, how long they are kept, and the least time
    # between two fetches (an unknown `kid` asks for one; forged kids must not flood identity).
    jwks_timeout_seconds: float = 2.0
    jwks_cache_seconds: float = 300.0
    jwks_refetch_interval_seconds: float = 5.0

    # Read-your-writes: how long a write waits for its read model before answering anyway.
    read_your_writes_timeout_seconds: float = 2.0

    # How often the sealer publishes the head of the service's hash chain when it moved.
    history_checkpoint_seconds: float = 60.0

    log_format: str = "json"
    log_level: str = "INFO"

    def eventsourcing_env(self) -> dict[str, str]:
        """The environment the eventsourcing Application reads for its PostgreSQL store."""
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_HOST": self.postgres_host,
            "POSTGRES_PORT": str(self.postgres_port),
            "POSTGRES_USER": self.postgres_user,
            "POSTGRES_PASSWORD": self.postgres_password,
            "POSTGRES_DBNAME": self.postgres_dbname,
        }
