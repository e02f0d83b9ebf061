"""The issued document (SPEC C-5): every template renders in Greek, and the PDF carries what the
paper must show, byte for byte the same when printed again (its SHA-256 is in the history)."""

from __future__ import annotations

import io
from datetime import date

import pytest
from certificates_service.catalogue import Catalogue
from certificates_service.documents import CertificateRenderer, FontsMissing, PrintedCertificate
from pypdf import PdfReader

CATALOGUE = Catalogue.load()
VALUES = {
    "municipality_name": "Δήμος Παραδείγματος",
    "applicant_name": "Ελένη Παπαδοπούλου",
    "applicant_afm": "090000045",
    "title": "τίτλος",
    "number": "2026/000042",
    "details": "Για την εγγραφή στο σχολείο.",
    "property_address": "Ερμού 10, 10563 Αθήνα",
    "electricity_supply_number": "1 12345678-01 2",
    "area_m2": "85,5",
}


@pytest.mark.parametrize(
    "certificate_type", [*CATALOGUE.civil_registry.values(), CATALOGUE.tap], ids=lambda t: t.code
)
def test_every_template_renders_in_greek_with_the_applicants_details(certificate_type):
    text = certificate_type.render(VALUES)
    assert "Ελένη Παπαδοπούλου" in text and "2026/000042" in text and "{" not in text
    assert "Δήμος Παραδείγματος" in text
    if certificate_type.code == "tap":
        assert "1 12345678-01 2" in text and "85,5" in text


def printed(**changes) -> PrintedCertificate:
    fields = {
        "municipality_name": "Δήμος Παραδείγματος",
        "department_name": "Ληξιαρχείο και Δημοτολόγιο",
        "title": "Πιστοποιητικό Οικογενειακής Κατάστασης",
        "body": CATALOGUE.civil_registry["family_status"].render(VALUES),
        "number": "2026/000042",
        "protocol_number": "123456",
        "protocol_date": date(2026, 3, 2),
        "issue_date": date(2026, 3, 5),
        "verification_code": "K7QX-M2DA-9PLR-T4WE",
        "verification_url": "https://portal.test/certificates/verify/K7QX-M2DA-9PLR-T4WE",
    } | changes
    return PrintedCertificate(**fields)


def test_the_pdf_shows_protocol_number_surname_dates_and_code_and_is_reproducible():
    renderer = CertificateRenderer()
    content = renderer.render(printed())
    assert content.startswith(b"%PDF") and renderer.render(printed()) == content
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)
    for shown in (
        "Δήμος Παραδείγματος",
        "Πιστοποιητικό Οικογενειακής Κατάστασης",
        "Παπαδοπούλου",
        "123456",
        "02/03/2026",
        "05/03/2026",
        "2026/000042",
        "K7QX-M2DA-9PLR-T4WE",
    ):
        assert shown in text


def test_a_long_text_goes_on_to_a_second_page():
    content = CertificateRenderer().render(printed(body="Μεγάλο κείμενο. " * 600))
    assert len(PdfReader(io.BytesIO(content)).pages) >= 2


def test_missing_fonts_stop_the_service_with_a_clear_message(tmp_path):
    with pytest.raises(FontsMissing, match="fonts-dejavu-core"):
        CertificateRenderer(tmp_path)
