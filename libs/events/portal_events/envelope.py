"""The envelope every Kafka message carries (DESIGN "Between services")."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from portal_events.contracts import Contract, contract_class

if TYPE_CHECKING:
    from aiokafka import AIOKafkaProducer

# Fixed namespace: the same stored event always yields the same event id, so a message the relay
# sends twice (after a crash) is recognisably the same message.
EVENT_ID_NAMESPACE = uuid.UUID("6f9c1d2e-5b7a-4e0c-9a51-3c2f0d8e7b14")


class Envelope(BaseModel):
    model_config = ConfigDict(extra="ignore")

    event_id: uuid.UUID = Field(description="Deterministic: same stored event, same id")
    type: str = Field(description="Contract type, e.g. RequestSubmitted")
    version: int = Field(description="Contract version")
    source: str = Field(description="Producing service")
    subject: str = Field(description="Aggregate id; also the Kafka key")
    sequence: int = Field(description="Version of the aggregate the event belongs to")
    occurred_at: datetime = Field(description="UTC time of the domain event")
    correlation_id: str | None = None
    causation_id: str | None = None
    actor: dict[str, str] | None = Field(None, description="{id, role} of who caused it")
    data: dict[str, Any]

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> Envelope:
        return cls.model_validate_json(raw)

    def contract(self) -> Contract | None:
        """Decode `data` into its contract; None for types this service does not know."""
        cls = contract_class(self.type, self.version)
        return None if cls is None else cls.model_validate(self.data)


def event_id_for(source: str, subject: str, sequence: int, contract: Contract) -> uuid.UUID:
    name = f"{source}/{subject}/{sequence}/{contract.TYPE}/{contract.VERSION}"
    return uuid.uuid5(EVENT_ID_NAMESPACE, name)


def wrap(
    contract: Contract,
    *,
    source: str,
    subject: str,
    sequence: int,
    occurred_at: datetime,
    metadata: dict[str, Any] | None = None,
) -> Envelope:
    metadata = metadata or {}
    return Envelope(
        event_id=event_id_for(source, subject, sequence, contract),
        type=contract.TYPE,
        version=contract.VERSION,
        source=source,
        subject=subject,
        sequence=sequence,
        occurred_at=occurred_at.astimezone(UTC),
        correlation_id=metadata.get("correlation_id"),
        causation_id=metadata.get("causation_id"),
        actor=metadata.get("actor"),
        data=contract.model_dump(mode="json"),
    )


async def send(producer: AIOKafkaProducer, topic: str, envelope: Envelope, *, key: str) -> Any:
    """Hand one envelope to the producer, keyed `key` (what keeps messages in order: one
    partition per key), with its type, version and event id as headers; returns the future of
    its acknowledgement."""
    return await producer.send(
        topic,
        envelope.to_bytes(),
        key=key.encode(),
        headers=[
            ("type", envelope.type.encode()),
            ("version", str(envelope.version).encode()),
            ("event_id", str(envelope.event_id).encode()),
        ],
    )
