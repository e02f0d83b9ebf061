"""Fines pages' own logic (SPEC F-6, P-1): the way to the bank stays on the portal's site."""

from __future__ import annotations

from portal_ui.pages.fines import checkout_path


def test_the_checkout_link_is_the_payments_path_on_this_site():
    url = "http://127.0.0.1:8000/payments/3b9a4c52-1d2e-4f6a-8b7c-9d0e1f2a3b4c/checkout"
    assert checkout_path(url) == "/payments/3b9a4c52-1d2e-4f6a-8b7c-9d0e1f2a3b4c/checkout"
    assert (
        checkout_path("https://evil.example/payments/x/checkout?a=1") == "/payments/x/checkout?a=1"
    )
