"""The rule engine: a teacher's claims in, the assessment a district would sign out.

``Assessor(bundle).assess(period, teacher, claims)`` evaluates, for each period of the cycle up to
the assessed one (or the teacher's personal cycle): each claim's amount, ``highest_of`` groups,
caps (filled in claim order, so the claims that overflow are the ones cut), then totals,
requirements, pass/fail, flags, exemptions and carry-over. Every claim is explained: what was
declared, what was computed, what was counted, and why any difference.

Only registered claims should be passed in; the engine does not look at workflow states. It
keeps no state between calls and can run in any process.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Iterable

from .claims import Claim, ClaimParser
from .compile import MEASURE_WORDS, ClaimContext, CompiledRules, Compiler, parameter_epoch
from .errors import InputError
from .facts import Teacher
from .numbers import fmt, from_milli, json_number
from .periods import PERSONAL_CYCLE_KEY, Calendar, Period, add_years


@dataclass
class ClaimExplanation:
    """Why one claim counted what it counted."""

    index: int
    item: str
    item_name: str
    period: str | None
    declared: dict[str, Decimal] | None
    computed: dict[str, Decimal]
    counted: dict[str, Decimal]
    notes: list[str]
    ref: Any = None
    inputs: dict | None = None  # what the claim gave, for an item that does not declare its amount

    def to_dict(self) -> dict:
        def nums(d):
            return None if d is None else {k: _json(v) for k, v in d.items()}
        return {"index": self.index, "item": self.item, "item_name": self.item_name, "period": self.period,
                "declared": nums(self.declared), "computed": nums(self.computed),
                "counted": nums(self.counted), "notes": self.notes}


@dataclass
class Assessment:
    jurisdiction: str
    period: str
    totals: dict[str, Decimal]
    categories: dict[str, Any]
    passed: bool | None
    flags: list[str]
    carry_over: dict[str, Decimal]
    cycle_totals: dict[str, Decimal] | None
    cycle_passed: bool | None
    exempt: bool
    reasons: list[str]
    annotations: list[str] = field(default_factory=list)
    claims: list[ClaimExplanation] = field(default_factory=list)
    cycle_year: int | None = None
    category_names: dict[str, str] = field(default_factory=dict)

    def to_dict(self, *, explain: bool = True) -> dict:
        def nums(d):
            if d is None:
                return None
            return {k: (nums(v) if isinstance(v, dict) else _json(v)) for k, v in d.items()}
        out = {"jurisdiction": self.jurisdiction, "period": self.period, "totals": nums(self.totals),
               "categories": nums(self.categories), "passed": self.passed, "flags": list(self.flags),
               "carry_over": nums(self.carry_over), "cycle_totals": nums(self.cycle_totals),
               "cycle_passed": self.cycle_passed, "cycle_year": self.cycle_year, "exempt": self.exempt,
               "reasons": list(self.reasons), "annotations": list(self.annotations)}
        if explain:
            out["claims"] = [c.to_dict() for c in self.claims]
        return out


def _shown_inputs(values: dict, item) -> dict:
    """The inputs a person gave, as they wrote them (amounts back from milli-units)."""
    amounts = set(getattr(item, "amount_inputs", ()) or ())
    return {k: (from_milli(v) if k in amounts and isinstance(v, int) else v)
            for k, v in values.items() if k != "certificate_no"}


def _json(value: Decimal):
    return int(value) if value == value.to_integral_value() else float(value)


@dataclass
class UnitAssessment:
    """The assessments of one unit's teachers taken together (汇总): counts, pass rate, the
    teachers below requirements, and the unit's own flags (organisation-level rules)."""

    jurisdiction: str
    period: str
    teachers: int
    assessed: int
    passed: int
    failed: int
    pass_rate: Decimal | None
    below: list[Any]
    flags: list[str]
    reasons: list[str]

    def to_dict(self) -> dict:
        return {"jurisdiction": self.jurisdiction, "period": self.period, "teachers": self.teachers,
                "assessed": self.assessed, "passed": self.passed, "failed": self.failed,
                "pass_rate": None if self.pass_rate is None else float(self.pass_rate),
                "below": list(self.below), "flags": self.flags, "reasons": self.reasons}


class Totals:
    """Sums per measure: overall, per category, per item (milli-units)."""

    __slots__ = ("totals", "categories", "items")

    def __init__(self, nm: int, nc: int, ni: int):
        self.totals = [0] * nm
        self.categories = [[0] * nm for _ in range(nc)]
        self.items = [[0] * nm for _ in range(ni)] if ni else None

    def add(self, other: "Totals") -> None:
        for m, v in enumerate(other.totals):
            self.totals[m] += v
        for mine, theirs in zip(self.categories, other.categories):
            for m, v in enumerate(theirs):
                mine[m] += v
        if self.items is not None and other.items is not None:
            for mine, theirs in zip(self.items, other.items):
                for m, v in enumerate(theirs):
                    mine[m] += v


@dataclass
class JurisdictionBundle:
    """Everything the plugins gave for one jurisdiction (assembled by ``core.plugins``)."""

    jurisdiction: Any
    items: dict
    parameters: dict
    calculators: dict
    predicates: dict
    review_levels: list
    stage_windows: list
    case_sources: list


class Assessor:
    """Assesses teachers of one jurisdiction. Cheap to keep; compiled rules are cached per set
    of parameter values in force."""

    def __init__(self, bundle: JurisdictionBundle):
        self.bundle = bundle
        self.j = bundle.jurisdiction
        self.code = self.j.code
        self.calendar = Calendar(self.j.period)
        self.measures = self.j.measures
        self.nm = len(self.measures)
        self.parser = ClaimParser(bundle.items, self.measures, self.calendar)
        self.compiler = Compiler(self.j, bundle.items, bundle.parameters, bundle.calculators,
                                 {name: p.function for name, p in bundle.predicates.items()})
        self._predicates = self.compiler.predicates
        self._rules: dict[tuple, CompiledRules] = {}
        self._by_day: dict[date, CompiledRules] = {}
        self._day_period: dict[date, str] = {}

    # -- inputs -----------------------------------------------------------------------------
    def rules_for(self, day: date) -> CompiledRules:
        rules = self._by_day.get(day)
        if rules is None:
            epoch = parameter_epoch(self.bundle.parameters, day)
            rules = self._rules.get(epoch)
            if rules is None:
                rules = self._rules[epoch] = self.compiler.compile(day)
            self._by_day[day] = rules
        return rules

    def check(self) -> None:
        """Compile every distinct parameter epoch: a reference error surfaces now, with its line."""
        days = sorted({dv.start for p in self.bundle.parameters.values() for dv in p.values}) or [date(2000, 1, 1)]
        for day in days:
            self.rules_for(day)

    def claim_amount(self, claim: Claim, period_key: str, teacher: Teacher | None = None) -> int:
        """The primary-measure amount of one claim on its own (before groups and caps), in
        milli-units: what a claim record shows as 'computed'."""
        if self.calendar.personal:
            day = claim.on or date.today()
            period = Period(period_key, day, day)
        else:
            period = self.calendar.period(period_key)
        item = self.rules_for(period.start).items[claim.item]
        teacher = teacher or Teacher()
        amount, _ = item.amount(claim.values, ClaimContext(teacher, period, None, self._holds(teacher, period)))
        return amount[0]

    def parse_claims(self, raw_claims: Iterable, *, case: str | None = None) -> list[Claim]:
        if raw_claims is None:
            return []
        if not isinstance(raw_claims, list):
            raise InputError("claims 应为列表", case=case, field="claims")
        try:
            return [self.parser.parse(raw, index) for index, raw in enumerate(raw_claims)]
        except InputError as exc:
            raise exc.located(case=case) from None

    # -- the assessment ---------------------------------------------------------------------
    def assess(self, period_key: str, teacher: Teacher, claims: list[Claim], *, explain: bool = True) -> Assessment:
        if self.calendar.personal:
            return self._assess_personal(str(period_key), teacher, claims, explain)
        period = self.calendar.period(period_key)
        if self.j.cycle is not None:
            first = self._cycle_first(period, teacher)
            year = self.calendar.distance(first, period) + 1
            sequence = [self.calendar.shift(first, k) for k in range(year)]
        else:
            first, year, sequence = None, None, [period]
        keys = {p.key: p for p in sequence}
        rules_now = self.rules_for(period.start)
        by_period: dict[str, list[int]] = defaultdict(list)
        outside: dict[int, str] = {}
        for index, claim in enumerate(claims):
            key = self._period_of(claim, period, rules_now, index)
            if key in keys:
                by_period[key].append(index)
            else:
                outside[index] = key
        state = _Run(self, claims, explain)
        cycle_acc = Totals(self.nm, len(rules_now.category_codes), rules_now.item_slots)
        current = None
        for p in sequence:
            rules = self.rules_for(p.start)
            ctx = ClaimContext(teacher, p, None, self._holds(teacher, p))
            current = state.evaluate(rules, by_period.get(p.key, ()), ctx)
            cycle_acc.add(current)
        for index, key in outside.items():
            state.outside(index, f"属于{key}，不计入{period.key}" + ("（不在本周期内）" if self.j.cycle else ""))
        ctx = ClaimContext(teacher, period, None, self._holds(teacher, period))
        exempt_reason = self._exemption(rules_now, claims, by_period.get(period.key, ()), period, state)
        result = self._judge(rules_now, current, cycle_acc if self.j.cycle else None, ctx, year,
                             exempt_reason, pace_years=None)
        return self._early(sequence[0].start, self._finish(
            result, period.key, rules_now, current, cycle_acc if self.j.cycle else None,
            by_period.get(period.key, ()), claims, state, year, explain))

    def _assess_personal(self, period_key, teacher, claims, explain) -> Assessment:
        if period_key != PERSONAL_CYCLE_KEY:
            raise InputError(f"本地区按教师个人五年周期考核，考核期间应为 {PERSONAL_CYCLE_KEY}", field="period")
        start = teacher.cycle_start if isinstance(teacher.cycle_start, date) else None
        if teacher.cycle_start is not None and start is None:
            raise InputError("个人周期的起始应为日期（上一周期证书的发证日期）", field="teacher.cycle_start")
        start = start or teacher.employed_on
        if start is None:
            raise InputError("需要教师的周期起始日期 cycle_start（或新教师的入职日期 employed_on）",
                             field="teacher.cycle_start")
        years = self.j.period.years
        cycle = self.calendar.cycle_of(start, years)
        rules = self.rules_for(cycle.start)
        inside, year_of = [], {}
        state = _Run(self, claims, explain)
        for index, claim in enumerate(claims):
            day = claim.on or cycle.start
            if cycle.contains(day):
                inside.append(index)
                year_of[index] = next(k for k in range(1, years + 1) if day < add_years(cycle.start, k))
            else:
                state.outside(index, f"日期 {claim.on} 不在本周期（{cycle.start} 至 {cycle.end}）内，不计")
        ctx = ClaimContext(teacher, cycle, cycle, self._holds(teacher, cycle))
        totals = state.evaluate(rules, inside, ctx)
        pace_years = []
        for k in range(1, years + 1):
            cumulative = state.totals_of(rules, [i for i in inside if year_of[i] <= k])
            pace_years.append((k, cumulative))
        exempt_reason = self._exemption(rules, claims, inside, cycle, state)
        result = self._judge(rules, totals, None, ctx, None, exempt_reason, pace_years=pace_years)
        return self._early(cycle.start, self._finish(result, PERSONAL_CYCLE_KEY, rules, totals, None, inside,
                                                     claims, state, None, explain))

    def assess_unit(self, period_key: str, results: list[tuple[Any, Assessment]]) -> UnitAssessment:
        """Organisation-level rules over ``(teacher_ref, assessment)`` pairs of one unit and period:
        pass rate, who failed, and each ``unit_rules`` entry: the unit is flagged when the share of
        its assessed teachers below ``min`` is ``max_share`` or more ("15%以上" includes 15%)."""
        period = self.calendar.period(period_key) if not self.calendar.personal else None
        rules = self.rules_for(period.start if period else date.today())
        assessed = [(ref, a) for ref, a in results if a.passed is not None]
        passed = sum(1 for _, a in assessed if a.passed)
        failed = [ref for ref, a in assessed if a.passed is False]
        rate = (Decimal(passed) / Decimal(len(assessed))).quantize(Decimal("0.0001")) if assessed else None
        flags: list[str] = []
        reasons: list[str] = []
        for rule in rules.unit_rules:
            measure = rule["measure"]
            below = [ref for ref, a in results if a.passed is not None and rule["value"](a) < rule["min"]]
            base = len([1 for _, a in results if a.passed is not None])
            if base and Decimal(len(below)) / Decimal(base) >= rule["max_share"]:
                for flag in rule["flags"]:
                    if flag not in flags:
                        flags.append(flag)
                share = (Decimal(len(below)) * 100 / Decimal(base)).quantize(Decimal("0.1"))
                reasons.append(f"{rule['label']}：{len(below)}/{base} 人（{share}%）低于{fmt(rule['min_milli'])}"
                               f"{MEASURE_WORDS[measure]}，达到{(rule['max_share'] * 100).normalize()}%以上")
        return UnitAssessment(self.code, period_key, len(results), len(assessed), passed, len(failed), rate,
                              failed, flags, reasons)

    # -- helpers ----------------------------------------------------------------------------
    def earliest_day(self) -> date | None:
        """The first day every parameter has a dated value: an earlier period is assessed with the
        earliest values, and the result says so (``plugins check`` shows this day)."""
        firsts = [p.values[0].start for p in self.bundle.parameters.values() if p.values]
        return max(firsts) if firsts else None

    def _early(self, day: date, result: Assessment) -> Assessment:
        """Note in the result each parameter whose first dated value starts after ``day``."""
        early = [p for p in self.bundle.parameters.values() if p.values and day < p.values[0].start]
        if early:
            names = "、".join(f"{p.name}（自 {p.values[0].start} 起）" for p in early)
            result.annotations.insert(0, f"注意：考核自 {day} 起的期间，但参数 {names} 在此之前没有取值，"
                                         f"按其最早的取值计算；这些参数的规定可能尚未施行")
        return result

    def _holds(self, teacher, period):
        predicates = self._predicates
        cache: dict[str, bool] = {}

        def holds(name: str) -> bool:
            value = cache.get(name)
            if value is None:
                value = cache[name] = bool(predicates[name](teacher, period))
            return value
        return holds

    def _cycle_first(self, period: Period, teacher: Teacher) -> Period:
        cal, spec = self.calendar, self.j.cycle
        start = teacher.cycle_start
        if start is not None:
            anchor = cal.containing(start) if isinstance(start, date) else cal.period(start)
            if anchor.start > period.start:
                raise InputError(f"考核期间 {period.key} 早于教师的周期起点 {anchor.key}", field="teacher.cycle_start")
        else:
            key = self.rules_for(period.start).params.get(spec.anchor)
            if key is None:
                raise InputError(f"未设定周期起点参数 {spec.anchor}", field="period")
            anchor = cal.period(str(key))
        offset = cal.distance(anchor, period) // spec.periods * spec.periods
        return cal.shift(anchor, offset)

    def period_of(self, claim: Claim, today: date, index: int = 0) -> str:
        """The period a claim belongs to: the one owner of that decision, for the engine, a
        declaration and a batch registration alike. An explicit period wins; then the item's
        ``period_from`` input; then its ``period_of_date`` input (a training counts in the year
        it ends), the claim's date, or ``today``. A personal cycle is ``"cycle"``."""
        if self.calendar.personal:
            return "cycle"
        rules = self.rules_for(claim.on or today)
        return self._period_of(claim, self.calendar.containing(today), rules, index)

    def _period_of(self, claim: Claim, default: Period, rules: CompiledRules, index: int) -> str:
        if claim.period is not None:
            return claim.period
        item = rules.items.get(claim.item)
        if item is None:
            raise InputError(f"未知项目「{claim.item}」", claim=index, field="item")
        if item.period_from is not None and claim.values.get(item.period_from) is not None:
            return claim.values[item.period_from]
        on = claim.on
        if item.period_of_date is not None and claim.values.get(item.period_of_date) is not None:
            on = claim.values[item.period_of_date]
        if on is not None:
            cached = self._day_period.get(on)
            if cached is not None:
                return cached
            try:
                key = self.calendar.containing(on).key
            except InputError as exc:
                raise exc.located(claim=index) from None
            if len(self._day_period) < 100_000:
                self._day_period[on] = key
            return key
        return default.key

    def _exemption(self, rules, claims, indices, window: Period, state) -> str | None:
        reason = None
        for index in indices:
            item = rules.items[claims[index].item]
            spec = item.exemption
            if spec is None:
                continue
            day_input = spec.get("date")
            if day_input:
                day = claims[index].values.get(day_input)
                if day is None or not window.contains(day):
                    state.note(index, f"{spec['reason']}：日期 {day} 不在{window.start}至{window.end}内，不予免修")
                    continue
            state.note(index, f"免修：{spec['reason']}")
            reason = reason or spec["reason"]
        return reason

    def _judge(self, rules: CompiledRules, period_totals: Totals, cycle_acc: Totals | None,
               ctx: ClaimContext, year: int | None, exempt_reason: str | None, pace_years) -> dict:
        reasons: list[str] = []
        flags: list[str] = []
        cycle_passed = None

        def flag(*codes):
            for code in codes:
                if code not in flags:
                    flags.append(code)

        for predicate, reason in rules.not_assessed:
            if ctx.holds(predicate):
                flag("not_assessed")
                return {"passed": None, "flags": flags, "reasons": [reason], "cycle_passed": None,
                        "exempt": False}
        applicable = [r for r in rules.requirements
                      if r.minimum is not None and all(ctx.holds(p) for p in r.when)
                      and not any(ctx.holds(p) for p in r.unless)]
        if exempt_reason:
            flag("exempt")
            reasons.append(f"免修：{exempt_reason}")
            gating = [r for r in applicable if r.scope == "period" and r.effect == "fail"]
            return {"passed": True if gating else None, "flags": flags, "reasons": reasons,
                    "cycle_passed": None, "exempt": True}
        failed = False
        gated = False
        cycle_checked = False
        spec = self.j.cycle
        last_year = spec is not None and year == spec.periods
        for r in applicable:
            word = MEASURE_WORDS[self.measures[r.measure]]
            if r.scope == "period":
                value = r.total(period_totals, r.measure)
                if r.effect == "fail":
                    gated = True
                if value < r.minimum:
                    reasons.append(f"{r.label}不足：{fmt(value)}/{fmt(r.minimum)}")
                    flag(*r.flags)
                    failed = failed or r.effect == "fail"
            elif r.scope == "pace":
                if pace_years is not None:
                    for k, cumulative in pace_years:
                        value, need = r.total(cumulative, r.measure), r.minimum * k
                        if value < need:
                            reasons.append(f"第{k}年累计{r.label}不足：{fmt(value)}/{fmt(need)}（每年{fmt(r.minimum)}{word}为宜）")
                            flag(*r.flags)
                elif cycle_acc is not None and year is not None:
                    value, need = r.total(cycle_acc, r.measure), r.minimum * year
                    if value < need:
                        reasons.append(f"周期第{year}年累计{r.label}不足：{fmt(value)}/{fmt(need)}")
                        flag(*r.flags)
            elif r.scope == "cycle_end" and last_year and cycle_acc is not None:
                cycle_checked = True
                value = r.total(cycle_acc, r.measure)
                if value < r.minimum:
                    reasons.append(f"周期累计{r.label}不足：{fmt(value)}/{fmt(r.minimum)}")
                    flag(*r.flags)
                    cycle_passed = False
        if cycle_checked and cycle_passed is None:
            cycle_passed = True
        if not gated:
            passed = None
            reasons.insert(0, "未设定合格标准：只统计学时学分，不判定合格")
        else:
            passed = not failed
            if failed:
                flag(*rules.fail_flags)
        return {"passed": passed, "flags": flags, "reasons": reasons, "cycle_passed": cycle_passed,
                "exempt": False}

    def _finish(self, judged, period_key, rules, totals: Totals, cycle_acc, indices, claims, state,
                year, explain) -> Assessment:
        measures = self.measures
        carry = {}
        if rules.carry_over is not None and not judged["exempt"]:
            into, parts = rules.carry_over
            amount = min(getter(totals, 0) - over for getter, over in parts)
            if amount > 0:
                carry[rules.category_codes[into]] = from_milli(amount)

        def per_measure(values):
            return {m: from_milli(v) for m, v in zip(measures, values)}
        if self.nm == 1:
            categories = {code: from_milli(totals.categories[c][0]) for c, code in enumerate(rules.category_codes)}
        else:
            categories = {code: per_measure(totals.categories[c]) for c, code in enumerate(rules.category_codes)}
        annotations = []
        for index in indices:
            note = rules.items[claims[index].item].note
            if note and note not in annotations and state.counted_any(index):
                annotations.append(note)
        return Assessment(
            jurisdiction=self.code, period=period_key, totals=per_measure(totals.totals),
            categories=categories, passed=judged["passed"], flags=judged["flags"], carry_over=carry,
            cycle_totals=per_measure(cycle_acc.totals) if cycle_acc is not None else None,
            cycle_passed=judged["cycle_passed"], exempt=judged["exempt"], reasons=judged["reasons"],
            annotations=annotations, claims=state.explanations(rules) if explain else [],
            cycle_year=year, category_names=rules.category_names,
        )


class _Run:
    """Per-claim amounts and notes of one assessment."""

    def __init__(self, assessor: Assessor, claims: list[Claim], explain: bool = True):
        self.assessor = assessor
        self.explain = explain
        self.claims = claims
        self.nm = assessor.nm
        n = len(claims)
        self.computed: list[tuple | None] = [None] * n
        self.counted: list[tuple | None] = [None] * n
        self.periods: list[str | None] = [None] * n
        self.notes: dict[int, list[str]] = {}
        self.cycle_used: dict[tuple, list[int]] = {}

    def note(self, index: int, text: str) -> None:
        if self.explain:
            self.notes.setdefault(index, []).append(text)

    def outside(self, index: int, text: str) -> None:
        self.note(index, text)

    def counted_any(self, index: int) -> bool:
        counted = self.counted[index]
        return counted is not None and any(counted)

    def evaluate(self, rules: CompiledRules, indices, ctx: ClaimContext) -> Totals:
        nm = self.nm
        claims = self.claims
        items = rules.items
        computed = self.computed
        zero = (0,) * nm
        words = [MEASURE_WORDS[m] for m in self.assessor.measures]
        groups: dict[tuple, int] = {}
        for index in indices:
            claim = claims[index]
            item = items[claim.item]
            self.periods[index] = ctx.period.key
            try:
                amount, note = item.amount(claim.values, ctx)
            except InputError as exc:
                raise exc.located(claim=index) from None
            computed[index] = amount
            if note:
                self.note(index, note)
            if item.highest_group is not None:
                key = (item.highest_group, claim.values.get(item.highest_key) if item.highest_key else None)
                best = groups.get(key)
                if best is None or amount[0] > computed[best][0]:
                    groups[key] = index
        losers = set()
        if groups:
            for index in indices:
                claim = claims[index]
                item = items[claim.item]
                if item.highest_group is None:
                    continue
                key_value = claim.values.get(item.highest_key) if item.highest_key else None
                winner = groups[(item.highest_group, key_value)]
                if winner != index:
                    losers.add(index)
                    if self.explain:
                        name = rules.groups[item.highest_group]
                        label = f"{name}「{key_value}」" if key_value is not None else name
                        self.note(index, f"{label}只计最高一项（第{winner + 1}条，{fmt(computed[winner][0])}{words[0]}），本条不计")
        totals = Totals(nm, len(rules.category_codes), rules.item_slots)
        period_used: dict[int, list[int]] = {}
        buckets = rules.buckets
        counted = self.counted
        grand = totals.totals
        categories = totals.categories
        item_totals = totals.items
        for index in indices:
            item = items[claims[index].item]
            amount = zero if index in losers else computed[index]
            if item.buckets and any(amount):
                amount = self._cap(index, item, amount, buckets, period_used, words)
            counted[index] = amount
            category = categories[item.category_index]
            if nm == 1:
                v = amount[0]
                grand[0] += v
                category[0] += v
                if item_totals is not None:
                    item_totals[item.index][0] += v
            else:
                for m in range(nm):
                    v = amount[m]
                    grand[m] += v
                    category[m] += v
                    if item_totals is not None:
                        item_totals[item.index][m] += v
        return totals

    def _cap(self, index, item, amount, buckets, period_used, words):
        """Cut ``amount`` to what the item's buckets still have room for, noting each cut."""
        nm = self.nm
        if nm == 1:
            value = amount[0]
            usages = []
            for b in item.buckets:
                bucket = buckets[b]
                if bucket.cycle:
                    key = (bucket.label, bucket.items)
                    used = self.cycle_used.get(key)
                    if used is None:
                        used = self.cycle_used[key] = [0]
                else:
                    used = period_used.get(b)
                    if used is None:
                        used = period_used[b] = [0]
                usages.append(used)
                limit = bucket.limits[0]
                if limit is not None:
                    room = limit - used[0]
                    if room < 0:
                        room = 0
                    if value > room:
                        if self.explain:
                            scope = "周期" if bucket.cycle else "年度"
                            self.note(index, f"超出{bucket.label}{scope}上限{fmt(limit)}{words[0]}，"
                                             f"{fmt(value - room)}{words[0]}不计")
                        value = room
            for used in usages:
                used[0] += value
            return (value,)
        amount = list(amount)
        usages = []
        for b in item.buckets:
            bucket = buckets[b]
            if bucket.cycle:
                used = self.cycle_used.setdefault((bucket.label, bucket.items), [0] * nm)
            else:
                used = period_used.setdefault(b, [0] * nm)
            usages.append(used)
            for m, limit in enumerate(bucket.limits):
                if limit is None:
                    continue
                room = max(limit - used[m], 0)
                if amount[m] > room:
                    if self.explain:
                        cut = amount[m] - room
                        scope = "周期" if bucket.cycle else "年度"
                        self.note(index, f"超出{bucket.label}{scope}上限{fmt(limit)}{words[m]}，{fmt(cut)}{words[m]}不计")
                    amount[m] = room
        for used in usages:
            for m in range(nm):
                used[m] += amount[m]
        return tuple(amount)

    def totals_of(self, rules: CompiledRules, indices) -> Totals:
        totals = Totals(self.nm, len(rules.category_codes), rules.item_slots)
        for index in indices:
            item = rules.items[self.claims[index].item]
            for m, v in enumerate(self.counted[index]):
                totals.totals[m] += v
                totals.categories[item.category_index][m] += v
                if totals.items is not None:
                    totals.items[item.index][m] += v
        return totals

    def explanations(self, rules: CompiledRules) -> list[ClaimExplanation]:
        measures = self.assessor.measures
        out = []
        for index, claim in enumerate(self.claims):
            item = rules.items.get(claim.item)
            computed = self.computed[index] or (0,) * self.nm
            counted = self.counted[index] or (0,) * self.nm
            declared = None
            if item is not None and item.declared_measures:
                declared = {m: (from_milli(claim.values[m]) if m in item.amount_inputs else Decimal(claim.values[m]))
                            for m in item.declared_measures if m in claim.values}
            out.append(ClaimExplanation(
                index=index, item=claim.item, item_name=item.name if item else claim.item,
                period=self.periods[index] or claim.period,
                declared=declared,
                computed={m: from_milli(v) for m, v in zip(measures, computed)},
                counted={m: from_milli(v) for m, v in zip(measures, counted)},
                notes=self.notes.get(index, []), ref=claim.ref,
                inputs=None if declared is not None else _shown_inputs(claim.values, item),
            ))
        return out
