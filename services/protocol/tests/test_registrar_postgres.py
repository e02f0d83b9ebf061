"""The registrar against real PostgreSQL and the real registry simulator (SPEC R-4, C-4)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from eventsourcing.projection import ProjectionRunner
from protocol_service.application import ProtocolApplication
from protocol_service.domainmodel import id_for
from protocol_service.registrar import HttpRegistryClient, Registrar, RetryPolicy
from protocol_service.views import PendingRegistrationsProjection, PendingRegistrationsView

POLICY = RetryPolicy(base_seconds=1, max_seconds=30, jitter=0)


@dataclass
class Service:
    app: ProtocolApplication
    runner: ProjectionRunner[Any, PendingRegistrationsView]
    registrar: Registrar

    def settle(self) -> None:
        """Wait until the pending view has caught up with everything stored so far."""
        self.runner.wait(self.app.recorder.max_notification_id(), timeout=5)

    def pending(self) -> list[dict[str, Any]]:
        self.settle()
        return self.runner.view.list_pending()

    def request(self, document_id: uuid.UUID) -> None:
        self.app.request_registration(document_id=document_id, document_type="request", title="T")
        self.settle()


@contextmanager
def service(pg_env, registry_url: str, clock=None, timeout: float = 2.0) -> Iterator[Service]:
    app = ProtocolApplication(env=pg_env)
    runner = ProjectionRunner(
        application_class=ProtocolApplication,
        projection_class=PendingRegistrationsProjection,
        view_class=PendingRegistrationsView,
        env=pg_env,
    )
    client = HttpRegistryClient(registry_url, timeout_seconds=timeout)
    options = {"clock": clock} if clock else {}
    registrar = Registrar(app, runner.view, client, POLICY, poll_seconds=0.05, **options)
    with runner:
        try:
            yield Service(app, runner, registrar)
        finally:
            client.close()
            app.close()


def stored_types(app: ProtocolApplication, document_id: uuid.UUID) -> list[str]:
    return [type(e).__name__ for e in app.repository.event_store.get(id_for(document_id))]


def test_outage_records_a_failed_attempt_then_assigns_exactly_once_c4(pg_env, registry, clock):
    registry.put("/control", json={"mode": "down"})
    document_id = uuid.uuid4()
    with service(pg_env, str(registry.base_url), clock) as svc:
        svc.request(document_id)
        assert [row["document_id"] for row in svc.pending()] == [document_id]

        assert svc.registrar.process_one() is True
        (row,) = svc.pending()
        assert (row["attempts"], row["last_failure"]) == (1, "HTTP 503")
        assert svc.registrar.process_one() is False  # not due before the backoff has passed

        registry.put("/control", json={"mode": "up"})
        clock.advance(POLICY.delay(1))
        assert svc.registrar.process_one() is True
        registration = svc.app.registration(document_id)
        assert registration.status == "assigned"
        assert svc.pending() == []
        assert svc.registrar.process_one() is False

        expected = registry.get(f"/registrations/{document_id}").json()
        assert registration.protocol_number == expected["protocol_number"]
        assert stored_types(svc.app, document_id) == ["Requested", "AttemptFailed", "Assigned"]


def test_lost_answer_retry_gets_the_same_number_c4(pg_env, registry, clock):
    # The registry registers, then answers after the registrar gave up waiting.
    registry.put("/control", json={"mode": "slow", "delay_seconds": 1.0})
    document_id = uuid.uuid4()
    with service(pg_env, str(registry.base_url), clock, timeout=0.3) as svc:
        svc.request(document_id)
        assert svc.registrar.process_one() is True
        registration = svc.app.registration(document_id)
        assert (registration.attempts, registration.last_failure) == (1, "timeout")
        number = registry.get(f"/registrations/{document_id}").json()["protocol_number"]

        registry.put("/control", json={"mode": "up"})
        clock.advance(POLICY.delay(1))
        assert svc.registrar.process_one() is True
        assert svc.app.registration(document_id).protocol_number == number
        assert stored_types(svc.app, document_id).count("Assigned") == 1


def test_duplicate_request_registers_once_r4(pg_env, registry):
    document_id = uuid.uuid4()
    with service(pg_env, str(registry.base_url)) as svc:
        svc.request(document_id)
        svc.request(document_id)
        assert len(svc.pending()) == 1
        assert stored_types(svc.app, document_id) == ["Requested"]


def test_pending_registration_survives_a_restart_c4(pg_env, registry):
    registry.put("/control", json={"mode": "down"})
    document_id = uuid.uuid4()
    with service(pg_env, str(registry.base_url)) as svc:
        svc.request(document_id)
        assert svc.registrar.process_one() is True
        assert svc.app.registration(document_id).attempts == 1

    registry.put("/control", json={"mode": "up"})
    with service(pg_env, str(registry.base_url)) as svc:  # a new process, same database
        asyncio.run(_run_until_assigned(svc, document_id, timeout=5))
        assert svc.app.registration(document_id).status == "assigned"
        assert svc.pending() == []


async def _run_until_assigned(svc: Service, document_id: uuid.UUID, timeout: float) -> None:
    stop = asyncio.Event()
    worker = asyncio.create_task(svc.registrar.run(stop))
    try:
        async with asyncio.timeout(timeout):
            while svc.app.registration(document_id).status != "assigned":
                await asyncio.sleep(0.05)
    finally:
        stop.set()
        await worker
