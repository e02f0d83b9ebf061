"""Routing by category (SPEC R-3), checked against the department catalogue at start-up (issue 6:
"a routing target that is not in the catalogue stops the requests service at start-up with a
clear message")."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from portal_events.departments import DEPARTMENTS, DepartmentUnknown
from requests_service import domainmodel
from requests_service.domainmodel import CategoryUnknown, Routing
from requests_service.main import service
from requests_service.settings import RequestsSettings


def test_r3_routing_by_category_is_data():
    routing = Routing.parse(
        'default = "citizen_services"\n[categories]\nroads = "technical"\n', source="test"
    )
    assert routing.department_for("roads") == "technical"
    assert routing.department_for(None) == "citizen_services"
    with pytest.raises(CategoryUnknown):
        routing.department_for("weather")


def test_r3_packaged_routing_has_a_default_and_routes_only_to_catalogue_departments_issue6():
    routing = Routing.load()
    assert routing.default_department == "citizen_services"
    assert routing.department_for("roads") == "technical"
    assert {routing.default_department, *routing.departments.values()} <= set(DEPARTMENTS)


def test_issue6_a_category_routed_outside_the_catalogue_is_refused_naming_file_and_code(tmp_path):
    routing_file = tmp_path / "routing.toml"
    routing_file.write_text(
        'default = "citizen_services"\n[categories]\nroads = "technical_services"\n', "utf-8"
    )
    with pytest.raises(DepartmentUnknown) as refused:
        Routing.load(routing_file)
    assert str(routing_file) in str(refused.value)
    assert "'technical_services'" in str(refused.value)


def test_issue6_a_default_department_outside_the_catalogue_is_refused():
    with pytest.raises(DepartmentUnknown, match=r"routing data routes to 'front_desk'"):
        Routing.parse('default = "front_desk"\n[categories]\n', source="routing data")


def test_issue6_a_routing_target_outside_the_catalogue_stops_start_up(tmp_path, monkeypatch):
    """The check runs before the service touches its database, so no PostgreSQL is needed."""
    routing_file = tmp_path / "routing.toml"
    routing_file.write_text('default = "nowhere"\n[categories]\n', "utf-8")
    monkeypatch.setattr(domainmodel, "ROUTING_FILE", routing_file)
    app = service.create_app(RequestsSettings(kafka_enabled=False, log_format="console"))
    refusal = re.escape(f"{routing_file} routes to 'nowhere'")
    with pytest.raises(DepartmentUnknown, match=refusal), TestClient(app):
        pass  # pragma: no cover - start-up fails first
