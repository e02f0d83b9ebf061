"""Benchmark: from a clerk's "issue" to the certificate being downloadable and to the e-mail
arriving (issue 8, "in the closing note"), against the running stack.

Prints figures; asserts nothing. Usage:
    make bench-certificates                      # defaults; starts the stack when it is not up
    .venv/bin/python bench/certificates.py --count 30
The stack is the one `portal_stack` finds from the environment (PORTAL_STATE_DIR, PORTAL_*_PORT).

Set-up, through the gateway as people do it: an admin makes a civil-registry clerk, a citizen
registers, fills in the profile and is verified in person by the clerk (C-1). Then, one after
another, `--count` times: the citizen applies for a family-status certificate and waits for its
protocol number (C-4); the clock starts; the clerk issues it (`POST /certificates/{id}/issue`,
which makes and stores the PDF); measured are
- "PDF downloadable": until `GET /certificates/{id}/document` answers 200 to the citizen;
- "e-mail arrived": until Mailpit holds the citizen's "issued" e-mail naming the application's
  number (CertificateIssued -> Kafka -> notifications -> its mailer -> SMTP).
"""

from __future__ import annotations

import argparse
import time
import uuid

import httpx
from figures import ms, percentile
from portal_stack import ensure_up

PROFILE = {
    "first_name": "Ελένη",
    "last_name": "Παπαδοπούλου",
    "father_name": "Γεώργιος",
    "date_of_birth": "1985-04-12",
    "afm": "090000045",
    "id_document_number": "ΑΒ123456",
    "address": "Ερμού 10, 10563 Αθήνα",
    "phone": "+302101234567",
}
APPLICATION = {
    "certificate_type": "family_status",
    "details": "Μέτρηση χρόνου έκδοσης.",
    "delivery_method": "email",
}
# The subject of notifications' "certificate issued" e-mail (its templates.toml) begins so.
ISSUED_SUBJECT = "Εκδόθηκε το πιστοποιητικό σας"
POLL_SECONDS = 0.01
TIMEOUT_SECONDS = 60


def until(check, what: str):
    """Polls `check` until it returns something truthy; that value."""
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(POLL_SECONDS)
    raise SystemExit(f"gave up waiting for {what}")


def token(gateway: httpx.Client, email: str, password: str) -> dict[str, str]:
    response = gateway.post("/identity/token", data={"username": email, "password": password})
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def set_up(gateway: httpx.Client, stack) -> tuple[dict[str, str], dict[str, str], str]:
    """(the citizen's headers, the clerk's headers, the citizen's e-mail address)."""
    admin = token(gateway, stack.admin_email, stack.admin_password)
    clerk_email, password = f"clerk-{uuid.uuid4().hex[:10]}@example.gr", "Bench-" + uuid.uuid4().hex
    gateway.post(
        "/identity/staff",
        json={
            "email": clerk_email,
            "password": password,
            "role": "clerk",
            "department": "civil_registry",
        },
        headers=admin,
    ).raise_for_status()
    clerk = token(gateway, clerk_email, password)

    email = f"bench-{uuid.uuid4().hex[:10]}@example.gr"
    registered = gateway.post(
        "/identity/users", json={"kind": "citizen", "email": email, "password": password}
    )
    registered.raise_for_status()
    citizen = token(gateway, email, password)
    gateway.put("/identity/me/profile", json=PROFILE, headers=citizen).raise_for_status()
    gateway.post(
        f"/identity/users/{registered.json()['user_id']}/verification",
        json={"document_type": "identity_card", "document_number": "ΑΒ123456"},
        headers=clerk,
    ).raise_for_status()
    return citizen, clerk, email


def apply(gateway: httpx.Client, citizen: dict[str, str]) -> dict:
    """A new application with its protocol number (waits for identity's verification to reach
    the certificates service the first time)."""

    def applied():
        response = gateway.post("/certificates/civil-registry", json=APPLICATION, headers=citizen)
        if response.status_code == 403:
            return None
        response.raise_for_status()
        return response.json()

    application = until(applied, "the certificates service to accept the verified citizen")
    until(
        lambda: (
            gateway.get(f"/certificates/{application['id']}", headers=citizen).json()[
                "protocol_status"
            ]
            == "assigned"
        ),
        "the protocol number",
    )
    return application


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=30, help="certificates issued, in a row")
    args = parser.parse_args()

    stack = ensure_up()
    with (
        httpx.Client(base_url=stack.gateway_url, timeout=30) as gateway,
        httpx.Client(base_url=stack.mailpit_url, timeout=10) as mailpit,
    ):
        citizen, clerk, email = set_up(gateway, stack)

        def e_mail_naming(number: str) -> bool:
            """Whether the "issued" e-mail of application `number` is in the mailbox (the
            protocol number's e-mail names the application too: the subject tells them apart)."""
            query = f'to:{email} subject:"{ISSUED_SUBJECT}" "{number}"'
            found = mailpit.get("/api/v1/search", params={"query": query})
            found.raise_for_status()
            return found.json()["messages_count"] > 0

        downloadable, mailed, issue_calls = [], [], []
        for _ in range(args.count):
            application = apply(gateway, citizen)
            started = time.perf_counter()
            issued = gateway.post(
                f"/certificates/{application['id']}/issue", json={}, headers=clerk
            )
            issued.raise_for_status()
            issue_calls.append(time.perf_counter() - started)
            document = f"/certificates/{application['id']}/document"
            until(
                lambda document=document: gateway.get(document, headers=citizen).status_code == 200,
                "the document",
            )
            downloadable.append(time.perf_counter() - started)
            number = application["number"]
            until(lambda number=number: e_mail_naming(number), "the e-mail")
            mailed.append(time.perf_counter() - started)

    print(f"certificates issued one after another: {args.count}")
    for label, values in (
        ("issue call answered", issue_calls),
        ("PDF downloadable", downloadable),
        ("e-mail in Mailpit", mailed),
    ):
        print(
            f"  {label:<20} p50 {ms(percentile(values, 50))}   p99 {ms(percentile(values, 99))}"
            f"   max {ms(max(values))}"
        )


if __name__ == "__main__":
    main()
