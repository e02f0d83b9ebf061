"""Where everything lives and on which port: defaults (the processes from deploy/services.toml),
overridable by environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

from .services import REPO, SECRETS, Process, ServiceList, fill, load

DEPLOY = REPO / "deploy"
DEFAULT_STATE = REPO / ".stack"

DEMO_ADMIN_EMAIL = "admin@demo.portal.gr"
DEMO_ADMIN_PASSWORD = "Demo-Admin-2026!"  # noqa: S105 - public demo value, printed by `up`
# Identity accepts the demo password only here (PORTAL_ENVIRONMENT), and believes X-Forwarded-For
# only from the gateway, which the local stack runs on loopback (TRUSTED_PROXIES).
ENVIRONMENT = "local"
TRUSTED_PROXIES = "127.0.0.1/32,::1/128"

# What the local stack sets beyond deploy/services.toml, per process, because its tests need it:
# an abandoned payment expires after 30 s instead of 15 minutes, and a payment whose bank
# notification never came is asked about at the bank after 5 s instead of a minute, so the
# end-to-end tests of both paths take seconds. The caller's environment wins (e.g.
# `PAYMENT_EXPIRE_AFTER_SECONDS=900 make up` leaves time to fill the bank's page by hand).
LOCAL_ENV = {
    "payments": {"PAYMENT_EXPIRE_AFTER_SECONDS": "30", "PAYMENT_RECONCILE_AFTER_SECONDS": "5"},
}


@cache
def service_list() -> ServiceList:
    """deploy/services.toml, read once per process."""
    return load()


def _port(name: str, default: int) -> int:
    return int(os.environ.get(f"PORTAL_{name.upper().replace('-', '_')}_PORT", default))


@dataclass(frozen=True)
class Config:
    state: Path
    pg_port: int
    kafka_port: int
    kafka_controller_port: int
    gateway_port: int
    gateway_operators_port: int
    smtp_port: int
    mailpit_port: int
    kafka_version: str
    log4j_version: str
    # Tools the stack builds (Mailpit): one cache for every stack of this checkout, since a
    # build takes a minute; `reset` keeps it.
    tools: Path
    admin_email: str
    admin_password: str
    admin_from_env: bool

    @classmethod
    def from_env(cls) -> Config:
        env = os.environ
        kafka_port = _port("kafka", 19092)
        gateway_port = _port("gateway", 8000)
        return cls(
            state=Path(env.get("PORTAL_STATE_DIR", DEFAULT_STATE)).resolve(),
            pg_port=_port("pg", 54329),
            kafka_port=kafka_port,
            kafka_controller_port=_port("kafka-controller", kafka_port + 1),
            gateway_port=gateway_port,
            gateway_operators_port=_port("gateway-operators", gateway_port + 1),
            smtp_port=_port("smtp", 1025),
            mailpit_port=_port("mailpit", 8025),
            kafka_version=env.get("KAFKA_VERSION", "4.3.1"),
            log4j_version=env.get("LOG4J_VERSION", "2.25.3"),
            tools=Path(env.get("PORTAL_TOOLS_DIR", DEFAULT_STATE / "tools")).resolve(),
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
    def mailpit_dir(self) -> Path:
        """Mailpit's mailbox: kept across restarts, wiped by `reset`."""
        return self.state / "mailpit"

    @property
    def jwt_key(self) -> Path:
        return self.state / "keys" / "jwt-es256.pem"

    def secret_file(self, name: str) -> Path:
        """Where the local stack keeps the secret of placeholder `name` (services.SECRETS)."""
        return self.state / "keys" / name.replace("_", "-")

    def secret(self, name: str) -> str:
        """The secret of placeholder `name`; empty until `up` has generated it, which it does
        before it starts any process."""
        try:
            return self.secret_file(name).read_text().strip()
        except FileNotFoundError:
            return ""

    @property
    def kafka_bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    @property
    def mailpit_url(self) -> str:
        """Mailpit's web mailbox and REST API (/api/v1/...)."""
        return f"http://127.0.0.1:{self.mailpit_port}"

    @property
    def gateway_operators_url(self) -> str:
        """The gateway's operators' listener: simulators and bench targets (never public)."""
        return f"http://127.0.0.1:{self.gateway_operators_port}"

    @property
    def services(self) -> tuple[Process, ...]:
        """Every process of deploy/services.toml as it runs here, in start order: its local port
        and its environment filled in. Ports are read from the environment on each call, so a
        test may move one."""
        processes = service_list().processes
        ports = {p.name: _port(p.name, p.port) for p in processes}
        values = self._placeholders(ports)
        return tuple(
            replace(p, port=ports[p.name], env=fill(p.env, values) | self._local_env(p.name))
            for p in processes
        )

    @staticmethod
    def _local_env(name: str) -> dict[str, str]:
        return {key: os.environ.get(key, value) for key, value in LOCAL_ENV.get(name, {}).items()}

    def service(self, name: str) -> Process:
        return next(s for s in self.services if s.name == name)

    def service_env(self, service: Process) -> dict[str, str]:
        """The environment a service process gets (the same names as in docker-compose.yml)."""
        ports = {s.name: s.port for s in self.services}
        return {
            **fill(service_list().env, self._placeholders(ports)),
            "POSTGRES_DBNAME": service.database or "postgres",
            "PYTHONUNBUFFERED": "1",
            **service.env,
        }

    def _placeholders(self, ports: dict[str, int]) -> dict[str, str]:
        """What the $placeholders of deploy/services.toml stand for in the local stack."""
        return {
            "postgres_host": "127.0.0.1",
            "postgres_port": str(self.pg_port),
            "kafka_bootstrap": self.kafka_bootstrap,
            "smtp_host": "127.0.0.1",
            "smtp_port": str(self.smtp_port),
            "data_dir": str(self.state),
            "jwt_key_file": str(self.jwt_key),
            "admin_email": self.admin_email,
            "admin_password": self.admin_password,
            "environment": ENVIRONMENT,
            "trusted_proxies": TRUSTED_PROXIES,
            # Browsers and the bank simulator reach the portal through the gateway.
            "public_url": self.gateway_url,
            **{name: self.secret(name) for name in SECRETS},
            # Every process listens on loopback, where a browser on this machine reaches a
            # published one (the bank's page) too.
            **{
                placeholder: f"http://127.0.0.1:{ports[p.name]}"
                for p in service_list().processes
                for placeholder in p.url_placeholders()
            },
        }
