"""`jijiao plugins check` refuses a plugin author's typos with the file, the line and a Chinese
message, before any teacher declares anything (the issue's list): a grouping key that names no
input, an unknown stage code, a review level with no window, a table without a value for an
allowed choice, a parameter that is not a number where a number is expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.declarative import DeclarativePlugin
from core.errors import PluginDataError
from core.plugin_data import load_plugin_folder
from core.plugins import load_registry
from core.stages import STAGES

from .test_plugin_data import CATALOGUE, JURISDICTION, PARAMETERS, REVIEW, line_of, make_plugin, replace

PAPERS = """\
items:
  peixun.training:
    name: 继续教育培训
    channel: declaration
    compute: declared
  peixun.paper:
    name: 论文
    channel: declaration
    inputs:
      title: {type: text}
      level: {type: level, choices: [county, city, province]}
    compute: {kind: table, table: paper_credits, by: [level]}
  peixun.lesson:
    name: 公开课
    channel: declaration
    inputs:
      lessons: {type: integer, min: 0}
    compute: {kind: threshold, input: lessons, min: lesson_min, amount: 2}
"""

PAPER_PARAMETERS = PARAMETERS + """\
  paper_credits:
    description: 论文学分
    values:
      2025-01-01: {county: 3, city: 5, province: 8}
  lesson_min:
    description: 听课门槛
    values:
      2025-01-01: 30
"""

HIGHEST = JURISDICTION + """\
highest_of:
  - {name: 同一论文, items: [peixun.paper], key: titel}
"""


def check_failure(folder: Path) -> str:
    """The one failure ``plugins check`` reports for this plugin."""
    registry = load_registry(entry_points=False, extra={"x": DeclarativePlugin(folder, "x")})
    problems = registry.check()
    assert len(problems) == 1, problems
    reason = problems[0].reason
    assert reason.startswith("xcounty: "), reason
    return reason.removeprefix("xcounty: ")


def test_papers_fixture_is_fine(tmp_path):
    folder = make_plugin(tmp_path, catalogue=PAPERS, parameters=PAPER_PARAMETERS)
    registry = load_registry(entry_points=False, extra={"x": DeclarativePlugin(folder, "x")})
    assert registry.check() == []


def test_highest_of_key_that_names_no_input_is_refused(tmp_path):
    folder = make_plugin(tmp_path, catalogue=PAPERS, parameters=PAPER_PARAMETERS, jurisdiction=HIGHEST)
    reason = check_failure(folder)
    assert reason.startswith(f"{folder / 'jurisdiction.yaml'}:{line_of(HIGHEST, 'key: titel')}: ")
    assert "'titel'" in reason and "title" in reason


def test_unknown_stage_code_is_refused_with_a_suggestion(tmp_path):
    review = REVIEW + """\
  review_distrct:
    name: 区认定
    values:
      2025-01-01: {opens: "next 04-06", closes: "next 04-30"}
"""
    folder = make_plugin(tmp_path, review=review)
    with pytest.raises(PluginDataError) as info:
        load_plugin_folder(folder, "x")
    assert info.value.file == str(folder / "review.yaml")
    assert info.value.line == line_of(review, "review_distrct:")
    assert "review_distrct" in str(info.value) and "review_district" in str(info.value)


def test_review_level_without_a_window_is_refused(tmp_path):
    review = replace(REVIEW, ", no_deadline: 通知未规定认定时限", "")
    folder = make_plugin(tmp_path, review=review)
    with pytest.raises(PluginDataError) as info:
        load_plugin_folder(folder, "x")
    assert info.value.line == line_of(review, "区认定")
    assert "review_district" in str(info.value)


def test_every_stage_the_built_in_plugins_declare_is_known():
    registry = load_registry(disabled=set())
    for code in registry.codes():
        for stage in registry.bundle(code).stage_windows:
            assert stage.stage in STAGES, (code, stage.stage)
    for code in ("register_training", "register_research", "submit_evidence", "plan"):
        assert not STAGES[code].enforced


def test_table_without_a_value_for_an_allowed_choice_is_refused(tmp_path):
    parameters = replace(PAPER_PARAMETERS, "{county: 3, city: 5, province: 8}", "{county: 3, city: 5}")
    folder = make_plugin(tmp_path, catalogue=PAPERS, parameters=parameters)
    reason = check_failure(folder)
    assert reason.startswith(f"{folder / 'catalogue.yaml'}:{line_of(PAPERS, 'table: paper_credits')}: ")
    assert "province" in reason and "paper_credits" in reason


@pytest.mark.parametrize("value", ["三十", "{a: 1}"])
def test_parameter_that_is_not_a_number_where_a_number_is_expected(tmp_path, value):
    parameters = replace(PAPER_PARAMETERS, "2025-01-01: 30", f"2025-01-01: {value}")
    folder = make_plugin(tmp_path, catalogue=PAPERS, parameters=parameters)
    reason = check_failure(folder)
    assert reason.startswith(f"{folder / 'catalogue.yaml'}:{line_of(PAPERS, 'min: lesson_min')}: ")
    assert "lesson_min" in reason and "InvalidOperation" not in reason


def test_computation_naming_an_input_the_item_does_not_have(tmp_path):
    catalogue = replace(PAPERS, "input: lessons", "input: lesson")
    folder = make_plugin(tmp_path, catalogue=catalogue, parameters=PAPER_PARAMETERS)
    reason = check_failure(folder)
    assert reason.startswith(f"{folder / 'catalogue.yaml'}:{line_of(catalogue, 'input: lesson,')}: ")
    assert "'lesson'" in reason


def test_plugins_check_command_prints_file_and_line(tmp_path, capsys, monkeypatch):
    from core import cli
    folder = make_plugin(tmp_path, catalogue=PAPERS, parameters=PAPER_PARAMETERS, jurisdiction=HIGHEST)
    monkeypatch.setattr(cli, "_registry", lambda: load_registry(entry_points=False,
                                                                extra={"x": DeclarativePlugin(folder, "x")}))
    assert cli.main(["plugins", "check"]) == 1
    out = capsys.readouterr().out
    assert f"jurisdiction.yaml:{line_of(HIGHEST, 'key: titel')}:" in out


def test_guangzhou_school_registrations_have_a_window():
    """Issue item 5: a school's registration (the registration workflow's 报送 is guarded by
    `register`) had no window in 广州. Notice 四（二）2（2）: 校本培训 hours are registered by the
    schools before 2020-01-31 for 2019, i.e. the next 01-31."""
    from datetime import date

    from core.periods import Calendar, resolve_day
    bundle = load_registry(disabled=set()).bundle("guangzhou")
    register = next(s for s in bundle.stage_windows if s.stage == "register")
    window = register.values[-1].value
    period = Calendar(bundle.jurisdiction.period).period("2019")
    assert resolve_day(window["opens"], period) == date(2019, 1, 1)
    assert resolve_day(window["closes"], period) == date(2020, 1, 31)
