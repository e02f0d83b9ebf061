"""The catalogue as data and what a fine costs over time (SPEC F-2, F-5): unit tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fines_service.catalogue import (
    ATHENS,
    Catalogue,
    CatalogueInvalid,
    SurchargeSchedule,
    quote,
)
from portal_events.payables import format_euros

SCHEDULE = SurchargeSchedule(
    grace_days=60, monthly_basis_points=73, cap_percent=100, max_quote_validity=timedelta(hours=24)
)
ISSUED = datetime(2026, 1, 10, 18, 30, tzinfo=ATHENS)
# The last day of grace is 11 March (60 days after 10 January); late from 12 March 00:00 Athens.
LATE_FROM = datetime(2026, 3, 12, tzinfo=ATHENS)


def athens(*args: int) -> datetime:
    return datetime(*args, tzinfo=ATHENS)


def test_shipped_catalogue_loads_with_payable_and_non_payable_types_f2():
    catalogue = Catalogue.load()
    assert catalogue.municipality_code == "5101"
    payable = [t.code for t in catalogue.payable_types]
    assert "P-69" in payable
    assert "KOK-TROXAIA" in catalogue.fine_types and "KOK-TROXAIA" not in payable
    assert all(isinstance(t.amount, int) and t.amount > 0 for t in catalogue.fine_types.values())


def test_an_impossible_catalogue_is_refused():
    raw = (
        '[municipality]\ncode = "1"\nname = "x"\n'
        '[[fine_types]]\ncode = "A"\ndescription = "a"\namount = -5\n'
        "payable_to_municipality = true\n"
        "[surcharges]\ngrace_days = 1\nmonthly_surcharge_basis_points = 1\n"
        "surcharge_cap_percent = 1\n[quotes]\nmax_validity_hours = 1\n"
    )
    with pytest.raises(CatalogueInvalid):
        Catalogue.parse(raw)
    with pytest.raises(CatalogueInvalid):
        Catalogue.parse(raw.replace("[surcharges]", "[nothing]"))


def test_within_grace_the_base_amount_holds_until_the_grace_ends_f5():
    now = athens(2026, 3, 11, 23, 0)  # the last day of grace, late evening
    q = quote(8000, ISSUED, now, SCHEDULE)
    assert (q.base, q.surcharges, q.total) == (8000, 0, 8000)
    assert q.valid_until == LATE_FROM  # the amount changes at midnight
    assert q.is_valid_at(now) and not q.is_valid_at(LATE_FROM)


def test_a_quote_holds_at_most_the_maximum_validity_f5():
    now = athens(2026, 1, 11, 9, 0)
    q = quote(8000, ISSUED, now, SCHEDULE)
    assert q.valid_until == now + timedelta(hours=24)
    assert q.computed_at == now.astimezone(UTC)


@pytest.mark.parametrize(
    ("now", "months", "valid_until"),
    [
        (athens(2026, 3, 12, 0, 0), 1, athens(2026, 4, 12)),  # the first moment late
        (athens(2026, 4, 11, 23, 59), 1, athens(2026, 4, 12)),  # still the first month
        (athens(2026, 4, 12, 0, 0), 2, athens(2026, 5, 12)),
        (athens(2027, 3, 20, 12, 0), 13, athens(2027, 4, 12)),
    ],
)
def test_each_month_or_part_of_a_month_late_adds_the_surcharge_f5(now, months, valid_until):
    q = quote(8000, ISSUED, now, SCHEDULE)
    # 0.73 % of 80,00 € = 58.4 cents a month, rounded half up on the total.
    assert q.surcharges == (8000 * 73 * months + 5000) // 10000
    assert q.total == 8000 + q.surcharges
    assert q.valid_until == min(valid_until, now + timedelta(hours=24))


def test_surcharges_stop_at_the_cap_and_the_quote_then_only_ages_f5():
    now = ISSUED + timedelta(days=365 * 20)
    q = quote(8000, ISSUED, now, SCHEDULE)
    assert (q.surcharges, q.total) == (8000, 16000)
    assert q.valid_until == now + timedelta(hours=24)


def test_quotes_grow_monotonically_over_time_f5():
    totals = [
        quote(3000, ISSUED, ISSUED + timedelta(days=day), SCHEDULE).total
        for day in range(0, 6000, 7)
    ]
    assert totals == sorted(totals)
    assert totals[0] == 3000 and totals[-1] == 6000


def test_month_ends_are_clamped():
    """Late from 31 January: the second month starts on 28 February (no 31st)."""
    issued = athens(2025, 12, 1, 10, 0)  # + 60 days: 30 January; late from 31 January
    assert quote(10000, issued, athens(2026, 2, 27, 12, 0), SCHEDULE).surcharges == 73
    assert quote(10000, issued, athens(2026, 2, 28, 0, 0), SCHEDULE).surcharges == 146


def test_greek_amount_format_is_for_human_text():
    assert format_euros(123456) == "1.234,56 €"
    assert format_euros(3000) == "30,00 €"
    assert format_euros(5) == "0,05 €"
