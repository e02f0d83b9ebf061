"""A service's background loops (relay, consumers, workers), kept alive for the app's lifetime.

A loop that fails (Kafka unreachable at start-up, a broker restart) is restarted with
exponential backoff instead of silently dying; health reports a loop as down while it is
waiting to restart. `RetryPolicy` is the backoff a worker schedules an outside system's next
try with (the protocol registry, the SMTP server).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import structlog

log = structlog.get_logger()

Loop = Callable[[], Awaitable[None]]
T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: base * 2^(attempt-1), capped at max, with a little jitter (±jitter)
    so that what failed in one outage does not all come back at the same instant."""

    base_seconds: float = 1.0
    max_seconds: float = 30.0
    jitter: float = 0.1

    def delay(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """Seconds to wait before try `attempt + 1`, after `attempt` failed ones (from 1)."""
        exponential = min(self.max_seconds, self.base_seconds * 2 ** (attempt - 1))
        jittered = exponential * (1 + self.jitter * (2 * rand() - 1))
        return min(self.max_seconds, jittered)


async def finishing_when_cancelled(work: Awaitable[T], name: str) -> T:
    """Await `work` (typically a worker's step in a thread); if cancelled meanwhile, let it
    finish first, then pass the cancellation on. A thread cannot be stopped half-way anyway, and
    the kit closes the Application only after its workers: this makes the step's end part of
    the shutdown, so its outcome is recorded. `name` says whose step failed, if it does."""
    task = asyncio.ensure_future(work)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        await asyncio.wait([task])
        if not task.cancelled() and task.exception() is not None:
            log.error("worker_step_failed_at_shutdown", worker=name, error=repr(task.exception()))
        raise


class BackgroundLoops:
    def __init__(self, *, first_delay: float = 1.0, max_delay: float = 30.0) -> None:
        self.first_delay = first_delay
        self.max_delay = max_delay
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._running: dict[str, bool] = {}

    def start(self, name: str, run: Loop) -> None:
        self._tasks[name] = asyncio.create_task(self._supervise(name, run), name=name)

    async def _supervise(self, name: str, run: Loop) -> None:
        delay = self.first_delay
        while True:
            self._running[name] = True
            try:
                await run()
                log.warning("background_loop_returned", loop=name)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.error("background_loop_failed", loop=name, error=repr(exc), retry_in=delay)
            self._running[name] = False
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.max_delay)

    def health_checks(self) -> dict[str, Callable[[], bool]]:
        """One check per loop, for `app.state.health_checks`."""
        return {name: (lambda name=name: self._running.get(name, False)) for name in self._tasks}

    async def stop(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        self._tasks.clear()
