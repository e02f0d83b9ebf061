"""A progress display for long replays (SPEC X-1, X-3): a read model or the worklist rebuilt from
zero, a whole history exported or verified. Events done, events/s and the time left, on stderr:
one line redrawn in place on a terminal, a plain line every few seconds otherwise (logs, CI)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TextIO


@dataclass
class Progress:
    """Call `add(count)` as events are done and `finish()` at the end; the line is redrawn
    every `every` seconds on a terminal, written every `log_every` seconds otherwise."""

    total: int
    out: TextIO
    label: str = "rebuilding"
    every: float = 0.5
    log_every: float = 5.0
    done: int = 0
    started: float = field(default_factory=time.monotonic)
    shown: float = 0.0

    def add(self, count: int) -> None:
        self.done += count
        since = time.monotonic() - self.shown
        if since >= (self.every if self.out.isatty() else self.log_every):
            self.show()

    @property
    def events_per_second(self) -> float:
        return self.done / max(time.monotonic() - self.started, 1e-6)

    def line(self) -> str:
        rate = self.events_per_second
        left = f"{(self.total - self.done) / rate:,.0f} s" if rate > 0 else "?"
        return (
            f"{self.label}: {self.done:,}/{self.total:,} events, {rate:,.0f} events/s, {left} left"
        )

    def show(self, final: bool = False) -> None:
        self.shown = time.monotonic()
        if self.out.isatty():
            self.out.write(f"\r{self.line()}\033[K" + ("\n" if final else ""))
        else:
            self.out.write(self.line() + "\n")
        self.out.flush()

    def finish(self) -> None:
        self.done = self.total
        self.show(final=True)
