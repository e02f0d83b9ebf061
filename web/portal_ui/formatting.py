"""Greek formats for the templates (registered as Jinja filters by templating.py).

`{{ value | datetime_gr }}` 26/11/2026 14:05 (Europe/Athens), `{{ value | date_gr }}` 26/11/2026,
`{{ cents | amount }}` 1.234,56 €, `{{ status | status_gr }}`, `{{ kind | kind_gr }}`.
Names not in the tables are shown as they are, so a new status never breaks a page; add it here.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from portal_events.payables import format_euros

ATHENS = ZoneInfo("Europe/Athens")

STATUS_NAMES = {
    # requests
    "submitted": "Υποβλήθηκε",
    "under_review": "Υπό εξέταση",
    "in_progress": "Σε εξέλιξη",
    "completed": "Ολοκληρώθηκε",
    "rejected": "Απορρίφθηκε",
    # protocol
    "requested": "Ζητήθηκε",
    "pending": "Σε αναμονή",
    "assigned": "Αποδόθηκε",
    # certificates, payments, tax
    "issued": "Εκδόθηκε",
    "awaiting_applicant": "Αναμένονται στοιχεία από εσάς",
    # fines (F-5, F-6)
    "payable": "Προς πληρωμή",
    "payment_pending": "Πληρωμή σε εξέλιξη",
    "paid": "Πληρώθηκε",
    "unpaid": "Απλήρωτο",
    "failed": "Απέτυχε",
    "cancelled": "Ακυρώθηκε",
    "accepted": "Έγινε δεκτή",
    "filed": "Καταχωρίστηκε",
    "declared": "Δηλώθηκε",
    "expired": "Έληξε",
}

KIND_NAMES = {
    # requests
    "request": "Αίτημα",
    "complaint": "Καταγγελία",
    "proposal": "Πρόταση",
    # accounts (ID-1)
    "citizen": "Πολίτης",
    "business": "Επιχείρηση",
    "staff": "Υπάλληλος",
}

ROLE_NAMES = {
    "citizen": "Πολίτης",
    "business": "Επιχείρηση",
    "clerk": "Υπάλληλος",
    "auditor": "Ελεγκτής",
    "admin": "Διαχειριστής",
}


def _as_datetime(value: str | datetime) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo("UTC"))


def datetime_gr(value: str | datetime | None) -> str:
    """An API instant (UTC, ISO 8601) as Athens' wall-clock time: 26/11/2026 14:05."""
    if not value:
        return ""
    return _as_datetime(value).astimezone(ATHENS).strftime("%d/%m/%Y %H:%M")


def date_gr(value: str | date | datetime | None) -> str:
    """A date (or the date of an instant, in Athens): 26/11/2026."""
    if not value:
        return ""
    if isinstance(value, datetime) or (isinstance(value, str) and "T" in value):
        return _as_datetime(value).astimezone(ATHENS).strftime("%d/%m/%Y")
    day = date.fromisoformat(value) if isinstance(value, str) else value
    return day.strftime("%d/%m/%Y")


def amount(cents: int | None) -> str:
    """An amount in cents, the Greek way: 123456 -> 1.234,56 €."""
    return "" if cents is None else format_euros(int(cents))


def status_gr(status: str | None) -> str:
    return STATUS_NAMES.get(status or "", status or "")


def kind_gr(kind: str | None) -> str:
    return KIND_NAMES.get(kind or "", kind or "")


def role_gr(role: str | None) -> str:
    return ROLE_NAMES.get(role or "", role or "")


FILTERS = {
    "datetime_gr": datetime_gr,
    "date_gr": date_gr,
    "amount": amount,
    "status_gr": status_gr,
    "kind_gr": kind_gr,
    "role_gr": role_gr,
}
