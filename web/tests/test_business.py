"""The business screens' own logic (issue 11; SPEC B-2): the revenue typed in euros becomes the
API's cents, and the business service's English refusals of a declaration become Greek
sentences beside their fields."""

import pytest
from portal_ui.errors import ApiError
from portal_ui.pages.business import declaration_errors, euros_to_cents, percent, period_name


@pytest.mark.parametrize(
    ("typed", "cents"),
    [
        ("12.345,67", 1_234_567),  # the Greek way
        ("12345,67", 1_234_567),
        ("12,345.67", 1_234_567),  # the English way, with its decimals
        ("12345.67", 1_234_567),
        ("1.234", 123_400),  # dots group thousands
        ("12345", 1_234_500),
        ("0,5", 50),
        ("1 234,50 €", 123_450),
        ("-100,00", -10_000),  # kept, for the API to refuse in its words
    ],
)
def test_revenue_in_euros_becomes_cents(typed, cents):
    assert euros_to_cents(typed) == cents


@pytest.mark.parametrize("typed", ["", "abc", "1,234", "12,3,4", "1.2.3", "12.34567", "1,234,5"])
def test_what_is_no_amount_is_refused(typed):
    assert euros_to_cents(typed) is None


def test_the_services_problems_become_greek_sentences_beside_their_fields():
    refused = ApiError(
        422,
        "invalid_input",
        "Η δήλωση δεν είναι σωστή. (The declaration is invalid.)",
        [
            {"field": "vat_return_date", "problem": "is before the period's end (2026-10-31)"},
            {"field": "gross_revenue", "problem": "must not be negative"},
            {"field": "period", "problem": "must be 1 to 4 for a quarterly filer"},
        ],
    )
    errors = declaration_errors(refused)
    assert errors.for_field("vat_return_date") == (
        "Δεν μπορεί να είναι πριν από το τέλος της περιόδου (31/10/2026)."
    )
    assert errors.for_field("gross_revenue") == "Δεν μπορεί να είναι αρνητικό ποσό."
    assert errors.for_field("period") == "Πρέπει να είναι από 1 έως 4."
    assert [item.summary for item in errors.summary][1] == (
        "Ακαθάριστα έσοδα (€): Δεν μπορεί να είναι αρνητικό ποσό."
    )


def test_pydantic_refusals_keep_the_common_greek_sentences():
    refused = ApiError(
        422,
        "invalid_input",
        "The request has invalid or missing fields.",
        [{"field": "year", "problem": "Input should be a valid integer", "type": "int_parsing"}],
    )
    assert declaration_errors(refused).for_field("year") == "Γράψτε έναν ακέραιο αριθμό."


def test_periods_and_rates_read_the_greek_way():
    assert period_name({"period_type": "monthly", "period": 3, "year": 2026}) == "Μάρτιος 2026"
    assert period_name({"period_type": "quarterly", "period": 2, "year": 2026}) == (
        "2ο τρίμηνο 2026"
    )
    assert (percent(50), percent(500), percent(73)) == ("0,5 %", "5 %", "0,73 %")
