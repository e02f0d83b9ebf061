"""The HTTP edge every service shares: error shape, health, correlation id, token checks
(DESIGN "HTTP"; issue 2 §7)."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Annotated

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import APIRouter, Depends
from fastapi.testclient import TestClient
from portal_events import context
from portal_web import (
    ApiError,
    CurrentPrincipal,
    Principal,
    ServiceSettings,
    TokenVerifier,
    create_service_app,
    require_roles,
)
from pydantic import BaseModel, Field

KEY = ec.generate_private_key(ec.SECP256R1())
OTHER_KEY = ec.generate_private_key(ec.SECP256R1())

router = APIRouter(prefix="/demo")


class Echo(BaseModel):
    text: str = Field(min_length=1, max_length=10)


@router.post("/echo")
def echo(body: Echo, principal: CurrentPrincipal) -> dict:
    return {"text": body.text, "actor": context.actor().id, "correlation": context.correlation_id()}


@router.get("/clerks-only")
def clerks_only(
    principal: Annotated[Principal, Depends(require_roles("clerk"))],
) -> dict:
    return {"department": principal.department}


@router.get("/conflict")
def conflict() -> dict:
    raise ApiError(409, "conflict", "Σύγκρουση", headers={"Retry-After": "3"})


@pytest.fixture
def checks():
    return {"projection": True}


@pytest.fixture
def client(checks):
    app = create_service_app(
        name="demo",
        title="Demo",
        description="The shared edge under test",
        settings=ServiceSettings(),
        routers=[router],
        token_verifier=TokenVerifier(
            issuer="portal-identity", audience="portal", public_key=KEY.public_key()
        ),
        health_checks={"projection": lambda: checks["projection"]},
    )
    with TestClient(app) as client:
        yield client


def token(key=KEY, algorithm="ES256", **overrides) -> dict[str, str]:
    now = int(time.time())
    claims = {
        "sub": str(uuid.uuid4()),
        "role": "citizen",
        "iss": "portal-identity",
        "aud": "portal",
        "iat": now,
        "exp": now + 300,
    } | overrides
    return {"Authorization": f"Bearer {jwt.encode(claims, key, algorithm=algorithm)}"}


def test_health_is_200_when_every_check_passes_and_503_when_one_fails(client, checks):
    assert client.get("/demo/health").json() == {
        "status": "ok",
        "service": "demo",
        "checks": {"projection": {"ok": True, "detail": {}}},
    }
    checks["projection"] = False
    degraded = client.get("/demo/health")
    assert degraded.status_code == 503
    assert degraded.json()["status"] == "degraded"


def test_health_shows_a_components_figures_and_a_check_that_raises_fails(client, checks):
    """issue 5: health carries what components report (lag, parked) and never answers 500."""
    from portal_events.health import ComponentHealth

    checks["projection"] = ComponentHealth(ok=True, detail={"parked": 1})
    assert client.get("/demo/health").json()["checks"]["projection"] == {
        "ok": True,
        "detail": {"parked": 1},
    }

    del checks["projection"]  # the probe now raises KeyError
    degraded = client.get("/demo/health")
    assert degraded.status_code == 503
    assert degraded.json()["checks"]["projection"]["ok"] is False


def test_errors_have_one_shape(client):
    missing = client.get("/demo/nowhere")
    assert missing.status_code == 404 and set(missing.json()) == {"code", "message"}
    invalid = client.post("/demo/echo", json={"text": "x" * 11}, headers=token())
    assert invalid.status_code == 422
    assert invalid.json()["code"] == "invalid_input"
    assert invalid.json()["details"][0]["field"] == "text"
    conflict = client.get("/demo/conflict")
    assert conflict.status_code == 409
    assert conflict.json() == {"code": "conflict", "message": "Σύγκρουση"}
    assert conflict.headers["retry-after"] == "3"


@pytest.mark.parametrize("body", [b'{"text": "\xff\xfe"}', b"\x19Dl\xff48r"])
def test_a_body_that_is_not_utf8_is_invalid_input_not_an_undocumented_400(client, body):
    """Found by schemathesis (issue 6): FastAPI answers an undecodable body with a bare 400 that
    no route documents; it is invalid input, answered 422 in the one error shape."""
    answer = client.post(
        "/demo/echo", content=body, headers=token() | {"Content-Type": "application/json"}
    )
    assert answer.status_code == 422
    assert answer.json()["code"] == "invalid_input"
    assert answer.json()["details"][0]["field"] == "body"


def test_correlation_id_is_taken_or_made_and_bound_with_the_actor(client):
    headers = token(sub="11111111-1111-1111-1111-111111111111")
    given = client.post(
        "/demo/echo", json={"text": "γεια"}, headers=headers | {"X-Correlation-ID": "abc-123"}
    )
    assert given.headers["x-correlation-id"] == "abc-123"
    assert given.json() == {
        "text": "γεια",
        "actor": "11111111-1111-1111-1111-111111111111",
        "correlation": "abc-123",
    }
    made = client.post("/demo/echo", json={"text": "γεια"}, headers=headers)
    assert made.headers["x-correlation-id"] == made.json()["correlation"]
    # Something that could pollute the logs is replaced, not trusted.
    odd = client.post(
        "/demo/echo", json={"text": "γεια"}, headers=headers | {"X-Correlation-ID": "a b\\n"}
    )
    assert odd.headers["x-correlation-id"] != "a b\\n"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer not-a-jwt"},
        token(key=OTHER_KEY),
        token(exp=int(time.time()) - 60),  # beyond the leeway for clock skew
        token(aud="someone-else"),
        token(iss="someone-else"),
        token(role="superuser"),
        token(key="a-shared-secret-of-thirty-two-bytes!", algorithm="HS256"),
    ],
    ids=["none", "garbage", "other-key", "expired", "audience", "issuer", "role", "hs256"],
)
def test_missing_or_bad_tokens_are_401(client, headers):
    response = client.post("/demo/echo", json={"text": "x"}, headers=headers)
    assert response.status_code == 401
    assert set(response.json()) == {"code", "message"}


def test_wrong_role_is_403_right_role_passes(client):
    assert client.get("/demo/clerks-only", headers=token()).status_code == 403
    clerk = client.get("/demo/clerks-only", headers=token(role="clerk", department="technical"))
    assert clerk.status_code == 200 and clerk.json() == {"department": "technical"}


def on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class RefusingUser:
    """A TokenRevocations refusing one user, recording whether each check ran on the loop."""

    def __init__(self, user_id: str) -> None:
        self.user_id = user_id
        self.seen: list[Principal] = []
        self.on_loop: list[bool] = []

    def refusal(self, principal: Principal) -> str | None:
        self.seen.append(principal)
        self.on_loop.append(on_event_loop())
        return "account disabled" if str(principal.user_id) == self.user_id else None


def test_a_refused_token_is_401_invalid_token_with_the_reason_checked_off_the_loop(client):
    """issue 6 "Token refusal": a token that verifies but is refused answers 401 invalid_token
    naming why, on every route needing a principal; the check runs in a worker thread."""
    refused_user = str(uuid.uuid4())
    revocations = RefusingUser(refused_user)
    client.app.state.token_revocations = revocations

    refused = client.post("/demo/echo", json={"text": "x"}, headers=token(sub=refused_user))
    assert refused.status_code == 401
    assert refused.json() == {
        "code": "invalid_token",
        "message": "The access token is no longer valid: account disabled.",
    }
    as_clerk = token(sub=refused_user, role="clerk")
    assert client.get("/demo/clerks-only", headers=as_clerk).status_code == 401

    accepted = client.post("/demo/echo", json={"text": "x"}, headers=token())
    assert accepted.status_code == 200
    assert revocations.seen[-1].issued_at is not None
    assert not any(revocations.on_loop)


def test_a_verified_token_is_remembered_until_its_expiry_and_still_checked_for_refusal(
    monkeypatch,
):
    """Issue 12 (the cost of a request) with issue 6: the same token again is not verified
    again (its ES256 signature is the dearest step), yet its expiry still holds and the
    revocation check still runs on every request."""
    verifier = TokenVerifier(
        issuer="portal-identity", audience="portal", public_key=KEY.public_key(), leeway=0
    )
    decoded: list[str] = []
    decode = jwt.decode

    def counting_decode(encoded: str, *args, **kwargs):
        decoded.append(encoded)
        return decode(encoded, *args, **kwargs)

    monkeypatch.setattr(jwt, "decode", counting_decode)
    expires = int(time.time()) + 1
    bearer = token(exp=expires)["Authorization"].removeprefix("Bearer ")
    first = asyncio.run(verifier.authenticate(bearer))
    assert asyncio.run(verifier.authenticate(bearer)) == first
    assert len(decoded) == 1

    forged = bearer[:-4] + ("AAAA" if not bearer.endswith("AAAA") else "BBBB")
    with pytest.raises(ApiError):  # another token string is verified on its own
        asyncio.run(verifier.authenticate(forged))

    time.sleep(max(0.0, expires + 0.05 - time.time()))
    with pytest.raises(ApiError):  # expired: remembered no longer
        asyncio.run(verifier.authenticate(bearer))


def test_a_remembered_token_is_still_refused_once_revoked(client):
    """Issue 6 "Token refusal" with issue 12's remembered tokens: a token that was accepted is
    401 on its next use once its user is refused."""
    user = str(uuid.uuid4())
    headers = token(sub=user)
    assert client.post("/demo/echo", json={"text": "x"}, headers=headers).status_code == 200
    client.app.state.token_revocations = RefusingUser(user)
    assert client.post("/demo/echo", json={"text": "x"}, headers=headers).status_code == 401
