"""The gateway: nginx with a config rendered from deploy/nginx into the state dir, one route per
process of deploy/services.toml: the services on the public listener, simulators and bench
targets on the operators' one."""

from __future__ import annotations

import os
import shutil
import signal
from string import Template

from .config import DEPLOY, Config
from .derived import GATEWAY_ANSWER_HEADERS, LOCAL_GATEWAY_LIMITS, upstream_variable, with_routes
from .procs import (
    StackError,
    ensure_port_free,
    http_ok,
    read_pid,
    run,
    spawn,
    stop,
    tail,
    wait_until,
)

TEMPLATES = DEPLOY / "nginx"


def pid(cfg: Config):
    return read_pid(cfg.run / "gateway.pid")


def render(cfg: Config) -> bool:
    """Write the config files; True when they changed."""
    prefix = cfg.state / "nginx"
    (prefix / "tmp").mkdir(parents=True, exist_ok=True)
    pages_key = cfg.secret("portal_pages_key")
    if not pages_key:
        # An empty key would exempt every unkeyed call from the limits (portal.conf.template).
        raise StackError("the web pages' key is not generated yet (portal_stack up makes it)")
    values = {
        "STATE_DIR": str(cfg.state),
        "GATEWAY_LISTEN": f"127.0.0.1:{cfg.gateway_port}",
        "GATEWAY_OPERATORS_LISTEN": f"127.0.0.1:{cfg.gateway_operators_port}",
        "GATEWAY_ACCESS_LOG": str(cfg.logs / "gateway-access.log"),
        **LOCAL_GATEWAY_LIMITS.placeholders(),
        "PORTAL_PAGES_KEY": pages_key,
        **{upstream_variable(s.name): f"127.0.0.1:{s.port}" for s in cfg.services},
    }
    # The routes come from the list itself, so a process just added is routed before
    # `make generate` has refreshed the committed template.
    files = {
        "nginx.conf": (TEMPLATES / "nginx.local.conf.template").read_text(),
        "portal.conf": with_routes((TEMPLATES / "portal.conf.template").read_text(), cfg.services),
        GATEWAY_ANSWER_HEADERS.name: GATEWAY_ANSWER_HEADERS.read_text(),
    }
    changed = False
    for name, text in files.items():
        # safe_substitute: nginx's own $variables are not ours to fill.
        text = Template(text).safe_substitute(values)
        target = prefix / name
        if not target.exists() or target.read_text() != text:
            target.write_text(text)
            changed = True
    return changed


def _nginx() -> str:
    return shutil.which("nginx") or "/usr/sbin/nginx"


def check_config(cfg: Config) -> None:
    """`nginx -t` on the rendered config: a running nginx given a bad one on reload keeps the
    old one and says so only in its log."""
    prefix = cfg.state / "nginx"
    run([_nginx(), "-t", "-q", "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-e", "stderr"])


def ensure_running(cfg: Config, say) -> None:
    changed = render(cfg)
    running = pid(cfg)
    if running and changed:
        check_config(cfg)
        say("reloading the gateway configuration")
        os.kill(running, signal.SIGHUP)
    if running:
        _wait_healthy(cfg, cfg.logs / "gateway.log")
        return
    ensure_port_free(cfg.gateway_port, "gateway")
    ensure_port_free(cfg.gateway_operators_port, "gateway-operators")
    nginx = _nginx()
    prefix = cfg.state / "nginx"
    say(f"starting the gateway (nginx) on {cfg.gateway_url}")
    log = cfg.logs / "gateway.log"
    # -e: nginx opens its compiled-in error log before reading the config unless told otherwise.
    spawn(
        [nginx, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-e", "stderr"],
        cfg.run / "gateway.pid",
        log,
        env={},
        cwd=prefix,
    )
    _wait_healthy(cfg, log)


def _wait_healthy(cfg: Config, log) -> None:
    """Both listeners answer (after a reload: the operators' one may be new)."""
    urls = (f"{cfg.gateway_url}/health", f"{cfg.gateway_operators_url}/health")
    healthy = lambda: all(http_ok(url) for url in urls)  # noqa: E731
    if not wait_until(lambda: healthy() or not pid(cfg), 15) or not healthy():
        raise StackError(f"the gateway is not healthy\n--- {log} ---\n{tail(log)}")


def stop_server(cfg: Config) -> None:
    stop(pid(cfg), signal.SIGQUIT)  # graceful: finish the requests in flight
