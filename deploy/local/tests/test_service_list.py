"""Issue 5 §2 "One place for each fact": deploy/services.toml is the one list of processes, and
everything that names them (packages, local processes, databases, dead-letter topics, gateway
routes, docker-compose.yml, the images) follows from it. No running stack needed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from portal_events import topics
from portal_stack import derived
from portal_stack.config import Config
from portal_stack.services import (
    REPO,
    SERVICES_FILE,
    STACK_INIT,
    STACK_PACKAGE,
    ServiceListError,
    load,
)

LISTED = load()

PAYMENTS = """
[[process]]
name = "payments"
kind = "service"
package = "services/payments"
app = "payments_service.main:app"
port = 8104
database = "payments"
env = { PROTOCOL_REGISTRY_URL = "$protocol_registry_url" }
"""


def _with_entry(tmp_path: Path, entry: str) -> Path:
    path = tmp_path / "services.toml"
    path.write_text(SERVICES_FILE.read_text() + entry)
    return path


def test_every_service_folder_is_listed_and_every_entry_points_at_real_code() -> None:
    folders = {p.parent.name for p in (REPO / "services").glob("*/pyproject.toml")}
    assert {p.name for p in LISTED.services} == folders
    for process in LISTED.processes:
        assert (REPO / process.package / "pyproject.toml").is_file(), process.name
        module, _, attribute = process.app.partition(":")
        source = REPO / process.package / (module.replace(".", "/") + ".py")
        assert source.is_file() and attribute, f"{process.name}: no {source}"
        if process.kind == "service":
            assert process.package == f"services/{process.name}"
            assert module.startswith(f"{process.name}_service.")


def test_make_venv_installs_every_package_of_the_repository() -> None:
    # The Makefile runs the list's script before the venv exists: -S, no site-packages at all.
    script = REPO / "deploy/local/portal_stack/services.py"
    printed = subprocess.run(
        [sys.executable, "-I", "-S", str(script), "packages"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    everywhere = {
        str(p.parent.relative_to(REPO))
        for top in ("libs", "services", "deploy")
        for p in (REPO / top).rglob("pyproject.toml")
    }
    assert sorted(printed) == sorted(everywhere)
    assert printed.index("libs/events") < printed.index("services/requests")


def test_each_image_installs_what_its_process_needs() -> None:
    assert LISTED.image_packages("requests") == [*LISTED.libraries, "services/requests"]
    assert LISTED.image_packages("protocol-registry") == ["deploy/simulators"]
    # The init container creates the topics, which portal_events declares.
    assert "libs/events" in LISTED.image_packages(STACK_INIT)
    assert STACK_PACKAGE in LISTED.image_packages(STACK_INIT)


def test_the_generated_files_match_the_list() -> None:
    stale = [str(p.relative_to(REPO)) for p in derived.stale_files(LISTED)]
    assert stale == [], f"{stale} differ from deploy/services.toml: run `make generate`"


def test_the_local_stack_runs_every_listed_process_with_its_database() -> None:
    cfg = Config.from_env()
    assert [s.name for s in cfg.services] == [p.name for p in LISTED.processes]
    for service in cfg.services:
        env = cfg.service_env(service)
        assert env["POSTGRES_DBNAME"] == (service.database or "postgres")
        assert env["KAFKA_BOOTSTRAP_SERVERS"] == cfg.kafka_bootstrap
        assert env["JWKS_URL"] == cfg.service("identity").url + "/identity/.well-known/jwks.json"


def test_a_url_placeholder_follows_the_port_the_environment_gives(monkeypatch) -> None:
    monkeypatch.setenv("PORTAL_PROTOCOL_REGISTRY_PORT", "18999")
    cfg = Config.from_env()
    assert cfg.service("protocol").env["PROTOCOL_REGISTRY_URL"] == "http://127.0.0.1:18999"


def test_the_topics_are_the_event_topics_and_a_dead_letter_topic_per_service() -> None:
    declared = {t.name for t in topics.declared_topics(p.name for p in LISTED.services)}
    assert declared == {
        topics.IDENTITY_USER_EVENTS,
        topics.REQUESTS_REQUEST_EVENTS,
        topics.PROTOCOL_REGISTRATION_EVENTS,
        "identity.dead-letter",
        "requests.dead-letter",
        "protocol.dead-letter",
        topics.TEST_EVENTS,
    }


def test_adding_a_service_is_one_entry_in_the_list(tmp_path) -> None:
    listed = load(_with_entry(tmp_path, PAYMENTS))

    assert "services/payments" in listed.packages()
    assert "payments.dead-letter" in {
        t.name for t in topics.declared_topics(p.name for p in listed.services)
    }
    template = derived.GATEWAY_TEMPLATE.read_text()
    routes = derived.with_routes(template, listed.processes)
    public = _block(routes, derived.PUBLIC_ROUTES)
    assert "location /payments/ { proxy_pass http://${PAYMENTS_UPSTREAM}; }" in public
    compose = derived.compose(listed)
    for line in (
        "  payments:\n    <<: *process\n",
        "args: {SERVICE: payments}}\n",
        '      POSTGRES_DBNAME: "payments"\n      PORT: "8104"\n',
        '      PROTOCOL_REGISTRY_URL: "http://protocol-registry:8201"\n',
        "      PAYMENTS_UPSTREAM: payments:8104\n",
        "      payments: {condition: service_healthy}\n",
    ):
        assert line in compose


def test_the_gateway_keeps_prefixes_of_services_and_strips_those_of_simulators() -> None:
    # Bare prefixes: `POST /requests` must reach the service, not a 301 (git log 9493dbf); and
    # `/protocol` must not take `/protocol-registry/...` (issue 6).
    assert derived.route("requests", strip_prefix=False) == [
        "location = /requests { proxy_pass http://${REQUESTS_UPSTREAM}; }",
        "location /requests/ { proxy_pass http://${REQUESTS_UPSTREAM}; }",
    ]
    assert derived.route("protocol-registry", strip_prefix=True) == [
        "location /protocol-registry/ { proxy_pass http://${PROTOCOL_REGISTRY_UPSTREAM}/; }"
    ]


def _block(text: str, block: derived.RoutesBlock) -> str:
    return text[text.index(block.begin) : text.index(block.end)]


def test_only_services_are_routed_by_the_public_gateway() -> None:
    # Issue 6: the registry simulator's control endpoint was open to anyone.
    template = derived.GATEWAY_TEMPLATE.read_text()
    public = _block(template, derived.PUBLIC_ROUTES)
    operators = _block(template, derived.OPERATORS_ROUTES)
    for process in LISTED.processes:
        upstream = "${" + derived.upstream_variable(process.name) + "}"
        assert (upstream in public) == (process.kind == "service"), process.name
        assert (upstream in operators) == (process.kind != "service"), process.name
    # The operators' listener is bound to loopback and never published by docker-compose.
    compose = derived.compose(LISTED)
    assert 'GATEWAY_OPERATORS_LISTEN: "127.0.0.1:' in compose
    assert 'ports: ["127.0.0.1:8000:8000"]' in compose
    assert compose.count("ports:") == 2  # PostgreSQL's and the public gateway's


def test_docker_compose_runs_in_production_with_an_explicit_admin_password() -> None:
    compose = derived.compose(LISTED)
    assert 'PORTAL_ENVIRONMENT: "production"' in compose
    assert 'PORTAL_ADMIN_PASSWORD: "${PORTAL_ADMIN_PASSWORD:?' in compose
    assert "Demo-Admin" not in compose
    assert f'TRUSTED_PROXIES: "{derived.COMPOSE_SUBNET}"' in compose
    assert f'subnet: "{derived.COMPOSE_SUBNET}"' in compose
    for name, value in derived.GATEWAY_LIMITS.placeholders().items():
        assert f'      {name}: "{value}"\n' in compose


def test_the_local_stack_is_the_local_environment_and_trusts_only_loopback() -> None:
    env = Config.from_env().service_env(Config.from_env().service("identity"))
    assert env["PORTAL_ENVIRONMENT"] == "local"
    assert env["TRUSTED_PROXIES"] == "127.0.0.1/32,::1/128"


def test_rendering_the_routes_leaves_the_rest_of_the_template_alone(tmp_path) -> None:
    def outside_the_blocks(text: str) -> str:
        for block in (derived.PUBLIC_ROUTES, derived.OPERATORS_ROUTES):
            text = block.pattern.sub("", text)
        return text

    template = derived.GATEWAY_TEMPLATE.read_text()
    payments = [p for p in load(_with_entry(tmp_path, PAYMENTS)).processes if p.name == "payments"]
    rendered = derived.with_routes(template, payments)
    assert "${PAYMENTS_UPSTREAM}" in _block(rendered, derived.PUBLIC_ROUTES)
    assert outside_the_blocks(rendered) == outside_the_blocks(template)
    assert derived.with_routes(rendered, payments) == rendered


@pytest.mark.parametrize(
    ("entry", "complaint"),
    [
        (PAYMENTS.replace("8104", "8101"), "share a port"),
        (PAYMENTS.replace('"payments"\n', '"identity"\n', 1), "share a name"),
        (PAYMENTS.replace('kind = "service"', 'kind = "worker"'), "kind"),
        (PAYMENTS.replace('database = "payments"\n', ""), "own database"),
        (PAYMENTS.replace("$protocol_registry_url", "$billing_url"), "placeholder"),
    ],
)
def test_an_inconsistent_list_is_refused(tmp_path, entry: str, complaint: str) -> None:
    with pytest.raises(ServiceListError, match=complaint):
        load(_with_entry(tmp_path, entry))
