"""Background loops are restarted after a failure and report their health."""

from __future__ import annotations

import asyncio

import pytest
from portal_events.background import BackgroundLoops, RetryPolicy


def test_a_failing_loop_is_restarted_and_reported_down_meanwhile():
    async def scenario():
        runs = []
        release = asyncio.Event()

        async def flaky() -> None:
            runs.append(len(runs))
            if len(runs) == 1:
                raise ConnectionError("Kafka not reachable yet")
            await release.wait()

        loops = BackgroundLoops(first_delay=0.2)
        loops.start("relay", flaky)
        check = loops.health_checks()["relay"]
        await asyncio.sleep(0.05)
        down_while_waiting = check()
        await asyncio.sleep(0.3)
        up_after_restart = check()
        await loops.stop()
        return runs, down_while_waiting, up_after_restart

    runs, down_while_waiting, up_after_restart = asyncio.run(scenario())
    assert runs == [0, 1]
    assert down_while_waiting is False
    assert up_after_restart is True


def test_retry_backoff_doubles_from_the_base_up_to_the_cap_with_small_jitter():
    """issue 8 (SPEC C-4, X-2): the registrar's and the mailer's retries of an outside system."""
    policy = RetryPolicy(base_seconds=1, max_seconds=30, jitter=0.1)
    assert [policy.delay(n, rand=lambda: 0.5) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]
    assert policy.delay(3, rand=lambda: 0.0) == pytest.approx(3.6)
    assert policy.delay(3, rand=lambda: 1.0) == pytest.approx(4.4)
    assert policy.delay(12, rand=lambda: 1.0) == 30  # never above the cap
