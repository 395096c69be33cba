"""What the provincial IT pages show of the installed plugins: the same registry and functions as
``jijiao plugins list/show`` and ``jijiao cases`` (``Registry.plugins()``, ``core.cases``), shaped
for a page. Nothing here writes.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..cases import case_files, compare, load_cases, run_case
from ..errors import JijiaoError

MEASURE_WORDS = {"hours": "学时", "credits": "学分"}
CHANNEL_WORDS = {"declaration": "教师申报", "organiser": "组织机构登记", "school": "学校登记",
                 "auto": "平台自动记录", "platform": "平台生成"}
LEVEL_WORDS = {"province": "省", "city": "市", "district": "区（县）", "town": "乡镇", "school": "学校"}
INPUT_TYPE_WORDS = {"amount": "数量", "number": "数值", "integer": "整数", "text": "文本", "bool": "是/否",
                    "date": "日期", "choice": "选项", "numbers": "数值列表", "period": "考核期间"}
# The shared vocabularies of choice inputs (``core.plugin_data.VOCABULARY``), for display.
CHOICE_WORDS = {"school": "校级", "town": "乡镇级", "county": "县级", "city": "市级", "province": "省级",
                "national": "国家级", "encourage": "鼓励奖", "third": "三等奖", "second": "二等奖", "first": "一等奖",
                "host": "主持人", "participant": "参与者"}
STAGE_WORDS = {"declare": "教师申报", "register": "登记", "review": "审核"}


def plugin_list(registry) -> tuple[list, list]:
    """``(plugins, failures)`` exactly as ``jijiao plugins list`` reads them."""
    return registry.plugins(), list(registry.failures)


def amount_words(value: Any, unit: str | None) -> str:
    word = MEASURE_WORDS.get(unit or "", unit or "")
    if isinstance(value, dict):
        return "；".join(f"{k}：{amount_words(v, unit)}" for k, v in value.items())
    if value is None:
        return "（无）"
    return f"{value}{word}" if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


def value_text(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, default=str)
    if value is None:
        return "null"
    return str(value)


def _amount(raw, params: dict, unit: str) -> str:
    if isinstance(raw, str):
        p = params.get(raw)
        if p is not None:
            return f"参数「{raw}」（现行 {amount_words(p.values[-1].value, p.unit or unit)}）"
        return f"参数「{raw}」"
    if isinstance(raw, dict):
        return "，".join(f"{amount_words(v, k)}" for k, v in raw.items())
    return amount_words(raw, unit)


def compute_words(item, bundle) -> str:
    """The item's computation in one Chinese sentence (from its rules as data)."""
    rules = item.rules
    compute = rules["compute"]
    kind = compute["kind"]
    unit = bundle.jurisdiction.measures[0]
    params = bundle.parameters
    labels = {i.name: (i.label or i.name) for i in item.inputs}
    if kind == "declared":
        text = "按申报（登记）的" + "、".join(MEASURE_WORDS.get(m, m) for m in bundle.jurisdiction.measures) + "计入"
        convs = compute.get("convert") or ()
        if convs:
            text += "；未填时按" + "、".join(
                f"「{labels.get(c['input'], c['input'])}」" + (f"每 {c.get('per')} " if c.get("per", 1) != 1 else "")
                + f"折 {c.get('factor', 1)}" for c in convs) + " 换算"
    elif kind == "fixed":
        text = f"每项 {_amount(compute.get('amount'), params, unit)}"
        if rules.get("variants"):
            text += "（另有条件不同的取值）"
    elif kind == "threshold":
        name = compute.get("input")
        scale = compute.get("scale", 1)
        what = f"「{labels.get(name, name)}」" + (f"×{scale}" if scale != 1 else "")
        text = f"{what}达到 {_amount(compute.get('min'), params, '')} 时计 {_amount(compute.get('amount'), params, unit)}"
    elif kind == "table":
        by = "、".join(f"「{labels.get(b, b)}」" for b in compute.get("by", ()))
        table = compute.get("table")
        source = f"参数表「{table}」" if isinstance(table, str) else "计分表"
        text = f"按{by}查{source}"
    elif kind == "custom":
        calc = compute.get("function")
        text = f"由插件提供的自定义计算「{calc}」得出"
    else:
        text = "不计学时（仅作记录）"
    per = compute.get("per")
    if per and kind in ("fixed", "table"):
        unit_n = compute.get("unit", 1)
        text += f"，乘以「{labels.get(per, per)}」" + (f"每 {unit_n} 为一份" if unit_n != 1 else "") + "的份数"
        if compute.get("max_count") is not None:
            text += f"（至多 {compute['max_count']} 份）"
    if rules.get("role_factor"):
        text += "；按角色乘以系数"
    if rules.get("bonus"):
        text += "；满足条件另加分"
    if rules.get("conditions"):
        text += "；须满足：" + "；".join(str(c.get("reason")) for c in rules["conditions"])
    if rules.get("cap") is not None:
        text += f"；每期至多 {_amount(rules['cap'], params, unit)}"
    return text


@dataclass
class SourceRef:
    raw: str
    title: str | None
    document: str | None
    clause: str


def resolve_reference(raw: str | None, jurisdiction) -> SourceRef | None:
    """``"notice2019 二、验证内容"`` → the notice's title and number, and the clause."""
    if not raw:
        return None
    head, _, clause = raw.partition(" ")
    ref = next((r for r in jurisdiction.references if r.key == head), None)
    return SourceRef(raw, ref.title if ref else None, ref.document if ref else None, clause.strip())


@dataclass
class Detail:
    code: str
    jurisdiction: Any
    bundle: Any
    plugin: str
    distribution: str | None
    version: str | None
    categories: list = field(default_factory=list)      # (category, [(item, words, reference)])
    parameters: list = field(default_factory=list)      # (parameter, reference)
    stages: list = field(default_factory=list)          # (stage window, reference)
    workflows: list = field(default_factory=list)       # names of the workflows it uses


def detail(registry, code: str) -> Detail:
    """One jurisdiction as ``jijiao plugins show`` reads it; an unknown code raises the registry's
    ``UnknownJurisdictionError``."""
    bundle = registry.bundle(code)
    j = bundle.jurisdiction
    plugin = registry.owner[code]
    dist, version = registry.distributions.get(plugin, (None, None))
    d = Detail(code, j, bundle, plugin, dist, version)
    for cat in j.categories:
        items = [(item, compute_words(item, bundle), resolve_reference(item.reference, j))
                 for item in bundle.items.values() if item.category == cat.code]
        d.categories.append((cat, items))
    d.parameters = [(p, resolve_reference(p.reference, j)) for p in bundle.parameters.values()]
    d.stages = [(s, resolve_reference(s.reference, j)) for s in bundle.stage_windows]
    return d


@dataclass
class CaseOutcome:
    name: str
    location: str
    passed: bool
    diffs: list[str]
    seconds: float


def run_cases(registry, code: str) -> list[CaseOutcome]:
    """Run the jurisdiction's own rule cases (as ``jijiao cases -j CODE`` does) and compare each
    with its ``expect``. A case that cannot run is a failure with its reason; nothing raises."""
    bundle = registry.bundle(code)
    outcomes: list[CaseOutcome] = []
    try:
        files = case_files([source.path for source in bundle.case_sources])
    except JijiaoError as exc:
        return [CaseOutcome("—", "—", False, [str(exc)], 0.0)]
    for path in files:
        try:
            cases = load_cases(path)
        except JijiaoError as exc:
            outcomes.append(CaseOutcome(Path(path).name, str(Path(path).name), False, [str(exc)], 0.0))
            continue
        for case in cases:
            if case.jurisdiction != code:
                continue
            where = f"{Path(case.file).name}:{case.line}"
            started = time.perf_counter()
            if case.expect is None:
                outcomes.append(CaseOutcome(case.name, where, False, ["缺少 expect"], 0.0))
                continue
            try:
                diffs = compare(case.expect, run_case(registry, case))
            except JijiaoError as exc:
                diffs = [str(exc)]
            except Exception as exc:  # a plugin's bug must show as a failed case, not a 500
                diffs = [f"{type(exc).__name__}: {exc}"]
            outcomes.append(CaseOutcome(case.name, where, not diffs, diffs, time.perf_counter() - started))
    return outcomes
