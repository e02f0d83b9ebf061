"""python -m portal_stack up|restart|down|status|logs|reset|init"""

from __future__ import annotations

import argparse
import sys
import time

from . import stack
from .config import service_list
from .procs import StackError


def _up() -> None:
    started = time.monotonic()
    info = stack.ensure_up()
    print(f"\nThe portal is up ({time.monotonic() - started:.1f} s): {info.gateway_url}")
    print(f"  the portal's pages, in a browser: {info.gateway_url}/")
    for name, url in info.docs_urls().items():
        print(f"  {name:<13} API docs: {url}")
    print(f"  operators (simulators, bench target): {info.gateway_operators_url}")
    print(f"  Mailpit, every e-mail the portal sends: {info.mailpit_url}")
    for process in service_list().processes:
        if process.published:
            url = info.url_of(process.name)
            print(f"  {process.name} (another party's site, opened by browsers): {url}")
    print(f"  admin: {info.admin_email} / {info.admin_password}")
    print(f"  PostgreSQL: {info.pg_dsn('<service>')}   Kafka: {info.kafka_bootstrap}")
    print(f"  SMTP (Mailpit): 127.0.0.1:{info.smtp_port}")
    print(f"  state and logs: {info.state_dir}   (make logs / make status / make down)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="portal_stack", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("up", help="start whatever is not running, wait until healthy")
    restart = commands.add_parser(
        "restart", help="restart the named processes (all when none is named), then up"
    )
    restart.add_argument("names", nargs="*", help="identity, requests, protocol-registry, ...")
    commands.add_parser("down", help="stop every process; data is kept")
    commands.add_parser("status", help="one line per process; exit 1 unless all are up")
    logs = commands.add_parser("logs", help="tail of every log, or of one")
    logs.add_argument("name", nargs="?", help="postgres, kafka, mailpit, identity, gateway, ...")
    logs.add_argument("-n", "--lines", type=int, default=20)
    logs.add_argument("-f", "--follow", action="store_true")
    commands.add_parser(
        "reset", help="down, then wipe all data (the caches of Kafka's jars and Mailpit stay)"
    )
    commands.add_parser(
        "init", help="create databases and topics on external servers (POSTGRES_*, KAFKA_*)"
    )
    args = parser.parse_args(argv)
    try:
        match args.command:
            case "up":
                _up()
            case "restart":
                stack.restart(args.names)
                _up()
            case "down":
                stack.down()
            case "status":
                return 0 if stack.status() else 1
            case "logs":
                stack.logs(args.name, args.lines, args.follow)
            case "reset":
                stack.reset()
            case "init":
                stack.init_external()
    except StackError as e:
        print(f"portal-stack: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
