"""Browser tests (issue 11): the portal's screens in headless Chromium, through the gateway.

Playwright's sync API drives Debian's /usr/bin/chromium (never `playwright install`). Fixtures:
- `page`: a fresh browser context (own cookies) per test, Greek locale, Athens' time zone,
  based at the gateway (`page.goto("/portal/login")`);
- `screens`: `screens.capture(page, "name")` saves
  test-artifacts/screenshots/<test>/<n>-<name>.png and runs axe-core (WCAG 2.0/2.1 A and AA) on
  the screen, failing on any serious or critical violation;
- `log_in(page, user)`: log in through the log-in form as a `User` of tests/conftest.py
  (`new_citizen()`, `clerk_of("technical")`, `admin`, ...).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

REPO = Path(__file__).resolve().parents[2]
AXE_SCRIPT = REPO / "web" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING_IMPACTS = {"serious", "critical"}


# Per module, not per session: Playwright's sync API keeps an event loop running in the main
# thread while it is open, and every later test that calls asyncio.run() (the stack's tools,
# the outage tests) would fail. A browser starts in about a second.
@pytest.fixture(scope="module")
def playwright(stack) -> Iterator[Playwright]:
    # The stack first: its start-up runs asyncio, which cannot run inside Playwright's loop.
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def page(browser: Browser, stack) -> Iterator[Page]:
    context = browser.new_context(
        base_url=stack.gateway_url, locale="el-GR", timezone_id="Europe/Athens"
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


class Screens:
    """Numbered screenshots of one test's screens, each checked with axe-core."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.count = 0

    def capture(self, page: Page, name: str) -> None:
        self.count += 1
        self.directory.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=self.directory / f"{self.count}-{name}.png", full_page=True)
        violations = run_axe(page)
        assert not violations, f"accessibility ({name}, {page.url}):\n" + "\n".join(violations)


def run_axe(page: Page) -> list[str]:
    """axe-core's serious and critical violations on the page, one readable line per element.

    The script is evaluated through the DevTools protocol rather than added as a <script>
    element: the portal's Content-Security-Policy rightly refuses inline scripts.
    """
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE_SCRIPT.read_text() + "\n;undefined")
    results = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS
    )
    return [
        f"- {violation['impact']} {violation['id']}: {violation['help']} at "
        f"{', '.join(map(str, node['target']))}: {node.get('failureSummary', '')}"
        for violation in results["violations"]
        if violation["impact"] in BLOCKING_IMPACTS
        for node in violation["nodes"]
    ]


@pytest.fixture
def screens(request: pytest.FixtureRequest) -> Screens:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name).strip("-")
    directory = SCREENSHOTS / name
    shutil.rmtree(directory, ignore_errors=True)  # an earlier run's screens, numbered otherwise
    return Screens(directory)


def log_in(page: Page, user, screens: Screens | None = None) -> None:
    """Log in through the portal's log-in form as `user` (a tests/conftest.py `User`)."""
    page.goto("/portal/login")
    if screens:
        screens.capture(page, "login")
    page.get_by_label("E-mail").fill(user.email)
    page.get_by_label("Κωδικός").fill(user.password)
    page.get_by_role("button", name="Σύνδεση").click()
    page.wait_for_url(lambda url: "/portal/login" not in url)


@pytest.fixture(name="log_in")
def log_in_fixture():
    """`log_in(page, user, screens=None)`: log in through the form (see `log_in` above)."""
    return log_in
