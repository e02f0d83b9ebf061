"""Identity's read models (the log-in throttle's table is in throttle.py).

- `UsersView`, fed by `UsersProjection`: the staff's user search (SPEC ID-4).
- `RevokedTokensView`, fed by `RevokedTokensProjection`: which tokens identity refuses before
  they expire (ASVS 5.0 V7.4.1, V7.4.2): the ids of logged-out tokens, disabled users, and per
  user the instant before which every token is refused (password change, staff update,
  disabling). It is the kit's `TokenRevocations` for identity (`refusal`).
  Both are projected from the User events with the tracking row in the same transaction (exactly
  once, rebuildable from zero); each view's table is its projection's name.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import singledispatchmethod
from typing import Any, ClassVar, LiteralString
from uuid import UUID

from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.projection import Projection
from portal_events.views import PostgresView
from portal_web.auth import Principal
from psycopg.sql import SQL, Identifier

from identity_service.domainmodel import User, display_name


class UsersView(PostgresView):
    """One row per account: what a clerk searches by (e-mail, name, ΑΦΜ) and sees in a list."""

    ddl = (
        "CREATE TABLE IF NOT EXISTS {table} ("
        " user_id uuid PRIMARY KEY, kind text NOT NULL, role text NOT NULL,"
        " email text NOT NULL, department text, display_name text, afm text,"
        " profile_complete boolean NOT NULL DEFAULT false,"
        " verified boolean NOT NULL DEFAULT false, registered_at timestamptz NOT NULL)",
        # Added with account management (issue 6); tables made before it lack the column.
        "ALTER TABLE {table} ADD COLUMN IF NOT EXISTS disabled boolean NOT NULL DEFAULT false",
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

    def set_disabled(self, user_id: UUID, disabled: bool, tracking: Tracking) -> None:
        self.write(
            "UPDATE {table} SET disabled = %(disabled)s WHERE user_id = %(user_id)s",
            {"user_id": user_id, "disabled": disabled},
            tracking,
        )

    def set_staff(
        self, user_id: UUID, role: str, department: str | None, tracking: Tracking
    ) -> None:
        self.write(
            "UPDATE {table} SET role = %(role)s, department = %(department)s"
            " WHERE user_id = %(user_id)s",
            {"user_id": user_id, "role": role, "department": department},
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
            " profile_complete, verified, disabled, registered_at",
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
        User.Disabled.TOPIC,
        User.Enabled.TOPIC,
        User.StaffUpdated.TOPIC,
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

    @process_event.register(User.Disabled)
    def _(self, event: User.Disabled, tracking: Tracking) -> None:
        self.view.set_disabled(event.originator_id, True, tracking)

    @process_event.register(User.Enabled)
    def _(self, event: User.Enabled, tracking: Tracking) -> None:
        self.view.set_disabled(event.originator_id, False, tracking)

    @process_event.register(User.StaffUpdated)
    def _(self, event: User.StaffUpdated, tracking: Tracking) -> None:
        self.view.set_staff(event.originator_id, event.role, event.department, tracking)


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
    """The tokens identity refuses before they expire (ASVS 5.0 V7.4.1, V7.4.2).

    Two tables: `{table}`, the ids of logged-out tokens, each kept until the token expires
    anyway; and `{table}_users`, per user whether the account is disabled and the instant at or
    before which every token it was issued is refused, with the reason.
    """

    ddl = (
        "CREATE TABLE IF NOT EXISTS {table} ("
        " jti text PRIMARY KEY, user_id uuid NOT NULL, expires_at timestamptz NOT NULL)",
    )

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self._users = Identifier(datastore.schema, f"{self.table_name}_users")
        self.check_identifier_length(f"{self.table_name}_users")
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {users} (user_id uuid PRIMARY KEY,"
                " disabled boolean NOT NULL DEFAULT false,"
                " refused_until timestamptz, refused_because text)"
            ).format(users=self._users)
        )

    def revoke(
        self, jti: str, user_id: UUID, expires_at: datetime, at: datetime, tracking: Tracking
    ) -> None:
        """Record a logged-out token. Entries expired by `at`, the event's time, are useless (the
        token is refused anyway), so they are swept here; by the event's time rather than the
        clock's, so that a rebuild from zero sweeps the same ones (issue 10)."""
        self.write(
            "WITH swept AS (DELETE FROM {table} WHERE expires_at < %(at)s)"
            " INSERT INTO {table} VALUES (%(jti)s, %(user_id)s, %(expires_at)s)"
            " ON CONFLICT (jti) DO NOTHING",
            {"jti": jti, "user_id": user_id, "expires_at": expires_at, "at": at},
            tracking,
        )

    def refuse_until(
        self,
        user_id: UUID,
        until: datetime,
        because: str,
        tracking: Tracking,
        *,
        disabled: bool | None = None,
    ) -> None:
        """Refuse the user's tokens issued at or before `until`; set `disabled` if given."""
        self._write_user(
            "INSERT INTO {users} AS u (user_id, disabled, refused_until, refused_because)"
            " VALUES (%(user_id)s, coalesce(%(disabled)s, false), %(until)s, %(because)s)"
            " ON CONFLICT (user_id) DO UPDATE SET disabled = coalesce(%(disabled)s, u.disabled),"
            " refused_until = greatest(u.refused_until, excluded.refused_until),"
            " refused_because = CASE WHEN u.refused_until > excluded.refused_until"
            " THEN u.refused_because ELSE excluded.refused_because END",
            {"user_id": user_id, "until": until, "because": because, "disabled": disabled},
            tracking,
        )

    def enable(self, user_id: UUID, tracking: Tracking) -> None:
        self._write_user(
            "UPDATE {users} SET disabled = false WHERE user_id = %(user_id)s",
            {"user_id": user_id},
            tracking,
        )

    def _write_user(
        self, statement: LiteralString, params: dict[str, Any], tracking: Tracking
    ) -> None:
        with self.changing() as curs:  # the read model's batch, if one is open
            curs.execute(SQL(statement).format(users=self._users), params, prepare=True)
            self.track(curs, tracking)

    def refusal(self, principal: Principal) -> str | None:
        """The kit's `TokenRevocations`: None to accept the token, else why it is refused.
        Tokens carry their issue time in whole seconds (`iat`), so a token issued in the second
        of a change is refused too; the log-in route never issues one (see api.log_in)."""
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(
                SQL(
                    "SELECT EXISTS (SELECT 1 FROM {revoked} WHERE jti = %(jti)s) AS logged_out,"
                    " u.disabled, floor(extract(epoch FROM u.refused_until))::bigint AS until,"
                    " u.refused_because"
                    " FROM (SELECT 1) AS one LEFT JOIN {users} AS u ON u.user_id = %(user_id)s"
                ).format(revoked=self._table, users=self._users),
                {"jti": principal.token_id or "", "user_id": principal.user_id},
            )
            row = curs.fetchone()
        if row["logged_out"]:
            return "logged out"
        if row["disabled"]:
            return "account disabled"
        if row["until"] is not None and (principal.issued_at or 0) <= row["until"]:
            return str(row["refused_because"])
        return None


class RevokedTokensProjection(Projection[RevokedTokensView]):
    name = "revoked_tokens"
    topics = (
        User.TokenRevoked.TOPIC,
        User.PasswordChanged.TOPIC,
        User.Disabled.TOPIC,
        User.Enabled.TOPIC,
        User.StaffUpdated.TOPIC,
    )

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        """Events of other topics are never delivered here (see `topics`)."""

    @process_event.register(User.TokenRevoked)
    def _(self, event: User.TokenRevoked, tracking: Tracking) -> None:
        self.view.revoke(
            event.jti, event.originator_id, event.expires_at, event.timestamp, tracking
        )

    @process_event.register(User.PasswordChanged)
    def _(self, event: User.PasswordChanged, tracking: Tracking) -> None:
        self.view.refuse_until(event.originator_id, event.timestamp, "password changed", tracking)

    @process_event.register(User.Disabled)
    def _(self, event: User.Disabled, tracking: Tracking) -> None:
        self.view.refuse_until(
            event.originator_id, event.timestamp, "account disabled", tracking, disabled=True
        )

    @process_event.register(User.Enabled)
    def _(self, event: User.Enabled, tracking: Tracking) -> None:
        self.view.enable(event.originator_id, tracking)

    @process_event.register(User.StaffUpdated)
    def _(self, event: User.StaffUpdated, tracking: Tracking) -> None:
        self.view.refuse_until(event.originator_id, event.timestamp, "role changed", tracking)
