"""The composition root of every service: one declaration, one start-up and shutdown order.

A service's `main.py` declares what it is made of and the kit builds it::

    service = Service(
        name="requests",
        title="Requests, complaints, proposals",
        description="SPEC R-1..R-5 ...",
        settings=RequestsSettings,
        application=RequestsApplication,
        read_models=[(RequestSummaryProjection, RequestSummaryView)],
        publishes={REQUESTS_REQUEST_EVENTS: PUBLIC_EVENTS},  # topic -> {event class: translator}
        consumes=[PROTOCOL_REGISTRATION_EVENTS],
        handlers=handlers,                # Application -> {contract class: handler}
        routers=[router],
        errors=ERRORS,                    # domain exception -> HttpError
    )
    app = service.create_app()

Start-up, in this order: logging; the Application (its tables); resources; read models; the
start-up hook; then (with Kafka enabled) the outbox relay, the sealer (every service's: it chains
its stored events and publishes them with checkpoints for the audit service, SPEC X-1) and the
consumer; then the workers.
Shutdown runs it backwards. Everything a route needs is on one container, `app.state.runtime`
(`Runtime`), reached through `Annotated` dependencies (`application_of`, `read_model_of`,
`resource_of`); the token verifier is the one thing tests swap (`create_app(token_verifier=...)`).

A token that verifies may still be refused (logged out, password changed, account disabled,
role changed). By default the kit keeps the refused users in the service's database
(`portal_web.refusals`) and merges the handlers that feed it from `IDENTITY_USER_EVENTS` into
the service's consumer, subscribing it to that topic (a service that consumes nothing else gets
a consumer for it). Identity passes its own `token_revocations`, which knows logged-out token
ids and reads its own event store.

Topics are named by the constants of `portal_events.topics`. A service publishes each of its
aggregates' public events on that aggregate's topic (`publishes`); it consumes the topics it
names (`consumes`) with the handlers for the contracts it cares about (`handlers`), as consumer
group `<service>`, with `<service>.dead-letter` for what it cannot take. A contract has no
topic of its own: `ProtocolRequested` travels on the topic of whichever service owns the
document.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Protocol

import structlog
from fastapi import APIRouter, Depends, FastAPI, Request
from portal_events.application import Contention, IdempotencyKeyReused, ServiceApplication
from portal_events.background import BackgroundLoops
from portal_events.consumer import EventConsumer, Handler
from portal_events.contracts import Contract
from portal_events.health import ComponentHealth
from portal_events.projections import ReadModel
from portal_events.relay import OutboxRelay
from portal_events.schema import creating_tables
from portal_events.sealer import Sealer
from portal_events.topics import IDENTITY_USER_EVENTS, dead_letter_topic

from portal_web.app import create_service_app
from portal_web.auth import TokenRevocations, TokenVerifier
from portal_web.errors import ErrorTable, HttpError
from portal_web.history import history_router
from portal_web.logging import configure_logging
from portal_web.metrics import ServiceMetrics
from portal_web.refusals import RefusedUsers, refusal_handlers
from portal_web.settings import ServiceSettings

log = structlog.get_logger(__name__)

Translator = Callable[[Any], Contract | None]
"""Makes the public contract for one stored domain event, or None to keep that one private."""


class Worker(Protocol):
    """A background task of a service (e.g. protocol's registrar): `run` until cancelled."""

    async def run(self) -> None: ...


@dataclass
class Runtime:
    """Everything a running service holds: one per process, on `app.state.runtime`."""

    settings: Any
    application: Any
    read_models: dict[type[Any], ReadModel[Any]] = field(default_factory=dict)
    resources: dict[str, Any] = field(default_factory=dict)
    relay: OutboxRelay | None = None
    sealer: Sealer | None = None
    consumer: EventConsumer | None = None
    # The kit's TokenRevocations, unless the service declares its own.
    refused_users: RefusedUsers | None = None

    def read_model(self, view_class: type[Any]) -> ReadModel[Any]:
        return self.read_models[view_class]

    def settle(self, view_class: type[Any], position: int | None) -> None:
        """Read-your-writes: let `view_class`'s read model reach `position` before answering
        (at most the configured timeout; then it answers anyway)."""
        self.read_models[view_class].wait(position, self.settings.read_your_writes_timeout_seconds)


# Errors every service may raise through the kit's Application base.
KIT_ERRORS: ErrorTable = {
    Contention: HttpError(409, "conflict", str),
    # 422 as the IETF Idempotency-Key draft asks (same key, another payload).
    IdempotencyKeyReused: HttpError(422, "idempotency_key_reused", str),
}


@dataclass(frozen=True)
class Service:
    """What a service is made of. See the module docstring."""

    name: str
    title: str
    description: str
    settings: type[ServiceSettings]
    application: Callable[..., ServiceApplication]
    routers: Sequence[APIRouter] = ()
    errors: ErrorTable = field(default_factory=dict)
    read_models: Sequence[tuple[type[Any], type[Any]]] = ()
    publishes: Mapping[str, Mapping[type[Any], Translator]] = field(default_factory=dict)
    consumes: Sequence[str] = ()
    handlers: Callable[[Any], Mapping[type[Contract], Handler]] | None = None
    resources: Mapping[str, Callable[[Runtime], Any]] = field(default_factory=dict)
    workers: Mapping[str, Callable[[Runtime], Worker]] = field(default_factory=dict)
    on_startup: Callable[[Runtime], None] | None = None
    token_verifier: Callable[[Runtime], TokenVerifier] | None = None
    token_revocations: Callable[[Runtime], TokenRevocations] | None = None

    def create_app(
        self, settings: ServiceSettings | None = None, token_verifier: TokenVerifier | None = None
    ) -> FastAPI:
        settings = settings or self.settings()
        app = create_service_app(
            name=self.name,
            title=self.title,
            description=self.description,
            settings=settings,
            routers=[*self.routers, history_router(self.name)],
            # A verifier given here (tests) wins over the declared one.
            lifespan=lambda app: self._lifespan(app, settings, token_verifier is None),
            token_verifier=token_verifier,
            errors={**KIT_ERRORS, **self.errors},
        )
        return app

    def translate(self, domain_event: Any) -> list[tuple[str, Contract]]:
        """The relay's translation: the public contracts of one stored event, with their topics
        (none for a private event)."""
        published = []
        for topic, translators in self.publishes.items():
            translator = translators.get(type(domain_event))
            contract = translator(domain_event) if translator is not None else None
            if contract is not None:
                published.append((topic, contract))
        return published

    @contextlib.asynccontextmanager
    async def _lifespan(
        self, app: FastAPI, settings: Any, declared_verifier: bool
    ) -> AsyncIterator[None]:
        configure_logging(self.name, settings.log_format, settings.log_level)
        env = settings.eventsourcing_env()
        application = creating_tables(lambda: self.application(env=env))
        runtime = Runtime(settings=settings, application=application)
        app.state.runtime = runtime
        loops = BackgroundLoops()
        async with contextlib.AsyncExitStack() as stack:
            stack.callback(application.close)
            for name, make in self.resources.items():
                resource = make(runtime)
                runtime.resources[name] = resource
                if hasattr(resource, "close"):
                    stack.callback(resource.close)
            for projection_class, view_class in self.read_models:
                read_model = ReadModel(application, projection_class, view_class)
                runtime.read_models[view_class] = read_model
                stack.callback(read_model.close)
                app.state.health_checks[f"read_model:{read_model.name}"] = read_model.health
            if self.token_verifier is not None and declared_verifier:
                app.state.token_verifier = self.token_verifier(runtime)
            if self.token_revocations is not None:
                app.state.token_revocations = self.token_revocations(runtime)
            else:
                runtime.refused_users = creating_tables(
                    lambda: RefusedUsers(application.recorder.datastore)
                )
                app.state.token_revocations = runtime.refused_users
            if self.on_startup is not None:
                self.on_startup(runtime)
            stack.push_async_callback(loops.stop)
            if settings.kafka_enabled:
                self._start_messaging(runtime, loops, app)
            for name, make in self.workers.items():
                loops.start(name, make(runtime).run)
            app.state.health_checks |= _loop_checks(loops)
            _register_component_metrics(app.state.metrics, runtime)
            log.info("service_started", service=self.name)
            yield

    def _start_messaging(self, runtime: Runtime, loops: BackgroundLoops, app: FastAPI) -> None:
        settings = runtime.settings
        if self.publishes:
            runtime.relay = OutboxRelay(
                runtime.application,
                self.translate,
                source=self.name,
                bootstrap_servers=settings.kafka_bootstrap_servers,
            )
            loops.start("relay", runtime.relay.run)
            app.state.health_checks["relay:lag"] = runtime.relay.health
        runtime.sealer = Sealer(
            runtime.application,
            service=self.name,
            bootstrap_servers=settings.kafka_bootstrap_servers,
            checkpoint_seconds=settings.history_checkpoint_seconds,
        )
        loops.start("sealer", runtime.sealer.run)
        app.state.health_checks["sealer:lag"] = runtime.sealer.health
        topics, handlers = self._consumed(runtime)
        if topics and handlers:
            runtime.consumer = EventConsumer(
                service=self.name,
                group_id=self.name,
                topics=topics,
                handlers=handlers,
                bootstrap_servers=settings.kafka_bootstrap_servers,
                dead_letter_topic=dead_letter_topic(self.name),
            )
            loops.start("consumer", runtime.consumer.run)
            app.state.health_checks["consumer:processing"] = runtime.consumer.health

    def _consumed(self, runtime: Runtime) -> tuple[list[str], dict[type[Contract], Handler]]:
        """The consumer's topics and handlers: the service's, and the kit's for its refused
        users (both are called, the kit's first, if a service handles the same contract)."""
        topics = list(self.consumes) if self.handlers is not None else []
        handlers = dict(self.handlers(runtime.application)) if self.handlers is not None else {}
        if runtime.refused_users is not None:
            if IDENTITY_USER_EVENTS not in topics:
                topics.append(IDENTITY_USER_EVENTS)
            for contract, kit_handler in refusal_handlers(runtime.refused_users).items():
                own = handlers.get(contract)
                handlers[contract] = kit_handler if own is None else _both(kit_handler, own)
        return topics, handlers


def _both(first: Handler, then: Handler) -> Handler:
    def handle(envelope: Any, contract: Any) -> None:
        first(envelope, contract)
        then(envelope, contract)

    return handle


def _register_component_metrics(metrics: ServiceMetrics, runtime: Runtime) -> None:
    """What an operator's dashboard and alerts need, read when Prometheus scrapes."""
    read_models = list(runtime.read_models.values())

    def per_projection(figure: Callable[[ReadModel[Any]], float]) -> Callable[[], dict[str, float]]:
        return lambda: {model.name: figure(model) for model in read_models}

    if isinstance(runtime.application, ServiceApplication):
        writer = runtime.application.writer
        metrics.counter(
            "portal_group_commit_commands_total",
            "Commands whose events the group-commit writer took (saved or not)",
            lambda: writer.commands,
        )
        metrics.counter(
            "portal_group_commit_transactions_total",
            "Transactions the group-commit writer ran: commands per transaction is the batching",
            lambda: writer.transactions,
        )
    metrics.gauge(
        "portal_read_model_lag_events",
        "Events of the service's log that the read model has not applied yet",
        per_projection(lambda model: model.lag().events),
        labelnames=("projection",),
    )
    metrics.gauge(
        "portal_read_model_lag_seconds",
        "Age of the oldest event the read model has not applied yet",
        per_projection(lambda model: model.lag().seconds),
        labelnames=("projection",),
    )
    metrics.gauge(
        "portal_parked_events",
        "Events a read model could not apply and set aside (python -m portal_events.parked)",
        per_projection(lambda model: model.parked_count()),
        labelnames=("projection",),
    )
    relay, sealer, consumer = runtime.relay, runtime.sealer, runtime.consumer
    if relay is not None:
        metrics.gauge(
            "portal_relay_lag_events",
            "Events recorded but not yet published to Kafka",
            lambda: relay.lag().events,
        )
        metrics.gauge(
            "portal_relay_parked_events",
            "Stored events the relay could not translate and set aside "
            "(python -m portal_events.parked list SERVICE --relay)",
            relay.parked_count,
        )
    if sealer is not None:
        metrics.gauge(
            "portal_sealer_lag_events",
            "Stored events not yet chained and published to audit.history",
            lambda: sealer.lag().events,
        )
    if consumer is not None:
        metrics.gauge(
            "portal_consumer_lag_messages",
            "Messages on the consumed topics not yet processed",
            consumer.lag,
            labelnames=("topic",),
        )
        metrics.counter(
            "portal_dead_lettered_messages_total",
            "Messages sent to the dead-letter topic (python -m portal_events.dead_letters)",
            lambda: consumer.dead_lettered,
        )


def _loop_checks(loops: BackgroundLoops) -> dict[str, Callable[[], ComponentHealth]]:
    return {
        name: (lambda check=check: ComponentHealth(ok=bool(check())))
        for name, check in loops.health_checks().items()
    }


# --- dependencies for routes ------------------------------------------------------------------


def runtime_of(request: Request) -> Runtime:
    return request.app.state.runtime


ServiceRuntime = Annotated[Runtime, Depends(runtime_of)]


def application_of(request: Request) -> Any:
    """The service's Application; annotate it per service, e.g.
    `RequestsApp = Annotated[RequestsApplication, Depends(application_of)]`."""
    return request.app.state.runtime.application


def read_model_of(view_class: type[Any]) -> Any:
    """A dependency giving the read model of `view_class`."""

    def dependency(request: Request) -> ReadModel[Any]:
        return request.app.state.runtime.read_models[view_class]

    return Depends(dependency)


def resource_of(name: str) -> Any:
    """A dependency giving the resource declared under `name`."""

    def dependency(request: Request) -> Any:
        return request.app.state.runtime.resources[name]

    return Depends(dependency)
