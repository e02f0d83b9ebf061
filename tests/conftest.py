"""End-to-end fixtures: the whole portal through its gateway, as the web front end uses it."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from certificate_applications import FAMILY_STATUS, VERIFICATION
from portal_roles import CITIZEN_PROFILE


@pytest.fixture(scope="session")
def stack():
    from portal_stack import ensure_up

    return ensure_up()


@pytest.fixture(scope="session")
def gateway(stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.gateway_url, timeout=15.0) as client:
        yield client


@dataclass
class User:
    """A logged-in portal user as the gateway knows them."""

    client: httpx.Client
    user_id: str
    email: str
    password: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", path, **kwargs)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = self.headers | kwargs.pop("headers", {})
        return self.client.request(method, path, headers=headers, **kwargs)


def login(client: httpx.Client, email: str, password: str) -> str:
    response = client.post("/identity/token", data={"username": email, "password": password})
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


@pytest.fixture
def new_citizen(gateway) -> Callable[..., User]:
    """Register a citizen (ID-1), complete their profile (ID-2) and log them in."""

    def make(complete_profile: bool = True) -> User:
        email = f"citizen-{uuid.uuid4().hex[:10]}@example.gr"
        password = "Kalimera-" + uuid.uuid4().hex[:8]
        response = gateway.post(
            "/identity/users", json={"kind": "citizen", "email": email, "password": password}
        )
        assert response.status_code == 201, response.text
        user = User(
            gateway, response.json()["user_id"], email, password, login(gateway, email, password)
        )
        if complete_profile:
            response = user.put("/identity/me/profile", json=CITIZEN_PROFILE)
            assert response.status_code == 200, response.text
        return user

    return make


@pytest.fixture(scope="session")
def admin(gateway, stack) -> User:
    token = login(gateway, stack.admin_email, stack.admin_password)
    me = gateway.get("/identity/me", headers={"Authorization": f"Bearer {token}"}).json()
    return User(gateway, me["user_id"], stack.admin_email, stack.admin_password, token)


@pytest.fixture(scope="session")
def clerk_of(gateway, admin) -> Callable[[str], User]:
    """A clerk of the given department, created by the admin (ID-4)."""
    clerks: dict[str, User] = {}

    def make(department: str) -> User:
        if department not in clerks:
            email = f"clerk-{department}-{uuid.uuid4().hex[:8]}@dimos.gr"
            password = "Ypallilos-" + uuid.uuid4().hex[:8]
            response = admin.post(
                "/identity/staff",
                json={
                    "email": email,
                    "password": password,
                    "role": "clerk",
                    "department": department,
                },
            )
            assert response.status_code == 201, response.text
            token = login(gateway, email, password)
            clerks[department] = User(gateway, response.json()["user_id"], email, password, token)
        return clerks[department]

    return make


def _eventually(check: Callable[[], Any], timeout: float = 20.0, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"not reached within {timeout}s; last value: {last!r}")


@pytest.fixture(scope="session")
def eventually() -> Callable[..., Any]:
    """Poll until a check returns something truthy (for what crosses Kafka); fail at timeout."""
    return _eventually


# --- the protocol registry simulator (SPEC R-4, C-4) ------------------------------------------


@pytest.fixture(scope="session")
def registry_simulator(stack) -> Iterator[httpx.Client]:
    """The protocol registry simulator, through the gateway's operators' listener (it is not on
    the public one, issue 6)."""
    base_url = f"{stack.gateway_operators_url}/protocol-registry"
    with httpx.Client(base_url=base_url, timeout=15.0) as client:
        yield client


@pytest.fixture
def registry(registry_simulator) -> Iterator[Callable[..., None]]:
    """registry(mode, delay_seconds=None): the simulator's outage switch; up after the test."""

    def set_mode(mode: str, delay_seconds: float | None = None) -> None:
        body = {"mode": mode} | ({"delay_seconds": delay_seconds} if delay_seconds else {})
        response = registry_simulator.put("/control", json=body)
        assert response.status_code == 200, response.text

    yield set_mode
    set_mode("up")


# --- applicants of certificates (SPEC C-1) ----------------------------------------------------


@pytest.fixture
def verified_citizen(new_citizen, clerk_of, eventually) -> Callable[[], User]:
    """verified_citizen() -> a citizen with a complete profile, verified in person by a clerk
    (ID-3), once the certificates service has heard so (C-1, through identity's events)."""

    def make() -> User:
        citizen = new_citizen()
        verified = clerk_of("citizen_services").post(
            f"/identity/users/{citizen.user_id}/verification", json=VERIFICATION
        )
        assert verified.status_code == 201, verified.text
        eventually(lambda: may_apply_for_certificates(citizen))
        return citizen

    return make


def may_apply_for_certificates(citizen: User) -> bool:
    """Whether certificates lets the citizen apply, asked without applying: an application
    with a wrong field is 422 for an eligible applicant and 403 for anyone else."""
    response = citizen.post(
        "/certificates/civil-registry", json=FAMILY_STATUS | {"certificate_type": "?"}
    )
    assert response.status_code in (403, 422), response.text
    return response.status_code == 422
