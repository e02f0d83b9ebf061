"""Prometheus metrics of one service at `GET <prefix>/metrics`: what dashboards and alerts need.

Two kinds of series, all labelled with `service`:
- HTTP traffic, recorded by a middleware: requests by method, route template and status, and a
  latency histogram. Labels come from the matched route's template (`/requests/{request_id}`),
  never from the raw path, and unknown methods and paths collapse into `other` / `unmatched`,
  so no caller can multiply the series.
- Component state (relay lag, consumer lag, read-model lag, parked events, dead letters),
  registered by the composition root as functions that are read when Prometheus scrapes, so the
  components push nothing and a scrape always sees current values.

Operators scrape each service directly on its own port (e.g. `127.0.0.1:8102/requests/metrics`
locally); the public gateway answers 404 for `/<service>/metrics` (deploy/nginx).

Each app gets its own CollectorRegistry, so several apps can be built in one process (tests).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence

import structlog
from fastapi import FastAPI, Request, Response
from prometheus_client import (
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = structlog.get_logger()

UNMATCHED_ROUTE = "unmatched"
OTHER_METHOD = "other"
# From a fast read (a few ms) to the slowest acceptable write (seconds).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

LabelValues = str | tuple[str, ...]
# What a reader returns: one number for a metric without labels, or one number per label value
# (a tuple of values when there are several labels); None when there is nothing to report yet.
Reading = float | Mapping[LabelValues, float] | None
Reader = Callable[[], Reading]


class ServiceMetrics:
    """The metrics of one service: its registry, the HTTP series and the registered readers."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry()
        for collector in (ProcessCollector, PlatformCollector, GCCollector):
            collector(registry=self.registry)
        self._requests = Counter(
            "portal_http_requests",
            "HTTP requests answered, by method, route template and status",
            ("service", "method", "route", "status"),
            registry=self.registry,
        )
        self._latency = Histogram(
            "portal_http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route template",
            ("service", "method", "route"),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        # Label lookups cost more than the increments; the key set is bounded by the routes.
        self._http_series: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def gauge(
        self, name: str, documentation: str, read: Reader, *, labelnames: Sequence[str] = ()
    ) -> None:
        """A gauge whose value is `read()` at scrape time, e.g.
        `metrics.gauge("portal_read_model_lag_events", "...", model.lag_events,
        labelnames=("projection",))` with `lag_events() -> {"inbox": 3, "citizen_list": 0}`."""
        self.registry.register(
            _ReadAtScrape(GaugeMetricFamily, name, documentation, read, self.service, labelnames)
        )

    def counter(
        self, name: str, documentation: str, read: Reader, *, labelnames: Sequence[str] = ()
    ) -> None:
        """A counter whose running total a component keeps and `read()` returns at scrape time
        (it must only grow while the process lives). The name ends in `_total`."""
        self.registry.register(
            _ReadAtScrape(CounterMetricFamily, name, documentation, read, self.service, labelnames)
        )

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Record one answered HTTP request (called by the middleware)."""
        if method not in _KNOWN_METHODS:
            method = OTHER_METHOD
        key = (method, route, status)
        series = self._http_series.get(key)
        if series is None:
            series = (
                self._requests.labels(self.service, method, route, str(status)),
                self._latency.labels(self.service, method, route),
            )
            self._http_series[key] = series
        requests, latency = series
        requests.inc()
        latency.observe(seconds)

    def exposition(self, accept: str | None) -> tuple[bytes, str]:
        """The scrape body and its content type, in the format the scraper's Accept asks for."""
        encode, content_type = choose_encoder(accept or "")
        return encode(self.registry), content_type


class HttpMetricsMiddleware:
    """Pure ASGI middleware (cheap: two clock reads, a dict lookup and two increments).

    The router writes what it matched into the request's scope, the same dict this middleware
    holds, so the route is known once the app has answered: an endpoint's route (its `path` is
    the template), or a mount such as the docs' static files (no route; the scope's `root_path`
    grows by the mount's path). The template is the route's own path, so routers carry their
    full prefix (`APIRouter(prefix="/requests")`) and are included without another one.
    """

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # if the app raises before answering, the server error handler answers 500

        async def send_recording_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        root_path = scope.get("root_path", "")
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_recording_status)
        finally:
            self.metrics.observe_request(
                scope["method"],
                _route_template(scope, root_path),
                status,
                time.perf_counter() - started,
            )


def _route_template(scope: Scope, root_path: str) -> str:
    route = scope.get("route")
    if route is not None:
        return getattr(route, "path", None) or UNMATCHED_ROUTE
    mount_path = scope.get("root_path", "")
    if mount_path != root_path:
        return f"{mount_path}/{{path}}"
    return UNMATCHED_ROUTE


def install_metrics(app: FastAPI, prefix: str, service: str) -> ServiceMetrics:
    """Record the app's HTTP traffic and serve `GET <prefix>/metrics` (not in the OpenAPI schema).

    Call before the app starts (it adds a middleware) and before including routers whose paths
    could capture `<prefix>/metrics` (e.g. `<prefix>/{id}`). Register component readers on the
    returned object with `gauge` / `counter`, at any time before or after start-up.
    """
    metrics = ServiceMetrics(service)
    app.add_middleware(HttpMetricsMiddleware, metrics=metrics)

    # Plain `def`: readers may query the database, so scrapes run in the thread pool.
    @app.get(f"{prefix}/metrics", include_in_schema=False)
    def prometheus_metrics(request: Request) -> Response:
        body, content_type = metrics.exposition(request.headers.get("accept"))
        return Response(body, headers={"Content-Type": content_type})

    return metrics


class _ReadAtScrape:
    """A custom collector: one metric family whose samples are read when the registry collects."""

    def __init__(
        self,
        family: type[GaugeMetricFamily] | type[CounterMetricFamily],
        name: str,
        documentation: str,
        read: Reader,
        service: str,
        labelnames: Sequence[str],
    ) -> None:
        self._family = family
        self._name = name
        self._documentation = documentation
        self._read = read
        self._service = service
        self._labelnames = tuple(labelnames)

    def describe(self) -> Iterable[Metric]:
        # Names for the registry's duplicate check, without calling the reader before start-up.
        return [self._empty_family()]

    def collect(self) -> Iterable[Metric]:
        family = self._empty_family()
        try:
            for label_values, value in self._samples(self._read()):
                family.add_metric((self._service, *label_values), value)
        except Exception:
            # One failing component must not fail the whole scrape; its series go missing,
            # which an absent() alert notices.
            log.warning("metric_read_failed", metric=self._name, exc_info=True)
            return []
        return [family]

    def _empty_family(self) -> GaugeMetricFamily | CounterMetricFamily:
        return self._family(self._name, self._documentation, labels=("service", *self._labelnames))

    def _samples(self, reading: Reading) -> Iterable[tuple[tuple[str, ...], float]]:
        if reading is None:
            return []
        if not self._labelnames:
            if isinstance(reading, Mapping):
                raise TypeError(f"{self._name} has no labels: its reader must return a number")
            return [((), float(reading))]
        if not isinstance(reading, Mapping):
            raise TypeError(f"{self._name} is labelled {self._labelnames}: read a mapping")
        samples = []
        for key, value in reading.items():
            label_values = key if isinstance(key, tuple) else (key,)
            if len(label_values) != len(self._labelnames):
                raise ValueError(f"{self._name}: {key!r} does not match {self._labelnames}")
            samples.append((tuple(str(v) for v in label_values), float(value)))
        return samples
