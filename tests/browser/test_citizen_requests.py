"""A citizen's requests in the browser (issue 11; SPEC ID-1, ID-2, R-1..R-5): register, fill
in the profile, submit a named request, see it listed, see the clerk's reply after «Ενημέρωση»;
an anonymous submission; a wrong field refused in Greek with nothing recorded; CSRF and another
user's case refused. Every screen is screenshotted and checked with axe-core."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import Page, expect
from portal_roles import CITIZEN_PROFILE

PROFILE_LABELS = {
    "first_name": "Όνομα",
    "last_name": "Επώνυμο",
    "father_name": "Πατρώνυμο",
    "date_of_birth": "Ημερομηνία γέννησης",
    "afm": "ΑΦΜ",
    "id_document_number": "Αριθμός δελτίου ταυτότητας",
    "address": "Διεύθυνση",
    "phone": "Τηλέφωνο",
}


def unique(text: str) -> str:
    return f"{text} {uuid.uuid4().hex[:6]}"


def fill_request_form(page: Page, subject: str, text: str, category: str | None = None) -> None:
    page.get_by_label("Καταγγελία").check()
    page.get_by_label("Θέμα").fill(subject)
    page.get_by_label("Κείμενο").fill(text)
    page.get_by_label("Επιθυμητή ενέργεια").fill("Επισκευή")
    if category:
        page.get_by_label("Κατηγορία").select_option(category)


def test_citizen_registers_files_a_request_and_sees_the_reply_after_refresh(
    page: Page, screens, clerk_of, log_in
):
    """Issue 11's first flow: register → profile → named request → in the list → a clerk
    replies → «Ενημέρωση» shows the reply."""
    email, password = f"web-{uuid.uuid4().hex[:10]}@example.gr", "Kalimera-2026"
    page.goto("/")
    screens.capture(page, "home")
    page.get_by_role("link", name="Εγγραφή").first.click()
    screens.capture(page, "register")
    page.get_by_label("Πολίτης").check()
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Κωδικός").fill(password)
    page.get_by_role("button", name="Εγγραφή").click()

    expect(page).to_have_url(re.compile(r"/portal/profile$"))
    expect(page.get_by_role("row", name=re.compile("Πιστοποιητικά"))).to_contain_text(
        "Συμπληρώστε όλα τα στοιχεία σας"
    )
    screens.capture(page, "profile-incomplete")
    for name, label in PROFILE_LABELS.items():
        page.get_by_label(label, exact=True).fill(CITIZEN_PROFILE[name])
    page.get_by_role("button", name="Αποθήκευση").click()
    expect(page.get_by_role("status")).to_contain_text("Τα στοιχεία σας αποθηκεύτηκαν")
    expect(page.get_by_role("row", name=re.compile("Πρόστιμα"))).to_contain_text("Ναι")
    expect(page.get_by_role("row", name=re.compile("Πιστοποιητικά"))).to_contain_text(
        "Πιστοποίηση χρήστη"
    )
    screens.capture(page, "profile-complete")

    page.get_by_role("navigation").get_by_role("link", name="Νέα Αίτηση").click()
    subject = unique("Σπασμένος φανοστάτης")
    fill_request_form(page, subject, "Δεν ανάβει εδώ και μία εβδομάδα.", "street_lighting")
    screens.capture(page, "request-new")
    page.get_by_role("button", name="Υποβολή").click()

    expect(page.get_by_role("status")).to_contain_text("καταχωρήθηκε με αριθμό")
    expect(page.locator("#reply")).to_contain_text("Δεν έχει δοθεί ακόμη απάντηση")
    request_id = page.url.rsplit("/", 1)[-1]
    screens.capture(page, "request-submitted")

    page.get_by_role("link", name="Τα αιτήματά μου").first.click()
    row = page.get_by_role("row", name=re.compile(subject))
    expect(row).to_contain_text("Υποβλήθηκε")
    expect(row).to_contain_text("Καταγγελία")
    screens.capture(page, "requests")

    row.get_by_role("link", name=subject).click()
    clerk = clerk_of("technical")  # street lighting is the technical department's
    reply = "Ενημερώθηκε το συνεργείο ηλεκτροφωτισμού."
    response = clerk.post(f"/requests/{request_id}/reply", json={"text": reply})
    assert response.status_code == 200, response.text
    page.get_by_role("link", name="Ενημέρωση").click()
    expect(page.locator("#reply")).to_contain_text(reply)
    expect(page.get_by_role("list").filter(has_text="Απάντηση του Δήμου")).to_be_visible()
    screens.capture(page, "request-replied")

    page.get_by_role("button", name="Αποσύνδεση").click()
    expect(page.get_by_role("status")).to_contain_text("Αποσυνδεθήκατε")
    page.goto(f"/portal/requests/{request_id}")
    expect(page).to_have_url(re.compile(r"/portal/login\?next="))
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Κωδικός").fill(password)
    page.get_by_role("button", name="Σύνδεση").click()
    expect(page).to_have_url(re.compile(rf"/portal/requests/{request_id}$"))
    expect(page.locator("#reply")).to_contain_text(reply)


def test_anonymous_request_is_accepted_without_logging_in(
    page: Page, screens, clerk_of, eventually
):
    """R-1: anyone submits without an account; it reaches the default department's inbox."""
    page.goto("/portal/anonymous")
    screens.capture(page, "anonymous")
    subject = unique("Θόρυβος από κατάστημα")
    page.get_by_label("Θέμα").fill(subject)
    page.get_by_label("Κείμενο").fill("Θόρυβος μετά τα μεσάνυχτα.")
    page.get_by_role("button", name="Υποβολή").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Η υποβολή σας καταχωρήθηκε")
    screens.capture(page, "anonymous-accepted")

    clerk = clerk_of("citizen_services")
    eventually(
        lambda: any(
            item["subject"] == subject and item["anonymous"]
            for item in clerk.get("/requests/inbox", params={"limit": 500}).json()["items"]
        )
    )


def test_a_wrong_field_is_shown_in_greek_beside_it_and_at_the_top_and_nothing_is_recorded(
    page: Page, screens, new_citizen, log_in
):
    """Issue 11: the API's 422 details become Greek errors at the top and beside the field;
    what was typed stays; no request is recorded."""
    citizen = new_citizen()
    log_in(page, citizen, screens)
    page.goto("/portal/requests/new")
    text = "Κείμενο που πρέπει να μείνει στη φόρμα."
    fill_request_form(page, "Θ" * 201, text)
    page.get_by_role("button", name="Υποβολή").click()

    message = "Πρέπει να έχει το πολύ 200 χαρακτήρες."
    expect(page.locator("#error-subject")).to_contain_text(message)
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text(f"Θέμα: {message}")
    expect(summary.get_by_role("link")).to_have_attribute("href", "#field-subject")
    expect(page.get_by_label("Θέμα")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Κείμενο")).to_have_value(text)
    screens.capture(page, "request-refused")
    assert citizen.get("/requests").json()["total"] == 0


def test_a_form_posted_without_the_csrf_token_is_refused(page: Page, new_citizen, log_in):
    """Issue 11: a form POST without (or with another) CSRF token → 403; nothing recorded."""
    citizen = new_citizen()
    log_in(page, citizen)
    form = {"kind": "request", "subject": "Χωρίς διακριτικό", "text": "Δοκιμή"}
    for token in ({}, {"csrf_token": "not-the-sessions-token"}):
        response = page.request.post("/portal/requests/new", form=form | token)
        assert response.status == 403
        assert "Δεν επιτρέπεται η πρόσβαση" in response.text()
    assert citizen.get("/requests").json()["total"] == 0


def test_another_citizens_request_page_is_not_found(page: Page, screens, new_citizen, log_in):
    """Issue 11: a page of another user's case → 404 (the API's 404 passes through)."""
    owner, other = new_citizen(), new_citizen()
    response = owner.post(
        "/requests", json={"kind": "request", "subject": "Δικό μου", "text": "Ιδιωτικό."}
    )
    assert response.status_code == 201, response.text
    log_in(page, other)
    answer = page.goto(f"/portal/requests/{response.json()['id']}")
    assert answer is not None and answer.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Η σελίδα δεν βρέθηκε")
    expect(page.locator("main")).not_to_contain_text("Ιδιωτικό")
    screens.capture(page, "not-found")


def test_notifications_show_an_unread_badge_and_are_marked_read(
    page: Page, screens, new_citizen, log_in, eventually
):
    """X-2 in the browser: the unread count in the header, the list, «mark read»."""
    citizen = new_citizen()
    eventually(lambda: citizen.get("/notifications").json()["unread"] >= 1)  # the welcome
    log_in(page, citizen)
    link = page.get_by_role("navigation").get_by_role("link", name=re.compile("Ειδοποιήσεις"))
    expect(link).to_contain_text("μη αναγνωσμένες")
    link.click()
    screens.capture(page, "notifications")
    page.get_by_role("button", name=re.compile("Σήμανση ως αναγνωσμένης")).first.click()
    expect(page.get_by_role("button", name=re.compile("Σήμανση ως αναγνωσμένης"))).to_have_count(0)
    expect(link).not_to_contain_text("μη αναγνωσμένες")
    assert citizen.get("/notifications").json()["unread"] == 0
