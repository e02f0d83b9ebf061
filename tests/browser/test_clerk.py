"""The clerks' back office in the browser (issue 11; SPEC R-3, R-4, R-5, ID-3, X-3): a clerk
works a citizen's named request from the worklist (reply, status, protocol) and the citizen
sees the reply after «Ενημέρωση»; a clerk verifies a citizen in person through the user search
and revokes it with a reason; another department's case is a 404 page. Every screen is
screenshotted and checked with axe-core."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Browser, Page, expect


def unique(text: str) -> str:
    return f"{text} {uuid.uuid4().hex[:6]}"


@pytest.fixture
def citizen_page(browser: Browser, stack) -> Page:
    """A second browser (its own cookies) for the citizen, beside the clerk's `page`."""
    context = browser.new_context(
        base_url=stack.gateway_url, locale="el-GR", timezone_id="Europe/Athens"
    )
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def in_worklist(clerk, request_id: str) -> bool:
    params = {"kind": "request", "status": "submitted", "limit": 500, "offset": 0}
    while True:
        page = clerk.get("/backoffice/worklist", params=params).json()
        if any(item["id"] == request_id for item in page["items"]):
            return True
        params["offset"] += params["limit"]
        if params["offset"] >= page["total"]:
            return False


def test_a_clerk_replies_in_the_back_office_and_the_citizen_sees_it_after_refresh(
    page: Page, citizen_page: Page, screens, new_citizen, clerk_of, log_in, eventually
):
    """Issue 11's first flow, the clerk's step through the browser: worklist → case → reply,
    status change, protocol asked (R-3, R-4); the citizen's «Ενημέρωση» shows the reply (R-5)."""
    citizen, clerk = new_citizen(), clerk_of("social_services")
    subject = unique("Αίτημα κοινωνικής στήριξης")
    created = citizen.post(
        "/requests",
        json={
            "kind": "request",
            "subject": subject,
            "text": "Ζητώ ενημέρωση για το πρόγραμμα κοινωνικής στήριξης.",
            "category": "social_services",
        },
    )
    assert created.status_code == 201, created.text
    request_id = created.json()["id"]
    eventually(lambda: in_worklist(clerk, request_id))  # the worklist learns it through Kafka

    log_in(citizen_page, citizen)
    citizen_page.goto(f"/portal/requests/{request_id}")
    expect(citizen_page.locator("#reply")).to_contain_text("Δεν έχει δοθεί ακόμη απάντηση")

    log_in(page, clerk, screens)
    expect(page).to_have_url(re.compile(r"/portal/clerk$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Εκκρεμείς υποθέσεις")
    screens.capture(page, "worklist")
    page.get_by_label("Είδος υπόθεσης").select_option("request")
    page.get_by_label("Κατάσταση", exact=True).select_option("submitted")
    page.get_by_role("button", name="Εφαρμογή φίλτρων").click()
    last_page = page.get_by_role("link", name="Τελευταία σελίδα")
    if last_page.count():  # the worklist is most urgent first: a new case comes last
        last_page.click()
    row = page.get_by_role("row", name=re.compile(re.escape(subject)))
    expect(row).to_contain_text("Υποβλήθηκε")
    expect(row).to_contain_text("Ελένη Παπαδοπούλου")
    screens.capture(page, "worklist-filtered")
    row.get_by_role("link", name=subject).click()
    expect(page).to_have_url(re.compile(rf"/portal/clerk/requests/{request_id}$"))
    screens.capture(page, "request-case")

    page.get_by_role("button", name="Αποστολή απάντησης").click()  # empty: refused in Greek
    expect(page.locator("#error-text")).to_contain_text("τουλάχιστον")
    expect(page.get_by_role("alert")).to_contain_text("Απάντηση:")
    screens.capture(page, "reply-refused")
    reply = "Εντάσσεστε στο πρόγραμμα· θα επικοινωνήσουμε μαζί σας."
    page.get_by_label("Κείμενο απάντησης").fill(reply)
    page.get_by_role("button", name="Αποστολή απάντησης").click()
    expect(page.get_by_role("status")).to_contain_text("Η απάντηση στάλθηκε")
    page.get_by_label("Νέα κατάσταση").select_option("in_progress")
    page.get_by_label("Αιτιολογία").fill("Εξετάζεται από την κοινωνική υπηρεσία.")
    page.get_by_role("button", name="Αλλαγή κατάστασης").click()
    expect(page.get_by_role("status")).to_contain_text("Η κατάσταση άλλαξε")
    page.get_by_role("button", name="Αίτηση αριθμού πρωτοκόλλου").click()
    expect(page.get_by_role("status")).to_contain_text("Ζητήθηκε αριθμός πρωτοκόλλου")
    expect(page.get_by_role("button", name="Αίτηση αριθμού πρωτοκόλλου")).to_have_count(0)
    expect(page.locator("main ol").filter(has_text="Απάντηση του Δήμου")).to_contain_text(
        "Εξετάζεται από την κοινωνική υπηρεσία"
    )
    screens.capture(page, "request-worked")

    citizen_page.get_by_role("link", name="Ενημέρωση").click()
    expect(citizen_page.locator("#reply")).to_contain_text(reply)
    expect(citizen_page.locator("main")).to_contain_text("Σε εξέλιξη")
    screens.capture(citizen_page, "citizen-sees-reply")


def test_a_clerk_verifies_a_citizen_in_person_and_revokes_it_with_a_reason(
    page: Page, screens, new_citizen, clerk_of, log_in
):
    """ID-3 through the user search: the document shown in person, as the API names it
    (document_type, document_number); the revocation needs a reason."""
    citizen, clerk = new_citizen(), clerk_of("citizen_services")
    log_in(page, clerk)
    page.get_by_role("navigation").get_by_role("link", name="Αναζήτηση χρηστών").click()
    page.get_by_label("E-mail, όνομα ή ΑΦΜ").fill(citizen.email)
    page.get_by_role("button", name="Αναζήτηση").click()
    row = page.get_by_role("row", name=re.compile(re.escape(citizen.email)))
    expect(row).to_contain_text("Όχι")
    screens.capture(page, "user-search")
    row.get_by_role("link", name="Ελένη Παπαδοπούλου").click()
    screens.capture(page, "user")

    page.get_by_label("Έγγραφο που επιδείχθηκε").select_option("identity_card")
    page.get_by_role("button", name="Καταχώριση πιστοποίησης").click()  # no number: refused
    expect(page.locator("#error-document_number")).to_be_visible()
    assert citizen.get("/identity/me").json()["verified"] is False
    page.get_by_label("Αριθμός εγγράφου").fill("ΑΒ123456")
    page.get_by_role("button", name="Καταχώριση πιστοποίησης").click()
    expect(page.get_by_role("status")).to_contain_text("Η πιστοποίηση του χρήστη καταχωρήθηκε")
    expect(page.get_by_role("definition").filter(has_text="Πιστοποιημένος")).to_be_visible()
    screens.capture(page, "user-verified")
    verification = citizen.get("/identity/me").json()["verification"]
    assert verification["document_type"] == "identity_card"
    assert verification["document_number"] == "ΑΒ123456"

    page.get_by_label("Λόγος ανάκλησης").fill("Λάθος στοιχεία εγγράφου")
    page.get_by_role("button", name="Ανάκληση πιστοποίησης").click()
    expect(page.get_by_role("status")).to_contain_text("ανακλήθηκε")
    expect(page.get_by_role("button", name="Καταχώριση πιστοποίησης")).to_be_visible()
    screens.capture(page, "user-revoked")
    assert citizen.get("/identity/me").json()["verified"] is False


def test_another_departments_case_is_not_found_for_a_clerk(
    page: Page, screens, new_citizen, clerk_of, log_in
):
    """R-3 / issue 11: a clerk sees only their department's cases; another's is the 404 page."""
    citizen = new_citizen()
    created = citizen.post(
        "/requests",
        json={
            "kind": "complaint",
            "subject": "Λακκούβα",
            "text": "Στην οδό Ερμού.",
            "category": "roads",
        },
    )
    assert created.status_code == 201, created.text
    log_in(page, clerk_of("civil_registry"))
    answer = page.goto(f"/portal/clerk/requests/{created.json()['id']}")
    assert answer is not None and answer.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Η σελίδα δεν βρέθηκε")
    expect(page.locator("main")).not_to_contain_text("Ερμού")
    screens.capture(page, "other-department-not-found")
