"""Notifications end to end through the gateway: other services' events become notifications in
the portal and e-mails in the stack's real SMTP server, Mailpit, whose REST API the tests read
(SPEC X-2, C-4; issue 8)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from certificate_applications import FAMILY_STATUS

pytestmark = pytest.mark.integration

DEFAULT_DEPARTMENT = "citizen_services"
COMPLAINT = {
    "kind": "complaint",
    "subject": "Σπασμένος φανοστάτης",
    "text": "Ο φανοστάτης στη γωνία Ερμού και Αιόλου δεν ανάβει.",
}
WELCOME = "Καλώς ήρθατε στην ηλεκτρονική πύλη του Δήμου"
MAIL_DOMAIN = "demo.portal.gr"  # of MAIL_FROM, the right-hand side of every Message-ID


@pytest.fixture(scope="module")
def mailbox(stack) -> Iterator[Callable[[str], list[dict[str, Any]]]]:
    """The messages in Mailpit addressed to an address (summaries: ID, MessageID, Subject)."""
    with httpx.Client(base_url=stack.mailpit_url, timeout=10.0) as api:

        def messages_to(address: str) -> list[dict[str, Any]]:
            response = api.get("/api/v1/search", params={"query": f"to:{address}"})
            response.raise_for_status()
            return response.json()["messages"]

        yield messages_to


def notifications(user, **params: Any) -> dict[str, Any]:
    response = user.get("/notifications", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def notified(user, kind: str, link: str | None = None) -> Callable[[], dict[str, Any] | None]:
    """A check for `eventually`: the user's notification of `kind` (about `link`), once there."""

    def check() -> dict[str, Any] | None:
        for item in notifications(user)["items"]:
            if item["kind"] == kind and (link is None or item["link"] == link):
                return item
        return None

    return check


def subjects(messages: list[dict[str, Any]]) -> list[str]:
    return sorted(message["Subject"] for message in messages)


def submitted_request(citizen) -> str:
    created = citizen.post("/requests", json=COMPLAINT)
    assert created.status_code == 201, created.text
    return created.json()["id"]


def test_x2_reply_and_status_change_listed_unread_then_read_and_never_anothers(
    new_citizen, clerk_of, eventually, mailbox
):
    citizen, other = new_citizen(), new_citizen()
    clerk = clerk_of(DEFAULT_DEPARTMENT)
    request_id = submitted_request(citizen)
    link = f"/requests/{request_id}"

    reply = clerk.post(f"/requests/{request_id}/reply", json={"text": "Ενημερώθηκε το συνεργείο."})
    assert reply.status_code == 200, reply.text
    changed = clerk.post(f"/requests/{request_id}/status", json={"status": "in_progress"})
    assert changed.status_code == 200, changed.text

    eventually(notified(citizen, "welcome"))
    replied = eventually(notified(citizen, "request_replied", link))
    status = eventually(notified(citizen, "request_status_changed", link))
    assert replied["title"].startswith("Απάντηση στο αίτημά σας")
    assert "«Σε εξέλιξη»" in status["body"]
    page = notifications(citizen)
    kinds = [item["kind"] for item in page["items"]]
    assert kinds[:2] == ["request_status_changed", "request_replied"]  # newest first
    assert set(kinds) == {"welcome", "request_replied", "request_status_changed"}
    assert page["unread"] == 3 and page["total"] == 3

    # Someone else's notification does not exist for another user.
    assert other.post(f"/notifications/{replied['id']}/read").status_code == 404
    assert replied["id"] not in {i["id"] for i in notifications(other)["items"]}
    assert notifications(other)["unread"] == 1  # their own welcome

    read = citizen.post(f"/notifications/{replied['id']}/read")
    assert read.status_code == 200, read.text
    assert read.json()["read_at"] is not None
    unread = notifications(citizen, unread_only="true")
    assert replied["id"] not in {i["id"] for i in unread["items"]}
    assert unread["unread"] == 2 and unread["total"] == 2

    assert citizen.post("/notifications/read-all").json() == {"unread": 0}
    after = notifications(citizen)
    assert after["unread"] == 0 and all(item["read_at"] for item in after["items"])

    # Both went by e-mail too, with the welcome.
    expected = {WELCOME, replied["title"], status["title"]}
    eventually(lambda: set(subjects(mailbox(citizen.email))) == expected)


def test_x2_email_off_keeps_the_portal_and_security_notices(
    new_citizen, clerk_of, eventually, mailbox
):
    citizen = new_citizen()
    clerk = clerk_of(DEFAULT_DEPARTMENT)
    assert citizen.get("/notifications/preferences").json() == {"email": True}
    turned_off = citizen.put("/notifications/preferences", json={"email": False})
    assert turned_off.status_code == 200 and turned_off.json() == {"email": False}
    assert citizen.get("/notifications/preferences").json() == {"email": False}

    request_id = submitted_request(citizen)
    clerk.post(f"/requests/{request_id}/reply", json={"text": "Ελήφθη."})
    eventually(notified(citizen, "request_replied", f"/requests/{request_id}"))

    # A password change is a security notice: e-mailed although e-mails are off.
    changed = citizen.put(
        "/identity/me/password",
        json={"current_password": citizen.password, "new_password": "Kainourgios-2026!"},
    )
    assert changed.status_code == 204, changed.text
    # The reply was told in the portal only: it never was due by e-mail, so the mailbox comes
    # to hold the welcome (from before) and the security notice, and nothing else.
    security = "Ο κωδικός πρόσβασής σας άλλαξε"
    eventually(lambda: subjects(mailbox(citizen.email)) == sorted([WELCOME, security]))


def test_x2_welcome_email_on_registration(new_citizen, eventually, mailbox):
    citizen = new_citizen(complete_profile=False)
    (welcome,) = eventually(lambda: mailbox(citizen.email))
    assert welcome["Subject"] == WELCOME
    assert welcome["From"]["Address"].endswith(f"@{MAIL_DOMAIN}")
    (item,) = notifications(citizen)["items"]
    assert item["kind"] == "welcome" and welcome["MessageID"] == f"{item['id']}@{MAIL_DOMAIN}"


# --- a certificate's protocol number that arrived late (SPEC C-4, X-2) -------------------------


def test_c4_x2_late_protocol_number_of_a_certificate_is_notified_and_emailed(
    verified_citizen, eventually, mailbox, registry
):
    citizen = verified_citizen()
    registry("down")
    created = citizen.post("/certificates/civil-registry", json=FAMILY_STATUS)
    assert created.status_code == 201, created.text
    assert created.json()["protocol_status"] == "pending"
    certificate_id = created.json()["id"]
    registry("up")

    told = eventually(
        notified(citizen, "protocol_assigned", f"/certificates/{certificate_id}"), timeout=60
    )
    protocol = citizen.get(f"/certificates/{certificate_id}").json()["protocol"]
    assert protocol is not None
    assert told["title"] == f"Αριθμός πρωτοκόλλου {protocol['number']}"
    assert created.json()["number"] in told["body"]
    eventually(lambda: told["title"] in subjects(mailbox(citizen.email)))
