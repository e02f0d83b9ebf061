"""Certificates in the browser (issue 11; SPEC C-1..C-6): a verified citizen applies for a
family-status certificate, a civil-registry clerk issues it, the citizen sees it issued and
downloads the PDF; an unverified citizen is told what is missing; a wrong supply number on the
ΤΑΠ form is refused in Greek with nothing recorded. Every screen is screenshotted and checked
with axe-core."""

from __future__ import annotations

import io
import re

from playwright.sync_api import Page, expect
from portal_roles import CITIZEN_PROFILE
from pypdf import PdfReader

PURPOSE = "Για την εγγραφή του παιδιού στο σχολείο."


def test_verified_citizen_applies_and_downloads_the_issued_certificate(
    page: Page, screens, verified_citizen, clerk_of, log_in
):
    """C-2, C-4, C-5, C-6: apply in the browser → listed with its protocol number → a clerk
    issues it → «Ενημέρωση» shows it issued with its verification code → the PDF downloads."""
    citizen = verified_citizen()
    log_in(page, citizen)
    page.get_by_role("navigation").get_by_role("link", name="Πιστοποιητικά").click()
    screens.capture(page, "certificates-empty")

    page.get_by_role("link", name="Νέα αίτηση Ληξιαρχείου – Δημοτολογίου").click()
    page.get_by_label("Είδος πιστοποιητικού").select_option("family_status")
    page.get_by_label("Σκοπός").fill(PURPOSE)
    page.get_by_label("Ηλεκτρονικά").check()
    screens.capture(page, "civil-registry-new")
    page.get_by_role("button", name="Υποβολή αίτησης").click()

    expect(page.get_by_role("status")).to_contain_text("Η αίτησή σας καταχωρήθηκε με αριθμό")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Πιστοποιητικό Οικογενειακής Κατάστασης"
    )
    certificate_id = page.url.rsplit("/", 1)[-1]
    protocol = citizen.get(f"/certificates/{certificate_id}").json()["protocol"]
    assert protocol is not None  # C-4: the registry answered while the application waited
    expect(page.locator("main")).to_contain_text(protocol["number"])
    expect(page.locator("#reply")).to_contain_text("Δεν έχει δοθεί ακόμη απάντηση")
    screens.capture(page, "certificate-submitted")

    page.get_by_role("link", name="Πιστοποιητικά").first.click()
    row = page.get_by_role("row", name=re.compile("Οικογενειακής Κατάστασης"))
    expect(row).to_contain_text("Υποβλήθηκε")
    expect(row).to_contain_text(protocol["number"])
    screens.capture(page, "certificates-list")

    issued = clerk_of("civil_registry").post(f"/certificates/{certificate_id}/issue", json={})
    assert issued.status_code == 200, issued.text
    row.get_by_role("link").click()
    page.get_by_role("link", name="Ενημέρωση").click()
    expect(page.locator("#issued")).to_contain_text("Το πιστοποιητικό εκδόθηκε")
    expect(page.locator("#verification-code")).to_have_text(issued.json()["verification_code"])
    expect(page.locator("#history")).to_contain_text("Έκδοση πιστοποιητικού")
    screens.capture(page, "certificate-issued")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Λήψη του πιστοποιητικού (PDF)").click()
    download = download_info.value
    assert download.suggested_filename.startswith("Πιστοποιητικό-")
    assert download.suggested_filename.endswith(".pdf")
    answer = page.request.get(f"/portal/certificates/{certificate_id}/document")
    assert answer.status == 200
    assert answer.headers["content-type"] == "application/pdf"
    content = answer.body()
    assert content.startswith(b"%PDF-")
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(content)).pages)
    assert protocol["number"] in text
    assert CITIZEN_PROFILE["last_name"] in text
    assert PURPOSE in text


def test_unverified_citizen_is_told_to_be_verified_first(page: Page, screens, new_citizen, log_in):
    """C-1: without an in-person verification the form is not offered; the page says why, in
    Greek, with the way to the profile page."""
    log_in(page, new_citizen())
    page.goto("/portal/certificates/civil-registry/new")
    notice = page.locator("#ineligible")
    expect(notice).to_contain_text("χρειάζεται πιστοποίηση χρήστη")
    expect(page.get_by_role("button", name="Υποβολή αίτησης")).to_have_count(0)
    screens.capture(page, "civil-registry-not-verified")
    notice.get_by_role("link", name="Μετάβαση στα στοιχεία μου").click()
    expect(page).to_have_url(re.compile(r"/portal/profile$"))


def test_a_wrong_supply_number_is_shown_in_greek_and_nothing_is_recorded(
    page: Page, screens, verified_citizen, log_in
):
    """Issue 11, C-3: the API's refusal of the supply number is shown in Greek beside the field
    and at the top; what was typed stays; no application is recorded."""
    citizen = verified_citizen()
    log_in(page, citizen)
    page.goto("/portal/certificates/tap/new")
    screens.capture(page, "tap-new")
    page.get_by_label("Διεύθυνση ακινήτου").fill("Ερμού 10, 10563 Αθήνα")
    page.get_by_label("Αριθμός παροχής ρεύματος").fill("1 2345")
    page.get_by_label("Επιφάνεια (τ.μ.)").fill("85,5")
    page.get_by_label("Σκοπός").fill("Για τη μεταβίβαση του ακινήτου.")
    page.get_by_label("Ηλεκτρονικά").check()
    page.get_by_role("button", name="Υποβολή αίτησης").click()

    message = "Γράψτε τον αριθμό παροχής όπως είναι τυπωμένος στον λογαριασμό ρεύματος"
    expect(page.locator("#error-electricity_supply_number")).to_contain_text(message)
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text(f"Αριθμός παροχής ρεύματος: {message}")
    expect(summary.get_by_role("link").first).to_have_attribute(
        "href", "#field-electricity_supply_number"
    )
    expect(page.get_by_label("Αριθμός παροχής ρεύματος")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Επιφάνεια (τ.μ.)")).to_have_value("85,5")
    screens.capture(page, "tap-refused")
    assert citizen.get("/certificates/tap").json()["total"] == 0
