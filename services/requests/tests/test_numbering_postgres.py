"""Human numbers under concurrency, on real PostgreSQL (SPEC R-2: "the user gets back its
number"): two processes' worth of applications submitting at once never share or skip one."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

from requests_service.application import RequestsApplication
from requests_service.domainmodel import Kind


def test_r2_concurrent_submissions_from_two_applications_get_distinct_consecutive_numbers(
    infra, fresh_database
):
    env = infra.pg_env(fresh_database("requests_numbering"))
    # Two Application instances stand for two replicas: each keeps its own cached counter.
    replicas = [RequestsApplication(env=env), RequestsApplication(env=env)]
    try:

        def submit(i: int) -> str:
            app = replicas[i % 2]
            return app.submit(
                submitted_by=uuid.uuid4(), kind=Kind.REQUEST, subject=f"Θέμα {i}", text="Κείμενο"
            ).number

        with ThreadPoolExecutor(max_workers=6) as pool:
            numbers = list(pool.map(submit, range(60)))
    finally:
        for app in replicas:
            app.close()

    sequence = sorted(int(n.split("/")[1]) for n in numbers)
    assert sequence == list(range(1, 61))
