"""The auditors' screens (X-1): a case's history across services as a timeline (who did what,
when, with what data), and the case's state at a chosen moment, replayed by the service that
owns it. Found by the case's id or its number (2026/000042). Auditors and admins only; every
read is recorded by the audit service in its trail.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from portal_ui.errors import ApiError
from portal_ui.formatting import ATHENS, role_gr, status_gr
from portal_ui.forms import FieldError, FormErrors, form_errors
from portal_ui.gateway import Api
from portal_ui.sessions import User, require_role
from portal_ui.templating import render

router = APIRouter()

Auditor = Annotated[User, Depends(require_role("auditor", "admin"))]

# An id or a number: words joined by slashes (never "..": the case is part of an API path).
CASE_PATTERN = re.compile(r"[\w-]+(?:/[\w-]+)*")
CASE_LABELS = {"case": "Αριθμός ή αναγνωριστικό υπόθεσης"}
STATE_LABELS = {"at": "Ημερομηνία και ώρα"}

SERVICES = {
    "identity": "Χρήστες",
    "requests": "Αιτήματα",
    "protocol": "Πρωτόκολλο",
    "certificates": "Πιστοποιητικά",
    "fines": "Κλήσεις",
    "payments": "Πληρωμές",
    "notifications": "Ειδοποιήσεις",
    "business": "Επιχειρήσεις",
    "backoffice": "Εργασίες υπηρεσιών",
    "audit": "Έλεγχος",
}
# Events' stable names in Greek: per service where the same name means different things.
EVENT_NAMES = {
    ("requests", "Submitted"): "Υποβολή αιτήματος",
    ("requests", "Replied"): "Απάντηση του Δήμου",
    ("requests", "StatusChanged"): "Αλλαγή κατάστασης",
    ("requests", "ProtocolRequested"): "Αίτηση πρωτοκόλλησης",
    ("requests", "ProtocolPending"): "Αναμονή πρωτοκόλλου",
    ("requests", "ProtocolAssigned"): "Καταχώριση αριθμού πρωτοκόλλου",
    ("protocol", "Requested"): "Αίτηση στο πρωτόκολλο",
    ("protocol", "Assigned"): "Απόδοση αριθμού πρωτοκόλλου",
    ("protocol", "AttemptFailed"): "Αποτυχημένη προσπάθεια πρωτοκόλλησης",
    ("notifications", "Created"): "Ειδοποίηση",
    ("notifications", "EmailSent"): "Αποστολή e-mail",
    ("notifications", "EmailAttemptFailed"): "Αποτυχημένη αποστολή e-mail",
    ("notifications", "EmailGivenUp"): "Εγκατάλειψη αποστολής e-mail",
    ("certificates", "Issued"): "Έκδοση πιστοποιητικού",
    ("certificates", "Rejected"): "Απόρριψη αίτησης",
    ("certificates", "Replied"): "Απάντηση του Δήμου",
    ("certificates", "StatusChanged"): "Αλλαγή κατάστασης",
}
# The fields of a replayed state, in Greek (others are shown by their name).
STATE_FIELDS = {
    "number": "Α.Α.",
    "kind": "Είδος",
    "subject": "Θέμα",
    "text": "Κείμενο",
    "desired_action": "Επιθυμητή ενέργεια",
    "category": "Κατηγορία",
    "department": "Υπηρεσία",
    "status": "Κατάσταση",
    "reply": "Απάντηση",
    "protocol_status": "Κατάσταση πρωτοκόλλησης",
    "protocol_number": "Αριθμός πρωτοκόλλου",
    "protocol_date": "Ημερομηνία πρωτοκόλλου",
    "submitted_by": "Υποβλήθηκε από",
    "created_on": "Δημιουργήθηκε",
    "modified_on": "Τελευταία μεταβολή",
}
HIDDEN_DATA = {"originator_topic"}  # the library's bookkeeping, not the event's facts


def moment_gr(value: str | datetime | None) -> str:
    """An instant in Athens' time to the second: 26/11/2026 14:05:09 (auditors need seconds)."""
    if not value:
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(ATHENS).strftime("%d/%m/%Y %H:%M:%S")


def parse_moment(text: str) -> datetime | None:
    """The form's date-time (Athens' wall-clock time, as `datetime-local` sends it) or an
    instant with its offset (the timeline's links); None if it is neither."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=ATHENS)


def shown(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "Ναι" if value else "Όχι"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def actor(who: dict[str, str]) -> str:
    """Who did it: a user's role and id, an anonymous visitor, or a service on its own."""
    if who["role"] == "system":
        return f"την υπηρεσία {who['id']}"
    if who["role"] == "anonymous":
        return "ανώνυμο χρήστη"
    return f"{role_gr(who['role'])} ({who['id']})"


def case_path(case: str, *suffix: str) -> str:
    return "/audit/cases/" + quote(case, safe="/") + "".join(suffix)


def timeline(history: dict[str, Any], case: str) -> list[dict[str, Any]]:
    return [
        {
            "title": EVENT_NAMES.get((entry["service"], entry["name"]), entry["name"]),
            "name": entry["name"],
            "service": SERVICES.get(entry["service"], entry["service"]),
            "aggregate": f"{entry['aggregate_type']} {entry['aggregate_id']}, έκδοση "
            f"{entry['version']}",
            "when": moment_gr(entry["occurred_at"]),
            "actor": actor(entry["actor"]),
            "data": [
                (key, shown(value))
                for key, value in entry["data"].items()
                if key not in HIDDEN_DATA
            ],
            "masked": entry.get("masked") or [],
            "state_link": "/portal/audit/case?"
            + urlencode({"case": case, "at": entry["occurred_at"]})
            if entry["occurred_at"] and entry["aggregate_id"] == history["root"]["aggregate_id"]
            else None,
        }
        for entry in history["entries"]
    ]


def value_of(key: str, value: Any) -> str:
    if key == "status":
        return status_gr(value)
    if key.endswith(("_on", "_at")) and isinstance(value, str):
        return moment_gr(value)
    return shown(value)


def state_rows(state: dict[str, Any]) -> list[tuple[str, str]]:
    def label(key: str) -> str:
        return f"{STATE_FIELDS[key]} ({key})" if key in STATE_FIELDS else key

    return [(label(key), value_of(key, value)) for key, value in state.items()]


@router.get("/portal/audit")
async def find_case(request: Request, user: Auditor) -> Response:
    return await render(
        request, "audit/search.html", title="Ιστορικό υπόθεσης", values={}, errors=None
    )


@router.get("/portal/audit/case")
async def case_history(
    request: Request, api: Api, user: Auditor, case: str = "", at: str | None = None
) -> Response:
    case = case.strip()
    if not CASE_PATTERN.fullmatch(case):
        return await not_found(
            request,
            case,
            "Γράψτε τον αριθμό (π.χ. 2026/000042) ή το αναγνωριστικό της υπόθεσης.",
            status_code=422,
        )
    try:
        history = await api.get(case_path(case))
    except ApiError as error:
        if error.status != 404:
            raise
        return await not_found(
            request, case, "Δεν βρέθηκε υπόθεση με αυτόν τον αριθμό ή αναγνωριστικό."
        )

    state, errors, moment = None, None, parse_moment(at) if at else None
    if at is not None:
        if moment is None:
            errors = FormErrors(
                [FieldError("at", "Γράψτε μια έγκυρη ημερομηνία και ώρα.", STATE_LABELS["at"])]
            )
        else:
            try:
                state = await api.get(case_path(case, "/state"), {"at": moment.isoformat()})
            except ApiError as error:
                if error.status not in (404, 422):
                    raise
                errors = (
                    FormErrors(
                        [
                            FieldError(
                                "at",
                                "Η υπόθεση δεν υπήρχε ακόμη αυτή τη στιγμή.",
                                STATE_LABELS["at"],
                            )
                        ]
                    )
                    if error.status == 404
                    else form_errors(error, STATE_LABELS)
                )
    return await render(
        request,
        "audit/case.html",
        title=f"Ιστορικό υπόθεσης {case}",
        case=case,
        root=history["root"],
        root_service=SERVICES.get(history["root"]["service"], history["root"]["service"]),
        entries=timeline(history, case),
        state=state,
        state_rows=state_rows(state["state"]) if state else [],
        state_at=moment_gr(moment) if moment else "",
        values={
            "at": (moment or datetime.now(ATHENS)).astimezone(ATHENS).strftime("%Y-%m-%dT%H:%M:%S")
        },
        errors=errors,
        status_code=422 if errors else 200,
    )


async def not_found(request: Request, case: str, message: str, status_code: int = 404) -> Response:
    return await render(
        request,
        "audit/search.html",
        title="Ιστορικό υπόθεσης",
        values={"case": case},
        errors=FormErrors([FieldError("case", message, CASE_LABELS["case"])]),
        status_code=status_code,
    )
