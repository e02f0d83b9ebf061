"""Log-in throttling (SPEC ID-1; ASVS 5.0 V6.1.1, V6.3.1): brute force is slowed down without
letting anyone lock an account's owner out.

Three rules, over a sliding window (LOGIN_WINDOW_SECONDS, default 15 minutes):

- per (account, client address): after LOGIN_MAX_FAILURES_PER_ACCOUNT_ADDRESS failures
  (default 5) that pair is answered 429 with Retry-After. Whoever guesses one account from one
  place stops there; the owner, elsewhere, is not affected.
- per client address: after LOGIN_MAX_FAILURES_PER_ADDRESS failures (default 30, against any
  accounts) the address is answered 429. It bounds password spraying and probing which
  addresses are registered from one place; a success does not reset it (an attacker's own
  account must not launder the count). IPv6 clients count per /64, the block one subscriber has.
- per account, from every address: no lock, a progressive delay. After
  LOGIN_DELAY_FREE_FAILURES recent failures (default 3) each answer for the account waits
  0.25 s, doubling per further failure up to LOGIN_DELAY_MAX_SECONDS (default 4 s). The owner
  with the right password still gets in, a few seconds late at worst.

Atomicity: an attempt is *reserved* before the password is checked, in one transaction that
holds a PostgreSQL advisory lock per client address while it counts and inserts. Parallel
guesses from one address therefore queue on the lock and each sees the ones before it, so no
more than the limit ever reach the password check. The reservation stays as a failure unless
the check succeeds (`Attempt.succeeded`), which deletes it and forgives that pair's earlier
failures (the owner's own typos) - never the address's count.

Deliberately not event-sourced: short-lived operational state shared by every identity
process, not a fact worth keeping.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any, Protocol

from eventsourcing.postgres import PostgresDatastore
from psycopg.sql import SQL, Identifier

from identity_service.domainmodel import LoginThrottled

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class ThrottleLimits:
    """The rules of the module docstring, as IdentitySettings.throttle_limits sets them."""

    window_seconds: int = 900
    max_failures_per_account_address: int = 5
    max_failures_per_address: int = 30
    delay_free_failures: int = 3
    delay_first_seconds: float = 0.25
    delay_max_seconds: float = 4.0

    def delay_after(self, account_failures: int) -> float:
        """The wait before answering for an account with this many recent failures."""
        beyond = account_failures - self.delay_free_failures
        if beyond < 0:
            return 0.0
        return min(self.delay_max_seconds, self.delay_first_seconds * 2 ** min(beyond, 16))


class Attempt(Protocol):
    """One reserved log-in attempt: the password check reports its outcome here."""

    @property
    def delay_seconds(self) -> float: ...

    def succeeded(self) -> None: ...

    def failed(self) -> None: ...


# --- the client's address --------------------------------------------------------------------


@cache
def parse_networks(spec: str) -> tuple[IPNetwork, ...]:
    """`TRUSTED_PROXIES`: comma-separated IPs or CIDRs ("127.0.0.1/32,::1/128"); ValueError
    naming the entry that is neither."""
    networks = []
    for entry in (part.strip() for part in spec.split(",")):
        if entry:
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError as exc:
                raise ValueError(f"TRUSTED_PROXIES: {entry!r} is not an IP or CIDR") from exc
    return tuple(networks)


def client_address(
    peer: str | None, forwarded_for: Sequence[str], trusted: Sequence[IPNetwork]
) -> str:
    """The address of the client (ASVS 5.0 V6.3.1: the throttle must key on what an attacker
    cannot choose).

    Starting from the TCP peer and walking `X-Forwarded-For` from the right, every hop that is a
    trusted proxy passes the question on to the hop before it; the first one that is not is the
    client. A peer that is not a trusted proxy is the client, whatever the header says; so is
    the leftmost hop when every hop is trusted. A hop that is not an IP address ends the walk:
    nothing to its left can be believed, so the hop to its right answers.
    """
    hops = [hop.strip() for header in forwarded_for for hop in header.split(",") if hop.strip()]
    current = (peer or "").strip()
    if not current:
        return "unknown"
    while hops and _is_trusted(current, trusted):
        candidate = hops.pop()
        if _parse_ip(candidate) is None:
            break
        current = candidate
    return current


def throttle_key(address: str) -> str:
    """The key an address is counted under: IPv6 per /64 (one subscriber's block)."""
    ip = _parse_ip(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip) if ip is not None else address[:64]


def _parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _is_trusted(address: str, trusted: Sequence[IPNetwork]) -> bool:
    ip = _parse_ip(address)
    return ip is not None and any(ip in network for network in trusted)


# --- the PostgreSQL throttle -----------------------------------------------------------------


class PostgresThrottle:
    """The throttle's table in identity's database, shared by every identity process."""

    table_name = "login_attempts"

    def __init__(self, datastore: PostgresDatastore, limits: ThrottleLimits) -> None:
        self.datastore = datastore
        self.limits = limits
        self.window = timedelta(seconds=limits.window_seconds)
        self.table = Identifier(datastore.schema, self.table_name)

    def create_table(self) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                SQL(
                    "CREATE TABLE IF NOT EXISTS {table} (id bigserial PRIMARY KEY,"
                    " account text NOT NULL, address text NOT NULL,"
                    " attempted_at timestamptz NOT NULL DEFAULT now(),"
                    " forgiven boolean NOT NULL DEFAULT false);"
                    " CREATE INDEX IF NOT EXISTS {by_address} ON {table} (address, attempted_at);"
                    " CREATE INDEX IF NOT EXISTS {by_account} ON {table} (account, attempted_at);"
                    " CREATE INDEX IF NOT EXISTS {by_time} ON {table} (attempted_at);"
                    # The table of the throttle before this one (counted per account, locking
                    # owners out); nothing reads it any more.
                    " DROP TABLE IF EXISTS {previous}"
                ).format(
                    table=self.table,
                    by_address=Identifier(f"{self.table_name}_address"),
                    by_account=Identifier(f"{self.table_name}_account"),
                    by_time=Identifier(f"{self.table_name}_time"),
                    previous=Identifier(self.datastore.schema, "login_failures"),
                )
            )

    def reserve(self, account: str, address: str) -> PostgresAttempt:
        """Reserve an attempt (a failure until it succeeds) for `account` from `address`, or
        raise LoginThrottled when the pair or the address is over its limit."""
        address = throttle_key(address)
        limits = self.limits
        with self.datastore.transaction(commit=True) as curs:
            # One address at a time: its pair and address counts cannot move under us.
            curs.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0)), now() AS now",
                (f"identity.login:{address}",),
            )
            now: datetime = curs.fetchone()["now"]
            since = now - self.window
            curs.execute(
                SQL(
                    "SELECT attempted_at FROM {} WHERE account = %s AND address = %s"
                    " AND NOT forgiven AND attempted_at > %s ORDER BY attempted_at DESC LIMIT %s"
                ).format(self.table),
                (account, address, since, limits.max_failures_per_account_address),
            )
            pair = [row["attempted_at"] for row in curs.fetchall()]
            curs.execute(
                SQL(
                    "SELECT attempted_at FROM {} WHERE address = %s AND attempted_at > %s"
                    " ORDER BY attempted_at DESC LIMIT %s"
                ).format(self.table),
                (address, since, limits.max_failures_per_address),
            )
            by_address = [row["attempted_at"] for row in curs.fetchall()]
            # Over a limit: blocked until the limit-th latest failure leaves the window.
            waits = [
                (latest[-1] + self.window - now).total_seconds()
                for latest, limit in (
                    (pair, limits.max_failures_per_account_address),
                    (by_address, limits.max_failures_per_address),
                )
                if len(latest) >= limit
            ]
            if waits:
                raise LoginThrottled(max(1, math.ceil(max(waits))))
            curs.execute(
                SQL(
                    "SELECT count(*) AS n FROM {} WHERE account = %s AND NOT forgiven"
                    " AND attempted_at > %s"
                ).format(self.table),
                (account, since),
            )
            account_failures = curs.fetchone()["n"]
            curs.execute(
                SQL(
                    "INSERT INTO {} (account, address, attempted_at) VALUES (%s, %s, %s)"
                    " RETURNING id"
                ).format(self.table),
                (account, address, now),
            )
            attempt_id = curs.fetchone()["id"]
            self._sweep(curs, since)
        delay = limits.delay_after(account_failures)
        return PostgresAttempt(self, attempt_id, account, address, delay)

    def _sweep(self, curs: Any, since: datetime) -> None:
        """Forget attempts older than the window; one sweeper at a time, the others skip."""
        curs.execute(
            SQL(
                "WITH sweeper AS (SELECT pg_try_advisory_xact_lock(hashtextextended(%s, 0)) AS ok)"
                " DELETE FROM {} USING sweeper WHERE sweeper.ok AND attempted_at <= %s"
            ).format(self.table),
            ("identity.login:sweep", since),
        )

    def _succeeded(self, attempt: PostgresAttempt) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(SQL("DELETE FROM {} WHERE id = %s").format(self.table), (attempt.id,))
            curs.execute(
                SQL("UPDATE {} SET forgiven = true WHERE account = %s AND address = %s").format(
                    self.table
                ),
                (attempt.account, attempt.address),
            )


@dataclass(frozen=True)
class PostgresAttempt:
    throttle: PostgresThrottle
    id: int
    account: str
    address: str
    delay_seconds: float

    def succeeded(self) -> None:
        self.throttle._succeeded(self)

    def failed(self) -> None:
        """The reservation stays: it is the failure."""
