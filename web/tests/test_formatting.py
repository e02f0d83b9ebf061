"""Greek formats of dates and amounts (issue 11: «dates and amounts in Greek format»)."""

from datetime import date

from portal_ui.formatting import amount, date_gr, datetime_gr, kind_gr, status_gr


def test_an_api_instant_is_shown_in_athens_time():
    assert datetime_gr("2026-11-26T12:05:00Z") == "26/11/2026 14:05"  # winter: UTC+2
    assert datetime_gr("2026-07-01T09:30:00+00:00") == "01/07/2026 12:30"  # summer: UTC+3
    assert datetime_gr(None) == ""


def test_dates_are_day_month_year():
    assert date_gr("1985-04-12") == "12/04/1985"
    assert date_gr(date(2026, 1, 2)) == "02/01/2026"
    assert date_gr("2026-12-31T23:30:00Z") == "01/01/2027"  # the date in Athens


def test_amounts_in_cents_are_euros_with_greek_separators():
    assert amount(123456) == "1.234,56 €"
    assert amount(5) == "0,05 €"
    assert amount(100000000) == "1.000.000,00 €"
    assert amount(-2550) == "-25,50 €"
    assert amount(None) == ""


def test_statuses_and_kinds_are_named_in_greek_and_unknown_ones_shown_as_they_are():
    assert status_gr("in_progress") == "Σε εξέλιξη"
    assert kind_gr("complaint") == "Καταγγελία"
    assert status_gr("something_new") == "something_new"
