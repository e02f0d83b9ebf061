"""Background loops are restarted after a failure and report their health; workers over a work
list wake on new work, outlive failed steps and finish the step in hand; retries back off."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import pytest
from portal_events.background import BackgroundLoops, PollingWorker, RetryPolicy


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


class Queue(PollingWorker):
    """A worker over an in-memory work list; `step` runs in the worker's thread."""

    name = "queue"

    def __init__(self, step: Callable[[int], None], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.step = step
        self.items: list[int] = []
        self.done: list[int] = []

    def process_one(self) -> bool:
        if not self.items:
            return False
        item = self.items.pop(0)
        self.step(item)
        self.done.append(item)
        return True


def test_a_worker_is_woken_by_new_work_and_survives_a_failed_step():
    """issue 8 (the registrar's, the mailer's and the reconciler's loop): new work is looked at
    on `wake`, not at the next poll; a step that fails is logged and the worker goes on."""

    def step(item: int) -> None:
        if item == 1:
            raise ConnectionError("the database is briefly away")

    async def scenario() -> list[int]:
        worker = Queue(step, poll_seconds=60, concurrency=2)
        running = asyncio.create_task(worker.run())
        await asyncio.sleep(0.05)  # both loops idle, each waiting up to a minute
        worker.items += [1, 2, 3]
        worker.wake()
        async with asyncio.timeout(10):  # well inside the poll interval
            while len(worker.done) < 2:
                await asyncio.sleep(0.01)
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        return sorted(worker.done)

    assert asyncio.run(scenario()) == [2, 3]


def test_a_cancelled_worker_finishes_the_step_in_hand_first():
    """issue 8: shutting down, a worker lets the step in hand finish and record its outcome."""
    started, release = threading.Event(), threading.Event()

    def step(item: int) -> None:
        started.set()
        release.wait(10)

    async def scenario() -> tuple[list[int], bool]:
        worker = Queue(step, poll_seconds=0.01)
        worker.items.append(7)
        running = asyncio.create_task(worker.run())
        await asyncio.to_thread(started.wait, 10)
        running.cancel()
        await asyncio.sleep(0.05)
        finished_early = running.done()
        release.set()
        await asyncio.gather(running, return_exceptions=True)
        return worker.done, finished_early

    done, finished_early = asyncio.run(scenario())
    assert done == [7]
    assert finished_early is False
