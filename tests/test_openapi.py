"""The OpenAPI documents, as the gateway serves them, are complete (DESIGN "HTTP")."""

from __future__ import annotations

from typing import Any

import pytest
from portal_stack.services import load as load_service_list

# Every service of the portal, from the one list (deploy/services.toml).
SERVICES = [process.name for process in load_service_list().services]

# Routes that serve no SPEC requirement of their own: operations and the public keys.
NOT_A_REQUIREMENT = {
    *(("get", f"/{service}/health") for service in SERVICES),
    ("get", "/identity/.well-known/jwks.json"),
}
# FastAPI's own schemas for its 422 body; ours is ErrorBody, and these are not ours to describe.
FASTAPI_SCHEMAS = {"HTTPValidationError", "ValidationError"}
METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, op)
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if method in METHODS
    ]


def _documented(schema: dict[str, Any]) -> bool:
    return bool(schema.get("description") or schema.get("examples"))


@pytest.mark.parametrize("service", SERVICES)
def test_every_operation_and_field_of_every_service_is_documented(gateway, service):
    """DESIGN "HTTP": "OpenAPI complete: every field described, examples". Every operation has a
    description naming the SPEC requirement it serves (except health and JWKS), every parameter
    and every property of every component schema (form bodies included) has a description or
    examples."""
    response = gateway.get(f"/{service}/openapi.json")
    assert response.status_code == 200, response.text
    doc = response.json()
    problems: list[str] = []

    operations = _operations(doc)
    assert operations, f"{service}: no operations"
    for method, path, op in operations:
        where = f"{method.upper()} {path}"
        description = op.get("description", "")
        if not description.strip():
            problems.append(f"{where}: no description")
        elif (method, path) not in NOT_A_REQUIREMENT and "SPEC " not in description:
            problems.append(f"{where}: description names no SPEC requirement")
        for parameter in op.get("parameters", []):
            if not (
                parameter.get("description")
                or parameter.get("examples")
                or _documented(parameter.get("schema", {}))
            ):
                problems.append(f"{where}: parameter {parameter['name']!r} undocumented")

    schemas = doc.get("components", {}).get("schemas", {})
    assert schemas, f"{service}: no component schemas"
    for name, schema in schemas.items():
        if name in FASTAPI_SCHEMAS:
            continue
        for prop, prop_schema in schema.get("properties", {}).items():
            if not _documented(prop_schema):
                problems.append(f"schema {name}.{prop}: no description or examples")

    assert not problems, f"{service} OpenAPI is incomplete:\n" + "\n".join(problems)
