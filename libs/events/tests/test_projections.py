"""Read models on real PostgreSQL: one follower per projection across replicas, standbys take
over, read-your-writes (DESIGN "Read side"; "Scale-out: services are stateless processes")."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

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
