"""Loading a declarative jurisdiction plugin: four YAML files in the plugin's folder.

    jurisdiction.yaml   who it is, its periods, measures, categories and assessment rules
    catalogue.yaml      the items that earn hours or credits
    parameters.yaml     every number that may change, with dated values and a reference
    review.yaml         the workflow, the review levels and the stage windows

Loading is strict: an unknown key, a bad date, a duplicate key or an item in an unknown
category is refused with the file, the line and what is wrong (``PluginDataError``).
The format is documented in ``docs/plugin-format.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from .errors import PluginDataError
from .periods import check_day_spec, parse_month_day
from .stages import missing_review_windows, unknown_stage_message
from .types import (FLAG_LABELS, CaseSource, CatalogueItem, Category, CycleSpec, DatedValue,
                    InputSpec, Jurisdiction, Parameter, PeriodSpec, Reading, Reference, ReviewLevel,
                    StageWindow)
from .yamlstrict import Node, Seq, load_file, where

NODE_LEVELS = ("province", "city", "district", "town", "school")
CHANNELS = ("declaration", "organiser", "school", "auto", "platform")
INPUT_TYPES = ("amount", "number", "integer", "text", "bool", "date", "choice", "numbers", "period")
# What each input type accepts and when to use it (docs/plugin-api.md is generated from this).
INPUT_TYPE_DOCS = {
    "amount": "hours or credits the teacher declares, at most 2 decimals (10, 2.5, “10学时”); use it for a "
              "measure: a declared item's `hours`/`credits` are amount inputs automatically",
    "number": "any other non-negative quantity with decimals: days, months, points, minutes",
    "integer": "a whole count: lessons, sessions, terms; 2.5 is refused",
    "text": "free text (a title, a topic); the key of a `highest_of` group is usually text",
    "bool": "true/false (是/否)",
    "date": "a day, YYYY-MM-DD (2024年9月1日 and 2024/9/1 are accepted)",
    "choice": "one of `choices` (codes); `level`, `award`, `role` are choice types with fixed vocabularies "
              "and accept Chinese names (县级 → county, 一等奖 → first)",
    "numbers": "a list of numbers, `length` fixed (four quarters' points)",
    "period": "a period key of the jurisdiction (\"2025\", \"2024-2025\"); with `period_from` it assigns the claim",
}

COMPUTE_KINDS = ("declared", "fixed", "table", "threshold", "none", "custom")
VOCABULARY = {
    "level": ("school", "town", "county", "city", "province", "national"),
    "award": ("encourage", "third", "second", "first"),
    "role": ("host", "participant"),
}


def fail(message: str, node=None, key=None):
    raise PluginDataError(message, **(where(node, key) if node is not None else {}))


def mapping(node, context: str, *, required=(), optional=(), parent=None, key=None) -> Node:
    """Check that ``node`` is a mapping with exactly the allowed keys."""
    if not isinstance(node, Node):
        fail(f"{context} 应为映射（键: 值）", parent if parent is not None else node, key)
    allowed = set(required) | set(optional)
    for k in node:
        if k not in allowed:
            hint = "、".join(sorted(map(str, allowed)))
            fail(f"{context} 中未知的键 {k!r}（可用：{hint}）", node, k)
    for k in required:
        if k not in node:
            fail(f"{context} 缺少必填键 {k!r}", node)
    return node


def text(node, key, context, *, required=True, default=None) -> str | None:
    if key not in node:
        if required:
            fail(f"{context} 缺少必填键 {key!r}", node)
        return default
    value = node[key]
    if not isinstance(value, str) or not value.strip():
        fail(f"{context}.{key} 应为非空文本", node, key)
    return value


def seq(node, key, context, *, required=False) -> Seq:
    if key not in node:
        if required:
            fail(f"{context} 缺少必填键 {key!r}", node)
        empty = Seq()
        empty.file, empty.line, empty.item_lines = node.file, node.line, []
        return empty
    value = node[key]
    if not isinstance(value, Seq):
        fail(f"{context}.{key} 应为列表", node, key)
    return value


def dated_values(node, key, context, check=None) -> tuple[DatedValue, ...]:
    values = node.get(key)
    if not isinstance(values, Node) or not values:
        fail(f"{context}.{key} 应为以日期为键的映射（如 2019-01-01: 72）", node, key)
    result = []
    for start, value in values.items():
        if not isinstance(start, date):
            fail(f"{context}.{key} 的键 {start!r} 不是有效日期（应写作 YYYY-MM-DD）", values, start)
        if check is not None:
            try:
                check(value)
            except (ValueError, TypeError) as exc:
                fail(f"{context} 在 {start} 的值无效：{exc}", values, start)
        result.append(DatedValue(start, value))
    result.sort(key=lambda dv: dv.start)
    return tuple(result)


@dataclass(frozen=True)
class PluginData:
    """Everything one declarative plugin folder holds."""

    jurisdiction: Jurisdiction
    items: tuple[CatalogueItem, ...]
    parameters: tuple[Parameter, ...]
    review_levels: tuple[ReviewLevel, ...]
    stage_windows: tuple[StageWindow, ...]
    case_sources: tuple[CaseSource, ...]


def load_plugin_folder(folder: str | Path, plugin_name: str) -> PluginData:
    folder = Path(folder)
    jur_node = load_file(folder / "jurisdiction.yaml")
    jurisdiction = _jurisdiction(jur_node, plugin_name)
    refs = {r.key for r in jurisdiction.references}
    code = jurisdiction.code
    categories = {c.code for c in jurisdiction.categories}
    items = _catalogue(load_file(folder / "catalogue.yaml"), code, categories, refs)
    params_path = folder / "parameters.yaml"
    parameters = _parameters(load_file(params_path), code, refs) if params_path.exists() else ()
    names = {p.name for p in parameters}
    for index, reading in enumerate(jurisdiction.readings):
        if reading.parameter is not None and reading.parameter not in names:
            readings_node = jur_node["readings"]
            fail(f"readings[{index}].parameter 引用了未定义的参数 {reading.parameter!r}",
                 readings_node[index], "parameter")
    review_path = folder / "review.yaml"
    levels, stages = ((), ())
    if review_path.exists():
        levels, stages, workflow = _review(load_file(review_path), code, refs, jurisdiction.workflow)
        if workflow:
            object.__setattr__(jurisdiction, "workflow", workflow)
    tests = folder / "tests"
    cases = (CaseSource(code, str(tests)),) if tests.is_dir() else ()
    return PluginData(jurisdiction, items, parameters, levels, stages, cases)


def _check_reference(value, node, key, refs):
    if value is None:
        return None
    if not isinstance(value, str):
        fail("reference 应为文本：来源键，后跟条款", node, key)
    head = value.split()[0]
    if head not in refs:
        fail(f"reference 的来源 {head!r} 未在 jurisdiction.yaml 的 references 中声明", node, key)
    return value


def _jurisdiction(node, plugin_name: str) -> Jurisdiction:
    ctx = "jurisdiction.yaml"
    mapping(node, ctx, required=("code", "name", "level", "period", "measures", "categories"),
            optional=("description", "references", "cycle", "requirements", "caps", "highest_of",
                      "carry_over", "not_assessed", "on_fail", "flags", "workflow", "unit_rules", "readings"))
    code = text(node, "code", ctx)
    if not code.isidentifier() or code != code.lower():
        fail("code 应为小写英文标识符（如 demo_county）", node, "code")
    level = node["level"]
    if level not in NODE_LEVELS[:3]:
        fail(f"level 应为 province、city 或 district 之一，而不是 {level!r}", node, "level")
    period_node = mapping(node["period"], f"{ctx}.period", required=("kind",),
                          optional=("starts", "years"), parent=node, key="period")
    kind = period_node["kind"]
    if kind not in ("year", "personal_cycle"):
        fail("period.kind 应为 year 或 personal_cycle", period_node, "kind")
    starts = str(period_node.get("starts", "01-01"))
    try:
        parse_month_day(starts)
    except ValueError as exc:
        fail(f"period.starts 无效：{exc}", period_node, "starts")
    years = period_node.get("years", 5)
    if not isinstance(years, int) or years < 1:
        fail("period.years 应为正整数", period_node, "years")
    measures = node["measures"]
    if not isinstance(measures, Seq) or not measures or not all(m in ("hours", "credits") for m in measures):
        fail("measures 应为 [hours]、[credits] 或 [credits, hours]", node, "measures")
    if len(set(measures)) != len(measures):
        fail("measures 中有重复", node, "measures")
    cats_node = node["categories"]
    if not isinstance(cats_node, Node) or not cats_node:
        fail("categories 应为映射：类别代码 → {name: 中文名}", node, "categories")
    categories = []
    for cat_code, cat in cats_node.items():
        if not isinstance(cat_code, str) or not cat_code.isidentifier():
            fail(f"类别代码 {cat_code!r} 应为英文标识符", cats_node, cat_code)
        mapping(cat, f"categories.{cat_code}", required=("name",), parent=cats_node, key=cat_code)
        categories.append(Category(cat_code, text(cat, "name", f"categories.{cat_code}")))
    references = []
    refs_node = node.get("references", Node())
    if "references" in node and not isinstance(refs_node, Node):
        fail("references 应为映射：来源键 → {title, document, issued_on}", node, "references")
    for key, ref in refs_node.items():
        mapping(ref, f"references.{key}", required=("title",), optional=("document", "issued_on"),
                parent=refs_node, key=key)
        issued = ref.get("issued_on")
        if issued is not None and not isinstance(issued, date):
            fail("issued_on 不是有效日期（应写作 YYYY-MM-DD）", ref, "issued_on")
        references.append(Reference(key, ref["title"], ref.get("document"), issued))
    cycle = None
    if "cycle" in node:
        cycle_node = mapping(node["cycle"], f"{ctx}.cycle", required=("periods", "anchor"),
                             parent=node, key="cycle")
        if kind != "year":
            fail("个人周期（personal_cycle）不能再设 cycle", node, "cycle")
        if not isinstance(cycle_node["periods"], int) or cycle_node["periods"] < 1:
            fail("cycle.periods 应为正整数", cycle_node, "periods")
        cycle = CycleSpec(cycle_node["periods"], text(cycle_node, "anchor", "cycle"))
    flags = dict(FLAG_LABELS)
    if "flags" in node:
        extra = node["flags"]
        if not isinstance(extra, Node):
            fail("flags 应为映射：标记代码 → 中文说明", node, "flags")
        for flag, label in extra.items():
            if not isinstance(label, str):
                fail("标记说明应为文本", extra, flag)
            flags[flag] = label
    rules = Node()
    rules.file, rules.line, rules.key_lines = node.file, node.line, {}
    for key in ("requirements", "caps", "highest_of", "not_assessed", "unit_rules"):
        rules[key] = seq(node, key, ctx)
        rules.key_lines[key] = node.line_of(key)
    for key in ("carry_over", "on_fail"):
        if key in node:
            rules[key] = node[key]
            rules.key_lines[key] = node.line_of(key)
    readings = []
    for index, reading in enumerate(seq(node, "readings", ctx)):
        rctx = f"readings[{index}]"
        mapping(reading, rctx, required=("topic", "notice", "reading", "reason"), optional=("parameter",),
                parent=node["readings"], key=index)
        readings.append(Reading(*(text(reading, k, rctx) for k in ("topic", "notice", "reading", "reason")),
                                text(reading, "parameter", rctx, required=False)))
    return Jurisdiction(
        code=code, name=text(node, "name", ctx), plugin=plugin_name, level=level,
        readings=tuple(readings),
        period=PeriodSpec(kind, starts, years), measures=tuple(measures),
        categories=tuple(categories), rules=rules, cycle=cycle, references=tuple(references),
        flags=flags, workflow=node.get("workflow", "declaration"),
        description=node.get("description", ""),
    )


def _input(name, node, parent, item_ctx) -> InputSpec:
    ctx = f"{item_ctx}.inputs.{name}"
    if isinstance(node, str):  # shorthand: `topic: text`
        node_type, node = node, Node()
        node.file, node.line, node.key_lines = parent.file, parent.line_of(name), {}
        node["type"] = node_type
    mapping(node, ctx, required=("type",), optional=("label", "required", "choices", "min", "max",
                                                      "length", "default"), parent=parent, key=name)
    kind = node["type"]
    if kind in VOCABULARY:
        choices = node.get("choices", VOCABULARY[kind])
        kind = "choice"
    else:
        choices = node.get("choices", ())
    if kind not in INPUT_TYPES:
        fail(f"{ctx}.type 未知：{kind!r}（可用：{'、'.join(INPUT_TYPES + tuple(VOCABULARY))}）", node, "type")
    if kind == "choice" and not choices:
        fail(f"{ctx} 为 choice 类型，须给出 choices", node)
    if node.get("type") in VOCABULARY:
        bad = [c for c in choices if c not in VOCABULARY[node["type"]]]
        if bad:
            fail(f"{ctx}.choices 含未知的{node['type']}：{bad}", node, "choices")
    required = node.get("required", "default" not in node)
    if not isinstance(required, bool):
        fail(f"{ctx}.required 应为 true 或 false", node, "required")
    return InputSpec(name=name, type=kind, label=node.get("label", ""), required=required,
                     choices=tuple(str(c) for c in choices), minimum=node.get("min"),
                     maximum=node.get("max"), length=node.get("length"), default=node.get("default"))


ITEM_KEYS = ("name", "channel", "description", "reference", "evidence", "inputs", "compute", "bonus",
             "variants", "role_factor", "conditions", "exemption", "cap", "period_from", "period_of_date", "note")


def _catalogue(node, code, categories, refs) -> tuple[CatalogueItem, ...]:
    mapping(node, "catalogue.yaml", required=("items",))
    items_node = node["items"]
    if not isinstance(items_node, Node) or not items_node:
        fail("items 应为映射：项目代码 → 项目定义", node, "items")
    items = []
    for item_code, spec in items_node.items():
        ctx = f"items.{item_code}"
        if not isinstance(item_code, str) or item_code.count(".") != 1:
            fail(f"项目代码 {item_code!r} 应写作 类别.项目（如 peixun.training）", items_node, item_code)
        category = item_code.split(".")[0]
        if category not in categories:
            fail(f"项目 {item_code} 的类别 {category!r} 不在 jurisdiction.yaml 的 categories 中", items_node, item_code)
        mapping(spec, ctx, required=("name", "channel", "compute"), optional=ITEM_KEYS,
                parent=items_node, key=item_code)
        channel = spec["channel"]
        if channel not in CHANNELS:
            fail(f"{ctx}.channel 应为 {'、'.join(CHANNELS)} 之一", spec, "channel")
        compute = spec["compute"]
        if isinstance(compute, str):
            compute_node = Node()
            compute_node.file, compute_node.line, compute_node.key_lines = spec.file, spec.line_of("compute"), {}
            compute_node["kind"] = compute
            spec["compute"] = compute = compute_node
        mapping(compute, f"{ctx}.compute", required=("kind",),
                optional=("amount", "per", "unit", "table", "by", "input", "min", "scale", "function",
                          "convert", "max_count"), parent=spec, key="compute")
        if compute["kind"] not in COMPUTE_KINDS:
            fail(f"{ctx}.compute.kind 未知：{compute['kind']!r}（可用：{'、'.join(COMPUTE_KINDS)}）", compute, "kind")
        inputs_node = spec.get("inputs", Node())
        if "inputs" in spec and not isinstance(inputs_node, Node):
            fail(f"{ctx}.inputs 应为映射：输入名 → 定义", spec, "inputs")
        inputs = tuple(_input(name, inp, inputs_node, ctx) for name, inp in inputs_node.items())
        evidence = spec.get("evidence", ())
        if not isinstance(evidence, (list, tuple)) or not all(isinstance(e, str) for e in evidence):
            fail(f"{ctx}.evidence 应为文本列表", spec, "evidence")
        items.append(CatalogueItem(
            jurisdiction=code, code=item_code, name=text(spec, "name", ctx), category=category,
            channel=channel, inputs=inputs, rules=spec, evidence=tuple(evidence),
            description=spec.get("description", ""),
            reference=_check_reference(spec.get("reference"), spec, "reference", refs),
        ))
    return tuple(items)


def _parameter_value(value):
    if value is None or isinstance(value, (int, float, str)) and not isinstance(value, bool):
        return
    if isinstance(value, dict):
        for v in value.values():
            _parameter_value(v)
        return
    raise ValueError(f"不支持的值 {value!r}（应为数字、文本、null 或映射）")


def _parameters(node, code, refs) -> tuple[Parameter, ...]:
    mapping(node, "parameters.yaml", required=("parameters",))
    params_node = node["parameters"]
    if not isinstance(params_node, Node):
        fail("parameters 应为映射：参数名 → 定义", node, "parameters")
    result = []
    for name, spec in params_node.items():
        ctx = f"parameters.{name}"
        mapping(spec, ctx, required=("description", "values"),
                optional=("unit", "reference", "assumed"), parent=params_node, key=name)
        assumed = spec.get("assumed", False)
        if not isinstance(assumed, bool):
            fail(f"{ctx}.assumed 应为 true 或 false", spec, "assumed")
        result.append(Parameter(
            jurisdiction=code, name=name, description=text(spec, "description", ctx),
            values=dated_values(spec, "values", ctx, _parameter_value), unit=spec.get("unit"),
            reference=_check_reference(spec.get("reference"), spec, "reference", refs), assumed=assumed,
        ))
    return tuple(result)


def _window(value):
    if not isinstance(value, dict) or set(value) - {"opens", "closes"} or "closes" not in value:
        raise ValueError("窗口应写作 {opens: MM-DD, closes: next MM-DD}")
    for part in value.values():
        check_day_spec(part)


def _review(node, code, refs, jurisdiction_workflow="declaration"):
    mapping(node, "review.yaml", optional=("workflow", "levels", "stages"))
    levels = []
    for index, level in enumerate(seq(node, "levels", "review.yaml")):
        ctx = f"levels[{index}]"
        mapping(level, ctx, required=("name", "kinds"), optional=("optional", "no_deadline"),
                parent=node["levels"], key=index)
        if "no_deadline" in level:
            text(level, "no_deadline", ctx)
        kinds = level["kinds"]
        if not isinstance(kinds, Seq) or not kinds or any(k not in NODE_LEVELS for k in kinds):
            fail(f"{ctx}.kinds 应为机构层级列表（{'、'.join(NODE_LEVELS)}）", level, "kinds")
        levels.append(ReviewLevel(code, index, text(level, "name", ctx), tuple(kinds),
                                  bool(level.get("optional", False)), level.get("no_deadline")))
    stages = []
    stages_node = node.get("stages", Node())
    if "stages" in node and not isinstance(stages_node, Node):
        fail("stages 应为映射：阶段代码 → 定义", node, "stages")
    for stage, spec in stages_node.items():
        ctx = f"stages.{stage}"
        unknown = unknown_stage_message(stage)
        if unknown:
            fail(unknown, stages_node, stage)
        mapping(spec, ctx, required=("name", "values"), optional=("reference",),
                parent=stages_node, key=stage)
        stages.append(StageWindow(code, stage, text(spec, "name", ctx),
                                  dated_values(spec, "values", ctx, _window),
                                  _check_reference(spec.get("reference"), spec, "reference", refs)))
    workflow = node.get("workflow")
    codes = {s.stage for s in stages}
    for level, message in missing_review_windows(levels, codes, workflow or jurisdiction_workflow):
        fail(message, node["levels"], level.order)
    return tuple(levels), tuple(stages), workflow


def value_of(params: dict[str, Any], value, node, key, what="数值"):
    """A literal, or the value of the parameter a string names (used by the compiler)."""
    if isinstance(value, str):
        if value not in params:
            fail(f"{what} 引用了未定义的参数 {value!r}", node, key)
        return params[value]
    return value
