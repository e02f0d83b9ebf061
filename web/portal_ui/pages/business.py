"""Businesses' screens (SPEC B-1..B-3): the payment warrants the municipality issued them, the
municipal tax declared for a period, quoted and paid at the bank's page, and the assessed debts
paid the same way.

Everything is the business service's public API (`/business/...`) through the gateway. Its 403s
about the account itself (profile incomplete, representative not verified) become a page that
says what to do, with a link to the profile (`BusinessRoute`); any other refusal is the usual
error page. Amounts are cents in the API and Greek euros on the screen; the declaration form
takes euros (`gross_revenue`, comma or dot for the decimals) and sends cents.

Paying: the page's form asks the API for a payment (with the form's own Idempotency-Key, so a
double click opens one payment) and shows where it goes next, the checkout link that leads to
the bank's page. A link, not a redirect: the page's Content-Security-Policy lets forms post to
the portal only (`form-action 'self'`), and browsers hold the redirects after a form to it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Coroutine
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute

from portal_ui.errors import ApiError
from portal_ui.forms import FieldError, FormErrors, form_errors, form_values
from portal_ui.gateway import Api
from portal_ui.pages.public import redirect
from portal_ui.sessions import CheckedForm, User, require_role
from portal_ui.templating import render


class BusinessRoute(APIRoute):
    """A route whose page, when the business service refuses the account itself (403
    `profile_incomplete` or `not_verified`), says so in Greek with a link to the profile."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except ApiError as error:
                if error.status == 403 and error.code in ACCOUNT_NOT_READY:
                    return await render(
                        request,
                        "business/not_ready.html",
                        title="Η υπηρεσία δεν είναι ακόμη διαθέσιμη",
                        reason=ACCOUNT_NOT_READY[error.code],
                        status_code=403,
                    )
                raise

        return handle


router = APIRouter(route_class=BusinessRoute)

BusinessUser = Annotated[User, Depends(require_role("business"))]

ACCOUNT_NOT_READY = {
    "profile_incomplete": "Τα στοιχεία της επιχείρησης δεν είναι πλήρη. Συμπληρώστε την "
    "επωνυμία, τον ΑΦΜ, τη διεύθυνση της έδρας και τον νόμιμο εκπρόσωπο.",
    "not_verified": "Ο νόμιμος εκπρόσωπος της επιχείρησης δεν έχει ταυτοποιηθεί. Επισκεφθείτε "
    "το Δήμο με το δελτίο ταυτότητάς του, για να επιβεβαιώσει ένας υπάλληλος τα στοιχεία.",
}

DECLARATION_FIELDS = {
    "period_type": "Συχνότητα υποβολής ΦΠΑ",
    "period": "Περίοδος",
    "year": "Έτος",
    "gross_revenue": "Ακαθάριστα έσοδα (€)",
    "vat_return_date": "Ημερομηνία υποβολής δήλωσης ΦΠΑ",
}
PERIOD_TYPES = [("monthly", "Μηνιαία"), ("quarterly", "Τριμηνιαία")]
MONTHS = [
    "Ιανουάριος", "Φεβρουάριος", "Μάρτιος", "Απρίλιος", "Μάιος", "Ιούνιος",
    "Ιούλιος", "Αύγουστος", "Σεπτέμβριος", "Οκτώβριος", "Νοέμβριος", "Δεκέμβριος",
]  # fmt: skip

DECLARATION_STATUSES = {
    "quoted": "Προς πληρωμή",
    "payment_pending": "Πληρωμή σε εξέλιξη",
    "accepted": "Έγινε δεκτή",
    "rejected": "Απορρίφθηκε",
}
DEBT_STATUSES = {
    "open": "Ανεξόφλητη",
    "payment_pending": "Πληρωμή σε εξέλιξη",
    "paid": "Εξοφλήθηκε",
}
WARRANT_STATUSES = [("issued", "Εκδόθηκε"), ("paid", "Πληρώθηκε")]
REJECTION_REASONS = {
    "payment_failed": "Η πληρωμή δεν ολοκληρώθηκε (η τράπεζα δεν τη δέχθηκε).",
    "payment_expired": "Η πληρωμή δεν ολοκληρώθηκε εγκαίρως.",
    "quote_expired": "Το ποσό δεν πληρώθηκε εντός της προθεσμίας ισχύος του.",
}
DECLARATION_EVENTS = {
    "Quoted": "Υποβολή δήλωσης και υπολογισμός ποσού",
    "PaymentStarted": "Έναρξη πληρωμής",
    "Accepted": "Η δήλωση έγινε δεκτή",
    "Rejected": "Η δήλωση απορρίφθηκε",
    "RefundNeeded": "Επιπλέον πληρωμή: θα επιστραφεί",
    "FilingFailed": "Νέα προσπάθεια καταχώρισης στο πληροφοριακό σύστημα",
    "Filed": "Καταχωρίστηκε στο πληροφοριακό σύστημα του Δήμου",
    "FilingRefused": "Η καταχώριση δεν έγινε: θα επικοινωνήσει μαζί σας ο Δήμος",
}

# The business service's own wording of a wrong declaration field (English, no pydantic type),
# matched by its start, as a Greek sentence; "{0}" is the date or number it names.
DECLARATION_PROBLEMS = [
    (re.compile(r"must be monthly or quarterly"), "Επιλέξτε μηνιαία ή τριμηνιαία υποβολή."),
    (re.compile(r"must be 1 to (\d+)"), "Πρέπει να είναι από 1 έως {0}."),
    (re.compile(r"must be a year from (\d+)"), "Γράψτε έτος από το {0} και μετά."),
    (
        re.compile(r"is not over yet"),
        "Η περίοδος δεν έχει λήξει ακόμη: δηλώνεται μετά το τέλος της.",
    ),
    (
        re.compile(r"is before the period's end \((\d{4}-\d\d-\d\d)\)"),
        "Δεν μπορεί να είναι πριν από το τέλος της περιόδου ({0}).",
    ),
    (re.compile(r"is in the future"), "Δεν μπορεί να είναι μελλοντική."),
    (re.compile(r"must not be negative"), "Δεν μπορεί να είναι αρνητικό ποσό."),
]
NOT_AN_AMOUNT = "Γράψτε ποσό σε ευρώ, π.χ. 12.345,67 ή 12345.67."

# An amount in euros as people type it: 12.345,67 / 12345,67 / 12,345.67 / 12345.67 / 12345.
# "1,234" alone is refused: 1.234 € the Greek way, but three decimals are no amount.
_AMOUNT = re.compile(
    r"(?P<sign>-?)(?:(?P<int_dots>\d{1,3}(?:\.\d{3})+)(?:,(?P<dec_comma>\d{1,2}))?"
    r"|(?P<int_commas>\d{1,3}(?:,\d{3})+)\.(?P<dec_dot>\d{1,2})"
    r"|(?P<plain>\d+)(?:[.,](?P<dec>\d{1,2}))?)"
)


def euros_to_cents(text: str) -> int | None:
    """An amount typed in euros as cents (None: not an amount): "12.345,67" -> 1234567.

    A comma or a dot before the last one or two digits is the decimal mark; dots between groups
    of three digits separate the thousands (commas only before a decimal dot). A leading "-"
    is kept, for the API to refuse with its own words."""
    cleaned = text.replace(" ", "").replace("\u00a0", "").removesuffix("€")
    match = _AMOUNT.fullmatch(cleaned)
    if not match:
        return None
    parts = match.groupdict()
    whole = (parts["int_dots"] or "").replace(".", "") or (parts["int_commas"] or "").replace(
        ",", ""
    )
    whole = whole or parts["plain"]
    decimals = parts["dec_comma"] or parts["dec_dot"] or parts["dec"] or "0"
    try:
        cents = int(Decimal(f"{whole}.{decimals}") * 100)
    except InvalidOperation:  # pragma: no cover - the pattern admits digits only
        return None
    return -cents if parts["sign"] else cents


def cents_to_euros(cents: int | None) -> str:
    """Cents as the form shows them again: 1234567 -> "12345,67"."""
    if cents is None:
        return ""
    sign = "-" if cents < 0 else ""
    euros, rest = divmod(abs(cents), 100)
    return f"{sign}{euros},{rest:02d}"


def declaration_errors(error: ApiError) -> FormErrors:
    """The API's refusal of a declaration as Greek errors beside its fields."""
    details = []
    for detail in error.field_details:
        problem = str(detail.get("problem", ""))
        for pattern, sentence in DECLARATION_PROBLEMS:
            if found := pattern.search(problem):
                groups = [_greek_date(g) for g in found.groups()]
                problem = sentence.format(*groups)
                break
        details.append(detail | {"problem": problem})
    translated = ApiError(error.status, error.code, error.message, details)
    return form_errors(translated, DECLARATION_FIELDS)


def _greek_date(text: str) -> str:
    if re.fullmatch(r"\d{4}-\d\d-\d\d", text):
        year, month, day = text.split("-")
        return f"{day}/{month}/{year}"
    return text


def period_name(item: dict[str, Any]) -> str:
    """«Μάρτιος 2026» or «2ο τρίμηνο 2026»."""
    period, year = int(item["period"]), item["year"]
    if item["period_type"] == "monthly" and 1 <= period <= 12:
        return f"{MONTHS[period - 1]} {year}"
    return f"{period}ο τρίμηνο {year}"


def percent(basis_points: int) -> str:
    """Basis points as a Greek percentage: 50 -> "0,5 %", 500 -> "5 %"."""
    return f"{Decimal(basis_points) / 100:f}".rstrip("0").rstrip(".").replace(".", ",") + " %"


def page_context(**context: Any) -> dict[str, Any]:
    """What every business template may use besides its own values."""
    return {
        "declaration_statuses": DECLARATION_STATUSES,
        "debt_statuses": DEBT_STATUSES,
        "period_name": period_name,
        **context,
    }


# --- B-1: payment warrants ------------------------------------------------------------------


@router.get("/portal/business/warrants")
async def warrants(
    request: Request,
    api: Api,
    user: BusinessUser,
    status: str | None = None,
    year: str | None = None,
) -> Response:
    status = status if status in dict(WARRANT_STATUSES) else None
    year_filter = int(year) if year and year.isdigit() and 2000 <= int(year) <= 9999 else None
    page = await api.get(
        "/business/warrants", params={"status": status, "year": year_filter, "limit": 500}
    )
    return await render(
        request,
        "business/warrants.html",
        title="Εντάλματα πληρωμής",
        page=page,
        filters={"status": status or "", "year": str(year_filter or "")},
        warrant_statuses=WARRANT_STATUSES,
    )


# --- B-2: tax declarations ------------------------------------------------------------------


@router.get("/portal/business/declarations")
async def declarations(request: Request, api: Api, user: BusinessUser) -> Response:
    page = await api.get("/business/tax-declarations", params={"limit": 500})
    return await render(
        request,
        "business/declarations.html",
        **page_context(title="Δημοτικό τέλος: δηλώσεις", page=page),
    )


async def render_declaration_form(
    request: Request,
    values: dict[str, str],
    errors: FormErrors | None = None,
) -> Response:
    return await render(
        request,
        "business/declaration_new.html",
        title="Νέα δήλωση δημοτικού τέλους",
        values=values,
        errors=errors,
        period_types=PERIOD_TYPES,
        status_code=422 if errors else 200,
    )


@router.get("/portal/business/declarations/new")
async def new_declaration_form(request: Request, api: Api, user: BusinessUser) -> Response:
    await api.get("/business/warrants", params={"limit": 1})  # not ready: say so before typing
    values = {"period_type": "monthly", "idempotency_key": str(uuid.uuid4())}
    return await render_declaration_form(request, values)


@router.post("/portal/business/declarations/new")
async def declare(request: Request, api: Api, user: BusinessUser, form: CheckedForm) -> Response:
    values = form_values(form, DECLARATION_FIELDS)
    values["idempotency_key"] = str(form.get("idempotency_key") or "") or str(uuid.uuid4())
    body: dict[str, Any] = {name: value for name, value in values.items() if value}
    body.pop("idempotency_key")
    if values["gross_revenue"]:
        cents = euros_to_cents(values["gross_revenue"])
        if cents is None:
            label = DECLARATION_FIELDS["gross_revenue"]
            errors = FormErrors([FieldError("gross_revenue", NOT_AN_AMOUNT, label)])
            return await render_declaration_form(request, values, errors)
        body["gross_revenue"] = cents
    try:
        created = await api.post(
            "/business/tax-declarations", json=body, idempotency_key=values["idempotency_key"]
        )
    except ApiError as error:
        if not error.is_refusal:
            raise
        # A new key for the corrected form: the refused one was not recorded, and the same key
        # with other values would be refused as reused.
        values["idempotency_key"] = str(uuid.uuid4())
        return await render_declaration_form(request, values, declaration_errors(error))
    request.state.session.flash("Η δήλωση καταχωρίστηκε. Ελέγξτε το ποσό και πληρώστε το.")
    return redirect(f"/portal/business/declarations/{created['declaration_id']}")


async def render_declaration(
    request: Request, api: Api, declaration_id: uuid.UUID, errors: FormErrors | None = None
) -> Response:
    declaration = await api.get(f"/business/tax-declarations/{declaration_id}")
    return await render(
        request,
        "business/declaration_detail.html",
        **page_context(
            title=f"Δήλωση: {period_name(declaration)}",
            declaration=declaration,
            payable=declaration["status"] in ("quoted", "payment_pending"),
            rate=percent(declaration["breakdown"]["rate_basis_points"]),
            rejection=REJECTION_REASONS.get(declaration.get("rejection_reason") or ""),
            history_events=DECLARATION_EVENTS,
            idempotency_key=str(uuid.uuid4()),
            errors=errors,
        ),
        status_code=409 if errors else 200,
    )


@router.get("/portal/business/declarations/{declaration_id}")
async def declaration_detail(
    request: Request, api: Api, user: BusinessUser, declaration_id: uuid.UUID
) -> Response:
    return await render_declaration(request, api, declaration_id)


@router.post("/portal/business/declarations/{declaration_id}/payment")
async def pay_declaration(
    request: Request,
    api: Api,
    user: BusinessUser,
    form: CheckedForm,
    declaration_id: uuid.UUID,
) -> Response:
    page = f"/portal/business/declarations/{declaration_id}"
    try:
        payment = await start_payment(
            api, f"/business/tax-declarations/{declaration_id}/payment", form
        )
    except PaymentRefused as refused:
        return await render_declaration(request, api, declaration_id, refused.errors)
    if payment["redirect_url"] is None:  # a period without receipts: accepted, nothing to pay
        request.state.session.flash("Η δήλωση έγινε δεκτή: δεν υπάρχει ποσό για πληρωμή.")
        return redirect(page)
    declaration = await api.get(f"/business/tax-declarations/{declaration_id}")
    return await render_to_bank(request, payment, f"Δήλωση: {period_name(declaration)}", page)


# --- B-3: assessed debts --------------------------------------------------------------------


@router.get("/portal/business/debts")
async def debts(request: Request, api: Api, user: BusinessUser) -> Response:
    open_debts = await api.get("/business/debts", params={"limit": 500})
    paid_debts = await api.get("/business/debts", params={"status": "paid", "limit": 500})
    return await render(
        request,
        "business/debts.html",
        **page_context(title="Βεβαιωμένες οφειλές", open=open_debts, paid=paid_debts),
    )


def debt_page(debt_id: str) -> str:
    return f"/portal/business/debts/{quote(debt_id, safe='')}"


async def render_debt(
    request: Request, api: Api, debt_id: str, errors: FormErrors | None = None
) -> Response:
    debt = await api.get(f"/business/debts/{quote(debt_id, safe='')}")
    return await render(
        request,
        "business/debt_detail.html",
        **page_context(
            title=f"Οφειλή {debt['debt_id']}",
            debt=debt,
            payable=debt["status"] in ("open", "payment_pending"),
            page_url=debt_page(debt["debt_id"]),
            idempotency_key=str(uuid.uuid4()),
            errors=errors,
        ),
        status_code=409 if errors else 200,
    )


@router.get("/portal/business/debts/{debt_id}")
async def debt_detail(request: Request, api: Api, user: BusinessUser, debt_id: str) -> Response:
    return await render_debt(request, api, debt_id)


@router.post("/portal/business/debts/{debt_id}/payment")
async def pay_debt(
    request: Request, api: Api, user: BusinessUser, form: CheckedForm, debt_id: str
) -> Response:
    try:
        payment = await start_payment(
            api, f"/business/debts/{quote(debt_id, safe='')}/payment", form
        )
    except PaymentRefused as refused:
        return await render_debt(request, api, debt_id, refused.errors)
    return await render_to_bank(request, payment, f"Οφειλή {debt_id}", debt_page(debt_id))


# --- paying at the bank ---------------------------------------------------------------------


class PaymentRefused(Exception):
    """The API would not start the payment (already paid, rejected, another one open)."""

    def __init__(self, errors: FormErrors) -> None:
        super().__init__(errors.summary[0].message if errors else "")
        self.errors = errors


async def start_payment(api: Api, path: str, form: CheckedForm) -> dict[str, Any]:
    """The payment the API starts ({payment_id, redirect_url, amount}), with the form's own
    Idempotency-Key; `PaymentRefused` with the API's Greek words if it will not."""
    key = str(form.get("idempotency_key") or "") or None
    try:
        return await api.post(path, idempotency_key=key)
    except ApiError as error:
        if not error.is_refusal:
            raise
        raise PaymentRefused(form_errors(error)) from error


async def render_to_bank(
    request: Request, payment: dict[str, Any], what: str, page: str
) -> Response:
    return await render(
        request,
        "business/to_bank.html",
        title="Πληρωμή με κάρτα",
        payment=payment,
        what=what,
        back=page,
    )
