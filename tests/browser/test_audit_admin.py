"""Auditors' and admins' screens in the browser (issue 11; SPEC X-1, ID-4): an auditor finds a
case by its number, reads its timeline across services and its state at a moment before the
reply; an admin creates a clerk (a missing department refused in Greek), moves them to another
department, disables the account with a reason and enables it again; the departments list.
Every screen is screenshotted and checked with axe-core."""

from __future__ import annotations

import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from playwright.sync_api import Page, expect
from portal_roles import Casting

ATHENS = ZoneInfo("Europe/Athens")


def next_whole_second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0) + timedelta(seconds=1)


def test_an_auditor_reads_a_cases_timeline_and_its_state_before_the_reply(
    page: Page, screens, new_citizen, clerk_of, admin, gateway, log_in, eventually
):
    """X-1: the case's events across services with who and when; its state replayed at a
    moment between the submission and the reply shows no reply."""
    citizen, clerk = new_citizen(), clerk_of("citizen_services")
    auditor = Casting(gateway, admin.token).staff("auditor")
    created = citizen.post(
        "/requests", json={"kind": "complaint", "subject": "Θόρυβος", "text": "Κάθε βράδυ."}
    )
    assert created.status_code == 201, created.text
    request_id, number = created.json()["id"], created.json()["number"]
    submitted_at = datetime.fromisoformat(
        citizen.get(f"/requests/{request_id}").json()["submitted_at"]
    )
    before_reply = next_whole_second(submitted_at)  # the form's field has whole seconds
    while datetime.now(UTC) <= before_reply:  # the reply must come after that moment
        time.sleep(0.05)
    reply = "Θα γίνει έλεγχος από τη Δημοτική Αστυνομία."
    assert clerk.post(f"/requests/{request_id}/reply", json={"text": reply}).status_code == 200
    eventually(  # the audit service's archive is fed through Kafka
        lambda: any(
            entry["name"] == "Replied"
            for entry in gateway.get(f"/audit/cases/{request_id}", headers=auditor.headers)
            .json()
            .get("entries", [])
        )
    )

    log_in(page, auditor, screens)
    expect(page).to_have_url(re.compile(r"/portal/audit$"))
    page.get_by_label("Αριθμός ή αναγνωριστικό υπόθεσης").fill("2026/ΔΕΝ-ΥΠΑΡΧΕΙ")
    page.get_by_role("button", name="Εμφάνιση ιστορικού").click()
    expect(page.locator("#error-case")).to_contain_text("Δεν βρέθηκε υπόθεση")
    screens.capture(page, "case-not-found")
    page.get_by_label("Αριθμός ή αναγνωριστικό υπόθεσης").fill(number)
    page.get_by_role("button", name="Εμφάνιση ιστορικού").click()

    timeline = page.locator("#timeline")
    submitted = timeline.get_by_role("listitem").filter(has_text="Υποβολή αιτήματος")
    expect(submitted).to_contain_text("από Πολίτης")
    replied = timeline.get_by_role("listitem").filter(has_text="Απάντηση του Δήμου")
    expect(replied).to_contain_text(f"από Υπάλληλος ({clerk.user_id})")
    replied.get_by_text("Στοιχεία του γεγονότος Replied").click()
    expect(replied).to_contain_text(reply)
    screens.capture(page, "case-timeline")

    moment = before_reply.astimezone(ATHENS).strftime("%Y-%m-%dT%H:%M:%S")
    page.get_by_label("Ημερομηνία και ώρα").fill(moment)
    page.get_by_role("button", name="Εμφάνιση κατάστασης").click()
    state = page.locator("#state")
    expect(state).to_contain_text(before_reply.astimezone(ATHENS).strftime("%d/%m/%Y %H:%M:%S"))
    expect(state.get_by_role("definition").first).to_be_visible()
    expect(state).to_contain_text("Υποβλήθηκε")
    expect(state).not_to_contain_text(reply)
    screens.capture(page, "case-state-before-reply")

    replied.get_by_role("link", name=re.compile("Κατάσταση μετά από αυτό")).click()
    expect(page.locator("#state")).to_contain_text(reply)


def test_an_admin_creates_a_clerk_moves_them_and_disables_and_enables_the_account(
    page: Page, screens, admin, gateway, log_in
):
    """ID-4: staff created with a role and a department from the catalogue; a clerk without a
    department refused beside the field; the department changed; disabled with a reason (the
    clerk can no longer log in), enabled again."""
    email, password = f"clerk-web-{uuid.uuid4().hex[:8]}@dimos.gr", "Ypallilos-2026"
    log_in(page, admin)
    page.get_by_role("navigation").get_by_role("link", name="Υπηρεσίες").click()
    expect(page.get_by_role("row", name=re.compile("Τεχνικές Υπηρεσίες"))).to_contain_text(
        "technical"
    )
    screens.capture(page, "departments")

    page.get_by_role("navigation").get_by_role("link", name="Νέος υπάλληλος").click()
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Αρχικός κωδικός").fill(password)
    page.get_by_label("Υπάλληλος", exact=True).check()
    screens.capture(page, "staff-new")
    page.get_by_role("button", name="Δημιουργία λογαριασμού").click()
    expect(page.locator("#error-department")).to_contain_text("Επιλέξτε μία υπηρεσία")
    expect(page.get_by_role("alert")).to_contain_text("Υπηρεσία:")
    expect(page.get_by_label("E-mail")).to_have_value(email)
    screens.capture(page, "staff-refused")
    assert (
        gateway.post("/identity/token", data={"username": email, "password": password}).status_code
        != 200
    )

    page.get_by_label("Αρχικός κωδικός").fill(password)
    page.get_by_label("Υπηρεσία", exact=True).select_option("technical")
    page.get_by_role("button", name="Δημιουργία λογαριασμού").click()
    expect(page.get_by_role("status")).to_contain_text(f"Ο λογαριασμός {email} δημιουργήθηκε")
    expect(page.get_by_role("heading", level=1)).to_contain_text(email)
    expect(page.locator("main dl")).to_contain_text("Τεχνικές Υπηρεσίες")
    screens.capture(page, "staff-account")

    page.get_by_label("Υπηρεσία", exact=True).select_option("sanitation")
    page.get_by_role("button", name="Αποθήκευση").click()
    expect(page.get_by_role("status")).to_contain_text("αποθηκεύτηκαν")
    expect(page.locator("main dl")).to_contain_text("Καθαριότητα και Ανακύκλωση")

    page.get_by_label("Λόγος απενεργοποίησης").fill("Μετακίνηση σε άλλο Δήμο")
    page.get_by_role("button", name="Απενεργοποίηση λογαριασμού").click()
    expect(page.get_by_role("status")).to_contain_text("Ο λογαριασμός απενεργοποιήθηκε")
    expect(page.locator("main dl")).to_contain_text("Απενεργοποιημένος")
    screens.capture(page, "staff-disabled")
    token = gateway.post("/identity/token", data={"username": email, "password": password})
    assert token.status_code != 200, token.text

    page.get_by_role("button", name="Ενεργοποίηση λογαριασμού").click()
    expect(page.get_by_role("status")).to_contain_text("ενεργοποιήθηκε ξανά")
    expect(page.locator("main dl")).to_contain_text("Ενεργός")
    token = gateway.post("/identity/token", data={"username": email, "password": password})
    assert token.status_code == 200, token.text
