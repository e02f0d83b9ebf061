"""Issue 5 §2 "One place for each fact": deploy/services.toml is the one list of processes, and
everything that names them (packages, local processes, databases, dead-letter topics, gateway
routes, docker-compose.yml, the images) follows from it. No running stack needed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from portal_events import topics
from portal_stack import derived
from portal_stack.config import Config
from portal_stack.services import (
    DEPLOYMENT_PLACEHOLDERS,
    REPO,
    SECRETS,
    SERVICES_FILE,
    STACK_INIT,
    STACK_PACKAGE,
    ServiceListError,
    load,
)

LISTED = load()
SERVICE_NAMES = (
    "identity",
    "requests",
    "protocol",
    "payments",
    "fines",
    "certificates",
    "notifications",
    "backoffice",
    "business",
    "audit",
)

# A service not written yet, as its entry will read.
TAXES = """
[[process]]
name = "taxes"
kind = "service"
package = "services/taxes"
app = "taxes_service.main:app"
port = 8119
database = "taxes"
env = { PROTOCOL_REGISTRY_URL = "$protocol_registry_url" }
"""


def _with_entry(tmp_path: Path, entry: str) -> Path:
    path = tmp_path / "services.toml"
    path.write_text(SERVICES_FILE.read_text() + entry)
    return path


FOLDERS = {"business": "business-tax"}


def test_every_service_folder_is_listed_and_every_entry_points_at_real_code() -> None:
    folders = {p.parent.name for p in (REPO / "services").glob("*/pyproject.toml")}
    assert {Path(p.package).name for p in LISTED.services} == folders
    for process in LISTED.processes:
        assert (REPO / process.package / "pyproject.toml").is_file(), process.name
        module, _, attribute = process.app.partition(":")
        source = REPO / process.package / (module.replace(".", "/") + ".py")
        assert source.is_file() and attribute, f"{process.name}: no {source}"
        if process.kind == "service":
            # The folder is the service's name, but for business-tax, whose service (URL
            # prefix, database, package) is `business`.
            assert process.package == f"services/{FOLDERS.get(process.name, process.name)}"
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
        for top in ("libs", "services", "deploy", "web")
        for p in (REPO / top).rglob("pyproject.toml")
    }
    assert sorted(printed) == sorted(everywhere)
    assert printed.index("libs/events") < printed.index("services/requests")


def test_each_image_installs_what_its_process_needs() -> None:
    assert LISTED.image_packages("requests") == [*LISTED.libraries, "services/requests"]
    assert LISTED.image_packages("portal") == [*LISTED.libraries, "web"]
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


def test_the_topics_are_the_event_and_audit_topics_and_a_dead_letter_topic_per_service() -> None:
    declared = {t.name for t in topics.declared_topics(p.name for p in LISTED.services)}
    assert declared == {
        topics.IDENTITY_USER_EVENTS,
        topics.REQUESTS_REQUEST_EVENTS,
        topics.PROTOCOL_REGISTRATION_EVENTS,
        topics.PAYMENTS_PAYMENT_EVENTS,
        topics.FINES_FINE_EVENTS,
        topics.CERTIFICATES_CERTIFICATE_EVENTS,
        topics.BUSINESS_TAX_EVENTS,
        topics.AUDIT_HISTORY,
        topics.AUDIT_CHECKPOINTS,
        *(f"{name}.dead-letter" for name in SERVICE_NAMES),
        topics.TEST_EVENTS,
    }


def test_event_topics_are_kept_forever_and_the_others_for_a_while() -> None:
    # Issue 8: the worklist is rebuilt from offset zero, so no event may expire; issue 10: nor
    # may the auditors' history or the chains' checkpoints.
    for topic in topics.declared_topics(SERVICE_NAMES):
        kept_forever = topic.configs["retention.ms"] == "-1"
        expected = topic in topics.EVENT_TOPICS or topic in topics.AUDIT_TOPICS
        assert kept_forever == expected, topic.name


def test_adding_a_service_is_one_entry_in_the_list(tmp_path) -> None:
    listed = load(_with_entry(tmp_path, TAXES))

    assert "services/taxes" in listed.packages()
    assert "taxes.dead-letter" in {
        t.name for t in topics.declared_topics(p.name for p in listed.services)
    }
    template = derived.GATEWAY_TEMPLATE.read_text()
    routes = derived.with_routes(template, listed.processes)
    public = _block(routes, derived.PUBLIC_ROUTES)
    assert "location /taxes/ { proxy_pass http://${TAXES_UPSTREAM}; }" in public
    compose = derived.compose(listed)
    for line in (
        "  taxes:\n    <<: *process\n",
        "args: {SERVICE: taxes}}\n",
        '      POSTGRES_DBNAME: "taxes"\n      PORT: "8119"\n',
        '      PROTOCOL_REGISTRY_URL: "http://protocol-registry:8201"\n',
        "      TAXES_UPSTREAM: taxes:8119\n",
        "      taxes: {condition: service_healthy}\n",
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


def test_only_services_and_the_web_pages_are_routed_by_the_public_gateway() -> None:
    # Issue 6: the registry simulator's control endpoint was open to anyone.
    template = derived.GATEWAY_TEMPLATE.read_text()
    public = _block(template, derived.PUBLIC_ROUTES)
    operators = _block(template, derived.OPERATORS_ROUTES)
    for process in LISTED.processes:
        upstream = "${" + derived.upstream_variable(process.name) + "}"
        ours = process.kind in ("service", "web")
        assert (upstream in public) == ours, process.name
        assert (upstream in operators) == (not ours), process.name
    # Issue 11: the portal's pages, and its home at `/`.
    assert "location = / { proxy_pass http://${PORTAL_UPSTREAM}; }" in public
    # The operators' listener is bound to loopback and never published by docker-compose.
    compose = derived.compose(LISTED)
    assert 'GATEWAY_OPERATORS_LISTEN: "127.0.0.1:' in compose
    assert 'ports: ["127.0.0.1:8000:8000"]' in compose
    # PostgreSQL's, the public gateway's, the bank's page (a browser opens it on its own port)
    # and Mailpit's web mailbox.
    assert compose.count("ports:") == 4
    assert [p.name for p in LISTED.processes if p.published] == ["bank"]
    assert 'ports: ["127.0.0.1:8202:8202"]' in _section(compose, "bank")


def test_only_the_listed_calls_are_rate_limited_and_never_the_bank_notifications() -> None:
    # Issue 7: the bank posts its results to POST /payments/bank/notifications through the
    # public gateway, in bursts from a few addresses; a 429 would only delay them.
    template = derived.GATEWAY_TEMPLATE.read_text()
    limited = re.findall(r"location ([^{]+)\{[^}]*limit_req zone", template)
    assert [location.strip() for location in limited] == [
        "= /identity/token",
        "= /identity/users",
        "= /requests/anonymous",
        "= /portal/login",
        "= /portal/register",
        "= /portal/anonymous",
        "/certificates/verify/",
    ]
    # Issue 11: the web pages' calls carry their key and are counted per visitor at the pages'
    # forms instead; no service ever sees the key.
    assert '"POST:${PORTAL_PAGES_KEY}"  "";' in template
    assert 'proxy_set_header X-Portal-Pages-Key "";' in template
    assert 'PORTAL_PAGES_KEY: "${PORTAL_PAGES_KEY:?' in _section(derived.compose(LISTED), "gateway")
    public = _block(template, derived.PUBLIC_ROUTES)
    assert "location /payments/ { proxy_pass http://${PAYMENTS_UPSTREAM}; }" in public


def test_the_public_gateway_refuses_every_services_metrics_and_history() -> None:
    # Operators scrape metrics on each service's port; the audit service asks each service for
    # an aggregate's history on its own address, so that every auditor's read is recorded in
    # its trail (issue 10). A regex location wins over every prefix route unless one is `^~`.
    template = derived.GATEWAY_TEMPLATE.read_text()
    refused = re.findall(r"location ~ (\S+) \{\s*return 404;\s*\}", template)
    assert refused == [r"^/[^/]+/metrics/?$", r"^/[^/]+/history(/|$)"]
    assert "location ^~" not in template


def _section(compose: str, name: str) -> str:
    """One service's block of docker-compose.yml."""
    start = compose.index(f"\n  {name}:\n") + 1
    end = compose.find("\n\n", start)
    return compose[start:end]


def test_every_deployment_fills_every_placeholder() -> None:
    # A placeholder added for one deployment only would fail the other at start-up.
    wanted = set(DEPLOYMENT_PLACEHOLDERS) | {
        placeholder for p in LISTED.processes for placeholder in p.url_placeholders()
    }
    assert set(derived._compose_values(LISTED)) == wanted
    cfg = Config.from_env()
    assert set(cfg._placeholders({p.name: p.port for p in LISTED.processes})) == wanted


def test_docker_compose_requires_the_bank_secrets_and_holds_none() -> None:
    # Issue 7: BANK_API_KEY and BANK_NOTIFICATION_SECRET are never in the repository; compose
    # refuses to start without them. Payments and the bank share both.
    compose = derived.compose(LISTED)
    for name in ("payments", "bank"):
        section = _section(compose, name)
        for variable in ("BANK_API_KEY", "BANK_NOTIFICATION_SECRET"):
            assert f'      {variable}: "${{{variable}:?set {variable}, ' in section, (
                name,
                variable,
            )
        assert '      BANK_MERCHANT_ID: "municipality"\n' in section
    assert 'BANK_URL: "http://bank:8202"' in _section(compose, "payments")
    assert 'FINES_REGISTER_URL: "http://fines-register:8203"' in _section(compose, "fines")


def test_docker_compose_names_the_portal_and_the_bank_as_browsers_reach_them() -> None:
    # The bank's notifications go to PORTAL_PUBLIC_URL from inside the network, browsers come
    # from the host: the default name is the gateway's alias there and loopback here.
    compose = derived.compose(LISTED)
    public_url = '      PORTAL_PUBLIC_URL: "${PORTAL_PUBLIC_URL:-http://portal.localhost:8000}"\n'
    assert public_url in _section(compose, "payments")
    assert public_url in _section(compose, "fines")
    assert 'aliases: ["portal.localhost"]' in _section(compose, "gateway")
    bank_public_url = 'BANK_PUBLIC_URL: "${BANK_PUBLIC_URL:-http://localhost:8202}"'
    assert bank_public_url in _section(compose, "bank")


def test_docker_compose_runs_in_production_with_an_explicit_admin_password() -> None:
    compose = derived.compose(LISTED)
    assert 'PORTAL_ENVIRONMENT: "production"' in compose
    assert 'PORTAL_ADMIN_PASSWORD: "${PORTAL_ADMIN_PASSWORD:?' in compose
    assert "Demo-Admin" not in compose
    assert f'TRUSTED_PROXIES: "{derived.COMPOSE_SUBNET}"' in compose
    assert f'subnet: "{derived.COMPOSE_SUBNET}"' in compose
    for name, value in derived.GATEWAY_LIMITS.placeholders().items():
        assert f'      {name}: "{value}"\n' in compose


def test_the_local_stack_wires_payments_to_the_bank_and_fines_to_its_register(
    monkeypatch, tmp_path
) -> None:
    monkeypatch.setenv("PORTAL_STATE_DIR", str(tmp_path))
    monkeypatch.delenv("PAYMENT_EXPIRE_AFTER_SECONDS", raising=False)
    monkeypatch.delenv("PAYMENT_RECONCILE_AFTER_SECONDS", raising=False)
    cfg = Config.from_env()
    for name in SECRETS:
        cfg.secret_file(name).parent.mkdir(exist_ok=True)
        cfg.secret_file(name).write_text(f"secret-of-{name}\n")
    payments = cfg.service_env(cfg.service("payments"))
    bank = cfg.service_env(cfg.service("bank"))
    fines = cfg.service_env(cfg.service("fines"))

    assert payments["PORTAL_PUBLIC_URL"] == fines["PORTAL_PUBLIC_URL"] == cfg.gateway_url
    assert payments["BANK_URL"] == bank["BANK_PUBLIC_URL"] == cfg.service("bank").url
    assert fines["FINES_REGISTER_URL"] == cfg.service("fines-register").url
    for env in (payments, bank):
        assert env["BANK_API_KEY"] == "secret-of-bank_api_key"
        assert env["BANK_NOTIFICATION_SECRET"] == "secret-of-bank_notification_secret"
        assert env["BANK_MERCHANT_ID"] == "municipality"
    # Quick expiry and reconciliation, so that the end-to-end tests of both take seconds.
    assert payments["PAYMENT_EXPIRE_AFTER_SECONDS"] == "30"
    assert payments["PAYMENT_RECONCILE_AFTER_SECONDS"] == "5"
    assert "PAYMENT_EXPIRE_AFTER_SECONDS" not in _section(derived.compose(LISTED), "payments")


def test_the_local_stack_sends_e_mail_through_its_mailpit(monkeypatch) -> None:
    # Issue 8: $smtp_host and $smtp_port are the local Mailpit, wherever PORTAL_SMTP_PORT puts it.
    monkeypatch.setenv("PORTAL_SMTP_PORT", "12025")
    monkeypatch.setenv("PORTAL_MAILPIT_PORT", "18025")
    cfg = Config.from_env()
    notifications = cfg.service_env(cfg.service("notifications"))
    certificates = cfg.service_env(cfg.service("certificates"))

    assert (notifications["SMTP_HOST"], notifications["SMTP_PORT"]) == ("127.0.0.1", "12025")
    assert notifications["MAIL_FROM"] == "noreply@demo.portal.gr"
    assert "SMTP_PASSWORD" not in notifications  # Mailpit takes mail without logging in
    assert (
        notifications["PORTAL_PUBLIC_URL"] == certificates["PORTAL_PUBLIC_URL"] == cfg.gateway_url
    )
    assert notifications["MUNICIPALITY_NAME"] == certificates["MUNICIPALITY_NAME"]
    assert cfg.mailpit_url == "http://127.0.0.1:18025"


def test_docker_compose_runs_mailpit_and_sends_the_e_mails_through_it() -> None:
    compose = derived.compose(LISTED)
    mailpit = _section(compose, "mailpit")
    assert "    image: axllent/mailpit:v1.33.1\n" in mailpit
    assert 'ports: ["127.0.0.1:8025:8025"]' in mailpit  # the web mailbox; SMTP stays inside
    assert "MP_DATABASE: /data/mailpit.db" in mailpit
    assert 'volumes: ["mailpit-data:/data"]' in mailpit
    notifications = _section(compose, "notifications")
    assert '      SMTP_HOST: "mailpit"\n      SMTP_PORT: "1025"\n' in notifications
    public_url = 'PORTAL_PUBLIC_URL: "${PORTAL_PUBLIC_URL:-http://portal.localhost:8000}"'
    assert public_url in notifications
    assert public_url in _section(compose, "certificates")


def test_the_caller_may_give_payments_more_time_on_the_local_stack(monkeypatch) -> None:
    monkeypatch.setenv("PAYMENT_EXPIRE_AFTER_SECONDS", "900")
    payments = Config.from_env().service("payments")
    assert payments.env["PAYMENT_EXPIRE_AFTER_SECONDS"] == "900"


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
    listed = load(_with_entry(tmp_path, TAXES))
    taxes = [p for p in listed.processes if p.name == "taxes"]
    rendered = derived.with_routes(template, taxes)
    assert "${TAXES_UPSTREAM}" in _block(rendered, derived.PUBLIC_ROUTES)
    assert outside_the_blocks(rendered) == outside_the_blocks(template)
    assert derived.with_routes(rendered, taxes) == rendered


@pytest.mark.parametrize(
    ("entry", "complaint"),
    [
        (TAXES.replace("8119", "8101"), "share a port"),
        (TAXES.replace('"taxes"\n', '"identity"\n', 1), "share a name"),
        (TAXES.replace('kind = "service"', 'kind = "worker"'), "kind"),
        (TAXES.replace('database = "taxes"\n', ""), "own database"),
        (TAXES.replace("$protocol_registry_url", "$billing_url"), "placeholder"),
        (TAXES.replace("$protocol_registry_url", "$identity_public_url"), "placeholder"),
        (TAXES + "published = true\n", "only a simulator"),
    ],
)
def test_an_inconsistent_list_is_refused(tmp_path, entry: str, complaint: str) -> None:
    with pytest.raises(ServiceListError, match=complaint):
        load(_with_entry(tmp_path, entry))
