"""Screens of every logged-in user: the profile with what each service still needs (ID-2,
ID-3), and the notifications with their unread badge (X-2)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from portal_ui.errors import ApiError
from portal_ui.forms import FormErrors, form_errors, form_values, payload
from portal_ui.gateway import Api
from portal_ui.pages.public import redirect
from portal_ui.sessions import CheckedForm, CurrentUser
from portal_ui.templating import render

router = APIRouter()

# The profile's fields per kind of account (ID-2): all needed for a complete profile.
PROFILE_FIELDS = {
    "citizen": {
        "first_name": "Όνομα",
        "last_name": "Επώνυμο",
        "father_name": "Πατρώνυμο",
        "date_of_birth": "Ημερομηνία γέννησης",
        "afm": "ΑΦΜ",
        "id_document_number": "Αριθμός δελτίου ταυτότητας",
        "address": "Διεύθυνση",
        "phone": "Τηλέφωνο",
    },
    "business": {
        "legal_name": "Επωνυμία",
        "afm": "ΑΦΜ",
        "address": "Διεύθυνση έδρας",
        "representative": "Νόμιμος εκπρόσωπος",
    },
}

# API paths of notifications' links -> the portal's page of the same thing.
PAGE_FOR_API_PATH = {
    "/requests/": "/portal/requests/",
    "/certificates/": "/portal/certificates/",
    "/fines/": "/portal/fines/",
    "/business/warrants": "/portal/business/warrants",
    "/business/tax-declarations/": "/portal/business/declarations/",
    "/business/debts": "/portal/business/debts",
}


def service_readiness(me: dict[str, Any]) -> list[dict[str, Any]]:
    """For each service, what the user still lacks to use it (ID-2, ID-3; F-1, C-1, B-2)."""
    complete, verified = bool(me.get("profile_complete")), bool(me.get("verified"))
    missing_profile = "Συμπληρώστε όλα τα στοιχεία σας (παρακάτω)."
    missing_verification = (
        "Πιστοποίηση χρήστη: επισκεφθείτε το Δήμο με το δελτίο ταυτότητάς σας, για να "
        "επιβεβαιώσει ένας υπάλληλος τα στοιχεία σας."
    )

    def needs(profile: bool, verification: bool) -> list[str]:
        return [missing_profile] * (profile and not complete) + [missing_verification] * (
            verification and not verified
        )

    services = [
        ("Αιτήματα, καταγγελίες, προτάσεις", needs(False, False)),
        ("Πρόστιμα", needs(True, False)),
        ("Πιστοποιητικά", needs(True, True)),
    ]
    if me.get("kind") == "business":
        services.append(("Δημοτικό τέλος και οφειλές", needs(True, True)))
    return [{"name": name, "missing": missing} for name, missing in services]


async def render_profile(
    request: Request,
    api: Api,
    values: dict[str, str] | None = None,
    errors: FormErrors | None = None,
) -> Response:
    me = await api.get("/identity/me")
    return await render(
        request,
        "pages/profile.html",
        title="Τα στοιχεία μου",
        me=me,
        profile_fields=PROFILE_FIELDS.get(me["kind"], {}),
        readiness=service_readiness(me) if me["kind"] in PROFILE_FIELDS else [],
        values=values if values is not None else (me.get("profile") or {}),
        errors=errors,
        status_code=422 if errors else 200,
    )


@router.get("/portal/profile")
async def profile(request: Request, api: Api, user: CurrentUser) -> Response:
    return await render_profile(request, api)


@router.post("/portal/profile")
async def update_profile(
    request: Request, api: Api, user: CurrentUser, form: CheckedForm
) -> Response:
    labels = PROFILE_FIELDS.get(user.kind, {})
    values = form_values(form, labels)
    try:
        await api.put("/identity/me/profile", json=payload(values))
    except ApiError as error:
        if not error.is_refusal:
            raise
        return await render_profile(request, api, values, form_errors(error, labels))
    request.state.session.flash("Τα στοιχεία σας αποθηκεύτηκαν.")
    return redirect("/portal/profile")


def page_for(api_path: str | None) -> str | None:
    for prefix, page in PAGE_FOR_API_PATH.items():
        if api_path and api_path.startswith(prefix):
            return page + api_path.removeprefix(prefix)
    return None


@router.get("/portal/notifications")
async def notifications(request: Request, api: Api, user: CurrentUser) -> Response:
    page = await api.get("/notifications", params={"limit": 100})
    items = [item | {"page": page_for(item.get("link"))} for item in page["items"]]
    return await render(
        request,
        "pages/notifications.html",
        title="Ειδοποιήσεις",
        items=items,
        unread_total=page.get("unread", 0),
    )


@router.post("/portal/notifications/read-all")
async def read_all(request: Request, api: Api, user: CurrentUser, form: CheckedForm) -> Response:
    await api.post("/notifications/read-all")
    return redirect("/portal/notifications")


@router.post("/portal/notifications/{notification_id}/read")
async def read_one(
    request: Request, api: Api, user: CurrentUser, form: CheckedForm, notification_id: str
) -> Response:
    await api.post(f"/notifications/{notification_id}/read")
    return redirect("/portal/notifications")
