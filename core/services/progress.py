"""A teacher's progress, read-only: the engine's assessment of this period (and cycle) from the
registered claims, and again with the pending claims (submitted, under review) counted as if
registered, so a teacher sees what their pending claims would add. Nothing is written: the
stored results (``AssessmentResult``) are only ever written by ``AssessmentService``.

The hours come from the engine (the same assessor and the same claim loading as
``AssessmentService.recompute_teachers``); this module only lays the engine's totals beside the
jurisdiction's requirements for the bars.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import select

from ..claims import Claim as EngineClaim
from ..claimstore import load_values
from ..compile import MEASURE_WORDS
from ..db.models import Claim, Teacher
from ..errors import InputError
from ..numbers import from_milli, to_milli
from . import NotFound
from .assessments import teacher_facts

PENDING_STATES = ("submitted", "in_review")


@dataclass
class Bar:
    """One requirement: its minimum, what registered claims give, and with the pending ones."""

    label: str
    scope: str  # period | cycle_end
    unit: str
    minimum: Decimal
    registered: Decimal
    with_pending: Decimal
    measure: str = ""

    @property
    def met(self) -> bool:
        return self.registered >= self.minimum

    @property
    def met_with_pending(self) -> bool:
        return self.with_pending >= self.minimum

    def percent(self, value: Decimal) -> int:
        if not self.minimum:
            return 100
        return max(0, min(100, int(value * 100 / self.minimum)))

    @property
    def registered_percent(self) -> int:
        return self.percent(self.registered)

    @property
    def pending_percent(self) -> int:
        """The extra width the pending claims add (on top of the registered part)."""
        return max(0, self.percent(self.with_pending) - self.registered_percent)


@dataclass
class Progress:
    jurisdiction: str
    period_key: str
    personal: bool
    measures: tuple[str, ...]
    units: dict[str, str]
    registered: object | None = None  # core.engine.Assessment
    projected: object | None = None  # the same with pending claims counted
    bars: list[Bar] = field(default_factory=list)
    categories: list[dict] = field(default_factory=list)  # {name, registered: {m: v}, with_pending}
    explanations: dict[int, dict] = field(default_factory=dict)  # claim id → the engine's explanation
    pending_count: int = 0
    error: str | None = None


class _Shim:
    """The engine's totals in the shape a compiled requirement reads (milli-units)."""

    def __init__(self, totals, categories, items):
        self.totals, self.categories, self.items = totals, categories, items


class ProgressService:
    def __init__(self, services):
        self.s = services

    def periods(self, jurisdiction: str, count: int = 5) -> list[str]:
        """The current period and the ones before it (newest first); ``["cycle"]`` for a
        personal cycle."""
        assessor = self.s.platform.registry.assessor(jurisdiction)
        calendar = assessor.calendar
        if calendar.personal:
            return ["cycle"]
        current = calendar.containing(self.s.platform.today())
        return [calendar.shift(current, -k).key for k in range(count)]

    def of_teacher(self, teacher_id: int, period_key: str | None = None) -> Progress:
        """Read in the services' own session (the teacher's facts read their school's ancestors,
        which only a service session may); the teacher must be in the actor's scope (a teacher:
        themself), else NotFound. Nothing is written. On SQLite a web page ends its own reads
        first (``end_reads``): every transaction there holds the write lock."""
        platform = self.s.platform
        with self.s.transaction() as session:
            teacher = session.get(Teacher, teacher_id)
            if teacher is None:
                raise NotFound("找不到该教师，或不在您的管辖范围内")
            assessor = platform.registry.assessor(teacher.jurisdiction)
            calendar = assessor.calendar
            if period_key is None:
                period_key = self.periods(teacher.jurisdiction, 1)[0]
            measures = tuple(assessor.measures)
            progress = Progress(teacher.jurisdiction, period_key, calendar.personal, measures,
                                {m: MEASURE_WORDS.get(m, m) for m in measures})
            registered, pending = [], []
            parser = assessor.parser
            rows = session.execute(select(Claim.id, Claim.item_code, Claim.inputs, Claim.period_key, Claim.on_date,
                                          Claim.state)
                                   .where(Claim.teacher_id == teacher.id,
                                          Claim.state.in_(("registered",) + PENDING_STATES))
                                   .order_by(Claim.id))
            for row in rows:
                item = assessor.bundle.items.get(row.item_code)
                if item is None:
                    continue
                specs = parser.specs(item)[0]
                claim = EngineClaim(row.item_code, load_values(specs, row.inputs), row.period_key, row.on_date, row.id)
                (registered if row.state == "registered" else pending).append(claim)
            progress.pending_count = len(pending)
            try:
                facts = teacher_facts(session, teacher, None if calendar.personal else period_key)
                now = assessor.assess(period_key, facts, registered, explain=True)
                projected = assessor.assess(period_key, facts, registered + pending, explain=True)
            except InputError as exc:
                progress.error = exc.message if hasattr(exc, "message") else str(exc)
                return progress
            progress.registered, progress.projected = now, projected
            for explanation in projected.claims:
                progress.explanations[explanation.ref] = explanation.to_dict()
            progress.categories = self._categories(assessor, now, projected)
            progress.bars = self._bars(assessor, facts, period_key, now, projected)
            return progress

    # -- what the page shows beside the engine's numbers ---------------------------------------
    def _categories(self, assessor, now, projected) -> list[dict]:
        out = []
        single = len(assessor.measures) == 1
        for code, name in (now.category_names or {}).items():
            def values(a):
                v = a.categories.get(code, 0)
                return {assessor.measures[0]: v} if single else dict(v)
            out.append({"code": code, "name": name, "registered": values(now), "with_pending": values(projected)})
        return out

    def _rules_and_window(self, assessor, facts, period_key):
        calendar = assessor.calendar
        if calendar.personal:
            start = facts.cycle_start if hasattr(facts.cycle_start, "year") else facts.employed_on
            window = calendar.cycle_of(start, assessor.j.period.years)
            return assessor.rules_for(window.start), window
        window = calendar.period(period_key)
        return assessor.rules_for(window.start), window

    def _bars(self, assessor, facts, period_key, now, projected) -> list[Bar]:
        if now.passed is None and "not_assessed" in now.flags:
            return []
        rules, window = self._rules_and_window(assessor, facts, period_key)
        holds = assessor._holds(facts, window)
        bars = []
        for r in rules.requirements:
            if r.minimum is None or r.scope not in ("period", "cycle_end"):
                continue  # a yearly pace shows as a reason when it is behind
            if not all(holds(p) for p in r.when) or any(holds(p) for p in r.unless):
                continue
            if r.scope == "cycle_end" and now.cycle_totals is None:
                continue
            try:
                values = [r.total(self._shim(assessor, rules, a, r.scope, period_key), r.measure)
                          for a in (now, projected)]
            except (TypeError, KeyError, IndexError):
                continue  # a requirement the stored totals cannot show as a bar: its reason still shows
            unit = MEASURE_WORDS.get(assessor.measures[r.measure], "")
            bars.append(Bar(r.label, r.scope, unit, from_milli(r.minimum), from_milli(values[0]),
                            from_milli(values[1]), assessor.measures[r.measure]))
        return bars

    def _shim(self, assessor, rules, a, scope, period_key) -> _Shim:
        measures = assessor.measures
        nm = len(measures)
        cycle = scope == "cycle_end"
        totals = a.cycle_totals if cycle else a.totals
        milli = [to_milli(Decimal(str(totals[m]))) for m in measures]
        categories = None
        if not cycle:
            categories = []
            for code in rules.category_codes:
                v = a.categories.get(code, 0)
                categories.append([to_milli(Decimal(str(v)))] if nm == 1
                                  else [to_milli(Decimal(str(v[m]))) for m in measures])
        items = [[0] * nm for _ in rules.item_list]
        for explanation in a.claims:
            item = rules.items.get(explanation.item)
            if item is None or (not cycle and explanation.period != period_key):
                continue
            for m, measure in enumerate(measures):
                items[item.index][m] += to_milli(Decimal(str(explanation.counted.get(measure, 0))))
        return _Shim(milli, categories, items)
