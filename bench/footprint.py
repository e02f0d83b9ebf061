"""The stack's footprint per process: idle CPU and memory (issue 12, "the stack's memory (RSS)
and idle CPU per service").

Prints figures; asserts nothing. `bench/submissions.py` prints the same in its run; alone:
    .venv/bin/python bench/footprint.py                    # a 10 s quiet window
    .venv/bin/python bench/footprint.py --idle-seconds 30
The stack is the one `portal_stack` finds from the environment (PORTAL_STATE_DIR, PORTAL_*_PORT);
it must be up (this does not start it, so that a start-up is never measured as idling).

Every process of the stack is a pid file in its run dir (services, simulators, Kafka, Mailpit,
the gateway) or PostgreSQL's postmaster, each counted with its descendants (PostgreSQL's
backends, nginx's workers):
- idle CPU: utime+stime from /proc over a quiet window, as % of one core; children that exit
  inside the window count through the parent's cutime+cstime. Other people's traffic on a
  shared stack shows here too: measure on a quiet one;
- RSS: resident memory summed over the process tree. It counts memory the processes of one
  tree share (PostgreSQL's shared buffers, a forked worker's pages) once per process, so
- PSS too: each shared page divided among the processes sharing it, which adds up to what the
  tree really holds (/proc/<pid>/smaps_rollup).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from portal_stack import postgres
from portal_stack.config import Config
from portal_stack.procs import read_pid

TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")
MIB = 1024 * 1024


def _stat(pid: int) -> list[str] | None:
    """/proc/<pid>/stat from its 3rd field on (the name before may hold spaces); None once the
    process is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()


def _children() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))):
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    return children


def _tree(pid: int, children: dict[int, list[int]]) -> list[int]:
    """pid and its descendants."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        pending += children.get(current, [])
    return found


def stack_pids(cfg: Config) -> dict[str, int]:
    """Every live process of the stack by name: the pid files of its run dir, and PostgreSQL."""
    pids = {path.stem: read_pid(path) for path in sorted(cfg.run.glob("*.pid"))}
    pids["postgres"] = postgres.pid(cfg)
    return {name: pid for name, pid in pids.items() if pid is not None}


def tree_cpu_seconds(pid: int, children: dict[int, list[int]]) -> float:
    """CPU time of pid and of its live descendants, plus what its exited children used (cutime,
    cstime), so that a backend that ends inside the window still counts."""
    fields = _stat(pid)
    if fields is None:
        return 0.0
    waited_for = (int(fields[13]) + int(fields[14])) / TICKS_PER_SECOND
    return waited_for + sum(
        (int(f[11]) + int(f[12])) / TICKS_PER_SECOND
        for member in _tree(pid, children)
        if (f := _stat(member))
    )


def idle_cpu(cfg: Config, seconds: float) -> dict[str, float]:
    """% of one core that each process of the stack uses over `seconds` without traffic."""
    pids = stack_pids(cfg)
    children = _children()
    before = {name: tree_cpu_seconds(pid, children) for name, pid in pids.items()}
    started = time.monotonic()
    time.sleep(seconds)
    elapsed = time.monotonic() - started
    children = _children()
    return {
        name: 100 * (tree_cpu_seconds(pid, children) - before[name]) / elapsed
        for name, pid in pids.items()
    }


@dataclass(frozen=True)
class Memory:
    rss: int  # bytes, summed over the tree
    pss: int  # bytes, shared pages divided among their sharers


def _rollup(pid: int) -> tuple[int, int]:
    """(Rss, Pss) in bytes of one process; (0, 0) once it is gone or not ours to read."""
    values = {"Rss:": 0, "Pss:": 0}
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            key, _, rest = line.partition(" ")
            if key in values:
                values[key] = int(rest.split()[0]) * 1024  # kB
    except (OSError, ValueError):
        pass
    return values["Rss:"], values["Pss:"]


def memory(cfg: Config) -> dict[str, Memory]:
    """The memory each process of the stack holds now, its descendants included."""
    children = _children()
    result = {}
    for name, pid in stack_pids(cfg).items():
        sizes = [_rollup(member) for member in _tree(pid, children)]
        result[name] = Memory(sum(rss for rss, _ in sizes), sum(pss for _, pss in sizes))
    return result


def mib(size: int) -> str:
    return f"{size / MIB:7.1f}"


def print_footprint(
    idle: dict[str, float],
    idle_seconds: float,
    before: dict[str, Memory],
    after: dict[str, Memory] | None = None,
) -> None:
    """One line per process: idle CPU, RSS and PSS (MiB), and RSS after the load when given."""
    after_header = "  RSS after load" if after is not None else ""
    print(
        f"footprint per process (idle CPU over {idle_seconds:.0f} s, % of one core; memory in "
        "MiB, children included):"
    )
    print(f"  {'process':<20} {'idle CPU':>9} {'RSS':>7} {'PSS':>7}{after_header}")
    for name in sorted(before.keys() | idle.keys()):
        held = before.get(name, Memory(0, 0))
        cpu = f"{idle[name]:7.1f} %" if name in idle else f"{'-':>9}"
        later = f"  {mib(after[name].rss)}" if after is not None and name in after else ""
        print(f"  {name:<20} {cpu} {mib(held.rss)} {mib(held.pss)}{later}")
    total_after = f"  {mib(sum(m.rss for m in after.values()))}" if after is not None else ""
    print(
        f"  {'all':<20} {sum(idle.values()):7.1f} % {mib(sum(m.rss for m in before.values()))} "
        f"{mib(sum(m.pss for m in before.values()))}{total_after}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle-seconds", type=float, default=10.0)
    args = parser.parse_args(argv)
    cfg = Config.from_env()
    if not stack_pids(cfg):
        print(f"no stack is running in {cfg.state} (make up)", file=sys.stderr)
        return 1
    idle = idle_cpu(cfg, args.idle_seconds)
    print_footprint(idle, args.idle_seconds, memory(cfg))
    return 0


if __name__ == "__main__":
    sys.exit(main())
