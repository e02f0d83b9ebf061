"""Mailpit, the local stack's SMTP server: every e-mail the portal sends lands in one mailbox with
a web UI and a REST API that tests read (issue 8, SPEC X-2). It is a real SMTP server, so the
notifications service speaks to it exactly as to a production one.

Built from source with Go (`go install`), once per version, into the tools cache (Config.tools);
it runs on loopback like PostgreSQL and Kafka, its mailbox on disk in the state dir so that the
messages survive a restart (the SMTP-outage test stops and starts it).
"""

from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path

from .config import Config
from .procs import (
    StackError,
    ensure_port_free,
    http_ok,
    port_open,
    read_pid,
    run,
    spawn,
    stop,
    tail,
    wait_until,
)

MODULE = "github.com/axllent/mailpit"
VERSION = "v1.33.1"
# Where the Go release tarball installs itself when `go` is not on PATH.
GO_FALLBACK = Path("/usr/local/go/bin/go")
# Beyond this the oldest messages are deleted: many test runs' worth, yet a bounded mailbox.
MAX_MESSAGES = 10_000


def go() -> str:
    found = shutil.which("go") or (str(GO_FALLBACK) if GO_FALLBACK.is_file() else None)
    if found is None:
        raise StackError(
            f"Mailpit (the local SMTP server) is built with Go, which is not installed: put "
            f"`go` 1.26 or newer on PATH or in {GO_FALLBACK.parent} (https://go.dev/dl/)"
        )
    return found


def binary(cfg: Config) -> Path:
    """Where the build of VERSION lives: a new version is a new path, so it is built afresh."""
    return cfg.tools / f"mailpit-{VERSION}" / "mailpit"


def ensure_binary(cfg: Config, say) -> Path:
    """The Mailpit binary of VERSION; built once, then reused from the cache."""
    target = binary(cfg)
    if target.is_file():
        return target
    cfg.tools.mkdir(parents=True, exist_ok=True)
    # Every stack of the checkout shares the cache: one build at a time, the others wait for it.
    with (cfg.tools / ".mailpit.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if target.is_file():
            return target
        say(f"building Mailpit {VERSION} with Go (once; about a minute)")
        build = target.parent.with_name(f".build-mailpit-{VERSION}")
        shutil.rmtree(build, ignore_errors=True)
        build.mkdir()
        # CGO off: a static binary whatever C toolchain the machine has (its SQLite is pure Go).
        run(
            [go(), "install", f"{MODULE}@{VERSION}"],
            env={**os.environ, "GOBIN": str(build), "CGO_ENABLED": "0"},
            cwd=build,
        )
        # Moved into place only when complete: an interrupted build is never taken for a cache.
        shutil.rmtree(target.parent, ignore_errors=True)
        build.rename(target.parent)
    return target


def pid(cfg: Config) -> int | None:
    return read_pid(cfg.run / "mailpit.pid")


def _command(cfg: Config, mailpit: Path) -> list[str]:
    return [
        str(mailpit),
        "--smtp",
        f"127.0.0.1:{cfg.smtp_port}",
        "--listen",
        f"127.0.0.1:{cfg.mailpit_port}",
        "--database",
        str(cfg.mailpit_dir / "mailpit.db"),
        "--max",
        str(MAX_MESSAGES),
        # Any user name and password, or none: the services' SMTP settings may carry either.
        "--smtp-auth-accept-any",
        "--smtp-auth-allow-insecure",
        # Nothing looked up on the network: no reverse DNS of clients, no release check.
        "--smtp-disable-rdns",
        "--disable-version-check",
    ]


def start(cfg: Config, say) -> None:
    """Start Mailpit unless it runs already as configured now (version, ports, mailbox); one
    started otherwise is stopped and started again. Does not wait (see wait_ready)."""
    started_from = cfg.run / "mailpit.started-from"
    command = _command(cfg, binary(cfg))
    running = pid(cfg)
    if running and started_from.exists() and started_from.read_text() == " ".join(command):
        return
    if running:
        say("restarting Mailpit: its version or settings changed since it started")
        stop(running)
    ensure_port_free(cfg.smtp_port, "smtp")
    ensure_port_free(cfg.mailpit_port, "mailpit")
    ensure_binary(cfg, say)
    cfg.mailpit_dir.mkdir(parents=True, exist_ok=True)
    say(f"starting Mailpit: SMTP on 127.0.0.1:{cfg.smtp_port}, mailbox on {cfg.mailpit_url}")
    spawn(command, cfg.run / "mailpit.pid", cfg.logs / "mailpit.log", env={}, cwd=cfg.mailpit_dir)
    started_from.write_text(" ".join(command))


def ready(cfg: Config) -> bool:
    return port_open(cfg.smtp_port) and http_ok(f"{cfg.mailpit_url}/readyz")


def wait_ready(cfg: Config, timeout: float = 30) -> None:
    if not wait_until(lambda: ready(cfg) or not pid(cfg), timeout) or not ready(cfg):
        log = cfg.logs / "mailpit.log"
        raise StackError(f"Mailpit did not start\n--- {log} ---\n{tail(log)}")


def stop_server(cfg: Config) -> None:
    stop(pid(cfg))
