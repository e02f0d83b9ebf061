"""The gateway against a hostile visitor (issue 6, "Service to service" and "Gateway and local
stack hygiene"): no simulator behind the public listener; every answer the gateway makes itself
in the services' JSON error shape with X-Correlation-ID and security headers; per-address rate
limits on the password, registration and anonymous-submission calls and on the public check of
a certificate's verification code; no query strings in its
access log; the local stack's key, logs and database closed to other users.

Most tests go through the shared stack's gateway. Those that need services down or a burst that
would throttle everyone else on 127.0.0.1 use a gateway of their own (`lone_gateway`): the same
rendered configuration (`portal_stack.gateway`), its upstreams on closed ports.
"""

from __future__ import annotations

import os
import stat
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest
from portal_simulators.testing import free_port
from portal_stack import gateway as stack_gateway
from portal_stack.config import Config, service_list
from portal_stack.derived import LOCAL_GATEWAY_LIMITS
from portal_stack.services import SECRETS
from portal_stack.stack import ensure_secret

pytestmark = pytest.mark.integration

# The gateway's own answers (deploy/nginx/portal.conf.template), by status.
GATEWAY_CODES = {
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    429: "too_many_requests",
    502: "bad_gateway",
}
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}
MAX_BODY = 1024 * 1024  # client_max_body_size 1m


def assert_gateway_answer(response: httpx.Response, status: int) -> None:
    """The gateway's own answer: status, the error shape with its code, the correlation id and
    the security headers, each once."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"code", "message"}, body
    assert body["code"] == GATEWAY_CODES[status]
    assert body["message"]
    assert response.headers["x-correlation-id"]
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get_list(name) == [value], name


# --- the shared stack's gateway -----------------------------------------------------------


def test_no_simulator_or_bench_target_is_reachable_through_the_public_gateway(gateway, stack):
    # Issue 6: the registry's control endpoint switched numbering off for anyone.
    hidden = [p.name for p in service_list().processes if not p.public]
    assert {"protocol-registry", "noop"} <= set(hidden)
    probes = [
        ("PUT", "/protocol-registry/control", {"mode": "down"}),
        ("GET", "/protocol-registry/health", None),
        ("GET", f"/protocol-registry/registrations/{uuid.uuid4()}", None),
        ("POST", "/noop/echo", {}),
    ]
    for method, path, body in probes:
        assert_gateway_answer(gateway.request(method, path, json=body), 404)
    # Operators reach them on the listener bound to 127.0.0.1, and the registry stayed up.
    control = httpx.get(f"{stack.gateway_operators_url}/protocol-registry/control", timeout=5)
    assert control.status_code == 200 and control.json()["mode"] == "up"


def test_an_unknown_path_is_a_json_404_with_the_callers_correlation_id(gateway):
    for path in ("/admin", "/identityx/users", "/protocolx", "/portalx", "/requests/metrics"):
        response = gateway.get(path, headers={"X-Correlation-ID": "tour-42"})
        assert_gateway_answer(response, 404)
        assert response.headers["x-correlation-id"] == "tour-42"


def test_the_root_is_the_portals_home_page_in_greek(gateway):
    # Issue 11: `/` and `/portal/...` are the web pages; only the exact `/` of the bare root.
    response = gateway.get("/", headers={"X-Correlation-ID": "tour-43"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '<html lang="el">' in response.text
    assert response.headers["x-correlation-id"] == "tour-43"
    assert gateway.get("/portal/static/digigov.css").headers["content-type"].startswith("text/css")


def test_a_correlation_id_that_is_not_plain_is_replaced_at_the_edge(gateway):
    # It would otherwise reach logs and services as sent (portal_web.correlation's rule).
    response = gateway.get("/nowhere", headers={"X-Correlation-ID": 'x" onload="y'})
    assert_gateway_answer(response, 404)
    assert response.headers["x-correlation-id"].isalnum()


def test_a_body_over_one_megabyte_is_a_json_413_before_any_service_reads_it(gateway):
    response = gateway.post(
        "/requests/anonymous",
        content=b"{" + b" " * MAX_BODY + b"}",
        headers={"Content-Type": "application/json"},
    )
    assert_gateway_answer(response, 413)


def test_a_method_the_gateway_refuses_is_a_json_405(gateway):
    assert_gateway_answer(gateway.post("/health"), 405)
    assert_gateway_answer(gateway.request("TRACE", "/identity/health"), 405)


def test_a_services_own_error_passes_through_unchanged(gateway):
    # proxy_intercept_errors is off: the service's body and headers, not the gateway's.
    response = gateway.get("/requests/inbox")
    assert response.status_code == 401
    assert response.json()["code"] != "not_found"
    assert len(response.headers.get_list("x-correlation-id")) == 1
    for name in SECURITY_HEADERS:
        assert len(response.headers.get_list(name)) <= 1, name


def test_the_jwt_signing_key_logs_and_state_are_closed_to_other_users(stack):
    key = stack.jwt_private_key_file
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert key.parent.stat().st_mode & 0o007 == 0
    # Others may at most pass through (the postgres user, to its cluster and log): no listing.
    assert stack.state_dir.stat().st_mode & 0o006 == 0
    logs = stack.state_dir / "logs"
    assert logs.stat().st_mode & 0o006 == 0
    for log in logs.iterdir():
        assert log.stat().st_mode & 0o007 == 0, log


def test_postgresql_wants_the_password(stack):
    # SCRAM, not trust: another local user who can reach the port cannot just connect.
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(
            host=stack.pg_host, port=stack.pg_port, user=stack.pg_user, password="not-it"
        )
    with psycopg.connect(stack.pg_dsn("postgres")) as conn:
        encryption = conn.execute("SHOW password_encryption").fetchone()[0]
        stored = conn.execute(
            "SELECT rolpassword FROM pg_authid WHERE rolname = %s", (stack.pg_user,)
        ).fetchone()[0]
    assert encryption == "scram-sha-256"
    assert stored.startswith("SCRAM-SHA-256$")


# --- a gateway of its own ------------------------------------------------------------------


@dataclass(frozen=True)
class LoneGateway:
    url: str
    access_log: Path
    pages_key: str


@pytest.fixture(scope="module")
def lone_gateway(tmp_path_factory) -> Iterator[LoneGateway]:
    """The local stack's gateway configuration, rendered and run on ports of its own, with every
    process behind it on a port where nothing listens (down)."""
    state = tmp_path_factory.mktemp("gateway")
    ports = {
        "PORTAL_STATE_DIR": str(state),
        "PORTAL_GATEWAY_PORT": str(free_port()),
        "PORTAL_GATEWAY_OPERATORS_PORT": str(free_port()),
        **{f"PORTAL_{p.env_prefix}_PORT": str(free_port()) for p in service_list().processes},
    }
    with pytest.MonkeyPatch.context() as env:
        for name, value in ports.items():
            env.setenv(name, value)
        cfg = Config.from_env()
        for folder in (cfg.logs, cfg.run):
            folder.mkdir(parents=True)
        for name in SECRETS:
            ensure_secret(cfg.secret_file(name))
        stack_gateway.ensure_running(cfg, lambda _: None)
        try:
            yield LoneGateway(
                cfg.gateway_url, cfg.logs / "gateway-access.log", cfg.secret("portal_pages_key")
            )
        finally:
            stack_gateway.stop_server(cfg)


def test_a_service_that_is_down_is_a_json_502_with_a_correlation_id(lone_gateway):
    for path in ("/requests/health", "/identity/me", "/protocol/registrations"):
        response = httpx.get(lone_gateway.url + path, headers={"X-Correlation-ID": "down-1"})
        assert_gateway_answer(response, 502)
        assert response.headers["x-correlation-id"] == "down-1"


def _burst(
    url: str, method: str, count: int, parallel: int = 20, headers: dict[str, str] | None = None
) -> list[httpx.Response]:
    """`count` requests from one address, `parallel` at a time (threads: an asyncio client
    spends more time on its own pool than nginx on the requests)."""
    with (
        httpx.Client(
            timeout=30, limits=httpx.Limits(max_connections=parallel), headers=headers
        ) as client,
        ThreadPoolExecutor(parallel) as pool,
    ):
        return list(pool.map(lambda _: client.request(method, url, data={}), range(count)))


# Three times the local stack's burst allowance: the limit is met unless the client were
# slower than the allowed rate.
BURST = 3 * LOCAL_GATEWAY_LIMITS.login.burst


@pytest.mark.parametrize("path", ["/identity/token", "/identity/users", "/requests/anonymous"])
def test_a_burst_of_posts_from_one_address_meets_a_json_429_with_retry_after(lone_gateway, path):
    # Issue 6 / ASVS 5.0 V2.4.1: what passes the limit reaches the (down) service: 502.
    responses = _burst(lone_gateway.url + path, "POST", BURST)
    throttled = [r for r in responses if r.status_code == 429]
    assert throttled, "no request was limited"
    assert {r.status_code for r in responses} == {429, 502}
    for response in throttled:
        assert_gateway_answer(response, 429)
        assert response.headers["retry-after"] == str(LOCAL_GATEWAY_LIMITS.retry_after_seconds)


def test_a_burst_of_verification_code_checks_meets_a_json_429_with_retry_after(lone_gateway):
    # Issue 8: GET /certificates/verify/{code} is public; someone guessing codes from one address
    # is slowed down at the edge, in the same error shape.
    codes = (uuid.uuid4().hex[:12].upper() for _ in range(BURST))
    with (
        httpx.Client(timeout=30, limits=httpx.Limits(max_connections=20)) as client,
        ThreadPoolExecutor(20) as pool,
    ):
        responses = list(
            pool.map(
                lambda code: client.get(f"{lone_gateway.url}/certificates/verify/{code}"), codes
            )
        )
    throttled = [r for r in responses if r.status_code == 429]
    assert throttled, "no check was limited"
    assert {r.status_code for r in responses} == {429, 502}
    for response in throttled:
        assert_gateway_answer(response, 429)
        assert response.headers["retry-after"] == str(LOCAL_GATEWAY_LIMITS.retry_after_seconds)


@pytest.mark.parametrize("path", ["/portal/login", "/portal/register", "/portal/anonymous"])
def test_a_burst_of_the_pages_forms_from_one_visitor_meets_a_json_429(lone_gateway, path):
    # Issue 11: the web pages' log-in, registration and anonymous forms are limited per visitor,
    # as the API calls behind them would be if called directly.
    responses = _burst(lone_gateway.url + path, "POST", BURST)
    assert {r.status_code for r in responses} == {429, 502}


def test_the_pages_calls_are_not_counted_against_the_pages_one_address(lone_gateway):
    # Issue 11: the pages call the APIs for every visitor from one address; with their key the
    # gateway does not count them there (it counted each visitor at the pages' form), and a
    # wrong key is any caller's.
    pages = {"X-Portal-Pages-Key": lone_gateway.pages_key}
    for path in ("/identity/token", "/identity/users", "/requests/anonymous"):
        responses = _burst(lone_gateway.url + path, "POST", BURST, headers=pages)
        assert {r.status_code for r in responses} == {502}, path
    forged = {"X-Portal-Pages-Key": lone_gateway.pages_key + "x"}
    responses = _burst(lone_gateway.url + "/identity/token", "POST", BURST, headers=forged)
    assert {r.status_code for r in responses} == {429, 502}


def test_other_methods_and_routes_are_not_rate_limited(lone_gateway):
    for method, path in (
        ("GET", "/identity/token"),
        ("POST", "/requests"),
        ("GET", "/certificates/civil-registry/types"),
    ):
        responses = _burst(lone_gateway.url + path, method, BURST)
        assert {r.status_code for r in responses} == {502}, (method, path)


def test_the_access_log_records_paths_without_their_query_strings(lone_gateway):
    marker = uuid.uuid4().hex
    httpx.get(f"{lone_gateway.url}/identity/users/{marker}?email=eleni@example.gr&afm=090000045")
    lines = [line for line in lone_gateway.access_log.read_text().splitlines() if marker in line]
    assert len(lines) == 1
    assert f"GET /identity/users/{marker} HTTP/1.1" in lines[0]
    assert "?" not in lines[0] and "eleni" not in lines[0] and "090000045" not in lines[0]
    assert not os.stat(lone_gateway.access_log).st_mode & 0o007
