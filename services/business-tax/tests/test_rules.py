"""The municipal tax's rules (SPEC B-2, B-3), table-driven from the shipped rules.toml: the tax of
every category, the filing deadline of monthly and quarterly periods, the surcharges over time
(none before the deadline, then per month or part of a month, up to the cap), an assessed debt's
surcharges, how long a quote holds, and the checks of a declaration's fields."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from business_service.rules import (
    BASIS_POINTS,
    Period,
    Rules,
    RulesInvalid,
    check_declaration,
    debt_quote,
    declaration_quote,
)
from portal_events.payables import ATHENS

RULES = Rules.load()
SCHEDULE = RULES.surcharges
REVENUE = 1_234_567  # 12.345,67 €


def athens(*args: int) -> datetime:
    return datetime(*args, tzinfo=ATHENS)  # type: ignore[misc]


def test_the_shipped_rules_are_the_laws_numbers_b2():
    """0.5 % and 5 % (art. 20 ν. 2539/1997), the month after the period, 0.73 % a month up to
    100 % (ΚΕΔΕ), 30 days for an assessed debt, quotes for at most a day."""
    assert RULES.rates == {"standard": 50, "special": 500}
    assert RULES.deadline_months_after_period_end == 1
    assert (SCHEDULE.monthly_basis_points, SCHEDULE.cap_percent) == (73, 100)
    assert RULES.debt_payable_within_days == 30
    assert RULES.max_quote_validity == timedelta(hours=24)


@pytest.mark.parametrize("category", sorted(RULES.rates))
@pytest.mark.parametrize("revenue", [0, 1, 99, 100, REVENUE, 10**13])
def test_tax_is_the_categorys_rate_of_the_receipts_rounded_half_up_b2(category, revenue):
    rate = RULES.rates[category]
    quote = declaration_quote(
        RULES, category, revenue, Period("quarterly", 1, 2026), athens(2026, 4, 10)
    )
    exact = revenue * rate / BASIS_POINTS
    assert abs(quote.tax - exact) <= 0.5
    assert quote.tax == int(exact + 0.5)  # halves up
    assert quote.breakdown["rate_basis_points"] == rate
    assert (quote.surcharges, quote.total) == (0, quote.tax)


def test_half_a_cent_rounds_up_b2():
    # 100 cents at 0.5 % = 0.5 cent -> 1 cent; 99 cents -> 0.495 -> 0.
    period = Period("monthly", 1, 2026)
    assert declaration_quote(RULES, "standard", 100, period, athens(2026, 2, 1)).tax == 1
    assert declaration_quote(RULES, "standard", 99, period, athens(2026, 2, 1)).tax == 0


def test_a_category_the_rules_lack_is_refused_not_taxed_at_zero():
    with pytest.raises(RulesInvalid):
        declaration_quote(RULES, "unknown", REVENUE, Period("monthly", 1, 2026), athens(2026, 2, 1))


@pytest.mark.parametrize(
    ("period", "deadline"),
    [
        (Period("monthly", 1, 2026), date(2026, 2, 28)),
        (Period("monthly", 1, 2024), date(2024, 2, 29)),  # a leap year
        (Period("monthly", 2, 2026), date(2026, 3, 31)),
        (Period("monthly", 12, 2025), date(2026, 1, 31)),  # into the next year
        (Period("quarterly", 1, 2026), date(2026, 4, 30)),
        (Period("quarterly", 2, 2026), date(2026, 7, 31)),
        (Period("quarterly", 3, 2026), date(2026, 10, 31)),
        (Period("quarterly", 4, 2025), date(2026, 1, 31)),
    ],
)
def test_the_filing_deadline_is_the_last_day_of_the_month_after_the_period_b2(period, deadline):
    assert RULES.deadline(period) == deadline


@pytest.mark.parametrize(
    ("period", "start", "end", "code", "label"),
    [
        (Period("monthly", 3, 2026), date(2026, 3, 1), date(2026, 3, 31), "2026M03", "03/2026"),
        (Period("monthly", 2, 2028), date(2028, 2, 1), date(2028, 2, 29), "2028M02", "02/2028"),
        (Period("quarterly", 1, 2026), date(2026, 1, 1), date(2026, 3, 31), "2026Q01", "Q1 2026"),
        (Period("quarterly", 4, 2026), date(2026, 10, 1), date(2026, 12, 31), "2026Q04", "Q4 2026"),
    ],
)
def test_a_period_knows_its_dates_and_names(period, start, end, code, label):
    assert (period.start, period.end, period.code, period.label) == (start, end, code, label)


# Q1 2026, due 30 April 2026: late from 1 May 2026 00:00 Athens.
LATE_FROM = athens(2026, 5, 1)
Q1 = Period("quarterly", 1, 2026)


def monthly_surcharge(base: int, months: int) -> int:
    exact = base * SCHEDULE.monthly_basis_points * months / BASIS_POINTS
    return min(int(exact + 0.5), base * SCHEDULE.cap_percent // 100)


@pytest.mark.parametrize(
    ("now", "months_late"),
    [
        (athens(2026, 4, 1), 0),
        (LATE_FROM - timedelta(seconds=1), 0),  # the deadline's last second
        (LATE_FROM, 1),  # a month started: a whole month's surcharge
        (athens(2026, 5, 31, 23, 59), 1),
        (athens(2026, 6, 1), 2),
        (athens(2026, 12, 15), 8),
        (athens(2027, 5, 1), 13),
    ],
)
def test_surcharges_run_per_month_or_part_of_a_month_after_the_deadline_b2(now, months_late):
    quote = declaration_quote(RULES, "standard", REVENUE, Q1, now)
    assert quote.breakdown["months_late"] == months_late
    assert quote.surcharges == monthly_surcharge(quote.tax, months_late)
    assert quote.total == quote.tax + quote.surcharges
    assert quote.breakdown["deadline"] == "2026-04-30"


def test_surcharges_never_exceed_the_cap_b2():
    months_to_cap = -(-100 * SCHEDULE.cap_percent // SCHEDULE.monthly_basis_points)  # 137
    capped_at = athens(2026 + (4 + months_to_cap) // 12, (4 + months_to_cap) % 12 + 1, 1)
    for now in (capped_at, capped_at.replace(year=capped_at.year + 20)):
        quote = declaration_quote(RULES, "standard", REVENUE, Q1, now)
        cap = quote.tax * SCHEDULE.cap_percent // 100
        assert quote.surcharges == cap == quote.breakdown["surcharge_cap"]
    below = declaration_quote(RULES, "standard", REVENUE, Q1, athens(2037, 1, 1))
    assert below.surcharges < below.tax * SCHEDULE.cap_percent // 100


@pytest.mark.parametrize(
    ("now", "valid_until"),
    [
        # far from a change: the longest validity
        (athens(2026, 4, 1, 12), athens(2026, 4, 2, 12)),
        # the deadline passes first: the quote ends when its surcharges change
        (athens(2026, 4, 30, 18), LATE_FROM),
        (athens(2026, 5, 31, 20), athens(2026, 6, 1)),
        (athens(2026, 5, 10, 9), athens(2026, 5, 11, 9)),
        # capped: nothing changes any more, the longest validity
        (athens(2060, 1, 1), athens(2060, 1, 2)),
    ],
)
def test_a_quote_holds_until_its_amount_changes_and_at_most_a_day_b2(now, valid_until):
    quote = declaration_quote(RULES, "standard", REVENUE, Q1, now)
    assert quote.valid_until == valid_until
    assert quote.computed_at == now
    assert quote.computed_at.tzinfo == quote.valid_until.tzinfo == UTC


ASSESSED = date(2026, 3, 10)  # payable until 9 April; surcharges from 10 April 00:00


@pytest.mark.parametrize(
    ("now", "months_late"),
    [
        (athens(2026, 3, 10, 12), 0),
        (athens(2026, 4, 9, 23, 59), 0),
        (athens(2026, 4, 10), 1),
        (athens(2026, 5, 9, 23), 1),
        (athens(2026, 5, 10), 2),
        (athens(2060, 1, 1), None),  # capped
    ],
)
def test_an_assessed_debt_runs_surcharges_after_its_payable_days_b3(now, months_late):
    principal = 42_000
    quote = debt_quote(RULES, principal, ASSESSED, now)
    assert (
        quote.breakdown["due_date"]
        == (ASSESSED + timedelta(days=RULES.debt_payable_within_days)).isoformat()
    )
    if months_late is None:
        assert quote.surcharges == principal * SCHEDULE.cap_percent // 100
    else:
        assert quote.breakdown["months_late"] == months_late
        assert quote.surcharges == monthly_surcharge(principal, months_late)
    assert (quote.tax, quote.total) == (principal, principal + quote.surcharges)


def test_other_rules_data_change_the_amounts_without_code():
    rules = Rules.parse(
        """
        [rates]
        standard = 100
        [deadlines]
        months_after_period_end = 2
        [surcharges]
        monthly_basis_points = 100
        cap_percent = 5
        [debts]
        payable_within_days = 0
        [quotes]
        max_validity_hours = 1
        """
    )
    assert rules.deadline(Q1) == date(2026, 5, 31)
    quote = declaration_quote(rules, "standard", 1_000_000, Q1, athens(2027, 1, 1))
    assert (quote.tax, quote.surcharges) == (10_000, 500)  # 8 months at 1 %, capped at 5 %
    assert quote.valid_until == athens(2027, 1, 1, 1)


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "[rates]\nstandard = 50",
        "[rates]\nstandard = -1\n[deadlines]\nmonths_after_period_end = 1\n[surcharges]\n"
        "monthly_basis_points = 73\ncap_percent = 100\n[debts]\npayable_within_days = 30\n"
        "[quotes]\nmax_validity_hours = 24",
        "[rates]\nstandard = 50\n[deadlines]\nmonths_after_period_end = 1\n[surcharges]\n"
        "monthly_basis_points = 73\ncap_percent = 100\n[debts]\npayable_within_days = 30\n"
        "[quotes]\nmax_validity_hours = 0",
    ],
)
def test_incomplete_or_impossible_rules_are_refused_at_start(raw):
    with pytest.raises(RulesInvalid):
        Rules.parse(raw)


TODAY = date(2026, 5, 15)


@pytest.mark.parametrize(
    ("fields", "wrong"),
    [
        ({}, set()),
        ({"period_type": "yearly"}, {"period_type"}),
        ({"period": 0}, {"period"}),
        ({"period": 13}, {"period"}),
        ({"period_type": "quarterly", "period": 5}, {"period"}),
        ({"period_type": "quarterly", "period": 0}, {"period"}),
        ({"year": 1999}, {"year"}),
        ({"year": 10_000}, {"year"}),
        # a period not over yet (the current month, a future one)
        ({"period": 5, "vat_return_date": TODAY}, {"period"}),
        ({"period": 6, "vat_return_date": TODAY}, {"period"}),
        ({"year": 2027, "vat_return_date": TODAY}, {"period"}),
        ({"period_type": "quarterly", "period": 2, "vat_return_date": TODAY}, {"period"}),
        ({"period_type": "quarterly", "period": 1}, set()),
        # the VAT return: on or after the period's end, not in the future
        ({"vat_return_date": date(2026, 4, 29)}, {"vat_return_date"}),
        ({"vat_return_date": date(2026, 4, 30)}, set()),
        ({"vat_return_date": TODAY}, set()),
        ({"vat_return_date": TODAY + timedelta(days=1)}, {"vat_return_date"}),
        # the receipts
        ({"gross_revenue": 0}, set()),
        ({"gross_revenue": -1}, {"gross_revenue"}),
        ({"period": 13, "gross_revenue": -1}, {"period", "gross_revenue"}),
    ],
)
def test_a_declarations_fields_are_checked_each_naming_its_field_b2(fields, wrong):
    declaration = {
        "period_type": "monthly",
        "period": 4,
        "year": 2026,
        "gross_revenue": REVENUE,
        "vat_return_date": date(2026, 5, 10),
    } | fields
    assert set(check_declaration(**declaration, today=TODAY)) == wrong


def test_a_period_that_ended_yesterday_may_be_declared_today_b2():
    april = {"period_type": "monthly", "period": 4, "year": 2026, "gross_revenue": 1}
    next_day = check_declaration(**april, vat_return_date=date(2026, 5, 1), today=date(2026, 5, 1))
    assert next_day == {}
    on_its_last_day = check_declaration(
        **april, vat_return_date=date(2026, 4, 30), today=date(2026, 4, 30)
    )
    assert set(on_its_last_day) == {"period"}
