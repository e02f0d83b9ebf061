"""The clerks' back office: the department's worklist with its deadlines (X-3), a case page per
kind to work it (requests: R-3, R-4; certificate applications: C-5), registering a fine ahead of
the citizen (F-4, municipal police), and finding a user to verify them in person (ID-3).

Admins may do all of it, in every department (and see the account actions of admin.py on the
user page). Which cases a clerk may open is the APIs' decision: another department's case is
their 404, shown as the 404 page.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response

from portal_ui.errors import ApiError, RoleForbidden
from portal_ui.formatting import status_gr
from portal_ui.forms import FormErrors, form_errors, form_values, payload
from portal_ui.gateway import Api
from portal_ui.pages.citizen import CATEGORIES, HISTORY_EVENTS
from portal_ui.pages.public import redirect
from portal_ui.sessions import CheckedForm, User, require_role
from portal_ui.templating import render

router = APIRouter()

Staff = Annotated[User, Depends(require_role("clerk", "admin"))]

MUNICIPAL_POLICE = "municipal_police"  # the department that records fines (F-4)
WORKLIST_PAGE_SIZE = 50

# The worklist's kinds of case (GET /backoffice/worklist `kind`), and the portal page each is
# worked on; kinds without a page here are shown but worked elsewhere.
CASE_KINDS = [
    ("request", "Αιτήματα, καταγγελίες, προτάσεις"),
    ("certificate", "Πιστοποιητικά"),
    ("protocol_registration", "Πρωτοκολλήσεις"),
    ("fine", "Κλήσεις"),
    ("tax_declaration", "Δηλώσεις τέλους"),
]
CASE_KIND_NAMES = {  # one case of each kind, for the worklist's rows
    "request": "Αίτημα",
    "certificate": "Πιστοποιητικό",
    "protocol_registration": "Πρωτοκόλληση",
    "fine": "Κλήση",
    "tax_declaration": "Δήλωση τέλους",
}
CASE_PAGES = {"request": "/portal/clerk/requests/", "certificate": "/portal/clerk/certificates/"}
WORKLIST_STATUSES = [
    "submitted",
    "under_review",
    "in_progress",
    "awaiting_applicant",
    "requested",
    "pending",
    "recorded",
    "accepted",
    "completed",
    "issued",
    "rejected",
    "assigned",
    "paid",
    "filed",
]
OVERDUE_CHOICES = [("true", "Μόνο εκπρόθεσμες"), ("false", "Μόνο εμπρόθεσμες")]

# A request's next statuses, as the requests service allows them; the API has the last
# word (409 for anything else, shown on the form).
REQUEST_NEXT_STATUSES = {
    "submitted": ["under_review", "in_progress", "rejected"],
    "under_review": ["in_progress", "completed", "rejected"],
    "in_progress": ["completed", "rejected"],
}
# A certificate application's statuses a clerk sets by hand (issue and reject have their own
# forms; C-5).
CERTIFICATE_STATUSES = ["under_review", "awaiting_applicant"]
CERTIFICATE_CLOSED = {"issued", "rejected"}
CERTIFICATE_HISTORY_EVENTS = {
    "Applied": "Υποβολή αίτησης",
    "Submitted": "Υποβολή αίτησης",
    "StatusChanged": "Αλλαγή κατάστασης",
    "Replied": "Απάντηση του Δήμου",
    "Issued": "Έκδοση",
    "Rejected": "Απόρριψη",
    "ProtocolRequested": "Αίτηση πρωτοκόλλησης",
    "ProtocolPending": "Αναμονή πρωτοκόλλου",
    "ProtocolAssigned": "Πρωτοκολλήθηκε",
}

# Statuses as staff read them, where the citizens' wording (formatting.STATUS_NAMES, written to
# the applicant) would mislead.
STAFF_STATUS_NAMES = {
    "awaiting_applicant": "Αναμονή στοιχείων από τον αιτούντα",
    "requested": "Ζητήθηκε",
    "recorded": "Καταχωρίστηκε",
    "pending": "Σε αναμονή",
}


def staff_status(status: str | None) -> str:
    return STAFF_STATUS_NAMES.get(status or "") or status_gr(status)


REPLY_FIELDS = {"text": "Απάντηση"}
STATUS_FIELDS = {"status": "Νέα κατάσταση", "note": "Αιτιολογία"}
REJECT_FIELDS = {"reason": "Λόγος απόρριψης"}
FINE_FIELDS = {
    "fine_type": "Είδος κλήσης",
    "fine_number": "Αριθμός κλήσης",
    "plate": "Αριθμός κυκλοφορίας",
    "issued_at": "Ημερομηνία και ώρα βεβαίωσης",
}
VERIFICATION_FIELDS = {
    "document_type": "Έγγραφο που επιδείχθηκε",
    "document_number": "Αριθμός εγγράφου",
}
REVOKE_FIELDS = {"reason": "Λόγος ανάκλησης"}
DOCUMENT_TYPES = [
    ("identity_card", "Δελτίο ταυτότητας"),
    ("passport", "Διαβατήριο"),
    ("company_documents", "Έγγραφα εκπροσώπησης επιχείρησης"),
]


async def act(
    request: Request,
    call: Callable[[], Awaitable[Any]],
    *,
    labels: dict[str, str],
    refused: Callable[[FormErrors], Awaitable[Response]],
    done: str | Callable[[Any], str],
    message: str,
) -> Response:
    """Make one API call for a form: on success, a banner and the page `done` (303; a function
    of the API's answer, or a path); refused, the form again with its errors (nothing was
    recorded); any other failure, the error pages."""
    try:
        answer = await call()
    except ApiError as error:
        if not error.is_refusal:
            raise
        return await refused(form_errors(error, labels))
    request.state.session.flash(message)
    return redirect(done(answer) if callable(done) else done)


async def department_names(api: Api) -> dict[str, str]:
    page = await api.get("/identity/departments", params={"limit": 100})
    return {item["code"]: item["name_el"] for item in page["items"]}


# --- the worklist (X-3) -----------------------------------------------------------------------


@router.get("/portal/clerk")
async def worklist(
    request: Request,
    api: Api,
    user: Staff,
    kind: str | None = None,
    status: str | None = None,
    overdue: str | None = None,
    department: str | None = None,
    include_closed: bool = False,
    offset: int = 0,
) -> Response:
    filters = {
        "kind": kind or None,
        "status": status or None,
        "overdue": overdue or None,
        # a clerk always sees their own department's (the API's rule); admins choose
        "department": (department or None) if user.has_role("admin") else None,
        "include_closed": "true" if include_closed else None,
    }
    errors, page, overdue_total = None, {"items": [], "total": 0}, None
    try:
        page = await api.get(
            "/backoffice/worklist",
            params=filters | {"limit": WORKLIST_PAGE_SIZE, "offset": max(offset, 0)},
        )
        late = await api.get(
            "/backoffice/worklist",
            params={"department": filters["department"], "overdue": "true", "limit": 1},
        )
        overdue_total = late["total"]
    except ApiError as error:
        if not error.is_refusal:
            raise
        errors = form_errors(error, {"kind": "Είδος", "status": "Κατάσταση"})
    departments = await department_names(api)
    items = [item | {"page": page_of(item)} for item in page["items"]]
    return await render(
        request,
        "clerk/worklist.html",
        staff_status=staff_status,
        title="Εκκρεμείς υποθέσεις",
        items=items,
        total=page["total"],
        overdue_total=overdue_total,
        paging=paging(request, max(offset, 0), page["total"]),
        values={k: v or "" for k, v in filters.items()} | {"overdue": overdue or ""},
        errors=errors,
        kinds=CASE_KINDS,
        kind_names=CASE_KIND_NAMES,
        statuses=[(name, staff_status(name)) for name in WORKLIST_STATUSES],
        overdue_choices=OVERDUE_CHOICES,
        departments=departments,
        department_name=departments.get(user.department or "", user.department),
        may_choose_department=user.has_role("admin"),
        may_record_fines=may_record_fines(user),
        status_code=422 if errors else 200,
    )


def page_of(item: dict[str, Any]) -> str | None:
    prefix = CASE_PAGES.get(item["kind"])
    return prefix + str(item["id"]) if prefix else None


def paging(request: Request, offset: int, total: int) -> dict[str, str | int | None]:
    """Links to the worklist's first, previous, next and last pages, keeping the filters."""

    def at(new_offset: int) -> str:
        url = request.url.include_query_params(offset=new_offset)
        return f"{url.path}?{url.query}"

    last = max((total - 1) // WORKLIST_PAGE_SIZE * WORKLIST_PAGE_SIZE, 0)
    return {
        "page": offset // WORKLIST_PAGE_SIZE + 1,
        "pages": last // WORKLIST_PAGE_SIZE + 1,
        "first": at(0) if offset > 0 else None,
        "previous": at(max(offset - WORKLIST_PAGE_SIZE, 0)) if offset > 0 else None,
        "next": at(offset + WORKLIST_PAGE_SIZE) if offset + WORKLIST_PAGE_SIZE < total else None,
        "last": at(last) if offset < last else None,
    }


# --- a request (R-3, R-4) ---------------------------------------------------------------------


async def render_request_case(
    request: Request,
    api: Api,
    request_id: uuid.UUID,
    *,
    form: str | None = None,
    values: dict[str, str] | None = None,
    errors: FormErrors | None = None,
) -> Response:
    case = await api.get(f"/requests/{request_id}")  # another department's: 404
    return await render(
        request,
        "clerk/request.html",
        staff_status=staff_status,
        title=f"{case['number']}: {case['subject']}",
        case=case,
        next_statuses=[(s, staff_status(s)) for s in REQUEST_NEXT_STATUSES.get(case["status"], [])],
        category_names=dict(CATEGORIES),
        departments=await department_names(api),
        history_events=HISTORY_EVENTS,
        form=form,
        values=(values or {}) | {"idempotency_key": str(uuid.uuid4())},
        errors=errors,
        status_code=422 if errors else 200,
    )


@router.get("/portal/clerk/requests/{request_id}")
async def request_case(request: Request, api: Api, user: Staff, request_id: uuid.UUID) -> Response:
    return await render_request_case(request, api, request_id)


@router.post("/portal/clerk/requests/{request_id}/reply")
async def reply_to_request(
    request: Request, api: Api, user: Staff, form: CheckedForm, request_id: uuid.UUID
) -> Response:
    values = form_values(form, REPLY_FIELDS)
    key = str(form.get("idempotency_key") or "") or None  # a double click replies once
    return await act(
        request,
        lambda: api.post(
            f"/requests/{request_id}/reply",
            json=payload(values, keep_empty=("text",)),
            idempotency_key=key,
        ),
        labels=REPLY_FIELDS,
        refused=lambda errors: render_request_case(
            request, api, request_id, form="reply", values=values, errors=errors
        ),
        done=f"/portal/clerk/requests/{request_id}",
        message="Η απάντηση στάλθηκε στον αιτούντα.",
    )


@router.post("/portal/clerk/requests/{request_id}/status")
async def change_request_status(
    request: Request, api: Api, user: Staff, form: CheckedForm, request_id: uuid.UUID
) -> Response:
    values = form_values(form, STATUS_FIELDS)
    return await act(
        request,
        lambda: api.post(
            f"/requests/{request_id}/status", json=payload(values, keep_empty=("status",))
        ),
        labels=STATUS_FIELDS,
        refused=lambda errors: render_request_case(
            request, api, request_id, form="status", values=values, errors=errors
        ),
        done=f"/portal/clerk/requests/{request_id}",
        message="Η κατάσταση άλλαξε.",
    )


@router.post("/portal/clerk/requests/{request_id}/protocol")
async def ask_for_protocol(
    request: Request, api: Api, user: Staff, form: CheckedForm, request_id: uuid.UUID
) -> Response:
    return await act(
        request,
        lambda: api.post(f"/requests/{request_id}/protocol"),
        labels={},
        refused=lambda errors: render_request_case(
            request, api, request_id, form="protocol", errors=errors
        ),
        done=f"/portal/clerk/requests/{request_id}",
        message="Ζητήθηκε αριθμός πρωτοκόλλου· θα εμφανιστεί μόλις τον αποδώσει το πρωτόκολλο.",
    )


# --- a certificate application (C-5) ----------------------------------------------------------


async def render_certificate_case(
    request: Request,
    api: Api,
    certificate_id: uuid.UUID,
    *,
    form: str | None = None,
    values: dict[str, str] | None = None,
    errors: FormErrors | None = None,
) -> Response:
    case = await api.get(f"/certificates/{certificate_id}")  # another department's: 404
    return await render(
        request,
        "clerk/certificate.html",
        staff_status=staff_status,
        title=f"{case['number']}: {case['title']}",
        case=case,
        statuses=[(s, staff_status(s)) for s in CERTIFICATE_STATUSES if s != case["status"]],
        is_open=case["status"] not in CERTIFICATE_CLOSED,
        delivery_methods={
            method["code"]: method["name"]
            for method in (await api.get("/certificates/delivery-methods"))["items"]
        },
        departments=await department_names(api),
        history_events=CERTIFICATE_HISTORY_EVENTS,
        form=form,
        values=(values or {}) | {"idempotency_key": str(uuid.uuid4())},
        errors=errors,
        status_code=422 if errors else 200,
    )


@router.get("/portal/clerk/certificates/{certificate_id}")
async def certificate_case(
    request: Request, api: Api, user: Staff, certificate_id: uuid.UUID
) -> Response:
    return await render_certificate_case(request, api, certificate_id)


def certificate_action(action: str, labels: dict[str, str], message: str, *required: str):
    """A POST route for one of a certificate application's forms (status, reply, issue, reject)."""

    async def route(
        request: Request, api: Api, user: Staff, form: CheckedForm, certificate_id: uuid.UUID
    ) -> Response:
        values = form_values(form, labels)
        key = str(form.get("idempotency_key") or "") or None
        body = payload(values, keep_empty=required)
        path = f"/certificates/{certificate_id}/{action}"
        return await act(
            request,
            lambda: api.post(path, json=body, idempotency_key=key if action == "reply" else None),
            labels=labels,
            refused=lambda errors: render_certificate_case(
                request, api, certificate_id, form=action, values=values, errors=errors
            ),
            done=f"/portal/clerk/certificates/{certificate_id}",
            message=message,
        )

    router.add_api_route(
        f"/portal/clerk/certificates/{{certificate_id}}/{action}", route, methods=["POST"]
    )


certificate_action("status", STATUS_FIELDS, "Η κατάσταση άλλαξε.", "status")
certificate_action("reply", REPLY_FIELDS, "Η απάντηση στάλθηκε στον αιτούντα.", "text")
certificate_action("issue", {}, "Το πιστοποιητικό εκδόθηκε.")
certificate_action("reject", REJECT_FIELDS, "Η αίτηση απορρίφθηκε.", "reason")


# --- registering a fine (F-4) -----------------------------------------------------------------


def may_record_fines(user: User) -> bool:
    return user.has_role("admin") or user.department == MUNICIPAL_POLICE


async def render_fine_form(
    request: Request, api: Api, values: dict[str, str], errors: FormErrors | None = None
) -> Response:
    catalogue = await api.get("/fines/types")
    return await render(
        request,
        "clerk/fine_new.html",
        title="Καταχώριση κλήσης",
        fine_types=[(t["code"], f"{t['code']}: {t['description']}") for t in catalogue["types"]],
        values=values,
        errors=errors,
        status_code=422 if errors else 200,
    )


@router.get("/portal/clerk/fines/new")
async def new_fine_form(request: Request, api: Api, user: Staff) -> Response:
    if not may_record_fines(user):
        raise RoleForbidden()
    return await render_fine_form(request, api, {})


@router.post("/portal/clerk/fines/new")
async def record_fine(request: Request, api: Api, user: Staff, form: CheckedForm) -> Response:
    if not may_record_fines(user):
        raise RoleForbidden()
    values = form_values(form, FINE_FIELDS)
    return await act(
        request,
        lambda: api.post("/fines", json=payload(values, keep_empty=tuple(FINE_FIELDS))),
        labels=FINE_FIELDS,
        refused=lambda errors: render_fine_form(request, api, values, errors),
        done="/portal/clerk/fines/new",
        message=f"Η κλήση με αριθμό {values['fine_number']} καταχωρήθηκε.",
    )


# --- users: search, in-person verification (ID-3) ---------------------------------------------


@router.get("/portal/users")
async def user_search(request: Request, api: Api, user: Staff, q: str | None = None) -> Response:
    query = (q or "").strip()
    page = await api.get("/identity/users", params={"q": query, "limit": 50}) if query else None
    return await render(
        request,
        "clerk/users.html",
        title="Αναζήτηση χρηστών",
        q=query,
        items=page["items"] if page else None,
        total=page["total"] if page else 0,
    )


async def find_user(api: Api, user_id: uuid.UUID, email: str) -> dict[str, Any]:
    """The account `user_id`, found through the user search by its e-mail (identity has no
    per-user route for staff; the search answers the same summary); else the 404 page."""
    page = await api.get("/identity/users", params={"q": email, "limit": 100}) if email else None
    for account in page["items"] if page else []:
        if account["user_id"] == str(user_id):
            return account
    raise HTTPException(status_code=404)


async def render_user(
    request: Request,
    api: Api,
    user_id: uuid.UUID,
    email: str,
    *,
    form: str | None = None,
    values: dict[str, str] | None = None,
    errors: FormErrors | None = None,
) -> Response:
    account = await find_user(api, user_id, email)
    viewer = request.state.session.user
    return await render(
        request,
        "clerk/user.html",
        title=account.get("display_name") or account["email"],
        account=account,
        departments=await department_names(api),
        document_types=DOCUMENT_TYPES,
        document_names=dict(DOCUMENT_TYPES),
        is_admin=viewer.has_role("admin"),
        form=form,
        values=values or {},
        errors=errors,
        status_code=422 if errors else 200,
    )


@router.get("/portal/users/{user_id}")
async def user_page(
    request: Request, api: Api, user: Staff, user_id: uuid.UUID, email: str = ""
) -> Response:
    return await render_user(request, api, user_id, email)


def user_page_path(user_id: uuid.UUID | str, email: str) -> str:
    return f"/portal/users/{user_id}?{urlencode({'email': email})}"


@router.post("/portal/users/{user_id}/verification")
async def verify_in_person(
    request: Request, api: Api, user: Staff, form: CheckedForm, user_id: uuid.UUID
) -> Response:
    values = form_values(form, VERIFICATION_FIELDS)
    email = str(form.get("email") or "")
    return await act(
        request,
        lambda: api.post(
            f"/identity/users/{user_id}/verification",
            json=payload(values, keep_empty=tuple(VERIFICATION_FIELDS)),
        ),
        labels=VERIFICATION_FIELDS,
        refused=lambda errors: render_user(
            request, api, user_id, email, form="verify", values=values, errors=errors
        ),
        done=user_page_path(user_id, email),
        message="Η πιστοποίηση του χρήστη καταχωρήθηκε.",
    )


@router.post("/portal/users/{user_id}/verification/revoke")
async def revoke_verification(
    request: Request, api: Api, user: Staff, form: CheckedForm, user_id: uuid.UUID
) -> Response:
    values = form_values(form, REVOKE_FIELDS)
    email = str(form.get("email") or "")
    return await act(
        request,
        lambda: api.delete(
            f"/identity/users/{user_id}/verification", json=payload(values, keep_empty=("reason",))
        ),
        labels=REVOKE_FIELDS,
        refused=lambda errors: render_user(
            request, api, user_id, email, form="revoke", values=values, errors=errors
        ),
        done=user_page_path(user_id, email),
        message="Η πιστοποίηση του χρήστη ανακλήθηκε.",
    )
