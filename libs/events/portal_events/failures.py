"""Which failures are the infrastructure's rather than the message's or the event's.

Consumers and read models sort failures by what trying again can do for them (issue 5 §1): a
database or broker that is away is waited out without limit; anything else is the event's or the
message's own problem, given a few tries and then set aside (dead-lettered or parked).
"""

from __future__ import annotations

import eventsourcing.persistence
import psycopg
from aiokafka.errors import KafkaError

INFRASTRUCTURE_ERRORS: tuple[type[BaseException], ...] = (
    psycopg.OperationalError,  # connection lost or refused, admin shutdown, pool timeout, ...
    psycopg.InterfaceError,
    eventsourcing.persistence.OperationalError,  # the library's wrappers of the same
    eventsourcing.persistence.InterfaceError,
    OSError,  # ConnectionError (refused, reset, broken pipe), TimeoutError
    KafkaError,
)


def is_infrastructure_failure(
    error: BaseException, extra: tuple[type[BaseException], ...] = ()
) -> bool:
    """True if `error`, or an error it was raised from, says a dependency is unavailable."""
    kinds = INFRASTRUCTURE_ERRORS + extra
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, kinds):
            return True
        seen.add(id(current))
        current = current.__cause__
    return False
