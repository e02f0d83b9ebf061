"""Benchmark: named submissions through the gateway against the running stack (issue 2 §9,
issue 5 "Benchmarks", issue 12 "Measured in make bench").

Prints figures; asserts nothing. Usage:
    make bench                                   # defaults; starts the stack when it is not up
    .venv/bin/python bench/submissions.py --concurrency 8,32 --total 1000
    .venv/bin/python bench/submissions.py --rate 100 --rate-seconds 20
    .venv/bin/python bench/submissions.py --idle-seconds 0 --rate-seconds 0   # skip those phases
The stack is the one `portal_stack` finds from the environment (PORTAL_STATE_DIR, PORTAL_*_PORT),
so a stack of one's own is measured by running with its variables set. It speaks only the
portal's public HTTP API and reads the stack's pid files, so the same script measures an older
checkout's stack too (before/after).

Measures, in one run:
- the footprint of every process of the stack (bench/footprint.py): idle CPU over a quiet window
  (10 s by default) before any load, RSS and PSS then, and RSS again after the load;
- at each concurrency (8 and 32 by default), closed-loop (each worker sends its next request
  when its previous is answered): submissions/s and POST /requests latency p50/p95/p99, the same
  for a no-op FastAPI POST with the same body (portal_simulators.noop: parses it, stores
  nothing) through the same nginx (its operators' listener: a bench target is not public) at
  the same concurrency, and submissions/s as a ratio to it. When the gateway has no /noop route
  the no-op app is started here and posted to directly, and the output says so (the ratio then
  leaves nginx out of the floor);
- open-loop POST /requests latency at a fixed rate (200/s for 10 s by default): each request is
  sent at its scheduled time whether or not the earlier ones are answered, and its latency runs
  from that scheduled time, so a stall is charged to every request it delays (a closed loop
  would send fewer requests during it and hide it). How late this script itself sent them is
  printed too: when that is large the client, not the stack, was the bottleneck;
- submit -> visible in the citizen's own list (p50/p99);
- clerk asks protocol -> citizen sees the number (p50/p99; crosses Kafka twice);
- for comparison, the raw one-row INSERT+COMMIT rate of the same PostgreSQL, one client.
Each phase starts once every service has taken in everything before it (read models, relay,
sealer and consumer lags all 0, from their health answers), so that none measures the tail of
another; how long the stack took to take in each load is printed too.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import psycopg
from figures import ms, percentile
from footprint import idle_cpu, memory, print_footprint
from portal_simulators.testing import free_port
from portal_stack import ensure_up
from portal_stack.config import Config, service_list
from portal_stack.procs import http_ok, wait_until

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


async def noop_posts(url: str, total: int, concurrency: int) -> tuple[list[float], float]:
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=_limits(concurrency)) as client:
        no_headers = lambda _: {}  # noqa: E731
        await posts(client, "/noop/echo", no_headers, concurrency * 2, concurrency)
        latencies, _, elapsed = await posts(client, "/noop/echo", no_headers, total, concurrency)
    return latencies, elapsed


def _limits(concurrency: int) -> httpx.Limits:
    return httpx.Limits(max_connections=concurrency + 8, max_keepalive_connections=concurrency + 8)


@dataclass
class OpenLoop:
    """What a fixed-rate run saw: latencies from each request's scheduled send time, how late
    the client itself sent each one, the answers that were not 201 (or no answer), and how long
    the whole run took until the last answer."""

    rate: float
    latencies: list[float] = field(default_factory=list)
    send_delays: list[float] = field(default_factory=list)
    failures: int = 0
    elapsed: float = 0.0


async def open_loop(gateway_url: str, citizens, rate: float, seconds: float) -> OpenLoop:
    """POST /requests at `rate` per second for `seconds`, on schedule (see the docstring)."""
    result = OpenLoop(rate)
    # Enough connections that the pool never holds a request back when the stack keeps up; when
    # it does not, waiting for one is part of the latency, as it would be for real clients.
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    async with httpx.AsyncClient(base_url=gateway_url, timeout=60, limits=limits) as client:

        async def one(i: int, scheduled: float) -> None:
            try:
                response = await client.post(
                    "/requests", json=submission(i), headers=citizens[i % len(citizens)]
                )
                if response.status_code != 201:
                    result.failures += 1
                    return
            except httpx.HTTPError:
                result.failures += 1
                return
            result.latencies.append(time.perf_counter() - scheduled)

        started = time.perf_counter() + 0.05
        sent = []
        for i in range(round(rate * seconds)):
            scheduled = started + i / rate
            if (wait := scheduled - time.perf_counter()) > 0:
                await asyncio.sleep(wait)
            result.send_delays.append(max(0.0, time.perf_counter() - scheduled))
            sent.append(asyncio.create_task(one(i, scheduled)))
        await asyncio.gather(*sent)
        result.elapsed = time.perf_counter() - started
    return result


def latency_line(latencies: list[float]) -> str:
    return (
        f"{ms(percentile(latencies, 50))} / {ms(percentile(latencies, 95))} / "
        f"{ms(percentile(latencies, 99))}  (mean {ms(statistics.fmean(latencies))})"
    )


@dataclass(frozen=True)
class ClosedLoop:
    """Submissions and the no-op floor at one concurrency."""

    concurrency: int
    total: int
    latencies: list[float]
    elapsed: float
    noop_latencies: list[float]
    noop_elapsed: float
    noop_route: str
    settled: float  # waiting for a quiet stack before the phases
    tail: float  # until every service took the submissions in

    @property
    def rate(self) -> float:
        return self.total / self.elapsed

    @property
    def noop_rate(self) -> float:
        return self.total / self.noop_elapsed


async def closed_loop(
    client, stack, citizens, total: int, concurrency: int
) -> tuple[ClosedLoop, list[tuple[dict, str]]]:
    """The no-op floor, then the submissions, at one concurrency; each once the stack has taken
    in everything before it. Returns the figures and (headers, id) of each request made."""
    settled = await until_quiet(client)
    with noop_target(stack.gateway_operators_url) as (noop_url, noop_route):
        noop_latencies, noop_elapsed = await noop_posts(noop_url, total, concurrency)
    settled += await until_quiet(client)
    latencies, created, elapsed = await submissions(client, citizens, total, concurrency)
    tail = await until_quiet(client)
    figures = ClosedLoop(
        concurrency,
        total,
        latencies,
        elapsed,
        noop_latencies,
        noop_elapsed,
        noop_route,
        settled,
        tail,
    )
    return figures, created


async def make_clerk(client, stack) -> dict[str, str]:
    admin_token = await login(client, stack.admin_email, stack.admin_password)
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
            headers={"Authorization": f"Bearer {admin_token}"},
        )
    ).raise_for_status()
    return {"Authorization": f"Bearer {await login(client, clerk_email, clerk_password)}"}


def print_closed_loop(run: ClosedLoop) -> None:
    print(
        f"named submissions through the gateway: {run.total} at concurrency {run.concurrency}, "
        "closed-loop"
    )
    print(f"  submissions/s            {run.rate:8.1f}")
    print(f"  latency p50/p95/p99      {latency_line(run.latencies)}")
    print(f"  no-op POST, same body ({run.noop_route}):")
    print(f"    posts/s                {run.noop_rate:8.1f}")
    print(f"    latency p50/p95/p99    {latency_line(run.noop_latencies)}")
    print(f"  submissions/s : no-op/s  {run.rate / run.noop_rate:8.3f}")
    print(
        f"  waited for a quiet stack before the phases: {run.settled:.1f} s; after the "
        f"submissions, every service took them all in within {run.tail:.1f} s"
    )


def print_open_loop(run: OpenLoop, tail: float) -> None:
    answered = len(run.latencies)
    print(
        f"open-loop POST /requests at {run.rate:.0f}/s: {answered + run.failures} sent on "
        f"schedule, {run.failures} not answered 201, last answer after {run.elapsed:.1f} s"
    )
    if answered:
        print(f"  latency p50/p95/p99      {latency_line(run.latencies)}  (from the schedule)")
    print(
        f"  sent late by this client p50 {ms(percentile(run.send_delays, 50))}  "
        f"p99 {ms(percentile(run.send_delays, 99))}  max {ms(max(run.send_delays, default=0))}"
    )
    print(f"  every service took them all in within {tail:.1f} s")


async def main(args: argparse.Namespace, stack) -> None:
    cfg = Config.from_env()
    idle = idle_cpu(cfg, args.idle_seconds) if args.idle_seconds > 0 else {}
    memory_idle = memory(cfg)
    largest = max(args.concurrency)
    async with httpx.AsyncClient(
        base_url=stack.gateway_url, timeout=30, limits=_limits(largest)
    ) as client:
        citizens = [await register_citizen(client) for _ in range(max(args.citizens, 1))]
        clerk_headers = await make_clerk(client, stack)
        # Warm-up: connections, JWKS caches, the year's counter.
        await submissions(client, citizens, largest * 2, largest)
        runs, created = [], []
        for concurrency in args.concurrency:
            run, made = await closed_loop(client, stack, citizens, args.total, concurrency)
            runs.append(run)
            created += made
        fixed_rate, fixed_rate_tail = None, 0.0
        if args.rate > 0 and args.rate_seconds > 0:
            await until_quiet(client)
            fixed_rate = await open_loop(stack.gateway_url, citizens, args.rate, args.rate_seconds)
            fixed_rate_tail = await until_quiet(client)
        visible = await submit_to_visible(client, citizens[0], args.samples)
        protocol = await protocol_to_visible(client, clerk_headers, created, args.samples)
    raw = await asyncio.to_thread(raw_insert_rate, stack)
    memory_after = memory(cfg)

    print_footprint(idle, args.idle_seconds, memory_idle, memory_after)
    for run in runs:
        print_closed_loop(run)
    if len(runs) > 1:
        ratios = ", ".join(f"c{run.concurrency} {run.rate / run.noop_rate:.3f}" for run in runs)
        print(f"submissions/s : no-op/s at each concurrency: {ratios}")
    if fixed_rate is not None:
        print_open_loop(fixed_rate, fixed_rate_tail)
    print(
        f"submit -> in own list      p50 {ms(percentile(visible, 50))}  "
        f"p99 {ms(percentile(visible, 99))}  ({len(visible)} samples)"
    )
    print(
        f"ask protocol -> number seen p50 {ms(percentile(protocol, 50))}  "
        f"p99 {ms(percentile(protocol, 99))}  ({len(protocol)} samples, crosses Kafka twice)"
    )
    print(f"raw PostgreSQL one-row INSERT+COMMIT, one client: {raw:8.1f} /s")


def concurrencies(text: str) -> list[int]:
    values = [int(part) for part in text.split(",") if part.strip()]
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("one or more positive integers, comma-separated")
    return values


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--concurrency", type=concurrencies, default=[8, 32], help="e.g. 8,32 (the default)"
    )
    parser.add_argument("--total", type=int, default=400, help="submissions per concurrency")
    parser.add_argument("--citizens", type=int, default=8)
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--idle-seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=200.0, help="open-loop POSTs per second")
    parser.add_argument("--rate-seconds", type=float, default=10.0, help="0 skips the phase")
    asyncio.run(main(parser.parse_args(), ensure_up()))
