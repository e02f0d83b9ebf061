"""Parked events on real PostgreSQL (issue 5 §1: "a read model never blocks forever on one event").

The poison event is the live bug of issue 5 itself: a label with NUL, which PostgreSQL's text
columns refuse, every time. "The fix" is the projection writing U+FFFD instead (a flag the test
flips, as a deployment would).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from eventsourcing.persistence import Notification, OperationalError

sys.path.insert(0, str(Path(__file__).parent))

from portal_events import parked
from portal_events.parked import ParkedEvents
from portal_events.projections import ReadModel, retry_tracking_name
from sample_domain import Parcel, ParcelApplication, ParcelLabels, ParcelLabelsProjection

pytestmark = pytest.mark.integration

POISON = "a\x00b"
MENDED = "a\ufffdb"


@pytest.fixture
def parcels(infra, fresh_database, monkeypatch):
    """One application and its read model on a new database; the parked-events command is
    pointed at the same server (POSTGRES_*), the database being the SERVICE argument."""
    dbname = fresh_database("parked")
    env = infra.pg_env(dbname)
    for key in ("POSTGRES_HOST", "POSTGRES_PORT", "POSTGRES_USER", "POSTGRES_PASSWORD"):
        monkeypatch.setenv(key, env[key])
    monkeypatch.delenv("POSTGRES_DBNAME", raising=False)
    monkeypatch.delenv("POSTGRES_SCHEMA", raising=False)
    app = ParcelApplication(env=env)
    models: list[ReadModel] = []

    def read_model(projection_class=ParcelLabelsProjection, **options) -> ReadModel:
        options = {"poll_seconds": 0.2, "attempt_backoff_seconds": 0.05, **options}
        model = ReadModel(app, projection_class, ParcelLabels, **options)
        models.append(model)
        return model

    yield app, dbname, read_model
    for model in models:
        model.close()
    app.close()


def _save(app: ParcelApplication, label: str) -> int:
    return app.save(Parcel(label=label))[-1].notification.id


def _until(check, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not check() and time.monotonic() < deadline:
        time.sleep(0.02)
    return check()


def test_a_failing_event_is_parked_and_the_model_goes_on_then_a_retry_applies_it_once(
    parcels, capsys, monkeypatch
):
    """Issue 5: a handler that keeps failing on one event parks it (bounded attempts, position
    moved past it, health shows it) and the model keeps following; `retry` before the fix keeps
    it parked with the new error, `retry` after the fix applies it exactly once."""
    app, dbname, read_model = parcels
    model = read_model()
    _save(app, "before")
    poison = _save(app, POISON)
    assert model.wait(_save(app, "after"), timeout=10)  # not stuck behind the poison
    assert model.wait(_save(app, "later"), timeout=10)
    assert model.view.labels() == {"before", "after", "later"}

    health = model.health()
    assert health.ok  # parked is reported, not failed on
    assert health.detail["parked"] == 1
    assert health.detail["lag_events"] == 0
    assert model.parked_count() == 1

    [event] = parked.list_parked(dbname)
    assert (event.projection, event.notification_id) == ("parcel_labels", poison)
    assert event.topic == Parcel.Registered.TOPIC
    assert "NUL" in event.error
    assert parked.main(["list", dbname]) == 0
    assert f"parcel_labels #{poison}" in capsys.readouterr().out

    # Retried before the fix: applied once more, fails, stays parked with the new error.
    assert parked.main(["retry", dbname]) == 0
    assert "retry requested for 1 parked event(s)" in capsys.readouterr().out
    assert _until(lambda: parked.list_parked(dbname)[0].retry_requested_at is None)
    assert [e.notification_id for e in parked.list_parked(dbname)] == [poison]
    assert model.view.labels() == {"before", "after", "later"}

    # After the fix: applied, and its row goes.
    monkeypatch.setattr(ParcelLabelsProjection, "replaces_nul", True)
    assert parked.request_retry(dbname, projection="parcel_labels", notification_id=poison)
    assert _until(lambda: model.parked_count() == 0)
    assert model.view.labels() == {"before", MENDED, "after", "later"}
    assert model.view.has_tracking_id(retry_tracking_name(app.name, poison), poison)
    assert parked.request_retry(dbname) == 0  # nothing left to retry

    # A crash between applying and removing the row leaves the row with its retry asked for:
    # the model removes it without applying the event again (a second application would be
    # refused by the labels' primary key and leave the row parked with that error).
    _park_again(model, app, poison)
    assert parked.request_retry(dbname, notification_id=poison) == 1
    assert _until(lambda: model.parked_count() == 0)
    assert model.view.labels() == {"before", MENDED, "after", "later"}


def _park_again(model: ReadModel, app: ParcelApplication, notification_id: int) -> None:
    [notification] = app.recorder.select_notifications(notification_id, 1)
    assert isinstance(notification, Notification)
    with model.view.datastore.transaction(commit=True) as cursor:
        ParkedEvents().park(cursor, model.name, notification, "row kept by a crash")


class DatabaseHiccups(ParcelLabelsProjection):
    """Raises what the library raises when the database is unreachable, a few times."""

    name = "parcel_labels"
    failures_left = 0

    def process_event(self, domain_event, tracking) -> None:
        if DatabaseHiccups.failures_left > 0:
            DatabaseHiccups.failures_left -= 1
            raise OperationalError("connection to server was lost")
        super().process_event(domain_event, tracking)


def test_a_database_outage_is_waited_out_and_never_parks(parcels):
    """Issue 5: infrastructure failures (here more of them than the attempts a bad event gets)
    are retried without limit; only failures of the event itself park it."""
    app, _, read_model = parcels
    DatabaseHiccups.failures_left = 5
    model = read_model(DatabaseHiccups, attempts=3, restart_delay_seconds=0.05)
    assert model.wait(_save(app, "through the outage"), timeout=10)
    assert DatabaseHiccups.failures_left == 0
    assert model.view.labels() == {"through the outage"}
    assert model.parked_count() == 0
