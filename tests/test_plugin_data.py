"""Strict loading of a declarative plugin folder (core.plugin_data, core.yamlstrict).

Each test writes a minimal plugin in the shape of plugins/jining (the smallest built-in), breaks
one thing, and checks that loading refuses it with a PluginDataError naming the file and the
line of the fault. Lines are found by a marker in the text, so the fixtures can be edited freely.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from core.declarative import DeclarativePlugin
from core.engine import Assessor
from core.errors import PluginDataError
from core.facts import Teacher
from core.plugin_data import load_plugin_folder
from core.plugins import load_registry

CODE = "xcounty"

JURISDICTION = f"""\
code: {CODE}
name: 测试县
level: district
description: 测试用的最小插件（仿 jining）。
references:
  notice:
    title: 测试通知
    document: 测教〔2025〕1号
period: {{kind: year, starts: "01-01"}}
measures: [credits]
categories:
  peixun: {{name: 培训}}
requirements:
  - {{of: total, min: pass_total}}
"""

CATALOGUE = """\
items:
  peixun.training:
    name: 继续教育培训
    channel: declaration
    reference: notice 四
    inputs:
      started_on: {type: date, label: 培训开始日期}
      ended_on: {type: date, label: 培训结束日期}
    compute: declared
    conditions:
      - dates: [started_on, ended_on]
        within: training_window
        reason: 培训须在本年度3月31日至12月31日期间进行并结束
    evidence: [结业证书]
  peixun.lecture:
    name: 专题讲座
    channel: school
    compute: {kind: fixed, amount: lecture_credits}
"""

PARAMETERS = """\
parameters:
  pass_total:
    description: 年度学分合格线
    unit: credits
    values:
      2025-01-01: 10
  training_window:
    description: 可登记培训的起止范围
    reference: notice 二
    values:
      2025-01-01: {from: "03-31", to: "12-31"}
  lecture_credits:
    description: 每次讲座学分
    values:
      2025-01-01: 2
"""

REVIEW = """\
workflow: declaration
levels:
  - {name: 学校审核, kinds: [school]}
  - {name: 区认定, kinds: [district], no_deadline: 通知未规定认定时限}
stages:
  declare:
    name: 教师个人申请
    values:
      2025-01-01: {opens: "03-31", closes: "next 03-31"}
  review_school:
    name: 学校审核
    values:
      2025-01-01: {opens: "next 01-01", closes: "next 04-05"}
"""

FILES = {"jurisdiction.yaml": JURISDICTION, "catalogue.yaml": CATALOGUE,
         "parameters.yaml": PARAMETERS, "review.yaml": REVIEW}


def make_plugin(tmp_path: Path, **overrides: str) -> Path:
    """A plugin folder; ``overrides`` maps a file stem (catalogue, parameters...) to its text."""
    folder = tmp_path / "xcounty"
    (folder / "tests").mkdir(parents=True, exist_ok=True)
    for name, text in FILES.items():
        (folder / name).write_text(overrides.get(name.removesuffix(".yaml"), text), encoding="utf-8")
    return folder


def replace(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"fixture marker {old!r} must occur exactly once"
    return text.replace(old, new)


def line_of(text: str, marker: str, occurrence: int = 1) -> int:
    """1-based line of the ``occurrence``-th line containing ``marker``."""
    hits = [n for n, line in enumerate(text.splitlines(), 1) if marker in line]
    assert len(hits) >= occurrence, f"marker {marker!r} not found {occurrence} times"
    return hits[occurrence - 1]


def refused(folder: Path, file: str, line: int) -> PluginDataError:
    with pytest.raises(PluginDataError) as info:
        load_plugin_folder(folder, "x")
    error = info.value
    path = str(folder / file)
    assert error.file == path, f"error should name {file}, not {error.file}"
    assert error.line == line, f"{file}: error should be on line {line}, not {error.line}: {error}"
    assert str(error).startswith(f"{path}:{line}: "), str(error)
    return error


# -- the fixture itself is fine ---------------------------------------------------------------

def test_minimal_plugin_loads(tmp_path):
    data = load_plugin_folder(make_plugin(tmp_path), "x")
    assert data.jurisdiction.code == CODE
    assert [i.code for i in data.items] == ["peixun.training", "peixun.lecture"]
    assert {p.name for p in data.parameters} == {"pass_total", "training_window", "lecture_credits"}
    assert [level.name for level in data.review_levels] == ["学校审核", "区认定"]
    registry = load_registry(entry_points=False, extra={"x": DeclarativePlugin(make_plugin(tmp_path), "x")})
    assert registry.failures == []
    assert registry.check() == []


# -- refusals at load time, with file and line --------------------------------------------------

def test_unknown_key_in_an_item(tmp_path):
    text = replace(CATALOGUE, "    channel: school\n", "    channel: school\n    capp: 3\n")
    error = refused(make_plugin(tmp_path, catalogue=text), "catalogue.yaml", line_of(text, "capp:"))
    assert "capp" in error.message and "cap" in error.message  # names the key and what is allowed


def test_unknown_key_in_an_input(tmp_path):
    text = replace(CATALOGUE, "{type: date, label: 培训开始日期}", "{type: date, lable: 培训开始日期}")
    error = refused(make_plugin(tmp_path, catalogue=text), "catalogue.yaml", line_of(text, "lable"))
    assert "lable" in error.message


def test_unknown_key_in_the_jurisdiction(tmp_path):
    text = JURISDICTION + "requirement:\n  - {of: total, min: 1}\n"
    error = refused(make_plugin(tmp_path, jurisdiction=text), "jurisdiction.yaml",
                    line_of(text, "requirement:"))
    assert "requirement" in error.message


def test_duplicate_yaml_key(tmp_path):
    text = replace(CATALOGUE, "    channel: declaration\n", "    channel: declaration\n    channel: school\n")
    error = refused(make_plugin(tmp_path, catalogue=text), "catalogue.yaml", line_of(text, "channel: school", 1))
    assert "channel" in error.message
    assert f"第{line_of(text, 'channel: declaration')}行" in error.message  # where it first appeared


def test_duplicate_item_code(tmp_path):
    text = CATALOGUE + "  peixun.training:\n    name: 又一个\n    channel: school\n    compute: declared\n"
    refused(make_plugin(tmp_path, catalogue=text), "catalogue.yaml", line_of(text, "peixun.training:", 2))


def test_duplicate_parameter_date(tmp_path):
    text = replace(PARAMETERS, "      2025-01-01: 10\n", "      2025-01-01: 10\n      2025-01-01: 12\n")
    refused(make_plugin(tmp_path, parameters=text), "parameters.yaml", line_of(text, "2025-01-01: 12"))


def test_bad_date_key_in_parameter_values_unquoted(tmp_path):
    """2025-13-01 looks like a YAML timestamp; PyYAML's constructor raises ValueError on it,
    which must become a PluginDataError with the file and line, not escape as a traceback."""
    text = replace(PARAMETERS, "      2025-01-01: 10\n", "      2025-13-01: 10\n")
    refused(make_plugin(tmp_path, parameters=text), "parameters.yaml", line_of(text, "2025-13-01"))


def test_bad_date_key_in_parameter_values_quoted(tmp_path):
    text = replace(PARAMETERS, "      2025-01-01: 10\n", '      "2025-13-01": 10\n')
    error = refused(make_plugin(tmp_path, parameters=text), "parameters.yaml", line_of(text, "2025-13-01"))
    assert "2025-13-01" in error.message


def test_bad_date_in_a_reference(tmp_path):
    text = replace(JURISDICTION, "    document: 测教〔2025〕1号\n",
                   "    document: 测教〔2025〕1号\n    issued_on: 2025年3月\n")
    refused(make_plugin(tmp_path, jurisdiction=text), "jurisdiction.yaml", line_of(text, "issued_on"))


def test_item_whose_category_is_not_declared(tmp_path):
    text = replace(CATALOGUE, "  peixun.lecture:", "  gongxu.lecture:")
    error = refused(make_plugin(tmp_path, catalogue=text), "catalogue.yaml", line_of(text, "gongxu.lecture:"))
    assert "gongxu" in error.message


def test_item_code_without_category(tmp_path):
    text = replace(CATALOGUE, "  peixun.lecture:", "  lecture:")
    refused(make_plugin(tmp_path, catalogue=text), "catalogue.yaml", line_of(text, "  lecture:"))


@pytest.mark.parametrize("compute", ["magic", "{kind: magic}", "{kind: magic, amount: 2}"])
def test_unknown_compute_kind(tmp_path, compute):
    text = replace(CATALOGUE, "{kind: fixed, amount: lecture_credits}", compute)
    error = refused(make_plugin(tmp_path, catalogue=text), "catalogue.yaml", line_of(text, "magic"))
    assert "magic" in error.message


def test_unknown_input_type(tmp_path):
    text = replace(CATALOGUE, "{type: date, label: 培训结束日期}", "{type: datum, label: 培训结束日期}")
    refused(make_plugin(tmp_path, catalogue=text), "catalogue.yaml", line_of(text, "datum"))


def test_unknown_channel(tmp_path):
    text = replace(CATALOGUE, "    channel: school\n", "    channel: email\n")
    refused(make_plugin(tmp_path, catalogue=text), "catalogue.yaml", line_of(text, "channel: email"))


def test_reference_key_not_declared(tmp_path):
    text = replace(CATALOGUE, "    reference: notice 四\n", "    reference: circular 四\n")
    error = refused(make_plugin(tmp_path, catalogue=text), "catalogue.yaml", line_of(text, "circular"))
    assert "circular" in error.message


def test_parameter_reference_key_not_declared(tmp_path):
    text = replace(PARAMETERS, "    reference: notice 二\n", "    reference: notise 二\n")
    refused(make_plugin(tmp_path, parameters=text), "parameters.yaml", line_of(text, "notise"))


@pytest.mark.parametrize("file, old, new, marker", [
    pytest.param("catalogue", "    evidence: [结业证书]\n", "    evidence: [结业证书\n    compute2: x\n",
                 None, id="unclosed-flow-sequence"),
    pytest.param("catalogue", "    channel: school\n", "    channel: school: daily\n", "school: daily",
                 id="mapping-value-not-allowed"),
    pytest.param("parameters", "    unit: credits\n", "    unit: \"credits\n", None, id="unclosed-quote"),
    pytest.param("jurisdiction", "name: 测试县\n", "name: 测试县\n\tlevel: district\n", "\tlevel",
                 id="tab-indentation"),
])
def test_yaml_syntax_error(tmp_path, file, old, new, marker):
    original = {"catalogue": CATALOGUE, "parameters": PARAMETERS, "jurisdiction": JURISDICTION}[file]
    text = replace(original, old, new)
    folder = make_plugin(tmp_path, **{file: text})
    with pytest.raises(PluginDataError) as info:
        load_plugin_folder(folder, "x")
    error = info.value
    assert error.file == str(folder / f"{file}.yaml")
    assert "YAML" in error.message
    assert error.line is not None and 1 <= error.line <= len(text.splitlines()) + 1
    if marker is not None:
        assert error.line == line_of(text, marker)
    assert f"{file}.yaml:{error.line}: " in str(error)


def test_file_not_utf8(tmp_path):
    folder = make_plugin(tmp_path)
    (folder / "catalogue.yaml").write_bytes(CATALOGUE.encode("gb18030"))
    with pytest.raises(PluginDataError) as info:
        load_plugin_folder(folder, "x")
    assert info.value.file == str(folder / "catalogue.yaml")


def test_missing_file(tmp_path):
    folder = make_plugin(tmp_path)
    (folder / "catalogue.yaml").unlink()
    with pytest.raises(PluginDataError) as info:
        load_plugin_folder(folder, "x")
    assert info.value.file == str(folder / "catalogue.yaml")


def test_broken_plugin_is_a_failure_of_its_registry_not_a_crash(tmp_path):
    text = replace(CATALOGUE, "    channel: school\n", "    channel: school\n    capp: 3\n")
    registry = load_registry(entry_points=False,
                             extra={"x": DeclarativePlugin(make_plugin(tmp_path, catalogue=text), "x")})
    assert registry.codes() == []
    [failure] = registry.failures
    assert failure.plugin == "x"
    assert f"catalogue.yaml:{line_of(text, 'capp:')}:" in failure.reason


# -- references checked when the rules are compiled ----------------------------------------------

def compile_problem(folder: Path, file: str, line: int) -> PluginDataError:
    registry = load_registry(entry_points=False, extra={"x": DeclarativePlugin(folder, "x")})
    assert registry.failures == [], "the data loads; the reference is only resolved when compiled"
    [problem] = registry.check()
    assert problem.plugin == "x"
    assert f"{folder / file}:{line}:" in problem.reason, problem.reason
    with pytest.raises(PluginDataError) as info:
        Assessor(registry.bundle(CODE)).check()
    assert info.value.file == str(folder / file)
    assert info.value.line == line
    return info.value


def test_reference_to_an_undefined_parameter_in_an_item(tmp_path):
    text = replace(CATALOGUE, "amount: lecture_credits", "amount: lecture_credit")
    error = compile_problem(make_plugin(tmp_path, catalogue=text), "catalogue.yaml",
                            line_of(text, "lecture_credit}"))
    assert "lecture_credit" in error.message


def test_reference_to_an_undefined_window_parameter(tmp_path):
    text = replace(CATALOGUE, "within: training_window", "within: training_windw")
    compile_problem(make_plugin(tmp_path, catalogue=text), "catalogue.yaml", line_of(text, "training_windw"))


def test_reference_to_an_undefined_parameter_in_a_requirement(tmp_path):
    text = replace(JURISDICTION, "min: pass_total", "min: pass_totl")
    compile_problem(make_plugin(tmp_path, jurisdiction=text), "jurisdiction.yaml", line_of(text, "pass_totl"))


def test_reference_defined_only_later_is_found_at_every_epoch(tmp_path):
    """A parameter that only exists from 2026 still has a value for 2025 (the earliest one is
    used before every start), so compiling every epoch succeeds."""
    text = PARAMETERS + "  later:\n    description: 以后才有\n    values:\n      2026-01-01: 5\n"
    catalogue = replace(CATALOGUE, "amount: lecture_credits", "amount: later")
    registry = load_registry(entry_points=False, extra={
        "x": DeclarativePlugin(make_plugin(tmp_path, parameters=text, catalogue=catalogue), "x")})
    assert registry.check() == []


# -- dated parameter values ------------------------------------------------------------------

def dated_registry(tmp_path):
    text = replace(PARAMETERS, "      2025-01-01: 10\n", "      2019-01-01: 72\n      2020-01-01: 80\n")
    text = text.replace("2025-01-01", "2019-01-01")
    folder = make_plugin(tmp_path, parameters=text)
    registry = load_registry(entry_points=False, extra={"x": DeclarativePlugin(folder, "x")})
    assert registry.failures == [] and registry.check() == []
    return registry


def test_parameter_value_in_force_on_a_date(tmp_path):
    registry = dated_registry(tmp_path)
    parameter = registry.bundle(CODE).parameters["pass_total"]
    assert parameter.at(date(2018, 6, 1)) == 72  # before every start: the earliest value
    assert parameter.at(date(2019, 1, 1)) == 72
    assert parameter.at(date(2019, 12, 31)) == 72
    assert parameter.at(date(2020, 1, 1)) == 80
    assert parameter.at(date(2030, 1, 1)) == 80


@pytest.mark.parametrize("year, credits, passed, minimum", [
    ("2019", 75, True, 72),
    ("2020", 75, False, 80),
    ("2019", 71, False, 72),
    ("2020", 80, True, 80),
    ("2021", 79, False, 80),
])
def test_dated_threshold_through_the_engine(tmp_path, year, credits, passed, minimum):
    registry = dated_registry(tmp_path)
    assessor = registry.assessor(CODE)
    claims = assessor.parse_claims([{"item": "peixun.training", "credits": credits,
                                     "started_on": f"{year}-04-01", "ended_on": f"{year}-05-01"}])
    result = assessor.assess(year, Teacher(), claims)
    assert result.totals == {"credits": Decimal(credits)}
    assert result.passed is passed
    if not passed:
        assert result.reasons == [f"总学分不足：{credits}/{minimum}"]


def test_dated_values_out_of_order_are_sorted(tmp_path):
    text = replace(PARAMETERS, "      2025-01-01: 10\n", "      2020-01-01: 80\n      2019-01-01: 72\n")
    data = load_plugin_folder(make_plugin(tmp_path, parameters=text), "x")
    [parameter] = [p for p in data.parameters if p.name == "pass_total"]
    assert [dv.value for dv in parameter.values] == [72, 80]
    assert parameter.at(date(2019, 6, 1)) == 72
