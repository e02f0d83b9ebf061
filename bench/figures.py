"""How every benchmark script states its figures (they print, they never assert)."""

from __future__ import annotations


def percentile(values: list[float], p: float) -> float:
    """The nearest-rank `p`th percentile; NaN for no values."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"
