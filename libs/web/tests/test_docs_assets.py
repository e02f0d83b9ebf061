"""The API docs pages work without internet (issue 5 §2 "HTTP edge"): Swagger UI and ReDoc
load their JavaScript, CSS and images from the service itself, never from a CDN."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from portal_web.docs import install_docs

router = APIRouter(prefix="/demo")


@router.get("/{item_id}")
def get_item(item_id: str) -> dict:
    """A route that would capture `/demo/docs` if it came first."""
    return {"id": item_id}


@pytest.fixture(scope="module")
def client():
    app = FastAPI(title="Demo", docs_url=None, redoc_url=None, openapi_url="/demo/openapi.json")
    install_docs(app, "/demo", "Demo")
    app.include_router(router)
    with TestClient(app) as client:
        yield client


class _Assets(HTMLParser):
    """The URLs a browser loads for a page: scripts, stylesheets and icons, ReDoc's spec."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        for name in ("src", "href", "spec-url"):
            if attributes.get(name):
                self.urls.append(attributes[name])


def assets_of(html: str) -> list[str]:
    parser = _Assets()
    parser.feed(html)
    return parser.urls


EXPECTED_TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".json": "application/json",
}


@pytest.mark.parametrize("page", ["/demo/docs", "/demo/redoc"])
def test_docs_pages_load_every_asset_from_the_service(client, page):
    response = client.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    urls = assets_of(response.text)
    assert any(url.endswith(".js") for url in urls)

    for url in urls:
        parts = urlsplit(url)
        assert not parts.scheme and not parts.netloc, f"{page} loads {url} from another host"
        assert parts.path.startswith("/demo/"), f"{url} is not under the service's prefix"
        asset = client.get(url)
        assert asset.status_code == 200, url
        suffix = parts.path[parts.path.rfind(".") :]
        assert asset.headers["content-type"].startswith(EXPECTED_TYPES[suffix]), url


def test_swagger_ui_is_pointed_at_the_services_openapi_document_and_redirect_page(client):
    page = client.get("/demo/docs").text
    config = json.loads(_Pages.of(page).swagger_config)
    assert config["url"] == "/demo/openapi.json"
    assert config["oauth2RedirectUrl"] == "/demo/docs/oauth2-redirect"
    redirect = client.get("/demo/docs/oauth2-redirect")
    assert redirect.status_code == 200
    for url in assets_of(redirect.text):
        assert not urlsplit(url).netloc
        assert client.get(url).status_code == 200, url


class _Pages(HTMLParser):
    """What a strict Content-Security-Policy would block in a page: inline scripts and styles,
    style attributes and event handler attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.inline: list[str] = []
        self.swagger_config = ""

    @classmethod
    def of(cls, html: str) -> _Pages:
        parser = cls()
        parser.feed(html)
        return parser

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "style":
            self.inline.append("<style>")
        if tag == "script" and not attributes.get("src"):
            self.inline.append("<script> without src")
        for name in attributes:
            if name == "style" or name.startswith("on"):
                self.inline.append(f"{tag} {name}=")
        if attributes.get("id") == "swagger-ui":
            self.swagger_config = attributes.get("data-config") or ""


@pytest.mark.parametrize("page", ["/demo/docs", "/demo/redoc", "/demo/docs/oauth2-redirect"])
def test_docs_pages_have_no_inline_script_or_style(client, page):
    """issue 6: the docs pages' CSP allows scripts and styles from the service only."""
    assert _Pages.of(client.get(page).text).inline == []


def test_redoc_logo_is_served_where_the_bundle_asks_for_it(client):
    """The packaged ReDoc bundle loads its logo from `<page>/logo-mini.svg`, not Redocly's CDN."""
    bundle = client.get("/demo/docs/static/redoc/redoc.standalone.js").text
    assert 'window.location.pathname+"/logo-mini.svg"' in bundle
    logo = client.get("/demo/redoc/logo-mini.svg")
    assert logo.status_code == 200
    assert logo.headers["content-type"] == "image/svg+xml"


def test_docs_pages_stay_out_of_the_api_schema(client):
    assert set(client.get("/demo/openapi.json").json()["paths"]) == {"/demo/{item_id}"}
