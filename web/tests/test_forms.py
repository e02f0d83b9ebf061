"""The API's refusals as Greek form errors (issue 11: errors «in Greek, from the APIs' error
details», at the top of the form and beside each field)."""

from portal_ui.errors import ApiError
from portal_ui.forms import form_errors, greek, payload

LABELS = {"email": "E-mail", "password": "Κωδικός", "subject": "Θέμα", "category": "Κατηγορία"}


def refusal(status, code, message, details=None):
    return ApiError(status=status, code=code, message=message, details=details)


def test_validation_details_become_greek_sentences_beside_their_fields():
    errors = form_errors(
        refusal(
            422,
            "invalid_input",
            "The request has invalid or missing fields.",
            [
                {"field": "email", "problem": "Value error, not an e-mail", "type": "value_error"},
                {
                    "field": "password",
                    "problem": "Value should have at least 8 items after validation, not 1",
                    "type": "too_short",
                },
                {"field": "subject", "problem": "Field required", "type": "missing"},
            ],
        ),
        LABELS,
    )
    assert errors.for_field("email") == "Γράψτε μια έγκυρη διεύθυνση e-mail, π.χ. onoma@example.gr."
    assert errors.for_field("password") == "Πρέπει να έχει τουλάχιστον 8 χαρακτήρες."
    assert errors.for_field("subject") == "Συμπληρώστε το πεδίο."
    assert [item.summary for item in errors.summary][1:] == [
        "Κωδικός: Πρέπει να έχει τουλάχιστον 8 χαρακτήρες.",
        "Θέμα: Συμπληρώστε το πεδίο.",
    ]


def test_a_greek_problem_or_message_of_the_api_is_used_without_its_english_aside():
    errors = form_errors(
        refusal(
            422,
            "invalid_input",
            "The request has invalid or missing fields.",
            [{"field": "afm", "problem": "Μη έγκυρος ΑΦΜ (invalid tax id: check digit)"}],
        )
    )
    assert errors.for_field("afm") == "Μη έγκυρος ΑΦΜ"
    category = form_errors(
        refusal(
            422,
            "unknown_category",
            "Άγνωστη κατηγορία.",
            [{"field": "category", "problem": "unknown", "allowed": ["roads"]}],
        ),
        LABELS,
    )
    assert category.for_field("category") == "Άγνωστη κατηγορία."


def test_a_refusal_without_field_details_goes_to_its_field_or_the_top_of_the_form():
    taken = form_errors(
        refusal(409, "email_taken", "Το e-mail χρησιμοποιείται ήδη (e-mail already registered).")
    )
    assert taken.for_field("email") == "Το e-mail χρησιμοποιείται ήδη."
    wrong = form_errors(refusal(401, "invalid_credentials", "Λάθος e-mail ή κωδικός (wrong)."))
    assert [(item.field, item.summary) for item in wrong.summary] == [
        (None, "Λάθος e-mail ή κωδικός.")
    ]
    unknown = form_errors(refusal(409, "not_allowed", "Transition not allowed"))
    assert unknown.summary[0].message == "Η τιμή δεν είναι έγκυρη."


def test_greek_is_recognised_and_english_is_not():
    assert greek("Field required") is None
    assert greek("Θέμα (subject)") == "Θέμα"


def test_empty_optional_fields_are_left_out_of_the_api_body():
    values = {"subject": "", "text": "x", "desired_action": ""}
    assert payload(values) == {"text": "x"}
    assert payload(values, keep_empty=("subject",)) == {"subject": "", "text": "x"}
