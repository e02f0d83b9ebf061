"""The portal's list of processes, deploy/services.toml, read and checked.

Standard library only, and runnable as a plain script, because the Makefile and deploy/Dockerfile
ask it what to install before anything is installed:

    python3 deploy/local/portal_stack/services.py packages        every package, in install order
    python3 deploy/local/portal_stack/services.py packages NAME   what the image of NAME installs
    python3 deploy/local/portal_stack/services.py app NAME        NAME's uvicorn target
    python3 deploy/local/portal_stack/services.py uvicorn-options NAME   and its uvicorn options
"""

from __future__ import annotations

import re
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from string import Template

REPO = Path(__file__).resolve().parents[3]
SERVICES_FILE = REPO / "deploy" / "services.toml"

# The stack tool itself; in docker-compose it is the init container that creates the databases
# and topics (and so needs portal_events for the topic declarations).
STACK_PACKAGE = "deploy/local"
STACK_INIT = "stack-init"

KINDS = ("service", "web", "simulator", "bench")

# Placeholders for secrets, never in the repository: the local stack generates each once into
# its state dir, docker-compose requires them from the environment it runs in.
SECRETS = (
    "bank_api_key",
    "bank_notification_secret",
    "portal_session_key",
    "portal_pages_key",
)

# What every deployment (the local stack, docker-compose) fills in, besides each process's
# $<name>_url (and a published process's $<name>_public_url); see the comment at the top of
# deploy/services.toml.
DEPLOYMENT_PLACEHOLDERS = (
    "postgres_host",
    "postgres_port",
    "kafka_bootstrap",
    "smtp_host",
    "smtp_port",
    "data_dir",
    "jwt_key_file",
    "admin_email",
    "admin_password",
    "environment",
    "trusted_proxies",
    "public_url",
    *SECRETS,
)
_NAME = re.compile(r"[a-z][a-z0-9-]*")


class ServiceListError(ValueError):
    """deploy/services.toml is inconsistent; the message says where."""


@dataclass(frozen=True)
class Process:
    """One entry of deploy/services.toml (see the comment at its top for the fields)."""

    name: str
    kind: str
    package: str
    app: str
    port: int
    database: str | None = None
    health: str = ""
    strip_prefix: bool = False
    published: bool = False
    home: bool = False
    own_postgres: bool = False
    env: Mapping[str, str] = field(default_factory=dict)

    @property
    def public(self) -> bool:
        """Routed by the public gateway: only the portal's own services and its web pages are.
        Simulators and bench targets are reached by operators and tests only (issue 6)."""
        return self.kind in ("service", "web")

    @property
    def uvicorn_options(self) -> list[str]:
        """Its uvicorn options besides the app, host and port, wherever it runs. The gateway
        logs every request it passes with its correlation id, so the services, the web pages
        and the bench target log none of their own (a JSON line per request would cost each
        request its share of CPU for nothing; issue 12). Simulators keep their access log: the
        services call them on their own ports, past the gateway."""
        return [] if self.kind == "simulator" else ["--no-access-log"]

    @property
    def health_path(self) -> str:
        return self.health or f"/{self.name}/health"

    @property
    def url(self) -> str:
        """Its base URL on this machine (the local stack binds every process to loopback)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def health_url(self) -> str:
        return self.url + self.health_path

    @property
    def env_prefix(self) -> str:
        """NAME as an environment variable prefix: PORTAL_<it>_PORT, <it>_UPSTREAM."""
        return self.name.upper().replace("-", "_")

    @property
    def url_placeholder(self) -> str:
        """The placeholder for its base URL in environment values, e.g. protocol_registry_url."""
        return f"{self.name.replace('-', '_')}_url"

    @property
    def public_url_placeholder(self) -> str:
        """The placeholder for a published process's base URL as browsers reach it, e.g.
        bank_public_url."""
        return f"{self.name.replace('-', '_')}_public_url"

    def url_placeholders(self) -> list[str]:
        """The placeholders that stand for its addresses."""
        published = [self.public_url_placeholder] if self.published else []
        return [self.url_placeholder, *published]


@dataclass(frozen=True)
class ServiceList:
    libraries: tuple[str, ...]
    env: Mapping[str, str]
    processes: tuple[Process, ...]

    @property
    def services(self) -> tuple[Process, ...]:
        """The portal's own services (each has a database and a dead-letter topic)."""
        return tuple(p for p in self.processes if p.kind == "service")

    def process(self, name: str) -> Process:
        for process in self.processes:
            if process.name == name:
                return process
        raise KeyError(f"no process {name!r} in {SERVICES_FILE.name}")

    def packages(self) -> list[str]:
        """Every package of the portal, in install order (`make venv`)."""
        ordered = [*self.libraries, *(p.package for p in self.processes), STACK_PACKAGE]
        return list(dict.fromkeys(ordered))

    def image_packages(self, name: str) -> list[str]:
        """What the image of one process installs (deploy/Dockerfile's SERVICE=name)."""
        if name == STACK_INIT:
            return [*self.libraries, STACK_PACKAGE]
        process = self.process(name)
        ours = process.kind in ("service", "web")
        return [*self.libraries, process.package] if ours else [process.package]


def fill(env: Mapping[str, str], values: Mapping[str, str]) -> dict[str, str]:
    """Environment values with their $placeholders filled for one deployment."""
    return {key: Template(value).substitute(values) for key, value in env.items()}


def load(path: Path = SERVICES_FILE) -> ServiceList:
    raw = tomllib.loads(path.read_text())
    processes = tuple(
        Process(**{**entry, "env": dict(entry.get("env", {}))}) for entry in raw["process"]
    )
    listed = ServiceList(tuple(raw["libraries"]), dict(raw.get("env", {})), processes)
    _check(listed, path)
    return listed


def _check(listed: ServiceList, path: Path) -> None:
    def fail(message: str) -> None:
        raise ServiceListError(f"{path}: {message}")

    for attribute in ("name", "port", "database"):
        values = [getattr(p, attribute) for p in listed.processes if getattr(p, attribute)]
        if len(values) != len(set(values)):
            fail(f"two processes share a {attribute}: {values}")
    for p in listed.processes:
        if not _NAME.fullmatch(p.name):
            fail(f"{p.name!r}: a name is lower-case letters, digits and '-'")
        if p.kind not in KINDS:
            fail(f"{p.name}: kind {p.kind!r} is not one of {KINDS}")
        if p.kind == "service" and not p.database:
            fail(f"{p.name}: a service has its own database")
        if p.published and p.kind != "simulator":
            fail(f"{p.name}: only a simulator (another party's site) is published")
        if p.own_postgres and p.kind != "service":
            fail(f"{p.name}: only a service (with its database) has a PostgreSQL of its own")
    # Every placeholder must be one that each deployment knows how to fill.
    known = dict.fromkeys(DEPLOYMENT_PLACEHOLDERS, "") | {
        placeholder: "" for p in listed.processes for placeholder in p.url_placeholders()
    }
    for owner, env in [("[env]", listed.env), *((p.name, p.env) for p in listed.processes)]:
        try:
            fill(env, known)
        except (KeyError, ValueError) as e:
            fail(f"{owner}: unknown or malformed placeholder {e}")


def main(argv: list[str]) -> int:
    try:
        listed = load()
        match argv:
            case ["packages"]:
                print(" ".join(listed.packages()))
            case ["packages", name]:
                print(" ".join(listed.image_packages(name)))
            case ["app", name]:
                print("" if name == STACK_INIT else listed.process(name).app)
            case ["uvicorn-options", name]:
                options = [] if name == STACK_INIT else listed.process(name).uvicorn_options
                print(" ".join(options))
            case _:
                print(__doc__, file=sys.stderr)
                return 2
    except (KeyError, ServiceListError) as e:
        print(f"services.py: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
