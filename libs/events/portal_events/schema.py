"""Creating the service's tables when several replicas start at once.

The eventsourcing library creates its tables (and our views' tables) with `CREATE ... IF NOT
EXISTS` when an Application, a view or a tracking recorder is constructed. Two processes doing
that at the same moment collide in PostgreSQL's catalog ("already exists", "duplicate key ...
pg_type", "tuple concurrently updated"). The loser only has to try again: by then the tables
exist and the statements are no-ops.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

import structlog
from eventsourcing.persistence import IntegrityError, InternalError, ProgrammingError

log = structlog.get_logger()

T = TypeVar("T")

# What a lost race on CREATE ... IF NOT EXISTS looks like, as the library reports it.
DDL_RACE = (IntegrityError, InternalError, ProgrammingError)


def creating_tables(construct: Callable[[], T], attempts: int = 5) -> T:
    """Construct something that creates tables, trying again if a concurrent creation won."""
    for attempt in range(1, attempts + 1):
        try:
            return construct()
        except DDL_RACE as exc:
            if attempt == attempts:
                raise
            log.info("table_creation_raced", attempt=attempt, error=repr(exc)[:200])
            time.sleep(random.uniform(0.05, 0.2))  # noqa: S311 - jitter, not security
    raise AssertionError("unreachable")
