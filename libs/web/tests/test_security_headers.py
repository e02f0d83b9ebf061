"""Headers on every answer a service makes (issue 6 "Gateway and local stack hygiene"): the
correlation id on a 500 too, and the security headers (ASVS 5.0 V3.4: nosniff, referrer policy,
no framing, a strict CSP on HTML pages; V8.3 / V14.3: `no-store` on authenticated answers)."""

from __future__ import annotations

import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import APIRouter, Response
from fastapi.testclient import TestClient
from portal_web import CurrentPrincipal, ServiceSettings, TokenVerifier, create_service_app

KEY = ec.generate_private_key(ec.SECP256R1())

router = APIRouter(prefix="/demo")


@router.get("/boom")
def boom() -> dict:
    raise RuntimeError("a bug")


@router.get("/public-keys")
def public_keys(response: Response) -> dict:
    """Like identity's JWKS: public, and cacheable on purpose."""
    response.headers["Cache-Control"] = "public, max-age=300"
    return {"keys": []}


@router.get("/mine")
def mine(me: CurrentPrincipal, response: Response) -> dict:
    response.headers["Cache-Control"] = "public, max-age=300"  # a route's mistake
    return {"user_id": str(me.user_id)}


@pytest.fixture(scope="module")
def client():
    app = create_service_app(
        name="demo",
        title="Demo",
        description="The shared edge under test",
        settings=ServiceSettings(),
        routers=[router],
        token_verifier=TokenVerifier(
            issuer="portal-identity", audience="portal", public_key=KEY.public_key()
        ),
    )
    with TestClient(app) as client:
        yield client


def bearer() -> dict[str, str]:
    now = int(time.time())
    claims = {
        "sub": str(uuid.uuid4()),
        "role": "citizen",
        "iss": "portal-identity",
        "aud": "portal",
        "iat": now,
        "exp": now + 300,
    }
    return {"Authorization": f"Bearer {jwt.encode(claims, KEY, algorithm='ES256')}"}


SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}


def assert_security_headers(response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, (response.request.url, name)
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


def test_an_unhandled_exception_is_a_500_in_the_error_shape_with_the_correlation_id(client):
    given = client.get("/demo/boom", headers={"X-Correlation-ID": "corr-500"})
    assert given.status_code == 500
    assert given.json() == {
        "code": "internal_error",
        "message": "Something went wrong on our side.",
    }
    assert given.headers["x-correlation-id"] == "corr-500"
    assert_security_headers(given)
    made = client.get("/demo/boom")
    assert made.headers["x-correlation-id"]


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/demo/public-keys", 200),
        ("GET", "/demo/nowhere", 404),
        ("DELETE", "/demo/public-keys", 405),
        ("GET", "/demo/health", 200),
        ("GET", "/demo/openapi.json", 200),
        ("GET", "/demo/docs/static/swagger/swagger-ui-bundle.js", 200),
    ],
)
def test_every_answer_carries_the_security_headers_and_the_correlation_id(
    client, method, path, status
):
    response = client.request(method, path)
    assert response.status_code == status
    assert_security_headers(response)
    assert (
        response.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    )
    assert response.headers["x-correlation-id"]


@pytest.mark.parametrize("page", ["/demo/docs", "/demo/redoc", "/demo/docs/oauth2-redirect"])
def test_html_pages_allow_scripts_and_styles_from_the_service_only(client, page):
    response = client.get(page)
    assert response.headers["content-type"].startswith("text/html")
    assert_security_headers(response)
    directives = dict(
        directive.strip().split(" ", 1)
        for directive in response.headers["content-security-policy"].split(";")
    )
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"].split()[0] == "'self'"
    assert "'unsafe-inline'" not in response.headers["content-security-policy"]
    assert "'unsafe-eval'" not in response.headers["content-security-policy"]


def test_authenticated_answers_are_not_stored_and_public_ones_keep_their_caching(client):
    """The JWKS-like public route keeps its Cache-Control; anything answered to a request with
    an Authorization header, refusals included, is `no-store`."""
    public = client.get("/demo/public-keys")
    assert public.headers["cache-control"] == "public, max-age=300"

    mine = client.get("/demo/mine", headers=bearer())
    assert mine.status_code == 200
    assert mine.headers["cache-control"] == "no-store"

    refused = client.get("/demo/mine", headers={"Authorization": "Bearer not-a-token"})
    assert refused.status_code == 401
    assert refused.headers["cache-control"] == "no-store"
