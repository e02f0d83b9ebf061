"""Public screens: home, registration, log-in, log-out, anonymous submission (ID-1, R-1)."""

from __future__ import annotations

import contextlib
import uuid

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from portal_ui import navigation
from portal_ui.errors import ApiError
from portal_ui.forms import form_errors, form_values, greek, payload
from portal_ui.gateway import Api, GatewayClient
from portal_ui.sessions import CheckedForm, User
from portal_ui.templating import render

router = APIRouter()

ACCOUNT_KINDS = [("citizen", "Πολίτης"), ("business", "Επιχείρηση")]
REQUEST_KINDS = [("request", "Αίτημα"), ("complaint", "Καταγγελία"), ("proposal", "Πρόταση")]

REGISTER_FIELDS = {"kind": "Είδος λογαριασμού", "email": "E-mail", "password": "Κωδικός"}
LOGIN_FIELDS = {"email": "E-mail", "password": "Κωδικός"}
ANONYMOUS_FIELDS = {
    "kind": "Είδος",
    "subject": "Θέμα",
    "text": "Κείμενο",
    "desired_action": "Επιθυμητή ενέργεια",
}


def redirect(path: str) -> RedirectResponse:
    """After a POST: go to the page that shows the result (303, so a reload does not repost)."""
    return RedirectResponse(path, status_code=303)


def safe_next(path: str | None) -> str | None:
    """Only a path of this site, so the log-in page cannot send anyone elsewhere."""
    if path and path.startswith("/") and not path.startswith("//") and "\\" not in path:
        return path
    return None


@router.get("/")
async def home(request: Request) -> Response:
    return await render(request, "pages/home.html", title="Ηλεκτρονική Πύλη Εξυπηρέτησης")


@router.get("/portal")
async def portal_root() -> Response:
    return redirect("/")


@router.get("/portal/register")
async def register_form(request: Request) -> Response:
    return await render(
        request, "pages/register.html", title="Εγγραφή", values={"kind": "citizen"}, errors=None
    )


@router.post("/portal/register")
async def register(request: Request, api: Api, form: CheckedForm) -> Response:
    values = form_values(form, REGISTER_FIELDS)
    try:
        await api.post("/identity/users", json=payload(values, keep_empty=tuple(values)))
        await log_in(request, api, values["email"], values["password"])
    except ApiError as error:
        if not error.is_refusal:
            raise
        return await render(
            request,
            "pages/register.html",
            title="Εγγραφή",
            values=values,
            errors=form_errors(error, REGISTER_FIELDS),
            status_code=422,
        )
    request.state.session.flash(
        "Ο λογαριασμός σας δημιουργήθηκε. Συμπληρώστε τα στοιχεία σας για να χρησιμοποιήσετε "
        "όλες τις υπηρεσίες."
    )
    return redirect("/portal/profile")


@router.get("/portal/login")
async def login_form(request: Request, next: str | None = None) -> Response:
    return await render(
        request,
        "pages/login.html",
        title="Σύνδεση",
        values={},
        errors=None,
        next=safe_next(next),
    )


@router.post("/portal/login")
async def login(request: Request, api: Api, form: CheckedForm) -> Response:
    values = form_values(form, LOGIN_FIELDS)
    next_path = safe_next(str(form.get("next") or ""))
    try:
        user = await log_in(request, api, values["email"], values["password"])
    except ApiError as error:
        if not (error.is_refusal or error.status == 401):
            raise
        return await render(
            request,
            "pages/login.html",
            title="Σύνδεση",
            values={"email": values["email"]},
            errors=form_errors(error, LOGIN_FIELDS),
            next=next_path,
            status_code=422 if error.status != 429 else 429,
        )
    return redirect(next_path or navigation.home_for(user.roles))


async def log_in(request: Request, api: GatewayClient, email: str, password: str) -> User:
    """Exchange e-mail and password for a token (ID-1) and keep who it is in the session."""
    token = await api.post("/identity/token", data={"username": email, "password": password})
    access_token = token["access_token"]
    me = await api.with_token(access_token).get("/identity/me")
    user = User(
        user_id=str(me["user_id"]),
        email=me["email"],
        kind=me["kind"],
        roles=list(me.get("roles") or [me["kind"]]),
        token=access_token,
        department=me.get("department"),
    )
    request.state.session.log_in(user)
    return user


@router.post("/portal/logout")
async def logout(request: Request, api: Api, form: CheckedForm) -> Response:
    with contextlib.suppress(ApiError):  # already expired or revoked: logged out all the same
        await api.post("/identity/logout")  # revokes the token everywhere (ID-1)
    request.state.session.log_out()
    request.state.session.flash("Αποσυνδεθήκατε.")
    return redirect("/")


@router.get("/portal/anonymous")
async def anonymous_form(request: Request) -> Response:
    return await render(
        request,
        "pages/anonymous.html",
        title="Ανώνυμη υποβολή",
        values={"kind": "request", "idempotency_key": str(uuid.uuid4())},
        errors=None,
        kinds=REQUEST_KINDS,
    )


@router.post("/portal/anonymous")
async def anonymous_submit(request: Request, api: Api, form: CheckedForm) -> Response:
    values = form_values(form, ANONYMOUS_FIELDS)
    key = str(form.get("idempotency_key") or "") or None
    try:
        accepted = await api.post(
            "/requests/anonymous",
            json=payload(values, keep_empty=("subject", "text")),
            idempotency_key=key,
        )
    except ApiError as error:
        if not error.is_refusal:
            raise
        return await render(
            request,
            "pages/anonymous.html",
            title="Ανώνυμη υποβολή",
            values=values | {"idempotency_key": key or str(uuid.uuid4())},
            errors=form_errors(error, ANONYMOUS_FIELDS),
            kinds=REQUEST_KINDS,
            status_code=422,
        )
    return await render(
        request,
        "pages/anonymous_done.html",
        title="Η υποβολή σας καταχωρήθηκε",
        message=greek(accepted.get("message")) if accepted else None,
    )
