"""Background processes with pid files, readiness probes and graceful stops."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

# Whatever the stack's processes write (logs, data, keys) is readable by its own user and group
# only: logs hold e-mail addresses and ids (issue 6).
UMASK = 0o027


class StackError(RuntimeError):
    """Something of the stack failed; the message says what and shows the log."""


def _start_time(pid: int) -> str | None:
    """The kernel's start time of pid, or None when it is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # the command name may contain spaces
    return None if fields[0] in ("Z", "X") else fields[19]


def read_pid(pid_file: Path) -> int | None:
    """The live pid recorded in pid_file; a stale file (dead or reused pid) gives None."""
    try:
        parts = pid_file.read_text().splitlines()[0].split()  # postmaster.pid: line 1 is the pid
        pid = int(parts[0])
    except (OSError, ValueError, IndexError):
        return None
    started = _start_time(pid)
    # The start time written beside the pid tells a reused pid from ours.
    if started is None or (len(parts) > 1 and parts[1] != started):
        return None
    return pid


def spawn(argv: Sequence[str], pid_file: Path, log: Path, env: dict[str, str], cwd: Path) -> int:
    """Start argv detached (own session: Ctrl-C in the caller's terminal does not reach it)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open_log(log) as out:
        proc = subprocess.Popen(  # noqa: S603 - argv built by us
            argv,
            cwd=cwd,
            env={**os.environ, **env},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            umask=UMASK,
        )
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    pid_file.write_text(f"{proc.pid} {_start_time(proc.pid) or ''}\n")
    return proc.pid


def open_log(log: Path):
    """The log file for appending, created readable by its owner and group only."""
    return os.fdopen(os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640), "ab")


def stop(pid: int | None, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
    """Signal pid (its whole group when it leads one), wait, then SIGKILL."""
    if pid is None:
        return

    def send(s: int) -> None:
        try:
            if os.getpgid(pid) == pid:
                os.killpg(pid, s)
            else:
                os.kill(pid, s)
        except ProcessLookupError:
            pass

    started = _start_time(pid)
    send(sig)
    if not wait_until(lambda: _start_time(pid) != started, timeout):
        send(signal.SIGKILL)
        wait_until(lambda: _start_time(pid) != started, 5)
    with contextlib.suppress(ChildProcessError):  # reap it when it is our own child
        os.waitpid(pid, os.WNOHANG)


def ensure_port_free(port: int, what: str) -> None:
    """Refuse to start next to a foreign process on our port (e.g. another engineer's stack)."""
    if port_open(port):
        env = f"PORTAL_{what.upper().replace('-', '_')}_PORT"
        raise StackError(f"port {port} for {what} is taken by another process (set {env})")


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - local http URL
            return 200 <= response.status < 300
    except OSError:
        return False


def wait_until(check: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)


def tail(log: Path, lines: int = 40) -> str:
    try:
        with log.open("rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 200 * lines))
            return b"\n".join(f.read().splitlines()[-lines:]).decode(errors="replace")
    except OSError:
        return f"(no log at {log})"


def run(argv: Sequence[str], log: Path | None = None, **kwargs) -> None:
    """Run a setup command to completion; on failure raise with its output."""
    result = subprocess.run(  # noqa: S603 - argv built by us
        argv, capture_output=True, text=True, start_new_session=True, umask=UMASK, **kwargs
    )
    if log is not None:
        with open_log(log) as f:
            f.write((result.stdout + result.stderr).encode())
    if result.returncode != 0:
        raise StackError(
            f"`{' '.join(argv)}` failed ({result.returncode}):\n{result.stdout}{result.stderr}"
        )
