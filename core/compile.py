"""Compiling a jurisdiction's data into fast closures, once per set of parameter values.

Every catalogue item becomes a ``CompiledItem`` whose ``amount(values, ctx)`` returns a tuple of
milli-units (one per measure) and a note; caps become buckets; requirements become checks.
Parameters are resolved at the period's start, so a threshold changed in 2020 is a new dated
value, never an ``if year >= 2020``. Errors in references (an unknown parameter, a table without
the level a claim names) carry the plugin file and line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Callable

from .errors import InputError, PluginDataError
from .numbers import SCALE, NumberError, fmt, from_milli, parse_decimal, to_milli
from .periods import Calendar, Period, resolve_day
from .plugin_data import fail, mapping, value_of
from .yamlstrict import where
from .types import CatalogueItem, InputSpec, Jurisdiction, Parameter

MEASURE_WORDS = {"hours": "学时", "credits": "学分"}


@dataclass
class ClaimContext:
    """What a calculator may look at besides the claim's inputs."""

    teacher: Any
    period: Period
    cycle: Period | None
    holds: Callable[[str], bool]  # predicate name -> holds for this teacher in this period


def number_of(params, raw, node, key, what="数值", *, integer=False, positive=False) -> Decimal:
    """A literal number or the number a parameter names, or a PluginDataError with the line that
    uses it (never ``InvalidOperation``): ``min: pass_tota`` → 未定义的参数; a table or text → 不是数字."""
    value = value_of(params, raw, node, key, what)
    named = f"（参数 {raw!r} 的值为 {value!r}）" if isinstance(raw, str) else ""
    try:
        number = parse_decimal(value)
    except NumberError as exc:
        fail(f"{what}应为数字{named}：{exc}", node, key)
    if integer and number != number.to_integral_value():
        fail(f"{what}应为整数{named}", node, key)
    if positive and number <= 0:
        fail(f"{what}应为正数{named}", node, key)
    return number


def milli_of(value, node, key, what="数值") -> int | None:
    if value is None:
        return None
    try:
        return to_milli(parse_decimal(value))
    except NumberError as exc:
        fail(f"{what} 无效：{exc}", node, key)


def _unit_view(values: dict, amount_names: frozenset) -> dict:
    """The claim's inputs as a person wrote them: ``amount`` inputs are kept in milli-units by the
    parser (2.5 hours = 2500) and are handed to every computation, condition and calculator as
    Decimal units (2.5), like ``number`` inputs. Only the engine's own sums are in milli-units."""
    if not amount_names or amount_names.isdisjoint(values):
        return values
    return {k: (from_milli(v) if k in amount_names and isinstance(v, int) else v) for k, v in values.items()}


def _scale(amount: int, factor) -> int:
    """amount × factor in milli-units, rounded half up (exact for the factors plugins use)."""
    if isinstance(factor, int):
        return amount * factor
    product = Decimal(amount) * factor
    return int(product.to_integral_value(rounding=ROUND_HALF_UP))


@dataclass
class Bucket:
    """A cap: the claims of ``items`` (per period, or per cycle) count at most ``limit``."""

    label: str
    limits: tuple[int | None, ...]
    cycle: bool
    items: frozenset[str]


@dataclass
class Requirement:
    label: str
    measure: int
    minimum: int
    total: Callable[[Any], int]  # from a PeriodTotals (or cycle accumulator)
    scope: str  # period | pace | cycle_end
    when: tuple[str, ...]
    unless: tuple[str, ...]
    effect: str  # fail | flag
    flags: tuple[str, ...]


@dataclass
class CompiledItem:
    code: str
    name: str
    category: str
    category_index: int
    index: int
    amount: Callable[[dict, ClaimContext], tuple[tuple[int, ...], str | None]]
    declared_measures: tuple[str, ...]
    highest_group: int | None = None
    highest_key: str | None = None
    buckets: tuple[int, ...] = ()
    exemption: dict | None = None
    period_from: str | None = None
    period_of_date: str | None = None
    note: str | None = None
    amount_inputs: frozenset = frozenset()


@dataclass
class CompiledRules:
    jurisdiction: Jurisdiction
    params: dict[str, Any]
    items: dict[str, CompiledItem]
    item_list: list[CompiledItem]
    buckets: list[Bucket]
    groups: list[str]
    requirements: list[Requirement]
    not_assessed: list[tuple[str, str]]
    fail_flags: tuple[str, ...]
    carry_over: tuple[int, list] | None  # (category index, [(getter, minimum)])
    category_codes: tuple[str, ...]
    category_names: dict[str, str] = field(default_factory=dict)
    unit_rules: list[dict] = field(default_factory=list)
    item_slots: int = 0  # per-item totals are kept only when a requirement reads them


def parameter_epoch(parameters: dict[str, Parameter], when: date) -> tuple:
    """Which dated value of each parameter is in force: periods with equal epochs share rules."""
    return tuple(sum(1 for dv in p.values if dv.start <= when) for p in parameters.values())


class Compiler:
    def __init__(self, jurisdiction: Jurisdiction, items: dict[str, CatalogueItem],
                 parameters: dict[str, Parameter], calculators: dict[str, Callable],
                 predicates: dict[str, Callable]):
        self.j = jurisdiction
        self.catalogue = items
        self.parameters = parameters
        self.calculators = calculators
        self.predicates = predicates
        self.measures = jurisdiction.measures
        self.nm = len(self.measures)
        self.categories = tuple(c.code for c in jurisdiction.categories)

    # -- values ---------------------------------------------------------------------------
    def compile(self, when: date) -> CompiledRules:
        params = {name: p.at(when) for name, p in self.parameters.items()}
        self.params = params
        item_list = []
        for index, item in enumerate(self.catalogue.values()):
            item_list.append(self._item(item, index))
        items = {ci.code: ci for ci in item_list}
        groups = self._groups(items)
        buckets = self._buckets(items)
        rules = self.j.rules
        requirements = [self._requirement(node, index) for index, node in enumerate(rules.get("requirements", ()))]
        not_assessed = []
        for index, node in enumerate(rules.get("not_assessed", ())):
            mapping(node, f"not_assessed[{index}]", required=("when", "reason"), parent=rules["not_assessed"], key=index)
            self._check_predicate(node["when"], node, "when")
            not_assessed.append((node["when"], node["reason"]))
        fail_flags = ()
        if "on_fail" in rules:
            on_fail = mapping(rules["on_fail"], "on_fail", required=("flags",), parent=rules, key="on_fail")
            fail_flags = tuple(self._flag(f, on_fail, "flags") for f in on_fail["flags"])
        carry = self._carry(rules.get("carry_over"), rules)
        needs_items = any(isinstance(node.get("of"), dict) for node in rules.get("requirements", ()))
        return CompiledRules(self.j, params, items, item_list, buckets, groups, requirements, not_assessed,
                             fail_flags, carry, self.categories,
                             {c.code: c.name for c in self.j.categories},
                             [self._unit_rule(node, i) for i, node in enumerate(rules.get("unit_rules", ()))],
                             len(item_list) if needs_items else 0)

    def _unit_rule(self, node, index) -> dict:
        """A unit flag: ``max_share`` or more of the unit's assessed teachers below ``min``."""
        rules = self.j.rules
        mapping(node, f"unit_rules[{index}]", required=("of", "min", "max_share", "flags", "label"),
                optional=("measure",), parent=rules["unit_rules"], key=index)
        measure = node.get("measure", self.measures[0])
        if measure not in self.measures:
            fail(f"未知的度量 {measure!r}", node, "measure")
        of = node["of"]
        if of != "total" and of not in self.categories:
            fail("unit_rules.of 应为 total 或类别代码", node, "of")
        minimum = milli_of(value_of(self.params, node["min"], node, "min"), node, "min")
        share = value_of(self.params, node["max_share"], node, "max_share")
        try:
            share = parse_decimal(share)
        except NumberError as exc:
            fail(f"max_share 无效：{exc}", node, "max_share")
        from .numbers import from_milli

        def value(assessment, of=of, measure=measure):
            if of == "total":
                return assessment.totals[measure]
            cat = assessment.categories[of]
            return cat[measure] if isinstance(cat, dict) else cat
        return {"label": node["label"], "measure": measure, "value": value, "min": from_milli(minimum),
                "min_milli": minimum, "max_share": share,
                "flags": tuple(self._flag(f, node, "flags") for f in node["flags"])}

    def _flag(self, flag, node, key):
        if flag not in self.j.flags:
            fail(f"未知的标记 {flag!r}（可在 jurisdiction.yaml 的 flags 中声明）", node, key)
        return flag

    def _check_predicate(self, name, node, key):
        names = [name] if isinstance(name, str) else list(name or ())
        for n in names:
            if n not in self.predicates:
                fail(f"未知的教师条件 {n!r}（可用：{'、'.join(sorted(self.predicates))}）", node, key)
        return tuple(names)

    def _limits(self, raw, node, key):
        """A cap: a number or parameter (the primary measure) or {measure: number}; None = no cap."""
        value = value_of(self.params, raw, node, key, "上限")
        if value is None:
            return None
        if isinstance(value, dict):
            unknown = set(value) - set(self.measures)
            if unknown:
                fail(f"上限中未知的度量 {sorted(unknown)}", node, key)
            return tuple(milli_of(value.get(m), node, key, "上限") for m in self.measures)
        return (milli_of(value, node, key, "上限"),) + (None,) * (self.nm - 1)

    def _amount_value(self, raw, node, key, what="金额"):
        """A per-measure amount: a number/parameter (primary measure) or {measure: number}."""
        value = value_of(self.params, raw, node, key, what)
        if isinstance(value, dict):
            out = []
            for measure in self.measures:
                out.append(milli_of(value.get(measure, 0), node, key, what))
            unknown = set(value) - set(self.measures)
            if unknown:
                fail(f"{what} 中未知的度量 {sorted(unknown)}", node, key)
            return tuple(out)
        milli = milli_of(value, node, key, what)
        if milli is None:
            return None
        return (milli,) + (0,) * (self.nm - 1)

    # -- items ----------------------------------------------------------------------------
    def _when(self, node, parent, key) -> Callable[[dict, ClaimContext], bool]:
        """A condition on a claim's inputs (and ``teacher:`` predicates)."""
        if not isinstance(node, dict):
            fail("when 应为映射：输入名 → 值（或值的列表），teacher → 教师条件", parent, key)
        tests = []
        for name, expected in node.items():
            if name == "teacher":
                preds = self._check_predicate(expected, node, name)
                tests.append(lambda values, ctx, preds=preds: all(ctx.holds(p) for p in preds))
                continue
            spec = self._input(name, node, name)
            for value in (expected if isinstance(expected, list) else [expected]):
                if spec.type == "choice" and str(value) not in spec.choices:
                    fail(f"when 中 {name} 的取值 {value!r} 不是该输入的可选值（{'、'.join(spec.choices)}）", node, name)
            if isinstance(expected, list):
                allowed = frozenset(expected)
                tests.append(lambda values, ctx, name=name, allowed=allowed: values.get(name) in allowed)
            else:
                tests.append(lambda values, ctx, name=name, expected=expected: values.get(name) == expected)
        return lambda values, ctx: all(test(values, ctx) for test in tests)

    def _per(self, compute, spec_node):
        per = compute.get("per")
        if per is None:
            return None
        unit = compute.get("unit", 1)
        max_count = compute.get("max_count")
        if not isinstance(unit, int) or isinstance(unit, bool) or unit < 1:
            fail("compute.unit 应为正整数", compute, "unit")
        if max_count is not None:
            max_count = number_of(self.params, max_count, compute, "max_count", "max_count")
        self._numeric_input(per, compute, "per")

        def count(values):
            raw = values.get(per, 1)
            n = raw // unit if unit != 1 else raw
            if max_count is not None and n > max_count:
                n = max_count
            return n
        return count

    def _input(self, name, node, key):
        """The InputSpec of ``name`` on the item being compiled, or a refusal with the line."""
        spec = self._inputs.get(name) if isinstance(name, str) else None
        if spec is None:
            known = "、".join(sorted(self._inputs)) or "无"
            fail(f"项目 {self._item_code} 没有输入 {name!r}（本项目的输入：{known}）", node, key)
        return spec

    def _numeric_input(self, name, node, key):
        spec = self._input(name, node, key)
        if spec.type not in ("amount", "number", "integer"):
            fail(f"输入 {name!r} 是 {spec.type} 类型，这里需要数字（amount、number 或 integer）", node, key)
        return spec

    def _base(self, item: CatalogueItem):
        spec = item.rules
        compute = spec["compute"]
        kind = compute["kind"]
        nm = self.nm
        zero = (0,) * nm
        if kind == "declared":
            measures = self.measures
            conversions = []
            for index, conv in enumerate(compute.get("convert", ())):
                mapping(conv, f"{item.code}.compute.convert[{index}]", required=("input",),
                        optional=("factor", "per"), parent=compute["convert"], key=index)
                factor = conv.get("factor", 1)
                per = conv.get("per", 1)
                self._numeric_input(conv["input"], conv, "input")
                factor = number_of(self.params, factor, conv, "factor", "换算系数 factor")
                per = int(number_of(self.params, per, conv, "per", "换算单位 per", integer=True, positive=True))
                conversions.append((conv["input"], factor, per))

            def declared(values, ctx):
                out = []
                for measure in measures:
                    v = values.get(measure)
                    if v is not None:
                        v = _scale(SCALE, v if isinstance(v, Decimal) else Decimal(v))
                    else:
                        v = 0
                        for name, factor, per in conversions:
                            if name in values:
                                units = values[name] // per if per != 1 else values[name]
                                v = _scale(SCALE, Decimal(units) * factor)
                                break
                    out.append(v)
                return tuple(out)
            return declared, self.measures
        if kind == "none":
            return (lambda values, ctx: zero), ()
        if kind == "custom":
            name = compute.get("function")
            function = self.calculators.get(name)
            if function is None:
                fail(f"未知的自定义计算 {name!r}（插件须通过 jijiao_calculators 提供）", compute, "function")
            params = self.params
            measures = self.measures

            def custom(values, ctx):
                try:
                    result = function(values, params, ctx)
                except (InputError, PluginDataError):
                    raise
                except Exception as exc:  # a plugin's bug: name it, with the catalogue line that uses it
                    raise PluginDataError(f"自定义计算 {name} 出错：{type(exc).__name__}: {exc}",
                                          **where(compute, "function")) from exc
                if result is None or isinstance(result, bool) or not isinstance(result, (int, float, Decimal, dict)):
                    raise PluginDataError(f"自定义计算 {name} 返回了 {type(result).__name__}，应为数字或 {{度量: 数字}}",
                                          **where(compute, "function"))
                try:
                    if isinstance(result, dict):
                        return tuple(to_milli(parse_decimal(result.get(m, 0))) for m in measures)
                    return (to_milli(parse_decimal(result)),) + zero[1:]
                except NumberError as exc:
                    raise PluginDataError(f"自定义计算 {name} 的结果 {result!r} 无效：{exc}",
                                          **where(compute, "function")) from None
            return custom, ()
        count = self._per(compute, spec)
        if kind == "fixed":
            base = self._amount_value(compute.get("amount"), compute, "amount")
            if base is None:
                fail("fixed 须给出 amount", compute)
            variants = []
            for index, variant in enumerate(spec.get("variants", ())):
                mapping(variant, f"{item.code}.variants[{index}]", required=("when", "amount"),
                        parent=spec["variants"], key=index)
                variants.append((self._when(variant["when"], variant, "when"),
                                 self._amount_value(variant["amount"], variant, "amount")))

            def fixed(values, ctx):
                amount = base
                for test, alternative in variants:
                    if test(values, ctx):
                        amount = alternative
                        break
                if count is None:
                    return amount
                n = count(values)
                return tuple(_scale(a, n) for a in amount)
            return fixed, ()
        if kind == "threshold":
            name = compute.get("input")
            if name is None:
                fail("threshold 须给出 input（输入名）", compute)
            self._numeric_input(name, compute, "input")
            minimum = number_of(self.params, compute.get("min"), compute, "min", "门槛 min")
            scale = number_of(self.params, compute.get("scale", 1), compute, "scale", "scale")
            amount = self._amount_value(compute.get("amount"), compute, "amount")

            def threshold(values, ctx):
                return amount if values.get(name, 0) * scale >= minimum else zero
            return threshold, ()
        if kind == "table":
            table = value_of(self.params, compute.get("table"), compute, "table", "表")
            by = compute.get("by", ())
            if not isinstance(table, dict) or not by:
                fail("table 须给出 table（映射或参数名）和 by（输入名列表）", compute)
            code = item.code

            milli_table = _milli_tree(table, compute)
            if not isinstance(by, list):
                fail("table 的 by 应为输入名列表", compute, "by")
            specs = [self._input(name, compute, "by") for name in by]
            self._check_table(milli_table, specs, compute, [], compute.get("table"))

            def table_amount(values, ctx):
                node = milli_table
                for name in by:
                    if not isinstance(node, dict):
                        break
                    key = values.get(name)
                    if key is None:
                        raise InputError(f"缺少「{name}」", field=name, item=code)
                    if key not in node:
                        raise InputError(f"「{key}」不在本项目的计分表中（可选：{'、'.join(map(str, node))}）",
                                         field=name, item=code)
                    node = node[key]
                if isinstance(node, dict):
                    raise InputError(f"缺少「{by[-1]}」", field=by[-1], item=code)
                if count is not None:
                    node = _scale(node, count(values))
                return (node,) + zero[1:]
            return table_amount, ()
        raise AssertionError(kind)

    def _check_table(self, node, specs, compute, path, table_name):
        """Every choice an input allows has a value in the table (at each level the table still
        branches): a teacher's claim must never be the first to find a hole."""
        if not isinstance(node, dict) or not specs:
            return
        spec = specs[0]
        if spec.type == "choice":
            missing = [c for c in spec.choices if c not in node]
            if missing:
                where_ = "".join(f"[{p}]" for p in path)
                named = f"参数 {table_name}" if isinstance(table_name, str) else "table"
                fail(f"计分表{named}{where_}缺少输入「{spec.name}」可选值 {'、'.join(missing)} 的分值"
                     f"（本项目允许的取值：{'、'.join(spec.choices)}）", compute, "table")
        for key, child in node.items():
            self._check_table(child, specs[1:], compute, path + [key], table_name)

    def _item(self, item: CatalogueItem, index: int) -> CompiledItem:
        spec = item.rules
        self._item_code = item.code
        self._inputs = {s.name: s for s in item.inputs}
        self._inputs.setdefault("certificate_no", InputSpec("certificate_no", "text", "证书编号", required=False))
        if spec["compute"].get("kind") == "declared":
            for measure in self.measures:
                self._inputs.setdefault(measure, InputSpec(measure, "amount"))
        base, declared_measures = self._base(item)
        nm = self.nm
        zero = (0,) * nm
        role = None
        if "role_factor" in spec:
            rf = mapping(spec["role_factor"], f"{item.code}.role_factor", required=("input", "factors"),
                         optional=("levels",), parent=spec, key="role_factor")
            self._input(rf["input"], rf, "input")
            if not isinstance(rf["factors"], dict):
                fail("role_factor.factors 应为映射：取值 → 系数", rf, "factors")
            factors = {k: number_of(self.params, v, rf["factors"], k, "系数") for k, v in rf["factors"].items()}
            levels = frozenset(rf.get("levels", ())) or None
            role = (rf["input"], factors, levels)
        bonuses = []
        for i, bonus in enumerate(spec.get("bonus", ())):
            mapping(bonus, f"{item.code}.bonus[{i}]", required=("when", "amount"), parent=spec["bonus"], key=i)
            bonuses.append((self._when(bonus["when"], bonus, "when"), self._amount_value(bonus["amount"], bonus, "amount")))
        conditions = []
        for i, cond in enumerate(spec.get("conditions", ())):
            conditions.append(self._condition(cond, spec["conditions"], i, item))

        amount_names = frozenset(s.name for s in item.inputs if s.type == "amount")
        if spec["compute"].get("kind") == "declared":
            amount_names |= frozenset(m for m in self.measures if all(s.name != m for s in item.inputs))

        def amount(values, ctx):
            values = _unit_view(values, amount_names)
            notes = None
            for check, reason in conditions:
                outcome = check(values, ctx)
                if not outcome:
                    return zero, reason.format_map(_Fmt(values))
                if outcome is not True and isinstance(outcome, _Note):
                    notes = outcome.text if notes is None else notes + "；" + outcome.text
            result = base(values, ctx)
            if role is not None:
                name, factors, levels = role
                factor = factors.get(values.get(name))
                if factor is not None and (levels is None or values.get("level") in levels):
                    result = tuple(_scale(a, factor) for a in result)
            for test, extra in bonuses:
                if test(values, ctx):
                    result = tuple(a + b for a, b in zip(result, extra))
            return result, notes

        exemption = None
        if "exemption" in spec:
            exemption = mapping(spec["exemption"], f"{item.code}.exemption", required=("reason",),
                                optional=("date", "within"), parent=spec, key="exemption")
            if exemption.get("within", "period") not in ("period", "cycle"):
                fail("exemption.within 应为 period 或 cycle", exemption, "within")
        return CompiledItem(
            code=item.code, name=item.name, category=item.category,
            category_index=self.categories.index(item.category), index=index, amount=amount,
            declared_measures=declared_measures, exemption=exemption,
            period_from=spec.get("period_from"), period_of_date=self._period_of_date(item),
            amount_inputs=amount_names,
            note=spec.get("note"),
        )

    def _period_of_date(self, item: CatalogueItem) -> str | None:
        """``period_of_date: <date input>``: without an explicit period, the claim belongs to the
        period containing that date (a training counts in the year it ends)."""
        name = item.rules.get("period_of_date")
        if name is None:
            return None
        if not any(s.name == name and s.type == "date" for s in item.inputs):
            fail(f"period_of_date 应为本项目的日期输入（date 类型），而不是 {name!r}", item.rules, "period_of_date")
        return name

    def _condition(self, cond, parent, index, item):
        ctx_name = f"{item.code}.conditions[{index}]"
        mapping(cond, ctx_name, required=("reason",),
                optional=("min", "teacher", "dates", "within", "when", "unfinished_counts_next"),
                parent=parent, key=index)
        if "unfinished_counts_next" in cond and "dates" not in cond:
            fail("unfinished_counts_next 只能与 dates 一起使用", cond, "unfinished_counts_next")
        reason = cond["reason"]
        if "min" in cond:
            minimums = cond["min"]
            if not isinstance(minimums, dict):
                fail("min 应为映射：输入名 → 最小值", cond, "min")
            for k in minimums:
                self._numeric_input(k, minimums, k)
            pairs = [(k, number_of(self.params, v, minimums, k, "最小值")) for k, v in minimums.items()]
            return (lambda values, ctx: all(values.get(k) is None or values[k] >= m for k, m in pairs)), reason
        if "teacher" in cond:
            preds = self._check_predicate(cond["teacher"], cond, "teacher")
            return (lambda values, ctx: all(ctx.holds(p) for p in preds)), reason
        if "dates" in cond:
            window = value_of(self.params, cond.get("within"), cond, "within", "窗口")
            if not isinstance(window, dict) or set(window) != {"from", "to"}:
                fail("within 应为窗口参数 {from: MM-DD, to: MM-DD}", cond, "within")
            names = tuple(cond["dates"]) if isinstance(cond["dates"], list) else ()
            if not names:
                fail("dates 应为日期输入名的列表", cond, "dates")
            for n in names:
                if self._input(n, cond, "dates").type != "date":
                    fail(f"dates 中的 {n!r} 不是日期（date）输入", cond, "dates")
            carried = cond.get("unfinished_counts_next")
            if carried is not None and (not isinstance(carried, str) or len(names) < 2):
                fail("unfinished_counts_next 应为说明文字，且 dates 须给出开始与结束两个日期", cond,
                     "unfinished_counts_next")
            calendar = Calendar(self.j.period)

            def within(values, ctx):
                start = resolve_day(window["from"], ctx.period)
                end = resolve_day(window["to"], ctx.period)
                if all(values.get(n) is None or start <= values[n] <= end for n in names):
                    return True
                if carried is None or calendar.personal:
                    return False
                # Begun inside the previous period's window and not finished when it closed: the
                # notice counts it in the period it ends in (when it ends by this window's end).
                first, last = values.get(names[0]), values.get(names[-1])
                if first is None or last is None:
                    return False
                previous = calendar.shift(ctx.period, -1)
                p_start, p_end = resolve_day(window["from"], previous), resolve_day(window["to"], previous)
                if p_start <= first <= p_end < last <= end:
                    return _Note(carried.format_map(_Fmt(values)))
                return False
            return within, reason
        if "when" in cond:
            return self._when(cond["when"], cond, "when"), reason
        fail(f"{ctx_name} 须给出 min、teacher、dates 或 when 之一", cond)

    # -- groups and caps --------------------------------------------------------------------
    def _item_codes(self, node, parent, key, items) -> list[str]:
        codes = []
        for code in node.get("items", ()):
            if code not in items:
                fail(f"未知的项目 {code!r}", node, "items")
            codes.append(code)
        for cat in node.get("categories", ()):
            if cat not in self.categories:
                fail(f"未知的类别 {cat!r}", node, "categories")
            codes.extend(c for c, ci in items.items() if ci.category == cat)
        if not codes:
            fail("须给出 items 或 categories", parent, key)
        return codes

    def _groups(self, items) -> list[str]:
        names = []
        rules = self.j.rules
        for index, node in enumerate(rules.get("highest_of", ())):
            mapping(node, f"highest_of[{index}]", required=("name", "items"), optional=("key",),
                    parent=rules["highest_of"], key=index)
            key = node.get("key")
            for code in self._item_codes(node, rules["highest_of"], index, items):
                if key is not None:
                    inputs = {s.name for s in self.catalogue[code].inputs} | {"certificate_no"}
                    if key not in inputs:
                        fail(f"highest_of「{node['name']}」的 key {key!r} 不是项目 {code} 的输入"
                             f"（该项目的输入：{'、'.join(sorted(inputs))}）；拼错的键会把所有记录归为一组",
                             node, "key")
                items[code].highest_group = index
                items[code].highest_key = key
            names.append(node["name"])
        return names

    def _buckets(self, items) -> list[Bucket]:
        buckets: list[Bucket] = []
        nm = self.nm
        for code, ci in items.items():
            spec = self.catalogue[code].rules
            if "cap" in spec:
                limits = self._limits(spec["cap"], spec, "cap")
                if limits is not None:
                    buckets.append(Bucket(ci.name, limits, False, frozenset([code])))
        rules = self.j.rules
        declared = []
        for index, node in enumerate(rules.get("caps", ())):
            mapping(node, f"caps[{index}]", required=("max",), optional=("items", "categories", "per", "measure", "label"),
                    parent=rules["caps"], key=index)
            codes = frozenset(self._item_codes(node, rules["caps"], index, items))
            per = node.get("per", "period")
            if per not in ("period", "cycle"):
                fail("caps.per 应为 period 或 cycle", node, "per")
            raw = value_of(self.params, node["max"], node, "max", "上限")
            if raw is None:
                continue
            milli = milli_of(raw, node, "max", "上限")
            measure = node.get("measure")
            if measure is not None and measure not in self.measures:
                fail(f"未知的度量 {measure!r}", node, "measure")
            limits = tuple(milli if (measure is None or measure == m) else None for m in self.measures)
            label = node.get("label") or "、".join(
                [self.j.categories[self.categories.index(c)].name for c in node.get("categories", ())]
                + [items[c].name for c in node.get("items", ())])
            declared.append(Bucket(label, limits, per == "cycle", codes))
        # Narrow caps before wide ones; cycle caps last: the claim is cut by the tightest first.
        declared.sort(key=lambda b: (b.cycle, len(b.items)))
        buckets.extend(declared)
        for index, bucket in enumerate(buckets):
            for code in bucket.items:
                items[code].buckets += (index,)
        return buckets

    # -- requirements -----------------------------------------------------------------------
    def _getter(self, of, node, key):
        """A function of a totals record (PeriodTotals or CycleTotals) for ``of``."""
        if of == "total":
            return (lambda t, m: t.totals[m]), "总"
        if isinstance(of, str):
            if of not in self.categories:
                fail(f"未知的类别 {of!r}", node, key)
            c = self.categories.index(of)
            return (lambda t, m, c=c: t.categories[c][m]), self.j.categories[c].name
        if isinstance(of, dict):
            codes = []
            for code in of.get("items", ()):
                if code not in self.catalogue:
                    fail(f"未知的项目 {code!r}", node, key)
                codes.append(code)
            if not codes:
                fail("of 应为 total、类别代码或 {items: [...]}", node, key)
            indices = [list(self.catalogue).index(c) for c in codes]
            names = "、".join(self.catalogue[c].name for c in codes)
            return (lambda t, m: sum(t.items[i][m] for i in indices)), names
        fail("of 应为 total、类别代码或 {items: [...]}", node, key)

    def _requirement(self, node, index) -> Requirement | None:
        rules = self.j.rules
        mapping(node, f"requirements[{index}]", required=("of", "min"),
                optional=("measure", "scope", "when", "unless", "effect", "flags", "label"),
                parent=rules["requirements"], key=index)
        measure = node.get("measure", self.measures[0])
        if measure not in self.measures:
            fail(f"未知的度量 {measure!r}", node, "measure")
        m = self.measures.index(measure)
        getter, label = self._getter(node["of"], node, "of")
        word = MEASURE_WORDS[measure]
        label = node.get("label") or (label + word if label != "总" else "总" + word)
        minimum = milli_of(value_of(self.params, node["min"], node, "min"), node, "min", "合格线")
        scope = node.get("scope", "period")
        if scope not in ("period", "pace", "cycle_end"):
            fail("scope 应为 period、pace 或 cycle_end", node, "scope")
        effect = node.get("effect", "fail" if scope != "pace" else "flag")
        if effect not in ("fail", "flag"):
            fail("effect 应为 fail 或 flag", node, "effect")
        flags = tuple(self._flag(f, node, "flags") for f in node.get("flags", ()))
        return Requirement(label, m, minimum, getter, scope,
                           self._check_predicate(node.get("when"), node, "when"),
                           self._check_predicate(node.get("unless"), node, "unless"),
                           effect, flags)

    def _carry(self, node, rules):
        if node is None:
            return None
        mapping(node, "carry_over", required=("into", "excess"), parent=rules, key="carry_over")
        if node["into"] not in self.categories:
            fail(f"未知的类别 {node['into']!r}", node, "into")
        parts = []
        for index, part in enumerate(node["excess"]):
            mapping(part, f"carry_over.excess[{index}]", required=("of", "over"), parent=node["excess"], key=index)
            getter, _ = self._getter(part["of"], part, "of")
            over = milli_of(value_of(self.params, part["over"], part, "over"), part, "over")
            parts.append((getter, over))
        return self.categories.index(node["into"]), parts


def _milli_tree(table, node):
    """A table with every leaf converted to milli-units once, at compile time."""
    if isinstance(table, dict):
        return {key: _milli_tree(value, node) for key, value in table.items()}
    return milli_of(table, node, "table", "表中的数值")


class _Note:
    """A condition that holds, with a sentence for the claim's explanation (truthy)."""

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text

    def __bool__(self) -> bool:
        return True


class _Fmt(dict):
    """format_map helper: ``{minutes}`` in a reason shows the claim's value; unknown names stay."""

    def __missing__(self, key):
        return "{" + key + "}"
