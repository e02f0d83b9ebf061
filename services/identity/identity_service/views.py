"""Identity's PostgreSQL tables outside the event store.

- `UsersView` + `UsersProjection`: the staff's user search (SPEC ID-4) and the revoked token ids
  (logout, ID-1), projected from the User events with the tracking row in the same transaction
  (exactly once, rebuildable from zero).
- `LoginThrottle`: recent login failures (ID-1, expected). Deliberately not event-sourced: it is
  short-lived operational state shared by every identity process, not a fact worth keeping.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import singledispatchmethod
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.projection import Projection
from psycopg.sql import SQL, Composable, Identifier

from identity_service.domainmodel import User, display_name

USERS_TABLE = "identity_users"
REVOKED_TABLE = "identity_revoked_tokens"
THROTTLE_TABLE = "identity_login_failures"
_COUNT_USERS = "SELECT count(*) AS n FROM {users}"
_SELECT_USERS = "SELECT * FROM {users}"
_PAGE = " ORDER BY email LIMIT %(limit)s OFFSET %(offset)s"


@dataclass(frozen=True)
class UserRow:
    user_id: UUID
    kind: str
    role: str
    email: str
    department: str | None
    display_name: str | None
    afm: str | None
    profile_complete: bool
    verified: bool
    registered_at: datetime


class UsersView(PostgresTrackingRecorder):
    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self.sql_create_statements += [
            self._sql(
                "CREATE TABLE IF NOT EXISTS {users} ("
                " user_id uuid PRIMARY KEY, kind text NOT NULL, role text NOT NULL,"
                " email text NOT NULL, department text, display_name text, afm text,"
                " profile_complete boolean NOT NULL DEFAULT false,"
                " verified boolean NOT NULL DEFAULT false, registered_at timestamptz NOT NULL)"
            ),
            self._sql(
                "CREATE TABLE IF NOT EXISTS {revoked} ("
                " jti text PRIMARY KEY, user_id uuid NOT NULL, expires_at timestamptz NOT NULL)"
            ),
        ]

    def _sql(self, template: str) -> Composable:
        schema = Identifier(self.datastore.schema)
        return SQL(template).format(
            users=SQL("{}.{}").format(schema, Identifier(USERS_TABLE)),
            revoked=SQL("{}.{}").format(schema, Identifier(REVOKED_TABLE)),
        )

    def _write(self, tracking: Tracking, *steps: tuple[str, dict[str, Any]]) -> None:
        """Change the view and record the position in one transaction (exactly once)."""
        with self.datastore.transaction(commit=True) as curs:
            for template, params in steps:
                curs.execute(self._sql(template), params)
            self._insert_tracking(curs, tracking)

    # --- writes (from the projection) ---------------------------------------------------------

    def add_user(self, row: UserRow, tracking: Tracking) -> None:
        self._write(
            tracking,
            (
                "INSERT INTO {users} VALUES (%(user_id)s, %(kind)s, %(role)s, %(email)s,"
                " %(department)s, %(display_name)s, %(afm)s, %(profile_complete)s, %(verified)s,"
                " %(registered_at)s) ON CONFLICT (user_id) DO NOTHING",
                vars(row),
            ),
        )

    def set_profile(
        self, user_id: UUID, name: str | None, afm: str | None, complete: bool, tracking: Tracking
    ) -> None:
        self._write(
            tracking,
            (
                "UPDATE {users} SET display_name = %(name)s, afm = %(afm)s,"
                " profile_complete = %(complete)s WHERE user_id = %(user_id)s",
                {"user_id": user_id, "name": name, "afm": afm, "complete": complete},
            ),
        )

    def set_verified(self, user_id: UUID, verified: bool, tracking: Tracking) -> None:
        self._write(
            tracking,
            (
                "UPDATE {users} SET verified = %(verified)s WHERE user_id = %(user_id)s",
                {"user_id": user_id, "verified": verified},
            ),
        )

    def revoke_token(
        self, jti: str, user_id: UUID, expires_at: datetime, tracking: Tracking
    ) -> None:
        # Expired entries are useless (the token is refused anyway), so they are swept here.
        self._write(
            tracking,
            ("DELETE FROM {revoked} WHERE expires_at < now()", {}),
            (
                "INSERT INTO {revoked} VALUES (%(jti)s, %(user_id)s, %(expires_at)s)"
                " ON CONFLICT (jti) DO NOTHING",
                {"jti": jti, "user_id": user_id, "expires_at": expires_at},
            ),
        )

    # --- reads --------------------------------------------------------------------------------

    def is_revoked(self, jti: str) -> bool:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(self._sql("SELECT 1 FROM {revoked} WHERE jti = %s"), (jti,))
            return curs.fetchone() is not None

    def search(self, q: str | None, limit: int, offset: int) -> tuple[list[UserRow], int]:
        """Users whose e-mail, name or ΑΦΜ contains `q` (all users without `q`), by e-mail."""
        pattern = None
        if q:
            escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            pattern = f"%{escaped}%"
        params = {"pattern": pattern, "limit": limit, "offset": offset}
        matches = (
            " WHERE %(pattern)s::text IS NULL OR email ILIKE %(pattern)s"
            " OR display_name ILIKE %(pattern)s OR afm LIKE %(pattern)s"
        )
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(self._sql(_COUNT_USERS + matches), params)
            total = curs.fetchone()["n"]
            curs.execute(self._sql(_SELECT_USERS + matches + _PAGE), params)
            return [UserRow(**row) for row in curs.fetchall()], total


class UsersProjection(Projection[UsersView]):
    name = "identity_users"
    topics = (
        User.Registered.TOPIC,
        User.StaffCreated.TOPIC,
        User.ProfileUpdated.TOPIC,
        User.Verified.TOPIC,
        User.VerificationRevoked.TOPIC,
        User.TokenRevoked.TOPIC,
    )

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        """Events of other topics are never delivered here (see `topics`)."""

    @process_event.register(User.Registered)
    def _(self, event: User.Registered, tracking: Tracking) -> None:
        self.view.add_user(_new_row(event, event.kind, event.kind, None), tracking)

    @process_event.register(User.StaffCreated)
    def _(self, event: User.StaffCreated, tracking: Tracking) -> None:
        self.view.add_user(_new_row(event, "staff", event.role, event.department), tracking)

    @process_event.register(User.ProfileUpdated)
    def _(self, event: User.ProfileUpdated, tracking: Tracking) -> None:
        name = display_name(event.kind, event.profile)
        self.view.set_profile(
            event.originator_id, name, event.profile.get("afm"), event.profile_complete, tracking
        )

    @process_event.register(User.Verified)
    def _(self, event: User.Verified, tracking: Tracking) -> None:
        self.view.set_verified(event.originator_id, True, tracking)

    @process_event.register(User.VerificationRevoked)
    def _(self, event: User.VerificationRevoked, tracking: Tracking) -> None:
        self.view.set_verified(event.originator_id, False, tracking)

    @process_event.register(User.TokenRevoked)
    def _(self, event: User.TokenRevoked, tracking: Tracking) -> None:
        self.view.revoke_token(event.jti, event.originator_id, event.expires_at, tracking)


def _new_row(event: Any, kind: str, role: str, department: str | None) -> UserRow:
    return UserRow(
        user_id=event.originator_id,
        kind=kind,
        role=role,
        email=event.email,
        department=department,
        display_name=None,
        afm=None,
        profile_complete=False,
        verified=False,
        registered_at=event.timestamp,
    )


class LoginThrottle:
    """Counts login failures per account and per client address over a sliding window."""

    def __init__(
        self,
        datastore: PostgresDatastore,
        *,
        window_seconds: int,
        max_per_account: int,
        max_per_address: int,
    ) -> None:
        self.datastore = datastore
        self.window = timedelta(seconds=window_seconds)
        self.limits = {"account": max_per_account, "address": max_per_address}
        self.table = SQL("{}.{}").format(Identifier(datastore.schema), Identifier(THROTTLE_TABLE))

    def create_table(self) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                SQL(
                    "CREATE TABLE IF NOT EXISTS {} (key text NOT NULL,"
                    " failed_at timestamptz NOT NULL DEFAULT now());"
                    " CREATE INDEX IF NOT EXISTS {} ON {} (key, failed_at)"
                ).format(self.table, Identifier(f"{THROTTLE_TABLE}_key"), self.table)
            )

    @staticmethod
    def _keys(account: str, address: str) -> dict[str, str]:
        return {"account": f"account:{account}", "address": f"address:{address}"}

    def retry_after(self, account: str, address: str) -> int | None:
        """Seconds until a login may be tried again, or None when it may be tried now."""
        keys = self._keys(account, address)
        now = datetime.now(UTC)
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                SQL(
                    "SELECT key, count(*) AS n, min(failed_at) AS oldest FROM {}"
                    " WHERE key = ANY(%s) AND failed_at > %s GROUP BY key"
                ).format(self.table),
                (list(keys.values()), now - self.window),
            )
            rows = {row["key"]: row for row in curs.fetchall()}
        waits = [
            (rows[key]["oldest"] + self.window - now).total_seconds()
            for kind, key in keys.items()
            if key in rows and rows[key]["n"] >= self.limits[kind]
        ]
        return max(1, math.ceil(max(waits))) if waits else None

    def record_failure(self, account: str, address: str) -> None:
        keys = list(self._keys(account, address).values())
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                SQL("DELETE FROM {} WHERE key = ANY(%s) AND failed_at < %s").format(self.table),
                (keys, datetime.now(UTC) - self.window),
            )
            curs.executemany(
                SQL("INSERT INTO {} (key) VALUES (%s)").format(self.table), [(key,) for key in keys]
            )

    def forget_account(self, account: str) -> None:
        """After a successful login the account starts afresh; the address keeps its count."""
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                SQL("DELETE FROM {} WHERE key = %s").format(self.table),
                (self._keys(account, "")["account"],),
            )
