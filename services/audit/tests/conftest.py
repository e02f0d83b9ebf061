"""Fixtures of the audit service's tests: a fresh PostgreSQL database per test (the root
`fresh_database` fixture), and stored events shaped as the services' sealers publish them, with
one request's case built of them (SPEC X-1)."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from portal_events.contracts import (
    ProtocolAssignedV1,
    ProtocolRequestedV1,
    RequestRepliedV1,
    StoredEventSealedV1,
)
from portal_events.envelope import event_id_for

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def _stored(value: Any) -> Any:
    """A value as the library's JSON transcoder stores it (UUIDs as `uuid_hex`)."""
    if isinstance(value, uuid.UUID):
        return {"_type_": "uuid_hex", "_data_": value.hex}
    if isinstance(value, dict):
        return {key: _stored(item) for key, item in value.items()}
    return value


def sealed(
    service: str,
    position: int,
    aggregate_id: uuid.UUID,
    version: int,
    topic: str,
    data: dict[str, Any] | None = None,
    *,
    minutes: float = 0,
    actor: dict[str, str] | None = None,
    causation_id: str | None = None,
    correlation_id: str = "corr-1",
) -> StoredEventSealedV1:
    """One stored event as a sealer publishes it: its state exactly as the library stores it
    (data, timestamp, metadata); the chain hash is not what the tests look at."""
    state = json.dumps(
        {
            **_stored(data or {}),
            "timestamp": {
                "_type_": "datetime_iso",
                "_data_": (T0 + timedelta(minutes=minutes)).isoformat(),
            },
            "metadata": {
                "actor": actor or {"id": service, "role": "system"},
                "correlation_id": correlation_id,
                "causation_id": causation_id,
            },
        }
    )
    digest = hashlib.sha256(state.encode()).hexdigest()
    return StoredEventSealedV1(
        service=service,
        position=position,
        aggregate_id=aggregate_id,
        version=version,
        topic=topic,
        state=state,
        state_sha256=digest,
        hash=hashlib.sha256(f"{service}/{position}".encode()).hexdigest(),
    )


CLERK = {"id": "5d6f3a1e-2b4c-4d8e-9f0a-1b2c3d4e5f60", "role": "clerk"}
ANONYMOUS = {"id": "anonymous", "role": "anonymous"}
REQUEST_NUMBER = "2026/000042"
PROTOCOL_NUMBER = "2026/000017"  # also another request's number: human numbers collide


def envelope_id(source: str, subject: uuid.UUID, sequence: int, contract: Any) -> str:
    return str(event_id_for(source, str(subject), sequence, contract))


class RequestCase:
    """An anonymous request replied to, asked for protocol and registered, as the archive gets
    it from requests, protocol, notifications and the audit service itself, with the
    bookkeeping around it that must never join the case, and another request whose number is
    this one's protocol number."""

    def __init__(self) -> None:
        self.request_id = uuid.uuid4()
        self.registration_id = uuid.uuid4()
        self.notification_id = uuid.uuid4()
        self.other_request_id = uuid.uuid4()
        self.counter_id = uuid.uuid4()
        self.idempotency_id = uuid.uuid4()
        self.read_id = uuid.uuid4()
        self.t0 = T0
        self.clerk = CLERK
        rid = self.request_id
        asked = envelope_id("requests", rid, 3, ProtocolRequestedV1)
        assigned = envelope_id("protocol", self.registration_id, 3, ProtocolAssignedV1)
        replied = envelope_id("requests", rid, 2, RequestRepliedV1)
        self.requests = [
            sealed("requests", 1, self.counter_id, 1, "requests:YearCounter.Issued", {}),
            sealed(
                "requests",
                2,
                rid,
                1,
                "requests:Request.Created",
                {"number": REQUEST_NUMBER, "subject": "Θόρυβος", "submitted_by": None},
                actor=ANONYMOUS,
            ),
            sealed(
                "requests",
                3,
                self.idempotency_id,
                1,
                "portal:IdempotencyRecord.Recorded",
                {"owner": "anonymous", "result": {"id": str(rid)}},
                actor=ANONYMOUS,
            ),
            sealed(
                "requests",
                4,
                self.other_request_id,
                1,
                "requests:Request.Created",
                {"number": PROTOCOL_NUMBER, "subject": "Άλλο"},
                minutes=1,
            ),
            sealed(
                "requests",
                5,
                rid,
                2,
                "requests:Request.Replied",
                {"text": "Ενημερώθηκε το συνεργείο.", "number": REQUEST_NUMBER},
                minutes=10,
                actor=CLERK,
                correlation_id="corr-reply",
            ),
            sealed(
                "requests",
                6,
                rid,
                3,
                "requests:Request.ProtocolRequested",
                {"title": f"Αίτημα {REQUEST_NUMBER}"},
                minutes=20,
                actor=CLERK,
                correlation_id="corr-protocol",
            ),
            sealed(
                "requests",
                7,
                rid,
                4,
                "requests:Request.ProtocolAssigned",
                {"number": PROTOCOL_NUMBER, "date": "2026-03-01"},
                minutes=20.02,
                causation_id=assigned,
                correlation_id="corr-protocol",
            ),
        ]
        # The protocol service's clock is behind: its first event claims to precede the
        # request's ProtocolRequested, which caused it.
        self.protocol = [
            sealed(
                "protocol",
                1,
                self.registration_id,
                1,
                "protocol:Registration.Requested",
                {"document_id": rid, "document_type": "request"},
                minutes=19.5,
                causation_id=asked,
                correlation_id="corr-protocol",
            ),
            sealed(
                "protocol",
                2,
                self.registration_id,
                2,
                "protocol:Registration.AttemptFailed",
                {"document_id": rid, "attempt": 1, "reason": "registry down"},
                minutes=19.6,
                correlation_id="corr-protocol",
            ),
            sealed(
                "protocol",
                3,
                self.registration_id,
                3,
                "protocol:Registration.Assigned",
                {"document_id": rid, "protocol_number": PROTOCOL_NUMBER},
                minutes=20.01,
                correlation_id="corr-protocol",
            ),
        ]
        self.notifications = [
            sealed(
                "notifications",
                1,
                self.notification_id,
                1,
                "notifications:Notification.Created",
                {
                    "source": replied,
                    "kind": "request_replied",
                    "params": {"request_id": str(rid), "number": REQUEST_NUMBER},
                    "link": f"/requests/{rid}",
                },
                minutes=10.01,
                causation_id=replied,
                correlation_id="corr-reply",
            ),
        ]
        self.audit = [
            sealed(
                "audit",
                1,
                self.read_id,
                1,
                "audit:AuditorRead.Recorded",
                {"case": str(rid), "kind": "case_history"},
                minutes=30,
            )
        ]

    @property
    def events(self) -> list[StoredEventSealedV1]:
        return self.requests + self.protocol + self.notifications + self.audit

    def case_steps(self) -> list[tuple[str, int]]:
        """(service, position) of the case's events, in causal order."""
        return [
            ("requests", 2),  # Created (anonymous)
            ("requests", 5),  # Replied (clerk)
            ("notifications", 1),  # told the reply (10.01)
            ("requests", 6),  # ProtocolRequested (clerk, 20:00)
            ("protocol", 1),  # Requested: caused by it, though stamped 19:30
            ("protocol", 2),  # AttemptFailed (19:36, after its own version 1)
            ("protocol", 3),  # Assigned
            ("requests", 7),  # ProtocolAssigned, caused by Assigned
        ]


@pytest.fixture
def request_case() -> RequestCase:
    return RequestCase()


@pytest.fixture
def sealed_event():
    """sealed_event(service, position, aggregate_id, version, topic, data, ...) -> the sealer's
    message for one stored event."""
    return sealed


@pytest.fixture
def database(fresh_database):
    return fresh_database("audit")


@pytest.fixture
def pg_env(infra, database):
    return infra.pg_env(database)
