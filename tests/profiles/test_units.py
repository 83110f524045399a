"""profiles.units: HxW input sizes and counts like 300k / 1.5M / 10G."""

from __future__ import annotations

import pytest

from blocks.errors import UserError
from profiles.units import format_count, format_hw, parse_count, parse_hw


@pytest.mark.parametrize(
    ("text", "hw"),
    [("256x256", (256, 256)), ("180X320", (180, 320)), (" 12 x 34 ", (12, 34)), ("1×2", (1, 2))],
)
def test_parse_hw(text: str, hw: tuple[int, int]) -> None:
    assert parse_hw(text) == hw
    assert parse_hw(format_hw(hw)) == hw


@pytest.mark.parametrize("bad", ["12x", "0x5", "5x0", "abc", "", "12", "1.5x2", "-1x2", "2x3x4"])
def test_parse_hw_rejects(bad: str) -> None:
    with pytest.raises(UserError, match="HxW"):
        parse_hw(bad)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("300k", 300_000),
        ("300K", 300_000),
        ("10G", 10_000_000_000),
        ("1.5M", 1_500_000),
        ("433448", 433_448),
        ("433,448", 433_448),
        ("433_448", 433_448),
        ("2e9", 2_000_000_000),
        ("0.25k", 250),
        (".5k", 500),
        ("1T", 10**12),
        ("27.10G", 27_100_000_000),
        ("0", 0),
        (12, 12),
        ("1e18", 10**18),
        ("0.1e19", 10**18),
        ("999999999999999999", 999_999_999_999_999_999),
        ("0e999999999", 0),
        ("1" + "0" * 30 + "e-30", 1),
        ("1e+0003", 1000),
    ],
)
def test_parse_count(text: str | int, value: int) -> None:
    assert parse_count(text) == value


@pytest.mark.parametrize("bad", ["", "k", "1.2345k", "1.5", "-3", "10GB", "1e-3", "ten", True, -1])
def test_parse_count_rejects(bad: str) -> None:
    with pytest.raises(UserError):
        parse_count(bad)


@pytest.mark.parametrize(
    "bad", ["1e999999999", "1e-999999999", "1e" + "9" * 5000, "1e19", "1000000000000000001",
            "1.0000000000000000001e18", "2e18", 10**19])
@pytest.mark.timeout(10)
def test_parse_count_refuses_absurd_sizes_at_once(bad: str | int) -> None:
    """An absurd exponent is a one-line error, not 10**999999999 worked out (that hung)."""
    with pytest.raises(UserError) as info:
        parse_count(bad)
    assert "\n" not in str(info.value)
    assert "too large" in str(info.value) or "not a whole number" in str(info.value)


def test_format_count() -> None:
    assert format_count(433_448) == "433.45K"
    assert format_count(27_102_622_560) == "27.10G"
    assert format_count(112_034_240) == "112.03M"
    assert format_count(64) == "64"
