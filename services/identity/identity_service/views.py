"""Identity's PostgreSQL tables outside the event store.

- `UsersView`, fed by `UsersProjection`: the staff's user search (SPEC ID-4).
- `RevokedTokensView`, fed by `RevokedTokensProjection`: the ids of tokens whose holders logged
  out (ID-1), refused by identity until they expire.
  Both are projected from the User events with the tracking row in the same transaction (exactly
  once, rebuildable from zero); each view's table is its projection's name.
- `LoginThrottle`: recent log-in failures (ID-1, expected). Deliberately not event-sourced: it is
  short-lived operational state shared by every identity process, not a fact worth keeping.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from functools import singledispatchmethod
from typing import Any, ClassVar, LiteralString
from uuid import UUID

from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.projection import Projection
from portal_events.application import ServiceApplication
from portal_events.schema import creating_tables
from portal_events.views import PostgresView
from psycopg.sql import SQL, Identifier

from identity_service.domainmodel import User, display_name
from identity_service.settings import IdentitySettings


class UsersView(PostgresView):
    """One row per account: what a clerk searches by (e-mail, name, ΑΦΜ) and sees in a list."""

    ddl = (
        "CREATE TABLE IF NOT EXISTS {table} ("
        " user_id uuid PRIMARY KEY, kind text NOT NULL, role text NOT NULL,"
        " email text NOT NULL, department text, display_name text, afm text,"
        " profile_complete boolean NOT NULL DEFAULT false,"
        " verified boolean NOT NULL DEFAULT false, registered_at timestamptz NOT NULL)",
    )
    # Searches are answered in e-mail order, a page at a time.
    indexes: ClassVar[Mapping[str, LiteralString]] = {"email": "email"}

    def add_user(self, row: dict[str, Any], tracking: Tracking) -> None:
        self.write(
            "INSERT INTO {table} (user_id, kind, role, email, department, registered_at)"
            " VALUES (%(user_id)s, %(kind)s, %(role)s, %(email)s, %(department)s,"
            " %(registered_at)s) ON CONFLICT (user_id) DO NOTHING",
            row,
            tracking,
        )

    def set_profile(
        self, user_id: UUID, name: str | None, afm: str | None, complete: bool, tracking: Tracking
    ) -> None:
        self.write(
            "UPDATE {table} SET display_name = %(name)s, afm = %(afm)s,"
            " profile_complete = %(complete)s WHERE user_id = %(user_id)s",
            {"user_id": user_id, "name": name, "afm": afm, "complete": complete},
            tracking,
        )

    def set_verified(self, user_id: UUID, verified: bool, tracking: Tracking) -> None:
        self.write(
            "UPDATE {table} SET verified = %(verified)s WHERE user_id = %(user_id)s",
            {"user_id": user_id, "verified": verified},
            tracking,
        )

    def search(self, q: str | None, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        """Users whose e-mail, name or ΑΦΜ contains `q` (all users without `q`), by e-mail."""
        pattern = None
        if q:
            escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            pattern = f"%{escaped}%"
        return self.select_page(
            columns="user_id, kind, role, email, department, display_name, afm,"
            " profile_complete, verified, registered_at",
            where="WHERE %(pattern)s::text IS NULL OR email ILIKE %(pattern)s"
            " OR display_name ILIKE %(pattern)s OR afm LIKE %(pattern)s",
            order_by="email",
            params={"pattern": pattern},
            limit=limit,
            offset=offset,
        )


class UsersProjection(Projection[UsersView]):
    name = "users"
    topics = (
        User.Registered.TOPIC,
        User.StaffCreated.TOPIC,
        User.ProfileUpdated.TOPIC,
        User.Verified.TOPIC,
        User.VerificationRevoked.TOPIC,
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


def _new_row(event: Any, kind: str, role: str, department: str | None) -> dict[str, Any]:
    return {
        "user_id": event.originator_id,
        "kind": kind,
        "role": role,
        "email": event.email,
        "department": department,
        "registered_at": event.timestamp,
    }


class RevokedTokensView(PostgresView):
    """The ids of logged-out tokens, each kept until the token expires anyway."""

    ddl = (
        "CREATE TABLE IF NOT EXISTS {table} ("
        " jti text PRIMARY KEY, user_id uuid NOT NULL, expires_at timestamptz NOT NULL)",
    )

    def revoke(self, jti: str, user_id: UUID, expires_at: datetime, tracking: Tracking) -> None:
        # Expired entries are useless (the token is refused anyway), so they are swept here.
        self.write(
            "WITH swept AS (DELETE FROM {table} WHERE expires_at < now())"
            " INSERT INTO {table} VALUES (%(jti)s, %(user_id)s, %(expires_at)s)"
            " ON CONFLICT (jti) DO NOTHING",
            {"jti": jti, "user_id": user_id, "expires_at": expires_at},
            tracking,
        )

    def is_revoked(self, jti: str) -> bool:
        return bool(self.select("SELECT 1 FROM {table} WHERE jti = %(jti)s", {"jti": jti}))


class RevokedTokensProjection(Projection[RevokedTokensView]):
    name = "revoked_tokens"
    topics = (User.TokenRevoked.TOPIC,)

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        if isinstance(domain_event, User.TokenRevoked):
            self.view.revoke(
                domain_event.jti, domain_event.originator_id, domain_event.expires_at, tracking
            )


class LoginThrottle:
    """Counts log-in failures per account and per client address over a sliding window."""

    table_name = "login_failures"

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
        self.table = SQL("{}.{}").format(Identifier(datastore.schema), Identifier(self.table_name))

    @classmethod
    def of(cls, application: ServiceApplication, settings: IdentitySettings) -> LoginThrottle:
        """The throttle in the Application's database, its table created if need be."""
        throttle = cls(
            application.recorder.datastore,  # type: ignore[attr-defined]
            window_seconds=settings.login_window_seconds,
            max_per_account=settings.login_max_failures_per_account,
            max_per_address=settings.login_max_failures_per_address,
        )
        creating_tables(throttle.create_table)
        return throttle

    def create_table(self) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                SQL(
                    "CREATE TABLE IF NOT EXISTS {} (key text NOT NULL,"
                    " failed_at timestamptz NOT NULL DEFAULT now());"
                    " CREATE INDEX IF NOT EXISTS {} ON {} (key, failed_at)"
                ).format(self.table, Identifier(f"{self.table_name}_key"), self.table)
            )

    @staticmethod
    def _keys(account: str, address: str) -> dict[str, str]:
        return {"account": f"account:{account}", "address": f"address:{address}"}

    def retry_after(self, account: str, address: str) -> int | None:
        """Seconds until a log-in may be tried again, or None when it may be tried now."""
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
        """After a successful log-in the account starts afresh; the address keeps its count."""
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                SQL("DELETE FROM {} WHERE key = %s").format(self.table),
                (self._keys(account, "")["account"],),
            )
