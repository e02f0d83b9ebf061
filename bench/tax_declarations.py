"""Benchmark: a municipal-tax declaration paid and accepted (issue 9 "in the closing note"),
against the running stack.

Prints figures; asserts nothing. Usage:
    make bench-tax                               # defaults; starts the stack when it is not up
    .venv/bin/python bench/tax_declarations.py --count 30
The stack is the one `portal_stack` finds from the environment (PORTAL_STATE_DIR, PORTAL_*_PORT).

Set-up, through the gateway: a business registers with an ΑΦΜ of its own, fills in its profile,
and a clerk verifies its representative in person (ID-3). Then `--count` times, one after
another, for a different month each time (B-2): the declaration is submitted and quoted
(`POST /business/tax-declarations`, which asks the municipal information system), its payment
started, the bank's page paid with the success card, and `GET /business/tax-declarations/{id}`
polled until it is accepted (the bank's signed notification -> payments -> PaymentCompleted
through Kafka -> business) and then until it is filed with the information system (its filer).
Printed: p50/p99 of declared -> quoted, card posted -> accepted, declared -> accepted, and
accepted -> filed.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
import uuid
from datetime import date

import httpx
from bank_page import pay_at_bank
from figures import ms, percentile
from portal_stack import ensure_up

TIMEOUT_SECONDS = 60


def new_afm() -> str:
    """A valid Greek tax id (ΑΦΜ) no other run uses: eight random digits and the check digit
    (the sum of each digit times 2^(8-position), mod 11, mod 10)."""
    digits = [random.randrange(10) for _ in range(8)]
    digits[0] = random.randrange(1, 10)
    check = sum(d << (8 - i) for i, d in enumerate(digits)) % 11 % 10
    return "".join(map(str, digits)) + str(check)


async def token(portal: httpx.AsyncClient, email: str, password: str) -> dict[str, str]:
    response = await portal.post("/identity/token", data={"username": email, "password": password})
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def verified_business(portal: httpx.AsyncClient, stack) -> dict[str, str]:
    admin = await token(portal, stack.admin_email, stack.admin_password)
    password = "Bench-" + uuid.uuid4().hex[:10]
    clerk_email = f"bench-clerk-{uuid.uuid4().hex[:10]}@example.gr"
    staff = {"email": clerk_email, "password": password, "role": "clerk"}
    created = await portal.post(
        "/identity/staff", json=staff | {"department": "revenue"}, headers=admin
    )
    created.raise_for_status()
    clerk = await token(portal, clerk_email, password)

    email = f"bench-business-{uuid.uuid4().hex[:10]}@example.gr"
    registered = await portal.post(
        "/identity/users", json={"kind": "business", "email": email, "password": password}
    )
    registered.raise_for_status()
    business = await token(portal, email, password)
    profile = {
        "legal_name": "Μέτρηση ΑΕ",
        "afm": new_afm(),
        "address": "Πειραιώς 10, Αθήνα",
        "representative": "Νίκος Νικολάου",
    }
    (await portal.put("/identity/me/profile", json=profile, headers=business)).raise_for_status()
    (
        await portal.post(
            f"/identity/users/{registered.json()['user_id']}/verification",
            json={"document_type": "identity_card", "document_number": "ΑΒ123456"},
            headers=clerk,
        )
    ).raise_for_status()
    # The business service learns of the verification through Kafka: refused for a moment.
    deadline = time.perf_counter() + TIMEOUT_SECONDS
    while (await portal.get("/business/warrants", headers=business)).status_code == 403:
        if time.perf_counter() > deadline:
            raise TimeoutError("the business service still refuses the verified business")
        await asyncio.sleep(0.05)
    return business


def months(count: int) -> list[tuple[int, int]]:
    """`count` past months, newest first, as (year, month)."""
    today = date.today()
    year, month = today.year, today.month
    result = []
    while len(result) < count:
        month -= 1
        if month == 0:
            year, month = year - 1, 12
        result.append((year, month))
    return result


async def declare_and_pay(
    portal: httpx.AsyncClient,
    browser: httpx.AsyncClient,
    business: dict[str, str],
    year: int,
    month: int,
) -> dict[str, float]:
    marks: dict[str, float] = {}
    started = time.perf_counter()
    next_month = date(year + month // 12, month % 12 + 1, 1)
    declared = await portal.post(
        "/business/tax-declarations",
        json={
            "period_type": "monthly",
            "period": month,
            "year": year,
            "gross_revenue": 1_250_000_00,
            "vat_return_date": min(next_month, date.today()).isoformat(),
        },
        headers=business,
    )
    if declared.status_code != 201:
        raise RuntimeError(f"declaration: {declared.status_code} {declared.text[:300]}")
    declaration_id = declared.json()["declaration_id"]
    marks["quoted"] = time.perf_counter() - started
    payment = await portal.post(
        f"/business/tax-declarations/{declaration_id}/payment",
        headers=business | {"Idempotency-Key": uuid.uuid4().hex},
    )
    payment.raise_for_status()
    await pay_at_bank(browser, payment.json()["redirect_url"])
    marks["card posted"] = time.perf_counter() - started

    async def until(check, step: str) -> None:
        deadline = time.perf_counter() + TIMEOUT_SECONDS
        while True:
            current = (
                await portal.get(f"/business/tax-declarations/{declaration_id}", headers=business)
            ).json()
            if check(current):
                marks[step] = time.perf_counter() - started
                return
            if time.perf_counter() > deadline:
                raise TimeoutError(f"declaration {declaration_id} not {step}: {current}")
            await asyncio.sleep(0.01)

    await until(lambda d: d["status"] == "accepted", "accepted")
    await until(lambda d: d["filed"], "filed")
    return marks


async def main(args: argparse.Namespace, stack) -> None:
    async with (
        httpx.AsyncClient(base_url=stack.gateway_url, timeout=30) as portal,
        httpx.AsyncClient(timeout=30) as browser,
    ):
        business = await verified_business(portal, stack)
        runs = [
            await declare_and_pay(portal, browser, business, year, month)
            for year, month in months(args.count)
        ]

    def line(label: str, values: list[float]) -> None:
        print(f"  {label:<26} p50 {ms(percentile(values, 50))}   p99 {ms(percentile(values, 99))}")

    print(f"tax declarations declared, paid and accepted one after another: {args.count}")
    line("declared -> quoted", [r["quoted"] for r in runs])
    line("card posted -> accepted", [r["accepted"] - r["card posted"] for r in runs])
    line("declared -> accepted", [r["accepted"] for r in runs])
    line("accepted -> filed", [r["filed"] - r["accepted"] for r in runs])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=30, help="declarations, one per month")
    arguments = parser.parse_args()
    asyncio.run(main(arguments, ensure_up()))  # the stack first: it runs its own event loop
