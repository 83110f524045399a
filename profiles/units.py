"""Parse and print the sizes and counts a user types: input sizes (``HxW``) and counts (``300k``).

Torch-free, so the search CLI can reuse ``parse_count`` for ``--max-params`` / ``--max-macs``.
"""

from __future__ import annotations

import math
import re

from blocks.errors import UserError

_HW = re.compile(r"^\s*(\d+)\s*[xX×]\s*(\d+)\s*$")
_COUNT = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)(?:[eE]([+-]?\d+))?\s*([kKmMgGtT]?)\s*$")
_SUFFIX = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}


def parse_hw(text: str) -> tuple[int, int]:
    """``'180x320'`` -> ``(180, 320)``: height then width, positive integers (x, X or ×)."""
    m = _HW.match(str(text))
    if m is None:
        raise UserError(
            f"malformed input size {text!r}; expected HxW with positive integers, e.g. 256x256 "
            "or 180x320"
        )
    h, w = int(m.group(1)), int(m.group(2))
    if h <= 0 or w <= 0:
        raise UserError(
            f"input size {text!r} has a zero side; expected HxW with positive integers, "
            "e.g. 256x256"
        )
    return h, w


def format_hw(hw: tuple[int, int]) -> str:
    """``(180, 320)`` -> ``'180x320'`` (height x width)."""
    return f"{hw[0]}x{hw[1]}"


def parse_count(text: str | int) -> int:
    """A non-negative whole count: ``433448``, ``433,448``, ``300k``, ``1.5M``, ``10G``, ``2e9``.

    Suffixes (any case) are decimal: k = 1e3, M = 1e6, G = 1e9, T = 1e12 (never 1024-based). The
    value must come out whole: ``'1.2345k'`` is refused rather than rounded.
    """
    if isinstance(text, bool):
        raise UserError(f"malformed count {text!r}; expected e.g. 300k, 1.5M, 10G or 433448")
    if isinstance(text, int):
        if text < 0:
            raise UserError(f"a count must be >= 0; got {text}")
        return text
    cleaned = str(text).replace(",", "").replace("_", "")
    m = _COUNT.match(cleaned)
    if m is None:
        raise UserError(
            f"malformed count {text!r}; expected a number with an optional k/M/G/T suffix, "
            "e.g. 300k, 1.5M, 10G or 433448"
        )
    mantissa, exponent, suffix = m.group(1), m.group(2), m.group(3).lower()
    # Exact decimal arithmetic: '1.5M' must be 1_500_000, not 1_499_999.9999.
    whole, _, frac = mantissa.partition(".")
    digits = int((whole or "0") + frac) if (whole or frac) else 0
    power = -len(frac) + (int(exponent) if exponent else 0)
    scale = _SUFFIX[suffix]
    if power >= 0:
        value_num, value_den = digits * scale * 10**power, 1
    else:
        value_num, value_den = digits * scale, 10**-power
    if value_num % value_den:
        raise UserError(f"count {text!r} is not a whole number ({value_num / value_den:g})")
    return value_num // value_den


def format_count(n: float, *, digits: int = 2) -> str:
    """Decimal SI form: 433448 -> ``'433.45K'``, 27102622560 -> ``'27.10G'``; below 1000 as is."""
    if not math.isfinite(n):
        return str(n)
    for div, suffix in ((10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "K")):
        if abs(n) >= div:
            return f"{n / div:.{digits}f}{suffix}"
    return f"{n:g}"
