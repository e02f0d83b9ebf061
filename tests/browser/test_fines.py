"""Traffic fines in the browser (issue 11; SPEC F-1..F-6, P-1, P-2): the guide's steps, from the
ticket's municipality code and type to its details, the amount due now and the bank's page,
back to the portal's list with the fine paid; a wrong plate refused in Greek with nothing
recorded; a citizen without a complete profile sent to complete it. Every screen is
screenshotted and checked with axe-core."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from fine_payments import SUCCESS_CARD, fine_types, new_fine, wait_until_fines_accept
from playwright.sync_api import Page, expect

ATHENS = ZoneInfo("Europe/Athens")


def ticket_for(citizen, gateway) -> dict[str, str]:
    """A ticket nobody has looked up yet, as the citizen reads it (F-2, F-3)."""
    wait_until_fines_accept(gateway, citizen.headers)
    return new_fine(fine_types(gateway, citizen.headers))


def fill_ticket(page: Page, ticket: dict[str, str], plate: str | None = None) -> None:
    """Steps 1 and 2 of the guide: municipality and type, then number, plate and date."""
    page.get_by_label("Κωδικός Δήμου").fill(ticket["municipality_code"])
    page.get_by_label("Είδος κλήσης").select_option(ticket["fine_type"])
    page.get_by_role("button", name="Συνέχεια").click()
    expect(page.locator("[aria-current=step]")).to_have_text("Στοιχεία της κλήσης")
    page.get_by_label("Αριθμός κλήσης").fill(ticket["fine_number"])
    page.get_by_label("Αριθμός κυκλοφορίας").fill(plate or ticket["plate"])
    three_days_ago = datetime.now(ATHENS) - timedelta(days=3)
    page.get_by_label("Ημερομηνία και ώρα κλήσης").fill(three_days_ago.strftime("%Y-%m-%dT%H:%M"))


def test_citizen_pays_a_fine_at_the_banks_page_and_sees_it_paid(
    page: Page, screens, new_citizen, gateway, log_in, eventually
):
    """F-2..F-6, P-1, P-2: code + type → details → amount due now → the bank's page (card
    4111 1111 1111 1111) → the payment's result → «Τα πρόστιμά μου» shows the fine paid."""
    citizen = new_citizen()
    ticket = ticket_for(citizen, gateway)
    log_in(page, citizen)
    page.get_by_role("navigation").get_by_role("link", name="Πρόστιμα").click()
    screens.capture(page, "fines-empty")

    page.get_by_role("link", name="Πληρωμή κλήσης").click()
    screens.capture(page, "fine-check")
    fill_ticket(page, ticket)
    screens.capture(page, "fine-details")
    page.get_by_role("button", name="Αναζήτηση").click()

    expect(page.get_by_role("heading", level=1)).to_have_text(f"Κλήση {ticket['fine_number']}")
    expect(page.locator("#status")).to_have_text("Προς πληρωμή")
    fine_id = page.url.rsplit("/", 1)[-1]
    quote = citizen.get(f"/fines/{fine_id}").json()["quote"]
    amount = f"{quote['total'] // 100},{quote['total'] % 100:02d} €"
    expect(page.get_by_role("definition").filter(has_text=quote["reference"]).first).to_be_visible()
    expect(page.locator("main")).to_contain_text(amount)
    screens.capture(page, "fine-amount-due")

    page.get_by_role("button", name="Πληρωμή με κάρτα").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Πληρωμή στην τράπεζα")
    expect(page.locator("main")).to_contain_text(amount)
    screens.capture(page, "fine-to-bank")
    page.get_by_role("link", name="Συνέχεια στην τράπεζα").click()
    expect(page).to_have_url(re.compile(r"^http://127\.0\.0\.1:8202/"))  # the bank's own site
    expect(page.locator("body")).to_contain_text(amount)
    page.get_by_label("Αριθμός κάρτας").fill(SUCCESS_CARD)  # 4111 1111 1111 1111: accepted
    page.get_by_label("Λήξη").fill((datetime.now(ATHENS) + timedelta(days=730)).strftime("%m/%y"))
    page.get_by_label("CVC").fill("123")
    page.get_by_label("Όνομα κατόχου").fill("ELENI PAPADOPOULOU")
    page.screenshot(path=screens.directory / "bank-page.png", full_page=True)  # not the portal's
    page.get_by_role("button", name="Πληρωμή").click()

    # The payments service's result page looks again by itself until the bank has confirmed.
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Η πληρωμή ολοκληρώθηκε", timeout=30_000
    )
    screens.capture(page, "payment-result")

    def shown_paid() -> bool:
        page.goto("/portal/fines")
        row = page.get_by_role("row", name=re.compile(ticket["fine_number"]))
        return "Πληρώθηκε" in row.inner_text()

    eventually(shown_paid, interval=0.5)  # payments tells fines through Kafka
    screens.capture(page, "fines-paid")
    page.get_by_role("link", name=ticket["fine_number"]).click()
    expect(page.locator("#status")).to_have_text("Πληρώθηκε")
    expect(page.get_by_role("button", name="Πληρωμή με κάρτα")).to_have_count(0)
    screens.capture(page, "fine-paid")


def test_a_wrong_plate_is_shown_in_greek_and_nothing_is_recorded(
    page: Page, screens, new_citizen, gateway, log_in
):
    """Issue 11, F-3: the API's refusal of the plate is shown in Greek beside the field and at
    the top; what was typed stays; no fine is in the citizen's list."""
    citizen = new_citizen()
    ticket = ticket_for(citizen, gateway)
    log_in(page, citizen)
    page.goto("/portal/fines/new")
    fill_ticket(page, ticket, plate="Α-?")
    page.get_by_role("button", name="Αναζήτηση").click()

    message = "Γράψτε τον αριθμό κυκλοφορίας: 2 έως 10 γράμματα και ψηφία"
    expect(page.locator("#error-plate")).to_contain_text(message)
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text(f"Αριθμός κυκλοφορίας: {message}")
    expect(summary.get_by_role("link")).to_have_attribute("href", "#field-plate")
    expect(page.get_by_label("Αριθμός κυκλοφορίας")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Αριθμός κλήσης")).to_have_value(ticket["fine_number"])
    screens.capture(page, "fine-refused")
    assert citizen.get("/fines").json()["total"] == 0


def test_a_foreign_municipality_code_is_refused_at_the_first_step(
    page: Page, screens, new_citizen, gateway, log_in
):
    """F-2: another municipality's ticket is not payable here; said beside the code."""
    citizen = new_citizen()
    ticket = ticket_for(citizen, gateway)
    log_in(page, citizen)
    page.goto("/portal/fines/new")
    page.get_by_label("Κωδικός Δήμου").fill("9999")
    page.get_by_label("Είδος κλήσης").select_option(ticket["fine_type"])
    page.get_by_role("button", name="Συνέχεια").click()
    expect(page.locator("#error-municipality_code")).to_contain_text("άλλου δήμου")
    expect(page.get_by_label("Κωδικός Δήμου")).to_have_value("9999")
    screens.capture(page, "fine-foreign-municipality")


def test_without_a_complete_profile_the_citizen_is_sent_to_complete_it(
    page: Page, screens, new_citizen, log_in
):
    """F-1: the fines service's 403 profile_incomplete is a Greek notice with the way to the
    profile page."""
    log_in(page, new_citizen(complete_profile=False))
    page.goto("/portal/fines/new")
    notice = page.locator("#ineligible")
    expect(notice).to_contain_text("Συμπληρώστε πρώτα τα στοιχεία σας")
    screens.capture(page, "fines-needs-profile")
    notice.get_by_role("link", name="Μετάβαση στα στοιχεία μου").click()
    expect(page).to_have_url(re.compile(r"/portal/profile$"))
