"""Benchmark: named submissions through the gateway against the running stack (issue 2 §9,
issue 5 "Benchmarks").

Prints figures; asserts nothing. Usage:
    make bench                                   # defaults; starts the stack when it is not up
    .venv/bin/python bench/submissions.py --concurrency 16 --total 1000
    .venv/bin/python bench/submissions.py --idle-seconds 0      # skip the idle CPU window
The stack is the one `portal_stack` finds from the environment (PORTAL_STATE_DIR, PORTAL_*_PORT),
so a stack of one's own is measured by running with its variables set.

Measures, in one run:
- idle CPU of every process of the stack over a quiet window (10 s by default) before any load:
  utime+stime from /proc of each pid in the stack's run dir and of PostgreSQL's postmaster, their
  children included (PostgreSQL backends, nginx workers), as % of one core. Other people's
  traffic on a shared stack shows here too: measure on a quiet one;
- submissions/s and POST /requests latency p50/p95/p99 at the chosen concurrency;
- the same for a no-op FastAPI POST with the same body (portal_simulators.noop: parses it,
  stores nothing) through the same nginx (its operators' listener: a bench target is not
  public), and submissions/s as a ratio to it. When the gateway has no /noop route the no-op
  app is started here and posted to directly, and the output says so (the ratio then leaves
  nginx out of the floor);
- submit -> visible in the citizen's own list (p50/p99);
- clerk asks protocol -> citizen sees the number (p50/p99; crosses Kafka twice);
- for comparison, the raw one-row INSERT+COMMIT rate of the same PostgreSQL, one client.
Each phase starts once every service has taken in everything before it (read models, relay,
sealer and consumer lags all 0, from their health answers), so that none measures the tail of
another; how long the stack took to take in the submissions is printed too.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
from figures import ms, percentile
from portal_simulators.testing import free_port
from portal_stack import ensure_up, postgres
from portal_stack.config import Config, service_list
from portal_stack.procs import http_ok, read_pid, wait_until

DEPARTMENT = "citizen_services"


async def register_citizen(client: httpx.AsyncClient) -> dict[str, str]:
    email = f"bench-{uuid.uuid4().hex[:12]}@example.gr"
    password = "Bench-" + uuid.uuid4().hex[:10]
    response = await client.post(
        "/identity/users", json={"kind": "citizen", "email": email, "password": password}
    )
    response.raise_for_status()
    token = await login(client, email, password)
    return {"Authorization": f"Bearer {token}"}


async def login(client: httpx.AsyncClient, email: str, password: str) -> str:
    response = await client.post("/identity/token", data={"username": email, "password": password})
    response.raise_for_status()
    return response.json()["access_token"]


def submission(i: int) -> dict[str, str]:
    return {
        "kind": "request",
        "subject": f"Αίτημα μετρήσεων {i}",
        "text": "Παρακαλώ για την αποκατάσταση του πεζοδρομίου στην οδό Αθηνάς.",
    }


def items(page) -> list[dict]:
    """A list endpoint's items: the envelope {items, total, limit, offset} or a bare array."""
    return page["items"] if isinstance(page, dict) else page


async def posts(
    client, path: str, headers_of, total: int, concurrency: int
) -> tuple[list[float], list[tuple[dict, dict]], float]:
    """POST `total` submissions to `path` from `concurrency` workers (worker w sends with
    headers_of(w)); returns the latencies, (headers, answer) of each, and the elapsed time."""
    latencies: list[float] = []
    answers: list[tuple[dict, dict]] = []
    counter = iter(range(total))

    async def worker(headers: dict[str, str]) -> None:
        for i in counter:
            started = time.perf_counter()
            response = await client.post(path, json=submission(i), headers=headers)
            latencies.append(time.perf_counter() - started)
            response.raise_for_status()
            answers.append((headers, response.json()))

    started = time.perf_counter()
    await asyncio.gather(*(worker(headers_of(w)) for w in range(concurrency)))
    return latencies, answers, time.perf_counter() - started


async def submissions(client, citizens, total: int, concurrency: int) -> tuple[list, list, float]:
    latencies, answers, elapsed = await posts(
        client, "/requests", lambda w: citizens[w % len(citizens)], total, concurrency
    )
    return latencies, [(headers, answer["id"]) for headers, answer in answers], elapsed


@contextlib.contextmanager
def noop_target(gateway_url: str) -> Iterator[tuple[str, str]]:
    """(base URL, how it is reached) of the no-op app: the /noop route of the gateway's
    operators' listener when the stack runs it, otherwise a uvicorn started here for the run."""
    if http_ok(f"{gateway_url}/noop/health"):
        yield gateway_url, "through the gateway's operators' listener"
        return
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "portal_simulators.noop:app", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        if not wait_until(lambda: http_ok(f"{url}/noop/health"), 15):
            raise RuntimeError("the no-op app did not start")
        yield url, "DIRECT, the gateway has no /noop route"
    finally:
        server.terminate()
        server.wait(timeout=10)


# --- idle CPU ----------------------------------------------------------------------------------

TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()  # fields from the 3rd on (the name may hold spaces)


def _children() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))):
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    return children


def tree_cpu_seconds(pid: int, children: dict[int, list[int]]) -> float:
    """CPU time of pid and of its live descendants, plus what its exited children used (cutime,
    cstime), so a backend that ends inside the window still counts."""
    fields = _stat(pid)
    if fields is None:
        return 0.0
    utime, stime, cutime, cstime = (int(f) for f in fields[11:15])
    own = (utime + stime + cutime + cstime) / TICKS_PER_SECOND
    return own + sum(
        (int(f[11]) + int(f[12])) / TICKS_PER_SECOND
        for child in _descendants(pid, children)
        if (f := _stat(child))
    )


def _descendants(pid: int, children: dict[int, list[int]]) -> list[int]:
    found, pending = [], list(children.get(pid, []))
    while pending:
        child = pending.pop()
        found.append(child)
        pending += children.get(child, [])
    return found


def stack_pids(cfg: Config) -> dict[str, int]:
    """Every live process of the stack: the pid files of its run dir, and PostgreSQL."""
    pids = {path.stem: read_pid(path) for path in sorted(cfg.run.glob("*.pid"))}
    pids["postgres"] = postgres.pid(cfg)
    return {name: pid for name, pid in pids.items() if pid is not None}


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


async def submit_to_visible(client, headers, samples: int) -> list[float]:
    delays = []
    for i in range(samples):
        started = time.perf_counter()
        response = await client.post("/requests", json=submission(i), headers=headers)
        response.raise_for_status()
        request_id = response.json()["id"]
        while True:
            listed = items((await client.get("/requests", headers=headers)).json())
            if any(item["id"] == request_id for item in listed):
                break
            await asyncio.sleep(0.005)
        delays.append(time.perf_counter() - started)
    return delays


async def protocol_to_visible(client, clerk_headers, created, samples: int) -> list[float]:
    async def one(headers, request_id) -> float:
        started = time.perf_counter()
        response = await client.post(f"/requests/{request_id}/protocol", headers=clerk_headers)
        response.raise_for_status()
        deadline = started + 60
        while time.perf_counter() < deadline:
            detail = (await client.get(f"/requests/{request_id}", headers=headers)).json()
            if (detail.get("protocol") or {}).get("number"):
                return time.perf_counter() - started
            await asyncio.sleep(0.01)
        raise TimeoutError(f"no protocol number for {request_id} within 60 s")

    # One at a time: this is the latency of the chain, not its throughput.
    return [await one(headers, request_id) for headers, request_id in created[:samples]]


def raw_insert_rate(stack, seconds: float = 3.0) -> float:
    with psycopg.connect(stack.pg_dsn("postgres"), autocommit=False) as conn:
        conn.execute("CREATE TEMP TABLE bench_raw (id bigserial primary key, body text)")
        conn.commit()
        count, deadline = 0, time.perf_counter() + seconds
        started = time.perf_counter()
        while time.perf_counter() < deadline:
            conn.execute("INSERT INTO bench_raw (body) VALUES (%s)", ("x" * 200,))
            conn.commit()
            count += 1
        return count / (time.perf_counter() - started)


def backlog(detail: object) -> int:
    """The events and messages a health answer's components have not taken in yet: every
    `lag_events` and every consumer's per-topic `lag`, wherever they are in the answer."""
    if isinstance(detail, dict):
        own = detail.get("lag_events", 0) if isinstance(detail.get("lag_events"), int) else 0
        lag = detail.get("lag")
        topics = sum(v for v in lag.values() if isinstance(v, int)) if isinstance(lag, dict) else 0
        return own + topics + sum(backlog(v) for k, v in detail.items() if k != "lag")
    return 0


async def until_quiet(client: httpx.AsyncClient, timeout: float = 120.0) -> float:
    """Wait until every service has taken in everything (read models, relay, sealer, consumer:
    nothing behind), so that a phase measures the machine, not the previous phase's tail.
    Returns the seconds waited."""
    started = time.monotonic()
    services = [p.name for p in service_list().services]
    while time.monotonic() - started < timeout:
        answers = await asyncio.gather(*(client.get(f"/{name}/health") for name in services))
        if sum(backlog(answer.json()) for answer in answers) == 0:
            break
        await asyncio.sleep(0.5)
    return time.monotonic() - started


async def noop_posts(url: str, args: argparse.Namespace) -> tuple[list[float], float]:
    limits = httpx.Limits(max_connections=args.concurrency + 8)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:
        no_headers = lambda _: {}  # noqa: E731
        await posts(client, "/noop/echo", no_headers, args.concurrency * 2, args.concurrency)
        latencies, _, elapsed = await posts(
            client, "/noop/echo", no_headers, args.total, args.concurrency
        )
    return latencies, elapsed


def latency_line(latencies: list[float]) -> str:
    return (
        f"{ms(percentile(latencies, 50))} / {ms(percentile(latencies, 95))} / "
        f"{ms(percentile(latencies, 99))}  (mean {ms(statistics.fmean(latencies))})"
    )


async def main(args: argparse.Namespace, stack) -> None:
    idle = idle_cpu(Config.from_env(), args.idle_seconds) if args.idle_seconds > 0 else {}
    limits = httpx.Limits(max_connections=args.concurrency + 8)
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=30, limits=limits) as client:
        citizens = [await register_citizen(client) for _ in range(args.citizens)]
        admin_token = await login(client, stack.admin_email, stack.admin_password)
        admin_headers = {"Authorization": f"Bearer {admin_token}"}
        clerk_email = f"bench-clerk-{uuid.uuid4().hex[:8]}@dimos.gr"
        clerk_password = "Bench-" + uuid.uuid4().hex[:10]
        (
            await client.post(
                "/identity/staff",
                json={
                    "email": clerk_email,
                    "password": clerk_password,
                    "role": "clerk",
                    "department": DEPARTMENT,
                },
                headers=admin_headers,
            )
        ).raise_for_status()
        clerk_headers = {
            "Authorization": f"Bearer {await login(client, clerk_email, clerk_password)}"
        }

        # Warm-up: connections, JWKS caches, the year's counter.
        await submissions(client, citizens, args.concurrency * 2, args.concurrency)
        # The floor right before the submissions, so that both meet the same machine: each
        # once the stack has taken in everything before it (the citizens' registrations and
        # the warm-up reach every service's consumer, the sealers and the audit archive).
        settled = await until_quiet(client)
        with noop_target(stack.gateway_operators_url) as (noop_url, noop_route):
            noop_latencies, noop_elapsed = await noop_posts(noop_url, args)
        settled += await until_quiet(client)
        latencies, created, elapsed = await submissions(
            client, citizens, args.total, args.concurrency
        )
        tail = await until_quiet(client)
        visible = await submit_to_visible(client, citizens[0], args.samples)
        protocol = await protocol_to_visible(client, clerk_headers, created, args.samples)
    raw = await asyncio.to_thread(raw_insert_rate, stack)

    rate, noop_rate = args.total / elapsed, args.total / noop_elapsed
    if idle:
        print(f"idle CPU over {args.idle_seconds:.0f} s, % of one core (children included):")
        for name, percent in idle.items():
            print(f"  {name:<24} {percent:6.1f} %")
        print(f"  {'all':<24} {sum(idle.values()):6.1f} %")
    print(f"named submissions through the gateway: {args.total} at concurrency {args.concurrency}")
    print(f"  submissions/s            {rate:8.1f}")
    print(f"  latency p50/p95/p99      {latency_line(latencies)}")
    print(f"no-op POST, same body ({noop_route}):")
    print(f"  posts/s                  {noop_rate:8.1f}")
    print(f"  latency p50/p95/p99      {latency_line(noop_latencies)}")
    print(f"submissions/s : no-op/s    {rate / noop_rate:8.3f}")
    print(
        f"waited for a quiet stack before the phases: {settled:.1f} s; after the "
        f"submissions, every service took them all in within {tail:.1f} s"
    )
    print(
        f"submit -> in own list      p50 {ms(percentile(visible, 50))}  "
        f"p99 {ms(percentile(visible, 99))}  ({len(visible)} samples)"
    )
    print(
        f"ask protocol -> number seen p50 {ms(percentile(protocol, 50))}  "
        f"p99 {ms(percentile(protocol, 99))}  ({len(protocol)} samples, crosses Kafka twice)"
    )
    print(f"raw PostgreSQL one-row INSERT+COMMIT, one client: {raw:8.1f} /s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--total", type=int, default=400)
    parser.add_argument("--citizens", type=int, default=8)
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--idle-seconds", type=float, default=10.0)
    asyncio.run(main(parser.parse_args(), ensure_up()))
