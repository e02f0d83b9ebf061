"""The portal's roles as people at the gateway, for the cross-service tests (the authorization
matrix and the schemathesis fuzzing): throwaway users of every role, made through the public API
as a person would be (registration and profile, or created by an admin) and logged in.

Each test run makes its own, so that what one test does to its users (log out, change the
password, fill the throttle) never reaches another test's.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass

import httpx

# The roles of the authorization matrix: who calls, relative to the resource a route acts on
# (a request submitted by "citizen" and routed to the department of "clerk").
ANONYMOUS = "anonymous"
CITIZEN = "citizen"  # the owner of the resource
BUSINESS = "business"
OTHER_CITIZEN = "other_citizen"
OTHER_CLERK = "other_clerk"  # a clerk of another department
CLERK = "clerk"  # a clerk of the department the resource is routed to
AUDITOR = "auditor"
ADMIN = "admin"
ROLES = (ANONYMOUS, CITIZEN, BUSINESS, OTHER_CITIZEN, OTHER_CLERK, CLERK, AUDITOR, ADMIN)

CITIZEN_PROFILE = {
    "first_name": "Ελένη",
    "last_name": "Παπαδοπούλου",
    "father_name": "Γεώργιος",
    "date_of_birth": "1985-04-12",
    "afm": "090000045",
    "id_document_number": "ΑΒ123456",
    "address": "Ερμού 10, 10563 Αθήνα",
    "phone": "+302101234567",
}
BUSINESS_PROFILE = {
    "legal_name": "ΑΒΓ Τεχνική ΑΕ",
    "afm": "094014201",
    "address": "Πειραιώς 10, Αθήνα",
    "representative": "Νίκος Νικολάου",
}


# Where the fuzzer's requests come from (X-Forwarded-For, which the local stack believes from its
# gateway): the benchmarking range of RFC 2544. Its made-up inputs (random digits included) are
# told apart from real traffic by it, in identity's log-in throttle and in the card-number scan.
FUZZING_NETWORK = "198.18.0.0/15"


def new_email(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:10]}@example.gr"


def new_password() -> str:
    return "Kalimera-" + uuid.uuid4().hex[:10]


def new_afm() -> str:
    """A valid Greek tax id (ΑΦΜ) of its own, so that a business's warrants, debts and tax
    declarations (B-1..B-3) are nobody else's: eight random digits and the check digit (the sum
    of each digit times 2^(8-position), mod 11, mod 10)."""
    digits = [random.randrange(1, 10)] + [random.randrange(10) for _ in range(7)]
    check = sum(d << (8 - i) for i, d in enumerate(digits)) % 11 % 10
    return "".join(map(str, digits)) + str(check)


@dataclass
class Person:
    """A logged-in user: their account and one access token."""

    role: str
    user_id: str
    email: str
    password: str
    token: str
    profile: dict[str, str] | None = None  # the details they filled in (ID-2), if any

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class Casting:
    """Makes throwaway users of every role through the gateway; staff are created by `admin_token`
    (ID-4)."""

    def __init__(self, gateway: httpx.Client, admin_token: str) -> None:
        self.gateway = gateway
        self.admin_headers = {"Authorization": f"Bearer {admin_token}"}

    def log_in(self, email: str, password: str) -> str:
        response = self.gateway.post(
            "/identity/token", data={"username": email, "password": password}
        )
        assert response.status_code == 200, response.text
        return response.json()["access_token"]

    def registered(self, kind: str = "citizen", role: str | None = None) -> Person:
        """A citizen or business, registered (ID-1), logged in, with a complete profile (ID-2)."""
        email, password = new_email(kind), new_password()
        response = self.gateway.post(
            "/identity/users", json={"kind": kind, "email": email, "password": password}
        )
        assert response.status_code == 201, response.text
        person = Person(
            role or kind, response.json()["user_id"], email, password, self.log_in(email, password)
        )
        # Every business its own ΑΦΜ: the business services scope everything by it.
        profile = BUSINESS_PROFILE | {"afm": new_afm()} if kind == "business" else CITIZEN_PROFILE
        response = self.gateway.put("/identity/me/profile", json=profile, headers=person.headers)
        assert response.status_code == 200, response.text
        person.profile = profile
        return person

    def staff(self, role: str, department: str | None = None, as_role: str | None = None) -> Person:
        """A clerk (of `department`), auditor or admin, created by the admin and logged in."""
        email, password = new_email(role), new_password()
        body = {"email": email, "password": password, "role": role}
        if department is not None:
            body["department"] = department
        response = self.gateway.post("/identity/staff", json=body, headers=self.admin_headers)
        assert response.status_code == 201, response.text
        return Person(
            as_role or role,
            response.json()["user_id"],
            email,
            password,
            self.log_in(email, password),
        )
