"""Who is acting and why: the correlation id, causation id and actor of the current unit of work.

Set once at the edge (HTTP middleware, Kafka consumer), read wherever events are stored or
published and by every log line (the values are bound into structlog's context too).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass

import structlog


@dataclass(frozen=True)
class Actor:
    """The user (id and role) on whose behalf a change happens, or `anonymous` / `system`."""

    id: str
    role: str

    @classmethod
    def anonymous(cls) -> Actor:
        return cls(id="anonymous", role="anonymous")

    @classmethod
    def system(cls, name: str = "system") -> Actor:
        return cls(id=name, role="system")


_correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)
_causation_id: ContextVar[str | None] = ContextVar("causation_id", default=None)
_actor: ContextVar[Actor | None] = ContextVar("actor", default=None)


def new_correlation_id() -> str:
    return str(uuid.uuid4())


def correlation_id() -> str | None:
    return _correlation_id.get()


def causation_id() -> str | None:
    return _causation_id.get()


def actor() -> Actor:
    return _actor.get() or Actor.system()


def set_actor(value: Actor) -> None:
    """Set the actor for the rest of the current context (e.g. from a verified token)."""
    _actor.set(value)
    structlog.contextvars.bind_contextvars(actor_id=value.id, actor_role=value.role)


@contextmanager
def bound(
    *,
    correlation_id: str | None = None,
    causation_id: str | None = None,
    actor: Actor | None = None,
) -> Iterator[None]:
    """Bind correlation, causation and actor for the duration of a block (and into the logs)."""
    corr = correlation_id or new_correlation_id()
    tokens = [
        (_correlation_id, _correlation_id.set(corr)),
        (_causation_id, _causation_id.set(causation_id)),
    ]
    log_values: dict[str, str | None] = {"correlation_id": corr, "causation_id": causation_id}
    if actor is not None:
        tokens.append((_actor, _actor.set(actor)))
        log_values |= {"actor_id": actor.id, "actor_role": actor.role}
    with structlog.contextvars.bound_contextvars(**log_values):
        try:
            yield
        finally:
            for var, token in reversed(tokens):
                var.reset(token)


def current_metadata() -> dict[str, object]:
    """The metadata stamped on every stored event: actor, correlation id, causation id."""
    return {
        "actor": asdict(actor()),
        "correlation_id": _correlation_id.get(),
        "causation_id": _causation_id.get(),
    }
