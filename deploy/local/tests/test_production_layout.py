"""Issue 12, cheap wins and the production layout, as deploy/services.toml states them for every
deployment: the busiest event writers on PostgreSQL clusters of their own in docker-compose
(NOTIFY serialises event-writing commits cluster-wide) while the local stack keeps one; no
access log of their own in the processes the gateway logs for. No running stack needed."""

from __future__ import annotations

import pytest
import yaml
from portal_stack import derived, stack
from portal_stack.config import Config
from portal_stack.services import REPO, SERVICES_FILE, STACK_INIT, ServiceListError, load

LISTED = load()
COMPOSE = yaml.safe_load(derived.compose(LISTED))["services"]
OWN_POSTGRES = [p for p in LISTED.services if p.own_postgres]


def test_the_busiest_event_writers_have_a_postgres_cluster_of_their_own_in_compose() -> None:
    assert {p.name for p in OWN_POSTGRES} >= {"requests", "certificates"}
    for process in OWN_POSTGRES:
        cluster = f"postgres-{process.name}"
        service = COMPOSE[process.name]
        assert service["environment"]["POSTGRES_HOST"] == cluster
        assert service["environment"]["POSTGRES_DBNAME"] == process.database
        assert service["depends_on"][cluster] == {"condition": "service_healthy"}
        assert service["depends_on"][STACK_INIT] == {"condition": "service_completed_successfully"}
        # The image creates the database on the cluster's first start, on a volume of its own.
        assert COMPOSE[cluster]["environment"]["POSTGRES_DB"] == process.database
        assert COMPOSE[cluster]["volumes"] == [f"{cluster}-data:/var/lib/postgresql/data"]
        assert "ports" not in COMPOSE[cluster]


def test_the_other_services_share_one_cluster_in_compose() -> None:
    clusters = {name for name, service in COMPOSE.items() if service.get("image") == "postgres:15"}
    assert clusters == {"postgres", *(f"postgres-{p.name}" for p in OWN_POSTGRES)}
    for process in LISTED.services:
        if not process.own_postgres:  # the common environment's host
            assert COMPOSE[process.name]["environment"]["POSTGRES_HOST"] == "postgres"


def test_the_init_container_makes_only_the_shared_clusters_databases(monkeypatch) -> None:
    made: list[str] = []
    monkeypatch.setattr(stack.postgres, "ensure_databases", lambda _, names, __: made.extend(names))
    monkeypatch.setattr(stack.kafka, "ensure_topics", lambda *_: None)
    monkeypatch.setenv("POSTGRES_HOST", "postgres")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka:9092")
    monkeypatch.delenv("JWT_PRIVATE_KEY_FILE", raising=False)

    stack.init_external()

    assert sorted(made) == sorted(p.database for p in LISTED.services if not p.own_postgres)


def test_the_local_stack_keeps_every_database_on_its_one_cluster() -> None:
    cfg = Config.from_env()
    for service in cfg.services:
        env = cfg.service_env(service)
        assert (env["POSTGRES_HOST"], env["POSTGRES_PORT"]) == ("127.0.0.1", str(cfg.pg_port))


def test_only_a_service_may_have_a_postgres_cluster_of_its_own(tmp_path) -> None:
    listed = SERVICES_FILE.read_text()
    simulator = 'name = "bank"\nkind = "simulator"\n'
    path = tmp_path / "services.toml"
    path.write_text(listed.replace(simulator, simulator + "own_postgres = true\n"))
    with pytest.raises(ServiceListError, match="only a service"):
        load(path)


def test_processes_behind_the_gateway_keep_no_access_log_of_their_own() -> None:
    # The gateway logs every request with its correlation id; the services call simulators on
    # their own ports, past the gateway, so only those keep theirs.
    cfg = Config.from_env()
    for process in cfg.services:
        command = stack._command(process)
        assert ("--no-access-log" in command) == (process.kind != "simulator"), process.name
    # The images run with the same options (deploy/Dockerfile asks the list for them).
    assert "uvicorn-options" in (REPO / "deploy" / "Dockerfile").read_text()
