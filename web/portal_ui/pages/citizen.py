"""Citizens' and businesses' requests, complaints and proposals: the list with its statuses,
«Νέα Αίτηση», and one request with the municipality's reply, its protocol number and its
history, refreshed by «Ενημέρωση» (R-2, R-4, R-5)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from portal_ui.errors import ApiError
from portal_ui.forms import form_errors, form_values, payload
from portal_ui.gateway import Api
from portal_ui.pages.public import REQUEST_KINDS, redirect
from portal_ui.sessions import CheckedForm, User, require_role
from portal_ui.templating import render

router = APIRouter()

Applicant = Annotated[User, Depends(require_role("citizen", "business"))]

REQUEST_FIELDS = {
    "kind": "Είδος",
    "subject": "Θέμα",
    "text": "Κείμενο",
    "desired_action": "Επιθυμητή ενέργεια",
    "category": "Κατηγορία",
}

# The requests service's categories (its routing.toml): each decides the competent department.
CATEGORIES = [
    ("roads", "Οδοποιία"),
    ("street_lighting", "Ηλεκτροφωτισμός"),
    ("buildings", "Κτίρια και πολεοδομία"),
    ("cleanliness", "Καθαριότητα"),
    ("waste_collection", "Αποκομιδή απορριμμάτων"),
    ("green_spaces", "Πράσινο"),
    ("animals", "Αδέσποτα ζώα"),
    ("traffic", "Κυκλοφορία"),
    ("parking", "Στάθμευση"),
    ("social_services", "Κοινωνικές υπηρεσίες"),
    ("general", "Γενικά θέματα"),
]

HISTORY_EVENTS = {
    "Submitted": "Υποβολή",
    "StatusChanged": "Αλλαγή κατάστασης",
    "Replied": "Απάντηση του Δήμου",
    "ProtocolRequested": "Αίτηση πρωτοκόλλησης",
    "ProtocolPending": "Αναμονή πρωτοκόλλου",
    "ProtocolAssigned": "Πρωτοκολλήθηκε",
}


@router.get("/portal/requests")
async def my_requests(request: Request, api: Api, user: Applicant) -> Response:
    page = await api.get("/requests", params={"limit": 100})
    return await render(
        request,
        "pages/requests.html",
        title="Τα αιτήματά μου",
        items=page["items"],
        total=page["total"],
    )


@router.get("/portal/requests/new")
async def new_request_form(request: Request, user: Applicant) -> Response:
    return await render(
        request,
        "pages/request_new.html",
        title="Νέα Αίτηση",
        values={"kind": "request", "idempotency_key": str(uuid.uuid4())},
        errors=None,
        kinds=REQUEST_KINDS,
        categories=CATEGORIES,
    )


@router.post("/portal/requests/new")
async def submit_request(
    request: Request, api: Api, user: Applicant, form: CheckedForm
) -> Response:
    values = form_values(form, REQUEST_FIELDS)
    key = str(form.get("idempotency_key") or "") or None  # a double click records it once
    try:
        created = await api.post(
            "/requests",
            json=payload(values, keep_empty=("kind", "subject", "text")),
            idempotency_key=key,
        )
    except ApiError as error:
        if not error.is_refusal:
            raise
        return await render(
            request,
            "pages/request_new.html",
            title="Νέα Αίτηση",
            values=values | {"idempotency_key": key or str(uuid.uuid4())},
            errors=form_errors(error, REQUEST_FIELDS),
            kinds=REQUEST_KINDS,
            categories=CATEGORIES,
            status_code=422,
        )
    request.state.session.flash(f"Η υποβολή σας καταχωρήθηκε με αριθμό {created['number']}.")
    return redirect(f"/portal/requests/{created['id']}")


@router.get("/portal/requests/{request_id}")
async def request_detail(
    request: Request, api: Api, user: Applicant, request_id: uuid.UUID
) -> Response:
    case = await api.get(f"/requests/{request_id}")  # another user's: the API's 404 -> 404 page
    return await render(
        request,
        "pages/request_detail.html",
        title=f"{case['subject']}",
        case=case,
        category_names=dict(CATEGORIES),
        history_events=HISTORY_EVENTS,
    )
