"""A view as a work list, on real PostgreSQL (issue 8, kit clean-up: the registrar's, the
mailer's and the reconciler's claims in one place): workers claim different rows, the first due
one first, and a claim's closing statement runs only when the block went through."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any

import pytest
from eventsourcing.postgres import PostgresDatastore
from portal_events.views import PostgresView


class TaskView(PostgresView):
    ddl = ("CREATE TABLE IF NOT EXISTS {table} (id int PRIMARY KEY, due int, done bool)",)

    def add(self, *ids_and_due: tuple[int, int]) -> None:
        with self.datastore.transaction(commit=True) as curs:
            for task_id, due in ids_and_due:
                curs.execute(
                    self.sql("INSERT INTO {table} VALUES (%(id)s, %(due)s, false)"),
                    {"id": task_id, "due": due},
                )

    def claim(self, now: int) -> AbstractContextManager[dict[str, Any] | None]:
        return self.claim_first(
            columns="id",
            where="WHERE NOT done AND due <= %(now)s",
            order_by="due",
            params={"now": now},
            then="UPDATE {table} SET done = true WHERE id = %(id)s",
        )

    def done(self) -> list[int]:
        return [
            row["id"] for row in self.select("SELECT id FROM {table} WHERE done ORDER BY id", {})
        ]


@pytest.fixture
def tasks(infra, fresh_database) -> Iterator[TaskView]:
    datastore = PostgresDatastore(
        dbname=fresh_database("views"),
        host=infra.pg_host,
        port=infra.pg_port,
        user=infra.pg_user,
        password=infra.pg_password,
        pool_size=4,  # four claims held at once
    )
    view = TaskView(datastore, tracking_table_name="tasks_tracking")
    view.create_table()
    yield view
    datastore.close()


def test_workers_claim_different_rows_first_due_first_and_only_due_ones(tasks):
    tasks.add((1, 30), (2, 10), (3, 20), (4, 99))
    with (
        tasks.claim(now=50) as first,
        tasks.claim(now=50) as second,
        tasks.claim(now=50) as third,
        tasks.claim(now=50) as none_left,
    ):
        assert [first["id"], second["id"], third["id"]] == [2, 3, 1]
        assert none_left is None  # 4 is not due; the others are held
    assert tasks.done() == [1, 2, 3]


def test_a_claim_whose_block_fails_is_released_as_it_was(tasks):
    tasks.add((1, 10))
    with pytest.raises(ConnectionError), tasks.claim(now=50) as row:
        assert row["id"] == 1
        raise ConnectionError("the registry is down")
    assert tasks.done() == []
    with tasks.claim(now=50) as again:
        assert again["id"] == 1
