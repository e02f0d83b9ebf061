"""The gateway: nginx with a config rendered from deploy/nginx into the state dir, one route per
process of deploy/services.toml."""

from __future__ import annotations

import os
import shutil
import signal
from string import Template

from .config import DEPLOY, Config
from .derived import upstream_variable, with_routes
from .procs import StackError, ensure_port_free, http_ok, read_pid, spawn, stop, tail, wait_until

TEMPLATES = DEPLOY / "nginx"


def pid(cfg: Config):
    return read_pid(cfg.run / "gateway.pid")


def render(cfg: Config) -> bool:
    """Write the config files; True when they changed."""
    prefix = cfg.state / "nginx"
    (prefix / "tmp").mkdir(parents=True, exist_ok=True)
    values = {
        "STATE_DIR": str(cfg.state),
        "GATEWAY_LISTEN": f"127.0.0.1:{cfg.gateway_port}",
        **{upstream_variable(s.name): f"127.0.0.1:{s.port}" for s in cfg.services},
    }
    # The routes come from the list itself, so a process just added is routed before
    # `make generate` has refreshed the committed template.
    routes = [(s.name, s.strip_prefix) for s in cfg.services]
    changed = False
    for template, name in (
        ("nginx.local.conf.template", "nginx.conf"),
        ("portal.conf.template", "portal.conf"),
    ):
        text = (TEMPLATES / template).read_text()
        if name == "portal.conf":
            text = with_routes(text, routes)
        # safe_substitute: nginx's own $variables are not ours to fill.
        text = Template(text).safe_substitute(values)
        target = prefix / name
        if not target.exists() or target.read_text() != text:
            target.write_text(text)
            changed = True
    return changed


def ensure_running(cfg: Config, say) -> None:
    changed = render(cfg)
    running = pid(cfg)
    if running and changed:
        say("reloading the gateway configuration")
        os.kill(running, signal.SIGHUP)
    if running:
        return
    ensure_port_free(cfg.gateway_port, "gateway")
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
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
    healthy = lambda: http_ok(f"{cfg.gateway_url}/health")  # noqa: E731
    if not wait_until(lambda: healthy() or not pid(cfg), 15) or not healthy():
        raise StackError(f"the gateway did not start\n--- {log} ---\n{tail(log)}")


def stop_server(cfg: Config) -> None:
    stop(pid(cfg), signal.SIGQUIT)  # graceful: finish the requests in flight
