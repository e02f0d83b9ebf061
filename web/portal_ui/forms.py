"""Forms: what was typed, and the API's refusal turned into Greek errors for the form.

A form page does, on POST:

    values = form_values(form, FIELDS)             # what was typed, to re-render it
    try:
        await api.post("/requests", json=payload(values))
    except ApiError as error:
        if not error.is_refusal:
            raise                                   # 401/403/404/5xx: the error pages
        return await render(request, TEMPLATE, values=values,
                            errors=form_errors(error, FIELDS), status_code=422)

and the template shows `{{ fields.error_summary(errors) }}` at the top and passes `values` and
`errors` to each field macro (macros.html), which prints its error beside it. `FIELDS` maps the
form's field names (= the API's) to their Greek labels.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import FormData

from portal_ui.errors import ApiError

# Pydantic's error `type` (the API's details[].type) -> a Greek sentence.
# "{n}" is filled with the number the API's own message names (a length, a bound).
TYPE_MESSAGES = {
    "missing": "Συμπληρώστε το πεδίο.",
    "string_too_short": "Πρέπει να έχει τουλάχιστον {n} χαρακτήρες.",
    "too_short": "Πρέπει να έχει τουλάχιστον {n} χαρακτήρες.",
    "string_too_long": "Πρέπει να έχει το πολύ {n} χαρακτήρες.",
    "too_long": "Πρέπει να έχει το πολύ {n} χαρακτήρες.",
    "string_type": "Συμπληρώστε κείμενο.",
    "enum": "Επιλέξτε μία από τις τιμές της λίστας.",
    "literal_error": "Επιλέξτε μία από τις τιμές της λίστας.",
    "date_from_datetime_parsing": "Γράψτε μια έγκυρη ημερομηνία.",
    "date_parsing": "Γράψτε μια έγκυρη ημερομηνία.",
    "date_type": "Γράψτε μια έγκυρη ημερομηνία.",
    "datetime_parsing": "Γράψτε μια έγκυρη ημερομηνία και ώρα.",
    "datetime_from_date_parsing": "Γράψτε μια έγκυρη ημερομηνία και ώρα.",
    "date_future": "Η ημερομηνία πρέπει να είναι μελλοντική.",
    "date_past": "Η ημερομηνία πρέπει να είναι παρελθοντική.",
    "int_parsing": "Γράψτε έναν ακέραιο αριθμό.",
    "int_type": "Γράψτε έναν ακέραιο αριθμό.",
    "float_parsing": "Γράψτε έναν αριθμό.",
    "decimal_parsing": "Γράψτε έναν αριθμό.",
    "greater_than": "Πρέπει να είναι μεγαλύτερο από {n}.",
    "greater_than_equal": "Πρέπει να είναι τουλάχιστον {n}.",
    "less_than": "Πρέπει να είναι μικρότερο από {n}.",
    "less_than_equal": "Πρέπει να είναι το πολύ {n}.",
    "string_pattern_mismatch": "Η μορφή της τιμής δεν είναι έγκυρη.",
    "extra_forbidden": "Το πεδίο δεν ισχύει για τον λογαριασμό σας.",
    "uuid_parsing": "Η τιμή δεν είναι έγκυρη.",
}

# The API's error `code` (a whole refusal, or details[].problem) -> a Greek sentence, for the
# codes whose message is not already in Greek. Codes naming one field put it beside that field.
CODE_MESSAGES = {
    "unknown": "Επιλέξτε μία από τις τιμές της λίστας.",
    "invalid_input": "Ορισμένα πεδία δεν συμπληρώθηκαν σωστά.",
    "idempotency_key_reused": "Η φόρμα υποβλήθηκε ήδη με άλλα στοιχεία. Ανοίξτε την ξανά.",
    "too_many_requests": "Πάρα πολλές προσπάθειες. Δοκιμάστε ξανά σε λίγα λεπτά.",
    "rate_limited": "Πάρα πολλές προσπάθειες. Δοκιμάστε ξανά σε λίγα λεπτά.",
}
CODE_FIELDS = {"email_taken": "email", "unknown_category": "category"}

# Field-specific wording where the generic sentence would say something odd.
FIELD_MESSAGES = {
    ("email", "value_error"): "Γράψτε μια έγκυρη διεύθυνση e-mail, π.χ. onoma@example.gr.",
    # staff accounts (ID-4): identity's own check names the field and carries no type
    ("department", ""): "Επιλέξτε μία υπηρεσία από τη λίστα: κάθε υπάλληλος ανήκει σε μία.",
    # certificates (C-2, C-3); type "": the service's own checks, after validation
    ("property.electricity_supply_number", "value_error"): (
        "Γράψτε τον αριθμό παροχής όπως είναι τυπωμένος στον λογαριασμό ρεύματος: 12 ψηφία, "
        "π.χ. 1 23456789-02 5."
    ),
    ("certificate_type", ""): "Επιλέξτε ένα είδος πιστοποιητικού από τη λίστα.",
    ("delivery_method", ""): "Επιλέξτε έναν τρόπο παράδοσης από τη λίστα.",
    ("delivery_address", ""): "Συμπληρώστε τη διεύθυνση για την ταχυδρομική αποστολή.",
    # fines (F-2, F-3)
    ("fine_number", "value_error"): "Γράψτε τον αριθμό της κλήσης: έως 15 γράμματα και ψηφία.",
    ("plate", "value_error"): (
        "Γράψτε τον αριθμό κυκλοφορίας: 2 έως 10 γράμματα και ψηφία, π.χ. ΥΖΑ-1234."
    ),
    ("issued_at", "value_error"): "Η ημερομηνία της κλήσης δεν μπορεί να είναι μελλοντική.",
}

GENERIC = "Η τιμή δεν είναι έγκυρη."
_GREEK = re.compile(r"[\u0370-\u03ff\u1f00-\u1fff]")
_ENGLISH_ASIDE = re.compile(r"\s*\([^()]*[A-Za-z][^()]*\)")
_NUMBER = re.compile(r"(\d+(?:[.,]\d+)?)")


@dataclass(frozen=True)
class FieldError:
    field: str | None  # None: about the whole form
    message: str
    label: str | None = None

    @property
    def summary(self) -> str:
        return f"{self.label}: {self.message}" if self.label else self.message


@dataclass
class FormErrors:
    """Errors for a form: `summary` for the top of the form, `for_field(name)` beside a field."""

    items: list[FieldError] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.items)

    @property
    def summary(self) -> list[FieldError]:
        return self.items

    def for_field(self, name: str) -> str | None:
        messages = [item.message for item in self.items if item.field == name]
        return " ".join(messages) or None


def greek(message: str | None) -> str | None:
    """The API's own message if it is Greek, without its English aside «(e-mail taken)»."""
    if message and _GREEK.search(message):
        return _ENGLISH_ASIDE.sub("", message).strip()
    return None


def detail_message(detail: Mapping[str, Any], refusal: str | None = None) -> str:
    """One of the API's details[] ({field, problem, type}) as a Greek sentence; `refusal` is
    the whole error's message, used when the detail is the API's own (no validation `type`)."""
    field_name, problem = str(detail.get("field", "")), str(detail.get("problem", ""))
    kind = str(detail.get("type", ""))
    numbers = _NUMBER.findall(problem)
    if message := FIELD_MESSAGES.get((field_name, kind)):
        return message
    if message := greek(problem):
        return message
    if template := TYPE_MESSAGES.get(kind):
        return template.format(n=numbers[0] if numbers else "")
    if not kind and (message := greek(refusal)):
        return message
    return CODE_MESSAGES.get(problem, GENERIC)


def form_errors(error: ApiError, labels: Mapping[str, str] | None = None) -> FormErrors:
    """An API refusal as errors of the form whose fields are `labels` (name -> Greek label)."""
    labels = labels or {}
    items = [
        FieldError(name, detail_message(detail, error.message), labels.get(name, name))
        for detail in error.field_details
        for name in [str(detail["field"]).split(".")[-1]]
    ]
    if not items:
        message = greek(error.message) or CODE_MESSAGES.get(error.code) or GENERIC
        name = CODE_FIELDS.get(error.code)
        items.append(FieldError(name, message, labels.get(name) if name else None))
    return FormErrors(items)


def form_values(form: FormData, names: Mapping[str, Any] | list[str]) -> dict[str, str]:
    """The typed values of the named fields, trimmed, to send and to show again."""
    return {name: str(form.get(name) or "").strip() for name in names}


def payload(values: Mapping[str, str], *, keep_empty: tuple[str, ...] = ()) -> dict[str, Any]:
    """The API body: empty optional fields left out (the API reads them as not given);
    `keep_empty` names fields sent even empty, for the API to say they are required."""
    return {k: v for k, v in values.items() if v or k in keep_empty}
