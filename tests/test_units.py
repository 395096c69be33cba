"""Inputs are multiplied in the units a person wrote, whatever their type (issue: 3 declared hours
of an ``amount`` input gave "计算 6000学时").

``amount`` inputs are parsed into milli-units (2.5 → 2500); every computation kind must still see
2.5. The property test runs every computation kind against every numeric input type: scaling a
linear input by k scales the result by k, and no result exceeds plain arithmetic on the values
as declared.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.declarative import DeclarativePlugin
from core.facts import Teacher
from core.plugins import load_registry

CODE = "ucounty"

JURISDICTION = f"""\
code: {CODE}
name: 单位测试县
level: district
period: {{kind: year, starts: "01-01"}}
measures: [hours]
categories:
  peixun: {{name: 培训}}
"""

PARAMETERS = """\
parameters:
  lesson_table:
    description: 每节学时
    values:
      2025-01-01: {school: 1, county: 2.5}
"""

NUMERIC = ("amount", "number", "integer")

# Each computation kind with one linear input ``x``: (compute, extra item keys, result for x).
KINDS = {
    "fixed_per": ("{kind: fixed, amount: 2, per: x}", "", lambda x: 2 * int(x)),
    "table_per": ("{kind: table, table: lesson_table, by: [level], per: x}",
                  "      level: {type: choice, choices: [school, county]}\n", lambda x: Decimal("2.5") * int(x)),
    "declared_convert": ("{kind: declared, convert: [{input: x, factor: 3}]}", "", lambda x: 3 * x),
    "custom": ("{kind: custom, function: ucounty.triple}", "", lambda x: 3 * x),
}


def _plugin(tmp_path: Path, compute: str, input_type: str, extra_inputs: str = "", extra: str = "") -> Path:
    folder = tmp_path / f"p_{abs(hash((compute, input_type)))}"
    (folder / "tests").mkdir(parents=True, exist_ok=True)
    (folder / "jurisdiction.yaml").write_text(JURISDICTION, encoding="utf-8")
    (folder / "parameters.yaml").write_text(PARAMETERS, encoding="utf-8")
    (folder / "catalogue.yaml").write_text(
        "items:\n  peixun.item:\n    name: 项目\n    channel: declaration\n    inputs:\n"
        f"      x: {{type: {input_type}, min: 0}}\n{extra_inputs}    compute: {compute}\n{extra}",
        encoding="utf-8")
    return folder


class _Triple(DeclarativePlugin):
    from core.hookspecs import hookimpl

    @hookimpl
    def jijiao_calculators(self):
        from core.types import Calculator
        yield Calculator("ucounty.triple", lambda inputs, params, context: inputs["x"] * 3)


def _assessor(folder: Path):
    registry = load_registry(entry_points=False, extra={"u": _Triple(folder, "u")})
    assert registry.failures == []
    assert registry.check() == []
    return registry.assessor(CODE)


def _computed(assessor, x, level="county") -> Decimal:
    raw = {"item": "peixun.item", "x": x}
    if "level" in {s.name for s in assessor.bundle.items["peixun.item"].inputs}:
        raw["level"] = level
    claims = assessor.parse_claims([raw])
    result = assessor.assess("2025", Teacher(), claims)
    return result.claims[0].computed["hours"]


def test_open_lesson_written_with_an_amount_input_counts_the_declared_hours(tmp_path):
    """The issue's example: `fixed, amount: 2, per: hours` with `hours: {type: amount}`."""
    folder = tmp_path / "lesson"
    (folder / "tests").mkdir(parents=True)
    (folder / "jurisdiction.yaml").write_text(JURISDICTION, encoding="utf-8")
    (folder / "catalogue.yaml").write_text(
        "items:\n  peixun.lesson:\n    name: 公开课\n    channel: declaration\n    inputs:\n"
        "      hours: {type: amount}\n    compute: {kind: fixed, amount: 2, per: hours}\n", encoding="utf-8")
    registry = load_registry(entry_points=False, extra={"u": DeclarativePlugin(folder, "u")})
    assessor = registry.assessor(CODE)
    result = assessor.assess("2025", Teacher(), assessor.parse_claims([{"item": "peixun.lesson", "hours": 3}]))
    assert result.totals["hours"] == 6
    assert result.claims[0].computed["hours"] == 6


@pytest.mark.parametrize("input_type", NUMERIC)
def test_threshold_and_minimum_compare_in_declared_units(tmp_path, input_type):
    folder = _plugin(tmp_path, "{kind: threshold, input: x, min: 30, amount: 6}", input_type,
                     extra="    conditions:\n      - {min: {x: 10}, reason: 不足10}\n")
    assessor = _assessor(folder)
    assert _computed(assessor, 5) == 0      # below the condition's minimum of 10
    assert _computed(assessor, 29) == 0     # below the threshold of 30
    assert _computed(assessor, 30) == 6


@pytest.mark.parametrize("input_type", NUMERIC)
def test_when_compares_declared_units(tmp_path, input_type):
    folder = _plugin(tmp_path, "{kind: fixed, amount: 1}", input_type,
                     extra="    bonus: [{when: {x: 2}, amount: 5}]\n")
    assessor = _assessor(folder)
    assert _computed(assessor, 2) == 6
    assert _computed(assessor, 3) == 1


@pytest.fixture(scope="module")
def assessors(tmp_path_factory):
    out = {}
    for kind, (compute, extra_inputs, _) in KINDS.items():
        for input_type in NUMERIC:
            folder = _plugin(tmp_path_factory.mktemp(kind), compute, input_type, extra_inputs)
            out[(kind, input_type)] = _assessor(folder)
    return out


@settings(max_examples=60, deadline=None, derandomize=True)
@given(x=st.integers(min_value=0, max_value=500), k=st.integers(min_value=1, max_value=20))
def test_every_kind_and_input_type_scales_linearly_and_never_exceeds_arithmetic(assessors, x, k):
    for (kind, input_type), assessor in assessors.items():
        expected = Decimal(KINDS[kind][2](Decimal(x)))
        one = _computed(assessor, x)
        scaled = _computed(assessor, x * k)
        assert one == expected, (kind, input_type, x)
        assert scaled == one * k, (kind, input_type, x, k)
        assert scaled <= Decimal(KINDS[kind][2](Decimal(x * k))), (kind, input_type)


@pytest.mark.parametrize("input_type", ("amount", "number"))
def test_fractional_declared_values_keep_their_units(tmp_path, input_type):
    folder = _plugin(tmp_path, "{kind: declared, convert: [{input: x, factor: 6}]}", input_type)
    assert _computed(_assessor(folder), "1.5") == 9


def test_declared_measure_written_as_a_number_input(tmp_path):
    """A declared item whose `hours` input is written `type: number` counts 3 hours, not 0.003."""
    folder = tmp_path / "declared"
    (folder / "tests").mkdir(parents=True)
    (folder / "jurisdiction.yaml").write_text(JURISDICTION, encoding="utf-8")
    (folder / "catalogue.yaml").write_text(
        "items:\n  peixun.item:\n    name: 培训\n    channel: declaration\n    inputs:\n"
        "      hours: {type: number}\n    compute: declared\n", encoding="utf-8")
    registry = load_registry(entry_points=False, extra={"u": DeclarativePlugin(folder, "u")})
    assessor = registry.assessor(CODE)
    result = assessor.assess("2025", Teacher(), assessor.parse_claims([{"item": "peixun.item", "hours": 3}]))
    explained = result.claims[0]
    assert (explained.declared, explained.computed, result.totals) == ({"hours": 3}, {"hours": 3}, {"hours": 3})
