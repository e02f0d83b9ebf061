"""The backoffice service's Application: the worklist and its clock (SPEC X-3).

The backoffice records no events of its own: its state is the worklist, built only from the
other services' public events (`integration`) into PostgreSQL tables beside the library's
(`views.WorklistView`). The eventsourcing Application is kept as in every service: it owns the
database connection pool, and the kit builds every service around one.

`clock` is the service's "now": the default moment at which "overdue" and ages are computed
(`as_of` overrides it per call); unit tests inject their own.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from portal_events.application import ServiceApplication

from backoffice_service.deadlines import Deadlines
from backoffice_service.views import WorklistView


def utc_now() -> datetime:
    return datetime.now(UTC)


class BackofficeApplication(ServiceApplication):
    name = "backoffice"

    def __init__(
        self,
        env: dict[str, str] | None = None,
        *,
        deadlines: Deadlines | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        super().__init__(env=env)
        self.deadlines = deadlines or Deadlines.load(self.env.get("BACKOFFICE_DEADLINES_FILE"))
        self.clock = clock
        self.worklist = WorklistView(self.recorder.datastore, self.deadlines)  # type: ignore[attr-defined]
        self.worklist.create_tables()
        self.worklist.rederive()

    def now(self) -> datetime:
        return self.clock()
