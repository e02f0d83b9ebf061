"""Benchmark: paying a traffic fine end to end against the running stack (issue 7 "Benchmark").

Prints figures; asserts nothing. Usage:
    make bench-payments                          # defaults; starts the stack when it is not up
    .venv/bin/python bench/payments.py --sequential 30 --concurrency 8 --total 40
The stack is the one `portal_stack` finds from the environment (PORTAL_STATE_DIR, PORTAL_*_PORT),
so a stack of one's own is measured by running with its variables set.

One payment is what a citizen's browser does, timed from the first request to the last:
fine lookup (`POST /fines/lookup`, a fine the register has never seen, so it is recorded) ->
payment created (`POST /fines/{id}/payment`) -> the checkout's 303 (it waits for payments to
have the payment, which fines requests through Kafka, and opens the bank's session) -> the
bank's page -> the card form posted to the bank (success card; 303 back to the portal) ->
`GET /fines/{id}`
polled until the fine shows paid (the bank's signed notification to payments, then
PaymentCompleted across Kafka to fines). Measured:
- p50/p99 of that over `--sequential` payments one after another, with the median of each step;
- payments/s with `--concurrency` citizens paying at once, `--total` payments in all.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
from bank_page import SUCCESS_CARD, pay_at_bank
from figures import ms, percentile
from portal_stack import ensure_up

PLATE_LETTERS = "ΑΒΕΖΗΙΚΜΝΟΡΤΥΧ"
PROFILE = {
    "first_name": "Ελένη",
    "last_name": "Παπαδοπούλου",
    "father_name": "Γεώργιος",
    "date_of_birth": "1985-04-12",
    "afm": "090000045",
    "id_document_number": "ΑΒ123456",
    "address": "Ερμού 10, 10563 Αθήνα",
    "phone": "+302101234567",
}
STEPS = ("lookup", "payment", "checkout", "bank page", "card posted", "shown paid")
PAID_TIMEOUT_SECONDS = 60


@dataclass
class Citizen:
    headers: dict[str, str]
    municipality_code: str = ""
    fine_type: str = ""


@dataclass
class Timing:
    """Seconds from the start of one payment to the end of each step."""

    marks: dict[str, float] = field(default_factory=dict)

    def steps(self) -> dict[str, float]:
        durations, previous = {}, 0.0
        for step in STEPS:
            durations[step] = self.marks[step] - previous
            previous = self.marks[step]
        return durations

    @property
    def total(self) -> float:
        return self.marks[STEPS[-1]]


async def new_citizen(portal: httpx.AsyncClient) -> Citizen:
    email = f"bench-fines-{uuid.uuid4().hex[:12]}@example.gr"
    password = "Bench-" + uuid.uuid4().hex[:10]
    response = await portal.post(
        "/identity/users", json={"kind": "citizen", "email": email, "password": password}
    )
    response.raise_for_status()
    response = await portal.post("/identity/token", data={"username": email, "password": password})
    response.raise_for_status()
    citizen = Citizen({"Authorization": f"Bearer {response.json()['access_token']}"})
    (
        await portal.put("/identity/me/profile", json=PROFILE, headers=citizen.headers)
    ).raise_for_status()
    # Identity tells fines of the complete profile through Kafka: refused (403) for a moment.
    deadline = time.perf_counter() + PAID_TIMEOUT_SECONDS
    while (types := await portal.get("/fines/types", headers=citizen.headers)).status_code == 403:
        if time.perf_counter() > deadline:
            raise TimeoutError(f"fines still refuses the citizen: {types.text}")
        await asyncio.sleep(0.05)
    types = types.raise_for_status().json()
    citizen.municipality_code, citizen.fine_type = (
        types["municipality_code"],
        types["types"][0]["code"],
    )
    return citizen


def ticket(citizen: Citizen) -> dict[str, str]:
    return {
        "municipality_code": citizen.municipality_code,
        "fine_type": citizen.fine_type,
        "fine_number": str(random.randrange(10**8, 10**9)),
        "plate": "".join(random.choices(PLATE_LETTERS, k=3)) + f"-{random.randrange(1000, 10**4)}",
        "issued_at": (datetime.now(UTC) - timedelta(days=3)).isoformat(timespec="seconds"),
    }


async def pay_one(
    portal: httpx.AsyncClient, browser: httpx.AsyncClient, citizen: Citizen
) -> Timing:
    timing = Timing()
    started = time.perf_counter()

    def mark(step: str) -> None:
        timing.marks[step] = time.perf_counter() - started

    lookup = await portal.post("/fines/lookup", json=ticket(citizen), headers=citizen.headers)
    fine_id = lookup.raise_for_status().json()["fine_id"]
    mark("lookup")
    created = await portal.post(
        f"/fines/{fine_id}/payment",
        headers=citizen.headers | {"Idempotency-Key": uuid.uuid4().hex},
    )
    redirect_url = created.raise_for_status().json()["redirect_url"]
    mark("payment")
    await pay_at_bank(browser, redirect_url, SUCCESS_CARD, mark)
    deadline = time.perf_counter() + PAID_TIMEOUT_SECONDS
    while (await portal.get(f"/fines/{fine_id}", headers=citizen.headers)).json()[
        "status"
    ] != "paid":
        if time.perf_counter() > deadline:
            raise TimeoutError(f"fine {fine_id} not paid within {PAID_TIMEOUT_SECONDS} s")
        await asyncio.sleep(0.01)
    mark("shown paid")
    return timing


async def main(args: argparse.Namespace, stack) -> None:
    limits = httpx.Limits(max_connections=args.concurrency * 2 + 8)
    async with (
        httpx.AsyncClient(base_url=stack.gateway_url, timeout=30, limits=limits) as portal,
        httpx.AsyncClient(timeout=30, limits=limits) as browser,
    ):
        citizens = [await new_citizen(portal) for _ in range(args.concurrency)]
        for citizen in citizens[:2]:  # warm-up: connections, JWKS caches, the bank's session
            await pay_one(portal, browser, citizen)

        sequential = [await pay_one(portal, browser, citizens[0]) for _ in range(args.sequential)]

        counter = iter(range(args.total))
        concurrent: list[Timing] = []

        async def worker(citizen: Citizen) -> None:
            for _ in counter:
                concurrent.append(await pay_one(portal, browser, citizen))

        started = time.perf_counter()
        await asyncio.gather(*(worker(citizen) for citizen in citizens))
        elapsed = time.perf_counter() - started

    totals = [t.total for t in sequential]
    print(
        "fine lookup -> payment -> bank form posted -> fine shown paid: "
        f"{args.sequential} one after another"
    )
    print(
        f"  p50 {ms(percentile(totals, 50))}  p99 {ms(percentile(totals, 99))}  "
        f"(mean {ms(statistics.fmean(totals))}, max {ms(max(totals))})"
    )
    print("  median of each step:")
    for step in STEPS:
        print(f"    {step:<12} {ms(statistics.median(t.steps()[step] for t in sequential))}")
    concurrent_totals = [t.total for t in concurrent]
    print(f"{args.total} payments at concurrency {args.concurrency}:")
    print(f"  payments/s   {args.total / elapsed:8.2f}")
    print(
        f"  p50 {ms(percentile(concurrent_totals, 50))}  "
        f"p99 {ms(percentile(concurrent_totals, 99))}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequential", type=int, default=30)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--total", type=int, default=40)
    asyncio.run(main(parser.parse_args(), ensure_up()))
