"""A private PostgreSQL cluster in the state dir, one database per service, with password
(SCRAM-SHA-256) authentication: another local user who can reach the port cannot get in.

A cluster that an earlier version of the stack initialised with `trust` is moved to SCRAM on the
next `up` (the password set, pg_hba.conf rewritten, the configuration reloaded): no data is
lost and nothing is restarted.
"""

from __future__ import annotations

import os
import pwd
import signal
import stat
from pathlib import Path

import psycopg
from psycopg import sql

from .config import Config, service_list
from .procs import (
    StackError,
    ensure_port_free,
    open_log,
    port_open,
    read_pid,
    run,
    stop,
    tail,
    wait_until,
)
from .system import postgres_bin

# The superuser the services connect as, with the password deploy/services.toml gives them.
USER = service_list().env["POSTGRES_USER"]
PASSWORD = service_list().env["POSTGRES_PASSWORD"]

# Password authentication only over the socket in the state dir and from 127.0.0.1.
HBA = "local all all scram-sha-256\nhost all all 127.0.0.1/32 scram-sha-256\n"


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
    # initdb reads the superuser's password from a file; it lives only as long as initdb runs.
    password_file = cfg.pg_dir / "initdb-password"
    with os.fdopen(os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write(PASSWORD + "\n")
    _chown(password_file)
    try:
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
                    "--auth=scram-sha-256",
                    f"--pwfile={password_file}",
                ]
            )
        )
    finally:
        password_file.unlink(missing_ok=True)
    with (data / "postgresql.conf").open("a") as conf:
        conf.write(
            "\n# portal local stack\n"
            "listen_addresses = '127.0.0.1'\n"
            f"unix_socket_directories = '{sockets}'\n"
            "max_connections = 300\n"
            "password_encryption = 'scram-sha-256'\n"
        )
    (data / "pg_hba.conf").write_text(HBA)


def _trusts_anyone(cfg: Config) -> bool:
    """pg_hba.conf still lets someone in without a password (an earlier stack's `trust`)."""
    rules = (data_dir(cfg) / "pg_hba.conf").read_text().splitlines()
    return any(
        line.split()[-1] == "trust" for line in rules if line.strip() and not line.startswith("#")
    )


def _require_passwords(cfg: Config, say) -> None:
    """Move a running `trust` cluster to SCRAM: set the superuser's password (stored as a SCRAM
    verifier), then rewrite pg_hba.conf and reload. Open connections are kept."""
    if not _trusts_anyone(cfg):
        return
    say("moving PostgreSQL from trust to password (SCRAM-SHA-256) authentication")
    with psycopg.connect(dsn(cfg, "postgres"), autocommit=True) as conn:
        conn.execute("SET password_encryption = 'scram-sha-256'")
        conn.execute(
            sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(USER), sql.Literal(PASSWORD))
        )
        (data_dir(cfg) / "pg_hba.conf").write_text(HBA)
        if not conn.execute("SELECT pg_reload_conf()").fetchone()[0]:
            raise StackError("PostgreSQL did not reload pg_hba.conf")


def ensure_running(cfg: Config, say) -> None:
    if pid(cfg) and port_open(cfg.pg_port):
        _require_passwords(cfg, say)
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
    open_log(log).close()
    _chown(log)
    _let_postgres_reach(log, say)
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
    _require_passwords(cfg, say)


def stop_server(cfg: Config) -> None:
    stop(pid(cfg), signal.SIGINT, timeout=60)  # SIGINT = "fast" shutdown, checkpoint included


def dsn(cfg: Config, dbname: str) -> str:
    return f"host=127.0.0.1 port={cfg.pg_port} user={USER} password={PASSWORD} dbname={dbname}"


def ensure_databases(conninfo: str, names: list[str], say) -> None:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        existing = {row[0] for row in conn.execute("SELECT datname FROM pg_database")}
        for name in names:
            if name not in existing:
                say(f"creating database {name}")
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
