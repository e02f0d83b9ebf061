"""Prometheus metrics of a service (issue 5 §2 "Metrics"), on a bare FastAPI app.

HTTP traffic by route template and status with a latency histogram, component figures read at
scrape time, one registry per app. (That the gateway keeps `/<service>/metrics` private is
checked end to end through nginx.)
"""

from __future__ import annotations

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from portal_web.docs import install_docs
from portal_web.metrics import OTHER_METHOD, UNMATCHED_ROUTE, ServiceMetrics, install_metrics
from prometheus_client.parser import text_string_to_metric_families

router = APIRouter(prefix="/demo")


@router.get("/items/{item_id}")
def get_item(item_id: int) -> dict:
    return {"id": item_id}


@router.post("/items")
def add_item() -> dict:
    return {}


@router.get("/broken")
def broken() -> dict:
    raise RuntimeError("a bug")


def build_app(service: str = "demo") -> tuple[FastAPI, ServiceMetrics]:
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=f"/{service}/openapi.json")
    metrics = install_metrics(app, f"/{service}", service)
    app.include_router(router)
    return app, metrics


@pytest.fixture
def app_and_metrics():
    return build_app()


@pytest.fixture
def client(app_and_metrics):
    with TestClient(app_and_metrics[0], raise_server_exceptions=False) as client:
        yield client


def scrape(client: TestClient, prefix: str = "/demo") -> dict[tuple[str, frozenset], float]:
    """Every sample of `GET <prefix>/metrics`, keyed by sample name and its labels."""
    response = client.get(f"{prefix}/metrics")
    assert response.status_code == 200
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def requests_total(samples, **labels: str) -> float:
    key = ("portal_http_requests_total", frozenset({"service": "demo", **labels}.items()))
    return samples.get(key, 0.0)


def test_requests_are_counted_by_route_template_method_and_status(client):
    """issue 5 §2: HTTP requests by route and status, labelled with the service."""
    for item_id in (1, 2, 3):
        assert client.get(f"/demo/items/{item_id}").status_code == 200
    assert client.get("/demo/items/not-a-number").status_code == 422
    assert client.post("/demo/items").status_code == 200

    samples = scrape(client)
    route = "/demo/items/{item_id}"
    assert requests_total(samples, method="GET", route=route, status="200") == 3
    assert requests_total(samples, method="GET", route=route, status="422") == 1
    assert requests_total(samples, method="POST", route="/demo/items", status="200") == 1
    assert not any("/demo/items/1" in dict(labels).values() for _, labels in samples)


def test_latency_histogram_counts_every_request_of_a_route(client):
    """issue 5 §2: a latency histogram per route."""
    for item_id in (1, 2):
        client.get(f"/demo/items/{item_id}")

    samples = scrape(client)
    labels = {"service": "demo", "method": "GET", "route": "/demo/items/{item_id}"}
    count = samples[("portal_http_request_duration_seconds_count", frozenset(labels.items()))]
    every = samples[
        (
            "portal_http_request_duration_seconds_bucket",
            frozenset({**labels, "le": "+Inf"}.items()),
        )
    ]
    assert count == every == 2
    assert samples[("portal_http_request_duration_seconds_sum", frozenset(labels.items()))] > 0


def test_unknown_paths_and_methods_cannot_multiply_the_series(client):
    """issue 5 §2: labels come from templates, so a caller probing random paths adds no series."""
    for n in range(20):
        client.get(f"/probe-{n}/x")
        client.request(f"PROBE{n}", "/demo/items/1")

    samples = scrape(client)
    assert requests_total(samples, method="GET", route=UNMATCHED_ROUTE, status="404") == 20
    probes = requests_total(
        samples, method=OTHER_METHOD, route="/demo/items/{item_id}", status="405"
    )
    assert probes == 20
    routes = {
        dict(labels)["route"] for name, labels in samples if name == "portal_http_requests_total"
    }
    assert routes == {UNMATCHED_ROUTE, "/demo/items/{item_id}"}


def test_an_unhandled_error_is_counted_as_500(client):
    assert client.get("/demo/broken").status_code == 500
    assert requests_total(scrape(client), method="GET", route="/demo/broken", status="500") == 1


def test_metrics_answer_in_prometheus_text_format_and_stay_out_of_the_api_docs(client):
    response = client.get("/demo/metrics")
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert "/demo/metrics" not in client.get("/demo/openapi.json").json()["paths"]
    openmetrics = client.get(
        "/demo/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
    )
    assert openmetrics.headers["content-type"].startswith("application/openmetrics-text")
    assert openmetrics.text.endswith("# EOF\n")


def test_component_figures_are_read_when_scraped(app_and_metrics, client):
    """issue 5 §2: relay lag, consumer lag per topic, read-model lag, dead letters."""
    _, metrics = app_and_metrics
    figures = {"relay": 5, "topics": {"requests.events": 2}, "dead": 1}
    metrics.gauge("portal_relay_lag_events", "Events not yet published", lambda: figures["relay"])
    metrics.gauge(
        "portal_consumer_lag_messages",
        "Messages not yet consumed",
        lambda: figures["topics"],
        labelnames=("topic",),
    )
    metrics.gauge(
        "portal_read_model_lag_events",
        "Events not yet applied",
        lambda: {("inbox",): 7},
        labelnames=("projection",),
    )
    metrics.counter(
        "portal_dead_lettered_messages_total", "Messages dead-lettered", lambda: figures["dead"]
    )

    def value(samples, name, **labels):
        return samples[(name, frozenset({"service": "demo", **labels}.items()))]

    first = scrape(client)
    assert value(first, "portal_relay_lag_events") == 5
    assert value(first, "portal_consumer_lag_messages", topic="requests.events") == 2
    assert value(first, "portal_read_model_lag_events", projection="inbox") == 7
    assert value(first, "portal_dead_lettered_messages_total") == 1

    figures.update(relay=0, topics={"requests.events": 0, "protocol.events": 4}, dead=3)
    second = scrape(client)
    assert value(second, "portal_relay_lag_events") == 0
    assert value(second, "portal_consumer_lag_messages", topic="protocol.events") == 4
    assert value(second, "portal_dead_lettered_messages_total") == 3


def test_a_failing_or_not_yet_started_component_leaves_the_other_figures_in_the_scrape(
    app_and_metrics, client
):
    _, metrics = app_and_metrics
    metrics.gauge("portal_relay_lag_events", "Events not yet published", lambda: 1 / 0)
    metrics.gauge("portal_parked_events", "Parked", lambda: None, labelnames=("projection",))
    metrics.gauge("portal_read_model_lag_seconds", "Age of the oldest unapplied", lambda: 0.5)

    samples = scrape(client)
    names = {name for name, _ in samples}
    assert "portal_read_model_lag_seconds" in names
    assert not names & {"portal_relay_lag_events", "portal_parked_events"}


def test_a_name_can_be_registered_once(app_and_metrics):
    _, metrics = app_and_metrics
    metrics.gauge("portal_relay_lag_events", "Events not yet published", lambda: 0)
    with pytest.raises(ValueError):
        metrics.gauge("portal_relay_lag_events", "again", lambda: 0)


def test_each_app_has_its_own_registry():
    """Several services (or test apps) in one process never share or clash on series."""
    first_app, first = build_app("first")
    second_app, second = build_app("second")
    first.gauge("portal_relay_lag_events", "Events not yet published", lambda: 1)
    second.gauge("portal_relay_lag_events", "Events not yet published", lambda: 2)
    with TestClient(first_app) as first_client, TestClient(second_app) as second_client:
        first_client.get("/demo/items/1")
        first_samples = scrape(first_client, "/first")
        second_samples = scrape(second_client, "/second")

    assert first_samples[("portal_relay_lag_events", frozenset({("service", "first")}))] == 1
    assert second_samples[("portal_relay_lag_events", frozenset({("service", "second")}))] == 2
    assert not any(
        name == "portal_http_requests_total" and ("route", "/demo/items/{item_id}") in labels
        for name, labels in second_samples
    )


def test_files_under_a_mount_are_labelled_with_the_mounts_template():
    """The docs' static files (a mount, not a route) count under one template, not per file."""
    app, _ = build_app()
    install_docs(app, "/demo", "Demo")
    with TestClient(app) as client:
        client.get("/demo/docs/static/swagger/swagger-ui.css")
        client.get("/demo/docs/static/no-such-file.js")
        samples = scrape(client)

    route = "/demo/docs/static/{path}"
    assert requests_total(samples, method="GET", route=route, status="200") == 1
    assert requests_total(samples, method="GET", route=route, status="404") == 1
