"""The columns of a summary sheet (汇总表): supplied by each plugin through the hook
``jijiao_summary_columns`` (a default for plugins that give none), evaluated on stored
assessment results only — never recomputed here.

A column's ``source`` says where its value comes from:

``seq`` 序号 · ``school`` the home school's name · ``name`` · ``id_number`` (masked) ·
``id_number_full`` · ``cert_number`` · ``subject`` · ``stage`` · ``total`` (the primary measure's
total) · ``total:<measure>`` · ``category:<code>`` (a category's total) · ``carry_over`` (all
carried over) · ``carry_over:<code>`` · ``cycle_total`` · ``passed`` · ``flag:<name>`` (whether
a flag is set) · ``reasons`` · ``fact:<teacher attribute>``.

``format``: ``number`` · ``text`` (stored as text, ``@``) · ``yesno`` (是/否) · ``grade``
(合格/不合格).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ..idnumber import mask

FORMATS = ("number", "text", "yesno", "grade")
TEXT_SOURCES = {"id_number", "id_number_full", "cert_number"}


@dataclass(frozen=True, slots=True)
class SummaryColumn:
    """One column of a jurisdiction's summary sheet, in order."""

    jurisdiction: str
    header: str
    source: str
    format: str = "number"
    width: float | None = None

    @property
    def text(self) -> bool:
        return self.format == "text" or self.source in TEXT_SOURCES


def default_columns(jurisdiction: str) -> list[SummaryColumn]:
    """For a plugin without the hook: name, masked ID number, total of the primary measure, passed."""
    return [SummaryColumn(jurisdiction, "序号", "seq", width=6),
            SummaryColumn(jurisdiction, "学校", "school", "text", width=24),
            SummaryColumn(jurisdiction, "姓名", "name", "text", width=12),
            SummaryColumn(jurisdiction, "身份证号", "id_number", "text", width=22),
            SummaryColumn(jurisdiction, "总学时", "total", width=10),
            SummaryColumn(jurisdiction, "是否合格", "passed", "yesno", width=10)]


def columns_for(registry, jurisdiction: str) -> list[SummaryColumn]:
    """The plugin's columns for ``jurisdiction`` (through the hook), else the default."""
    hook = getattr(registry.pm.hook, "jijiao_summary_columns", None)
    found: list[SummaryColumn] = []
    if hook is not None:
        for produced in hook():
            for column in produced or ():
                if getattr(column, "jurisdiction", None) == jurisdiction:
                    found.append(column)
    return found or default_columns(jurisdiction)


def _number(value) -> Any:
    if value is None:
        return None
    if isinstance(value, dict):  # several measures: the first one
        value = next(iter(value.values()), None)
    if isinstance(value, float):
        return Decimal(str(value))
    return value


def _yes(value: bool | None, fmt: str) -> str:
    if value is None:
        return "不判定"
    if fmt == "grade":
        return "合格" if value else "不合格"
    return "是" if value else "否"


def evaluate(column: SummaryColumn, row: dict, measure: str) -> Any:
    """The value of one cell. ``row`` has ``teacher`` (a mapping of teacher attributes),
    ``school``, ``seq`` and ``result`` (the stored result dict, or None) and ``passed``."""
    source, _, arg = column.source.partition(":")
    teacher = row["teacher"]
    result = row.get("result") or {}
    if source == "seq":
        value: Any = row["seq"]
    elif source == "school":
        value = row["school"]
    elif source == "name":
        value = teacher["name"]
    elif source == "id_number":
        value = mask(teacher["id_number"])
    elif source == "id_number_full":
        value = teacher["id_number"]
    elif source in ("cert_number", "subject", "stage"):
        value = teacher.get(source)
    elif source == "fact":
        value = teacher.get(arg)
    elif source == "total":
        value = _number((result.get("totals") or {}).get(arg or measure, 0 if result else None))
    elif source == "category":
        value = _number((result.get("categories") or {}).get(arg, 0 if result else None))
    elif source == "carry_over":
        carry = result.get("carry_over") or {}
        value = _number(carry.get(arg, 0)) if arg else sum((_number(v) or 0) for v in carry.values())
        if not result:
            value = None
    elif source == "cycle_total":
        value = _number((result.get("cycle_totals") or {}).get(arg or measure))
    elif source == "passed":
        value = row.get("passed")
    elif source == "flag":
        value = (arg in (result.get("flags") or ())) if result else None
    elif source == "reasons":
        value = "；".join(result.get("reasons") or ())
    else:
        value = None
    if column.format in ("yesno", "grade"):
        if source == "passed" and row.get("result") is None:
            return "无学时登记"
        return _yes(value, column.format)
    if column.text and value is not None:
        return str(value)
    return value
