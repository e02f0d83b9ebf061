"""Benchmark: named submissions through the gateway against the running stack (issue 2 §9).

Prints figures; asserts nothing. Usage:
    make bench                                   # defaults
    .venv/bin/python bench/submissions.py --concurrency 16 --total 1000

Measures, in one run:
- submissions/s and POST /requests latency p50/p95/p99 at the chosen concurrency;
- submit -> visible in the citizen's own list (p50/p99);
- clerk asks protocol -> citizen sees the number (p50/p99; crosses Kafka twice);
- for comparison, the raw one-row INSERT+COMMIT rate of the same PostgreSQL, one client.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid

import httpx
import psycopg
from portal_stack import ensure_up

DEPARTMENT = "citizen_services"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


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


async def submissions(client, citizens, total: int, concurrency: int) -> tuple[list, list, float]:
    latencies: list[float] = []
    created: list[tuple[dict, str]] = []
    counter = iter(range(total))

    async def worker(headers: dict[str, str]) -> None:
        for i in counter:
            started = time.perf_counter()
            response = await client.post("/requests", json=submission(i), headers=headers)
            latencies.append(time.perf_counter() - started)
            response.raise_for_status()
            created.append((headers, response.json()["id"]))

    started = time.perf_counter()
    await asyncio.gather(*(worker(citizens[w % len(citizens)]) for w in range(concurrency)))
    return latencies, created, time.perf_counter() - started


async def submit_to_visible(client, headers, samples: int) -> list[float]:
    delays = []
    for i in range(samples):
        started = time.perf_counter()
        response = await client.post("/requests", json=submission(i), headers=headers)
        response.raise_for_status()
        request_id = response.json()["id"]
        while True:
            listed = (await client.get("/requests", headers=headers)).json()
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


async def main(args: argparse.Namespace, stack) -> None:
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
        latencies, created, elapsed = await submissions(
            client, citizens, args.total, args.concurrency
        )
        visible = await submit_to_visible(client, citizens[0], args.samples)
        protocol = await protocol_to_visible(client, clerk_headers, created, args.samples)
    raw = await asyncio.to_thread(raw_insert_rate, stack)

    print(f"named submissions through the gateway: {args.total} at concurrency {args.concurrency}")
    print(f"  submissions/s            {args.total / elapsed:8.1f}")
    print(
        f"  latency p50/p95/p99      {ms(percentile(latencies, 50))} / "
        f"{ms(percentile(latencies, 95))} / {ms(percentile(latencies, 99))}"
        f"  (mean {ms(statistics.fmean(latencies))})"
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
    asyncio.run(main(parser.parse_args(), ensure_up()))
