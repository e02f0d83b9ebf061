"""The registrar against real PostgreSQL and the real registry simulator (SPEC R-4, C-4)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from portal_events.application import event_name
from portal_events.background import RetryPolicy
from portal_events.projections import ReadModel
from protocol_service.application import EVERYTHING, ProtocolApplication
from protocol_service.domainmodel import id_for
from protocol_service.registrar import HttpRegistryClient, Registrar
from protocol_service.views import PendingRegistrationProjection, PendingRegistrationView

POLICY = RetryPolicy(base_seconds=1, max_seconds=30, jitter=0)


@dataclass
class Service:
    app: ProtocolApplication
    pending_registrations: ReadModel[PendingRegistrationView]
    registrar: Registrar

    def settle(self) -> None:
        """Wait until the pending view has caught up with everything stored so far."""
        head = self.app.recorder.max_notification_id()
        assert self.pending_registrations.wait(head, timeout=5)

    def pending(self) -> list[dict[str, Any]]:
        self.settle()
        rows, _ = self.pending_registrations.view.pending(limit=100)
        return rows

    def request(self, document_id: uuid.UUID) -> None:
        self.app.request_registration(document_id=document_id, document_type="request", title="T")
        self.settle()


@contextmanager
def service(pg_env, registry_url: str, clock=None, timeout: float = 2.0) -> Iterator[Service]:
    app = ProtocolApplication(env=pg_env)
    pending_registrations = ReadModel(app, PendingRegistrationProjection, PendingRegistrationView)
    client = HttpRegistryClient(registry_url, timeout_seconds=timeout)
    options = {"clock": clock} if clock else {}
    view = pending_registrations.view
    registrar = Registrar(app, view, client, POLICY, poll_seconds=0.05, **options)
    try:
        yield Service(app, pending_registrations, registrar)
    finally:
        pending_registrations.close()
        client.close()
        app.close()


def stored_types(app: ProtocolApplication, document_id: uuid.UUID) -> list[str]:
    return [event_name(e) for e in app.repository.event_store.get(id_for(document_id))]


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
        registration = svc.app.registration(document_id, scope=EVERYTHING)
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
        registration = svc.app.registration(document_id, scope=EVERYTHING)
        assert (registration.attempts, registration.last_failure) == (1, "timeout")
        number = registry.get(f"/registrations/{document_id}").json()["protocol_number"]

        registry.put("/control", json={"mode": "up"})
        clock.advance(POLICY.delay(1))
        assert svc.registrar.process_one() is True
        assert svc.app.registration(document_id, scope=EVERYTHING).protocol_number == number
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
        assert svc.app.registration(document_id, scope=EVERYTHING).attempts == 1

    registry.put("/control", json={"mode": "up"})
    with service(pg_env, str(registry.base_url)) as svc:  # a new process, same database
        asyncio.run(_run_until_assigned(svc, document_id, timeout=5))
        assert svc.app.registration(document_id, scope=EVERYTHING).status == "assigned"
        assert svc.pending() == []


async def _run_until_assigned(svc: Service, document_id: uuid.UUID, timeout: float) -> None:
    worker = asyncio.create_task(svc.registrar.run())
    try:
        async with asyncio.timeout(timeout):
            while svc.app.registration(document_id, scope=EVERYTHING).status != "assigned":
                await asyncio.sleep(0.05)
    finally:
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker


def test_shutdown_finishes_the_registration_in_hand_c4(pg_env, registry):
    """SPEC C-4: cancelled while the registry is answering, the registrar records the number
    before it stops, so the service never closes with a number given and not recorded."""
    registry.put("/control", json={"mode": "slow", "delay_seconds": 0.5})
    document_id = uuid.uuid4()
    with service(pg_env, str(registry.base_url)) as svc:
        svc.request(document_id)
        asyncio.run(_cancel_while_in_hand(svc, registry, document_id))
        registration = svc.app.registration(document_id, scope=EVERYTHING)
        given = registry.get(f"/registrations/{document_id}").json()["protocol_number"]
        assert (registration.status, registration.protocol_number) == ("assigned", given)


async def _cancel_while_in_hand(svc: Service, registry: Any, document_id: uuid.UUID) -> None:
    worker = asyncio.create_task(svc.registrar.run())
    async with asyncio.timeout(5):
        # The slow registry records the number at once and answers half a second later.
        while (await asyncio.to_thread(registry.get, f"/registrations/{document_id}")).is_error:
            await asyncio.sleep(0.02)
    worker.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await worker
    assert worker.cancelled()


def test_a_new_registration_wakes_the_idle_registrar_r4(pg_env, registry):
    """issue 5 §3: "ask protocol -> number" has no polling sleep on the way: an idle registrar
    polling only every minute still registers a new document as soon as the pending view has it,
    because the view wakes it."""
    registry.put("/control", json={"mode": "up"})
    with service(pg_env, str(registry.base_url)) as svc:
        svc.registrar.poll_seconds = 60.0
        svc.pending_registrations.on_applied(svc.registrar.wake)
        asyncio.run(_assigned_without_polling(svc))


async def _assigned_without_polling(svc: Service) -> None:
    worker = asyncio.create_task(svc.registrar.run())
    try:
        await asyncio.sleep(0.2)  # every loop has looked once and is now idle for a minute
        document_id = uuid.uuid4()
        await asyncio.to_thread(svc.request, document_id)
        async with asyncio.timeout(10):  # far below the poll interval
            while svc.app.registration(document_id, scope=EVERYTHING).status != "assigned":
                await asyncio.sleep(0.02)
    finally:
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker
