"""The authorization matrix, through the gateway (issue 6; ASVS 5.0 V8.1.1, V8.2.1, V8.2.2): for
every route in every service's OpenAPI, each role gets the answer tests/authorization_matrix.py
documents, and a route without an entry there fails. The "clerk" is a clerk of the department
the route's service works for (authorization_matrix.clerk_department).

Every call is a valid one (a body the route accepts, an existing resource), so that only
authorization can tell the roles apart and no 422 masks its answer. A call expected to succeed
on a route whose success changes the resource (a status change, a verification) gets a resource
of its own; logging out uses a second token of the role; a password change ends every token of
its caller, so it runs last.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from portal_stack.services import load as load_service_list

sys.path.insert(0, str(Path(__file__).parent))
from authorization_matrix import (
    CLERK_DEPARTMENTS,
    DEPARTMENT,
    MATRIX,
    Route,
    clerk_department,
    kit_history_service,
)
from certificate_applications import FAMILY_STATUS, TAP, VERIFICATION
from fine_payments import (
    SUCCESS_CARD,
    fine_types,
    look_up_new_fine,
    new_browser,
    new_fine,
    new_payment,
    pay_on_bank_page,
    payment_status,
    wait_until_fines_accept,
)
from portal_roles import (
    ADMIN,
    ANONYMOUS,
    AUDITOR,
    BUSINESS,
    CITIZEN,
    CITIZEN_PROFILE,
    CLERK,
    OTHER_CITIZEN,
    OTHER_CLERK,
    Casting,
    Person,
    new_email,
    new_password,
)

# Every service of the portal, from the one list (deploy/services.toml): a new one is covered.
SERVICES = [process.name for process in load_service_list().services]
METHODS = {"get", "put", "post", "delete", "patch"}

# The resources the routes act on: the citizen's request, in a category routed to the clerk's
# department (services/requests/requests_service/routing.toml); the other clerk's is another.
CATEGORY, OTHER_DEPARTMENT = "roads", "sanitation"


# Routes after which the caller's tokens are refused everywhere: they run after all others.
ENDS_EVERY_TOKEN: set[Route] = {("PUT", "/identity/me/password")}


def documented_routes(gateway: httpx.Client) -> set[Route]:
    routes: set[Route] = set()
    for service in SERVICES:
        response = gateway.get(f"/{service}/openapi.json")
        assert response.status_code == 200, f"{service}: {response.text}"
        routes |= {
            (method.upper(), path)
            for path, item in response.json()["paths"].items()
            for method in item
            if method in METHODS
        }
    return routes


# --- the world the routes act on ------------------------------------------------------------


@dataclass
class World:
    """One person per role, with the resources of the matrix's rows."""

    gateway: httpx.Client
    casting: Casting
    people: dict[str, Person]
    spare_tokens: dict[str, str]  # a second token per role, for logging out
    clerks: dict[str, Person] = field(default_factory=dict)  # by department
    bank_notification_secret: str = ""
    paid_notification: dict[str, Any] = field(default_factory=dict)  # of the world's payment
    request_id: str = ""  # the citizen's, routed to DEPARTMENT, with a protocol registration
    certificate_id: str = ""  # the citizen's, issued by the civil registry's clerk
    declaration_id: str = ""  # the business's tax declaration, quoted (B-2)
    path_parameters: dict[str, str] = field(default_factory=dict)
    service_urls: dict[str, str] = field(default_factory=dict)  # each service's own address

    def person(self, role: str, route: Route) -> Person:
        """Who plays `role` on `route`: the clerk is one of the route's department."""
        if role == CLERK:
            return self.clerks[clerk_department(route)]
        return self.people[role]

    def new_request(self) -> str:
        """A new request by the citizen, routed to the clerk's department."""
        response = self.gateway.post(
            "/requests",
            json={
                "kind": "complaint",
                "subject": "Λακκούβα στην οδό Ερμού",
                "text": "Μεγάλη λακκούβα μπροστά στο νούμερο 12.",
                "category": CATEGORY,
            },
            headers=self.people[CITIZEN].headers,
        )
        assert response.status_code == 201, response.text
        return response.json()["id"]

    def verified_citizen(self) -> str:
        """A new citizen whom the clerk has verified in person (ID-3)."""
        user_id = self.casting.registered().user_id
        self.verify(user_id)
        return user_id

    def verify(self, user_id: str) -> None:
        """The clerk verifies the user in person (ID-3)."""
        response = self.gateway.post(
            f"/identity/users/{user_id}/verification",
            json=VERIFICATION,
            headers=self.people[CLERK].headers,
        )
        assert response.status_code == 201, response.text

    def new_certificate(self) -> str:
        """A new family-status application of the citizen's, once it has its protocol number
        (C-4), so that it can be issued."""
        citizen = self.people[CITIZEN].headers
        response = self.gateway.post(
            "/certificates/civil-registry", json=FAMILY_STATUS, headers=citizen
        )
        assert response.status_code == 201, response.text
        certificate_id = response.json()["id"]
        deadline = time.monotonic() + 20
        while response.json()["protocol_status"] != "assigned":
            assert time.monotonic() < deadline, f"no protocol number: {response.text}"
            time.sleep(0.1)
            response = self.gateway.get(f"/certificates/{certificate_id}", headers=citizen)
            assert response.status_code == 200, response.text
        return certificate_id

    def new_fine(self) -> str:
        """A new fine the citizen has looked up (F-4), not paid."""
        return look_up_new_fine(self.gateway, self.people[CITIZEN].headers)["fine_id"]

    def bank_notification(self) -> dict[str, Any]:
        """The bank's notification of the world's payment once more, signed afresh (a duplicate:
        it changes nothing)."""
        body = json.dumps(self.paid_notification | {"event_id": f"evt_{uuid.uuid4().hex}"})
        timestamp = str(int(time.time()))
        digest = hmac.new(
            self.bank_notification_secret.encode(),
            f"{timestamp}.".encode() + body.encode(),
            hashlib.sha256,
        ).hexdigest()
        headers = {
            "Content-Type": "application/json",
            "Bank-Timestamp": timestamp,
            "Bank-Signature": f"v1={digest}",
        }
        return {"content": body, "headers": headers}

    def ticket(self) -> dict[str, str]:
        """What is printed on a ticket nobody has looked up yet (F-2, F-3)."""
        return new_fine(fine_types(self.gateway, self.people[CITIZEN].headers))

    def disabled_citizen(self) -> str:
        """A new citizen whom the admin has disabled (ID-4)."""
        user_id = self.casting.registered().user_id
        response = self.gateway.post(
            f"/identity/users/{user_id}/disable",
            json=DISABLING,
            headers=self.people[ADMIN].headers,
        )
        assert response.status_code == 200, response.text
        return user_id


@pytest.fixture(scope="module")
def world(stack, gateway, admin, eventually) -> World:
    matrix_admin = Casting(gateway, admin.token).staff("admin")
    casting = Casting(gateway, matrix_admin.token)
    people = {
        CITIZEN: casting.registered("citizen"),
        BUSINESS: casting.registered("business"),
        OTHER_CITIZEN: casting.registered("citizen", role=OTHER_CITIZEN),
        OTHER_CLERK: casting.staff("clerk", OTHER_DEPARTMENT, as_role=OTHER_CLERK),
        CLERK: casting.staff("clerk", DEPARTMENT),
        AUDITOR: casting.staff("auditor"),
        ADMIN: matrix_admin,
    }
    spare_tokens = {role: casting.log_in(p.email, p.password) for role, p in people.items()}
    clerks = {DEPARTMENT: people[CLERK]} | {
        department: casting.staff("clerk", department)
        for department in set(CLERK_DEPARTMENTS.values())
    }
    world = World(gateway, casting, people, spare_tokens, clerks, stack.bank_notification_secret)

    world.request_id = world.new_request()
    response = gateway.post(f"/requests/{world.request_id}/protocol", headers=people[CLERK].headers)
    assert response.status_code == 202, response.text
    eventually(
        lambda: (
            gateway.get(
                f"/protocol/registrations/{world.request_id}", headers=people[ADMIN].headers
            ).status_code
            == 200
        )
    )

    # The citizen's fine, paid through the bank's page (F-6), so that its payment's checkout and
    # return pages answer at once.
    for person in (people[CITIZEN], people[BUSINESS], people[OTHER_CITIZEN]):
        wait_until_fines_accept(gateway, person.headers)
    citizen = people[CITIZEN].headers
    fine = look_up_new_fine(gateway, citizen)
    payment = new_payment(gateway, citizen, fine["fine_id"])
    with new_browser() as browser:
        pay_on_bank_page(browser, payment["redirect_url"], SUCCESS_CARD)
    eventually(lambda: payment_status(gateway, citizen, payment["payment_id"]) == "completed")
    world.paid_notification = bank_order_notification(stack, payment["payment_id"])

    # The applicants of certificates are verified in person (C-1); the citizen's application is
    # issued, so that its document and verification code answer; one of the citizen's
    # notifications (the reply to the request, X-2).
    for role in (CITIZEN, BUSINESS, OTHER_CITIZEN):
        world.verify(people[role].user_id)
    for role in (CITIZEN, BUSINESS, OTHER_CITIZEN):
        eventually(lambda role=role: certificates_accept(gateway, people[role].headers))
    world.certificate_id = world.new_certificate()
    certificate_clerk = world.clerks[CLERK_DEPARTMENTS["certificates"]].headers
    issued = gateway.post(
        f"/certificates/{world.certificate_id}/issue", json={}, headers=certificate_clerk
    )
    assert issued.status_code == 200, issued.text
    response = gateway.post(
        f"/requests/{world.request_id}/reply",
        json={"text": "Το αίτημά σας προωθήθηκε στο συνεργείο."},
        headers=people[CLERK].headers,
    )
    assert response.status_code == 200, response.text
    notification_id = eventually(lambda: first_notification(gateway, citizen))

    # The business's own: a tax declaration, quoted (B-2), and an assessed debt of its ΑΦΜ that
    # the municipal information system holds (B-3), once the business service knows the
    # business is verified.
    business = people[BUSINESS].headers
    eventually(lambda: gateway.get("/business/warrants", headers=business).status_code == 200)
    declared = gateway.post("/business/tax-declarations", json=declaration(1), headers=business)
    assert declared.status_code == 201, declared.text
    world.declaration_id = declared.json()["declaration_id"]
    debt_id = assessed_debt(stack, people[BUSINESS].profile["afm"])

    world.path_parameters = {
        "user_id": people[CITIZEN].user_id,
        "request_id": world.request_id,
        "document_id": world.request_id,  # a request's protocol registration has its id
        "fine_id": fine["fine_id"],
        "rf": fine["quote"]["reference"],
        "payment_id": payment["payment_id"],
        "certificate_id": world.certificate_id,
        "code": issued.json()["verification_code"],
        "notification_id": notification_id,
        "declaration_id": world.declaration_id,
        "debt_id": debt_id,
        "case": world.request_id,  # an auditor's case: the citizen's request
    }
    world.service_urls = {service: stack.url_of(service) for service in SERVICES}
    return world


def declaration(month: int) -> dict[str, Any]:
    """A monthly municipal-tax declaration of two years ago (B-2): a past period, its VAT
    return filed the month after."""
    year = datetime.now(UTC).year - 2
    return {
        "period_type": "monthly",
        "period": month,
        "year": year,
        "gross_revenue": 1_500_000_00,
        "vat_return_date": f"{year + month // 12}-{month % 12 + 1:02d}-20",
    }


def assessed_debt(stack, afm: str) -> str:
    """A debt of `afm` assessed in the municipal information system (its simulator, on the
    gateway's operators' listener): B-3 lists what the system holds."""
    with httpx.Client(base_url=stack.gateway_operators_url, timeout=10.0) as operators:
        response = operators.post(
            "/municipal-system/debts",
            json={
                "afm": afm,
                "principal": 42_000,
                "description": "Τέλος καθαριότητας και φωτισμού",
                "period": "2024 Q4",
            },
        )
    assert response.status_code == 201, response.text
    return response.json()["debt_id"]


def certificates_accept(gateway: httpx.Client, headers: dict[str, str]) -> bool:
    """Whether the certificates service has learnt that the user is verified (C-1): it hears it
    from identity's events, a moment after the clerk's verification. The probe applies once."""
    probe = gateway.post("/certificates/civil-registry", json=FAMILY_STATUS, headers=headers)
    assert probe.status_code in (201, 403), probe.text
    return probe.status_code == 201


def first_notification(gateway: httpx.Client, headers: dict[str, str]) -> str | None:
    response = gateway.get("/notifications", headers=headers)
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    return items[0]["id"] if items else None


def bank_order_notification(stack, payment_id: str) -> dict[str, Any]:
    """The body of the bank's notification of a paid order, as the bank's API reports the
    order (its transaction id)."""
    with httpx.Client(base_url=stack.url_of("bank"), timeout=10.0) as bank:
        response = bank.get(
            f"/api/orders/{payment_id}",
            headers={"Authorization": f"Bearer {stack.bank_api_key}"},
        )
    assert response.status_code == 200, response.text
    order = response.json()
    assert order["status"] == "succeeded", order
    return {
        "order_id": payment_id,
        "session_id": order["session_id"],
        "status": "succeeded",
        "reason": None,
        "amount": order["amount"],
        "currency": "EUR",
        "transaction_id": order["transaction_id"],
        "occurred_at": datetime.now(UTC).isoformat(),
    }


# --- how each route is called -----------------------------------------------------------------

DISABLING = {"reason": "Αποχώρησε από την υπηρεσία"}
Body = Callable[[World, str], dict[str, Any]]  # (world, role) -> httpx keyword arguments


def own_profile(world: World, role: str) -> dict[str, str]:
    """The details the role's person filled in (a business keeps its own ΑΦΜ); a citizen's for
    those who have none."""
    person = world.people.get(role)
    return (person.profile if person else None) or CITIZEN_PROFILE


def no_body(world: World, role: str) -> dict[str, Any]:
    return {}


def json_body(body: dict[str, Any]) -> Body:
    return lambda world, role: {"json": body}


def query(params: dict[str, str]) -> Body:
    """A call with these query parameters."""
    return lambda world, role: {"params": params}


at_the_end = query({"at": "2100-01-01T00:00:00+00:00"})

# Whose aggregate the kit's history route of each service replays: one of the world's;
# the services not named here keep none of them.
HISTORY_AGGREGATES = {
    "identity": "user_id",
    "requests": "request_id",
    "payments": "payment_id",
    "fines": "fine_id",
    "certificates": "certificate_id",
    "notifications": "notification_id",
    "business": "declaration_id",
}


@dataclass(frozen=True)
class Recipe:
    """A valid call of a route: its body, and for a route whose success changes the resource,
    `fresh` makes the path parameters of a resource of its own for each call expected to
    succeed (a second success on the same one would be a conflict)."""

    body: Body = no_body
    fresh: Callable[[World], dict[str, str]] | None = None
    spare_token: bool = False


RECIPES: dict[Route, Recipe] = {
    ("POST", "/identity/users"): Recipe(
        lambda world, role: {
            "json": {"kind": "citizen", "email": new_email("matrix"), "password": new_password()}
        }
    ),
    ("POST", "/identity/token"): Recipe(
        lambda world, role: {
            "data": {
                "username": world.people[CITIZEN].email,
                "password": world.people[CITIZEN].password,
            }
        }
    ),
    ("POST", "/identity/logout"): Recipe(spare_token=True),
    ("PUT", "/identity/me/profile"): Recipe(lambda world, role: {"json": own_profile(world, role)}),
    ("POST", "/identity/staff"): Recipe(
        lambda world, role: {
            "json": {"email": new_email("auditor"), "password": new_password(), "role": "auditor"}
        }
    ),
    ("POST", "/identity/users/{user_id}/verification"): Recipe(
        json_body(VERIFICATION),
        fresh=lambda world: {"user_id": world.casting.registered().user_id},
    ),
    ("DELETE", "/identity/users/{user_id}/verification"): Recipe(
        json_body({"reason": "Το έγγραφο είχε λήξει"}),
        fresh=lambda world: {"user_id": world.verified_citizen()},
    ),
    # A successful disabling, enabling or staff change acts on a person of its own.
    ("POST", "/identity/users/{user_id}/disable"): Recipe(
        json_body(DISABLING),
        fresh=lambda world: {"user_id": world.casting.registered().user_id},
    ),
    ("POST", "/identity/users/{user_id}/enable"): Recipe(
        fresh=lambda world: {"user_id": world.disabled_citizen()}
    ),
    ("PATCH", "/identity/users/{user_id}/staff"): Recipe(
        json_body({"department": OTHER_DEPARTMENT}),
        fresh=lambda world: {"user_id": world.casting.staff("clerk", DEPARTMENT).user_id},
    ),
    ("PUT", "/identity/me/password"): Recipe(
        lambda world, role: {
            "json": {
                "current_password": world.people[role].password if role != ANONYMOUS else "x",
                "new_password": new_password(),
            }
        }
    ),
    ("POST", "/requests/anonymous"): Recipe(
        json_body({"subject": "Θόρυβος", "text": "Θόρυβος από κατάστημα μετά τα μεσάνυχτα."})
    ),
    ("POST", "/requests"): Recipe(
        json_body(
            {
                "kind": "request",
                "subject": "Κλάδεμα δέντρων",
                "text": "Τα δέντρα της οδού κρύβουν τον φανοστάτη.",
                "category": CATEGORY,
            }
        )
    ),
    ("POST", "/requests/{request_id}/reply"): Recipe(
        json_body({"text": "Ενημερώθηκε το συνεργείο."})
    ),
    ("POST", "/requests/{request_id}/status"): Recipe(
        json_body({"status": "under_review"}),
        fresh=lambda world: {"request_id": world.new_request()},
    ),
    ("POST", "/requests/{request_id}/protocol"): Recipe(
        fresh=lambda world: {"request_id": world.new_request()}
    ),
    ("POST", "/certificates/civil-registry"): Recipe(json_body(FAMILY_STATUS)),
    ("POST", "/certificates/tap"): Recipe(json_body(TAP)),
    # Each successful clerk's action on an application of its own (issued and rejected are final).
    ("POST", "/certificates/{certificate_id}/status"): Recipe(
        json_body({"status": "under_review"}),
        fresh=lambda world: {"certificate_id": world.new_certificate()},
    ),
    ("POST", "/certificates/{certificate_id}/reply"): Recipe(
        json_body({"text": "Θα παραλάβετε το πιστοποιητικό με e-mail."}),
        fresh=lambda world: {"certificate_id": world.new_certificate()},
    ),
    ("POST", "/certificates/{certificate_id}/issue"): Recipe(
        json_body({}), fresh=lambda world: {"certificate_id": world.new_certificate()}
    ),
    ("POST", "/certificates/{certificate_id}/reject"): Recipe(
        json_body({"reason": "Δεν προκύπτει εγγραφή στο δημοτολόγιο."}),
        fresh=lambda world: {"certificate_id": world.new_certificate()},
    ),
    ("PUT", "/notifications/preferences"): Recipe(json_body({"email": True})),
    # Another month than the world's declaration (one per period).
    ("POST", "/business/tax-declarations"): Recipe(json_body(declaration(2))),
    ("POST", "/business/tax-declarations/{declaration_id}/payment"): Recipe(
        lambda world, role: {"headers": {"Idempotency-Key": uuid.uuid4().hex}}
    ),
    ("POST", "/business/debts/{debt_id}/payment"): Recipe(
        lambda world, role: {"headers": {"Idempotency-Key": uuid.uuid4().hex}}
    ),
    ("POST", "/fines"): Recipe(
        lambda world, role: {
            "json": {
                key: value for key, value in world.ticket().items() if key != "municipality_code"
            }
        }
    ),
    ("POST", "/payments/bank/notifications"): Recipe(lambda world, role: world.bank_notification()),
    # a case's state at an instant after everything; an export of the audit service's own
    # history (the auditors' reads), a small one.
    ("GET", "/audit/cases/{case}/state"): Recipe(at_the_end),
    ("GET", "/audit/events"): Recipe(query({"service": "audit", "type": "Recorded"})),
    **{
        ("GET", f"/{service}/history/aggregates/{{aggregate_id}}/state"): Recipe(at_the_end)
        for service in SERVICES
    },
    ("POST", "/fines/check"): Recipe(
        lambda world, role: {
            "json": {key: world.ticket()[key] for key in ("municipality_code", "fine_type")}
        }
    ),
    # Each lookup a fine of its own: the first caller of a fine number becomes its holder.
    ("POST", "/fines/lookup"): Recipe(lambda world, role: {"json": world.ticket()}),
    # A successful payment is of a new fine of the citizen's (the world's fine is paid).
    ("POST", "/fines/{fine_id}/payment"): Recipe(
        lambda world, role: {"headers": {"Idempotency-Key": uuid.uuid4().hex}},
        fresh=lambda world: {"fine_id": world.new_fine()},
    ),
}


def call(world: World, route: Route, role: str, expected: int) -> httpx.Response:
    method, template = route
    recipe = RECIPES.get(route, Recipe())
    parameters = world.path_parameters
    if recipe.fresh is not None and 200 <= expected < 300:
        parameters = parameters | recipe.fresh(world)

    def parameter(match: re.Match[str]) -> str:
        name = match.group(1)
        assert name in parameters, f"{method} {template}: no value for path parameter {name!r}"
        return parameters[name]

    headers = {}
    if role != ANONYMOUS:
        token = world.spare_tokens[role] if recipe.spare_token else world.person(role, route).token
        headers["Authorization"] = f"Bearer {token}"
    service = kit_history_service(route)
    if service is not None:
        # Called at the service itself (not routed by the public gateway), on its own aggregate.
        aggregate = HISTORY_AGGREGATES.get(service)
        parameters = parameters | {
            "aggregate_id": parameters[aggregate] if aggregate else str(uuid.uuid4())
        }
    path = re.sub(r"\{(\w+)\}", parameter, template)
    arguments = recipe.body(world, role)
    headers |= arguments.pop("headers", {})
    if service is not None:
        with httpx.Client(base_url=world.service_urls[service], timeout=30.0) as direct:
            return direct.request(method, path, headers=headers, **arguments)
    return world.gateway.request(method, path, headers=headers, **arguments)


# --- the tests --------------------------------------------------------------------------------


def test_the_matrix_has_an_entry_for_every_route_of_every_service_and_no_other(gateway):
    """Issue 6: a new route without an entry in the matrix fails; so does an entry for a route
    that no service has any more."""
    documented = documented_routes(gateway)
    missing = sorted(documented - MATRIX.keys())
    stale = sorted(MATRIX.keys() - documented)
    assert not missing, "routes without an entry in tests/authorization_matrix.py: " + ", ".join(
        f"{method} {path}" for method, path in missing
    )
    assert not stale, "entries of tests/authorization_matrix.py for no route: " + ", ".join(
        f"{method} {path}" for method, path in stale
    )


ROUTES_IN_ORDER = [route for route in MATRIX if route not in ENDS_EVERY_TOKEN] + [
    route for route in MATRIX if route in ENDS_EVERY_TOKEN
]


@pytest.mark.parametrize("route", ROUTES_IN_ORDER, ids=" ".join)
def test_each_role_gets_the_documented_answer(world, route):
    """Issue 6 / ASVS 5.0 V8.2.1, V8.2.2: anonymous, the owner, a business, another citizen, a
    clerk of another department, the department's clerk, an auditor and an admin each get the
    status the matrix documents for this route."""
    wrong = []
    for role, expected in MATRIX[route].items():
        response = call(world, route, role, expected)
        if response.status_code != expected:
            wrong.append(
                f"{role}: expected {expected}, got {response.status_code} {response.text[:200]}"
            )
    assert not wrong, f"{' '.join(route)}:\n" + "\n".join(wrong)
