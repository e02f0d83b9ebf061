"""Token verification against identity's JWKS (issue 6 "Service to service"): keys fetched off the
event loop with a short timeout, cached, re-fetched on an unknown `kid` at most once per
interval, 503 `identity_unavailable` when they cannot be fetched, leeway for clock skew.

A stand-in for identity's JWKS endpoint runs on a local port; it can be switched off or made
to hold its answers (slow).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import APIRouter
from fastapi.testclient import TestClient
from portal_web import CurrentPrincipal, ServiceSettings, create_service_app
from portal_web.jwks import JwksKeys, KeysUnavailable, UnknownKey

KEY = ec.generate_private_key(ec.SECP256R1())
ROTATED_KEY = ec.generate_private_key(ec.SECP256R1())
FORGER_KEY = ec.generate_private_key(ec.SECP256R1())


def jwk(key: ec.EllipticCurvePrivateKey, kid: str) -> dict:
    public = jwt.algorithms.ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return public | {"kid": kid, "use": "sig", "alg": "ES256"}


class JwksServer:
    """Identity's JWKS endpoint as other services see it: counts fetches, can be slow or off."""

    def __init__(self) -> None:
        self.keys = [jwk(KEY, "key-1")]
        self.fetches = 0
        self.slow = False
        self.released = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.fetches += 1
                if server.slow:
                    server.released.wait(10)
                body = json.dumps({"keys": server.keys}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._http.server_port}/identity/.well-known/jwks.json"
        self._thread = threading.Thread(
            target=self._http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        self.running = True

    def switch_off(self) -> None:
        """Identity is down: the port refuses connections."""
        if self.running:
            self.released.set()
            self._http.shutdown()
            self._http.server_close()
            self.running = False


@pytest.fixture
def identity() -> Iterator[JwksServer]:
    server = JwksServer()
    yield server
    server.switch_off()


router = APIRouter(prefix="/demo")


@router.get("/me")
async def me(principal: CurrentPrincipal) -> dict:
    return {"user_id": str(principal.user_id)}


def service_app(identity: JwksServer, **settings: float):
    return create_service_app(
        name="demo",
        title="Demo",
        description="A service verifying identity's tokens",
        settings=ServiceSettings(
            jwks_url=identity.url,
            jwks_timeout_seconds=settings.get("timeout", 1.0),
            jwks_refetch_interval_seconds=60.0,
        ),
        routers=[router],
    )


@pytest.fixture
def client(identity) -> Iterator[TestClient]:
    with TestClient(service_app(identity)) as client:
        yield client


def bearer(key=KEY, kid="key-1", **overrides) -> dict[str, str]:
    now = int(time.time())
    claims = {
        "sub": str(uuid.uuid4()),
        "role": "citizen",
        "iss": "portal-identity",
        "aud": "portal",
        "iat": now,
        "exp": now + 300,
    } | overrides
    token = jwt.encode(claims, key, algorithm="ES256", headers={"kid": kid})
    return {"Authorization": f"Bearer {token}"}


def test_keys_are_fetched_once_and_then_served_from_the_cache(client, identity):
    for _ in range(5):
        assert client.get("/demo/me", headers=bearer()).status_code == 200
    assert identity.fetches == 1


def test_forged_kids_are_401_invalid_token(client, identity):
    assert client.get("/demo/me", headers=bearer()).status_code == 200
    for _ in range(20):
        forged = client.get("/demo/me", headers=bearer(FORGER_KEY, kid=uuid.uuid4().hex))
        assert forged.status_code == 401
        assert forged.json()["code"] == "invalid_token"
    assert identity.fetches == 1  # the keys were fetched less than an interval ago


def test_identity_down_is_503_identity_unavailable_not_401(client, identity):
    identity.switch_off()
    response = client.get("/demo/me", headers=bearer())
    assert response.status_code == 503
    assert response.json() == {
        "code": "identity_unavailable",
        "message": "Access tokens cannot be checked right now: the identity service is "
        "unreachable. Try again shortly.",
    }
    assert int(response.headers["retry-after"]) >= 1
    # Until the next allowed fetch, the answer comes at once, without another attempt.
    assert client.get("/demo/me", headers=bearer()).status_code == 503


def test_slow_identity_is_503_within_the_timeout_and_the_loop_keeps_serving(identity):
    """The fetch runs off the event loop: while identity holds its answer, the service answers
    other requests; the waiting request gets 503 after the fetch timeout, not identity's delay
    (the stand-in holds its answer 10 s)."""
    identity.slow = True
    app = service_app(identity, timeout=1.0)
    finished: list[str] = []

    async def call(
        client: httpx.AsyncClient, name: str, path: str, headers: dict
    ) -> httpx.Response:
        response = await client.get(path, headers=headers)
        finished.append(name)
        return response

    async def scenario() -> tuple[httpx.Response, float]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://demo") as client:
            started = time.monotonic()
            waiting = asyncio.create_task(call(client, "token", "/demo/me", bearer()))
            while identity.fetches == 0:  # the fetch has reached identity
                await asyncio.sleep(0.01)
            health = await call(client, "health", "/demo/health", {})
            assert health.status_code == 200
            response = await waiting
            return response, time.monotonic() - started

    response, elapsed = asyncio.run(scenario())
    assert finished == ["health", "token"]
    assert response.status_code == 503
    assert response.json()["code"] == "identity_unavailable"
    assert elapsed < 5.0


@pytest.mark.parametrize(
    ("skew", "status"),
    [
        ({"exp": -10}, 200),
        ({"exp": -60}, 401),
        ({"iat": 10}, 200),
        ({"iat": 60}, 401),
    ],
    ids=["expired-10s-ago", "expired-60s-ago", "issued-10s-ahead", "issued-60s-ahead"],
)
def test_about_30_seconds_of_clock_skew_are_tolerated(client, skew, status):
    now = int(time.time())
    claims = {name: now + offset for name, offset in skew.items()}
    assert client.get("/demo/me", headers=bearer(**claims)).status_code == status


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_unknown_kids_refetch_the_keys_at_most_once_per_interval(identity):
    """A flood of tokens naming unknown kids cannot hammer identity."""
    clock = Clock()
    keys = JwksKeys(identity.url, timeout=1.0, ttl=300.0, refetch_interval=5.0, clock=clock)
    asyncio.run(keys.key("key-1"))
    clock.now += 5.0
    for _ in range(20):
        with pytest.raises(UnknownKey):
            asyncio.run(keys.key(uuid.uuid4().hex))
    assert identity.fetches == 2
    clock.now += 5.0
    with pytest.raises(UnknownKey):
        asyncio.run(keys.key(uuid.uuid4().hex))
    assert identity.fetches == 3


def test_a_rotated_key_is_fetched_once_the_interval_has_passed(identity):
    clock = Clock()
    keys = JwksKeys(identity.url, timeout=1.0, ttl=300.0, refetch_interval=5.0, clock=clock)
    assert asyncio.run(keys.key("key-1")) is not None
    identity.keys = [jwk(ROTATED_KEY, "key-2")]
    with pytest.raises(UnknownKey):
        asyncio.run(keys.key("key-2"))  # the last fetch was just now: no other yet
    assert identity.fetches == 1
    clock.now += 5.0
    assert asyncio.run(keys.key("key-2")) is not None
    assert identity.fetches == 2
    with pytest.raises(UnknownKey):
        asyncio.run(keys.key("key-1"))  # a key identity no longer publishes is dropped


def test_keys_fetched_earlier_stay_in_use_while_identity_is_unreachable(identity):
    clock = Clock()
    keys = JwksKeys(identity.url, timeout=1.0, ttl=300.0, refetch_interval=5.0, clock=clock)
    key = asyncio.run(keys.key("key-1"))
    identity.switch_off()
    clock.now += 301.0  # the cache has expired; the re-fetch fails
    assert asyncio.run(keys.key("key-1")) is key
    with pytest.raises(KeysUnavailable):
        asyncio.run(keys.key("key-2"))
