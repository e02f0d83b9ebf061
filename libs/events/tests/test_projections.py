"""Read models on real PostgreSQL: one follower per projection across replicas, standbys take
over, read-your-writes (DESIGN "Read side"; "Scale-out: services are stateless processes");
health from lag and wake-ups that survive a lost NOTIFY (issue 5)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from portal_events.notification_log import listen_statement
from portal_events.projections import ReadModel
from sample_domain import (
    Parcel,
    ParcelApplication,
    ParcelLabels,
    ParcelLabelsProjection,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def replicas(infra, fresh_database):
    """Two processes' worth of one service: two applications and their read models."""
    env = infra.pg_env(fresh_database("projections"))
    apps = [ParcelApplication(env=env), ParcelApplication(env=env)]
    models = [
        ReadModel(app, ParcelLabelsProjection, ParcelLabels, standby_poll_seconds=0.1)
        for app in apps
    ]
    yield apps, models
    for model in models:
        model.close()
    for app in apps:
        app.close()


def _until(check, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not check() and time.monotonic() < deadline:
        time.sleep(0.02)
    return check()


def test_one_replica_follows_the_other_stands_by_and_takes_over(replicas):
    apps, models = replicas
    assert _until(lambda: sum(m.leading for m in models) == 1)
    leader, standby = (models[0], models[1]) if models[0].leading else (models[1], models[0])
    assert leader.healthy() and standby.healthy()
    # Issue 5: a standby reports the figures of the shared view, as the leader does.
    assert leader.health().detail == {**standby.health().detail, "leading": True}

    # Writes through either replica are projected once, and both can wait for them.
    for i, app in enumerate(apps * 3):
        position = app.save(Parcel(label=f"first-{i}"))[-1].notification.id
        assert models[i % 2].wait(position, timeout=5)
    assert standby.view.labels() == {f"first-{i}" for i in range(6)}

    # The leader goes away (its lock goes with its connection); the standby carries on from
    # the recorded position, projecting nothing twice (the labels' primary key would refuse).
    leader.close()
    assert _until(lambda: standby.leading)
    position = apps[0].save(Parcel(label="after-takeover"))[-1].notification.id
    assert standby.wait(position, timeout=5)
    assert "after-takeover" in standby.view.labels()
    assert standby.healthy()


def test_wait_gives_up_after_the_timeout_without_raising(replicas):
    apps, models = replicas
    far_ahead = (apps[0].recorder.max_notification_id() or 0) + 1000
    started = time.monotonic()
    assert models[0].wait(far_ahead, timeout=0.2) is False
    assert time.monotonic() - started < 1.0


def test_the_leader_wakes_a_waiting_write_in_process_and_only_a_standby_polls(replicas):
    """Issue 12 "read-your-writes without polling": a request waiting on the replica that leads
    is woken by its follower when the view commits the position, without one query of the view;
    a standby's view is written by another process, so it polls."""
    apps, models = replicas
    assert _until(lambda: sum(m.leading for m in models) == 1)
    leader, standby = (models[0], models[1]) if models[0].leading else (models[1], models[0])
    polls = {id(leader): 0, id(standby): 0}

    def counting(model):
        has_tracking_id = model.view.has_tracking_id

        def polled(*args):
            polls[id(model)] += 1
            return has_tracking_id(*args)

        return polled

    for model in (leader, standby):
        model.view.has_tracking_id = counting(model)
    for i in range(5):
        position = apps[i % 2].save(Parcel(label=f"woken-{i}"))[-1].notification.id
        assert leader.wait(position, timeout=5)
        assert standby.wait(position, timeout=5)
    assert polls[id(leader)] == 0
    assert polls[id(standby)] > 0
    assert {f"woken-{i}" for i in range(5)} <= leader.view.labels()


@pytest.fixture
def parcels(infra, fresh_database):
    env = infra.pg_env(fresh_database("projections"))
    app = ParcelApplication(env=env)
    models: list[ReadModel] = []

    def read_model(**options) -> ReadModel:
        model = ReadModel(app, ParcelLabelsProjection, ParcelLabels, **options)
        models.append(model)
        return model

    yield app, infra, env["POSTGRES_DBNAME"], read_model
    for model in models:
        model.close()
    app.close()


def test_a_lost_notify_delays_the_view_by_at_most_the_poll_interval(parcels):
    """Issue 5: the read model wakes on NOTIFY and polls as a fallback. The lost notification
    is simulated by committing events without one: the application's recorder is told not to
    send its `NOTIFY` (the library sends it from `_notify_channel`, in the inserting
    transaction), which is what a listener sees when a notification is lost on the way or its
    LISTEN connection is half-open. A listener of the channel proves nothing was sent."""
    app, infra, dbname, read_model = parcels
    poll_seconds = 1.0
    model = read_model(poll_seconds=poll_seconds)
    assert model.wait(app.save(Parcel(label="announced"))[-1].notification.id, timeout=5)

    with infra.connect(dbname) as listener:
        listener.execute(listen_statement(app.recorder))
        app.recorder._notify_channel = lambda cursor: None  # the NOTIFY is lost
        position = app.save(Parcel(label="unannounced"))[-1].notification.id
        assert model.wait(position, timeout=poll_seconds + 1.5)
        assert list(listener.notifies(timeout=0)) == []
    assert model.view.labels() == {"announced", "unannounced"}


def test_health_fails_only_when_the_view_lags_for_longer_than_the_threshold(parcels):
    """Issue 5: health comes from lag (head of the log minus the view's position, and its
    age), not from a thread being alive: no follower at all is fine while nothing waits, and
    not fine once an event has waited longer than the threshold."""
    app, _, _, read_model = parcels
    threshold = 0.3
    stopped = read_model(lag_threshold_seconds=threshold)
    assert stopped.wait(app.save(Parcel(label="first"))[-1].notification.id, timeout=5)
    stopped.stop()
    assert stopped.health().ok
    assert stopped.health().detail == {
        "lag_events": 0,
        "lag_seconds": 0.0,
        "parked": 0,
        "leading": False,
    }

    app.save(Parcel(label="waiting"))
    assert _until(lambda: not stopped.health().ok, timeout=5)
    detail = stopped.health().detail
    assert detail["lag_events"] == 1
    assert detail["lag_seconds"] > threshold
    assert stopped.lag().events == 1

    follower = read_model(lag_threshold_seconds=threshold)
    assert _until(lambda: follower.health().ok and stopped.health().ok)
    assert follower.lag().events == 0
