"""Teacher facts the rules depend on, and the built-in predicates over them.

Facts come from the data model (later) or a rule case's ``teacher:`` mapping; they are parsed
here once, with Chinese errors for bad values.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from .errors import InputError
from .periods import Period
from .types import Predicate

TRUE_WORDS = {"true", "yes", "y", "1", "是", "对", "有"}
FALSE_WORDS = {"false", "no", "n", "0", "否", "无", "不"}


@dataclass(frozen=True, slots=True)
class Teacher:
    new_teacher: bool | None = None
    employed_on: date | None = None
    cycle_start: str | date | None = None
    city_direct: bool = False
    transferred_on: date | None = None
    school_summary_filed: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


def parse_date(value, field_name: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        text = unicodedata.normalize("NFKC", value).strip().replace("/", "-").replace(".", "-")
        for sep in ("年", "月"):
            text = text.replace(sep, "-")
        text = text.rstrip("日")
        parts = text.split("-")
        if len(parts) == 3 and all(p.isdigit() for p in parts):
            try:
                return date(int(parts[0]), int(parts[1]), int(parts[2]))
            except ValueError:
                pass
    raise InputError(f"「{value}」不是有效日期（应写作 2024-09-01）", field=field_name)


def parse_bool(value, field_name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        word = unicodedata.normalize("NFKC", value).strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    raise InputError(f"「{value}」应为 true/false（是/否）", field=field_name)


TEACHER_FIELDS = ("new_teacher", "employed_on", "cycle_start", "city_direct", "transferred_on",
                  "school_summary_filed")


def parse_teacher(raw, *, extra_fields: tuple[str, ...] = ()) -> Teacher:
    if raw is None:
        return Teacher()
    if not isinstance(raw, dict):
        raise InputError("teacher 应为映射（教师情况，如 {new_teacher: true}）", field="teacher")
    unknown = [k for k in raw if k not in TEACHER_FIELDS and k not in extra_fields]
    if unknown:
        raise InputError(f"未知的教师情况 {unknown[0]!r}（可用：{'、'.join(TEACHER_FIELDS)}）",
                         field=f"teacher.{unknown[0]}")
    values: dict[str, Any] = {}
    for key in ("new_teacher", "city_direct", "school_summary_filed"):
        if raw.get(key) is not None:
            values[key] = parse_bool(raw[key], f"teacher.{key}")
    for key in ("employed_on", "transferred_on"):
        if raw.get(key) is not None:
            values[key] = parse_date(raw[key], f"teacher.{key}")
    start = raw.get("cycle_start")
    if start is not None:
        if isinstance(start, (date, datetime)):
            values["cycle_start"] = parse_date(start, "teacher.cycle_start")
        else:
            text = unicodedata.normalize("NFKC", str(start)).strip()
            values["cycle_start"] = parse_date(text, "teacher.cycle_start") if text.count("-") == 2 else text
    extra = {k: raw[k] for k in extra_fields if k in raw}
    return Teacher(**values, extra=extra)


def _first_year(teacher: Teacher, period: Period) -> bool:
    """``employed_on`` lies inside the assessed period; without ``employed_on``, ``new_teacher`` is
    true. A teacher hired in the previous period is not in the first year even if
    ``new_teacher`` is true (the period is the jurisdiction's own: calendar or school year)."""
    if teacher.employed_on is not None:
        return period.contains(teacher.employed_on)
    return bool(teacher.new_teacher)


def _new_teacher(teacher: Teacher, period: Period) -> bool:
    """``new_teacher`` is true, or ``employed_on`` lies inside the assessed period. Unlike
    ``first_year`` it stays true in later periods for a teacher marked ``new_teacher`` (新任教师
    for a whole cycle), whatever ``employed_on`` says."""
    return bool(teacher.new_teacher) or (teacher.employed_on is not None and period.contains(teacher.employed_on))


def _transferred_this_period(teacher: Teacher, period: Period) -> bool:
    """``transferred_on`` lies inside the assessed period."""
    return teacher.transferred_on is not None and period.contains(teacher.transferred_on)


def _city_direct(teacher: Teacher, period: Period) -> bool:
    """``city_direct`` is true (the school is directly under the city; default false)."""
    return teacher.city_direct


def _school_summary_filed(teacher: Teacher, period: Period) -> bool:
    """``school_summary_filed`` is true (the school filed its annual summary; default true)."""
    return teacher.school_summary_filed


BUILTIN_PREDICATES = (
    Predicate("first_year", _first_year, "入职第一年（见习期）"),
    Predicate("new_teacher", _new_teacher, "新任教师"),
    Predicate("transferred_this_period", _transferred_this_period, "本年度调入"),
    Predicate("city_direct", _city_direct, "市直属学校"),
    Predicate("school_summary_filed", _school_summary_filed, "学校已填报校本培训年度工作总结"),
)
