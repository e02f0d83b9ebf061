"""The log-in throttle (SPEC ID-1, issue 6; ASVS 5.0 V6.1.1, V6.3.1): limits per (account,
address) and per address, a progressive delay per account instead of a lock, attempts counted
atomically with the check, and the client address only from trusted proxies."""

from __future__ import annotations

import ipaddress
import uuid
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import pytest
from eventsourcing.postgres import PostgresDatastore
from identity_service.domainmodel import LoginThrottled
from identity_service.throttle import (
    PostgresThrottle,
    ThrottleLimits,
    client_address,
    parse_networks,
    throttle_key,
)

GATEWAY = parse_networks("127.0.0.1/32,::1/128")


def new_address() -> str:
    return str(ipaddress.IPv4Address(0x0A000000 + uuid.uuid4().int % 0xFFFFFF))


# --- the client's address (ASVS 5.0 V6.3.1: the key is what an attacker cannot choose) ---------


def test_a_peer_that_is_not_a_trusted_proxy_is_the_client_whatever_it_claims():
    assert client_address("203.0.113.9", ["10.0.0.1"], GATEWAY) == "203.0.113.9"
    assert client_address("203.0.113.9", [], ()) == "203.0.113.9"
    assert client_address("127.0.0.1", ["10.0.0.1"], ()) == "127.0.0.1"  # none trusted


def test_behind_the_gateway_the_hop_it_appended_is_the_client_not_what_the_client_claimed():
    """The client sent `X-Forwarded-For: 1.2.3.4`; nginx appended the peer it saw."""
    assert client_address("127.0.0.1", ["1.2.3.4, 198.51.100.7"], GATEWAY) == "198.51.100.7"
    assert client_address("127.0.0.1", ["1.2.3.4", "198.51.100.7"], GATEWAY) == "198.51.100.7"


def test_trusted_hops_are_walked_from_the_right():
    proxies = parse_networks("127.0.0.1/32,10.0.0.0/8")
    hops = ["6.6.6.6, 198.51.100.7, 10.1.1.1"]
    assert client_address("127.0.0.1", hops, proxies) == "198.51.100.7"
    assert client_address("127.0.0.1", ["10.2.2.2, 10.1.1.1"], proxies) == "10.2.2.2"


def test_a_hop_that_is_not_an_address_ends_the_walk_at_the_last_believable_one():
    assert client_address("127.0.0.1", ["unknown"], GATEWAY) == "127.0.0.1"
    assert client_address("127.0.0.1", ["1.2.3.4, nonsense"], GATEWAY) == "127.0.0.1"
    assert client_address(None, ["1.2.3.4"], GATEWAY) == "unknown"


def test_trusted_proxies_must_be_addresses_or_networks():
    assert parse_networks("") == ()
    assert [str(n) for n in parse_networks(" 127.0.0.1 , ::1/128")] == ["127.0.0.1/32", "::1/128"]
    with pytest.raises(ValueError, match="gateway"):
        parse_networks("127.0.0.1,gateway")


def test_ipv6_clients_are_counted_per_64_block():
    assert throttle_key("2001:db8:1:2:aaaa::1") == throttle_key("2001:db8:1:2:bbbb::9")
    assert throttle_key("2001:db8:1:2::1") == "2001:db8:1:2::/64"
    assert throttle_key("::ffff:198.51.100.7") == "198.51.100.7"
    assert throttle_key("198.51.100.7") == "198.51.100.7"


def test_the_delay_grows_with_the_accounts_failures_and_is_capped():
    limits = ThrottleLimits(delay_free_failures=3, delay_first_seconds=0.25, delay_max_seconds=4)
    delays = [limits.delay_after(n) for n in range(12)]
    assert delays[:3] == [0, 0, 0]
    assert delays[3:8] == [0.25, 0.5, 1, 2, 4]
    assert set(delays[8:]) == {4} and limits.delay_after(10_000) == 4


# --- the throttle on PostgreSQL -------------------------------------------------------------


@pytest.fixture(scope="module")
def datastore(infra, fresh_database):
    env = infra.pg_env(fresh_database("throttle"))
    store = PostgresDatastore(
        dbname=env["POSTGRES_DBNAME"],
        host=env["POSTGRES_HOST"],
        port=env["POSTGRES_PORT"],
        user=env["POSTGRES_USER"],
        password=env["POSTGRES_PASSWORD"],
        pool_size=4,
        max_overflow=60,
    )
    yield store
    store.close()


@pytest.fixture
def throttle(datastore):
    throttle = PostgresThrottle(datastore, ThrottleLimits())
    throttle.create_table()
    return throttle


def account() -> str:
    return f"m-{uuid.uuid4().hex[:8]}@example.gr"


def fail(throttle: PostgresThrottle, who: str, address: str) -> float:
    attempt = throttle.reserve(who, address)
    attempt.failed()
    return attempt.delay_seconds


def test_v6_3_1_a_guesser_is_stopped_per_account_and_address_not_the_owner(throttle):
    """ASVS 5.0 V6.1.1, V6.3.1: 5 failures for (account, A) make A wait; the account is not
    locked: from B the owner may try, only somewhat delayed."""
    who, attacker, owner = account(), new_address(), new_address()
    for _ in range(5):
        fail(throttle, who, attacker)
    with pytest.raises(LoginThrottled) as throttled:
        throttle.reserve(who, attacker)
    assert 890 <= throttled.value.retry_after_seconds <= 900
    attempt = throttle.reserve(who, owner)
    assert 0 < attempt.delay_seconds <= 4
    attempt.succeeded()
    throttle.reserve(account(), attacker).failed()  # other accounts from A: not this limit


def test_an_address_is_stopped_after_30_failures_against_any_accounts(throttle):
    """Password spraying (and probing which addresses are registered) from one place; a success
    there does not reset the count."""
    address = new_address()
    for _ in range(29):
        fail(throttle, account(), address)
    throttle.reserve(account(), address).succeeded()
    fail(throttle, account(), address)
    with pytest.raises(LoginThrottled):
        throttle.reserve(account(), address)
    throttle.reserve(account(), new_address()).failed()


def test_the_owners_success_forgives_their_own_typos_at_that_address(throttle):
    who, address = account(), new_address()
    for _ in range(4):
        fail(throttle, who, address)
    throttle.reserve(who, address).succeeded()
    for _ in range(5):
        fail(throttle, who, address)
    with pytest.raises(LoginThrottled):
        throttle.reserve(who, address)


def test_the_accounts_delay_counts_failures_from_every_address(throttle):
    who = account()
    delays = [fail(throttle, who, new_address()) for _ in range(8)]
    assert delays == [0, 0, 0, 0.25, 0.5, 1, 2, 4]


def test_v6_3_1_parallel_guesses_are_counted_atomically(throttle):
    """issue 6: a burst of 50 parallel guesses for one account from one address: no more than
    the limit (5) get a reservation, i.e. reach the password check."""
    who, address = account(), new_address()
    all_at_once = Barrier(50)

    def guess(_: int) -> str:
        all_at_once.wait()
        try:
            attempt = throttle.reserve(who, address)
        except LoginThrottled:
            return "throttled"
        attempt.failed()
        return "checked"

    with ThreadPoolExecutor(max_workers=50) as pool:
        outcomes = list(pool.map(guess, range(50)))
    assert outcomes.count("checked") == 5
    assert outcomes.count("throttled") == 45
