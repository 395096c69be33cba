"""Periods (学年度/年度) and cycles (周期): keys, date ranges and period-relative days.

A year-kind period starting on MM-DD has the key "2019" when it starts on 01-01 and
"2021-2022" otherwise. A personal cycle (a teacher's own five years) has the key "cycle".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from .errors import InputError
from .types import PeriodSpec

_MONTH_DAY = re.compile(r"^(\d{2})-(\d{2})$")
_NEXT = re.compile(r"^next (\d{2})-(\d{2})$")
_YEAR_KEY = re.compile(r"^(\d{4})$")
_SCHOOL_KEY = re.compile(r"^(\d{4})-(\d{4})$")
PERSONAL_CYCLE_KEY = "cycle"


@dataclass(frozen=True, slots=True)
class Period:
    key: str
    start: date
    end: date  # inclusive

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end

    def __str__(self) -> str:
        return self.key


def add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def parse_month_day(text: str) -> tuple[int, int]:
    match = _MONTH_DAY.match(text)
    if not match:
        raise ValueError(f"月日应写作 MM-DD：{text!r}")
    month, day = int(match.group(1)), int(match.group(2))
    date(2001, month, day)  # raises ValueError for 02-30 and the like
    return month, day


class Calendar:
    """The periods of one jurisdiction."""

    def __init__(self, spec: PeriodSpec):
        self.spec = spec
        if spec.kind == "year":
            self.month, self.day = parse_month_day(spec.starts)
        else:
            self.month, self.day = 1, 1
        self._cache: dict[str, Period] = {}

    @property
    def personal(self) -> bool:
        return self.spec.kind == "personal_cycle"

    def _from_start_year(self, year: int) -> Period:
        start = date(year, self.month, self.day)
        end = add_years(start, 1) - timedelta(days=1)
        key = str(year) if (self.month, self.day) == (1, 1) else f"{year}-{year + 1}"
        return Period(key, start, end)

    def example_key(self) -> str:
        return "2024" if (self.month, self.day) == (1, 1) else "2024-2025"

    def period(self, key) -> Period:
        """The period with this key; a readable InputError for a malformed key."""
        key = str(key).strip()
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        if self.personal:
            raise InputError(f"本地区按教师个人五年周期考核，考核期间应为 {PERSONAL_CYCLE_KEY}", field="period")
        whole_year = (self.month, self.day) == (1, 1)
        match = (_YEAR_KEY if whole_year else _SCHOOL_KEY).match(key)
        if not match or (not whole_year and int(match.group(2)) != int(match.group(1)) + 1):
            raise InputError(f"考核期间「{key}」格式不对，应写作 {self.example_key()}", field="period")
        try:
            period = self._from_start_year(int(match.group(1)))
        except (ValueError, OverflowError):
            raise InputError(f"考核期间「{key}」超出可用的年份范围", field="period") from None
        self._cache[key] = period
        return period

    def containing(self, day: date) -> Period:
        if self.personal:
            raise InputError("个人周期没有按日期划分的年度", field="on")
        year = day.year if (day.month, day.day) >= (self.month, self.day) else day.year - 1
        try:
            return self.period(self._from_start_year(year).key)
        except (ValueError, OverflowError):
            raise InputError(f"日期 {day} 超出可用的年份范围", field="on") from None

    def shift(self, period: Period, count: int) -> Period:
        try:
            return self.period(self._from_start_year(period.start.year + count).key)
        except (ValueError, OverflowError):
            raise InputError("周期超出可用的年份范围", field="period") from None

    def distance(self, first: Period, later: Period) -> int:
        """How many periods ``later`` is after ``first`` (0 when they are the same)."""
        return later.start.year - first.start.year

    def cycle_of(self, start: date, years: int) -> Period:
        """A personal cycle [start, start + years)."""
        try:
            return Period(PERSONAL_CYCLE_KEY, start, add_years(start, years) - timedelta(days=1))
        except (ValueError, OverflowError):
            raise InputError(f"周期起点 {start} 超出可用的年份范围", field="teacher.cycle_start") from None


def resolve_day(text, period: Period) -> date:
    """A stage or window day relative to a period: ``MM-DD`` (the day inside the period),
    ``next MM-DD`` (the first such day after the period ends) or an ISO date."""
    if isinstance(text, date):
        return text
    text = str(text).strip()
    match = _NEXT.match(text)
    if match:
        month, day = int(match.group(1)), int(match.group(2))
        candidate = date(period.end.year, month, day)
        if candidate <= period.end:
            candidate = add_years(candidate, 1)
        return candidate
    if _MONTH_DAY.match(text):
        month, day = parse_month_day(text)
        candidate = date(period.start.year, month, day)
        if candidate < period.start:
            candidate = add_years(candidate, 1)
        return candidate
    return date.fromisoformat(text)


def check_day_spec(text) -> None:
    """Raise ValueError when ``text`` is not a valid period-relative day."""
    if isinstance(text, date):
        return
    text = str(text).strip()
    match = _NEXT.match(text)
    if match:
        parse_month_day(f"{match.group(1)}-{match.group(2)}")
        return
    if _MONTH_DAY.match(text):
        parse_month_day(text)
        return
    date.fromisoformat(text)
