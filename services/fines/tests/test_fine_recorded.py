"""FineRecorded (issue 8, SPEC F-4, X-3): a fine that staff record through POST /fines is
announced for the municipal police's worklist; one that a citizen's lookup records is not; a
Recorded event stored before the department was recorded still loads (and is not announced)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from fines_service.application import FinesApplication
from fines_service.domainmodel import FINES_DEPARTMENT, Fine
from fines_service.integration import PUBLIC_EVENTS
from fines_service.register import RegisteredFine

ISSUED_AT = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


class Register:
    """The fines register as far as these tests need it: it has no fine until one is recorded."""

    def lookup(self, fine_number: str, plate: str) -> RegisteredFine | None:
        return None

    def record(self, key: uuid.UUID, **fine: object) -> RegisteredFine:
        return RegisteredFine(**fine, paid=False)  # type: ignore[arg-type]


@pytest.fixture
def fines():
    app = FinesApplication(
        env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, clock=lambda: ISSUED_AT
    )
    yield app
    app.close()


def recorded_event(fines: FinesApplication, fine_id: uuid.UUID) -> Fine.Recorded:
    [recorded] = [e for e in fines.events.get(fine_id) if isinstance(e, Fine.Recorded)]
    return recorded


def test_a_fine_recorded_by_a_clerk_is_announced_for_the_municipal_police_x3(fines):
    clerk_id = uuid.uuid4()
    written = fines.register_fine(
        clerk_id=clerk_id,
        fine_type="P-40",
        fine_number="778899",
        plate="ΥΖΑ1234",
        issued_at=ISSUED_AT,
        register=Register(),
        idempotency=None,
    )
    fine_id = uuid.UUID(written.result["fine_id"])
    event = recorded_event(fines, fine_id)

    contract = PUBLIC_EVENTS[Fine.Recorded](event)

    assert contract is not None
    assert (contract.fine_id, contract.fine_number, contract.fine_type) == (
        fine_id,
        "778899",
        "P-40",
    )
    assert contract.department == FINES_DEPARTMENT == "municipal_police"
    assert (contract.amount, contract.recorded_by) == (8000, clerk_id)
    assert contract.description.startswith("Παράνομη στάθμευση")
    assert contract.recorded_at == event.timestamp


def test_a_fine_a_citizen_looked_up_is_not_announced_x3(fines):
    result = fines.lookup(
        user_id=uuid.uuid4(),
        municipality_code="5101",
        fine_type="P-69",
        fine_number="123456",
        plate="ΥΖΑ1234",
        issued_at=ISSUED_AT,
        register=Register(),
    )
    event = recorded_event(fines, result.fine.id)
    assert event.department is None
    assert PUBLIC_EVENTS[Fine.Recorded](event) is None


def test_a_recorded_event_stored_before_departments_loads_and_is_not_announced(fines):
    """Version 1 of Fine.Recorded (before the department) upcasts to department None."""
    fine = Fine(
        municipality_code="5101",
        fine_number="445566",
        plate="ΥΖΑ1234",
        fine_type="P-69",
        description="Στάθμευση",
        issued_at=ISSUED_AT,
        base_amount=3000,
        reference="RF00",
        registered_here=True,
        paid_in_register=False,
        recorded_by=uuid.uuid4(),
        department=FINES_DEPARTMENT,
    )
    (stored,) = [fines.mapper.to_stored_event(e) for e in fine.collect_events()]
    state = fines.mapper.transcoder.decode(stored.state)
    assert (state.pop("class_version"), state.pop("department")) == (2, FINES_DEPARTMENT)
    fines.recorder.insert_events([replace(stored, state=fines.mapper.transcoder.encode(state))])

    loaded = fines.repository.get(fine.id)
    assert (loaded.fine_number, loaded.department) == ("445566", None)
    assert PUBLIC_EVENTS[Fine.Recorded](recorded_event(fines, fine.id)) is None
