"""API tests run the real app against a fresh PostgreSQL database, with Kafka disabled.

The test client connects from 127.0.0.1, which the app trusts as its proxy (TRUSTED_PROXIES),
so each test names the client address it logs in from in X-Forwarded-For: the log-in throttle
counts per address, and tests must not share one."""

import uuid

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient
from identity_service.main import service
from identity_service.settings import IdentitySettings

ADMIN_EMAIL = "admin@dimos.test"
ADMIN_PASSWORD = "admin-pw-123"


@pytest.fixture(scope="session")
def database(fresh_database):
    return fresh_database("identity")


@pytest.fixture(scope="session")
def key_file(tmp_path_factory):
    key = ec.generate_private_key(ec.SECP256R1())
    path = tmp_path_factory.mktemp("keys") / "jwt.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


GATEWAY_PEER = ("127.0.0.1", 50000)


@pytest.fixture(scope="session")
def settings(infra, database, key_file):
    return IdentitySettings(
        postgres_host=infra.pg_host,
        postgres_port=infra.pg_port,
        postgres_user=infra.pg_user,
        postgres_password=infra.pg_password,
        postgres_dbname=database,
        kafka_enabled=False,
        jwt_private_key_file=key_file,
        portal_admin_email=ADMIN_EMAIL,
        portal_admin_password=ADMIN_PASSWORD,
        trusted_proxies="127.0.0.1/32",
        log_format="console",
    )


@pytest.fixture(scope="session")
def client(settings):
    with TestClient(service.create_app(settings), client=GATEWAY_PEER) as client:
        yield client


class Portal:
    """Small helpers over the test client; every user gets a fresh e-mail and client address."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    @staticmethod
    def address() -> str:
        return f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"

    def login(self, email: str, password: str, address: str | None = None):
        return self.client.post(
            "/identity/token",
            data={"username": email, "password": password},
            headers={"X-Forwarded-For": address or self.address()},
        )

    def token(self, email: str, password: str, address: str | None = None) -> dict[str, str]:
        response = self.login(email, password, address)
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    @staticmethod
    def new_email(kind: str = "citizen") -> str:
        return f"{kind}-{uuid.uuid4().hex[:8]}@example.gr"

    def register(self, kind: str = "citizen") -> tuple[str, dict[str, str], str]:
        """A new user: (user_id, auth headers, email)."""
        email = self.new_email(kind)
        response = self.client.post(
            "/identity/users", json={"kind": kind, "email": email, "password": "pass-word-1"}
        )
        assert response.status_code == 201, response.text
        return response.json()["user_id"], self.token(email, "pass-word-1"), email

    def admin(self) -> dict[str, str]:
        return self.token(ADMIN_EMAIL, ADMIN_PASSWORD)

    def staff(self, role: str, department: str | None = "technical") -> dict[str, str]:
        email = f"{role}-{uuid.uuid4().hex[:8]}@dimos.test"
        body = {"email": email, "password": "staff-pw-1", "role": role, "department": department}
        response = self.client.post("/identity/staff", json=body, headers=self.admin())
        assert response.status_code == 201, response.text
        return self.token(email, "staff-pw-1")


@pytest.fixture
def portal(client):
    return Portal(client)
