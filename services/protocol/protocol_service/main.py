"""Composition root: `uvicorn protocol_service.main:app`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI
from portal_events.background import BackgroundLoops
from portal_events.consumer import EventConsumer
from portal_events.projections import ReadModel
from portal_events.relay import OutboxRelay
from portal_events.schema import creating_tables
from portal_web import configure_logging, create_service_app

from protocol_service.api import router
from protocol_service.application import ProtocolApplication
from protocol_service.integration import (
    CONSUMED_TOPICS,
    CONSUMER_GROUP,
    DEAD_LETTER_TOPIC,
    ProtocolHandlers,
    to_contracts,
)
from protocol_service.registrar import HttpRegistryClient, Registrar, RetryPolicy
from protocol_service.settings import ProtocolSettings
from protocol_service.views import PendingRegistrationsProjection, PendingRegistrationsView


def create_app(settings: ProtocolSettings | None = None) -> FastAPI:
    settings = settings or ProtocolSettings()
    configure_logging("protocol", settings.log_format, settings.log_level)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        env = settings.eventsourcing_env()
        protocol_app = creating_tables(lambda: ProtocolApplication(env=env))
        pending = ReadModel(protocol_app, PendingRegistrationsProjection, PendingRegistrationsView)
        client = HttpRegistryClient(
            settings.protocol_registry_url, settings.protocol_registry_timeout_seconds
        )
        registrar = Registrar(
            protocol_app,
            pending.view,
            client,
            RetryPolicy(settings.protocol_retry_base_seconds, settings.protocol_retry_max_seconds),
            poll_seconds=settings.protocol_registrar_poll_seconds,
            concurrency=settings.protocol_registrar_concurrency,
        )
        app.state.protocol_app = protocol_app
        app.state.pending_view = pending.view
        app.state.registrar = registrar
        app.state.health_checks["pending_projection"] = pending.healthy

        stop = asyncio.Event()
        registrar_task = (
            asyncio.create_task(registrar.run(stop)) if settings.registrar_enabled else None
        )
        loops = BackgroundLoops()
        if settings.kafka_enabled:
            relay = OutboxRelay(
                protocol_app,
                to_contracts,
                source="protocol",
                bootstrap_servers=settings.kafka_bootstrap_servers,
            )
            consumer = EventConsumer(
                service="protocol",
                group_id=CONSUMER_GROUP,
                topics=list(CONSUMED_TOPICS),
                handlers=ProtocolHandlers(protocol_app).by_contract(),
                bootstrap_servers=settings.kafka_bootstrap_servers,
                dead_letter_topic=DEAD_LETTER_TOPIC,
            )
            loops.start("relay", relay.run)
            loops.start("consumer", consumer.run)
        app.state.health_checks |= loops.health_checks()
        try:
            yield
        finally:
            # The registrar finishes the registration in hand (its thread cannot be cancelled).
            stop.set()
            await loops.stop()
            if registrar_task is not None:
                await registrar_task
            pending.close()
            client.close()
            protocol_app.close()

    return create_service_app(
        name="protocol",
        title="Protocol service",
        description="Registers documents in the municipality's protocol registry "
        "(SPEC R-4, C-4), retrying through outages; lists what is pending (SPEC X-3).",
        settings=settings,
        routers=[router],
        lifespan=lifespan,
    )


app = create_app()
