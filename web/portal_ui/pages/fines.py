"""Traffic fines, in the guide's steps (SPEC F-1..F-6, P-1, P-2): the ticket's municipality code
and fine type (checked: payable here?), then its number, plate and date (looked up in the fines
register, or registered there), then the fine with what it costs now (base, surcharges, total,
valid until, RF code) and «Πληρωμή με κάρτα», which starts the payment and leads to the bank's
page. The bank returns the browser to the payments service's result page; the citizen's list of
fines then shows the fine paid.

Who may use fines needs a complete profile (F-1): the service's 403 `profile_incomplete` is
shown as a notice with the way to the profile page.
"""

from __future__ import annotations

import contextlib
import uuid
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from portal_ui.errors import ApiError
from portal_ui.forms import FormErrors, form_errors, form_values, payload
from portal_ui.gateway import Api
from portal_ui.pages.public import redirect
from portal_ui.sessions import CheckedForm, User, require_role
from portal_ui.templating import render

router = APIRouter()

Payer = Annotated[User, Depends(require_role("citizen", "business"))]

CHECK_FIELDS = {"municipality_code": "Κωδικός Δήμου", "fine_type": "Είδος κλήσης"}
DETAIL_FIELDS = {
    "fine_number": "Αριθμός κλήσης",
    "plate": "Αριθμός κυκλοφορίας",
    "issued_at": "Ημερομηνία και ώρα κλήσης",
}
LOOKUP_FIELDS = CHECK_FIELDS | DETAIL_FIELDS
TITLE = "Πληρωμή κλήσης"


class NeedsProfile(Exception):
    """The fines service refused: the user's profile is not complete yet (F-1)."""


async def consult(call: Any) -> Any:
    """An API call of the fines service, its profile refusal turned into `NeedsProfile`."""
    try:
        return await call
    except ApiError as error:
        if error.status == 403 and error.code == "profile_incomplete":
            raise NeedsProfile from error
        raise


async def needs_profile_page(request: Request) -> Response:
    return await render(request, "fines/needs_profile.html", title=TITLE, status_code=403)


@router.get("/portal/fines")
async def my_fines(request: Request, api: Api, user: Payer) -> Response:
    page = await api.get("/fines", params={"limit": 100})
    return await render(
        request,
        "fines/list.html",
        title="Τα πρόστιμά μου",
        items=page["items"],
        total=page["total"],
    )


# --- step 1: municipality and fine type (F-2) -------------------------------------------------


async def check_form(
    request: Request,
    api: Api,
    values: dict[str, str] | None = None,
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> Response:
    try:
        types = await consult(api.get("/fines/types"))
    except NeedsProfile:
        return await needs_profile_page(request)
    return await render(
        request,
        "fines/check.html",
        title=TITLE,
        values=values or {},
        errors=errors,
        fine_types=[(t["code"], f"{t['code']}: {t['description']}") for t in types["types"]],
        municipality=types,
        status_code=status_code,
    )


@router.get("/portal/fines/new")
async def new_fine_form(request: Request, api: Api, user: Payer) -> Response:
    return await check_form(request, api)


@router.post("/portal/fines/new")
async def check_fine(request: Request, api: Api, user: Payer, form: CheckedForm) -> Response:
    values = form_values(form, CHECK_FIELDS)
    try:
        checked = await consult(api.post("/fines/check", json=payload(values)))
    except NeedsProfile:
        return await needs_profile_page(request)
    except ApiError as error:
        if not error.is_refusal:
            raise
        return await check_form(request, api, values, form_errors(error, CHECK_FIELDS), 422)
    return await details_form(request, values, checked)


# --- step 2: the ticket's number, plate and date (F-3, F-4) -----------------------------------


async def details_form(
    request: Request,
    values: dict[str, str],
    checked: dict[str, Any],
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> Response:
    return await render(
        request,
        "fines/details.html",
        title=TITLE,
        values=values,
        checked=checked,
        errors=errors,
        status_code=status_code,
    )


@router.post("/portal/fines/lookup")
async def look_up_fine(request: Request, api: Api, user: Payer, form: CheckedForm) -> Response:
    values = form_values(form, LOOKUP_FIELDS)
    try:
        found = await consult(api.post("/fines/lookup", json=payload(values)))
    except NeedsProfile:
        return await needs_profile_page(request)
    except ApiError as error:
        if not error.is_refusal:
            raise
        # The type's description and amount again, for the page; if the step-1 fields were
        # tampered with, there are none and the error summary says what is wrong.
        checked = {"fine_type": values["fine_type"], "description": "", "amount": None}
        with contextlib.suppress(ApiError):
            checked = await api.post("/fines/check", json=payload(form_values(form, CHECK_FIELDS)))
        return await details_form(request, values, checked, form_errors(error, LOOKUP_FIELDS), 422)
    return redirect(f"/portal/fines/{found['fine_id']}")


# --- step 3: the amount due now, and paying it (F-5, F-6, P-1) --------------------------------


async def fine_page(
    request: Request,
    api: Api,
    fine_id: uuid.UUID,
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> Response:
    fine = await api.get(f"/fines/{fine_id}")  # another user's: the API's 404 -> 404 page
    return await render(
        request,
        "fines/detail.html",
        title=f"Κλήση {fine['details']['fine_number']}",
        fine=fine,
        idempotency_key=str(uuid.uuid4()),
        errors=errors,
        status_code=status_code,
    )


@router.get("/portal/fines/{fine_id}")
async def fine_detail(request: Request, api: Api, user: Payer, fine_id: uuid.UUID) -> Response:
    return await fine_page(request, api, fine_id)


@router.post("/portal/fines/{fine_id}/payment")
async def pay_fine(
    request: Request, api: Api, user: Payer, form: CheckedForm, fine_id: uuid.UUID
) -> Response:
    """Start paying (a double click or a reload answers the same payment), then offer the way
    to the bank's page. A link, not a redirect: the portal's Content-Security-Policy
    (`form-action 'self'`) rightly stops a form's answer from leading to another site."""
    key = str(form.get("idempotency_key") or "") or None
    try:
        payment = await consult(api.post(f"/fines/{fine_id}/payment", idempotency_key=key))
    except NeedsProfile:
        return await needs_profile_page(request)
    except ApiError as error:
        if not error.is_refusal:
            raise
        return await fine_page(request, api, fine_id, form_errors(error), 409)
    fine = await api.get(f"/fines/{fine_id}")
    return await render(
        request,
        "fines/to_bank.html",
        title="Πληρωμή στην τράπεζα",
        fine=fine,
        amount=payment["amount"],
        checkout=checkout_path(payment["redirect_url"]),
    )


def checkout_path(redirect_url: str) -> str:
    """The payments service's checkout, which leads to the bank's page. The fines service
    names it at the portal's public address; the link is its path on this same site, so that
    no address an answer carries can send a visitor off the portal unannounced."""
    parts = urlsplit(redirect_url)
    return parts.path + (f"?{parts.query}" if parts.query else "")
