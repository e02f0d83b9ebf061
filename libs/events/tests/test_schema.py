"""Replicas starting at once create their tables without failing (DESIGN "Scale-out")."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from portal_events.projections import ReadModel
from portal_events.schema import creating_tables
from sample_domain import ParcelApplication, ParcelLabels, ParcelLabelsProjection

pytestmark = pytest.mark.integration


def test_four_replicas_constructed_at_once_on_an_empty_database_all_start(infra, fresh_database):
    env = infra.pg_env(fresh_database("schema_race"))
    start = threading.Barrier(4)
    started, failed = [], []

    def replica() -> None:
        start.wait()
        try:
            app = creating_tables(lambda: ParcelApplication(env=env))
            model = ReadModel(app, ParcelLabelsProjection, ParcelLabels)
            started.append((app, model))
        except Exception as exc:  # the assertion below shows what went wrong
            failed.append(repr(exc))

    threads = [threading.Thread(target=replica) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for app, model in started:
        model.close()
        app.close()
    assert failed == []
    assert len(started) == 4
