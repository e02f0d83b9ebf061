"""Where everything lives and on which port: defaults, overridable by environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
DEPLOY = REPO / "deploy"

DEMO_ADMIN_EMAIL = "admin@demo.portal.gr"
DEMO_ADMIN_PASSWORD = "Demo-Admin-2026!"  # noqa: S105 - public demo value, printed by `up`


def _port(name: str, default: int) -> int:
    return int(os.environ.get(f"PORTAL_{name.upper().replace('-', '_')}_PORT", default))


@dataclass(frozen=True)
class Service:
    """A Python web process of the stack (a service or a simulator of an external system)."""

    name: str  # process name, URL prefix at the gateway, PORTAL_<NAME>_PORT
    app: str  # uvicorn target
    port: int
    database: str | None = None
    health_path: str = ""
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def health_url(self) -> str:
        return self.url + (self.health_path or f"/{self.name}/health")


@dataclass(frozen=True)
class Config:
    state: Path
    pg_port: int
    kafka_port: int
    kafka_controller_port: int
    gateway_port: int
    kafka_version: str
    log4j_version: str
    admin_email: str
    admin_password: str
    admin_from_env: bool

    @classmethod
    def from_env(cls) -> Config:
        env = os.environ
        kafka_port = _port("kafka", 19092)
        return cls(
            state=Path(env.get("PORTAL_STATE_DIR", REPO / ".stack")).resolve(),
            pg_port=_port("pg", 54329),
            kafka_port=kafka_port,
            kafka_controller_port=_port("kafka-controller", kafka_port + 1),
            gateway_port=_port("gateway", 8000),
            kafka_version=env.get("KAFKA_VERSION", "4.3.1"),
            log4j_version=env.get("LOG4J_VERSION", "2.25.3"),
            admin_email=env.get("PORTAL_ADMIN_EMAIL", DEMO_ADMIN_EMAIL),
            admin_password=env.get("PORTAL_ADMIN_PASSWORD", DEMO_ADMIN_PASSWORD),
            admin_from_env="PORTAL_ADMIN_PASSWORD" in env,
        )

    # Layout of the state dir.
    @property
    def logs(self) -> Path:
        return self.state / "logs"

    @property
    def run(self) -> Path:
        return self.state / "run"

    @property
    def pg_dir(self) -> Path:
        return self.state / "pg"

    @property
    def kafka_dir(self) -> Path:
        return self.state / "kafka"

    @property
    def jars(self) -> Path:
        return self.state / "jars" / self.kafka_version

    @property
    def jwt_key(self) -> Path:
        return self.state / "keys" / "jwt-es256.pem"

    @property
    def kafka_bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    @property
    def services(self) -> tuple[Service, ...]:
        registry = Service(
            "protocol-registry",
            "portal_simulators.protocol_registry:app",
            _port("protocol-registry", 8201),
            health_path="/health",
            extra_env={"REGISTRY_SIM_DB": str(self.state / "registry-sim.sqlite3")},
        )
        identity = Service(
            "identity",
            "identity_service.main:app",
            _port("identity", 8101),
            database="identity",
            extra_env={
                "JWT_PRIVATE_KEY_FILE": str(self.jwt_key),
                "PORTAL_ADMIN_EMAIL": self.admin_email,
                "PORTAL_ADMIN_PASSWORD": self.admin_password,
            },
        )
        requests = Service(
            "requests", "requests_service.main:app", _port("requests", 8102), database="requests"
        )
        protocol = Service(
            "protocol",
            "protocol_service.main:app",
            _port("protocol", 8103),
            database="protocol",
            extra_env={"PROTOCOL_REGISTRY_URL": registry.url},
        )
        return (registry, identity, requests, protocol)

    def service(self, name: str) -> Service:
        return next(s for s in self.services if s.name == name)

    def service_env(self, service: Service) -> dict[str, str]:
        """The environment a service process gets (the same names as in docker-compose.yml)."""
        return {
            "POSTGRES_HOST": "127.0.0.1",
            "POSTGRES_PORT": str(self.pg_port),
            "POSTGRES_USER": "postgres",
            "POSTGRES_PASSWORD": "postgres",
            "POSTGRES_DBNAME": service.database or "postgres",
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap,
            "LOG_FORMAT": "json",
            "JWKS_URL": f"{self.service('identity').url}/identity/.well-known/jwks.json",
            "JWT_ISSUER": "portal-identity",
            "JWT_AUDIENCE": "portal",
            "PYTHONUNBUFFERED": "1",
            **service.extra_env,
        }
