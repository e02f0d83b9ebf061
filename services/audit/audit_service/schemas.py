"""What the audit service's HTTP API answers (SPEC X-1); every field described."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from portal_web import ListPage
from pydantic import BaseModel, Field

CASE_EXAMPLE = "2026/000042"
AGGREGATE_ID_EXAMPLE = "3b9a4c52-1d2e-4f6a-8b7c-9d0e1f2a3b4c"


class Actor(BaseModel):
    id: str = Field(
        description="The user's id, or `anonymous`, or the service that acted on its own "
        "(role `system`)",
        examples=["7c1e0f0a-3f5e-4c57-9a57-2d7f5b1c9e11"],
    )
    role: str = Field(
        description="citizen, business, clerk, auditor, admin, anonymous or system",
        examples=["clerk"],
    )


class HistoryEntry(BaseModel):
    """One stored event of a case (`portal_events.history.entry`)."""

    service: str = Field(description="The service that stored it", examples=["requests"])
    position: int = Field(description="Its position in that service's log", examples=[1042])
    aggregate_type: str = Field(description="What it happened to", examples=["Request"])
    aggregate_id: UUID = Field(description="Its aggregate's id", examples=[AGGREGATE_ID_EXAMPLE])
    version: int = Field(description="The aggregate's version it made", examples=[2])
    name: str = Field(description="The event's stable name", examples=["Replied"])
    topic: str = Field(description="The stored topic", examples=["requests:Request.Replied"])
    occurred_at: datetime | None = Field(description="When it happened (UTC)")
    actor: Actor = Field(description="Who did it")
    correlation_id: str | None = Field(description="The request or flow it was part of")
    causation_id: str | None = Field(
        description="The message (envelope id) whose handling stored it, if any"
    )
    data: dict[str, Any] = Field(description="The event's data (secrets masked)")
    masked: list[str] = Field(description="Which fields of `data` are masked")
    state_sha256: str = Field(description="SHA-256 of the stored state, hex")
    hash: str = Field(description="The event's link in its service's hash chain, hex")


class CaseRootPublic(BaseModel):
    service: str = Field(description="The service owning the case's root", examples=["requests"])
    aggregate_type: str = Field(description="What it is", examples=["Request"])
    aggregate_id: UUID = Field(description="Its id", examples=[AGGREGATE_ID_EXAMPLE])


class CaseHistory(BaseModel):
    case: str = Field(description="The id or human number asked for", examples=[CASE_EXAMPLE])
    root: CaseRootPublic = Field(description="The aggregate the case is about")
    entries: list[HistoryEntry] = Field(
        description="Every event of the case across services, in causal order"
    )


class CaseState(BaseModel):
    """The owning service's answer, passed through."""

    service: str = Field(description="The service that replayed it", examples=["requests"])
    aggregate_id: UUID = Field(description="The case's root", examples=[AGGREGATE_ID_EXAMPLE])
    aggregate_type: str = Field(description="What it is", examples=["Request"])
    version: int = Field(description="The version it had at `at`", examples=[3])
    at: datetime = Field(description="The instant asked for")
    state: dict[str, Any] = Field(description="Its state then (secrets masked)")


class VerificationPublic(BaseModel):
    verified_at: datetime = Field(description="When the verification was recorded")
    position: int = Field(description="The last position it checked", examples=[120_345])
    events: int = Field(description="How many events it checked", examples=[120_345])
    result: Literal["passed", "failed"] = Field(
        description="passed: every event up to `position` holds", examples=["passed"]
    )
    problem: str | None = Field(
        description="Where the chain broke (service, position, aggregate id, version)",
        examples=[None],
    )
    events_per_second: float = Field(description="How fast it checked", examples=[84_000.0])


class CheckpointPublic(BaseModel):
    position: int = Field(description="Every event up to here was sealed", examples=[120_345])
    events: int = Field(description="How many events the chain covers", examples=[120_345])
    head_hash: str = Field(description="The chain's hash at `position`, hex")
    checkpointed_at: datetime = Field(description="When the sealer published it")


class ServiceIntegrity(BaseModel):
    service: str = Field(description="The service", examples=["requests"])
    last_verification: VerificationPublic | None = Field(
        description="The latest verification of the service's chain (null: never verified)"
    )
    last_checkpoint: CheckpointPublic | None = Field(
        description="The latest checkpoint its sealer published (null: none yet)"
    )


class IntegrityReport(BaseModel):
    services: list[ServiceIntegrity] = Field(description="One per service, by name")


class AuditorReadSummary(BaseModel):
    read_id: UUID = Field(description="The read's record", examples=[AGGREGATE_ID_EXAMPLE])
    auditor_id: UUID = Field(description="Who read", examples=[AGGREGATE_ID_EXAMPLE])
    auditor_role: str = Field(description="auditor or admin", examples=["auditor"])
    kind: str = Field(
        description="What was read: case_history, case_state, export, integrity or trail",
        examples=["case_history"],
    )
    case: str | None = Field(description="The case as asked for", examples=[CASE_EXAMPLE])
    case_aggregate_id: UUID | None = Field(
        description="The case's root aggregate, when the case was found"
    )
    query: dict[str, str] = Field(
        description="The read's other parameters", examples=[{"at": "2026-03-01T10:00:00+02:00"}]
    )
    read_at: datetime = Field(description="When it was read")


class AuditorReadSummaryPage(ListPage[AuditorReadSummary]):
    pass
