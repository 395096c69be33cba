"""The rule-case format: per-claim expectations (``expect.claims``) and refusals of malformed
``expect`` values with the file and line (never a TypeError)."""

from __future__ import annotations

import pytest

from core.cases import compare, load_cases, run_case
from core.errors import PluginDataError
from core.plugins import load_registry

REGISTRY = load_registry(disabled=set())

CAPPED = """\
- name: 封顶
  jurisdiction: jining
  period: "2025"
  teacher: {}
  claims:
    - {item: peixun.training, credits: 2, started_on: 2025-04-10, ended_on: 2025-04-12}
    - {item: peixun.training, credits: 3, started_on: 2025-03-01, ended_on: 2025-04-12}
  expect:
    totals: {credits: 2}
    claims:
      - {computed: 2, counted: 2}
      - {computed: WANT, counted: 0, notes: [NOTE]}
"""


def _case(tmp_path, text):
    path = tmp_path / "cases.yaml"
    path.write_text(text, encoding="utf-8")
    return load_cases(path)[0]


def test_per_claim_expectations_pass_when_each_claim_is_right(tmp_path):
    case = _case(tmp_path, CAPPED.replace("WANT", "0").replace("NOTE", "本年度不予登记"))
    assert compare(case.expect, run_case(REGISTRY, case)) == []


def test_per_claim_expectations_catch_a_wrong_computation_that_totals_hide(tmp_path):
    case = _case(tmp_path, CAPPED.replace("WANT", "3").replace("NOTE", "本年度不予登记"))
    diffs = compare(case.expect, run_case(REGISTRY, case))
    assert diffs == ["claims[1].computed.credits: 期望 3，实际 0"]
    case = _case(tmp_path, CAPPED.replace("WANT", "0").replace("NOTE", "不存在的说明"))
    assert any(d.startswith("claims[1].notes: 没有包含「不存在的说明」") for d in compare(case.expect, run_case(REGISTRY, case)))


@pytest.mark.parametrize("expect, message", [
    ("{flags: 5}", "expect.flags 应为列表"),
    ("{reasons: 5}", "expect.reasons 应为列表"),
    ("{carry_over: 5}", "expect.carry_over 应为映射"),
    ("{totals: 5}", "expect.totals 应为映射"),
    ("{passed: 5}", "expect.passed 应为 true、false 或 null"),
    ("{claims: 5}", "expect.claims 应为列表"),
    ("{claims: [{counted: 1}, {counted: 1}]}", "expect.claims 应有 1 项"),
    ("{claims: [{count: 1}]}", "expect.claims[0] 中未知的键 'count'"),
])
def test_malformed_expect_is_refused_with_its_line(tmp_path, expect, message):
    text = ("- name: 坏的\n  jurisdiction: jining\n  period: \"2025\"\n  claims:\n"
            "    - {item: peixun.training, credits: 2, started_on: 2025-04-10, ended_on: 2025-04-12}\n"
            f"  expect: {expect}\n")
    with pytest.raises(PluginDataError) as info:
        _case(tmp_path, text)
    assert message in str(info.value)
    assert info.value.line == 6
