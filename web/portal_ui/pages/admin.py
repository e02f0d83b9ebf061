"""The admins' screens (ID-4): create staff accounts, change a staff member's role or a clerk's
department, disable an account with a reason and enable it again, and the departments list.

Accounts are found through the user search (clerk.py's /portal/users, which admins use too);
each account's admin page is linked from its user page.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from portal_ui.forms import FormErrors, form_values, payload
from portal_ui.gateway import Api
from portal_ui.pages.clerk import act, department_names, find_user, user_page_path
from portal_ui.sessions import CheckedForm, User, require_role
from portal_ui.templating import render

router = APIRouter()

Admin = Annotated[User, Depends(require_role("admin"))]

STAFF_ROLES = [("clerk", "Υπάλληλος"), ("auditor", "Ελεγκτής"), ("admin", "Διαχειριστής")]
STAFF_FIELDS = {
    "email": "E-mail",
    "password": "Αρχικός κωδικός",
    "role": "Ρόλος",
    "department": "Υπηρεσία",
}
STAFF_CHANGE_FIELDS = {"role": "Ρόλος", "department": "Υπηρεσία"}
DISABLE_FIELDS = {"reason": "Λόγος απενεργοποίησης"}


def admin_page_path(user_id: uuid.UUID | str, email: str) -> str:
    return user_page_path(user_id, email).replace("/portal/users/", "/portal/admin/users/", 1)


# --- creating staff -------------------------------------------------------------------------


async def render_staff_form(
    request: Request, api: Api, values: dict[str, str], errors: FormErrors | None = None
) -> Response:
    return await render(
        request,
        "admin/staff_new.html",
        title="Νέος λογαριασμός υπαλλήλου",
        roles=STAFF_ROLES,
        departments=list((await department_names(api)).items()),
        values=values,
        errors=errors,
        status_code=422 if errors else 200,
    )


@router.get("/portal/admin/staff/new")
async def new_staff_form(request: Request, api: Api, user: Admin) -> Response:
    return await render_staff_form(
        request, api, {"role": "clerk", "idempotency_key": str(uuid.uuid4())}
    )


@router.post("/portal/admin/staff/new")
async def create_staff(request: Request, api: Api, user: Admin, form: CheckedForm) -> Response:
    values = form_values(form, STAFF_FIELDS)
    key = str(form.get("idempotency_key") or "") or None
    body = payload(values, keep_empty=("email", "password", "role"))
    if body.get("role") != "clerk":
        body.pop("department", None)  # only clerks belong to a department
    return await act(
        request,
        lambda: api.post("/identity/staff", json=body, idempotency_key=key),
        labels=STAFF_FIELDS,
        refused=lambda errors: render_staff_form(
            request,
            api,
            values | {"password": "", "idempotency_key": key or str(uuid.uuid4())},
            errors,
        ),
        done=lambda created: admin_page_path(created["user_id"], values["email"]),
        message=f"Ο λογαριασμός {values['email']} δημιουργήθηκε.",
    )


# --- one account ----------------------------------------------------------------------------


async def render_account(
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
    departments = await department_names(api)
    current = {"role": account["role"], "department": account.get("department") or ""}
    return await render(
        request,
        "admin/account.html",
        title=f"Λογαριασμός {account['email']}",
        account=account,
        departments=departments,
        roles=STAFF_ROLES,
        user_page=user_page_path(account["user_id"], account["email"]),
        form=form,
        values=values if form == "staff" and values is not None else current,
        reason_values=values if form == "disable" and values is not None else {},
        errors=errors,
        status_code=422 if errors else 200,
    )


@router.get("/portal/admin/users/{user_id}")
async def account_page(
    request: Request, api: Api, user: Admin, user_id: uuid.UUID, email: str = ""
) -> Response:
    return await render_account(request, api, user_id, email)


@router.post("/portal/admin/users/{user_id}/staff")
async def change_staff(
    request: Request, api: Api, user: Admin, form: CheckedForm, user_id: uuid.UUID
) -> Response:
    values = form_values(form, STAFF_CHANGE_FIELDS)
    email = str(form.get("email") or "")
    body = payload(values)
    if body.get("role") != "clerk":
        body.pop("department", None)  # only clerks belong to a department
    return await act(
        request,
        lambda: api.patch(f"/identity/users/{user_id}/staff", json=body),
        labels=STAFF_CHANGE_FIELDS,
        refused=lambda errors: render_account(
            request, api, user_id, email, form="staff", values=values, errors=errors
        ),
        done=admin_page_path(user_id, email),
        message="Ο ρόλος και η υπηρεσία αποθηκεύτηκαν.",
    )


@router.post("/portal/admin/users/{user_id}/disable")
async def disable_account(
    request: Request, api: Api, user: Admin, form: CheckedForm, user_id: uuid.UUID
) -> Response:
    values = form_values(form, DISABLE_FIELDS)
    email = str(form.get("email") or "")
    return await act(
        request,
        lambda: api.post(
            f"/identity/users/{user_id}/disable", json=payload(values, keep_empty=("reason",))
        ),
        labels=DISABLE_FIELDS,
        refused=lambda errors: render_account(
            request, api, user_id, email, form="disable", values=values, errors=errors
        ),
        done=admin_page_path(user_id, email),
        message="Ο λογαριασμός απενεργοποιήθηκε· ο χρήστης δεν μπορεί πια να συνδεθεί.",
    )


@router.post("/portal/admin/users/{user_id}/enable")
async def enable_account(
    request: Request, api: Api, user: Admin, form: CheckedForm, user_id: uuid.UUID
) -> Response:
    email = str(form.get("email") or "")
    return await act(
        request,
        lambda: api.post(f"/identity/users/{user_id}/enable"),
        labels={},
        refused=lambda errors: render_account(
            request, api, user_id, email, form="enable", errors=errors
        ),
        done=admin_page_path(user_id, email),
        message="Ο λογαριασμός ενεργοποιήθηκε ξανά.",
    )


# --- departments ----------------------------------------------------------------------------


@router.get("/portal/admin/departments")
async def departments(request: Request, api: Api, user: Admin) -> Response:
    page = await api.get("/identity/departments", params={"limit": 100})
    return await render(
        request, "admin/departments.html", title="Υπηρεσίες του Δήμου", items=page["items"]
    )
