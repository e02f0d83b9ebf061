"""The application's own rules, without the stack: every form POST checks the CSRF token, the
session cookie is encrypted and HttpOnly, logged-in pages need a session (issue 11)."""

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from portal_ui.main import create_app
from portal_ui.sessions import COOKIE_NAME, Session, User, checked_form, fernet_for
from portal_ui.settings import Settings

KEY = "test-session-key-0123456789abcdefghijklmnop"
PAGES_KEY = "test-pages-key-0123456789"


@pytest.fixture
def app():
    settings = Settings(
        PORTAL_SESSION_KEY=KEY,
        PORTAL_PAGES_KEY=PAGES_KEY,
        PORTAL_GATEWAY_URL="http://127.0.0.1:9",  # nothing listens: the gateway is "down"
        LOG_FORMAT="console",
    )
    return create_app(settings)


def api_routes(routes):
    """Every route, those of included routers too (FastAPI keeps them nested)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):
            yield from api_routes(route.original_router.routes)


def dependencies(route: APIRoute):
    pending = list(route.dependant.dependencies)
    while pending:
        dependant = pending.pop()
        yield dependant.call
        pending.extend(dependant.dependencies)


def test_every_form_post_checks_the_csrf_token(app):
    posts = [route for route in api_routes(app.routes) if "POST" in route.methods]
    assert {"/portal/login", "/portal/logout", "/portal/requests/new"} <= {r.path for r in posts}
    unchecked = [r.path for r in posts if checked_form not in set(dependencies(r))]
    assert unchecked == []


def test_the_session_cookie_is_encrypted_httponly_and_lax(app):
    with TestClient(app) as client:
        response = client.get("/portal/login")
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE_NAME}=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    value = cookie.split(";")[0].split("=", 1)[1]
    assert b"csrf_token" in fernet_for(KEY).decrypt(value.encode())
    assert "csrf_token" not in value


def test_the_cookie_is_secure_when_the_browser_came_over_tls(app):
    with TestClient(app) as client:
        response = client.get("/portal/login", headers={"X-Forwarded-Proto": "https"})
    assert "; Secure" in response.headers["set-cookie"]


def test_a_logged_in_page_sends_an_anonymous_visitor_to_log_in_and_back(app):
    with TestClient(app, follow_redirects=False) as client:
        response = client.get("/portal/requests")
    assert response.status_code == 303
    assert response.headers["location"] == "/portal/login?next=/portal/requests"


def test_a_forged_or_foreign_cookie_is_an_anonymous_session(app):
    foreign = fernet_for("another-key").encrypt(
        Session(user=User("u", "e@example.gr", "citizen", ["citizen"], "token")).dump()
    )
    with TestClient(app, follow_redirects=False) as client:
        client.cookies.set(COOKIE_NAME, foreign.decode())
        response = client.get("/portal/requests")
    assert response.status_code == 303


def test_the_gateway_down_is_a_greek_503_page(app):
    session = Session(user=User("u", "e@example.gr", "citizen", ["citizen"], "token"))
    cookie = fernet_for(KEY).encrypt(session.dump()).decode()
    with TestClient(app) as client:
        client.cookies.set(COOKIE_NAME, cookie)
        response = client.get("/portal/requests")
    assert response.status_code == 503
    assert "Η υπηρεσία δεν είναι διαθέσιμη" in response.text
    assert response.headers["cache-control"] == "no-store"


def test_pages_forbid_inline_scripts_and_framing(app):
    with TestClient(app) as client:
        response = client.get("/portal/login")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy
    assert 'lang="el"' in response.text


def test_every_api_call_carries_the_pages_key_for_the_gateways_limits(app):
    # The gateway counts the login, registration and anonymous-submission calls per visitor at
    # the pages' forms, not again per the pages' one address (deploy/nginx/portal.conf.template).
    with TestClient(app):
        assert app.state.http.headers["X-Portal-Pages-Key"] == PAGES_KEY


def test_a_page_that_fails_unexpectedly_is_the_greek_500_page(app):
    # Not the services' JSON error: a person reads it.
    @app.get("/portal/broken")
    async def broken() -> None:
        raise RuntimeError("a bug")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/portal/broken")
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("text/html")
    assert "Κάτι πήγε στραβά" in response.text
