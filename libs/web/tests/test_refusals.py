"""The kit's table of refused users (issue 6 "Token refusal"; ASVS 5.0 V7.4.2, V7.4.3), on the
real PostgreSQL: which tokens it refuses, and that identity's events may come repeated or out of
order without undoing a newer change."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from eventsourcing.postgres import PostgresDatastore
from portal_web.auth import Principal
from portal_web.refusals import RefusedUsers

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def refused(infra, fresh_database) -> Iterator[RefusedUsers]:
    datastore = PostgresDatastore(
        fresh_database("refusals"),
        infra.pg_host,
        infra.pg_port,
        infra.pg_user,
        infra.pg_password,
    )
    yield RefusedUsers(datastore)
    datastore.close()


def token_of(user_id: uuid.UUID, issued_at: datetime) -> Principal:
    return Principal(user_id=user_id, role="citizen", issued_at=int(issued_at.timestamp()))


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_a_user_nobody_changed_is_accepted(refused):
    assert refused.refusal(token_of(uuid.uuid4(), at(0))) is None


def test_a_disabled_user_is_refused_whenever_the_token_was_issued(refused):
    user = uuid.uuid4()
    refused.disabled(user, at(0))
    assert refused.refusal(token_of(user, at(-60))) == "account disabled"
    assert refused.refusal(token_of(user, at(60))) == "account disabled"


def test_after_enabling_old_tokens_stay_refused_and_new_ones_pass(refused):
    user = uuid.uuid4()
    refused.disabled(user, at(0))
    refused.enabled(user, at(30))
    assert refused.refusal(token_of(user, at(-60))) == "account disabled"
    assert refused.refusal(token_of(user, at(0))) == "account disabled"
    assert refused.refusal(token_of(user, at(40))) is None


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda r, u, t: r.tokens_invalidated(u, t, "password changed"), "password changed"),
        (lambda r, u, t: r.tokens_invalidated(u, t, "role changed"), "role changed"),
    ],
    ids=["password", "staff"],
)
def test_tokens_issued_up_to_a_change_are_refused_later_ones_pass(refused, change, reason):
    user = uuid.uuid4()
    change(refused, user, at(0))
    assert refused.refusal(token_of(user, at(-1))) == reason
    assert refused.refusal(token_of(user, at(0))) == reason
    assert refused.refusal(token_of(user, at(1))) is None


def test_a_repeated_event_changes_nothing(refused):
    user = uuid.uuid4()
    refused.disabled(user, at(0))
    refused.enabled(user, at(30))
    refused.enabled(user, at(30))
    refused.disabled(user, at(0))  # a redelivery of the first event
    assert refused.refusal(token_of(user, at(40))) is None


def test_an_older_event_arriving_late_does_not_undo_a_newer_one(refused):
    enabled_later = uuid.uuid4()
    refused.enabled(enabled_later, at(30))
    refused.disabled(enabled_later, at(0))  # older, replayed from the dead letters
    assert refused.refusal(token_of(enabled_later, at(40))) is None
    assert refused.refusal(token_of(enabled_later, at(-10))) == "account disabled"

    disabled_later = uuid.uuid4()
    refused.disabled(disabled_later, at(60))
    refused.enabled(disabled_later, at(30))  # older
    assert refused.refusal(token_of(disabled_later, at(90))) == "account disabled"


def test_the_latest_change_sets_the_boundary_and_the_reason(refused):
    user = uuid.uuid4()
    refused.tokens_invalidated(user, at(60), "role changed")
    refused.tokens_invalidated(user, at(0), "password changed")  # older, arriving late
    assert refused.refusal(token_of(user, at(30))) == "role changed"
    assert refused.refusal(token_of(user, at(61))) is None


def test_a_token_without_an_issue_time_is_refused_once_anything_changed(refused):
    user = uuid.uuid4()
    refused.tokens_invalidated(user, at(0), "password changed")
    assert refused.refusal(Principal(user_id=user, role="citizen")) == "password changed"
