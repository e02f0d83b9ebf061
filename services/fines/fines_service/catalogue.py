"""The municipality's fines as data: its code, its fine types and the surcharge schedule
(SPEC F-2, F-5), read from `catalogue.toml`; and what a fine costs at a given moment.

Amounts change by law, so they live in the TOML file, not in code. `quote` is a pure function of
the fine's base amount, when it was issued and when it is asked: the same fine quoted at two
times may cost two amounts (F-5), and each quote says until when it holds.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from importlib import resources
from pathlib import Path

from portal_events.payables import ATHENS, add_months, months_started, round_half_up


class CatalogueInvalid(Exception):
    """The catalogue file is missing something or holds an impossible value."""


@dataclass(frozen=True)
class FineType:
    code: str
    description: str
    amount: int  # cents
    payable_to_municipality: bool


@dataclass(frozen=True)
class SurchargeSchedule:
    """Base amount within `grace_days` of issue; then `monthly_basis_points` of the base per
    month or part of a month late, at most `cap_percent` of the base."""

    grace_days: int
    monthly_basis_points: int
    cap_percent: int
    max_quote_validity: timedelta


@dataclass(frozen=True)
class Quote:
    """What a fine costs at `computed_at`, holding until `valid_until` (cents)."""

    base: int
    surcharges: int
    total: int
    computed_at: datetime
    valid_until: datetime

    def is_valid_at(self, moment: datetime) -> bool:
        return moment < self.valid_until

    def as_dict(self) -> dict[str, object]:
        return {
            "base": self.base,
            "surcharges": self.surcharges,
            "total": self.total,
            "computed_at": self.computed_at,
            "valid_until": self.valid_until,
        }


@dataclass(frozen=True)
class Catalogue:
    municipality_code: str
    municipality_name: str
    fine_types: dict[str, FineType]
    schedule: SurchargeSchedule

    @property
    def payable_types(self) -> list[FineType]:
        """The fine types this municipality collects, in the file's order (F-2)."""
        return [t for t in self.fine_types.values() if t.payable_to_municipality]

    @classmethod
    def load(cls, path: str | Path | None = None) -> Catalogue:
        """The catalogue at `path`, or the one shipped with the service."""
        if path:
            raw = Path(path).read_text(encoding="utf-8")
        else:
            raw = resources.files("fines_service").joinpath("catalogue.toml").read_text("utf-8")
        return cls.parse(raw)

    @classmethod
    def parse(cls, raw: str) -> Catalogue:
        try:
            data = tomllib.loads(raw)
            municipality, surcharges = data["municipality"], data["surcharges"]
            fine_types = [
                FineType(
                    code=str(entry["code"]),
                    description=str(entry["description"]),
                    amount=int(entry["amount"]),
                    payable_to_municipality=bool(entry["payable_to_municipality"]),
                )
                for entry in data["fine_types"]
            ]
            schedule = SurchargeSchedule(
                grace_days=int(surcharges["grace_days"]),
                monthly_basis_points=int(surcharges["monthly_surcharge_basis_points"]),
                cap_percent=int(surcharges["surcharge_cap_percent"]),
                max_quote_validity=timedelta(hours=float(data["quotes"]["max_validity_hours"])),
            )
        except (KeyError, TypeError, ValueError, tomllib.TOMLDecodeError) as exc:
            raise CatalogueInvalid(f"fines catalogue: {exc!r}") from exc
        if any(t.amount <= 0 for t in fine_types):
            raise CatalogueInvalid("fines catalogue: every amount must be positive (cents)")
        if len({t.code for t in fine_types}) != len(fine_types):
            raise CatalogueInvalid("fines catalogue: a fine type code appears twice")
        if min(schedule.grace_days, schedule.monthly_basis_points, schedule.cap_percent) < 0:
            raise CatalogueInvalid("fines catalogue: negative surcharge settings")
        if schedule.max_quote_validity <= timedelta(0):
            raise CatalogueInvalid("fines catalogue: quotes must hold for some time")
        return cls(
            municipality_code=str(municipality["code"]),
            municipality_name=str(municipality["name"]),
            fine_types={t.code: t for t in fine_types},
            schedule=schedule,
        )


def quote(base: int, issued_at: datetime, now: datetime, schedule: SurchargeSchedule) -> Quote:
    """What a fine of `base` cents issued at `issued_at` costs at `now` (F-5).

    Late from Athens midnight after the last day of grace; each month or part of a month late
    (counted from that midnight, calendar months) adds the monthly surcharge, rounded half up to
    the cent, up to the cap. The quote holds until the next month starts (or the grace ends),
    and at most `max_quote_validity`.
    """
    late_from = _athens_midnight(issued_at.astimezone(ATHENS).date(), schedule.grace_days + 1)
    cap = base * schedule.cap_percent // 100
    months_late = months_started(late_from, now)
    surcharges = min(cap, round_half_up(base * schedule.monthly_basis_points * months_late, 10_000))
    if surcharges >= cap and months_late > 0:
        next_change = None  # capped: the amount will not change any more
    else:
        next_change = add_months(late_from, months_late)
    longest = now + schedule.max_quote_validity
    valid_until = longest if next_change is None else min(next_change, longest)
    return Quote(
        base=base,
        surcharges=surcharges,
        total=base + surcharges,
        computed_at=now.astimezone(UTC),
        valid_until=valid_until.astimezone(UTC),
    )


def _athens_midnight(day: date, days_later: int) -> datetime:
    return datetime.combine(day + timedelta(days=days_later), time(), tzinfo=ATHENS)
