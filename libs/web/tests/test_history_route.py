"""The kit's history route (SPEC X-1, issue 10 "the state at any moment"): every service replays
its own aggregates up to an instant for auditors and admins, on the real PostgreSQL. A minimal
service built from the kit alone (as in test_service_kit.py) keeps ledgers whose attributes
cover what the answer must make plain: ids, times, amounts, enums, sets, nested dataclasses, and
a secret."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

import pytest
from eventsourcing.domain import Aggregate, event
from fastapi import APIRouter, Depends
from fastapi.testclient import TestClient
from portal_events.application import ServiceApplication
from portal_web.service import Service, application_of
from portal_web.settings import ServiceSettings


class Colour(enum.Enum):
    GREEN = "green"
    AMBER = "amber"


@dataclass(frozen=True)
class Address:
    street: str
    since: date


class Ledger(Aggregate):
    TOPIC = "history-test:Ledger"

    class Created(Aggregate.Created):
        TOPIC = "history-test:Ledger.Created"

    @event("Opened", topic="history-test:Ledger.Opened")
    def __init__(self, owner: UUID, balance: Decimal, password_hash: str) -> None:
        self.owner = owner
        self.balance = balance
        self.password_hash = password_hash
        self.colour = Colour.GREEN
        self.tags: set[str] = {"b", "a"}
        self.address = Address("Ερμού 10", date(2020, 1, 2))
        self.entries: tuple[str, ...] = ()

    @event("Credited", topic="history-test:Ledger.Credited")
    def credit(self, amount: Decimal, note: str) -> None:
        self.balance += amount
        self.colour = Colour.AMBER
        self.entries = (*self.entries, note)


class LedgersApplication(ServiceApplication):
    name = "ledgers"

    def open(self, owner: UUID) -> UUID:
        ledger = Ledger(owner, Decimal("10.50"), "argon2$secret")
        self.save(ledger)
        return ledger.id

    def credit(self, ledger_id: UUID, amount: Decimal, note: str) -> None:
        ledger = self.repository.get(ledger_id)
        ledger.credit(amount, note)
        self.save(ledger)


router = APIRouter(prefix="/ledgers")
Ledgers = Annotated[LedgersApplication, Depends(application_of)]


@router.post("", status_code=201)
def open_ledger(ledgers: Ledgers) -> dict[str, Any]:
    return {"id": str(ledgers.open(uuid.uuid4()))}


@router.post("/{ledger_id}/credit")
def credit(ledger_id: UUID, ledgers: Ledgers) -> None:
    ledgers.credit(ledger_id, Decimal("0.25"), "τόκοι")


@pytest.fixture
def client(infra, fresh_database, token_verifier):
    settings = ServiceSettings(
        postgres_host=infra.pg_host,
        postgres_port=infra.pg_port,
        postgres_user=infra.pg_user,
        postgres_password=infra.pg_password,
        postgres_dbname=fresh_database("history"),
        kafka_enabled=False,
        log_format="console",
    )
    service = Service(
        name="ledgers",
        title="Ledgers",
        description="A service made of the kit alone",
        settings=ServiceSettings,
        application=LedgersApplication,
        routers=[router],
    )
    with TestClient(service.create_app(settings, token_verifier=token_verifier)) as client:
        yield client


def state_at(client: TestClient, ledger_id: str, at: datetime, role: str, token) -> Any:
    return client.get(
        f"/ledgers/history/aggregates/{ledger_id}/state",
        params={"at": at.isoformat()},
        headers={"Authorization": f"Bearer {token(role)}"},
    )


def test_an_auditor_sees_an_aggregate_as_it_was_before_and_after_a_change(client, token):
    """SPEC X-1: the state at a moment, replayed up to it, with the version it had then."""
    ledger_id = client.post("/ledgers").json()["id"]
    client.post(f"/ledgers/{ledger_id}/credit")

    after = state_at(client, ledger_id, datetime.now(UTC), "admin", token)
    assert after.status_code == 200, after.text
    assert after.json()["version"] == 2
    changed = after.json()["state"]
    assert (changed["balance"], changed["colour"], changed["entries"]) == (
        "10.75",
        "amber",
        ["τόκοι"],
    )
    assert changed["modified_on"] > changed["created_on"]
    assert changed["password_hash"] == "[masked]"

    # The instant it was opened: the credit came after it.
    opened = datetime.fromisoformat(changed["created_on"])
    before = state_at(client, ledger_id, opened, "auditor", token)
    assert before.status_code == 200, before.text
    body = before.json()
    assert body.pop("state") == {
        "owner": changed["owner"],
        "balance": "10.50",
        "password_hash": "[masked]",
        "colour": "green",
        "tags": ["a", "b"],
        "address": {"street": "Ερμού 10", "since": "2020-01-02"},
        "entries": [],
        "created_on": changed["created_on"],
        "modified_on": changed["created_on"],
    }
    assert datetime.fromisoformat(body.pop("at")) == opened
    assert body == {
        "service": "ledgers",
        "aggregate_id": ledger_id,
        "aggregate_type": "Ledger",
        "version": 1,
    }
    assert str(UUID(changed["owner"])) == changed["owner"]


def test_no_event_at_or_before_the_instant_is_a_404(client, token):
    """SPEC X-1: before the aggregate existed, or an id that is none of this service's."""
    ledger_id = client.post("/ledgers").json()["id"]
    for aggregate_id, at in (
        (ledger_id, datetime(2000, 1, 1, tzinfo=UTC)),
        (str(uuid.uuid4()), datetime.now(UTC)),
    ):
        answer = state_at(client, aggregate_id, at, "auditor", token)
        assert answer.status_code == 404, answer.text
        assert answer.json()["code"] == "not_found"


def test_an_instant_without_a_time_zone_or_not_a_time_is_a_422(client, token):
    ledger_id = client.post("/ledgers").json()["id"]
    headers = {"Authorization": f"Bearer {token('auditor')}"}
    for at in ("2026-03-01T10:00:00", "yesterday"):
        answer = client.get(
            f"/ledgers/history/aggregates/{ledger_id}/state", params={"at": at}, headers=headers
        )
        assert answer.status_code == 422, answer.text
        assert answer.json()["code"] == "invalid_input"


def test_only_auditors_and_admins_may_replay(client, token):
    """issue 10: a citizen or clerk -> 403; without a token, 401."""
    ledger_id = client.post("/ledgers").json()["id"]
    now = datetime.now(UTC)
    for role in ("citizen", "clerk", "business"):
        answer = state_at(client, ledger_id, now, role, token)
        assert answer.status_code == 403, (role, answer.text)
        assert answer.json()["code"] == "forbidden"
    anonymous = client.get(
        f"/ledgers/history/aggregates/{ledger_id}/state", params={"at": now.isoformat()}
    )
    assert anonymous.status_code == 401
