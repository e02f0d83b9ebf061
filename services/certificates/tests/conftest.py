"""API test fixtures: the service on a fresh real PostgreSQL database, Kafka disabled (identity's
and the protocol service's events are handed to the consumer's handlers directly); tokens come
from the root conftest's `token` fixture."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime

import pytest
from certificates_service.integration import handlers
from certificates_service.main import service
from certificates_service.settings import CertificatesSettings
from fastapi.testclient import TestClient
from portal_events.contracts import (
    Contract,
    ProfileUpdatedV1,
    ProtocolAssignedV1,
    UserVerifiedV1,
)
from portal_events.envelope import wrap

SURNAME = "Παπαδοπούλου"


@pytest.fixture(scope="session")
def settings(infra, fresh_database) -> CertificatesSettings:
    return CertificatesSettings(
        postgres_host=infra.pg_host,
        postgres_port=infra.pg_port,
        postgres_user=infra.pg_user,
        postgres_password=infra.pg_password,
        postgres_dbname=fresh_database("certificates"),
        kafka_enabled=False,
        portal_public_url="https://portal.test",
        municipality_name="Δήμος Δοκιμών",
        certificates_protocol_wait_seconds=0.3,
        log_format="console",
    )


@pytest.fixture(scope="session")
def client(settings, token_verifier) -> Iterator[TestClient]:
    with TestClient(service.create_app(settings, token_verifier=token_verifier)) as test_client:
        yield test_client


@pytest.fixture
def deliver(client) -> Callable[..., None]:
    """deliver(contract, sequence=1): hand one incoming contract to the consumer's handler."""
    handler_of = handlers(client.app.state.runtime.application)

    def send(contract: Contract, sequence: int = 1, source: str = "identity") -> None:
        subject = str(getattr(contract, "user_id", None) or contract.document_id)
        envelope = wrap(
            contract,
            source=source,
            subject=subject,
            sequence=sequence,
            occurred_at=datetime.now(UTC),
        )
        handler_of[type(contract)](envelope, contract)

    return send


@pytest.fixture
def applicant(token, deliver) -> Callable[..., tuple[uuid.UUID, dict[str, str]]]:
    """applicant(complete=True, verified=True, role="citizen") -> (user id, headers), as
    identity reported them."""

    def make(
        complete: bool = True, verified: bool = True, role: str = "citizen"
    ) -> tuple[uuid.UUID, dict[str, str]]:
        user_id = uuid.uuid4()
        deliver(
            ProfileUpdatedV1(
                user_id=user_id,
                kind=role,
                afm="090000045",
                display_name=f"Ελένη {SURNAME}",
                profile_complete=complete,
            ),
            sequence=2,
        )
        if verified:
            deliver(
                UserVerifiedV1(
                    user_id=user_id,
                    document_type="identity_card",
                    verified_by=uuid.uuid4(),
                    verified_at=datetime.now(UTC),
                ),
                sequence=3,
            )
        return user_id, {"Authorization": f"Bearer {token(role, user_id=user_id)}"}

    return make


@pytest.fixture
def staff(token) -> Callable[..., dict[str, str]]:
    """staff(role, department=None) -> headers of a staff member."""

    def make(role: str, department: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token(role, department=department)}"}

    return make


@pytest.fixture
def assign_protocol(deliver) -> Callable[..., None]:
    """assign_protocol(certificate_id, number, kind="civil_registry"): the registry's answer."""

    def assign(certificate_id: str, number: str, kind: str = "civil_registry") -> None:
        deliver(
            ProtocolAssignedV1(
                document_id=uuid.UUID(certificate_id),
                document_type=f"{kind}_certificate",
                protocol_number=number,
                protocol_date=date(2026, 3, 2),
            ),
            source="protocol",
        )

    return assign
