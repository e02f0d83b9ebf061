"""The whole local stack: up (idempotent), down, status, logs, reset."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import stat
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from . import gateway, kafka, mailpit, postgres
from .config import REPO, Config, service_list
from .procs import (
    UMASK,
    StackError,
    ensure_port_free,
    http_ok,
    port_open,
    read_pid,
    spawn,
    stop,
    tail,
)
from .services import SECRETS, Process
from .system import ensure_packages

HEALTH_TIMEOUT = 90


def say(message: str) -> None:
    print(f"portal-stack: {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class StackInfo:
    """What tests and people need to reach the running stack."""

    state_dir: Path
    gateway_url: str
    gateway_operators_url: str  # simulators and bench targets, by their prefix; never public
    kafka_bootstrap: str
    mailpit_url: str  # Mailpit's web mailbox and REST API: GET {mailpit_url}/api/v1/messages
    smtp_port: int  # Mailpit's SMTP port on 127.0.0.1
    pg_host: str
    pg_port: int
    pg_user: str
    pg_password: str
    services: dict[str, str]  # name -> base URL of the process (bypassing the gateway)
    admin_email: str
    admin_password: str
    jwt_private_key_file: Path
    # The secrets payments and the bank simulator share (generated once per state dir), for
    # tests that speak to the bank's API or sign a notification themselves.
    bank_api_key: str = field(repr=False)
    bank_notification_secret: str = field(repr=False)

    def pg_dsn(self, dbname: str) -> str:
        return (
            f"host={self.pg_host} port={self.pg_port} user={self.pg_user} "
            f"password={self.pg_password} dbname={dbname}"
        )

    def url_of(self, name: str) -> str:
        """The base URL of one process on its own port (bypassing the gateway)."""
        try:
            return self.services[name]
        except KeyError:
            raise KeyError(f"no process {name!r} in the stack: {sorted(self.services)}") from None

    def docs_urls(self) -> dict[str, str]:
        """The API docs of each of the portal's services (not of simulators or bench targets)."""
        return {p.name: f"{self.gateway_url}/{p.name}/docs" for p in service_list().services}


def info(cfg: Config) -> StackInfo:
    return StackInfo(
        state_dir=cfg.state,
        gateway_url=cfg.gateway_url,
        gateway_operators_url=cfg.gateway_operators_url,
        kafka_bootstrap=cfg.kafka_bootstrap,
        mailpit_url=cfg.mailpit_url,
        smtp_port=cfg.smtp_port,
        pg_host="127.0.0.1",
        pg_port=cfg.pg_port,
        pg_user=postgres.USER,
        pg_password=postgres.PASSWORD,
        services={s.name: s.url for s in cfg.services},
        admin_email=cfg.admin_email,
        admin_password=cfg.admin_password,
        jwt_private_key_file=cfg.jwt_key,
        bank_api_key=cfg.secret("bank_api_key"),
        bank_notification_secret=cfg.secret("bank_notification_secret"),
    )


def _write_private(path: Path, content: bytes) -> None:
    """Write a key or secret created with mode 0600 (never readable by others, not even for a
    moment), then renamed into place so that no reader sees half of it."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)  # left by an interrupted start; O_EXCL must create it afresh
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as f:
        f.write(content)
    tmp.rename(path)


def _ensure_jwt_key(path: Path) -> None:
    """The identity's signing key, generated once."""
    if path.exists():
        return
    say(f"generating the ES256 signing key {path}")
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write_private(path, pem)


def ensure_secret(path: Path) -> None:
    """A shared secret (services.SECRETS), generated once: 256 random bits, URL-safe text."""
    if path.exists():
        return
    say(f"generating the secret {path}")
    _write_private(path, secrets.token_urlsafe(32).encode())


def _make_private(cfg: Config) -> None:
    """The state dir (data, keys, logs with e-mail addresses) is its owner's alone. Processes
    write with umask 027 (procs.UMASK); this also closes up a state dir made before that. As
    root, the `postgres` user still needs to pass through it to its cluster and its log: search
    permission only (o+x), which lists and reads nothing."""
    passage = 0o001 if os.geteuid() == 0 else 0
    for folder in (cfg.state, cfg.logs, cfg.run):
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    for folder in (cfg.state, cfg.logs):
        folder.chmod(0o700 | passage)
        for entry in folder.iterdir():
            mode = entry.lstat().st_mode
            if not stat.S_ISLNK(mode) and mode & 0o007:
                entry.chmod(stat.S_IMODE(mode) & ~0o007)


def _service_pid(cfg: Config, service: Process) -> int | None:
    return read_pid(cfg.run / f"{service.name}.pid")


def _started_from(cfg: Config, service: Process) -> str:
    """What a process runs: a digest of its command line, its environment and the source files
    it imports from this work tree. `up` restarts a process when this changed since it started,
    so that tests never run against stale code or options."""
    started_with = {"command": _command(service), "env": cfg.service_env(service)}
    digest = hashlib.sha256(json.dumps(started_with, sort_keys=True).encode())
    for path in _sources(service):
        status = path.stat()
        digest.update(f"{path}:{status.st_mtime_ns}:{status.st_size}".encode())
    return digest.hexdigest()


def _sources(service: Process) -> list[Path]:
    """A service: its package and the shared libraries. A simulator or bench target: its own
    module and the modules of its package that are no process's app (e.g. the simulators'
    outage switch), so that editing one simulator does not restart the others."""
    if service.kind != "service":
        folder = REPO / service.package
        apps = {_module_file(p) for p in service_list().processes if p.package == service.package}
        shared = [
            path
            for path in sorted(folder.rglob("*.py"))
            if path not in apps and "tests" not in path.relative_to(folder).parts
        ]
        return [_module_file(service), *shared]
    sources = []
    for package in (*service_list().libraries, service.package):
        for path in sorted((REPO / package).rglob("*")):
            parts = path.relative_to(REPO / package).parts
            if path.suffix in {".py", ".toml"} and "tests" not in parts and path.is_file():
                sources.append(path)
    return sources


def _module_file(process: Process) -> Path:
    module = process.app.split(":")[0].replace(".", "/")
    return REPO / process.package / f"{module}.py"


def _command(service: Process) -> list[str]:
    """The command line a process runs with: uvicorn from this venv, on loopback."""
    uvicorn = Path(sys.executable).with_name("uvicorn")
    address = ["--host", "127.0.0.1", "--port", str(service.port)]
    return [str(uvicorn), service.app, *address, *service.uvicorn_options]


def start_service(cfg: Config, service: Process) -> None:
    """Start `service` unless it runs already from the current code and environment; one that
    runs from older ones is stopped (gracefully) and started again."""
    started_from = cfg.run / f"{service.name}.started-from"
    current = _started_from(cfg, service)
    running = _service_pid(cfg, service)
    if running and started_from.exists() and started_from.read_text() == current:
        return
    if running:
        say(f"restarting {service.name}: its code, options or environment changed since it started")
        stop(running)
    ensure_port_free(service.port, service.name)
    say(f"starting {service.name} on {service.url}")
    spawn(
        _command(service),
        cfg.run / f"{service.name}.pid",
        cfg.logs / f"{service.name}.log",
        env=cfg.service_env(service),
        cwd=REPO,
    )
    started_from.write_text(current)


def _wait_healthy(cfg: Config) -> None:
    pending = list(cfg.services)
    deadline = time.monotonic() + HEALTH_TIMEOUT
    while pending:
        for service in list(pending):
            if http_ok(service.health_url):
                pending.remove(service)
            elif not _service_pid(cfg, service) or time.monotonic() > deadline:
                log = cfg.logs / f"{service.name}.log"
                state = "exited" if not _service_pid(cfg, service) else "is not healthy"
                raise StackError(
                    f"{service.name} {state} ({service.health_url})\n--- {log} ---\n{tail(log)}"
                )
        if pending:
            time.sleep(0.2)


def ensure_up(say=say) -> StackInfo:
    """Start whatever of the stack is not running yet; a running healthy stack is left as is."""
    previous = os.umask(UMASK)  # what this process writes into the state dir, too
    try:
        return _ensure_up(say)
    finally:
        os.umask(previous)


def _ensure_up(say) -> StackInfo:
    cfg = Config.from_env()
    _make_private(cfg)
    ensure_packages(say)
    kafka.start(cfg, say)  # the broker boots while PostgreSQL does
    mailpit.start(cfg, say)
    postgres.ensure_running(cfg, say)
    postgres.ensure_databases(
        postgres.dsn(cfg, "postgres"), [s.database for s in cfg.services if s.database], say
    )
    _ensure_jwt_key(cfg.jwt_key)
    for name in SECRETS:
        ensure_secret(cfg.secret_file(name))
    kafka.wait_ready(cfg)
    kafka.ensure_topics(cfg.kafka_bootstrap, say)
    mailpit.wait_ready(cfg)
    for service in cfg.services:
        start_service(cfg, service)
    _wait_healthy(cfg)
    gateway.ensure_running(cfg, say)
    return info(cfg)


def restart(names: Sequence[str]) -> None:
    """Stop the named processes (every process when none is named); `up` starts them again."""
    cfg = Config.from_env()
    chosen = [s for s in cfg.services if not names or s.name in names]
    unknown = set(names) - {s.name for s in chosen}
    if unknown:
        raise StackError(f"no process {', '.join(sorted(unknown))} in deploy/services.toml")
    for service in chosen:
        stop(_service_pid(cfg, service))


def down() -> None:
    cfg = Config.from_env()
    gateway.stop_server(cfg)
    for service in reversed(cfg.services):
        stop(_service_pid(cfg, service))
    mailpit.stop_server(cfg)
    kafka.stop_server(cfg)
    postgres.stop_server(cfg)
    for pid_file in cfg.run.glob("*.pid"):
        pid_file.unlink()


def reset() -> None:
    """down, then wipe every piece of data (Mailpit's mailbox too); the caches of Kafka's jars
    and of the tools built (Mailpit's binary) stay."""
    down()
    cfg = Config.from_env()
    if not cfg.state.exists():
        return
    for entry in cfg.state.iterdir():
        if entry.name != "jars" and entry != cfg.tools:
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()


def processes(cfg: Config) -> list[tuple[str, int | None, int, str]]:
    """(name, live pid or None, port, probe URL or '') for every process of the stack."""
    return [
        ("postgres", postgres.pid(cfg), cfg.pg_port, ""),
        ("kafka", kafka.pid(cfg), cfg.kafka_port, ""),
        ("mailpit", mailpit.pid(cfg), cfg.mailpit_port, f"{cfg.mailpit_url}/readyz"),
        ("mailpit-smtp", mailpit.pid(cfg), cfg.smtp_port, ""),
        *[(s.name, _service_pid(cfg, s), s.port, s.health_url) for s in cfg.services],
        ("gateway", gateway.pid(cfg), cfg.gateway_port, f"{cfg.gateway_url}/health"),
        (
            "gateway-operators",
            gateway.pid(cfg),
            cfg.gateway_operators_port,
            f"{cfg.gateway_operators_url}/health",
        ),
    ]


def status() -> bool:
    """Print one line per process; True when everything is up."""
    all_up = True
    for name, pid, port, url in processes(Config.from_env()):
        up = pid is not None and (http_ok(url) if url else port_open(port))
        all_up &= up
        state = "up" if up else ("starting/unhealthy" if pid else "down")
        print(f"{name:<18} {state:<18} pid={pid or '-':<8} port={port}")
    return all_up


def logs(name: str | None = None, lines: int = 20, follow: bool = False) -> None:
    cfg = Config.from_env()
    files = sorted(cfg.logs.glob(f"{name}.log" if name else "*.log"))
    if not files:
        raise StackError(f"no logs{' for ' + name if name else ''} in {cfg.logs}")
    if follow:
        os.execvp("tail", ["tail", "-n", str(lines), "-F", *map(str, files)])  # noqa: S606, S607
    for log in files:
        print(f"==> {log} <==\n{tail(log, lines)}\n")


def init_external() -> None:
    """Databases, topics and signing key for servers that someone else runs (docker-compose's
    init container). The databases are those of the shared PostgreSQL cluster: a service with
    a cluster of its own (own_postgres) finds its database made there with the cluster."""
    env = os.environ
    conninfo = (
        f"host={env['POSTGRES_HOST']} port={env.get('POSTGRES_PORT', '5432')} "
        f"user={env.get('POSTGRES_USER', 'postgres')} "
        f"password={env.get('POSTGRES_PASSWORD', '')} dbname=postgres"
    )
    shared = [s.database for s in Config.from_env().services if s.database and not s.own_postgres]
    postgres.ensure_databases(conninfo, shared, say)
    kafka.ensure_topics(env["KAFKA_BOOTSTRAP_SERVERS"], say)
    if env.get("JWT_PRIVATE_KEY_FILE"):
        _ensure_jwt_key(Path(env["JWT_PRIVATE_KEY_FILE"]))
