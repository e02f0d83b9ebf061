"""Read models rebuilt from zero equal the live ones, for every service (SPEC X-1; issue 10
"Replay everything": "A rebuilt read model equals the live one for every service").

Some fresh data first, through the gateway, in identity (a registration, a log-out: the revoked
tokens), requests (a submission replied and moved on), protocol and notifications (the protocol
asked for, the citizen told); the shared stack holds the other services' from the other tests.
Then every service that declares read models has each of them rebuilt beside the live one and
compared with it at one position (`portal_web.rebuild`). The back-office worklist, fed from Kafka
rather than the service's own log, has its own rebuild: tests/test_backoffice_flow.py.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest
from portal_stack.services import load as service_list
from portal_web.rebuild import load_service, rebuild_read_models

pytestmark = pytest.mark.integration

COMPLAINT = {"kind": "complaint", "subject": "Θόρυβος", "text": "Μουσική μετά τα μεσάνυχτα."}


@pytest.fixture
def fresh_data(gateway, new_citizen, clerk_of) -> None:
    citizen = new_citizen()
    submitted = citizen.post("/requests", json=COMPLAINT)
    assert submitted.status_code == 201, submitted.text
    request_id = submitted.json()["id"]
    clerk = clerk_of("citizen_services")
    for path, body in (
        (f"/requests/{request_id}/reply", {"text": "Ενημερώθηκε η δημοτική αστυνομία."}),
        (f"/requests/{request_id}/status", {"status": "in_progress"}),
        (f"/requests/{request_id}/protocol", None),
    ):
        answer = clerk.post(path, json=body)
        assert answer.status_code < 300, (path, answer.text)
    assert citizen.post("/identity/logout").status_code == 204


def database_settings(service, stack):
    return service.settings(
        postgres_host=stack.pg_host,
        postgres_port=stack.pg_port,
        postgres_user=stack.pg_user,
        postgres_password=stack.pg_password,
        postgres_dbname=service.name,
    )


def test_every_services_read_models_rebuilt_from_zero_equal_the_live_ones(stack, fresh_data):
    services = [load_service(p.name) for p in service_list().services if p.name != "backoffice"]
    with_read_models = [service for service in services if service.read_models]
    assert {"identity", "requests", "protocol", "notifications"} <= {
        service.name for service in with_read_models
    }
    replayed = {}
    for service in with_read_models:
        report = io.StringIO()
        outcomes = rebuild_read_models(
            service, database_settings(service, stack), out=report, progress_out=io.StringIO()
        )
        assert [o.projection for o in outcomes] == [p.name for p, _ in service.read_models]
        assert all(outcome.equal for outcome in outcomes), report.getvalue()
        assert not any(outcome.failures for outcome in outcomes), report.getvalue()
        replayed |= {f"{service.name} {o.projection}": o.events for o in outcomes}
    # The fresh data reached these (and was compared), not only an empty log.
    for read_model in (
        "identity users",
        "identity revoked_tokens",
        "requests request_summaries",
        "protocol pending_registrations_v2",
        "notifications notification_list",
    ):
        assert replayed[read_model] > 0, replayed


def test_the_command_line_shows_its_progress_and_exits_0_when_equal(stack):
    """`python -m portal_web.rebuild SERVICE --projection NAME`, as `make rebuild-read-models`
    runs it, with the service's own environment."""
    env = os.environ | {
        "POSTGRES_HOST": stack.pg_host,
        "POSTGRES_PORT": str(stack.pg_port),
        "POSTGRES_USER": stack.pg_user,
        "POSTGRES_PASSWORD": stack.pg_password,
    }
    env.pop("POSTGRES_DBNAME", None)  # the service's name by default
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "portal_web.rebuild",
            "protocol",
            "--projection",
            "pending_registrations_v2",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "events/s" in result.stderr and "left" in result.stderr  # the progress display
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
    assert result.stdout.startswith("protocol pending_registrations_v2 at position ")
    assert ": equal (" in result.stdout
