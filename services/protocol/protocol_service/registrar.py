"""The registrar: asks the protocol registry for a number for every registration that is due.

A registration is due when it was just requested or its next attempt time has come (from the
pending read model, so a restart loses nothing). Success records `Assigned`; an outage, a
timeout or a 5xx records `AttemptFailed` with the next attempt after an exponential backoff.
The document id is the idempotency key at the registry, so a retry after a lost answer gets
the number the registry already gave: one document, one number (SPEC C-4).

The registrar is the service's worker (`Registrar.of`, run until cancelled); the registry
client is one of its resources (`HttpRegistryClient.of`, under `REGISTRY`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from uuid import UUID

import httpx
import structlog
from portal_events import context
from portal_events.background import PollingWorker, RetryPolicy
from portal_web.service import Runtime

from protocol_service.application import EVERYTHING, ProtocolApplication
from protocol_service.domainmodel import Registration
from protocol_service.settings import ProtocolSettings
from protocol_service.views import PendingRegistrationView

log = structlog.get_logger()
ACTOR = context.Actor.system("protocol-registrar")
REGISTRY = "registry"
"""The name of the registry client among the service's resources."""


@dataclass(frozen=True)
class Assignment:
    protocol_number: str
    protocol_date: date


class RegistryUnavailable(Exception):
    """The registry did not register the document this time (down, slow, or a server error)."""


class RegistryClient(Protocol):
    """The municipality's protocol registry, as the registrar needs it."""

    def register(self, registration: Registration) -> Assignment:
        """Register the document (idempotent per document id); raise RegistryUnavailable."""
        ...


class HttpRegistryClient:
    """Adapter to the registry's HTTP API (the simulator in deploy/simulators speaks it too)."""

    def __init__(self, base_url: str, timeout_seconds: float = 2.0) -> None:
        self._http = httpx.Client(base_url=base_url, timeout=timeout_seconds)

    def register(self, registration: Registration) -> Assignment:
        body = {"document_type": registration.document_type, "title": registration.title}
        if registration.applicant_id is not None:
            body["applicant_id"] = str(registration.applicant_id)
        try:
            response = self._http.post(
                "/registrations",
                json=body,
                headers={"Idempotency-Key": str(registration.document_id)},
            )
        except httpx.TimeoutException as exc:
            raise RegistryUnavailable("timeout") from exc
        except httpx.HTTPError as exc:
            raise RegistryUnavailable(f"unreachable: {type(exc).__name__}") from exc
        if response.status_code not in (200, 201):
            # 4xx would be our bug, but retrying it (with backoff) is safer than dropping it.
            raise RegistryUnavailable(f"HTTP {response.status_code}")
        data = response.json()
        return Assignment(data["protocol_number"], date.fromisoformat(data["protocol_date"]))

    @classmethod
    def of(cls, runtime: Runtime) -> HttpRegistryClient:
        """The client a running service declares as its `REGISTRY` resource."""
        settings: ProtocolSettings = runtime.settings
        return cls(settings.protocol_registry_url, settings.protocol_registry_timeout_seconds)

    def close(self) -> None:
        self._http.close()


def utc_now() -> datetime:
    return datetime.now(UTC)


class Registrar(PollingWorker):
    """The service's worker: `concurrency` loops, each one registration at a time.

    Cancelled (the service shuts down), each loop first lets the registration in hand finish
    and record its outcome; that takes at most about the registry client's timeout, and the kit
    closes the Application and the client only after. Cancelled again while it waits, the loop
    abandons it, which is safe: nothing was recorded, the row's lock goes with its transaction,
    and the registration stays due, so the next attempt (any replica, or this one after a
    restart) asks the registry again under the same idempotency key and gets the number it may
    already have given.
    """

    name = "registrar"

    def __init__(
        self,
        app: ProtocolApplication,
        view: PendingRegistrationView,
        client: RegistryClient,
        policy: RetryPolicy,
        *,
        poll_seconds: float = 1.0,
        concurrency: int = 4,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        super().__init__(poll_seconds=poll_seconds, concurrency=concurrency)
        self.app = app
        self.view = view
        self.client = client
        self.policy = policy
        self.clock = clock

    @classmethod
    def of(cls, runtime: Runtime) -> Registrar:
        """The registrar of a running service: its Application, the pending view, the
        registry client resource and the settings' backoff and pace."""
        settings: ProtocolSettings = runtime.settings
        pending = runtime.read_model(PendingRegistrationView)
        registrar = cls(
            runtime.application,
            pending.view,
            runtime.resources[REGISTRY],
            RetryPolicy(settings.protocol_retry_base_seconds, settings.protocol_retry_max_seconds),
            poll_seconds=settings.protocol_registrar_poll_seconds,
            concurrency=settings.protocol_registrar_concurrency,
        )
        # A new registration wakes the registrar (SPEC R-4 latency); polling is the fallback,
        # e.g. for retries coming due and for replicas whose view follower is on standby.
        pending.on_applied(registrar.wake)
        return registrar

    def process_one(self) -> bool:
        """Handle one due registration, if any; True when the registry was asked."""
        now = self.clock()
        with self.view.claim_due(now) as row:
            if row is None:
                return False
            with context.bound(correlation_id=row["correlation_id"], actor=ACTOR):
                return self._attempt(row["document_id"], now)

    def _attempt(self, document_id: UUID, now: datetime) -> bool:
        registration = self.app.registration(document_id, scope=EVERYTHING)
        if not registration.is_due(now):
            # The read model lags a moment behind the aggregate (assigned or rescheduled).
            return False
        try:
            assignment = self.client.register(registration)
        except RegistryUnavailable as exc:
            attempt = registration.attempts + 1
            next_at = self.clock() + timedelta(seconds=self.policy.delay(attempt))
            self.app.record_failed_attempt(document_id, str(exc), next_at)
            log.warning(
                "protocol_registration_failed",
                document_id=str(document_id),
                attempt=attempt,
                reason=str(exc),
                next_attempt_at=next_at.isoformat(),
            )
        else:
            self.app.record_assignment(
                document_id, assignment.protocol_number, assignment.protocol_date
            )
            log.info(
                "protocol_assigned",
                document_id=str(document_id),
                protocol_number=assignment.protocol_number,
            )
        return True
