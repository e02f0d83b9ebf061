"""The municipal tax's rules as data (`rules.toml`), and what a declaration or an assessed debt
costs at a given moment (SPEC B-2, B-3).

Everything here is pure: `Period` knows its dates and deadline, `check_declaration` says which
fields of a declaration are wrong, `declaration_quote` and `debt_quote` compute tax and
surcharges from the rules at an instant, each quote saying until when it holds. The same input at
two moments may cost two amounts (the surcharges run by month or part of a month late).
"""

from __future__ import annotations

import calendar
import tomllib
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from portal_events.payables import ATHENS, add_months, months_started, round_half_up

PeriodType = Literal["monthly", "quarterly"]
PERIODS_PER_YEAR: dict[str, int] = {"monthly": 12, "quarterly": 4}
BASIS_POINTS = 10_000


class RulesInvalid(Exception):
    """The rules file is missing something or holds an impossible value."""


@dataclass(frozen=True)
class SurchargeSchedule:
    """`monthly_basis_points` of the amount per month or part of a month late, at most
    `cap_percent` of it."""

    monthly_basis_points: int
    cap_percent: int


@dataclass(frozen=True)
class Rules:
    rates: dict[str, int]  # category -> basis points of gross receipts
    deadline_months_after_period_end: int
    surcharges: SurchargeSchedule
    debt_payable_within_days: int
    max_quote_validity: timedelta

    @classmethod
    def load(cls, path: str | Path | None = None) -> Rules:
        """The rules at `path`, or the ones shipped with the service."""
        if path:
            raw = Path(path).read_text(encoding="utf-8")
        else:
            raw = resources.files("business_service").joinpath("rules.toml").read_text("utf-8")
        return cls.parse(raw)

    @classmethod
    def parse(cls, raw: str) -> Rules:
        try:
            data = tomllib.loads(raw)
            rules = cls(
                rates={str(k): int(v) for k, v in data["rates"].items()},
                deadline_months_after_period_end=int(data["deadlines"]["months_after_period_end"]),
                surcharges=SurchargeSchedule(
                    monthly_basis_points=int(data["surcharges"]["monthly_basis_points"]),
                    cap_percent=int(data["surcharges"]["cap_percent"]),
                ),
                debt_payable_within_days=int(data["debts"]["payable_within_days"]),
                max_quote_validity=timedelta(hours=float(data["quotes"]["max_validity_hours"])),
            )
        except (KeyError, TypeError, ValueError, AttributeError, tomllib.TOMLDecodeError) as exc:
            raise RulesInvalid(f"business tax rules: {exc!r}") from exc
        if not rules.rates or any(rate < 0 for rate in rules.rates.values()):
            raise RulesInvalid("business tax rules: rates must be given and not negative")
        if (
            min(
                rules.deadline_months_after_period_end,
                rules.surcharges.monthly_basis_points,
                rules.surcharges.cap_percent,
                rules.debt_payable_within_days,
            )
            < 0
        ):
            raise RulesInvalid("business tax rules: negative deadline or surcharge settings")
        if rules.max_quote_validity <= timedelta(0):
            raise RulesInvalid("business tax rules: quotes must hold for some time")
        return rules

    def rate(self, category: str) -> int:
        """The rate (basis points) of a category; RulesInvalid for one the rules do not know
        (the information system named a category this file lacks)."""
        try:
            return self.rates[category]
        except KeyError:
            raise RulesInvalid(f"business tax rules: no rate for category {category!r}") from None

    def deadline(self, period: Period) -> date:
        """The last day to file and pay for `period`."""
        last_month = add_months(
            datetime.combine(period.end.replace(day=1), time(), tzinfo=ATHENS),
            self.deadline_months_after_period_end,
        )
        days = calendar.monthrange(last_month.year, last_month.month)[1]
        return last_month.date().replace(day=days)


@dataclass(frozen=True)
class Period:
    """A tax period: a month (1-12) or a quarter (1-4) of a year."""

    period_type: PeriodType
    period: int
    year: int

    @property
    def first_month(self) -> int:
        return self.period if self.period_type == "monthly" else 3 * self.period - 2

    @property
    def last_month(self) -> int:
        return self.period if self.period_type == "monthly" else 3 * self.period

    @property
    def start(self) -> date:
        return date(self.year, self.first_month, 1)

    @property
    def end(self) -> date:
        return date(self.year, self.last_month, calendar.monthrange(self.year, self.last_month)[1])

    @property
    def code(self) -> str:
        """Compact, for references: "2026M03", "2026Q1"."""
        letter = "M" if self.period_type == "monthly" else "Q"
        return f"{self.year}{letter}{self.period:02d}"

    @property
    def label(self) -> str:
        """For people: "03/2026", "Q1 2026"."""
        if self.period_type == "monthly":
            return f"{self.period:02d}/{self.year}"
        return f"Q{self.period} {self.year}"


def check_declaration(
    *,
    period_type: str,
    period: int,
    year: int,
    gross_revenue: int,
    vat_return_date: date,
    today: date,
) -> dict[str, str]:
    """The problem with each wrong field of a declaration (empty: none), as of `today` (Athens):
    the period within 1-12 or 1-4 and over by today, the VAT return filed on or after the
    period's end and not after today, the revenue not negative."""
    problems: dict[str, str] = {}
    count = PERIODS_PER_YEAR.get(period_type)
    if count is None:
        problems["period_type"] = "must be monthly or quarterly"
    elif not 1 <= period <= count:
        problems["period"] = f"must be 1 to {count} for a {period_type} filer"
    if not 2000 <= year <= 9999:
        problems["year"] = "must be a year from 2000"
    if problems:
        return problems | _revenue_problem(gross_revenue)
    declared = Period(period_type, period, year)  # type: ignore[arg-type]
    if declared.end >= today:
        problems["period"] = "is not over yet: a period is declared after it ends"
    elif vat_return_date < declared.end:
        problems["vat_return_date"] = f"is before the period's end ({declared.end.isoformat()})"
    if vat_return_date > today:
        problems["vat_return_date"] = "is in the future"
    return problems | _revenue_problem(gross_revenue)


def _revenue_problem(gross_revenue: int) -> dict[str, str]:
    return {"gross_revenue": "must not be negative"} if gross_revenue < 0 else {}


@dataclass(frozen=True)
class Quote:
    """What is owed at `computed_at`, holding until `valid_until` (cents), and how it was
    computed (`breakdown`, shown before paying)."""

    tax: int
    surcharges: int
    total: int
    computed_at: datetime
    valid_until: datetime
    breakdown: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def declaration_quote(
    rules: Rules, category: str, gross_revenue: int, period: Period, now: datetime
) -> Quote:
    """The tax of `period` on `gross_revenue` for a business of `category`, with the
    surcharges it owes at `now` if that is after the filing deadline."""
    rate = rules.rate(category)
    tax = round_half_up(gross_revenue * rate, BASIS_POINTS)
    deadline = rules.deadline(period)
    late = _late(tax, _midnight_after(deadline), now, rules)
    breakdown = {
        "category": category,
        "rate_basis_points": rate,
        "gross_revenue": gross_revenue,
        "tax": tax,
        "deadline": deadline.isoformat(),
        **late.breakdown,
    }
    return late.quote(tax, now, breakdown)


def debt_quote(rules: Rules, principal: int, assessed_on: date, now: datetime) -> Quote:
    """An assessed debt of `principal` at `now`: surcharges run after its payable days."""
    due = assessed_on + timedelta(days=rules.debt_payable_within_days)
    late = _late(principal, _midnight_after(due), now, rules)
    breakdown = {"principal": principal, "due_date": due.isoformat(), **late.breakdown}
    return late.quote(principal, now, breakdown)


@dataclass(frozen=True)
class _Late:
    surcharges: int
    next_change: datetime | None
    max_validity: timedelta
    breakdown: dict[str, Any]

    def quote(self, base: int, now: datetime, breakdown: dict[str, Any]) -> Quote:
        longest = now + self.max_validity
        valid_until = longest if self.next_change is None else min(self.next_change, longest)
        return Quote(
            tax=base,
            surcharges=self.surcharges,
            total=base + self.surcharges,
            computed_at=now.astimezone(UTC),
            valid_until=valid_until.astimezone(UTC),
            breakdown=breakdown,
        )


def _late(base: int, late_from: datetime, now: datetime, rules: Rules) -> _Late:
    """The surcharges on `base` at `now`, late from `late_from`, and when they next change
    (None once capped)."""
    schedule = rules.surcharges
    cap = base * schedule.cap_percent // 100
    months = months_started(late_from, now)
    surcharges = min(
        cap, round_half_up(base * schedule.monthly_basis_points * months, BASIS_POINTS)
    )
    capped = months > 0 and surcharges >= cap
    return _Late(
        surcharges=surcharges,
        next_change=None if capped else add_months(late_from, months),
        max_validity=rules.max_quote_validity,
        breakdown={
            "months_late": months,
            "surcharge_basis_points_per_month": schedule.monthly_basis_points,
            "surcharge_cap": cap,
            "surcharges": surcharges,
        },
    )


def _midnight_after(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=ATHENS)


def athens_today(now: datetime) -> date:
    return now.astimezone(ATHENS).date()
