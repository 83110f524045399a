"""Parse and print the sizes and counts a user types: input sizes (``HxW``) and counts (``300k``).

Torch-free, so the search CLI can reuse ``parse_count`` for ``--max-params`` / ``--max-macs``.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal

from blocks.errors import UserError

_HW = re.compile(r"^\s*(\d+)\s*[xX×]\s*(\d+)\s*$")
_COUNT = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)(?:[eE]([+-]?\d+))?\s*([kKmMgGtT]?)\s*$")
_SUFFIX_POWER = {"": 0, "k": 3, "m": 6, "g": 9, "t": 12}
#: the largest count accepted (a budget of 1e18 MACs is already far beyond any net)
_MAX_COUNT_DIGITS = 18
MAX_COUNT = 10**_MAX_COUNT_DIGITS


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
    value must come out whole: ``'1.2345k'`` is refused rather than rounded; above ``MAX_COUNT``
    (1e18) it is refused too (``'1e999999999'`` is not worked out digit by digit).
    """
    if isinstance(text, bool):
        raise UserError(f"malformed count {text!r}; expected e.g. 300k, 1.5M, 10G or 433448")
    if isinstance(text, int):
        if text < 0:
            raise UserError(f"a count must be >= 0; got {text}")
        if text > MAX_COUNT:
            raise _too_large(text)
        return text
    cleaned = str(text).replace(",", "").replace("_", "")
    m = _COUNT.match(cleaned)
    if m is None:
        raise UserError(
            f"malformed count {text!r}; expected a number with an optional k/M/G/T suffix, "
            "e.g. 300k, 1.5M, 10G or 433448"
        )
    mantissa, exponent, suffix = m.group(1), m.group(2), m.group(3).lower()
    # Exact decimal arithmetic ('1.5M' must be 1_500_000, not 1_499_999.9999) on the significant
    # digits only, with the magnitude checked first: '1e999999999' is refused at once rather
    # than computed, and no digit string longer than MAX_COUNT's ever reaches int().
    whole, _, frac = mantissa.partition(".")
    digits = (whole + frac).lstrip("0")
    if not digits:
        return 0
    significant = digits.rstrip("0")
    power = (len(digits) - len(significant) - len(frac) + _SUFFIX_POWER[suffix]
             + _exponent(exponent))
    magnitude = len(significant) - 1 + power  # the value is in [10**magnitude, 10**(magnitude+1))
    if magnitude > _MAX_COUNT_DIGITS or (magnitude == _MAX_COUNT_DIGITS and significant != "1"):
        raise _too_large(text)
    if power < 0:  # its last significant digit is not 0 and lies below the units
        shown = f"{Decimal(f'{significant}e{power}'):.6g}" if magnitude >= -6 else "below 1"
        raise UserError(f"count {text!r} is not a whole number ({shown})")
    return int(significant) * 10**power


def _too_large(text: str | int) -> UserError:
    return UserError(f"count {text!r} is too large; at most 1e{_MAX_COUNT_DIGITS} "
                     "(counts look like 300k, 1.5M, 10G)")


def _exponent(text: str | None) -> int:
    """The ``e`` exponent of a count, clamped far beyond any count's (so never huge to use)."""
    if not text:
        return 0
    sign = -1 if text.startswith("-") else 1
    mag = text.lstrip("+-").lstrip("0") or "0"
    return sign * (int(mag) if len(mag) <= 6 else 10**6)


def format_count(n: float, *, digits: int = 2) -> str:
    """Decimal SI form: 433448 -> ``'433.45K'``, 27102622560 -> ``'27.10G'``; below 1000 as is."""
    if not math.isfinite(n):
        return str(n)
    for div, suffix in ((10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "K")):
        if abs(n) >= div:
            return f"{n / div:.{digits}f}{suffix}"
    return f"{n:g}"
