"""Rule cases as data (SPEC §5): loading, running and comparing with ``expect``.

Used by ``jijiao cases``/``jijiao assess`` and by the pytest plugin, so a plugin's cases run the
same way everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from .engine import Assessment
from .errors import InputError, PluginDataError
from .facts import parse_teacher
from .numbers import NumberError, parse_decimal
from .yamlstrict import Node, Seq, load_file

CASE_KEYS = ("name", "jurisdiction", "period", "teacher", "claims", "expect", "description")
EXPECT_KEYS = ("totals", "categories", "passed", "flags", "carry_over", "cycle_totals", "cycle_passed",
               "exempt", "reasons", "claims")
# What one claim computed (before highest_of and caps) and counted (after them), per claim, in
# the order of the case's claims: a number (the primary measure) or {measure: number}; ``notes``
# a list of texts each of which must appear in one of the claim's notes; ``item`` its item code.
CLAIM_EXPECT_KEYS = ("item", "declared", "computed", "counted", "notes")


@dataclass
class RuleCase:
    name: str
    jurisdiction: str
    period: str
    teacher: Any
    claims: Any
    expect: dict | None
    file: str
    line: int

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}"


def load_cases(path: str | Path) -> list[RuleCase]:
    """The cases of one file; a malformed file or case is a PluginDataError with its line."""
    data = load_file(path)
    if data is None:
        return []
    if not isinstance(data, Seq):
        raise PluginDataError("案例文件应为案例列表（每项以 - name: 开头）", file=str(path), line=1)
    cases = []
    for index, raw in enumerate(data):
        if not isinstance(raw, Node):
            raise PluginDataError("每个案例应为映射", file=str(path), line=data.line_of(index))
        unknown = [k for k in raw if k not in CASE_KEYS]
        if unknown:
            raise PluginDataError(f"案例中未知的键 {unknown[0]!r}（可用：{'、'.join(CASE_KEYS)}）",
                                  file=str(path), line=raw.line_of(unknown[0]))
        for key in ("name", "jurisdiction", "period"):
            if key not in raw or raw[key] in (None, ""):
                raise PluginDataError(f"案例缺少 {key}", file=str(path), line=raw.line)
        expect = raw.get("expect")
        if expect is not None:
            if not isinstance(expect, Node):
                raise PluginDataError("expect 应为映射", file=str(path), line=raw.line_of("expect"))
            bad = [k for k in expect if k not in EXPECT_KEYS]
            if bad:
                raise PluginDataError(f"expect 中未知的键 {bad[0]!r}（可用：{'、'.join(EXPECT_KEYS)}）",
                                      file=str(path), line=expect.line_of(bad[0]))
            _check_expect_shapes(expect, raw, str(path))
        cases.append(RuleCase(str(raw["name"]), str(raw["jurisdiction"]), str(raw["period"]),
                              raw.get("teacher"), raw.get("claims"), expect, str(path), raw.line))
    return cases


def _check_expect_shapes(expect: Node, case: Node, path: str) -> None:
    """Refuse an ``expect`` whose values have the wrong shape, with the line (not a TypeError)."""
    def refuse(key, message):
        raise PluginDataError(f"expect.{key} {message}", file=path, line=expect.line_of(key))
    for key in ("flags", "reasons"):
        if key in expect and expect[key] is not None and not isinstance(expect[key], Seq):
            refuse(key, "应为列表（如 [] 或 [no_excellent]）")
        if isinstance(expect.get(key), Seq) and not all(isinstance(v, str) for v in expect[key]):
            refuse(key, "的每一项应为文本")
    for key in ("totals", "categories", "cycle_totals", "carry_over"):
        if key in expect and expect[key] is not None and not isinstance(expect[key], Node):
            refuse(key, "应为映射（如 {hours: 72}）")
    if key := next((k for k in ("totals", "categories", "cycle_totals") if k in expect and expect[k] is None), None):
        refuse(key, "应为映射（如 {hours: 72}）")
    for key in ("passed", "cycle_passed", "exempt"):
        if key in expect and expect[key] not in (True, False, None):
            refuse(key, "应为 true、false 或 null")
    if "claims" in expect:
        claims = expect["claims"]
        if not isinstance(claims, Seq):
            refuse("claims", "应为列表：按案例 claims 的顺序，每条一项（{computed, counted, notes}）")
        given = case.get("claims")
        if isinstance(given, list) and len(claims) != len(given):
            refuse("claims", f"应有 {len(given)} 项（与案例的 claims 一一对应），实际 {len(claims)} 项")
        for index, entry in enumerate(claims):
            line = claims.line_of(index)
            if entry is None:
                continue
            if not isinstance(entry, Node):
                raise PluginDataError(f"expect.claims[{index}] 应为映射（可用：{'、'.join(CLAIM_EXPECT_KEYS)}）",
                                      file=path, line=line)
            bad = [k for k in entry if k not in CLAIM_EXPECT_KEYS]
            if bad:
                raise PluginDataError(f"expect.claims[{index}] 中未知的键 {bad[0]!r}（可用：{'、'.join(CLAIM_EXPECT_KEYS)}）",
                                      file=path, line=entry.line_of(bad[0]))
            if "notes" in entry and not (isinstance(entry["notes"], Seq) and all(isinstance(n, str) for n in entry["notes"])):
                raise PluginDataError(f"expect.claims[{index}].notes 应为文本列表", file=path, line=entry.line_of("notes"))


def case_files(paths) -> list[Path]:
    """YAML files named by ``paths``: files as given, folders searched recursively."""
    files: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            files.extend(sorted(q for q in p.rglob("*.y*ml") if q.suffix in (".yaml", ".yml")))
        elif p.exists():
            files.append(p)
        else:
            raise InputError(f"找不到文件或目录：{p}")
    return files


def run_case(registry, case: RuleCase) -> Assessment:
    try:
        assessor = registry.assessor(case.jurisdiction)
        teacher = parse_teacher(case.teacher)
        claims = assessor.parse_claims(case.claims, case=case.name)
        return assessor.assess(case.period, teacher, claims)
    except InputError as exc:
        raise exc.located(case=case.name) from None


def _num(value, where: str) -> Decimal:
    try:
        return parse_decimal(value, allow_negative=True)
    except NumberError as exc:
        raise InputError(f"expect.{where} 的值无效：{exc}") from None


def _compare_numbers(expected, actual: dict, path: str, diffs: list[str], *, full: bool = False) -> None:
    if not isinstance(expected, dict):
        diffs.append(f"{path}: expect 中应为映射")
        return
    keys = set(expected) | (set(actual) if full else set())
    for key in sorted(keys, key=str):
        want = expected.get(key, 0)
        got = actual.get(key, Decimal(0)) if isinstance(actual, dict) else None
        if isinstance(want, dict):
            _compare_numbers(want, got if isinstance(got, dict) else {}, f"{path}.{key}", diffs)
            continue
        if isinstance(got, dict):
            diffs.append(f"{path}.{key}: 期望 {want}，实际按度量分别为 {_show(got)}")
            continue
        want_d = _num(want, f"{path}.{key}")
        if got is None or want_d != got:
            diffs.append(f"{path}.{key}: 期望 {_show(want_d)}，实际 {_show(got)}")


def _show(value) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_show(v)}" for k, v in value.items()) + "}"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def compare(expect: dict, result: Assessment) -> list[str]:
    """The differences between ``expect`` and the assessment, one readable line each."""
    diffs: list[str] = []
    if "totals" in expect:
        _compare_numbers(expect["totals"], result.totals, "totals", diffs)
    if "categories" in expect:
        _compare_numbers(expect["categories"], result.categories, "categories", diffs)
    if "cycle_totals" in expect:
        if result.cycle_totals is None:
            diffs.append("cycle_totals: 期望有周期合计，实际本地区无周期")
        else:
            _compare_numbers(expect["cycle_totals"], result.cycle_totals, "cycle_totals", diffs)
    if "carry_over" in expect:
        want = expect["carry_over"] or {}
        nonzero_want = {k: v for k, v in want.items() if _num(v, f"carry_over.{k}") != 0}
        _compare_numbers(nonzero_want, result.carry_over, "carry_over", diffs, full=True)
    for key in ("passed", "cycle_passed", "exempt"):
        if key in expect:
            want, got = expect[key], getattr(result, key)
            if want is not got and want != got:
                diffs.append(f"{key}: 期望 {_show(want)}，实际 {_show(got)}")
    if "flags" in expect:
        want = set(expect["flags"] or ())
        got = set(result.flags)
        if want != got:
            missing, extra = sorted(want - got), sorted(got - want)
            parts = []
            if missing:
                parts.append(f"缺少 {missing}")
            if extra:
                parts.append(f"多出 {extra}")
            diffs.append(f"flags: 期望 {sorted(want)}，实际 {sorted(got)}（{'；'.join(parts)}）")
    if "reasons" in expect:
        for text in expect["reasons"] or ():
            if not any(str(text) in reason for reason in result.reasons):
                diffs.append(f"reasons: 没有包含「{text}」的原因（实际：{result.reasons}）")
    if "claims" in expect:
        _compare_claims(expect["claims"] or [], result, diffs)
    return diffs


def _compare_claims(expected: list, result: Assessment, diffs: list[str]) -> None:
    primary = next(iter(result.totals), None)
    if len(expected) != len(result.claims):
        diffs.append(f"claims: 期望 {len(expected)} 条说明，实际 {len(result.claims)} 条")
        return
    for index, (want, got) in enumerate(zip(expected, result.claims)):
        if not want:
            continue
        path = f"claims[{index}]"
        if "item" in want and str(want["item"]) != got.item:
            diffs.append(f"{path}.item: 期望 {want['item']}，实际 {got.item}")
        for key in ("declared", "computed", "counted"):
            if key not in want:
                continue
            value = want[key]
            actual = getattr(got, key) or {}
            if not isinstance(value, dict):
                value = {primary: value}
            _compare_numbers(value, actual, f"{path}.{key}", diffs)
        for text in want.get("notes") or ():
            if not any(str(text) in note for note in got.notes):
                diffs.append(f"{path}.notes: 没有包含「{text}」的说明（实际：{got.notes}）")


WORDS = {"hours": "学时", "credits": "学分"}


def _amounts(values: dict | None) -> str:
    """{hours: 12} → '12学时'; {credits: 2, hours: 6} → '2学分 6学时'."""
    if not values:
        return "—"
    return " ".join(f"{_show(v)}{WORDS.get(m, m)}" for m, v in values.items())


def format_result(result: Assessment, name: str | None = None) -> str:
    """A readable Chinese account of one assessment, with every claim explained."""
    lines = []
    names = result.category_names
    if name:
        lines.append(f"案例：{name}（{result.jurisdiction} {result.period}）")
    verdict = {True: "合格", False: "不合格", None: "不判定"}[result.passed]
    lines.append(f"  合计：{_amounts(result.totals)}")
    cats = []
    for code, value in result.categories.items():
        shown = _amounts(value) if isinstance(value, dict) else _amounts({next(iter(result.totals)): value})
        cats.append(f"{names.get(code, code)} {shown}")
    lines.append(f"  类别：{'，'.join(cats)}")
    if result.cycle_totals is not None:
        verdict_cycle = {True: "，周期合格", False: "，周期不合格", None: ""}[result.cycle_passed]
        lines.append(f"  周期累计（第{result.cycle_year}年）：{_amounts(result.cycle_totals)}{verdict_cycle}")
    lines.append(f"  结果：{verdict}" + ("（免修）" if result.exempt else ""))
    if result.flags:
        from .types import FLAG_LABELS
        lines.append(f"  标记：{'；'.join(f'{FLAG_LABELS.get(f, f)}（{f}）' for f in result.flags)}")
    if result.carry_over:
        unit = WORDS.get(next(iter(result.totals)), "")
        lines.append("  结转下一年度：" + "，".join(f"{names.get(k, k)} {_show(v)}{unit}" for k, v in result.carry_over.items()))
    for reason in result.reasons:
        lines.append(f"  原因：{reason}")
    for note in result.annotations:
        lines.append(f"  注明：{note}")
    if result.claims:
        lines.append("  逐条说明：")
    for c in result.claims:
        declared = f"申报 {_amounts(c.declared)}，" if c.declared else ""
        if not declared and c.inputs:
            declared = "填写 " + "、".join(f"{k} {_show(v) if not isinstance(v, str) else v}"
                                          for k, v in c.inputs.items()) + "，"
        lines.append(f"  {c.index + 1}. {c.item_name}（{c.item}，{c.period or '—'}）：{declared}"
                     f"计算 {_amounts(c.computed)}，计入 {_amounts(c.counted)}")
        for note in c.notes:
            lines.append(f"       · {note}")
    return "\n".join(lines)
