"""Property-based fuzzing of every service from its own OpenAPI document, through the gateway
(issue 6; ASVS 5.0 V4.1.1, V4.2.1: answers as the documentation says). For every operation,
schemathesis makes its documented examples, its boundary values (the coverage phase) and a
bounded number of generated valid and invalid calls; every answer must be no 5xx, a status code
the operation documents, and a body of the documented content type and schema.

The services are those of deploy/services.toml, so a new one is fuzzed too. Operations that need
a token get one of a role the authorization matrix (tests/authorization_matrix.py) admits, from
users made for this run; the fuzzer comes from an address of its own (`X-Forwarded-For`, which
identity believes from the local gateway), so its wrong passwords fill no other test's log-in
throttle.

One test per operation, driven by schemathesis' strategies rather than its pytest decorator: the
decorator for a schema loaded from a fixture (`schemathesis.pytest.from_fixture`, 4.32) renames
test items through `Item._nodeid`, which pytest 9.2 no longer has. The operations are the
authorization matrix's routes, which tests/test_authorization.py holds equal to the OpenAPI
documents, and a test below holds equal to what schemathesis reads from them.
"""

from __future__ import annotations

import ipaddress
import random
import sys
from pathlib import Path

import hypothesis
import pytest
import schemathesis
from hypothesis import strategies as st
from portal_stack.services import load as load_service_list
from schemathesis import BaseSchema, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

sys.path.insert(0, str(Path(__file__).parent))
from authorization_matrix import (
    CLERK_DEPARTMENTS,
    DEPARTMENT,
    MATRIX,
    Route,
    clerk_department,
    kit_history_service,
)
from fine_payments import wait_until_fines_accept
from portal_roles import (
    ADMIN,
    AUDITOR,
    BUSINESS,
    CITIZEN,
    CLERK,
    FUZZING_NETWORK,
    Casting,
    Person,
)

SERVICES = [process.name for process in load_service_list().services]

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

# Generated calls per operation, beside its examples and boundary values: the whole file takes
# under a minute on two cores.
MAX_EXAMPLES = 50

# The fuzzing users' tokens are the credentials: no generated Authorization header.
CONFIG = {"generation": {"with-security-parameters": False}}

# Not fuzzed, with why; each is a route of the authorization matrix, which calls it as every
# role (tests/test_authorization.py).
NOT_FUZZED: dict[Route, str] = {
    ("POST", "/identity/logout"): "takes no input but the token, which it would revoke",
}

# Which role's token an operation is fuzzed with: the first of these that the authorization
# matrix lets through (the admin reaches the most; the others where only they may call).
ROLE_PREFERENCE = (ADMIN, CLERK, CITIZEN, BUSINESS, AUDITOR)


@pytest.fixture(scope="module")
def fuzzing_people(gateway, admin) -> dict[str, Person]:
    """Users of every role that may be fuzzed with, made for this run (the admin a new one, so
    that nothing the fuzzer does reaches the stack's own admin); the clerks one per department
    that plays the matrix's clerk, keyed `clerk:<department>`."""
    fuzzing_admin = Casting(gateway, admin.token).staff("admin")
    casting = Casting(gateway, fuzzing_admin.token)
    people = {
        ADMIN: fuzzing_admin,
        CITIZEN: casting.registered("citizen"),
        BUSINESS: casting.registered("business"),
        AUDITOR: casting.staff("auditor"),
    }
    for department in {DEPARTMENT, *CLERK_DEPARTMENTS.values()}:
        people[f"{CLERK}:{department}"] = casting.staff("clerk", department)
    for person in (people[CITIZEN], people[BUSINESS]):
        wait_until_fines_accept(gateway, person.headers)
    return people


@pytest.fixture(scope="module")
def fuzzing_address() -> str:
    """An address of the fuzzing network, one per run."""
    network = ipaddress.ip_network(FUZZING_NETWORK)
    return str(network[random.randrange(1, network.num_addresses - 1)])


@pytest.fixture(scope="module")
def service_schemas(stack) -> dict[str, BaseSchema]:
    """Each service's OpenAPI document as the gateway serves it."""
    config = schemathesis.Config.from_dict(CONFIG)
    return {
        service: schemathesis.openapi.from_url(
            f"{stack.gateway_url}/{service}/openapi.json", config=config
        )
        for service in SERVICES
    }


def role_for(route: Route) -> str | None:
    """None for a public operation (anonymous callers get a 2xx or a redirect), else a role the
    matrix admits (one that gets past authorization, if none of the matrix's resources is there
    for it: a kit history route of a service that keeps none of them answers 404)."""
    answers = MATRIX[route]
    if 200 <= answers["anonymous"] < 400:
        return None
    admitted = [role for role in ROLE_PREFERENCE if 200 <= answers[role] < 300] or [
        role for role in ROLE_PREFERENCE if answers[role] not in (401, 403)
    ]
    assert admitted, f"{' '.join(route)}: no role may call it"
    return admitted[0]


def base_url_for(route: Route, stack) -> str:
    """The gateway, but for the kit's history routes, which it does not route (X-1): those are
    fuzzed at the service itself, as the audit service calls them."""
    service = kit_history_service(route)
    return stack.url_of(service) if service is not None else stack.gateway_url


FUZZED = [route for route in MATRIX if route not in NOT_FUZZED]


def test_every_operation_of_every_service_is_fuzzed_or_covered_elsewhere(service_schemas):
    """Nothing is skipped silently: the operations fuzzed below and those not fuzzed (called by
    the authorization matrix instead) are exactly the operations of the documents."""
    operations = set()
    for schema in service_schemas.values():
        for result in schema.get_all_operations():
            operation = result.ok()  # an operation schemathesis cannot read fails here
            operations.add((operation.method.upper(), operation.path))
    assert operations == set(FUZZED) | set(NOT_FUZZED)
    assert set(NOT_FUZZED) <= MATRIX.keys()


@pytest.mark.parametrize("route", FUZZED, ids=" ".join)
def test_every_operation_answers_as_documented(
    route, stack, service_schemas, fuzzing_people, fuzzing_address
):
    """Issue 6: no 5xx, no undocumented status code, no answer that contradicts the documented
    schema, for the documented examples and generated valid and invalid calls."""
    method, path = route
    schema = service_schemas[path.split("/")[1]]
    operation = schema[path][method]
    headers = {"X-Forwarded-For": fuzzing_address}
    base_url = base_url_for(route, stack)
    role = role_for(route)
    if role == CLERK:
        role = f"{CLERK}:{clerk_department(route)}"
    if role is not None:
        headers |= fuzzing_people[role].headers
    cases = st.one_of(
        *schema.get_strategies_from_examples(operation),
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )

    # No example database: a failure prints the seed that reproduces it. Health checks judge
    # generation speed and filtering, which an HTTP round trip per example would trip.
    @hypothesis.settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    @hypothesis.given(case=cases)
    def answers_as_documented(case: schemathesis.Case) -> None:
        case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS)

    answers_as_documented()
    for case in schema.iter_coverage_cases(
        operation,
        generation_modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
        generation_config=schema.config.generation,
    ):
        case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS)
