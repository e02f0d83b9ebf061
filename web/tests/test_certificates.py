"""Certificates pages' own logic (SPEC C-2, C-3, C-6): the delivery part of an application,
the PDF's Greek file name, areas the Greek way."""

from __future__ import annotations

from urllib.parse import unquote

from portal_ui.pages.certificates import area_gr, attachment, delivery_payload

METHODS = [
    {"code": "email", "needs_address": False},
    {"code": "post", "needs_address": True},
]


def test_the_address_is_sent_only_for_a_method_that_needs_one():
    typed = {"details": "Για το σχολείο", "delivery_address": "Ερμού 10"}
    assert "delivery_address" not in delivery_payload(typed | {"delivery_method": "email"}, METHODS)
    assert delivery_payload(typed | {"delivery_method": "post"}, METHODS)["delivery_address"]


def test_the_pdf_has_a_greek_file_name_and_an_ascii_fallback():
    header = attachment("2026/000042")
    assert 'filename="certificate-2026-000042.pdf"' in header
    assert unquote(header.split("UTF-8''")[1]) == "Πιστοποιητικό-2026-000042.pdf"


def test_areas_are_written_with_a_decimal_comma_and_no_needless_decimals():
    assert [area_gr(85.0), area_gr(85.5), area_gr(1200.25)] == ["85", "85,5", "1200,25"]
