"""Batched projections on real PostgreSQL (issue 12 "Batched projections"): a read model applies a
batch of notifications in one view transaction with one tracking update; a batched view rebuilt
from zero equals the live one; one bad event in a batch is still parked on its own, the rest of
the batch applied; read-your-writes and `on_applied` listeners learn of a batch once it is
committed."""

from __future__ import annotations

import sys
import threading
from functools import singledispatchmethod
from pathlib import Path
from typing import Any, ClassVar

import pytest
from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection

sys.path.insert(0, str(Path(__file__).parent))

from portal_events.projections import ReadModel
from portal_events.views import OutsideBatchError, PostgresView
from sample_domain import Parcel, ParcelApplication

pytestmark = pytest.mark.integration

POISON = "poison"  # refused by the view's table (a CHECK), by PostgreSQL, every time


class ParcelNotesView(PostgresView):
    """One row per parcel: its label and how many notes it has (each note reads the row back
    and writes it again, so a batch must see its own earlier writes)."""

    ddl = (
        "CREATE TABLE IF NOT EXISTS {table} (parcel_id uuid PRIMARY KEY, "
        "label text NOT NULL CHECK (label <> 'poison'), notes integer NOT NULL, "
        "last_note text)",
    )
    tracked: ClassVar[list[int]] = []  # every position recorded in the tracking table, in order

    def _insert_tracking(self, cursor: Any, tracking: Tracking) -> None:
        if tracking.application_name == ParcelApplication.name:
            type(self).tracked.append(tracking.notification_id)
        super()._insert_tracking(cursor, tracking)

    def add(self, parcel_id: Any, label: str, tracking: Tracking) -> None:
        self.write(
            "INSERT INTO {table} VALUES (%(id)s, %(label)s, 0, NULL)",
            {"id": parcel_id, "label": label},
            tracking,
        )

    def note(self, parcel_id: Any, text: str, tracking: Tracking) -> None:
        (row,) = self.select(
            "SELECT notes FROM {table} WHERE parcel_id = %(id)s", {"id": parcel_id}
        )
        self.write(
            "UPDATE {table} SET notes = %(notes)s, last_note = %(text)s WHERE parcel_id = %(id)s",
            {"id": parcel_id, "notes": row["notes"] + 1, "text": text},
            tracking,
        )

    def rows(self) -> list[dict[str, Any]]:
        return self.select("SELECT label, notes, last_note FROM {table} ORDER BY label", {})


class ParcelNotesProjection(Projection[ParcelNotesView]):
    name = "parcel_notes"
    topics = (Parcel.Registered.TOPIC, Parcel.Noted.TOPIC)

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.insert_tracking(tracking)

    @process_event.register(Parcel.Registered)
    def _registered(self, event: Any, tracking: Tracking) -> None:
        self.view.add(event.originator_id, event.label, tracking)

    @process_event.register(Parcel.Noted)
    def _noted(self, event: Any, tracking: Tracking) -> None:
        self.view.note(event.originator_id, event.text, tracking)


class RebuiltParcelNotesProjection(ParcelNotesProjection):
    name = "parcel_notes_rebuilt"  # tables of its own: rebuilt from zero


@pytest.fixture
def parcels(infra, fresh_database):
    env = infra.pg_env(fresh_database("batched"))
    app = ParcelApplication(env=env)
    models: list[ReadModel] = []
    ParcelNotesView.tracked.clear()

    def read_model(projection_class=ParcelNotesProjection, **options) -> ReadModel:
        options = {"poll_seconds": 0.2, "attempt_backoff_seconds": 0.01, **options}
        model = ReadModel(app, projection_class, ParcelNotesView, **options)
        models.append(model)
        return model

    yield app, read_model
    for model in models:
        model.close()
    app.close()


def _parcel(label: str, notes: int) -> Parcel:
    parcel = Parcel(label=label)
    for number in range(notes):
        parcel.note(f"{label} note {number}")
    return parcel


def test_a_backlog_is_applied_one_tracking_update_per_batch_and_woken_after_commit(parcels):
    """Issue 12: 30 parcels of 4 events each (120) waiting in the log, batches of 50: three
    transactions, each recording its last position once; the listeners are called once the
    batch is committed (its position is visible from another connection)."""
    app, read_model = parcels
    head = app.save(*(_parcel(f"parcel-{n:02}", notes=3) for n in range(30)))[-1].notification.id
    assert head == 120

    model = read_model(batch_size=50)
    committed_when_told: list[int] = []
    model.on_applied(lambda: committed_when_told.append(model.view.max_tracking_id(app.name) or 0))
    assert model.wait(head, timeout=10)

    assert ParcelNotesView.tracked == [50, 100, 120]
    assert committed_when_told[:3] == [50, 100, 120]
    rows = model.view.rows()
    assert len(rows) == 30
    assert rows[0] == {"label": "parcel-00", "notes": 3, "last_note": "parcel-00 note 2"}
    assert all(row["notes"] == 3 for row in rows)


def test_a_bad_event_in_a_batch_is_parked_alone_and_the_rest_of_the_batch_applied(parcels):
    """Issue 12 (issue 5's parking kept): the poison in the middle of a batch fails it; the batch
    is rolled back and applied event by event, so the poison is parked and every other event of
    the batch applied once; the next batch is one transaction again."""
    app, read_model = parcels
    before = [app.save(_parcel(f"before-{n}", notes=1))[-1].notification.id for n in range(3)]
    poison = app.save(Parcel(label=POISON))[-1].notification.id
    after = [app.save(_parcel(f"after-{n}", notes=1))[-1].notification.id for n in range(3)]

    model = read_model(batch_size=100, attempts=2)
    assert model.wait(after[-1], timeout=10)
    assert model.parked_count() == 1
    assert [row["label"] for row in model.view.rows()] == [
        *(f"after-{n}" for n in range(3)),
        *(f"before-{n}" for n in range(3)),
    ]
    assert all(row["notes"] == 1 for row in model.view.rows())
    # Event by event: each event's own position, the poison's recorded with its parking.
    assert before[-1] < poison < after[0]
    assert ParcelNotesView.tracked == list(range(1, after[-1] + 1))

    ParcelNotesView.tracked.clear()
    later = app.save(*(_parcel(f"later-{n}", notes=1) for n in range(3)))[-1].notification.id
    assert model.wait(later, timeout=10)
    assert ParcelNotesView.tracked == [later]


def test_a_batched_view_rebuilt_from_zero_equals_the_live_one(parcels):
    """Issue 12 "A batched projection rebuilt from zero equals the live one": the live view
    follows 8 writers as they commit (batches of whatever arrived), the rebuilt one applies the
    whole log from zero in batches of 7; their rows are the same."""
    app, read_model = parcels
    live = read_model()

    def writer(number: int) -> None:
        for round_ in range(5):
            parcel = _parcel(f"w{number}-r{round_}", notes=2)
            app.save(parcel)
            parcel.note("again")
            app.save(parcel)

    writers = [threading.Thread(target=writer, args=(number,)) for number in range(8)]
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join()
    head = app.recorder.max_notification_id()
    assert head == 8 * 5 * 4
    assert live.wait(head, timeout=10)

    rebuilt = read_model(RebuiltParcelNotesProjection, batch_size=7)
    assert rebuilt.wait(head, timeout=10)
    assert rebuilt.view.table_name == "parcel_notes_rebuilt"
    assert len(live.view.rows()) == 40
    assert rebuilt.view.rows() == live.view.rows()
    assert all(row["notes"] == 3 and row["last_note"] == "again" for row in live.view.rows())


def test_a_view_writing_in_a_transaction_of_its_own_inside_a_batch_is_refused_plainly(parcels):
    """Issue 12: a view's write that opened its own transaction inside a batch would commit apart
    from it; it is refused with an error naming the rule, and nothing of it is committed."""
    app, read_model = parcels
    model = read_model()
    parcel = Parcel(label="alone")
    position = app.save(parcel)[-1].notification.id
    assert model.wait(position, timeout=10)
    view = model.view
    with (
        pytest.raises(OutsideBatchError, match="changing"),
        view.batch(),
        view.datastore.transaction(commit=True) as cursor,
    ):
        cursor.execute(view.sql("UPDATE {table} SET notes = 99"), {})
        view._insert_tracking(cursor, Tracking("elsewhere", 1))
    assert view.rows() == [{"label": "alone", "notes": 0, "last_note": None}]
    assert view.max_tracking_id("elsewhere") is None
