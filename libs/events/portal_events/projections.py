"""Read models: one projection of the service's own events, run in this process.

It wraps the library's `ProjectionRunner` (view rows and tracking position written in one
transaction, rebuildable from zero) and adds what every service needs around it: a health check
and a read-your-writes wait. The library's own `wait` sleeps at least 100 ms between polls; a
projection usually catches up within a few milliseconds, so this one starts polling at 2 ms.
"""

from __future__ import annotations

import time
from typing import Any, Generic, TypeVar

import structlog
from eventsourcing.application import Application
from eventsourcing.persistence import TrackingRecorder
from eventsourcing.projection import Projection, ProjectionRunner

log = structlog.get_logger()

View = TypeVar("View", bound=TrackingRecorder)


class ReadModel(Generic[View]):
    def __init__(
        self,
        *,
        application_class: type[Application[Any]],
        projection_class: type[Projection[View]],
        view_class: type[View],
        env: dict[str, str],
    ) -> None:
        self.name = projection_class.name
        self._application_name = application_class.name
        self._runner: ProjectionRunner[Any, View] = ProjectionRunner(
            application_class=application_class,
            projection_class=projection_class,
            view_class=view_class,
            env=env,
        )
        self.view: View = self._runner.view

    def healthy(self) -> bool:
        return not self._runner.is_interrupted.is_set()

    def wait(self, position: int | None, timeout: float) -> bool:
        """Wait until the view includes the write at `position`; False (and a log line) if not
        within `timeout`, so that the caller can answer anyway."""
        if position is None:
            return True
        deadline = time.monotonic() + timeout
        pause = 0.002
        while not self.view.has_tracking_id(self._application_name, position):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self.healthy():
                log.warning("projection_lagging", projection=self.name, position=position)
                return False
            time.sleep(min(pause, remaining))
            pause = min(pause * 2, 0.05)
        return True

    def close(self) -> None:
        self._runner.stop()
