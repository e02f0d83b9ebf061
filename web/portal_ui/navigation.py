"""The header's links for each role (the first matching role of the user wins).

Each area adds its screens here: (path, Greek label). The current page's link is marked
`aria-current="page"` by base.html.
"""

from __future__ import annotations

PUBLIC = [
    ("/", "Αρχική"),
    ("/portal/anonymous", "Ανώνυμη υποβολή"),
]

BY_ROLE = {
    "citizen": [
        ("/portal/requests", "Τα αιτήματά μου"),
        ("/portal/requests/new", "Νέα Αίτηση"),
        ("/portal/certificates", "Πιστοποιητικά"),
        ("/portal/fines", "Πρόστιμα"),
        ("/portal/notifications", "Ειδοποιήσεις"),
        ("/portal/profile", "Τα στοιχεία μου"),
    ],
    "business": [
        ("/portal/business/warrants", "Εντάλματα πληρωμής"),
        ("/portal/business/declarations", "Δημοτικό τέλος"),
        ("/portal/business/debts", "Οφειλές"),
        ("/portal/requests", "Τα αιτήματά μου"),
        ("/portal/requests/new", "Νέα Αίτηση"),
        ("/portal/certificates", "Πιστοποιητικά"),
        ("/portal/fines", "Πρόστιμα"),
        ("/portal/notifications", "Ειδοποιήσεις"),
        ("/portal/profile", "Τα στοιχεία μου"),
    ],
    "clerk": [
        ("/portal/clerk", "Εκκρεμείς υποθέσεις"),
        ("/portal/users", "Αναζήτηση χρηστών"),
        ("/portal/notifications", "Ειδοποιήσεις"),
        ("/portal/profile", "Ο λογαριασμός μου"),
    ],
    "auditor": [
        ("/portal/audit", "Ιστορικό υπόθεσης"),
        ("/portal/notifications", "Ειδοποιήσεις"),
        ("/portal/profile", "Ο λογαριασμός μου"),
    ],
    "admin": [
        ("/portal/clerk", "Εκκρεμείς υποθέσεις"),
        ("/portal/users", "Χρήστες"),
        ("/portal/admin/staff/new", "Νέος υπάλληλος"),
        ("/portal/admin/departments", "Υπηρεσίες"),
        ("/portal/audit", "Ιστορικό υπόθεσης"),
        ("/portal/notifications", "Ειδοποιήσεις"),
        ("/portal/profile", "Ο λογαριασμός μου"),
    ],
}


def links_for(roles: list[str] | None) -> list[tuple[str, str]]:
    for role in roles or []:
        if role in BY_ROLE:
            return BY_ROLE[role]
    return PUBLIC


# Where a user lands after logging in (unless they were on their way to a page).
HOME_BY_ROLE = {
    "citizen": "/portal/requests",
    "business": "/portal/business/warrants",
    "clerk": "/portal/clerk",
    "auditor": "/portal/audit",
    "admin": "/portal/clerk",
}


def home_for(roles: list[str]) -> str:
    for role in roles:
        if role in HOME_BY_ROLE:
            return HOME_BY_ROLE[role]
    return "/portal/profile"
