"""A private PostgreSQL cluster in the state dir, one database per service."""

from __future__ import annotations

import os
import pwd
import signal
import stat
from pathlib import Path

import psycopg
from psycopg import sql

from .config import Config
from .procs import StackError, ensure_port_free, port_open, read_pid, run, stop, tail, wait_until
from .system import postgres_bin

USER = "postgres"


def _as_postgres(argv: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root; the Debian package's `postgres` user owns the cluster.
    return ["runuser", "-u", USER, "--", *argv] if os.geteuid() == 0 else argv


def _chown(path: Path) -> None:
    if os.geteuid() == 0:
        account = pwd.getpwnam(USER)
        os.chown(path, account.pw_uid, account.pw_gid)


def _let_postgres_reach(path: Path, say) -> None:
    """The `postgres` user must be able to walk down to the cluster in the project's state dir.
    A checkout under a private home (/root is 0700) is not walkable: grant traverse-only
    permission (o+x: no listing, no reading) on the folders above it that lack it."""
    if os.geteuid() != 0:
        return
    for folder in reversed(path.resolve().parents):
        mode = folder.stat().st_mode
        if not mode & stat.S_IXOTH:
            say(f"letting the postgres user traverse {folder} (chmod o+x)")
            folder.chmod(stat.S_IMODE(mode) | stat.S_IXOTH)


def data_dir(cfg: Config) -> Path:
    return cfg.pg_dir / "data"


def pid(cfg: Config) -> int | None:
    return read_pid(data_dir(cfg) / "postmaster.pid")


def _init(cfg: Config, bindir: str) -> None:
    data, sockets = data_dir(cfg), cfg.pg_dir / "socket"
    for d in (cfg.pg_dir, data, sockets):
        d.mkdir(parents=True, exist_ok=True)
        _chown(d)
    data.chmod(0o700)
    run(
        _as_postgres(
            [
                f"{bindir}/initdb",
                "-D",
                str(data),
                "-U",
                USER,
                "-E",
                "UTF8",
                "--no-locale",
                "--auth=trust",
            ]
        )
    )
    with (data / "postgresql.conf").open("a") as conf:
        conf.write(
            "\n# portal local stack\n"
            "listen_addresses = '127.0.0.1'\n"
            f"unix_socket_directories = '{sockets}'\n"
            "max_connections = 300\n"
        )
    # Trust, but only over the socket in the state dir and from 127.0.0.1.
    (data / "pg_hba.conf").write_text("local all all trust\nhost all all 127.0.0.1/32 trust\n")


def ensure_running(cfg: Config, say) -> None:
    if pid(cfg) and port_open(cfg.pg_port):
        return
    ensure_port_free(cfg.pg_port, "pg")
    bindir = postgres_bin()
    if bindir is None:
        raise StackError("PostgreSQL server binaries not found")
    _let_postgres_reach(cfg.pg_dir, say)
    if not (data_dir(cfg) / "PG_VERSION").exists():
        say("initialising the PostgreSQL cluster")
        _init(cfg, bindir)
    log = cfg.logs / "postgres.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.touch()
    _chown(log)
    say(f"starting PostgreSQL on 127.0.0.1:{cfg.pg_port}")
    try:
        run(
            _as_postgres(
                [
                    f"{bindir}/pg_ctl",
                    "-D",
                    str(data_dir(cfg)),
                    "-l",
                    str(log),
                    "-w",
                    "-t",
                    "60",
                    "-o",
                    f"-p {cfg.pg_port}",
                    "start",
                ]
            )
        )
    except StackError as e:
        raise StackError(f"{e}\n--- {log} ---\n{tail(log)}") from None
    if not wait_until(lambda: port_open(cfg.pg_port), 30):
        raise StackError(f"PostgreSQL does not listen on {cfg.pg_port}\n{tail(log)}")


def stop_server(cfg: Config) -> None:
    stop(pid(cfg), signal.SIGINT, timeout=60)  # SIGINT = "fast" shutdown, checkpoint included


def dsn(cfg: Config, dbname: str) -> str:
    return f"host=127.0.0.1 port={cfg.pg_port} user={USER} password=postgres dbname={dbname}"


def ensure_databases(conninfo: str, names: list[str], say) -> None:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        existing = {row[0] for row in conn.execute("SELECT datname FROM pg_database")}
        for name in names:
            if name not in existing:
                say(f"creating database {name}")
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
