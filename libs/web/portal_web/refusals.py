"""The users whose tokens a service refuses before they expire, kept from identity's events.

An access token lives 15 minutes and every service verifies it locally. When an admin disables
an account, or a user changes their password, or an admin changes a staff member's role or
department, the tokens already issued must stop working everywhere within seconds (issue 6,
ASVS 5.0 V7.4.2 / V7.4.3). Identity publishes each of these on `IDENTITY_USER_EVENTS`; the kit
merges handlers for them into every service's consumer (except identity's, which answers from
its own event store) and keeps one row per user in the service's database:

- `disabled`: refuse every token of the user, whenever issued, until an enable comes.
- `not_before`: refuse tokens issued at or before it (the latest disable, password change or
  staff change), so a token from before a disable stays refused after the enable.

The consumer delivers at least once, and an operator may replay dead letters in any order: each
change carries its time, a repeat changes nothing, and an older change never undoes a newer one
(`disabled_changed_at` orders disables and enables; `not_before` only moves forward).

Every authenticated request asks `refusal` once, in a worker thread: one primary-key look-up on
a pooled connection.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, LiteralString
from uuid import UUID

from eventsourcing.postgres import PostgresDatastore
from portal_events.consumer import Handler
from portal_events.contracts import (
    Contract,
    PasswordChangedV1,
    StaffUpdatedV1,
    UserDisabledV1,
    UserEnabledV1,
)
from psycopg.sql import SQL, Composed, Identifier

from portal_web.auth import Principal

TABLE = "refused_users"

DISABLED = "account disabled"
PASSWORD_CHANGED = "password changed"  # noqa: S105 - a reason people read, no secret
ROLE_CHANGED = "role changed"

_CREATE: LiteralString = """
CREATE TABLE IF NOT EXISTS {table} (
    user_id uuid PRIMARY KEY,
    disabled boolean NOT NULL DEFAULT false,
    disabled_changed_at timestamptz,
    not_before timestamptz,
    not_before_reason text
)"""

# One upsert for every kind of change; a NULL parameter leaves its part of the row alone.
_CHANGE: LiteralString = """
INSERT INTO {table} AS refused
    (user_id, disabled, disabled_changed_at, not_before, not_before_reason)
VALUES (%(user_id)s, coalesce(%(disabled)s, false), %(disabled_changed_at)s, %(not_before)s,
    %(reason)s)
ON CONFLICT (user_id) DO UPDATE SET
    disabled = CASE
        WHEN EXCLUDED.disabled_changed_at > coalesce(refused.disabled_changed_at, '-infinity')
        THEN EXCLUDED.disabled ELSE refused.disabled END,
    disabled_changed_at = greatest(refused.disabled_changed_at, EXCLUDED.disabled_changed_at),
    not_before_reason = CASE
        WHEN EXCLUDED.not_before > coalesce(refused.not_before, '-infinity')
        THEN EXCLUDED.not_before_reason ELSE refused.not_before_reason END,
    not_before = greatest(refused.not_before, EXCLUDED.not_before)
"""

_LOOK_UP: LiteralString = (
    "SELECT disabled, not_before, not_before_reason FROM {table} WHERE user_id = %(user_id)s"
)


class RefusedUsers:
    """The kit's `TokenRevocations`: the table `refused_users` in the service's database."""

    def __init__(self, datastore: PostgresDatastore) -> None:
        self.datastore = datastore
        with datastore.transaction(commit=True) as cursor:
            cursor.execute(self._sql(_CREATE))

    def _sql(self, statement: LiteralString) -> Composed:
        return SQL(statement).format(table=Identifier(self.datastore.schema, TABLE))

    # --- changes, from identity's events ------------------------------------------------------

    def disabled(self, user_id: UUID, at: datetime) -> None:
        """The account was disabled at `at`: refuse all its tokens until it is enabled."""
        self._change(user_id, disabled=True, disabled_changed_at=at, not_before=at, reason=DISABLED)

    def enabled(self, user_id: UUID, at: datetime) -> None:
        """The account was enabled at `at`; tokens issued before its disabling stay refused."""
        self._change(user_id, disabled=False, disabled_changed_at=at)

    def tokens_invalidated(self, user_id: UUID, at: datetime, reason: str) -> None:
        """Refuse the user's tokens issued at or before `at`, saying `reason`."""
        self._change(user_id, not_before=at, reason=reason)

    def _change(
        self,
        user_id: UUID,
        *,
        disabled: bool | None = None,
        disabled_changed_at: datetime | None = None,
        not_before: datetime | None = None,
        reason: str | None = None,
    ) -> None:
        params = {
            "user_id": user_id,
            "disabled": disabled,
            "disabled_changed_at": disabled_changed_at,
            "not_before": not_before,
            "reason": reason,
        }
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(self._sql(_CHANGE), params)

    # --- the question every authenticated request asks ----------------------------------------

    def refusal(self, principal: Principal) -> str | None:
        with self.datastore.get_connection() as connection, connection.cursor() as cursor:
            cursor.execute(self._sql(_LOOK_UP), {"user_id": principal.user_id})
            row: dict[str, Any] | None = cursor.fetchone()
        if row is None:
            return None
        if row["disabled"]:
            return DISABLED
        not_before: datetime | None = row["not_before"]
        if not_before is None:
            return None
        if principal.issued_at is None or principal.issued_at <= not_before.timestamp():
            return row["not_before_reason"]
        return None


def refusal_handlers(refused: RefusedUsers) -> dict[type[Contract], Handler]:
    """The consumer's handlers that keep `refused` up to date from identity's events."""
    return {
        UserDisabledV1: lambda _, event: refused.disabled(event.user_id, event.disabled_at),
        UserEnabledV1: lambda _, event: refused.enabled(event.user_id, event.enabled_at),
        PasswordChangedV1: lambda _, event: refused.tokens_invalidated(
            event.user_id, event.changed_at, PASSWORD_CHANGED
        ),
        StaffUpdatedV1: lambda _, event: refused.tokens_invalidated(
            event.user_id, event.updated_at, ROLE_CHANGED
        ),
    }
