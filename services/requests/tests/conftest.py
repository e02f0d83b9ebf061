"""API test fixtures: the service on a fresh real PostgreSQL database, Kafka disabled, and
tokens signed with a key made for the session (the verifier gets its public key directly)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient
from portal_web import TokenVerifier
from requests_service.main import create_app
from requests_service.settings import RequestsSettings

ISSUER, AUDIENCE = "portal-identity", "portal"


@pytest.fixture(scope="session")
def signing_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="session")
def token(signing_key) -> Callable[..., str]:
    """token(role, user_id=None, department=None) -> a signed access token."""

    def make(role: str, user_id: uuid.UUID | None = None, department: str | None = None) -> str:
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": str(user_id or uuid.uuid4()),
            "iat": now,
            "exp": now + 300,
            "jti": uuid.uuid4().hex,
            "role": role,
            "email": f"{role}@example.gr",
        }
        if department is not None:
            claims["department"] = department
        return jwt.encode(claims, signing_key, algorithm="ES256")

    return make


@pytest.fixture(scope="session")
def settings(infra, fresh_database) -> RequestsSettings:
    return RequestsSettings(
        postgres_host=infra.pg_host,
        postgres_port=infra.pg_port,
        postgres_user=infra.pg_user,
        postgres_password=infra.pg_password,
        postgres_dbname=fresh_database("requests"),
        kafka_enabled=False,
        log_format="console",
    )


@pytest.fixture(scope="session")
def client(settings, signing_key) -> Iterator[TestClient]:
    verifier = TokenVerifier(issuer=ISSUER, audience=AUDIENCE, public_key=signing_key.public_key())
    with TestClient(create_app(settings, verifier)) as test_client:
        yield test_client
