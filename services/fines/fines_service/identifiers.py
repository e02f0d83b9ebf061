"""How fines are identified: plates and fine numbers as people type them, and RF codes.

Plates: Greek plates use only the 14 capital letters that have a Latin look-alike
(ΑΒΕΖΗΙΚΜΝΟΡΤΥΧ ↔ ABEZHIKMNOPTYX), and people type either alphabet, with spaces or dashes. The
normal form is upper case, Latin, letters and digits only: "ΥΖΑ-1234", "yza 1234" and "YZA1234"
are one plate. Fine numbers: upper case, spaces and dashes dropped.

RF codes (ISO 11649, made and checked by `portal_events.payables`): the fines service gives
every fine the reference <municipality code><fine number>, as Greek public bodies print an RF
code on their bills; `normalise_rf` reads one as people type it.
"""

from __future__ import annotations

import re

from portal_events.payables import RF_SHAPE, is_valid_rf, rf_code

GREEK_LOOKALIKES = "ΑΒΕΖΗΙΚΜΝΟΡΤΥΧ"
LATIN_LOOKALIKES = "ABEZHIKMNOPTYX"
_TO_LATIN = str.maketrans(GREEK_LOOKALIKES, LATIN_LOOKALIKES)
_TO_GREEK = str.maketrans(LATIN_LOOKALIKES, GREEK_LOOKALIKES)
_SEPARATORS = re.compile(r"[\s\-‐‑‒–—]+")  # spaces and every kind of dash

PLATE_SHAPE = re.compile(r"^[A-Z0-9]{2,10}$")
FINE_NUMBER_SHAPE = re.compile(r"^[A-Z0-9]{1,15}$")


def normalise_plate(typed: str) -> str:
    """The plate's normal form; ValueError if it is not shaped like a plate."""
    plate = _SEPARATORS.sub("", typed).upper().translate(_TO_LATIN)
    if not PLATE_SHAPE.match(plate):
        raise ValueError("must be 2 to 10 letters and digits (spaces and dashes are ignored)")
    return plate


def plate_for_display(plate: str) -> str:
    """A normalised plate as printed on it: Greek letters, if every letter has a Greek twin
    (a Greek plate); else as it is (a foreign plate)."""
    letters = {ch for ch in plate if ch.isalpha()}
    if letters <= set(LATIN_LOOKALIKES):
        return plate.translate(_TO_GREEK)
    return plate


def normalise_fine_number(typed: str) -> str:
    """The fine number's normal form; ValueError if it is not shaped like one."""
    number = _SEPARATORS.sub("", typed).upper()
    if not FINE_NUMBER_SHAPE.match(number):
        raise ValueError("must be 1 to 15 letters and digits (spaces and dashes are ignored)")
    return number


def normalise_rf(typed: str) -> str:
    """An RF code as typed (spaces allowed, as printed in groups of four, any case) in its normal
    form; ValueError if it is malformed or its check digits are wrong."""
    code = _SEPARATORS.sub("", typed).upper()
    if not RF_SHAPE.match(code):
        raise ValueError("must be RF, two check digits and 1 to 21 letters or digits")
    if not is_valid_rf(code):
        raise ValueError("has wrong check digits")
    return code


def fine_reference(municipality_code: str, fine_number: str) -> str:
    """The RF code that identifies a fine: its municipality's code and its (normalised)
    number."""
    return rf_code(f"{municipality_code}{fine_number}")
