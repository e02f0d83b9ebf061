"""The summaries projection on real PostgreSQL (DESIGN "Read side", issue §8)."""

from __future__ import annotations

import uuid

from eventsourcing.projection import ProjectionRunner
from requests_service.application import RequestsApplication
from requests_service.views import RequestSummaries, RequestSummaryProjection


class RebuiltSummaries(RequestSummaryProjection):
    """Same projection under another name: its own table and tracking table, from zero."""

    name = f"rebuilt_summaries_{uuid.uuid4().hex[:8]}"


def test_projection_rebuilt_from_zero_equals_the_live_one(client, token, settings):
    citizen = {"Authorization": f"Bearer {token('citizen')}"}
    clerk = {"Authorization": f"Bearer {token('clerk', department='technical')}"}
    body = {"kind": "request", "subject": "Φωτισμός", "text": "Σβηστή λάμπα", "category": "roads"}
    rid = client.post("/requests", json=body, headers=citizen).json()["id"]
    client.post(f"/requests/{rid}/status", json={"status": "in_progress"}, headers=clerk)
    client.post(f"/requests/{rid}/protocol", headers=clerk)
    client.post("/requests/anonymous", json={"subject": "Ανώνυμο", "text": "Κείμενο"})

    live = client.app.state.requests
    position = live.app.recorder.max_notification_id()
    live.wait_for_view(position)

    with ProjectionRunner(
        application_class=RequestsApplication,
        projection_class=RebuiltSummaries,
        view_class=RequestSummaries,
        env=settings.eventsourcing_env(),
    ) as runner:
        runner.wait(position, timeout=10)
        rebuilt = runner.view.everything()
    assert rebuilt == live.summaries.everything()
    assert any(row["id"] == uuid.UUID(rid) and row["status"] == "in_progress" for row in rebuilt)
