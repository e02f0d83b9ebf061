"""Keyboard-only use (issue 11, WCAG 2.1.1 Keyboard, 2.4.1 Bypass Blocks, 2.4.7 Focus Visible):
a citizen logs in and files a request without a pointer — the skip link first, then Tab, the
arrow keys in a radio group, Space and Enter — and every control reached shows its focus."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import Page, expect

MAX_TABS = 40


def focused(page: Page) -> dict[str, str | None]:
    """The element with the keyboard focus: its tag, id, name and whether it draws an outline
    (or another focus indicator: a box shadow) as the focus style."""
    return page.evaluate(
        """() => {
            const e = document.activeElement;
            const style = getComputedStyle(e);
            const outline = style.outlineStyle !== 'none' && style.outlineWidth !== '0px';
            const shadow = style.boxShadow && style.boxShadow !== 'none';
            return {tag: e.tagName.toLowerCase(), id: e.id || null,
                    name: e.getAttribute('name'), text: (e.textContent || '').trim(),
                    indicated: String(outline || shadow)};
        }"""
    )


def tab_to(page: Page, element_id: str) -> None:
    """Press Tab until the element `element_id` has the focus (and shows it)."""
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        now = focused(page)
        assert now["indicated"] == "true", f"no visible focus on {now}"
        if now["id"] == element_id:
            return
    raise AssertionError(f"#{element_id} not reached with {MAX_TABS} presses of Tab")


def test_a_citizen_logs_in_and_files_a_request_with_the_keyboard_alone(
    page: Page, new_citizen, screens
):
    citizen = new_citizen()
    page.goto("/portal/login")

    # The first Tab reaches the skip link, which takes the focus past the navigation.
    page.keyboard.press("Tab")
    assert focused(page)["text"] == "Μετάβαση στο κύριο περιεχόμενο"
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"#main$"))

    tab_to(page, "field-email")
    page.keyboard.type(citizen.email)
    tab_to(page, "field-password")
    page.keyboard.type(citizen.password)
    page.keyboard.press("Enter")
    expect(page).not_to_have_url(re.compile(r"/portal/login"))

    page.goto("/portal/requests/new")
    screens.capture(page, "request-new")
    subject = f"Λακκούβα {uuid.uuid4().hex[:6]}"
    # A radio group is one Tab stop; the arrow keys choose within it, Space checks.
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        if focused(page)["name"] == "kind":
            break
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Space")
    tab_to(page, "field-subject")
    page.keyboard.type(subject)
    tab_to(page, "field-text")
    page.keyboard.type("Στη γωνία Ερμού και Αιόλου, επικίνδυνη για τα δίκυκλα.")
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        if focused(page)["tag"] == "button":
            break
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", level=1)).to_contain_text(subject)
    screens.capture(page, "request-submitted")
    listed = citizen.get("/requests")
    assert any(item["subject"] == subject for item in listed.json()["items"])
