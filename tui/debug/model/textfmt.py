"""Small text formatters used by the plain printer: byte counts and Go-style float division."""

from __future__ import annotations

import math

__all__ = ["format_bytes", "go_div"]

_UNITS = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")


def format_bytes(n: int) -> str:
    """Format a byte count like ``fmt.Sprintf("%.2f", units.Bytes(n))`` (tonistiigi/units).

    Below 1000 bytes the integer is printed (``"59B"``), otherwise two decimals with a
    decimal unit (``"1.15GB"``).
    """
    base = -1 if n < 0 else 1
    i = 0
    while True:
        nxt = base * 1000
        if (base > 0 and n >= nxt) or (base < 0 and n <= nxt):
            i += 1
            base = nxt
            if i >= len(_UNITS) - 1:
                break
            continue
        break
    if i == 0:
        return f"{n}B"
    return f"{n / abs(base):.2f}{_UNITS[i]}"


def go_div(a: float, b: float) -> float:
    """Float division with Go's IEEE semantics (x/0 is ±Inf or NaN, never an exception)."""
    if b == 0:
        if a == 0 or math.isnan(a):
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)
    return a / b
