"""Resident ID numbers (公民身份号码, GB 11643-1999): check digit validation and masking."""

from __future__ import annotations

import unicodedata
from datetime import date

from .errors import InputError

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK = "10X98765432"


def check_digit(first17: str) -> str:
    return CHECK[sum(int(d) * w for d, w in zip(first17, WEIGHTS)) % 11]


def normalise(value) -> str:
    """The 18-character ID number, or InputError saying what is wrong (Excel may give a number)."""
    if isinstance(value, float):
        raise InputError("身份证号应作为文本填写（Excel 中请将该列设为文本格式，否则末位会丢失）", field="id_number")
    text = unicodedata.normalize("NFKC", str(value)).strip().upper().replace(" ", "")
    if len(text) != 18 or not text[:17].isdigit() or not (text[17].isdigit() or text[17] == "X"):
        raise InputError(f"身份证号应为18位（前17位数字，末位数字或X），填写的是「{value}」", field="id_number")
    try:
        date(int(text[6:10]), int(text[10:12]), int(text[12:14]))
    except ValueError:
        raise InputError(f"身份证号中的出生日期 {text[6:14]} 无效", field="id_number") from None
    if check_digit(text[:17]) != text[17]:
        raise InputError("身份证号校验位不正确，请核对", field="id_number")
    return text


def mask(id_number: str) -> str:
    """4201**********123X: the first four and the last four characters."""
    if not id_number or len(id_number) < 8:
        return "*" * len(id_number or "")
    return id_number[:4] + "*" * (len(id_number) - 8) + id_number[-4:]


def make(prefix6: str, born: date, serial: int) -> str:
    """A valid ID number (for demos and tests)."""
    first17 = f"{prefix6}{born:%Y%m%d}{serial % 1000:03d}"
    return first17 + check_digit(first17)
