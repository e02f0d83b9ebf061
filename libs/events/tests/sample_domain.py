"""A tiny event-sourced application for the library's own tests (relay, consumer, metadata)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.projection import Projection
from portal_events.contracts import Contract, RequestSubmittedV1
from portal_events.mapper import MAPPER_TOPIC
from psycopg.sql import SQL


class Parcel(Aggregate):
    TOPIC = "tests:Parcel"

    class Created(Aggregate.Created):
        TOPIC = "tests:Parcel.Created"

    @event("Registered", topic="tests:Parcel.Registered")
    def __init__(self, label: str) -> None:
        self.label = label
        self.notes: list[str] = []

    @event("Noted", topic="tests:Parcel.Noted")
    def note(self, text: str) -> None:
        self.notes.append(text)


class ParcelApplication(Application):
    name = "Parcels"
    env: ClassVar[dict[str, str]] = {"MAPPER_TOPIC": MAPPER_TOPIC, "SINGLE_ROW_TRACKING": "y"}


def make_translate(topic: str):
    """Publish each Registered as a (borrowed) public contract; Noted stays private."""

    def translate(domain_event) -> Iterable[tuple[str, Contract]]:
        if isinstance(domain_event, Parcel.Registered):
            yield (
                topic,
                RequestSubmittedV1(
                    request_id=domain_event.originator_id,
                    number=domain_event.label,
                    kind="request",
                    subject=domain_event.label,
                    department="tests",
                    anonymous=True,
                    submitted_at=domain_event.timestamp,
                ),
            )

    return translate


class ParcelLabels(PostgresTrackingRecorder):
    """A minimal view: the labels of registered parcels, written with the tracking position."""

    def __init__(self, datastore, **kwargs) -> None:
        super().__init__(datastore, **kwargs)
        self.sql_create_statements.append(
            SQL("CREATE TABLE IF NOT EXISTS parcel_labels (label text PRIMARY KEY)")
        )

    def add(self, label: str, tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute("INSERT INTO parcel_labels VALUES (%s)", (label,))
            self._insert_tracking(cursor, tracking)

    def labels(self) -> set[str]:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute("SELECT label FROM parcel_labels")
            return {row["label"] for row in cursor.fetchall()}


class ParcelLabelsProjection(Projection[ParcelLabels]):
    name = "parcel_labels"
    topics = (Parcel.Registered.TOPIC,)

    replaces_nul: ClassVar[bool] = False
    """Off, a label with NUL fails in PostgreSQL every time (issue 5's live bug); on, it is
    written with U+FFFD instead (the fix a test deploys)."""

    def process_event(self, domain_event, tracking: Tracking) -> None:
        label = domain_event.label
        if self.replaces_nul:
            label = label.replace("\x00", "\ufffd")
        self.view.add(label, tracking)
