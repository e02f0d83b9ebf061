"""Human numbers per year (issue 8, kit clean-up: requests' and certificates' counters in one
place), on the library's in-memory persistence: a service's counter keeps its own topics and
ids, numbers run on from what is stored, and a counter that was not saved is read again."""

from __future__ import annotations

import uuid
from uuid import UUID

import pytest
from eventsourcing.application import Application
from portal_events import numbering
from portal_events.numbering import YearNumbering, format_number

NAMESPACE = uuid.UUID("5d3e1c2a-7b8f-4e6d-9a0b-1c2d3e4f5a6b")


class YearCounter(numbering.YearCounter):
    TOPIC = "numbering-tests:YearCounter"

    class Created(numbering.YearCounter.Created):
        TOPIC = "numbering-tests:YearCounter.Created"

    class Issued(numbering.YearCounter.Issued):
        TOPIC = "numbering-tests:YearCounter.Issued"

    @staticmethod
    def create_id(year: int) -> UUID:
        return uuid.uuid5(NAMESPACE, f"tests/number/{year}")


@pytest.fixture
def app():
    application = Application(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    yield application
    application.close()


def test_numbers_are_sequential_per_year_and_formatted_with_six_digits():
    counter = YearCounter(2026)
    assert [counter.issue() for _ in range(3)] == ["2026/000001", "2026/000002", "2026/000003"]
    assert counter.id == YearCounter.create_id(2026) != YearCounter.create_id(2027)
    assert format_number(2027, 1234567) == "2027/1234567"


def test_a_services_counter_stores_its_own_topics(app):
    counter = YearCounter(2026)
    counter.issue()
    app.save(counter)
    topics = [stored.topic for stored in app.recorder.select_events(counter.id)]
    assert topics == ["numbering-tests:YearCounter.Created", "numbering-tests:YearCounter.Issued"]


def test_numbering_goes_on_from_the_stored_counter_and_keeps_only_saved_ones(app):
    stored = YearCounter(2026)
    stored.issue()
    app.save(stored)

    first = YearNumbering(YearCounter, app.repository)
    counter = first.counter(2026)
    assert counter.next_number() == "2026/000002"
    assert counter.issue() == "2026/000002"
    app.save(counter)
    first.saved(counter)
    assert first.counter(2026) is counter  # kept in memory: no read
    assert first.counter(2026) is not counter  # taken, not given back: read again
    first.saved(counter)
    first.forget(2026)  # a batch that did not save it: read again
    assert first.counter(2026) is not counter

    # Another replica's numbering reads what this one saved.
    second = YearNumbering(YearCounter, app.repository)
    assert second.counter(2026).issue() == "2026/000003"
    assert second.counter(2027).issue() == "2027/000001"
