"""Since when e-mails are sent, on real PostgreSQL: replicas that start together record one
instant and agree on it, and a restart hours later keeps it, so an outage of this service loses
no e-mail (issue 8; SPEC X-2)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from notifications_service.application import NotificationsApplication
from notifications_service.domainmodel import MailingStart

pytestmark = pytest.mark.integration

FIRST_STARTS = [datetime(2026, 11, 2, 9, 0, second, tzinfo=UTC) for second in range(4)]


def test_x2_replicas_starting_together_agree_and_a_restart_keeps_it(pg_env):
    # One Application per replica, each with its own clock (and a small pool: the server is
    # shared); created one after another (each creates the tables), then started together.
    env = pg_env | {"POSTGRES_POOL_SIZE": "1", "POSTGRES_MAX_OVERFLOW": "1"}
    replicas = [NotificationsApplication(env=env, clock=lambda at=at: at) for at in FIRST_STARTS]
    together = threading.Barrier(len(replicas))

    def start(replica: NotificationsApplication) -> datetime:
        together.wait()
        return replica.begin_mailing()

    try:
        with ThreadPoolExecutor(len(replicas)) as pool:
            began = set(pool.map(start, replicas))
        (since,) = began  # all agree
        assert since in FIRST_STARTS
        assert {replica.mailing_start().since for replica in replicas} == {since}
    finally:
        for replica in replicas:
            replica.close()

    restarted = NotificationsApplication(env=env, clock=lambda: since + timedelta(hours=8))
    try:
        assert restarted.begin_mailing() == since
        start = restarted.mailing_start()
        assert (start.version, start.set_by) == (1, MailingStart.FIRST_START)
    finally:
        restarted.close()
