"""Break a local stack on purpose and bring it back: the outages the portal must survive.

Used by the outage tests (tests/test_outages.py) on a stack of their own, never on the shared
one. Each fault is the harsh kind an operator meets: PostgreSQL stopped under load (its clients
lose their connections), the broker and a service killed with SIGKILL (no shutdown hooks run),
the SMTP server (Mailpit) gone while e-mails are due.

`Config` reads the services' ports from the environment when they are used, so call these with
the environment of the stack you mean in place (as `python -m portal_stack` is run).
"""

from __future__ import annotations

import signal

from . import kafka, mailpit, postgres, stack
from .config import Config
from .procs import StackError, http_ok, port_open, read_pid, stop, tail, wait_until


def _wait_port_released(port: int, name: str) -> None:
    # A killed multi-threaded process shows as a zombie while its other threads still hold its
    # sockets: a restart right away would find the port taken.
    if not wait_until(lambda: not port_open(port), 10):
        raise StackError(f"port {port} of the killed {name} is still taken")


def stop_postgres(cfg: Config) -> None:
    """Stop PostgreSQL ("fast" shutdown: every client connection is cut)."""
    postgres.stop_server(cfg)


def start_postgres(cfg: Config) -> None:
    """Start PostgreSQL again and wait until it accepts connections."""
    postgres.ensure_running(cfg, stack.say)


def kill_kafka(cfg: Config) -> None:
    """SIGKILL the broker: no controlled shutdown, its logs are recovered on the next start."""
    running = kafka.pid(cfg)
    if running is None:
        raise StackError("Kafka is not running")
    stop(running, signal.SIGKILL, timeout=10)
    _wait_port_released(cfg.kafka_port, "kafka")


def start_kafka(cfg: Config, timeout: float = 60) -> None:
    """Start the broker again and wait until it listens."""
    kafka.start(cfg, stack.say)
    kafka.wait_ready(cfg, timeout)


def stop_mailpit(cfg: Config) -> None:
    """Stop the SMTP server: the services' e-mails wait in their outbox. The mailbox is kept."""
    mailpit.stop_server(cfg)
    _wait_port_released(cfg.smtp_port, "mailpit")


def start_mailpit(cfg: Config, timeout: float = 30) -> None:
    """Start the SMTP server again, with the mailbox it had, and wait until it accepts mail."""
    mailpit.start(cfg, stack.say)
    mailpit.wait_ready(cfg, timeout)


def service_pid(cfg: Config, name: str) -> int | None:
    return read_pid(cfg.run / f"{name}.pid")


def kill_service(cfg: Config, name: str) -> None:
    """SIGKILL one service process (uvicorn, a single process): requests in flight are lost."""
    running = service_pid(cfg, name)
    if running is None:
        raise StackError(f"{name} is not running")
    stop(running, signal.SIGKILL, timeout=10)
    _wait_port_released(cfg.service(name).port, name)


def start_service(cfg: Config, name: str, timeout: float = stack.HEALTH_TIMEOUT) -> None:
    """Start one service process again and wait until its health check answers 2xx."""
    service = cfg.service(name)
    stack.start_service(cfg, service)  # the stack's own way to run a service (env, log, pid)
    healthy = lambda: http_ok(service.health_url)  # noqa: E731
    if not wait_until(lambda: healthy() or not service_pid(cfg, name), timeout) or not healthy():
        log = cfg.logs / f"{name}.log"
        raise StackError(f"{name} did not come back\n--- {log} ---\n{tail(log)}")
