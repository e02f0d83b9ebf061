"""A service's background loops (relay, consumers, workers), kept alive for the app's lifetime.

A loop that fails (Kafka unreachable at start-up, a broker restart) is restarted with
exponential backoff instead of silently dying; health reports a loop as down while it is
waiting to restart.

A worker over a work list (registrations due at the registry, e-mails due, payments due a look
at the bank) is a `PollingWorker`; `RetryPolicy` is the backoff it schedules an outside system's
next try with.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import ClassVar, TypeVar

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


class PollingWorker:
    """A service's worker over a work list: `concurrency` loops, each doing one `process_one` at
    a time in a thread; a loop that found nothing to do waits `poll_seconds`, or less if `wake`
    is called (e.g. by a read model's `on_applied`: new work). It never dies of a failed step
    (the database briefly away): it logs it and goes on.

    Subclasses set `name` and implement `process_one`. Cancelled (the service shuts down), a
    loop first lets the step in hand finish and record its outcome (`finishing_when_cancelled`);
    the kit closes the Application and the resources only after its workers.
    """

    name: ClassVar[str]

    def __init__(self, *, poll_seconds: float = 1.0, concurrency: int = 1) -> None:
        self.poll_seconds = poll_seconds
        self.concurrency = concurrency
        self._new_work = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def process_one(self) -> bool:
        """Do one piece of due work, if any (in a thread); True when there was one, so the loop
        looks again at once."""
        raise NotImplementedError

    def wake(self) -> None:
        """New work may be due: idle loops look at once instead of at their next poll. Safe to
        call from any thread."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._new_work.set)

    async def run(self) -> None:
        """Work until cancelled."""
        self._loop = asyncio.get_running_loop()
        async with asyncio.TaskGroup() as loops:
            for _ in range(self.concurrency):
                loops.create_task(self._work())

    async def _work(self) -> None:
        while True:
            try:
                busy = await finishing_when_cancelled(
                    asyncio.to_thread(self.process_one), self.name
                )
            except Exception:
                log.exception("worker_step_failed", worker=self.name)
                busy = False
            if not busy:
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation
                # that meets a wake-up, and the worker would then never stop.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.poll_seconds):
                        await self._new_work.wait()
                # Cleared before looking, so a wake-up that comes during the look is kept.
                self._new_work.clear()


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
