"""A browser paying at the bank's hosted page, as the benchmarks do it (SPEC P-1): the portal's
checkout redirects to the bank's page, whose card form is posted; the bank sends the browser back
to the portal. Only the simulator's test cards are ever used."""

from __future__ import annotations

from collections.abc import Callable
from html.parser import HTMLParser
from urllib.parse import urljoin

import httpx

SUCCESS_CARD = "4111111111111111"


class FormAction(HTMLParser):
    """The action of the bank page's form."""

    action: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "form" and self.action is None:
            self.action = dict(attrs).get("action") or ""


async def pay_at_bank(
    browser: httpx.AsyncClient,
    redirect_url: str,
    card: str = SUCCESS_CARD,
    mark: Callable[[str], None] = lambda step: None,
) -> None:
    """Follow `redirect_url` (the portal's checkout) to the bank's page and post `card` there;
    `mark` is called after each step: "checkout", "bank page", "card posted"."""
    checkout = await browser.get(redirect_url)
    if checkout.status_code != 303:
        raise RuntimeError(f"checkout: {checkout.status_code} {checkout.text[:200]}")
    page_url = urljoin(redirect_url, checkout.headers["location"])
    mark("checkout")
    page = (await browser.get(page_url)).raise_for_status()
    form = FormAction()
    form.feed(page.text)
    mark("bank page")
    details = {"card_number": card, "expiry": "12/30", "cvc": "123", "holder": "BENCH"}
    posted = await browser.post(urljoin(page_url, form.action or ""), data=details)
    if posted.status_code != 303:
        raise RuntimeError(f"bank: {posted.status_code} {posted.text[:200]}")
    mark("card posted")
