"""The outage switch every simulator of another party's system has, so that the portal's outage
paths can be shown and tested: `PUT /control` {mode: up | down | slow, delay_seconds} makes the
simulator answer 503 (`down`) or late (`slow`), as the real system does on a bad day; `GET /health`
stays 200 (the process is alive) and says the mode. The mode is not kept across a restart.

(No `from __future__ import annotations` here: the routes' parameter types must be the classes
themselves, since each simulator may extend `Control`.)
"""

import asyncio
from collections.abc import Callable
from typing import Literal, TypeVar

from fastapi import FastAPI
from pydantic import BaseModel, Field

Mode = Literal["up", "down", "slow"]


class Control(BaseModel):
    mode: Mode = "up"
    delay_seconds: float = Field(0.0, ge=0, le=120, description="Used in mode `slow`")

    @property
    def down(self) -> bool:
        return self.mode == "down"

    async def delay(self) -> None:
        """In mode `slow`, wait before answering. Callers do the work first: a client that gives
        up has lost only the answer, as with a real system that is slow."""
        if self.mode == "slow":
            await asyncio.sleep(self.delay_seconds)


C = TypeVar("C", bound=Control)


def add_control(app: FastAPI, control_class: type[C]) -> Callable[[], C]:
    """Add `/health` and `GET`/`PUT /control` to `app`; returns how to read the current control."""
    app.state.control = control_class()

    @app.get("/health", tags=["operations"])
    def health() -> dict[str, str]:
        """Always 200 (the process is alive); `mode` says whether it is pretending an outage."""
        return {"status": "ok", "mode": app.state.control.mode}

    @app.get("/control", tags=["control"], response_model=control_class)
    def get_control() -> Control:
        """The current failure mode."""
        return app.state.control

    @app.put("/control", tags=["control"], response_model=control_class)
    def put_control(new: control_class) -> Control:  # type: ignore[valid-type]
        """Go down, come back up, or answer slowly (for tests and demos of the outage paths)."""
        app.state.control = new
        return new

    return lambda: app.state.control
