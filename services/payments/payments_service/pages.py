"""The small Greek HTML pages a payer's browser sees (checkout problems, the result).

Under the kit's CSP for HTML: no script at all; the one inline style is admitted by its hash.
A page still waiting for the bank's word reloads itself (`<meta http-equiv="refresh">`, no
script). Amounts are shown in Greek format (`1.234,56 €`); every value is escaped.
"""

from __future__ import annotations

import base64
import hashlib
import html

from fastapi.responses import HTMLResponse
from portal_events.payables import format_euros
from portal_web.security_headers import html_policy

from payments_service.domainmodel import AMOUNT_MISMATCH, ANOTHER_PAYMENT_OPEN, Payment

_STYLE = (
    "body{font-family:sans-serif;max-width:34rem;margin:2rem auto;padding:0 1rem;"
    "line-height:1.5}.ok{color:#0a6b2d}.fail{color:#b00020}"
)
_STYLE_HASH = "sha256-" + base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()
PAGE_POLICY = html_policy(inline_styles=(f"'{_STYLE_HASH}'",))

FAILURE_REASONS = {
    "declined": "Η τράπεζα απέρριψε την κάρτα.",
    "insufficient_funds": "Το διαθέσιμο υπόλοιπο δεν επαρκεί.",
    ANOTHER_PAYMENT_OPEN: "Υπάρχει ήδη πληρωμή σε εξέλιξη για την ίδια οφειλή.",
    AMOUNT_MISMATCH: "Η τράπεζα χρέωσε άλλο ποσό· η χρέωση θα επιστραφεί.",
}


def page(
    title: str, body: str, *, status: int = 200, refresh_seconds: int | None = None
) -> HTMLResponse:
    refresh = f'<meta http-equiv="refresh" content="{refresh_seconds}">' if refresh_seconds else ""
    document = (
        '<!doctype html><html lang="el"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"{refresh}<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(
        document,
        status_code=status,
        headers={"Content-Security-Policy": PAGE_POLICY, "Cache-Control": "no-store"},
    )


# Where the portal's own pages show what a payment paid (the payer's way back from the result);
# the return page is served at the portal's address, so the links are paths.
PAYABLE_PAGES = {
    "fine": "/portal/fines/{id}",
    "tax_declaration": "/portal/business/declarations/{id}",
    "tax_debt": "/portal/business/debts/{id}",
}


def back_to_the_portal(payment: Payment) -> str:
    """A link to what was paid, on the portal's pages."""
    target = PAYABLE_PAGES.get(payment.payable_type, "/")
    href = html.escape(target.format(id=payment.payable_id))
    return f'<p><a href="{href}">Επιστροφή στην Πύλη</a></p>'


def result_page(payment: Payment) -> HTMLResponse:
    """What became of the payment, with the way back to it on the portal; while still open, a
    page that looks again shortly."""
    what = (
        f"<p>{html.escape(payment.description)}</p>"
        f"<p>Ποσό: <strong>{html.escape(format_euros(payment.amount))}</strong></p>"
    )
    back = back_to_the_portal(payment)
    if payment.status == "completed":
        return page(
            "Η πληρωμή ολοκληρώθηκε",
            f'<p class="ok">Η πληρωμή σας έγινε δεκτή.</p>{what}'
            f"<p>Κωδικός πληρωμής: {payment.payment_id}</p>{back}",
        )
    if payment.status == "failed":
        reason = FAILURE_REASONS.get(payment.failure_reason or "", "Η πληρωμή δεν έγινε.")
        return page(
            "Η πληρωμή δεν ολοκληρώθηκε",
            f'<p class="fail">{html.escape(reason)}</p>{what}'
            f"<p>Δεν έγινε χρέωση. Μπορείτε να δοκιμάσετε ξανά από την οφειλή σας.</p>{back}",
        )
    if payment.status == "expired":
        return page(
            "Η πληρωμή έληξε",
            f'<p class="fail">Η πληρωμή δεν ολοκληρώθηκε εγκαίρως και ακυρώθηκε.</p>{what}'
            "<p>Δεν έγινε χρέωση. Μπορείτε να ξεκινήσετε νέα πληρωμή από την οφειλή σας.</p>"
            f"{back}",
        )
    return page(
        "Αναμένεται επιβεβαίωση",
        f"<p>Περιμένουμε την επιβεβαίωση της τράπεζας· η σελίδα θα ανανεωθεί μόνη της.</p>{what}",
        refresh_seconds=3,
    )


def not_found_page() -> HTMLResponse:
    return page("Δεν βρέθηκε", "<p>Η πληρωμή δεν βρέθηκε.</p>", status=404)


def bank_unavailable_page() -> HTMLResponse:
    return page(
        "Η τράπεζα δεν είναι διαθέσιμη",
        "<p>Η σελίδα πληρωμής της τράπεζας δεν είναι διαθέσιμη αυτή τη στιγμή. Δεν έγινε "
        "καμία χρέωση· δοκιμάστε ξανά σε λίγα λεπτά.</p>",
        status=503,
    )
