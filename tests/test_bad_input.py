"""The command line's contract for bad input.

Issue: "An unknown jurisdiction or item, a missing input, negative or NaN or infinite hours, text
where a number belongs, full-width digits (normalise `１２` to 12), an unknown level or award: a
one-line Chinese message naming the case, the claim and the field, exit code 2, never a
traceback."

Every case file here has a valid first claim and the bad one second, so the message must say
第2条记录 (not 第1条记录): the position is the claim's, not the first one's.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from core.cli import main

CHINESE = re.compile(r"[\u4e00-\u9fff]")
CASE_NAME = "坏输入案例"

# A valid claim of each jurisdiction used below, placed first in every case.
GOOD = {
    "guangzhou": ("2019", "{item: zhuanye.platform, hours: 10}"),
    "echeng": ("2022-2023", "{item: jizhong.ethics, hours: 6}"),
    "lengshuijiang": ("2023-2024", "{item: geren.reading}"),
    "jining": ("2025", "{item: peixun.training, credits: 2, started_on: 2025-04-01, ended_on: 2025-04-02}"),
    "hainan": ("2025", "{item: xiaoji.training, credits: 1, hours: 6}"),
    "wutongqiao": ("2021-2022", "{item: guifan.it20, hours: 10}"),
    "zhengzhou": ("cycle", "{item: xiaoben.project, hours: 10}"),
}


def write_case(tmp_path: Path, jurisdiction: str, bad_claim: str | None = None, *, period: str | None = None,
               teacher: str = "{}", name: str = CASE_NAME, claims: str | None = None) -> Path:
    default_period, good = GOOD.get(jurisdiction, ("2019", "{item: zhuanye.platform, hours: 10}"))
    if claims is None:
        claims = f"\n    - {good}" + (f"\n    - {bad_claim}" if bad_claim is not None else "")
    if jurisdiction == "zhengzhou" and teacher == "{}":
        teacher = "{cycle_start: 2020-01-01}"
    text = (f"- name: {name}\n"
            f"  jurisdiction: {jurisdiction}\n"
            f"  period: \"{period or default_period}\"\n"
            f"  teacher: {teacher}\n"
            f"  claims: {claims}\n")
    path = tmp_path / "case.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(code, out, err, *, case: str | None = CASE_NAME, claim: int | None = None,
                          field: str | None = None):
    assert code == 2, f"exit code {code}, stderr: {err!r}"
    assert "Traceback" not in err and "Traceback" not in out
    assert out == "", f"nothing should be printed on stdout for bad input, got {out!r}"
    lines = err.splitlines()
    assert len(lines) == 1, f"stderr should be exactly one line, got {len(lines)}: {err!r}"
    line = lines[0]
    assert CHINESE.search(line), f"the message should be Chinese: {line!r}"
    if case is not None:
        assert case in line, f"the message should name the case {case!r}: {line!r}"
    if claim is not None:
        assert f"第{claim}条记录" in line, f"the message should name the claim 第{claim}条记录: {line!r}"
    if field is not None:
        assert f"字段 {field}" in line, f"the message should name the field {field!r}: {line!r}"
    return line


# -- claim-level errors: case, claim position and field ---------------------------------------

CLAIM_ERRORS = [
    # id, jurisdiction, second claim, field
    ("unknown-item", "guangzhou", "{item: gongxu.nope, hours: 1}", "item"),
    ("item-missing", "guangzhou", "{hours: 1}", "item"),
    ("missing-required-input", "guangzhou", "{item: gongxu.platform, hours: 1}", "topic"),
    ("missing-hours", "guangzhou", "{item: zhuanye.platform}", "hours"),
    ("missing-level", "echeng", "{item: jizhong.training, hours: 3}", "level"),
    ("negative-hours", "guangzhou", "{item: zhuanye.platform, hours: -3}", "hours"),
    ("negative-hours-text", "guangzhou", "{item: zhuanye.platform, hours: \"-3\"}", "hours"),
    ("nan-yaml", "guangzhou", "{item: zhuanye.platform, hours: .nan}", "hours"),
    ("nan-text", "guangzhou", "{item: zhuanye.platform, hours: NaN}", "hours"),
    ("inf-yaml", "guangzhou", "{item: zhuanye.platform, hours: .inf}", "hours"),
    ("minus-inf-yaml", "guangzhou", "{item: zhuanye.platform, hours: -.inf}", "hours"),
    ("inf-text", "guangzhou", "{item: zhuanye.platform, hours: Infinity}", "hours"),
    ("abc-hours", "guangzhou", "{item: zhuanye.platform, hours: abc}", "hours"),
    ("list-hours", "guangzhou", "{item: zhuanye.platform, hours: [1, 2]}", "hours"),
    ("bool-hours", "guangzhou", "{item: zhuanye.platform, hours: true}", "hours"),
    ("three-decimals", "guangzhou", "{item: zhuanye.platform, hours: 1.005}", "hours"),
    ("abc-credits", "hainan", "{item: xiaoji.training, credits: abc, hours: 6}", "credits"),
    ("abc-integer", "lengshuijiang", "{item: geren.observation, lessons: 三十}", "lessons"),
    ("fraction-integer", "lengshuijiang", "{item: geren.observation, lessons: 30.5}", "lessons"),
    ("below-minimum", "wutongqiao", "{item: guifan.dangjian, terms: 0}", "terms"),
    ("above-maximum", "wutongqiao", "{item: guifan.dangjian, terms: 3}", "terms"),
    ("numbers-length", "wutongqiao", "{item: guifan.xuexiqiangguo, quarter_points: [2000, 2000, 2000]}",
     "quarter_points"),
    ("numbers-element", "wutongqiao", "{item: guifan.xuexiqiangguo, quarter_points: [2000, 2000, x, 1]}",
     "quarter_points"),
    ("unknown-level", "echeng", "{item: jizhong.training, hours: 3, level: galaxy}", "level"),
    ("level-not-offered", "lengshuijiang", "{item: geren.open_lesson, level: city}", "level"),
    ("level-dict", "echeng", "{item: jizhong.training, hours: 3, level: {a: 1}}", "level"),
    ("unknown-award", "lengshuijiang", "{item: geren.paper, title: 论文甲, level: city, award: gold}", "award"),
    ("award-not-in-table", "lengshuijiang", "{item: geren.paper, title: 论文甲, level: city}", "award"),
    ("unknown-role", "lengshuijiang", "{item: jiangli.project, project: 课题甲, level: city, role: boss}", "role"),
    ("unknown-choice", "guangzhou", "{item: zhuanye.self, hours: 3, kind: 看电影}", "kind"),
    ("bad-bool", "wutongqiao", "{item: guifan.shaike, video_uploaded: maybe}", "video_uploaded"),
    ("bad-date-quoted", "jining",
     "{item: peixun.training, credits: 3, started_on: \"2025-02-30\", ended_on: 2025-05-01}", "started_on"),
    ("bad-date-text", "jining", "{item: peixun.training, credits: 3, started_on: 明天, ended_on: 2025-05-01}",
     "started_on"),
    ("bad-on-date-text", "guangzhou", "{item: zhuanye.platform, hours: 3, \"on\": tomorrow}", "on"),
    ("unknown-key", "guangzhou", "{item: zhuanye.platform, hours: 3, colour: red}", "colour"),
    ("unknown-key-misspelt", "guangzhou", "{item: zhuanye.platform, hour: 3}", "hour"),
    ("bad-claim-period", "guangzhou", "{item: zhuanye.platform, hours: 3, period: \"19\"}", "period"),
    ("bad-claim-period-school-year", "echeng",
     "{item: jizhong.ethics, hours: 3, period: \"2022-2024\"}", "period"),
    ("bad-for-period", "hainan", "{item: peixun.remedial, credits: 1, hours: 6, for_period: 去年}", "for_period"),
]


@pytest.mark.parametrize("jurisdiction, bad, field",
                         [pytest.param(j, b, f, id=i) for i, j, b, f in CLAIM_ERRORS])
def test_claim_error_is_one_chinese_line_naming_case_claim_and_field(tmp_path, capsys, jurisdiction, bad, field):
    path = write_case(tmp_path, jurisdiction, bad)
    code, out, err = run_cli(capsys, "assess", str(path), "--json")
    assert_one_line_error(code, out, err, claim=2, field=field)


def test_claim_that_is_not_a_mapping(tmp_path, capsys):
    path = write_case(tmp_path, "guangzhou", "just text")
    code, out, err = run_cli(capsys, "assess", str(path), "--json")
    assert_one_line_error(code, out, err, claim=2)


def test_claim_position_counts_from_one(tmp_path, capsys):
    claims = ("\n    - {item: zhuanye.platform, hours: 1}" * 4) + "\n    - {item: zhuanye.platform, hours: -1}"
    path = write_case(tmp_path, "guangzhou", claims=claims)
    code, out, err = run_cli(capsys, "assess", str(path), "--json")
    assert_one_line_error(code, out, err, claim=5, field="hours")


def test_error_names_the_failing_case_among_several(tmp_path, capsys):
    path = tmp_path / "cases.yaml"
    path.write_text(
        '- {name: 第一个好案例, jurisdiction: guangzhou, period: "2019", claims: [{item: zhuanye.platform, hours: 1}]}\n'
        '- {name: 第二个坏案例, jurisdiction: guangzhou, period: "2019", claims: [{item: zhuanye.platform, hours: x}]}\n',
        encoding="utf-8")
    code, out, err = run_cli(capsys, "assess", str(path), "--json")
    line = assert_one_line_error(code, out, err, case="第二个坏案例", claim=1, field="hours")
    assert "第一个好案例" not in line


# -- case-level errors: no claim to name, but the case and the field ----------------------------

def test_unknown_jurisdiction(tmp_path, capsys):
    path = write_case(tmp_path, "atlantis", "{item: zhuanye.platform, hours: 1}")
    code, out, err = run_cli(capsys, "assess", str(path), "--json")
    line = assert_one_line_error(code, out, err, field="jurisdiction")
    assert "atlantis" in line


@pytest.mark.parametrize("jurisdiction, period", [
    pytest.param("guangzhou", "2019-2020", id="school-year-key-for-calendar-year"),
    pytest.param("guangzhou", "19", id="two-digit-year"),
    pytest.param("guangzhou", "二〇一九", id="chinese-numerals"),
    pytest.param("echeng", "2022", id="calendar-key-for-school-year"),
    pytest.param("echeng", "2022-2024", id="school-year-not-consecutive"),
    pytest.param("echeng", "2022/2023", id="slash"),
    pytest.param("zhengzhou", "2020", id="year-key-for-personal-cycle"),
])
def test_malformed_period_key(tmp_path, capsys, jurisdiction, period):
    path = write_case(tmp_path, jurisdiction, period=period)
    code, out, err = run_cli(capsys, "assess", str(path), "--json")
    assert_one_line_error(code, out, err, field="period")


@pytest.mark.parametrize("period", ["0000", "9999"])
def test_period_key_at_the_edge_of_the_calendar(tmp_path, capsys, period):
    """A well-formed key whose dates Python cannot represent (year 0, year 10000) is still bad
    input, not a ValueError traceback."""
    path = write_case(tmp_path, "guangzhou", period=period)
    code, out, err = run_cli(capsys, "assess", str(path), "--json")
    assert_one_line_error(code, out, err, field="period")


def test_claim_date_at_the_edge_of_the_calendar(tmp_path, capsys):
    """0001-01-01 lies in the school year 0000-0001, which does not exist: bad input, not a
    ValueError traceback."""
    path = write_case(tmp_path, "echeng", "{item: jizhong.ethics, hours: 3, \"on\": 0001-01-01}")
    code, out, err = run_cli(capsys, "assess", str(path), "--json")
    assert_one_line_error(code, out, err, claim=2, field="on")


@pytest.mark.parametrize("teacher, field", [
    pytest.param("{new_teacher: maybe}", "teacher.new_teacher", id="bad-bool"),
    pytest.param("{employed_on: yesterday}", "teacher.employed_on", id="bad-date"),
    pytest.param("{favourite_colour: red}", "teacher.favourite_colour", id="unknown-fact"),
    pytest.param("just text", "teacher", id="not-a-mapping"),
])
def test_bad_teacher_fact(tmp_path, capsys, teacher, field):
    path = write_case(tmp_path, "guangzhou", teacher=teacher)
    code, out, err = run_cli(capsys, "assess", str(path), "--json")
    assert_one_line_error(code, out, err, field=field)


def test_claims_not_a_list(tmp_path, capsys):
    path = write_case(tmp_path, "guangzhou", claims="not a list")
    code, out, err = run_cli(capsys, "assess", str(path), "--json")
    assert_one_line_error(code, out, err, field="claims")


def test_personal_cycle_without_start(tmp_path, capsys):
    path = write_case(tmp_path, "zhengzhou", teacher="{new_teacher: true}")
    code, out, err = run_cli(capsys, "assess", str(path), "--json")
    assert_one_line_error(code, out, err, field="teacher.cycle_start")


# -- bugs found while writing these (kept failing until fixed) --------------------------------

def assert_names_the_date(line: str, path: Path, field: str) -> None:
    """Either the case/claim/field (best) or, failing that, the file and line of the date."""
    located = f"案例「{CASE_NAME}」" in line and "第2条记录" in line and f"字段 {field}" in line
    assert located or f"{path}:7" in line, line


def test_unquoted_impossible_date_in_a_claim(tmp_path, capsys):
    """YAML reads an unquoted 2025-13-01 as a timestamp and PyYAML raises ValueError while
    constructing it: that must still be one Chinese line, exit 2, not a traceback."""
    path = write_case(tmp_path, "jining",
                      "{item: peixun.training, credits: 3, started_on: 2025-13-01, ended_on: 2025-05-01}")
    code, out, err = run_cli(capsys, "assess", str(path), "--json")
    assert_names_the_date(assert_one_line_error(code, out, err, case=None), path, "started_on")


def test_unquoted_impossible_on_date(tmp_path, capsys):
    path = write_case(tmp_path, "guangzhou", "{item: zhuanye.platform, hours: 3, \"on\": 2019-02-30}")
    code, out, err = run_cli(capsys, "assess", str(path), "--json")
    assert_names_the_date(assert_one_line_error(code, out, err, case=None), path, "on")


@pytest.mark.parametrize("bad, field", [
    pytest.param("{item: zhuanye.platform, hours: 1.0e+300}", "hours", id="huge-float-hours"),
    pytest.param("{item: zhuanye.platform, hours: 100000000000000000000000000000000}", "hours",
                 id="huge-int-hours"),
    pytest.param("{item: zhuanye.platform, hours: \"1e40\"}", "hours", id="huge-text-hours"),
])
def test_absurdly_large_amount(tmp_path, capsys, bad, field):
    path = write_case(tmp_path, "guangzhou", bad)
    code, out, err = run_cli(capsys, "assess", str(path), "--json")
    assert_one_line_error(code, out, err, claim=2, field=field)


def test_absurdly_large_count(tmp_path, capsys):
    """6 credits a day × 1e5000 days cannot be printed (int→str limit): bad input, not a traceback."""
    path = write_case(tmp_path, "lengshuijiang", "{item: teshu.songke, days: \"1e5000\"}")
    code, out, err = run_cli(capsys, "assess", str(path), "--json")
    assert_one_line_error(code, out, err, claim=2, field="days")


def test_value_with_a_newline_still_gives_one_line(tmp_path, capsys):
    """The message quotes the bad value; a value containing a newline must not break the
    one-line contract."""
    path = write_case(tmp_path, "echeng", "{item: jizhong.training, hours: 3, level: \"galaxy\\nfar\"}")
    code, out, err = run_cli(capsys, "assess", str(path), "--json")
    assert_one_line_error(code, out, err, claim=2, field="level")


# -- normalisation: accepted, not refused ----------------------------------------------------

@pytest.mark.parametrize("hours", ['"１２"', '"12学时"', '"１２学时"', '" 12 "', '"１２.００"', "12.0"])
def test_full_width_and_unit_suffix_are_accepted_as_12(tmp_path, capsys, hours):
    path = write_case(tmp_path, "guangzhou", claims=f"\n    - {{item: zhuanye.platform, hours: {hours}}}")
    code, out, err = run_cli(capsys, "assess", str(path), "--json")
    assert code == 0, err
    assert err == ""
    [result] = json.loads(out)
    assert result["name"] == CASE_NAME
    assert result["totals"] == {"hours": 12}
    assert result["categories"]["zhuanye"] == 12
    assert result["claims"][0]["counted"] == {"hours": 12}
    assert isinstance(result["totals"]["hours"], int)


def test_full_width_digits_in_several_claims_sum_exactly(tmp_path, capsys):
    claims = ("\n    - {item: zhuanye.platform, hours: \"１２\"}"
              "\n    - {item: zhuanye.training, hours: \"12学时\"}"
              "\n    - {item: gongxu.platform, hours: \"６\", topic: 法治教育}")
    path = write_case(tmp_path, "guangzhou", claims=claims)
    code, out, err = run_cli(capsys, "assess", str(path), "--json")
    assert code == 0, err
    [result] = json.loads(out)
    assert result["totals"] == {"hours": 30}
    assert result["categories"] == {"gongxu": 6, "zhuanye": 24}


def test_full_width_level_and_integer(tmp_path, capsys):
    claims = "\n    - {item: geren.open_lesson, level: 县级, count: \"１\"}"
    path = write_case(tmp_path, "lengshuijiang", claims=claims)
    code, out, err = run_cli(capsys, "assess", str(path), "--json")
    assert code == 0, err
    [result] = json.loads(out)
    assert result["categories"]["geren"] == 4


# -- `jijiao cases` ---------------------------------------------------------------------------

CASES_WITH_ONE_WRONG_EXPECT = """\
- name: 期望写错了
  jurisdiction: guangzhou
  period: "2021"
  claims:
    - {item: gongxu.platform, hours: 10, topic: 党史学习教育}
    - {item: zhuanye.self, hours: 58, kind: 学术会议}
  expect:
    categories: {gongxu: 12, zhuanye: 58}
- name: 期望正确
  jurisdiction: guangzhou
  period: "2021"
  claims:
    - {item: gongxu.platform, hours: 10, topic: 党史学习教育}
  expect:
    totals: {hours: 10}
    passed: false
"""


def test_cases_prints_the_difference_and_the_count(tmp_path, capsys):
    path = tmp_path / "cases.yaml"
    path.write_text(CASES_WITH_ONE_WRONG_EXPECT, encoding="utf-8")
    code, out, err = run_cli(capsys, "cases", str(path))
    assert code == 1
    assert "Traceback" not in out + err
    lines = out.splitlines()
    assert "categories.gongxu: 期望 12，实际 10" in [line.strip() for line in lines]
    assert not any("zhuanye" in line for line in lines), "only what differs is printed"
    assert "期望写错了" in out
    assert lines[-1] == "1 passed, 1 failed"


def test_cases_counts_a_case_with_bad_input_as_failed_and_goes_on(tmp_path, capsys):
    path = tmp_path / "cases.yaml"
    path.write_text(
        '- {name: 坏输入, jurisdiction: guangzhou, period: "2019", claims: [{item: zhuanye.platform, hours: -1}],'
        ' expect: {totals: {hours: 0}}}\n'
        '- {name: 好案例, jurisdiction: guangzhou, period: "2019", claims: [{item: zhuanye.platform, hours: 1}],'
        ' expect: {totals: {hours: 1}}}\n', encoding="utf-8")
    code, out, err = run_cli(capsys, "cases", str(path))
    assert code == 1
    assert "Traceback" not in out + err
    assert "第1条记录" in out and "字段 hours" in out
    assert out.splitlines()[-1] == "1 passed, 1 failed"


def test_cases_all_passing_exit_0(tmp_path, capsys):
    path = tmp_path / "cases.yaml"
    path.write_text(CASES_WITH_ONE_WRONG_EXPECT.split("- name: 期望正确")[0].replace("gongxu: 12", "gongxu: 10"),
                    encoding="utf-8")
    code, out, err = run_cli(capsys, "cases", str(path))
    assert code == 0, out
    assert out.splitlines()[-1] == "1 passed, 0 failed"


def test_missing_file(tmp_path, capsys):
    code, out, err = run_cli(capsys, "assess", str(tmp_path / "nowhere.yaml"), "--json")
    line = assert_one_line_error(code, out, err, case=None)
    assert "nowhere.yaml" in line


# -- the real console script ------------------------------------------------------------------

def jijiao_executable() -> str:
    found = shutil.which("jijiao")
    if found:
        return found
    candidate = Path(sys.executable).parent / "jijiao"
    assert candidate.exists(), "the jijiao console script is not installed next to the interpreter"
    return str(candidate)


def run_script(*argv, cwd) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("JIJIAO_DISABLE_PLUGINS", None)
    env["PYTHONIOENCODING"] = "utf-8"
    return subprocess.run([jijiao_executable(), *argv], capture_output=True, text=True, encoding="utf-8",
                          cwd=cwd, env=env, timeout=120)


@pytest.mark.parametrize("bad, field", [
    pytest.param("{item: zhuanye.platform, hours: NaN}", "hours", id="nan"),
    pytest.param("{item: zhuanye.platform, hours: abc}", "hours", id="abc"),
    pytest.param("{item: zhuanye.platform, hours: 3, colour: red}", "colour", id="unknown-key"),
])
def test_console_script_bad_input(tmp_path, bad, field):
    path = write_case(tmp_path, "guangzhou", bad)
    proc = run_script("assess", str(path), "--json", cwd=tmp_path)
    assert_one_line_error(proc.returncode, proc.stdout, proc.stderr, claim=2, field=field)


def test_console_script_full_width_digits(tmp_path):
    path = write_case(tmp_path, "guangzhou", claims="\n    - {item: zhuanye.platform, hours: \"１２\"}")
    proc = run_script("assess", str(path), "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)[0]["totals"] == {"hours": 12}


def test_console_script_unquoted_impossible_date(tmp_path):
    path = write_case(tmp_path, "jining",
                      "{item: peixun.training, credits: 3, started_on: 2025-13-01, ended_on: 2025-05-01}")
    proc = run_script("assess", str(path), "--json", cwd=tmp_path)
    line = assert_one_line_error(proc.returncode, proc.stdout, proc.stderr, case=None)
    assert_names_the_date(line, path, "started_on")


def test_console_script_cases(tmp_path):
    path = tmp_path / "cases.yaml"
    path.write_text(CASES_WITH_ONE_WRONG_EXPECT, encoding="utf-8")
    proc = run_script("cases", str(path), cwd=tmp_path)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "categories.gongxu: 期望 12，实际 10" in proc.stdout
    assert proc.stdout.splitlines()[-1] == "1 passed, 1 failed"
