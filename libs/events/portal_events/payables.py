"""What every owner of a payable computes alike (fines, business tax; SPEC F-5, B-2, B-3): the RF
code that identifies it, its amount as Greek readers write it, and how many months late it is.

RF codes (ISO 11649 structured creditor reference): "RF", two check digits, then the reference
(1-21 letters or digits). The check digits make a mistyped code detectable: moving "RF" and the
digits to the end and reading letters as numbers (A=10 ... Z=35), the number is 1 mod 97. Greek
public bodies print one on every bill.

Late payment: Greek public debts grow by a surcharge for every month *or part of a month* of
delay, counted in calendar months of Athens time from the first late day; `months_started` and
`add_months` count them, `round_half_up` rounds a surcharge to the cent.
"""

from __future__ import annotations

import calendar
import re
from datetime import datetime
from zoneinfo import ZoneInfo

ATHENS = ZoneInfo("Europe/Athens")

RF_REFERENCE_SHAPE = re.compile(r"^[A-Z0-9]{1,21}$")
RF_SHAPE = re.compile(r"^RF[0-9]{2}[A-Z0-9]{1,21}$")


def _as_digits(text: str) -> int:
    return int("".join(str(int(ch, 36)) for ch in text))


def rf_code(reference: str) -> str:
    """The RF code of `reference` (1-21 letters or digits, upper case)."""
    if not RF_REFERENCE_SHAPE.match(reference):
        raise ValueError(f"an RF reference is 1 to 21 letters or digits, not {reference!r}")
    check = 98 - _as_digits(reference + "RF00") % 97
    return f"RF{check:02d}{reference}"


def is_valid_rf(code: str) -> bool:
    """Whether `code` is a well-formed RF code with the right check digits."""
    return bool(RF_SHAPE.match(code)) and _as_digits(code[4:] + code[:4]) % 97 == 1


def format_euros(cents: int) -> str:
    """An amount as Greek readers write it: 123456 -> "1.234,56 €" (human-facing text only)."""
    euros, rest = divmod(abs(cents), 100)
    sign = "-" if cents < 0 else ""
    return f"{sign}{euros:,}".replace(",", ".") + f",{rest:02d} €"


def months_started(start: datetime, now: datetime) -> int:
    """How many months (the first one starting at `start`, Athens local) have started by `now`;
    0 before `start`."""
    if now < start:
        return 0
    local = now.astimezone(ATHENS)
    months = (local.year - start.year) * 12 + (local.month - start.month)
    # `months` whole months may not have passed yet (e.g. from the 31st): step back if so.
    if add_months(start, months) > now:
        months -= 1
    return months + 1


def add_months(moment: datetime, months: int) -> datetime:
    """`moment` (Athens local) `months` calendar months later, the day kept or clamped to the
    month's last day (31 Jan + 1 month = 28/29 Feb)."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def round_half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded to the nearest integer, halves up (non-negative)."""
    return (2 * numerator + denominator) // (2 * denominator)
