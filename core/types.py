"""The records a plugin hands the core: frozen, typed, and free of behaviour.

Hooks (see ``core.hookspecs``) yield these. The engine compiles them (``core.compile``); the
workflow runner and the admin read the review levels and stage windows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType
from typing import Any, Callable, Mapping

FLAG_LABELS: Mapping[str, str] = MappingProxyType({
    "no_excellent": "本年度考核不能评为优秀",
    "no_promotion": "本年度不能申报高一级职称",
    "no_requalification": "不能进行教师资格定期注册",
    "not_assessed": "本年度不考核",
    "exempt": "免修",
    "warn_pace": "学时进度落后于年度指导量",
})


@dataclass(frozen=True, slots=True)
class Reference:
    """A source text a plugin's rules come from (a notice, with its number and date)."""

    key: str
    title: str
    document: str | None = None
    issued_on: date | None = None


@dataclass(frozen=True, slots=True)
class DatedValue:
    """A value in force from ``start`` until the next dated value of the same parameter."""

    start: date
    value: Any


@dataclass(frozen=True, slots=True)
class Parameter:
    """A named number, table or window of a jurisdiction, with dated values (OpenFisca style)."""

    jurisdiction: str
    name: str
    description: str
    values: tuple[DatedValue, ...]
    unit: str | None = None
    reference: str | None = None
    assumed: bool = False

    def at(self, when: date) -> Any:
        """The value in force on ``when``; the earliest value for a date before every start."""
        current = self.values[0].value
        for dated in self.values:
            if dated.start <= when:
                current = dated.value
            else:
                break
        return current


@dataclass(frozen=True, slots=True)
class InputSpec:
    """One input a claim of an item gives: its type, whether it is required, its choices."""

    name: str
    type: str  # amount | number | integer | text | bool | date | choice | numbers | period
    label: str = ""
    required: bool = True
    choices: tuple[str, ...] = ()
    minimum: Any = None
    maximum: Any = None
    length: int | None = None
    default: Any = None


@dataclass(frozen=True, slots=True)
class CatalogueItem:
    """An item that earns hours or credits (学时登记项目). ``rules`` keeps the item's computation
    as plain data (frozen mappings) for the compiler: ``compute``, ``bonus``, ``variants``,
    ``role_factor``, ``conditions``, ``exemption``, ``cap``, ``period_from``, ``note``."""

    jurisdiction: str
    code: str
    name: str
    category: str
    channel: str  # declaration | organiser | school | auto | platform
    inputs: tuple[InputSpec, ...]
    rules: Mapping[str, Any]
    evidence: tuple[str, ...] = ()
    description: str = ""
    reference: str | None = None


@dataclass(frozen=True, slots=True)
class Category:
    code: str
    name: str


@dataclass(frozen=True, slots=True)
class PeriodSpec:
    """How a jurisdiction cuts time: a year starting on ``starts`` (MM-DD), or a personal cycle."""

    kind: str  # year | personal_cycle
    starts: str = "01-01"
    years: int = 5


@dataclass(frozen=True, slots=True)
class CycleSpec:
    """A cycle of ``periods`` consecutive periods, tiled from the period named by ``anchor``."""

    periods: int
    anchor: str  # parameter name holding the first period key of some cycle


@dataclass(frozen=True, slots=True)
class Reading:
    """Where a notice can be read two ways: the sentence, the reading the plugin takes and why;
    ``parameter`` names the dated parameter that switches it, when both readings are computed."""

    topic: str
    notice: str
    reading: str
    reason: str
    parameter: str | None = None


@dataclass(frozen=True, slots=True)
class Jurisdiction:
    """A district, city or province, with its rules. ``rules`` holds requirements, caps,
    highest_of groups, carry-over, not-assessed conditions and fail flags, as plain data."""

    code: str
    name: str
    plugin: str
    level: str
    period: PeriodSpec
    measures: tuple[str, ...]
    categories: tuple[Category, ...]
    rules: Mapping[str, Any]
    cycle: CycleSpec | None = None
    references: tuple[Reference, ...] = ()
    flags: Mapping[str, str] = field(default_factory=lambda: FLAG_LABELS)
    workflow: str = "declaration"
    description: str = ""
    readings: tuple[Reading, ...] = ()


@dataclass(frozen=True, slots=True)
class Calculator:
    """A plugin's own computation kind: ``function(inputs, params, context) -> Decimal``.

    ``inputs`` are the claim's normalised inputs, ``params`` the jurisdiction's parameter values
    in force for the period, ``context`` a ``core.compile.ClaimContext``."""

    name: str
    function: Callable[..., Any]
    description: str = ""


@dataclass(frozen=True, slots=True)
class Predicate:
    """A named condition on a teacher in a period: ``function(teacher, period) -> bool``."""

    name: str
    function: Callable[..., bool]
    label: str = ""


@dataclass(frozen=True, slots=True)
class ReviewLevel:
    """One step of a jurisdiction's review chain: the next ancestor of the teacher's home school
    whose node kind is in ``node_kinds`` reviews; an ``optional`` step is skipped when the tree
    has no such ancestor below the next step's (a main-city school under its district)."""

    jurisdiction: str
    order: int
    name: str
    node_kinds: tuple[str, ...]
    optional: bool = False
    no_deadline: str | None = None  # why no window governs this level (the notice sets none)


@dataclass(frozen=True, slots=True)
class StageWindow:
    """The default window of one stage (declare, review_school, ...) of every period, dated.

    Each value is ``(opens, closes)`` in the period-relative form of ``core.periods.resolve_day``:
    ``"MM-DD"`` inside the period, ``"next MM-DD"`` after it, or an ISO date."""

    jurisdiction: str
    stage: str
    name: str
    values: tuple[DatedValue, ...]
    reference: str | None = None


@dataclass(frozen=True, slots=True)
class CaseSource:
    """A folder or file of rule cases a plugin ships."""

    jurisdiction: str
    path: str
