"""Session-wide test infrastructure: the real PostgreSQL and Kafka of the project's local stack.

`infra` starts (or reuses) the local stack (deploy/local, `portal_stack.ensure_up()`); where the
environment names running servers instead (PORTAL_TEST_PG_PORT and PORTAL_TEST_KAFKA), those are
used as they are. No test fakes PostgreSQL or Kafka.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import jwt
import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from portal_web import TokenVerifier


@dataclass(frozen=True)
class Infra:
    pg_host: str
    pg_port: int
    pg_user: str
    pg_password: str
    kafka_bootstrap: str
    gateway_url: str | None = None

    def pg_env(self, dbname: str) -> dict[str, str]:
        """The environment an eventsourcing Application needs to use database `dbname`."""
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_HOST": self.pg_host,
            "POSTGRES_PORT": str(self.pg_port),
            "POSTGRES_USER": self.pg_user,
            "POSTGRES_PASSWORD": self.pg_password,
            "POSTGRES_DBNAME": dbname,
        }

    def connect(self, dbname: str = "postgres") -> psycopg.Connection:
        return psycopg.connect(
            host=self.pg_host,
            port=self.pg_port,
            user=self.pg_user,
            password=self.pg_password,
            dbname=dbname,
            autocommit=True,
        )


@pytest.fixture(scope="session")
def infra() -> Infra:
    if os.environ.get("PORTAL_TEST_PG_PORT") and os.environ.get("PORTAL_TEST_KAFKA"):
        return Infra(
            pg_host=os.environ.get("PORTAL_TEST_PG_HOST", "127.0.0.1"),
            pg_port=int(os.environ["PORTAL_TEST_PG_PORT"]),
            pg_user="postgres",
            pg_password="postgres",
            kafka_bootstrap=os.environ["PORTAL_TEST_KAFKA"],
            gateway_url=os.environ.get("PORTAL_TEST_GATEWAY"),
        )
    from portal_stack import ensure_up

    stack = ensure_up()
    return Infra(
        pg_host="127.0.0.1",
        pg_port=stack.pg_port,
        pg_user="postgres",
        pg_password="postgres",
        kafka_bootstrap=stack.kafka_bootstrap,
        gateway_url=stack.gateway_url,
    )


@pytest.fixture(scope="session")
def fresh_database(infra: Infra) -> Iterator[Callable[[str], str]]:
    """Make empty databases named after a prefix; all are dropped at the end of the session."""
    created: list[str] = []

    def make(prefix: str) -> str:
        name = f"{prefix}_test_{uuid.uuid4().hex[:10]}"
        with infra.connect() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        created.append(name)
        return name

    yield make
    with infra.connect() as conn:
        for name in created:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- access tokens for service-level API tests ------------------------------------------------
# Signed with a key made for the session, shaped like identity's (ES256, same claims); the
# service under test gets `token_verifier`, which trusts that key directly.

ISSUER, AUDIENCE = "portal-identity", "portal"


@pytest.fixture(scope="session")
def signing_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="session")
def token_verifier(signing_key) -> TokenVerifier:
    return TokenVerifier(issuer=ISSUER, audience=AUDIENCE, public_key=signing_key.public_key())


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
