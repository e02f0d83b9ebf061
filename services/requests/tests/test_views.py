"""The summaries read model on real PostgreSQL (DESIGN "Read side", issue 5 §2 views)."""

from __future__ import annotations

import uuid

from eventsourcing.projection import ProjectionRunner
from requests_service.application import RequestsApplication
from requests_service.views import RequestSummaryProjection, RequestSummaryView


class RebuiltSummaries(RequestSummaryProjection):
    """Same projection under another name: its own table and tracking table, from zero."""

    name = f"rebuilt_summaries_{uuid.uuid4().hex[:8]}"


def index_names(view: RequestSummaryView) -> set[str]:
    rows = view.select(
        "SELECT indexname FROM pg_indexes WHERE tablename = %(table)s",
        {"table": view.table_name},
    )
    return {row["indexname"] for row in rows}


def test_projection_rebuilt_from_zero_equals_the_live_one(client, token, settings):
    citizen = {"Authorization": f"Bearer {token('citizen')}"}
    clerk = {"Authorization": f"Bearer {token('clerk', department='technical')}"}
    body = {"kind": "request", "subject": "Φωτισμός", "text": "Σβηστή λάμπα", "category": "roads"}
    rid = client.post("/requests", json=body, headers=citizen).json()["id"]
    client.post(f"/requests/{rid}/status", json={"status": "in_progress"}, headers=clerk)
    client.post(f"/requests/{rid}/protocol", headers=clerk)
    client.post("/requests/anonymous", json={"subject": "Ανώνυμο", "text": "Κείμενο"})

    runtime = client.app.state.runtime
    position = runtime.application.recorder.max_notification_id()
    runtime.settle(RequestSummaryView, position)
    live = runtime.read_model(RequestSummaryView).view

    with ProjectionRunner(
        application_class=RequestsApplication,
        projection_class=RebuiltSummaries,
        view_class=RequestSummaryView,
        env=settings.eventsourcing_env(),
    ) as runner:
        runner.wait(position, timeout=10)
        rebuilt = runner.view.everything()
        rebuilt_indexes = index_names(runner.view)
    assert rebuilt == live.everything()
    assert any(row["id"] == uuid.UUID(rid) and row["status"] == "in_progress" for row in rebuilt)
    # Each table has its own indexes, named after it.
    assert {f"{RebuiltSummaries.name}_owner", f"{RebuiltSummaries.name}_inbox"} <= rebuilt_indexes
    assert {"request_summaries_owner", "request_summaries_inbox"} <= index_names(live)
