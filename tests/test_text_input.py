"""Every text field of every endpoint refuses NUL and other control characters (issue 5 §1).

One anonymous request whose subject held a NUL byte once stopped the requests service for good.
This test reads each service's OpenAPI document, so a new endpoint is covered without being named
here: for every string in a JSON body, a form, a query or a path, it sends a control character in
that one field (the rest as the documented example gives it), as a caller whose role the route
admits, and expects 422 naming the field. Every value sent carries a marker; afterwards no stored
event of any service may contain it: nothing was recorded.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any
from urllib.parse import quote

import httpx
import psycopg
import pytest
from portal_simulators.bank import signature
from portal_stack.services import load as load_service_list
from psycopg.sql import SQL, Identifier

# Every service of the portal, from the one list (deploy/services.toml).
SERVICES = [process.name for process in load_service_list().services]
METHODS = {"get", "put", "post", "delete", "patch"}
MARKER = f"nul-probe-{uuid.uuid4().hex}"
# One per kind that once got through somewhere: NUL, escape, DEL, a C1 control.
POISONS = ["\x00", "\x1b", "\x7f", "\x85"]


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _is_string(doc: dict[str, Any], schema: dict[str, Any]) -> bool:
    schema = _resolve(doc, schema)
    if schema.get("type") == "string":
        return True
    return any(_is_string(doc, option) for option in schema.get("anyOf", []))


def _example(doc: dict[str, Any], schema: dict[str, Any]) -> Any:
    schema = _resolve(doc, schema)
    if schema.get("examples"):
        return schema["examples"][0]
    if "default" in schema and schema["default"] is not None:
        return schema["default"]
    if schema.get("enum"):
        return schema["enum"][0]
    for option in schema.get("anyOf", []):
        if _resolve(doc, option).get("type") != "null":
            return _example(doc, option)
    return {
        "string": {"uuid": str(uuid.uuid4()), "date": "2000-01-01"}.get(
            schema.get("format", ""), "x"
        ),
        "integer": 1,
        "number": 1,
        "boolean": False,
        "array": [],
        "object": {},
    }.get(schema.get("type", "string"), "x")


def _body_example(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    schema = _resolve(doc, schema)
    example = dict((schema.get("examples") or [{}])[0])
    for name, prop in schema.get("properties", {}).items():
        if name not in example and name in schema.get("required", []):
            example[name] = _example(doc, prop)
    return example


class Probe:
    """One operation, ready to send with one field poisoned."""

    def __init__(self, doc: dict[str, Any], path: str, method: str, op: dict[str, Any]):
        self.method, self.path = method.upper(), path
        self.params = {
            p["name"]: p for p in op.get("parameters", []) if p["in"] in ("path", "query")
        }
        self.media, self.body_schema = None, None
        for media, content in (op.get("requestBody") or {}).get("content", {}).items():
            self.media, self.body_schema = media, _resolve(doc, content["schema"])
        self.doc = doc

    def fields(self) -> list[tuple[str, str]]:
        """(where, name) of every string this operation accepts."""
        fields = [
            (p["in"], name)
            for name, p in self.params.items()
            if _is_string(self.doc, p.get("schema", {}))
        ]
        if self.body_schema is not None:
            fields += [
                ("body", name)
                for name, prop in self.body_schema.get("properties", {}).items()
                if _is_string(self.doc, prop)
            ]
        return fields

    def request(self, where: str, field: str, poison: str) -> dict[str, Any]:
        bad = f"{MARKER}{poison}x"
        path = self.path
        query: dict[str, Any] = {}
        for name, p in self.params.items():
            value = bad if (where, field) == (p["in"], name) else _example(self.doc, p["schema"])
            if p["in"] == "path":
                path = path.replace("{" + name + "}", quote(str(value), safe=""))
            elif p.get("required") or (where, field) == ("query", name):
                query[name] = value
        kwargs: dict[str, Any] = {"method": self.method, "url": path, "params": query}
        if self.body_schema is not None:
            body = _body_example(self.doc, self.body_schema)
            if where == "body":
                body[field] = bad
            key = "json" if self.media == "application/json" else "data"
            kwargs[key] = body
        return kwargs


# The bank's notifications are read only once their signature checks out (issue 7): the probe
# signs each body as the bank would, with the local stack's secret, so the body is what is tested.
SIGNED_BY_THE_BANK = {("POST", "/payments/bank/notifications")}


def _as_the_bank(stack, request: dict[str, Any]) -> dict[str, Any]:
    request = dict(request)
    body = json.dumps(request.pop("json")).encode()
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "Bank-Timestamp": str(timestamp),
        "Bank-Signature": signature(stack.bank_notification_secret, timestamp, body),
    }
    return request | {"content": body, "headers": headers}


def _login(gateway: httpx.Client, email: str, password: str) -> dict[str, str]:
    response = gateway.post("/identity/token", data={"username": email, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture(scope="module")
def callers(gateway, clerk_of, admin) -> list[dict[str, str]]:
    """A token of every role, and none: each probe goes as the first one its route admits."""
    password = "Kodikos-" + uuid.uuid4().hex[:8]

    def registered(kind: str) -> dict[str, str]:
        email = f"{kind}-{uuid.uuid4().hex[:8]}@example.gr"
        response = gateway.post(
            "/identity/users", json={"kind": kind, "email": email, "password": password}
        )
        assert response.status_code == 201, response.text
        return _login(gateway, email, password)

    auditor = f"auditor-{uuid.uuid4().hex[:8]}@dimos.gr"
    created = admin.post(
        "/identity/staff", json={"email": auditor, "password": password, "role": "auditor"}
    )
    assert created.status_code == 201, created.text
    return [
        registered("citizen"),
        registered("business"),
        clerk_of("citizen_services").headers,
        admin.headers,
        _login(gateway, auditor, password),
        {},
    ]


def _fields_named(response: httpx.Response) -> list[str]:
    details = response.json().get("details") if response.content else None
    if not isinstance(details, list):
        return []
    return [str(d.get("field", "")) for d in details if isinstance(d, dict)]


def _stored_with_marker(stack, service: str) -> int:
    with psycopg.connect(stack.pg_dsn(service), autocommit=True) as conn:
        statement = SQL("SELECT count(*) FROM {} WHERE position(%s::bytea IN state) > 0")
        row = conn.execute(
            statement.format(Identifier(f"{service}_events")), (MARKER.encode(),)
        ).fetchone()
        return row[0] if row else 0


@pytest.mark.parametrize("service", SERVICES)
def test_every_text_field_refuses_control_characters_and_nothing_is_recorded(
    stack, gateway, callers, service
):
    """issue 5 §1: 422 naming the field, for every string field of every operation."""
    doc = gateway.get(f"/{service}/openapi.json").json()
    probes = [
        Probe(doc, path, method, op)
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if method in METHODS
    ]
    problems: list[str] = []
    checked = 0
    with httpx.Client(base_url=stack.services[service], timeout=15.0) as client:
        for probe in probes:
            for where, field in probe.fields():
                for poison in POISONS:
                    request = probe.request(where, field, poison)
                    if (probe.method, probe.path) in SIGNED_BY_THE_BANK:
                        response = client.request(**_as_the_bank(stack, request))
                    else:
                        for headers in callers:
                            response = client.request(**request, headers=headers)
                            if response.status_code not in (401, 403):
                                break
                    where_field = f"{probe.method} {probe.path} {where}.{field} {poison!r}"
                    named = _fields_named(response)
                    if response.status_code != 422 or not any(
                        n.split(".")[-1] == field for n in named
                    ):
                        problems.append(
                            f"{where_field}: {response.status_code} {response.text[:200]}"
                        )
                    checked += 1
    assert checked > 0, f"{service}: no text field found"
    assert not problems, "\n".join(problems)
    for other in SERVICES:
        assert _stored_with_marker(stack, other) == 0, f"{other} recorded a poisoned value"
