"""Apache Kafka from Maven Central: jars cached per version, a KRaft single node, the topics
(declared in portal_events.topics) created and kept at their declared configs."""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
from pathlib import Path
from string import Template
from typing import NamedTuple

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from portal_events import topics

from .config import DEPLOY, Config, service_list
from .procs import (
    StackError,
    ensure_port_free,
    port_open,
    read_pid,
    run,
    spawn,
    stop,
    tail,
    wait_until,
)

TEMPLATES = DEPLOY / "kafka"


def _render(template: str, target: Path, **values: object) -> None:
    text = Template((TEMPLATES / template).read_text()).substitute(values)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)


def ensure_jars(cfg: Config, say) -> Path:
    """The broker's jars for cfg.kafka_version; fetched once, then reused from the cache."""
    done = cfg.jars / ".complete"
    if done.exists():
        return cfg.jars
    say(f"fetching Kafka {cfg.kafka_version} jars from Maven Central")
    build = cfg.jars.with_name(f".build-{cfg.kafka_version}")
    shutil.rmtree(build, ignore_errors=True)
    _render(
        "pom.xml.template",
        build / "pom.xml",
        kafka_version=cfg.kafka_version,
        log4j_version=cfg.log4j_version,
    )
    run(
        [
            "mvn",
            "-B",
            "-q",
            "-f",
            str(build / "pom.xml"),
            "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={build / 'jars'}",
        ]
    )
    # Move into place only when complete, so an interrupted fetch is never mistaken for a cache.
    shutil.rmtree(cfg.jars, ignore_errors=True)
    (build / "jars").rename(cfg.jars)
    shutil.rmtree(build)
    done.touch()
    return cfg.jars


def pid(cfg: Config) -> int | None:
    return read_pid(cfg.run / "kafka.pid")


def start(cfg: Config, say) -> None:
    """Start the broker when it is not running; does not wait (see wait_ready)."""
    if pid(cfg):
        return
    ensure_port_free(cfg.kafka_port, "kafka")
    jars = ensure_jars(cfg, say)
    data, props = cfg.kafka_dir / "data", cfg.kafka_dir / "server.properties"
    _render(
        "server.properties.template",
        props,
        port=cfg.kafka_port,
        controller_port=cfg.kafka_controller_port,
        data_dir=data,
    )
    classpath = ["-cp", f"{jars}/*"]
    if not (data / "meta.properties").exists():
        cluster_id = base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode()
        run(
            [
                "java",
                *classpath,
                "kafka.tools.StorageTool",
                "format",
                # `=`: an id starting with "-" (1 in 64) would otherwise read as an option.
                f"--cluster-id={cluster_id}",
                "-c",
                str(props),
            ],
            log=cfg.logs / "kafka.log",
        )
    say(f"starting Kafka {cfg.kafka_version} on {cfg.kafka_bootstrap}")
    spawn(
        [
            "java",
            "-Xmx512m",
            "-XX:+UseSerialGC",
            f"-Dlog4j2.configurationFile={TEMPLATES / 'log4j2.properties'}",
            *classpath,
            "kafka.Kafka",
            str(props),
        ],
        cfg.run / "kafka.pid",
        cfg.logs / "kafka.log",
        env={},
        cwd=cfg.kafka_dir,
    )


def wait_ready(cfg: Config, timeout: float = 60) -> None:
    # The broker opens its PLAINTEXT port only once fully started.
    if not wait_until(lambda: port_open(cfg.kafka_port) or not pid(cfg), timeout) or not pid(cfg):
        raise StackError(f"Kafka did not start\n--- kafka.log ---\n{tail(cfg.logs / 'kafka.log')}")


def stop_server(cfg: Config) -> None:
    stop(pid(cfg), timeout=30)


def declared_topics() -> list[NewTopic]:
    """Every topic of the portal: portal_events.topics for the services of deploy/services.toml."""
    services = [s.name for s in service_list().services]
    return [
        NewTopic(t.name, t.partitions, 1, topic_configs=t.configs)
        for t in topics.declared_topics(services)
    ]


class TopicChanges(NamedTuple):
    created: list[str]
    altered: list[str]  # brought to their declared configs


async def _ensure_topics(bootstrap: str, wanted: list[NewTopic]) -> TopicChanges:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in wanted if t.name not in existing]
        if missing:
            response = await admin.create_topics(missing)
            # 36 = TOPIC_ALREADY_EXISTS: another `up` created it meanwhile, which is fine.
            errors = [e for e in response.topic_errors if e[1] not in (0, 36)]
            if errors:
                raise StackError(f"creating topics failed: {errors}")
        drifted = await _drifted(admin, [t for t in wanted if t.name in existing])
        if drifted:
            await _alter(admin, drifted)
        return TopicChanges([t.name for t in missing], [t.name for t in drifted])
    finally:
        await admin.close()


async def _drifted(admin: AIOKafkaAdminClient, topics: list[NewTopic]) -> list[NewTopic]:
    """The topics whose current configs differ from their declared ones (e.g. a retention
    declared differently since the topic was created: issue 8 keeps event topics forever)."""
    if not topics:
        return []
    resources = [ConfigResource(ConfigResourceType.TOPIC, t.name, t.topic_configs) for t in topics]
    current: dict[str, dict[str, str]] = {}
    for response in await admin.describe_configs(resources):
        for error_code, error_message, _type, name, entries in response.resources:
            if error_code:
                raise StackError(f"reading the configs of {name} failed: {error_message}")
            current[name] = {entry[0]: entry[1] for entry in entries}
    return [
        t
        for t in topics
        if any(current[t.name].get(key) != value for key, value in t.topic_configs.items())
    ]


async def _alter(admin: AIOKafkaAdminClient, topics: list[NewTopic]) -> None:
    # AlterConfigs (aiokafka has no incremental one) sets a topic's whole set of overrides: the
    # declared configs are all the overrides a portal topic has, so this is exactly them.
    resources = [ConfigResource(ConfigResourceType.TOPIC, t.name, t.topic_configs) for t in topics]
    for response in await admin.alter_configs(resources):
        errors = [(name, message) for code, message, _, name in response.resources if code]
        if errors:
            raise StackError(f"altering topic configs failed: {errors}")


def ensure_topics(bootstrap: str, say, wanted: list[NewTopic] | None = None) -> TopicChanges:
    """Create the topics (by default the declared ones) that do not exist yet and bring the
    existing ones to their declared configs; their partitions are left as they are."""
    changes = asyncio.run(
        _ensure_topics(bootstrap, declared_topics() if wanted is None else wanted)
    )
    if changes.created:
        say(f"created topics: {', '.join(changes.created)}")
    if changes.altered:
        say(f"brought topics to their declared configs: {', '.join(changes.altered)}")
    return changes
