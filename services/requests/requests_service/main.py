"""Composition root: `uvicorn requests_service.main:app`.

The lifespan builds the one Application of the process, runs the summaries projection, and (with
Kafka enabled) the outbox relay and the consumer of the protocol registry's outcomes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI
from portal_events.background import BackgroundLoops
from portal_events.consumer import EventConsumer
from portal_events.contracts import PROTOCOL_REGISTRATION_EVENTS
from portal_events.projections import ReadModel
from portal_events.relay import OutboxRelay
from portal_events.schema import creating_tables
from portal_web import TokenVerifier, configure_logging, create_service_app

from requests_service.api import Services, router
from requests_service.application import RequestsApplication
from requests_service.integration import SOURCE, ProtocolOutcomeHandlers, to_contracts
from requests_service.settings import RequestsSettings
from requests_service.views import RequestSummaries, RequestSummaryProjection

log = structlog.get_logger(__name__)


def create_app(
    settings: RequestsSettings | None = None, token_verifier: TokenVerifier | None = None
) -> FastAPI:
    settings = settings or RequestsSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(SOURCE, settings.log_format, settings.log_level)
        env = settings.eventsourcing_env()
        application = creating_tables(lambda: RequestsApplication(env=env))
        read_model = ReadModel(application, RequestSummaryProjection, RequestSummaries)
        app.state.requests = Services(
            application, read_model, settings.read_your_writes_timeout_seconds
        )
        app.state.health_checks["projection"] = read_model.healthy
        loops = BackgroundLoops()
        if settings.kafka_enabled:
            relay = OutboxRelay(
                application,
                to_contracts,
                source=SOURCE,
                bootstrap_servers=settings.kafka_bootstrap_servers,
            )
            consumer = EventConsumer(
                service=SOURCE,
                group_id=settings.consumer_group_id,
                topics=[PROTOCOL_REGISTRATION_EVENTS],
                handlers=ProtocolOutcomeHandlers(application).as_mapping(),
                bootstrap_servers=settings.kafka_bootstrap_servers,
                dead_letter_topic=settings.dead_letter_topic,
            )
            loops.start("relay", relay.run)
            loops.start("consumer", consumer.run)
        app.state.health_checks |= loops.health_checks()
        try:
            yield
        finally:
            await loops.stop()
            read_model.close()
            application.close()

    return create_service_app(
        name="requests",
        title="Requests, complaints, proposals",
        description="Αιτήματα – Καταγγελίες – Προτάσεις: SPEC R-1..R-5. Anonymous and named "
        "submissions, clerks' inboxes per department, replies, status changes and protocol "
        "registration.",
        settings=settings,
        routers=[router],
        lifespan=lifespan,
        token_verifier=token_verifier,
    )


app = create_app()
