"""Citizens' and businesses' certificates: the civil-registry and ΤΑΠ applications, the two lists
with their statuses, one certificate with the municipality's reply, its protocol and history,
and once issued its PDF and verification code (SPEC C-1..C-6).

Only applicants with a complete profile and an in-person verification may apply (C-1): the form
says so ahead (from identity) and the certificates service's own 403 (`profile_incomplete`,
`not_verified`) is shown the same way, with the way to the profile page.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from portal_ui.errors import ApiError
from portal_ui.forms import form_errors, form_values, payload
from portal_ui.gateway import Api
from portal_ui.pages.public import redirect
from portal_ui.sessions import CheckedForm, User, require_role
from portal_ui.templating import render

router = APIRouter()

Applicant = Annotated[User, Depends(require_role("citizen", "business"))]

DELIVERY_FIELDS = {
    "details": "Σκοπός",
    "delivery_method": "Τρόπος παράδοσης",
    "delivery_address": "Διεύθυνση αποστολής",
}
CIVIL_REGISTRY_FIELDS = {"certificate_type": "Είδος πιστοποιητικού"} | DELIVERY_FIELDS
# The ΤΑΠ property's fields are sent inside `property`; the API names them
# `property.address` etc., and its errors are shown beside the field of the last part's name.
PROPERTY_FIELDS = {
    "address": "Διεύθυνση ακινήτου",
    "electricity_supply_number": "Αριθμός παροχής ρεύματος",
    "area_m2": "Επιφάνεια (τ.μ.)",
}
TAP_FIELDS = PROPERTY_FIELDS | DELIVERY_FIELDS

# The API's refusals of an applicant who may not apply yet (C-1), as the notice explains them.
INELIGIBLE = {"profile_incomplete", "not_verified"}

HISTORY_EVENTS = {
    "Applied": "Υποβολή αίτησης",
    "ProtocolRequested": "Αίτηση πρωτοκόλλησης",
    "ProtocolPending": "Αναμονή πρωτοκόλλου",
    "ProtocolAssigned": "Πρωτοκολλήθηκε",
    "StatusChanged": "Αλλαγή κατάστασης",
    "Replied": "Απάντηση του Δήμου",
    "Issued": "Έκδοση πιστοποιητικού",
    "Rejected": "Απόρριψη",
}


@router.get("/portal/certificates")
async def my_certificates(request: Request, api: Api, user: Applicant) -> Response:
    civil_registry = await api.get("/certificates/civil-registry", params={"limit": 100})
    tap = await api.get("/certificates/tap", params={"limit": 100})
    return await render(
        request,
        "certificates/list.html",
        title="Πιστοποιητικά",
        civil_registry=civil_registry,
        tap=tap,
    )


# --- applications (C-1..C-4) ------------------------------------------------------------------


async def delivery_methods(api: Api) -> list[dict[str, Any]]:
    return (await api.get("/certificates/delivery-methods"))["items"]


def delivery_options(methods: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The radios' labels: a collection point's name and address with its method."""
    options = []
    for method in methods:
        point = method.get("service_point")
        where = f" ({point['name']}, {point['address']})" if point else ""
        options.append((method["code"], method["name"] + where))
    return options


def delivery_payload(values: Mapping[str, str], methods: list[dict[str, Any]]) -> dict[str, Any]:
    """The delivery part of an application: the address only for a method that needs one (it
    would be refused for the others, and the applicant may have typed it before changing
    their mind)."""
    body = payload({name: values[name] for name in DELIVERY_FIELDS})
    chosen = next((m for m in methods if m["code"] == values["delivery_method"]), None)
    if chosen is not None and not chosen["needs_address"]:
        body.pop("delivery_address", None)
    return body


async def eligibility(api: Api) -> str | None:
    """What the applicant still lacks to apply (C-1), as identity knows it: the code of the
    certificates service's refusal, or None."""
    me = await api.get("/identity/me")
    if not me.get("profile_complete"):
        return "profile_incomplete"
    if not me.get("verified"):
        return "not_verified"
    return None


class ApplicationForm:
    """One of the two application forms: its template, fields and the options it offers."""

    def __init__(self, kind: str, title: str, fields: dict[str, str]) -> None:
        self.kind = kind
        self.title = title
        self.fields = fields
        self.template = f"certificates/new_{kind}.html"
        self.action = f"/portal/certificates/{kind.replace('_', '-')}/new"

    async def render(
        self,
        request: Request,
        api: Api,
        *,
        values: dict[str, str],
        errors: Any = None,
        ineligible: str | None = None,
        methods: list[dict[str, Any]] | None = None,
        status_code: int = 200,
    ) -> Response:
        methods = methods if methods is not None else await delivery_methods(api)
        types = []
        if self.kind == "civil_registry":
            types = (await api.get("/certificates/civil-registry/types"))["items"]
        return await render(
            request,
            self.template,
            title=self.title,
            action=self.action,
            values=values | {"idempotency_key": values.get("idempotency_key") or new_key()},
            errors=errors,
            ineligible=ineligible,
            certificate_types=[(t["code"], t["name"]) for t in types],
            delivery_options=delivery_options(methods),
            status_code=status_code,
        )

    async def submit(
        self, request: Request, api: Api, form: CheckedForm, path: str, body: dict[str, Any]
    ) -> Response:
        values = form_values(form, self.fields) | {
            "idempotency_key": str(form.get("idempotency_key") or "")
        }
        methods = await delivery_methods(api)
        try:
            created = await api.post(
                path,
                json=body | delivery_payload(values, methods),
                idempotency_key=values["idempotency_key"] or None,
            )
        except ApiError as error:
            if error.status == 403 and error.code in INELIGIBLE:
                return await self.render(
                    request,
                    api,
                    values=values,
                    ineligible=error.code,
                    methods=methods,
                    status_code=403,
                )
            if not error.is_refusal:
                raise
            return await self.render(
                request,
                api,
                values=values,
                errors=form_errors(error, self.fields),
                methods=methods,
                status_code=422,
            )
        request.state.session.flash(application_recorded(created))
        return redirect(f"/portal/certificates/{created['id']}")


def new_key() -> str:
    """A key per form shown: submitting it twice records one application."""
    return str(uuid.uuid4())


def application_recorded(created: dict[str, Any]) -> str:
    protocol = created.get("protocol")
    if protocol:
        return (
            f"Η αίτησή σας καταχωρήθηκε με αριθμό {created['number']} και αριθμό πρωτοκόλλου "
            f"{protocol['number']}."
        )
    return (
        f"Η αίτησή σας καταχωρήθηκε με αριθμό {created['number']}. Ο αριθμός πρωτοκόλλου θα "
        "αποδοθεί σε λίγο."
    )


CIVIL_REGISTRY = ApplicationForm(
    "civil_registry", "Αίτηση για πιστοποιητικό Ληξιαρχείου – Δημοτολογίου", CIVIL_REGISTRY_FIELDS
)
TAP = ApplicationForm("tap", "Αίτηση για βεβαίωση ΤΑΠ", TAP_FIELDS)


@router.get("/portal/certificates/civil-registry/new")
async def new_civil_registry_form(request: Request, api: Api, user: Applicant) -> Response:
    return await CIVIL_REGISTRY.render(
        request, api, values={"delivery_method": "email"}, ineligible=await eligibility(api)
    )


@router.post("/portal/certificates/civil-registry/new")
async def apply_civil_registry(
    request: Request, api: Api, user: Applicant, form: CheckedForm
) -> Response:
    chosen = form_values(form, ["certificate_type"])
    return await CIVIL_REGISTRY.submit(
        request, api, form, "/certificates/civil-registry", payload(chosen)
    )


@router.get("/portal/certificates/tap/new")
async def new_tap_form(request: Request, api: Api, user: Applicant) -> Response:
    return await TAP.render(
        request, api, values={"delivery_method": "email"}, ineligible=await eligibility(api)
    )


@router.post("/portal/certificates/tap/new")
async def apply_tap(request: Request, api: Api, user: Applicant, form: CheckedForm) -> Response:
    typed = form_values(form, PROPERTY_FIELDS)
    # Greek decimals have a comma (85,5 τ.μ.); the API reads a JSON number's point.
    typed["area_m2"] = typed["area_m2"].replace(",", ".")
    return await TAP.submit(request, api, form, "/certificates/tap", {"property": payload(typed)})


# --- one certificate (C-5, C-6) ---------------------------------------------------------------


@router.get("/portal/certificates/{certificate_id}")
async def certificate_detail(
    request: Request, api: Api, user: Applicant, certificate_id: uuid.UUID
) -> Response:
    certificate = await api.get(f"/certificates/{certificate_id}")  # another's: 404 page
    methods = {m["code"]: m["name"] for m in await delivery_methods(api)}
    return await render(
        request,
        "certificates/detail.html",
        title=certificate["title"],
        certificate=certificate,
        delivery_method=methods.get(certificate["delivery_method"], certificate["delivery_method"]),
        area=area_gr(certificate["property"]["area_m2"]) if certificate.get("property") else None,
        history_events=HISTORY_EVENTS,
    )


def area_gr(square_metres: float) -> str:
    """An area the Greek way, without needless decimals: 85.0 -> 85, 85.5 -> 85,5."""
    return f"{square_metres:f}".rstrip("0").rstrip(".").replace(".", ",")


@router.get("/portal/certificates/{certificate_id}/document")
async def certificate_document(
    request: Request, api: Api, user: Applicant, certificate_id: uuid.UUID
) -> Response:
    """The issued PDF, passed on as the service gave it, under a Greek file name."""
    try:
        document = await api.send("GET", f"/certificates/{certificate_id}/document")
    except ApiError as error:
        if error.code != "not_issued":
            raise
        request.state.session.flash("Το πιστοποιητικό δεν έχει εκδοθεί ακόμη.")
        return redirect(f"/portal/certificates/{certificate_id}")
    certificate = await api.get(f"/certificates/{certificate_id}")
    return Response(
        document.content,
        media_type="application/pdf",
        headers={"Content-Disposition": attachment(certificate["number"])},
    )


def attachment(number: str) -> str:
    """`Πιστοποιητικό-2026-000042.pdf` (RFC 6266: an ASCII name for old browsers, the Greek
    one in `filename*`)."""
    stem = number.replace("/", "-")
    greek = quote(f"Πιστοποιητικό-{stem}.pdf")
    return f"attachment; filename=\"certificate-{stem}.pdf\"; filename*=UTF-8''{greek}"
