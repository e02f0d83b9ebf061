"""The composition root (issue 5 §2): a minimal service built from the kit alone, on the real
PostgreSQL and Kafka. It stores parcels, lists them from a read model, publishes each new parcel
through the outbox relay and consumes its own public events (a loop through Kafka), answers a
domain error from its error table, and reports its components in health."""

from __future__ import annotations

import asyncio
import functools
import time
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

import pytest
from aiokafka import AIOKafkaProducer
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection
from fastapi import APIRouter, Depends
from fastapi.testclient import TestClient
from portal_events.application import Idempotency, ServiceApplication
from portal_events.contracts import (
    Contract,
    RequestSubmittedV1,
    UserDisabledV1,
    UserEnabledV1,
)
from portal_events.envelope import wrap
from portal_events.projections import ReadModel
from portal_events.sealer import Sealer
from portal_events.topics import IDENTITY_USER_EVENTS, TEST_EVENTS
from portal_events.views import PostgresView
from portal_web import CurrentPrincipal, HttpError, IdempotencyKey, ListPage, PagingParams, text
from portal_web import service as service_module
from portal_web.service import Runtime, Service, application_of, read_model_of
from portal_web.settings import ServiceSettings
from pydantic import BaseModel


class Parcel(Aggregate):
    TOPIC = "kit-test:Parcel"

    class Created(Aggregate.Created):
        TOPIC = "kit-test:Parcel.Created"

    @event("Registered", topic="kit-test:Parcel.Registered")
    def __init__(self, owner: UUID, label: str) -> None:
        self.owner = owner
        self.label = label
        self.seen_on_kafka = False

    @event("SeenOnKafka", topic="kit-test:Parcel.SeenOnKafka")
    def mark_seen(self) -> None:
        self.seen_on_kafka = True


class ParcelNotFound(Exception):
    pass


class ParcelsApplication(ServiceApplication):
    name = "parcels"

    def register(self, owner: UUID, label: str, key: str | None) -> dict[str, Any]:
        def create():
            parcel = Parcel(owner, label)
            return [parcel], {"id": str(parcel.id)}

        written = self.save_once(Idempotency.of(owner, key, {"label": label}), create)
        return {**written.result, "position": written.position}

    def parcel(self, parcel_id: UUID, owner: UUID) -> Parcel:
        return self.load(
            parcel_id, Parcel, not_found=ParcelNotFound, visible=lambda p: p.owner == owner
        )

    def mark_seen(self, parcel_id: UUID) -> None:
        """Idempotent; other tests' messages on the scratch topic name no parcel of ours."""

        def attempt() -> None:
            try:
                parcel = self.load(parcel_id, Parcel, not_found=ParcelNotFound)
            except ParcelNotFound:
                return
            if not parcel.seen_on_kafka:
                parcel.mark_seen()
                self.save(parcel)

        self.retrying(attempt)


class ParcelView(PostgresView):
    ddl = ("CREATE TABLE IF NOT EXISTS {table} (id uuid PRIMARY KEY, owner uuid, label text)",)

    def add(self, row: dict[str, Any], tracking: Tracking) -> None:
        self.write(
            "INSERT INTO {table} VALUES (%(id)s, %(owner)s, %(label)s) ON CONFLICT DO NOTHING",
            row,
            tracking,
        )

    def owned_by(self, owner: UUID, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        return self.select_page(
            columns="id, label",
            where="WHERE owner = %(owner)s",
            order_by="label",
            params={"owner": owner},
            limit=limit,
            offset=offset,
        )


class ParcelProjection(Projection[ParcelView]):
    name = "parcels"
    topics = (Parcel.Registered.TOPIC,)

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        row = {"id": domain_event.originator_id, "owner": domain_event.owner}
        self.view.add(row | {"label": domain_event.label}, tracking)


class ParcelIn(BaseModel):
    label: text(20)


class ParcelOut(BaseModel):
    id: UUID
    label: str


class ParcelPage(ListPage[ParcelOut]):
    """A page of the caller's parcels."""


router = APIRouter(prefix="/parcels")
Parcels = Annotated[ParcelsApplication, Depends(application_of)]
ParcelReadModel = Annotated[ReadModel[ParcelView], read_model_of(ParcelView)]


@router.post("", status_code=201)
def register(
    body: ParcelIn,
    me: CurrentPrincipal,
    parcels: Parcels,
    read_model: ParcelReadModel,
    key: IdempotencyKey = None,
) -> dict[str, Any]:
    created = parcels.register(me.user_id, body.label, key)
    read_model.wait(created.pop("position"), timeout=2.0)
    return created


@router.get("", response_model=ParcelPage)
def mine(me: CurrentPrincipal, paging: PagingParams, read_model: ParcelReadModel):
    rows, total = read_model.view.owned_by(me.user_id, paging.limit, paging.offset)
    return ParcelPage.of([ParcelOut(**r) for r in rows], total, paging)


@router.get("/{parcel_id}")
def one(parcel_id: UUID, me: CurrentPrincipal, parcels: Parcels) -> dict[str, Any]:
    parcel = parcels.parcel(parcel_id, me.user_id)
    return {"label": parcel.label, "seen_on_kafka": parcel.seen_on_kafka}


# The parcels borrow a real contract for their public event: a test must not add contracts to
# the registry, whose snapshots are checked.
def registered(event: Any) -> RequestSubmittedV1:
    return RequestSubmittedV1(
        request_id=event.originator_id,
        number=event.label,
        kind="request",
        subject=event.label,
        department="kit-tests",
        anonymous=False,
        submitted_at=event.timestamp,
    )


def handlers(app: ParcelsApplication):
    return {RequestSubmittedV1: lambda envelope, c: app.mark_seen(c.request_id)}


def make_service(name: str) -> Service:
    return Service(
        name=name,
        title="Parcels",
        description="A service made of the kit alone",
        settings=ServiceSettings,
        application=ParcelsApplication,
        routers=[router],
        errors={ParcelNotFound: HttpError(404, "not_found", "No such parcel.")},
        read_models=[(ParcelProjection, ParcelView)],
        publishes={TEST_EVENTS: {Parcel.Registered: registered}},
        consumes=[TEST_EVENTS],
        handlers=handlers,
    )


@pytest.fixture
def client(infra, fresh_database, token_verifier, monkeypatch):
    # The kit's sealer seals onto the scratch topic: the real audit service must never archive
    # a test service whose database is dropped afterwards (make verify-history would rightly
    # call its history deleted).
    monkeypatch.setattr(
        service_module,
        "Sealer",
        functools.partial(Sealer, history_topic=TEST_EVENTS, checkpoints_topic=TEST_EVENTS),
    )
    database = fresh_database("kit")
    settings = ServiceSettings(
        postgres_host=infra.pg_host,
        postgres_port=infra.pg_port,
        postgres_user=infra.pg_user,
        postgres_password=infra.pg_password,
        postgres_dbname=database,
        kafka_bootstrap_servers=infra.kafka_bootstrap,
        log_format="console",
    )
    # The router's prefix is /parcels, so the service is called "parcels"; its consumer group
    # is the service's name too, which is what makes this loop through Kafka work.
    app = make_service("parcels").create_app(settings, token_verifier=token_verifier)
    with TestClient(app) as client:
        yield client


def eventually(check, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"not reached within {timeout}s")


def test_a_service_built_from_the_kit_alone_works_end_to_end(client, token):
    """issue 5: composition root, Application base, view base, list envelope, error table,
    relay and consumer, health, all from one declaration."""
    me = {"Authorization": f"Bearer {token('citizen')}"}
    created = client.post("/parcels", json={"label": "βιβλία"}, headers=me)
    assert created.status_code == 201, created.text
    parcel_id = created.json()["id"]

    # Read-your-writes through the read model, in the one list envelope.
    listed = eventually(
        lambda: (
            client.get("/parcels", headers=me).json()["total"] == 1
            and client.get("/parcels", headers=me).json()
        )
    )
    assert listed == {
        "items": [{"id": parcel_id, "label": "βιβλία"}],
        "total": 1,
        "limit": 100,
        "offset": 0,
    }

    # The relay published it and the consumer took it back in: the loop through Kafka.
    assert eventually(
        lambda: client.get(f"/parcels/{parcel_id}", headers=me).json()["seen_on_kafka"]
    )

    # The error table: another user's parcel does not exist for them.
    other = {"Authorization": f"Bearer {token('citizen')}"}
    missing = client.get(f"/parcels/{parcel_id}", headers=other)
    assert missing.status_code == 404
    assert missing.json() == {"code": "not_found", "message": "No such parcel."}

    # The text type refuses control characters, naming the field.
    refused = client.post("/parcels", json={"label": "a\u0000b"}, headers=me)
    assert refused.status_code == 422
    assert refused.json()["details"][0]["field"] == "label"

    health = client.get("/parcels/health").json()
    assert health["status"] == "ok", health
    assert {"read_model:parcels", "relay", "consumer"} <= set(health["checks"])

    # What an operator's dashboard reads: lag, parked, dead letters, HTTP by route template.
    metrics = client.get("/parcels/metrics").text
    for series in (
        'portal_read_model_lag_events{projection="parcels",service="parcels"} 0.0',
        'portal_parked_events{projection="parcels",service="parcels"} 0.0',
        'portal_relay_lag_events{service="parcels"} 0.0',
        'portal_dead_lettered_messages_total{service="parcels"} 0.0',
        'portal_http_requests_total{method="GET",route="/parcels/{parcel_id}",service="parcels"',
    ):
        assert series in metrics, series


def test_idempotency_key_through_the_kit(client, token):
    """DESIGN "HTTP": a repeat answers the first result; a different body with the key is 409."""
    me = {"Authorization": f"Bearer {token('citizen')}"}
    key = {"Idempotency-Key": uuid.uuid4().hex}
    first = client.post("/parcels", json={"label": "a"}, headers=me | key)
    again = client.post("/parcels", json={"label": "a"}, headers=me | key)
    assert first.json()["id"] == again.json()["id"]
    other = client.post("/parcels", json={"label": "b"}, headers=me | key)
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"


def publish_as_identity(bootstrap: str, contract: Contract, user_id: UUID, sequence: int) -> None:
    """Send `contract` on identity's topic as identity's relay does: in the kit's envelope,
    keyed by the user."""
    envelope = wrap(
        contract,
        source="identity",
        subject=str(user_id),
        sequence=sequence,
        occurred_at=datetime.now(UTC),
        metadata={"correlation_id": f"kit-test-{uuid.uuid4().hex[:8]}"},
    )

    async def send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(
                IDENTITY_USER_EVENTS, envelope.to_bytes(), key=envelope.subject.encode()
            )
        finally:
            await producer.stop()

    asyncio.run(send())


def test_a_disabled_users_tokens_are_refused_within_seconds_through_kafka(client, infra, token):
    """issue 6 "Token refusal" (ASVS 5.0 V7.4.2): identity's UserDisabled reaches a service
    that declares nothing for it (the kit subscribes its consumer to identity's topic), and the
    user's token is refused from then on, not only after expiry; after UserEnabled a token from a
    new log-in passes while the old one stays refused."""
    user, admin = uuid.uuid4(), uuid.uuid4()
    old = {"Authorization": f"Bearer {token('citizen', user_id=user)}"}
    assert client.get("/parcels", headers=old).status_code == 200

    disabled = UserDisabledV1(
        user_id=user, reason="abuse", disabled_by=admin, disabled_at=datetime.now(UTC)
    )
    publish_as_identity(infra.kafka_bootstrap, disabled, user, sequence=2)
    refused = eventually(
        lambda: (answer := client.get("/parcels", headers=old)).status_code == 401 and answer
    )
    assert refused.json() == {
        "code": "invalid_token",
        "message": "The access token is no longer valid: account disabled.",
    }

    enabled = UserEnabledV1(user_id=user, enabled_by=admin, enabled_at=datetime.now(UTC))
    publish_as_identity(infra.kafka_bootstrap, enabled, user, sequence=3)

    def logs_in_again() -> bool:
        new = {"Authorization": f"Bearer {token('citizen', user_id=user)}"}
        return client.get("/parcels", headers=new).status_code == 200

    eventually(logs_in_again)
    assert client.get("/parcels", headers=old).status_code == 401


class RecordedChanges:
    """Stands in for the refused-users table where only the consumer's wiring is under test."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def disabled(self, user_id: UUID, at: datetime) -> None:
        self.calls.append("kit")


def test_every_service_consumes_identitys_user_events_for_its_refused_users():
    """issue 6 "Token refusal": a service that consumes nothing gets a consumer for
    IDENTITY_USER_EVENTS; a service with its own handler for one of those contracts keeps it,
    called after the kit's."""
    changes = RecordedChanges()
    runtime = Runtime(settings=None, application=None, refused_users=changes)

    silent = Service(
        name="silent",
        title="Silent",
        description="Consumes nothing of its own",
        settings=ServiceSettings,
        application=ParcelsApplication,
    )
    topics, handlers = silent._consumed(runtime)
    assert topics == [IDENTITY_USER_EVENTS]
    assert UserDisabledV1 in handlers and UserEnabledV1 in handlers

    def own_handlers(app: Any):
        return {UserDisabledV1: lambda envelope, contract: changes.calls.append("service")}

    listening = Service(
        name="listening",
        title="Listening",
        description="Handles UserDisabled itself",
        settings=ServiceSettings,
        application=ParcelsApplication,
        consumes=[TEST_EVENTS, IDENTITY_USER_EVENTS],
        handlers=own_handlers,
    )
    topics, handlers = listening._consumed(runtime)
    assert topics == [TEST_EVENTS, IDENTITY_USER_EVENTS]
    contract = UserDisabledV1(
        user_id=uuid.uuid4(), reason="r", disabled_by=uuid.uuid4(), disabled_at=datetime.now(UTC)
    )
    handlers[UserDisabledV1](None, contract)
    assert changes.calls == ["kit", "service"]

    own_revocations = Runtime(settings=None, application=None)  # identity: its own, no table
    assert silent._consumed(own_revocations) == ([], {})
