"""The read-model rebuild (SPEC X-1, issue 10 "Replay everything"), on the real PostgreSQL: a
minimal service whose view has a side table, a `json` column and a column its worker writes is
rebuilt beside the live view and compared; a live row changed behind the projection's back is
shown as it differs; the rebuilt tables go unless kept."""

from __future__ import annotations

import io
from typing import Annotated, Any, ClassVar
from uuid import UUID

import pytest
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.projection import Projection
from fastapi import APIRouter, Depends
from fastapi.testclient import TestClient
from portal_events.application import ServiceApplication
from portal_events.views import PostgresView
from portal_web.rebuild import rebuild_read_models
from portal_web.service import Service, application_of
from portal_web.settings import ServiceSettings
from psycopg.sql import SQL, Identifier


class Shelf(Aggregate):
    TOPIC = "rebuild-test:Shelf"

    class Created(Aggregate.Created):
        TOPIC = "rebuild-test:Shelf.Created"

    @event("Placed", topic="rebuild-test:Shelf.Placed")
    def __init__(self, label: str) -> None:
        self.label = label

    @event("Tagged", topic="rebuild-test:Shelf.Tagged")
    def tag(self, tag: str) -> None:
        pass


class ShelvesApplication(ServiceApplication):
    name = "shelves"

    def place(self, label: str, tags: list[str]) -> UUID:
        shelf = Shelf(label)
        for tag in tags:
            shelf.tag(tag)
        self.save(shelf)
        return shelf.id


class ShelfView(PostgresView):
    """Shelves in `{table}`, their tags in the side table `{table}_tags`."""

    ddl = (
        "CREATE TABLE IF NOT EXISTS {table} (id uuid PRIMARY KEY, label text, facts json,"
        " dusted_at timestamptz)",
    )
    worker_columns: ClassVar[tuple[str, ...]] = ("dusted_at",)

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self.tags = Identifier(datastore.schema, f"{self.table_name}_tags")
        self.sql_create_statements.append(
            SQL("CREATE TABLE IF NOT EXISTS {tags} (id uuid, tag text)").format(tags=self.tags)
        )

    def add(self, row: dict[str, Any], tracking: Tracking) -> None:
        self.write("INSERT INTO {table} VALUES (%(id)s, %(label)s, %(facts)s, NULL)", row, tracking)

    def add_tag(self, shelf_id: UUID, tag: str, tracking: Tracking) -> None:
        with self.changing() as curs:  # the read model's batch, when it applies one
            curs.execute(
                SQL("INSERT INTO {tags} VALUES (%s, %s)").format(tags=self.tags), (shelf_id, tag)
            )
            self.track(curs, tracking)


class ShelfProjection(Projection[ShelfView]):
    name = "shelves"
    topics = (Shelf.Placed.TOPIC, Shelf.Tagged.TOPIC)

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        if isinstance(domain_event, Shelf.Placed):
            facts = f'{{"label": "{domain_event.label}"}}'
            row = {"id": domain_event.originator_id, "label": domain_event.label, "facts": facts}
            self.view.add(row, tracking)
        else:
            self.view.add_tag(domain_event.originator_id, domain_event.tag, tracking)


router = APIRouter(prefix="/shelves")


@router.post("", status_code=201)
def place(
    body: dict[str, Any], shelves: Annotated[ShelvesApplication, Depends(application_of)]
) -> dict[str, str]:
    return {"id": str(shelves.place(body["label"], body["tags"]))}


SERVICE = Service(
    name="shelves",
    title="Shelves",
    description="A service made of the kit alone",
    settings=ServiceSettings,
    application=ShelvesApplication,
    routers=[router],
    read_models=[(ShelfProjection, ShelfView)],
)


@pytest.fixture
def live(infra, fresh_database, token_verifier):
    """The service's settings, once its live view has three shelves and their tags."""
    settings = ServiceSettings(
        postgres_host=infra.pg_host,
        postgres_port=infra.pg_port,
        postgres_user=infra.pg_user,
        postgres_password=infra.pg_password,
        postgres_dbname=fresh_database("rebuild"),
        kafka_enabled=False,
        log_format="console",
    )
    with TestClient(SERVICE.create_app(settings, token_verifier=token_verifier)) as client:
        for label in ("α", "β", "γ"):
            assert client.post("/shelves", json={"label": label, "tags": ["x", "y"]}).is_success
        read_model = client.app.state.runtime.read_model(ShelfView)
        head = read_model.app.recorder.max_notification_id()
        assert read_model.wait(head, timeout=10)
    return settings


def tables(infra, database: str) -> set[str]:
    with infra.connect(database) as conn:
        rows = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchall()
    return {name for (name,) in rows}


def test_a_rebuilt_view_with_a_side_table_equals_the_live_one(infra, live):
    database = live.postgres_dbname
    with infra.connect(database) as conn:  # the worker's column: not the events'
        conn.execute("UPDATE shelves SET dusted_at = now()")
    out = io.StringIO()
    [outcome] = rebuild_read_models(SERVICE, live, out=out, progress_out=io.StringIO())
    assert outcome.equal, out.getvalue()
    assert (outcome.projection, outcome.events) == ("shelves", 9)  # 3 placed, 6 tagged
    assert out.getvalue().startswith("shelves shelves at position ")
    assert ": equal (9 events replayed, " in out.getvalue()
    assert not any(name.startswith("shelves_rebuild") for name in tables(infra, database))


def test_a_live_row_changed_behind_the_projections_back_is_shown(infra, live):
    database = live.postgres_dbname
    with infra.connect(database) as conn:
        conn.execute("UPDATE shelves SET label = 'forged' WHERE label = 'β'")
        conn.execute(
            "DELETE FROM shelves_tags WHERE tag = 'y' AND ctid IN "
            "(SELECT ctid FROM shelves_tags WHERE tag = 'y' LIMIT 1)"
        )
    out = io.StringIO()
    [outcome] = rebuild_read_models(SERVICE, live, keep=True, out=out, progress_out=io.StringIO())
    assert not outcome.equal
    assert outcome.differing_rows == 3  # the forged row; the true one; the deleted tag
    shown = {
        (d["table"], d["side"], d["row"].get("label") or d["row"]["tag"])
        for d in outcome.differences
    }
    assert shown == {
        ("shelves", "only live", "forged"),
        ("shelves", "only rebuilt", "β"),
        ("shelves_tags", "only rebuilt", "y"),
    }
    assert '"label": "forged"' in out.getvalue()
    assert {"shelves_rebuild", "shelves_rebuild_tags"} <= tables(infra, database)  # --keep

    # A second run starts from zero again, and drops what the first one kept.
    [again] = rebuild_read_models(SERVICE, live, out=io.StringIO(), progress_out=io.StringIO())
    assert again.differing_rows == 3
    assert not any(name.startswith("shelves_rebuild") for name in tables(infra, database))
