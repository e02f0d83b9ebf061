"""Fixtures for the tests on real infrastructure: a fresh PostgreSQL database (the root
`fresh_database` fixture) and the local stack's Mailpit, a real SMTP server with a REST API."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest


@dataclass(frozen=True)
class Mailpit:
    smtp_host: str
    smtp_port: int
    api: httpx.Client

    def messages_to(self, address: str) -> list[dict[str, Any]]:
        """The summaries of the messages in the mailbox addressed to `address`."""
        response = self.api.get("/api/v1/search", params={"query": f"to:{address}"})
        response.raise_for_status()
        return response.json()["messages"]

    def message(self, mailpit_id: str) -> dict[str, Any]:
        response = self.api.get(f"/api/v1/message/{mailpit_id}")
        response.raise_for_status()
        return response.json()


@pytest.fixture(scope="session")
def mailpit(infra) -> Iterator[Mailpit]:
    from portal_stack import ensure_up

    stack = ensure_up()  # already up: `infra` started it
    with httpx.Client(base_url=stack.mailpit_url, timeout=10.0) as api:
        yield Mailpit("127.0.0.1", stack.smtp_port, api)


@pytest.fixture
def pg_env(infra, fresh_database) -> dict[str, str]:
    return infra.pg_env(fresh_database("notifications"))
