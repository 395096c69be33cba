"""Exact amounts: hours and credits are integers of thousandths (milli-units) inside the engine.

Half of 5 hours is 2500 milli-hours, exactly 2.5; nothing is ever a binary float. Numbers from
people (YAML, forms, Excel) are normalised here: full-width digits, thousands separators, and
refused when negative, not finite or not a number at all.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from decimal import Decimal, InvalidOperation

SCALE = 1000
LARGEST_DIGITS = 9  # no hours, credits, points or minutes reach a billion: larger is a typo
_TEN = Decimal(SCALE)


class NumberError(ValueError):
    """The text or value is not an acceptable number; the message is Chinese."""


def parse_decimal(value, *, allow_negative: bool = False, max_places: int | None = None) -> Decimal:
    """A finite Decimal from a person's value: int, float, Decimal or text (full-width allowed)."""
    if isinstance(value, bool) or value is None:
        raise NumberError("应为数字")
    if isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise NumberError("应为有限的数字")
        number = Decimal(repr(value))
    elif isinstance(value, Decimal):
        number = value
    elif isinstance(value, str):
        text = unicodedata.normalize("NFKC", value).strip().replace(",", "").replace("，", "")
        if text.endswith(("学时", "学分")):
            text = text[:-2].strip()
        try:
            if "_" in text:  # Decimal("1_000") is 1000; a person's "1_000" is a typo, not a number
                raise InvalidOperation
            number = Decimal(text)
        except InvalidOperation:
            raise NumberError(f"「{value}」不是数字") from None
    else:
        raise NumberError("应为数字")
    if not number.is_finite():
        raise NumberError("应为有限的数字")
    if number and number.adjusted() >= LARGEST_DIGITS:
        raise NumberError(f"数值过大（不能超过 {10 ** LARGEST_DIGITS - 1}）")
    if number < 0 and not allow_negative:
        raise NumberError("不能为负数")
    if max_places is not None and number != number.quantize(Decimal(1).scaleb(-max_places), rounding="ROUND_DOWN"):
        raise NumberError(f"最多保留{max_places}位小数")
    return number


def to_milli(value) -> int:
    """Milli-units of an exact number (at most three decimal places are representable)."""
    number = value if isinstance(value, Decimal) else parse_decimal(value, allow_negative=True)
    scaled = number * _TEN
    integral = int(scaled)
    if integral != scaled:
        raise NumberError("最多保留三位小数")
    return integral


@lru_cache(maxsize=65536)
def from_milli(milli: int) -> Decimal:
    """The Decimal shown to people: 2500 → 2.5, 72000 → 72."""
    if milli % SCALE == 0:
        return Decimal(milli // SCALE)
    return (Decimal(milli) / _TEN).normalize()


def fmt(milli: int) -> str:
    """Text of an amount, as in reasons: 12000 → '12', 2500 → '2.5'."""
    return format(from_milli(milli), "f")


def json_number(milli: int):
    """An int when whole, else a float that prints the exact decimal (three places at most)."""
    if milli % SCALE == 0:
        return milli // SCALE
    return float(from_milli(milli))
