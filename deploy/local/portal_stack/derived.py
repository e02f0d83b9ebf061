"""The committed files derived from deploy/services.toml: docker-compose.yml and the routes blocks
of deploy/nginx/portal.conf.template (public: the services; operators': simulators and bench).

`python -m portal_stack.generate` (`make generate`) rewrites them after the list changed;
deploy/local/tests checks that they are up to date. The local stack renders its gateway routes
with the same function, from the list itself.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from string import Template

from . import mailpit
from .config import DEMO_ADMIN_EMAIL, REPO
from .services import STACK_INIT, Process, ServiceList, fill

COMPOSE_FILE = REPO / "docker-compose.yml"
GATEWAY_TEMPLATE = REPO / "deploy" / "nginx" / "portal.conf.template"
# Included by the gateway's own answers; beside portal.conf wherever that is installed.
GATEWAY_ANSWER_HEADERS = REPO / "deploy" / "nginx" / "gateway-answer.conf"


# --- gateway --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RateLimit:
    """One limit_req zone of the public gateway: the steady rate per client address (nginx
    syntax, "10r/m") and the burst answered at once above it."""

    rate: str
    burst: int


@dataclass(frozen=True)
class GatewayLimits:
    """The public gateway's rate limits (per client address) and the Retry-After of its 429;
    they fill the LIMIT_* placeholders of the gateway template."""

    login: RateLimit  # POST /identity/token
    register: RateLimit  # POST /identity/users
    anonymous: RateLimit  # POST /requests/anonymous
    verify: RateLimit  # GET /certificates/verify/{code}: someone guessing codes
    retry_after_seconds: int

    def placeholders(self) -> dict[str, str]:
        values = {"LIMIT_RETRY_AFTER_SECONDS": str(self.retry_after_seconds)}
        for zone in ("login", "register", "anonymous", "verify"):
            limit: RateLimit = getattr(self, zone)
            values[f"LIMIT_{zone.upper()}_RATE"] = limit.rate
            values[f"LIMIT_{zone.upper()}_BURST"] = str(limit.burst)
        return values


# Production (docker-compose.yml): a person types a password a few times a minute; an office
# behind one address may hold a dozen people logging in at nine. Identity's own throttle still
# counts failures per account and address behind this. A notary or a bank clerk checks a
# certificate's code now and then, a branch behind one address a few a minute; someone guessing
# codes needs millions of tries.
GATEWAY_LIMITS = GatewayLimits(
    login=RateLimit("10r/m", 20),
    register=RateLimit("5r/m", 10),
    anonymous=RateLimit("5r/m", 10),
    verify=RateLimit("30r/m", 30),
    retry_after_seconds=60,
)
# The local stack: every test registers and logs in users from 127.0.0.1, so the limits are far
# higher, yet a burst of a few hundred concurrent POSTs still meets them (tests/test_gateway.py).
LOCAL_GATEWAY_LIMITS = GatewayLimits(
    login=RateLimit("50r/s", 100),
    register=RateLimit("50r/s", 100),
    anonymous=RateLimit("50r/s", 100),
    verify=RateLimit("50r/s", 100),
    retry_after_seconds=1,
)


@dataclass(frozen=True)
class RoutesBlock:
    """A generated block of routes in the gateway template, between its two marker comments."""

    begin: str
    end: str

    @property
    def pattern(self) -> re.Pattern[str]:
        return re.compile(
            rf"^(?P<indent>[ \t]*){re.escape(self.begin)}[^\n]*\n"
            rf".*?^[ \t]*{re.escape(self.end)}[^\n]*$",
            re.MULTILINE | re.DOTALL,
        )


PUBLIC_ROUTES = RoutesBlock(
    "# BEGIN public routes generated from deploy/services.toml", "# END public routes"
)
OPERATORS_ROUTES = RoutesBlock(
    "# BEGIN operators' routes generated from deploy/services.toml", "# END operators' routes"
)


def upstream_variable(name: str) -> str:
    """The template placeholder for a process's address, e.g. PROTOCOL_REGISTRY_UPSTREAM."""
    return f"{name.upper().replace('-', '_')}_UPSTREAM"


def route(name: str, strip_prefix: bool, *, home: bool = False) -> list[str]:
    """The locations that send `/<name>` and `/<name>/...` to the process, and nothing else
    (a bare `location /protocol` would also take `/protocol-registry/...`); with `home`, `/`
    itself too (the portal's home page)."""
    upstream = "http://${" + upstream_variable(name) + "}"
    if home:
        return [f"location = / {{ proxy_pass {upstream}; }}", *route(name, strip_prefix)]
    if strip_prefix:
        # The trailing slashes make nginx replace /<name>/ by / on the way in.
        return [f"location /{name}/ {{ proxy_pass {upstream}/; }}"]
    # The exact location takes the bare prefix: without it nginx would answer `POST /requests`
    # with a 301 to /requests/.
    return [
        f"location = /{name} {{ proxy_pass {upstream}; }}",
        f"location /{name}/ {{ proxy_pass {upstream}; }}",
    ]


def _with_block(template: str, block: RoutesBlock, processes: Iterable[Process]) -> str:
    match = block.pattern.search(template)
    if match is None:
        raise ValueError(f"the gateway template has no '{block.begin}' ... '{block.end}' block")
    lines = [
        f"{block.begin} by `make generate`; do not edit.",
        *(line for p in processes for line in route(p.name, p.strip_prefix, home=p.home)),
        block.end,
    ]
    text = "\n".join(match["indent"] + line for line in lines)
    return template[: match.start()] + text + template[match.end() :]


def with_routes(template: str, processes: Iterable[Process]) -> str:
    """`template` with one route per process: the portal's services in the public block, the
    simulators and bench targets in the operators' block (issue 6: none of those is public)."""
    processes = list(processes)
    template = _with_block(template, PUBLIC_ROUTES, (p for p in processes if p.public))
    return _with_block(template, OPERATORS_ROUTES, (p for p in processes if not p.public))


# --- docker-compose -------------------------------------------------------------------------

# What the placeholders of deploy/services.toml stand for inside the compose network.
DATA_DIR = "/data"
KEYS_DIR = "/keys"
JWT_KEY_FILE = f"{KEYS_DIR}/jwt-es256.pem"
# The compose network's range, fixed so that identity can trust the gateway's X-Forwarded-For
# (TRUSTED_PROXIES); another range through PORTAL_COMPOSE_SUBNET if this one is taken.
COMPOSE_SUBNET = "${PORTAL_COMPOSE_SUBNET:-172.30.80.0/24}"
GATEWAY_PORT = 8000
GATEWAY_OPERATORS_PORT = 8001
MAILPIT_WEB_PORT = 8025
# The portal's address as browsers and the bank reach it. Browsers and curl take every
# *.localhost name for this machine (where the gateway's port is published), and inside the
# compose network the name is the gateway's alias, so the bank simulator's notifications reach
# the gateway at the same address (`localhost` there would be the bank's own container).
PUBLIC_HOST = "portal.localhost"


def _required(variable: str, what: str) -> str:
    """A compose value with no default: `docker compose` refuses to start without it."""
    return "${" + variable + ":?set " + variable + ", " + what + "}"


# The web pages' key, which their API calls carry so that the gateway does not count them
# against the pages' own address (portal.conf.template); the gateway needs it too.
PAGES_KEY = _required(
    "PORTAL_PAGES_KEY",
    "a random secret (openssl rand -hex 32): the web pages' key at the gateway's limits",
)


def _public_url(process: Process) -> str:
    """A published process's address as browsers reach it (its port is published on the host)."""
    variable = f"{process.env_prefix}_PUBLIC_URL"
    return "${" + variable + ":-http://localhost:" + str(process.port) + "}"


def _compose_values(listed: ServiceList) -> dict[str, str]:
    return {
        "postgres_host": "postgres",
        "postgres_port": "5432",
        "kafka_bootstrap": "kafka:9092",
        "smtp_host": "mailpit",
        "smtp_port": "1025",
        "data_dir": DATA_DIR,
        "jwt_key_file": JWT_KEY_FILE,
        "admin_email": "${PORTAL_ADMIN_EMAIL:-" + DEMO_ADMIN_EMAIL + "}",
        # No demo default outside the local stack: compose refuses to start without one.
        "admin_password": _required(
            "PORTAL_ADMIN_PASSWORD", "12 characters or more, for the bootstrapped admin"
        ),
        "environment": "production",
        "trusted_proxies": COMPOSE_SUBNET,
        "public_url": "${PORTAL_PUBLIC_URL:-http://" + PUBLIC_HOST + ":" + str(GATEWAY_PORT) + "}",
        # Secrets come from the environment compose runs in, never from the repository.
        "bank_api_key": _required(
            "BANK_API_KEY", "a random secret (openssl rand -base64 32): payments' key at the bank"
        ),
        "bank_notification_secret": _required(
            "BANK_NOTIFICATION_SECRET",
            "a random secret (openssl rand -base64 32): the key of the bank's signatures",
        ),
        "portal_session_key": _required(
            "PORTAL_SESSION_KEY",
            "a random secret (openssl rand -base64 32): the key of the web pages' session cookies",
        ),
        "portal_pages_key": PAGES_KEY,
        **{p.url_placeholder: f"http://{p.name}:{p.port}" for p in listed.processes},
        **{p.public_url_placeholder: _public_url(p) for p in listed.processes if p.published},
    }


def _placeholders_used(env: Mapping[str, str]) -> set[str]:
    return {name for value in env.values() for name in Template(value).get_identifiers()}


def _volumes(process: Process) -> list[str]:
    used = _placeholders_used(process.env)
    volumes = []
    if "data_dir" in used:
        volumes.append(f"{process.name}-data:{DATA_DIR}")
    if "jwt_key_file" in used:
        volumes.append(f"jwt-keys:{KEYS_DIR}:ro")
    return volumes


def _env_lines(env: Mapping[str, str], indent: str) -> list[str]:
    return [f"{indent}{key}: {json.dumps(value, ensure_ascii=False)}" for key, value in env.items()]


def _flow_list(items: Iterable[str]) -> str:
    return "[" + ", ".join(json.dumps(item) for item in items) + "]"


_COMPOSE_HEAD = """\
# The local stack of deploy/local (`make up`) on a Docker host: the same processes, ports inside
# the network and environment variables, with the official postgres, apache/kafka and nginx images;
# laid out for production in one respect: the busiest event writers have a PostgreSQL cluster each
# (own_postgres in deploy/services.toml says why).
#   export PORTAL_ADMIN_PASSWORD='<12+ characters>'   # production: no demo password
#   export BANK_API_KEY="$(openssl rand -base64 32)"  # secrets: never in the repository
#   export BANK_NOTIFICATION_SECRET="$(openssl rand -base64 32)"
#   docker compose up -d --build
#   then http://portal.localhost:8000/identity/docs (PORTAL_PUBLIC_URL; the bank's page is
#   published on 127.0.0.1:8202, BANK_PUBLIC_URL; the e-mails sent in Mailpit,
#   http://localhost:{mailpit_web_port})
# Generated from deploy/services.toml by `make generate` (deploy/local/portal_stack/derived.py);
# do not edit.

x-common-env: &common-env
{common_env}

x-process: &process
  restart: unless-stopped
  depends_on:
    stack-init:
      condition: service_completed_successfully
  healthcheck:  # HEALTH_URL is in each process's environment for this check only
    test:
      - CMD
      - python
      - -c
      - import os, urllib.request; urllib.request.urlopen(os.environ['HEALTH_URL'], timeout=3)
    interval: 3s
    timeout: 5s
    start_period: 5s
    retries: 30

services:
  # The PostgreSQL cluster the services share; the busiest event writers have their own below.
{postgres}
  # KRaft single combined node with the settings of deploy/kafka/server.properties.template.
  kafka:
    image: apache/kafka:4.1.0
    environment:
      CLUSTER_ID: 5L6g3nShT-eMCtK--X86sw
      KAFKA_NODE_ID: "1"
      KAFKA_PROCESS_ROLES: broker,controller
      KAFKA_CONTROLLER_QUORUM_VOTERS: 1@kafka:9093
      KAFKA_LISTENERS: PLAINTEXT://:9092,CONTROLLER://:9093
      KAFKA_ADVERTISED_LISTENERS: PLAINTEXT://kafka:9092
      KAFKA_CONTROLLER_LISTENER_NAMES: CONTROLLER
      KAFKA_INTER_BROKER_LISTENER_NAME: PLAINTEXT
      KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
      KAFKA_LOG_DIRS: /var/lib/kafka/data
      KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: "1"
      KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS: "1"
      KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: "1"
      KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: "1"
      KAFKA_TRANSACTION_STATE_LOG_NUM_PARTITIONS: "1"
      KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR: "1"
      KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR: "1"
      KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: "0"
      KAFKA_LOG_CLEANER_DEDUPE_BUFFER_SIZE: "2097152"
      KAFKA_AUTO_CREATE_TOPICS_ENABLE: "false"
      KAFKA_HEAP_OPTS: -Xmx512m
    volumes: ["kafka-data:/var/lib/kafka/data"]
    healthcheck:
      test:
        - CMD-SHELL
        - /opt/kafka/bin/kafka-broker-api-versions.sh --bootstrap-server kafka:9092 >/dev/null 2>&1
      interval: 5s
      timeout: 20s
      start_period: 10s
      retries: 30

  # The SMTP server the portal's e-mails leave through (SMTP_HOST, SMTP_PORT), with the same
  # settings as the local stack's (deploy/local/portal_stack/mailpit.py); only its web mailbox
  # and API are published. The image checks its own health (mailpit readyz).
  mailpit:
    image: axllent/mailpit:{mailpit_version}
    environment:
      MP_DATABASE: /data/mailpit.db
      MP_MAX_MESSAGES: "{mailpit_max_messages}"
      MP_SMTP_AUTH_ACCEPT_ANY: "true"
      MP_SMTP_AUTH_ALLOW_INSECURE: "true"
      MP_SMTP_DISABLE_RDNS: "true"
      MP_DISABLE_VERSION_CHECK: "true"
    volumes: ["mailpit-data:/data"]
    ports: ["127.0.0.1:{mailpit_web_port}:{mailpit_web_port}"]

  # Databases, topics (portal_events.topics) and the JWT signing key; then it exits.
  {stack_init}:
    build: {{context: ., dockerfile: deploy/Dockerfile, args: {{SERVICE: {stack_init}}}}}
    command: ["python", "-m", "portal_stack", "init"]
    environment:
      <<: *common-env
      JWT_PRIVATE_KEY_FILE: "{jwt_key_file}"
    volumes: ["jwt-keys:{keys_dir}"]
    depends_on:
      postgres: {{condition: service_healthy}}
      kafka: {{condition: service_healthy}}
"""

# One PostgreSQL cluster: the shared one (`postgres`, published for operators' tools) or a
# service's own (deploy/services.toml's own_postgres), whose database the image creates on its
# first start (POSTGRES_DB). The comment of own_postgres there says why some have their own.
_POSTGRES = """\
  {name}:
    image: postgres:15
    environment:
      POSTGRES_USER: postgres
      POSTGRES_PASSWORD: postgres{database}
    command: ["postgres", "-c", "max_connections=300"]{ports}
    volumes: ["{volume}:/var/lib/postgresql/data"]
    healthcheck:
      test: ["CMD", "pg_isready", "-U", "postgres"]
      interval: 2s
      timeout: 5s
      retries: 30
"""
SHARED_POSTGRES = "postgres"


def postgres_host(process: Process) -> str:
    """The compose service of the PostgreSQL cluster that holds the process's database."""
    return f"postgres-{process.name}" if process.own_postgres else SHARED_POSTGRES


def _postgres_volume(host: str) -> str:
    return "pg-data" if host == SHARED_POSTGRES else f"{host}-data"


def _postgres(owner: Process | None) -> str:
    """The shared cluster (no owner) or the owner's own."""
    host = postgres_host(owner) if owner else SHARED_POSTGRES
    return _POSTGRES.format(
        name=host,
        database=f"\n      POSTGRES_DB: {owner.database}" if owner else "",
        ports="" if owner else '\n    ports: ["127.0.0.1:54329:5432"]',
        volume=_postgres_volume(host),
    )


_GATEWAY = """\
  # The gateway: the same servers as the local stack's, filled by the image's envsubst. Only the
  # public listener is published; the operators' one (simulators, bench target) answers inside
  # the container: docker compose exec gateway curl -s 127.0.0.1:{operators_port}/...
  gateway:
    image: nginx:1.27
    environment:
      GATEWAY_LISTEN: "{port}"
      GATEWAY_OPERATORS_LISTEN: "127.0.0.1:{operators_port}"
      GATEWAY_ACCESS_LOG: /var/log/nginx/access.log
      PORTAL_PAGES_KEY: "{pages_key}"
{limits}
{upstreams}
    volumes:
      - ./deploy/nginx/portal.conf.template:/etc/nginx/templates/portal.conf.template:ro
      - ./deploy/nginx/gateway-answer.conf:/etc/nginx/gateway-answer.conf:ro
    ports: ["127.0.0.1:{port}:{port}"]
    networks:
      default:
        aliases: ["{public_host}"]  # what PORTAL_PUBLIC_URL names by default
    depends_on:
{depends_on}
    healthcheck:
      test:
        - CMD
        - bash
        - -c
        - >-
          exec 3<>/dev/tcp/127.0.0.1/{port};
          printf 'GET /health HTTP/1.0\\r\\n\\r\\n' >&3; grep -q ' 200 ' <&3
      interval: 5s
      timeout: 3s
      retries: 10
    restart: unless-stopped
"""


_NETWORKS = f"""\
networks:
  default:
    ipam:
      config:
        - subnet: "{COMPOSE_SUBNET}"
"""


def _compose_process(process: Process, values: Mapping[str, str]) -> str:
    own_postgres = {"POSTGRES_HOST": postgres_host(process)} if process.own_postgres else {}
    env = {
        **own_postgres,
        "POSTGRES_DBNAME": process.database or "postgres",
        "PORT": str(process.port),
        "HEALTH_URL": process.health_url,
        **fill(process.env, values),
    }
    lines = [
        f"  {process.name}:",
        "    <<: *process",
        "    build: {context: ., dockerfile: deploy/Dockerfile, "
        f"args: {{SERVICE: {process.name}}}}}",
        "    environment:",
        "      <<: *common-env",
        *_env_lines(env, "      "),
    ]
    if volumes := _volumes(process):
        lines.append(f"    volumes: {_flow_list(volumes)}")
    if process.own_postgres:
        lines += [
            "    depends_on:",
            f"      {STACK_INIT}: {{condition: service_completed_successfully}}",
            f"      {postgres_host(process)}: {{condition: service_healthy}}",
        ]
    if process.published:
        # Another party's site that browsers open (the bank's payment page): on the host's
        # loopback, like the gateway; its address for them is its $<name>_public_url.
        lines.append(f'    ports: ["127.0.0.1:{process.port}:{process.port}"]')
    return "\n".join(lines) + "\n"


def compose(listed: ServiceList) -> str:
    """docker-compose.yml for the processes of `listed`."""
    values = _compose_values(listed)
    owners = [p for p in listed.processes if p.own_postgres]
    head = _COMPOSE_HEAD.format(
        common_env="\n".join(_env_lines(fill(listed.env, values), "  ")),
        postgres="\n".join(_postgres(owner) for owner in [None, *owners]),
        stack_init=STACK_INIT,
        jwt_key_file=JWT_KEY_FILE,
        keys_dir=KEYS_DIR,
        mailpit_version=mailpit.VERSION,
        mailpit_max_messages=mailpit.MAX_MESSAGES,
        mailpit_web_port=MAILPIT_WEB_PORT,
    )
    gateway = _GATEWAY.format(
        port=GATEWAY_PORT,
        operators_port=GATEWAY_OPERATORS_PORT,
        public_host=PUBLIC_HOST,
        pages_key=PAGES_KEY,
        limits="\n".join(
            f'      {name}: "{value}"' for name, value in GATEWAY_LIMITS.placeholders().items()
        ),
        upstreams="\n".join(
            f"      {upstream_variable(p.name)}: {p.name}:{p.port}" for p in listed.processes
        ),
        depends_on="\n".join(
            f"      {p.name}: {{condition: service_healthy}}" for p in listed.processes
        ),
    )
    volumes = [
        "pg-data",
        *(_postgres_volume(postgres_host(owner)) for owner in owners),
        "kafka-data",
        "mailpit-data",
        "jwt-keys",
    ] + [f"{p.name}-data" for p in listed.processes if "data_dir" in _placeholders_used(p.env)]
    parts = [
        head,
        *(_compose_process(p, values) for p in listed.processes),
        gateway,
        "volumes:\n" + "".join(f"  {v}:\n" for v in volumes),
        _NETWORKS,
    ]
    return "\n".join(parts)


# --- the files ------------------------------------------------------------------------------


def derived_files(listed: ServiceList) -> dict[Path, str]:
    """Each derived file with the content the list implies."""
    return {
        COMPOSE_FILE: compose(listed),
        GATEWAY_TEMPLATE: with_routes(GATEWAY_TEMPLATE.read_text(), listed.processes),
    }


def stale_files(listed: ServiceList) -> list[Path]:
    return [path for path, text in derived_files(listed).items() if path.read_text() != text]


def write(listed: ServiceList) -> list[Path]:
    """Rewrite the derived files that are out of date; returns them."""
    stale = stale_files(listed)
    for path, text in derived_files(listed).items():
        if path in stale:
            path.write_text(text)
    return stale
