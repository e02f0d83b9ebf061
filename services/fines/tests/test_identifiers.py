"""Plates, fine numbers and RF codes (SPEC F-3, issue 7): unit tests."""

from __future__ import annotations

import pytest
from fines_service.identifiers import (
    fine_reference,
    normalise_fine_number,
    normalise_plate,
    normalise_rf,
    plate_for_display,
)
from portal_events.payables import is_valid_rf, rf_code


@pytest.mark.parametrize(
    "typed", ["ΥΖΑ-1234", "υζα 1234", "YZA1234", "yza-1234", "ΥZΑ 12-34", " Υ Ζ Α – 1234 "]
)
def test_greek_and_latin_look_alikes_are_one_plate_f3(typed):
    assert normalise_plate(typed) == "YZA1234"


def test_every_greek_plate_letter_has_its_latin_twin_f3():
    for greek, latin in zip("ΑΒΕΖΗΙΚΜΝΟΡΤΥΧ", "ABEZHIKMNOPTYX", strict=True):
        assert normalise_plate(f"{greek}{greek.lower()}1") == f"{latin}{latin}1"


@pytest.mark.parametrize("typed", ["", "Α", "ΥΖΑ_1234", "ΔΖΑ1234", "ABCDEFGHIJK1"])
def test_what_is_not_a_plate_is_refused(typed):
    """Δ has no Latin twin: no Greek plate uses it, so it is a typo, not a plate."""
    with pytest.raises(ValueError):
        normalise_plate(typed)


def test_plates_are_shown_as_printed():
    assert plate_for_display("YZA1234") == "ΥΖΑ1234"
    assert plate_for_display("WOB1234") == "WOB1234"  # a foreign plate stays Latin


def test_fine_numbers_drop_spaces_and_dashes_f3():
    assert normalise_fine_number(" 2026-000 101 ") == "2026000101"
    assert normalise_fine_number("ab-12") == "AB12"
    with pytest.raises(ValueError):
        normalise_fine_number("12/34")


def test_rf_codes_follow_iso_11649():
    # The standard's own example.
    assert rf_code("539007547034") == "RF18539007547034"
    assert is_valid_rf("RF18539007547034")
    assert fine_reference("5101", "2026000101") == rf_code("51012026000101")


@pytest.mark.parametrize("wrong", ["RF19539007547034", "RF18539007547035", "RF1853900754703"])
def test_a_wrong_check_digit_is_refused(wrong):
    assert not is_valid_rf(wrong)
    with pytest.raises(ValueError, match="check digits"):
        normalise_rf(wrong)


def test_rf_codes_are_accepted_as_printed_in_groups():
    assert normalise_rf("rf18 5390 0754 7034") == "RF18539007547034"
    with pytest.raises(ValueError):
        normalise_rf("XX18539007547034")
