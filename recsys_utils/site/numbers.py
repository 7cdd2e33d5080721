"""How the report writes a number: significant digits, intervals and resampling p-values.

One home for number formatting on the site, in ``REPORT.md`` and in lessons that want the
same wording (``format_p`` is what a lesson should call before printing a permutation p-value).
"""

from __future__ import annotations

import math
from typing import Any

# Relative slack when deciding that a recorded p-value sits exactly on the permutation floor
# (JSON round-trips floats exactly, but a lesson may have rounded to 4 significant digits).
_FLOOR_SLACK = 1e-3


def format_number(value: Any, digits: int = 3) -> str:
    """``value`` with ``digits`` significant digits; integers stay integers (with thousands commas).

    >>> format_number(0.31234), format_number(1234.5), format_number(20381), format_number(2.5e-6)
    ('0.312', '1,234', '20,381', '2.50e-06')
    """
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if not isinstance(value, float):
        return str(value)
    if not math.isfinite(value):
        return str(value)
    if value == 0:
        return "0"
    if value.is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    magnitude = math.floor(math.log10(abs(value)))
    if magnitude >= digits - 1:
        return f"{round(value):,}"
    if magnitude < -4:
        return f"{value:.{digits - 1}e}"
    return f"{value:.{digits - 1 - magnitude}f}"


def _decimals(text: str) -> int | None:
    if "e" in text or "," in text:
        return None
    return len(text.split(".")[1]) if "." in text else 0


def format_value_ci(value: float, ci: tuple[float, float] | list[float] | None = None,
                    unit: str = "", digits: int = 3) -> str:
    """``0.312 s (95% CI 0.281 to 0.336)``: the unit follows the value once; the interval uses as many
    decimals as the value."""
    shown = format_number(value, digits)
    decimals = _decimals(shown)

    def same(x: float) -> str:
        if decimals is None or abs(x) >= 10 ** digits:
            return format_number(x, digits)
        return f"{x:.{decimals}f}"

    suffix = f" {unit}" if unit else ""
    if ci is None:
        return f"{shown}{suffix}"
    return f"{shown}{suffix} (95% CI {same(ci[0])} to {same(ci[1])})"


def permutation_floor(n_resamples: int) -> float:
    """Smallest two-sided p-value a permutation test with ``n_resamples`` resamples can give:
    2/(N+1) (``scipy.stats.permutation_test`` counts the observed statistic as one resample)."""
    return 2.0 / (int(n_resamples) + 1)


def at_floor(p: float, n_resamples: int | None, multiplier: int = 1) -> bool:
    if n_resamples is None or p is None:
        return False
    floor = multiplier * permutation_floor(n_resamples)
    return p <= floor * (1 + _FLOOR_SLACK)


def format_p(p: float | None, n_resamples: int | None = None, name: str = "p") -> str:
    """A permutation p-value a reader can trust.

    At the floor, the test only says "no resample was as extreme as what we saw", so the value
    is a bound, written ``p ≤ 2/(N+1)`` with N and its decimal value; otherwise two significant
    digits. Without N the floor cannot be recognised, and the value is shown as recorded.

    >>> format_p(2 / 5001, 5000)
    'p ≤ 2/(N+1) = 0.0004 (N = 5,000 resamples)'
    >>> format_p(0.0312, 5000)
    'p = 0.031'
    """
    if p is None:
        return f"{name} n/a"
    if at_floor(p, n_resamples):
        bound = permutation_floor(n_resamples)
        return f"{name} ≤ 2/(N+1) = {bound:.2g} (N = {int(n_resamples):,} resamples)"
    return f"{name} = {format_number(float(p), 2)}"


def format_p_cell(p: float | None, n_resamples: int | None = None, raw_p: float | None = None) -> str:
    """Table-cell version of :func:`format_p`: ``≤ 2/5001`` at the floor.

    For a Holm-adjusted p-value pass the row's unadjusted ``raw_p``: when that one sits on the
    floor, the adjusted value is k times it, and the cell reads ``≤ k×2/5001``.
    """
    if p is None:
        return "n/a"
    if n_resamples is not None:
        floor = permutation_floor(n_resamples)
        if raw_p is None and at_floor(p, n_resamples):
            return f"≤ 2/{int(n_resamples) + 1}"
        if raw_p is not None and at_floor(raw_p, n_resamples):
            k = round(p / floor)
            if k >= 1 and abs(p - k * floor) <= floor * _FLOOR_SLACK * k:
                return f"≤ 2/{int(n_resamples) + 1}" if k == 1 else f"≤ {k}×2/{int(n_resamples) + 1}"
    return format_number(float(p), 2)
