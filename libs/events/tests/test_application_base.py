"""The Application base every service builds on (issue 5 §2 "Application base"), on the library's
in-memory persistence: load-or-not-found checks type and scope before replaying, one conflict
policy, and idempotency keys that fingerprint the whole command."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError
from portal_events.application import (
    Contention,
    Idempotency,
    IdempotencyKeyReused,
    ServiceApplication,
    event_name,
)


class Parcel(Aggregate):
    TOPIC = "base-tests:Parcel"

    class Created(Aggregate.Created):
        TOPIC = "base-tests:Parcel.Created"

    @event("Registered", topic="base-tests:Parcel.Registered")
    def __init__(self, owner: str, label: str) -> None:
        self.owner = owner
        self.label = label

    @event("Relabelled", topic="base-tests:Parcel.Relabelled")
    def relabel(self, label: str) -> None:
        self.label = label


class Tally(Aggregate):
    TOPIC = "base-tests:Tally"

    class Created(Aggregate.Created):
        TOPIC = "base-tests:Tally.Created"

    @event("Counted", topic="base-tests:Tally.Counted")
    def count(self) -> None:
        pass


class ParcelNotFound(Exception):
    pass


class Parcels(ServiceApplication):
    name = "parcels"
    env: ClassVar[dict[str, str]] = {
        **ServiceApplication.env,
        "PERSISTENCE_MODULE": "eventsourcing.popo",
    }


@pytest.fixture
def parcels() -> Parcels:
    return Parcels()


def events_read(app: Parcels, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Record every select_events call's arguments."""
    calls: list[dict[str, Any]] = []
    select = app.recorder.select_events

    def spy(originator_id: Any, **kwargs: Any) -> Any:
        calls.append(kwargs)
        return select(originator_id, **kwargs)

    monkeypatch.setattr(app.recorder, "select_events", spy)
    return calls


def test_load_answers_not_found_for_another_type_without_replaying_it(parcels, monkeypatch):
    """issue 5: an id of another aggregate type is refused after reading its first event only."""
    tally = Tally()
    for _ in range(200):
        tally.count()
    parcels.save(tally)
    calls = events_read(parcels, monkeypatch)
    with pytest.raises(ParcelNotFound):
        parcels.load(tally.id, Parcel, not_found=ParcelNotFound)
    assert calls == [{"gt": None, "lte": 1, "desc": False, "limit": None}]


def test_load_checks_the_callers_scope_before_replaying(parcels, monkeypatch):
    parcel = Parcel(owner="maria", label="a")
    parcel.relabel("b")
    parcels.save(parcel)
    calls = events_read(parcels, monkeypatch)
    with pytest.raises(ParcelNotFound):
        parcels.load(
            parcel.id, Parcel, not_found=ParcelNotFound, visible=lambda p: p.owner == "nikos"
        )
    assert len(calls) == 1
    loaded = parcels.load(
        parcel.id, Parcel, not_found=ParcelNotFound, visible=lambda p: p.owner == "maria"
    )
    assert loaded.label == "b"


def test_load_of_an_unknown_id_is_not_found(parcels):
    import uuid

    with pytest.raises(ParcelNotFound):
        parcels.load(uuid.uuid4(), Parcel, not_found=ParcelNotFound)


def test_load_with_history_gives_every_event_with_stable_names(parcels):
    """X-1: histories show events' stable names (from their topics), not class names."""
    parcel = Parcel(owner="maria", label="a")
    parcel.relabel("b")
    parcels.save(parcel)
    loaded, history = parcels.load_with_history(parcel.id, Parcel, not_found=ParcelNotFound)
    assert loaded.label == "b"
    assert [event_name(e) for e in history] == ["Registered", "Relabelled"]


def test_retrying_gives_up_with_contention(parcels):
    attempts = []

    def always_conflicting() -> None:
        attempts.append(1)
        raise IntegrityError("conflict")

    with pytest.raises(Contention):
        parcels.retrying(always_conflicting)
    assert len(attempts) == parcels.max_save_attempts


def test_retrying_returns_once_a_try_succeeds(parcels):
    outcomes = iter([IntegrityError("conflict"), IntegrityError("conflict"), None])

    def flaky() -> str:
        outcome = next(outcomes)
        if outcome is not None:
            raise outcome
        return "saved"

    assert parcels.retrying(flaky) == "saved"


def create_parcel(label: str):
    def create():
        parcel = Parcel(owner="maria", label=label)
        return [parcel], {"id": str(parcel.id)}

    return create


def test_save_once_records_one_result_per_key(parcels):
    """DESIGN "HTTP": a repeat with the same key answers the first result and records nothing."""
    command = {"label": "a", "note": None}
    first = parcels.save_once(Idempotency.of("maria", "key-12345678", command), create_parcel("a"))
    head = parcels.recorder.max_notification_id()
    repeat = parcels.save_once(Idempotency.of("maria", "key-12345678", command), create_parcel("a"))
    assert repeat.result == first.result
    assert first.position is not None and repeat.position is None
    assert parcels.recorder.max_notification_id() == head


def test_save_once_refuses_a_key_reused_for_another_command(parcels):
    """issue 5: the fingerprint covers the whole command, not only some fields."""
    parcels.save_once(
        Idempotency.of("maria", "key-12345678", {"label": "a", "note": "x"}), create_parcel("a")
    )
    with pytest.raises(IdempotencyKeyReused):
        parcels.save_once(
            Idempotency.of("maria", "key-12345678", {"label": "a", "note": "y"}), create_parcel("a")
        )


def test_the_same_key_of_two_callers_does_not_collide(parcels):
    command = {"label": "a"}
    first = parcels.save_once(Idempotency.of("maria", "key-12345678", command), create_parcel("a"))
    other = parcels.save_once(Idempotency.of("nikos", "key-12345678", command), create_parcel("a"))
    assert first.result != other.result


def test_save_without_a_key_always_creates(parcels):
    first = parcels.save_once(None, create_parcel("a"))
    second = parcels.save_once(None, create_parcel("a"))
    assert first.result != second.result


def test_changing_saves_the_change_and_gives_its_position(parcels):
    parcel = Parcel(owner="maria", label="a")
    parcels.save(parcel)
    load = lambda: parcels.load(parcel.id, Parcel, not_found=ParcelNotFound)  # noqa: E731
    written = parcels.changing(load, lambda p: p.relabel("b"))
    assert written.result.label == "b"
    assert written.position == parcels.recorder.max_notification_id()
    assert load().label == "b"


def test_changing_that_records_nothing_has_no_position(parcels):
    parcel = Parcel(owner="maria", label="a")
    parcels.save(parcel)
    load = lambda: parcels.load(parcel.id, Parcel, not_found=ParcelNotFound)  # noqa: E731
    head = parcels.recorder.max_notification_id()
    assert parcels.changing(load, lambda p: None).position is None
    assert parcels.recorder.max_notification_id() == head
