"""Hostile or broken input never takes a command down (the issue's list): each crafted file gives
one Chinese line and exit 2 (or a named failure in ``plugins check``), within bounded memory."""

from __future__ import annotations

import resource
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

import pytest

from core.declarative import DeclarativePlugin
from core.facts import Teacher
from core.hookspecs import hookimpl
from core.plugins import load_registry
from core.types import Calculator

from .test_bad_input import CASE_NAME, assert_one_line_error, run_cli, write_case
from .test_plugin_data import make_plugin


def bomb(levels: int) -> str:
    """A billion-laughs document: ``levels`` anchors each aliasing the previous one nine times."""
    lines = ['&a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"&a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return "[" + ", ".join(lines) + f", *a{levels - 1}]"


@pytest.mark.parametrize("levels", [7, 9])
@pytest.mark.parametrize("where", ["name", "choice", "cycle_start"])
def test_alias_bomb_is_refused_in_bounded_memory(tmp_path, capsys, levels, where):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    payload = bomb(levels)
    if where == "name":
        path = write_case(tmp_path, "echeng", name=payload)
    elif where == "choice":
        path = write_case(tmp_path, "echeng", f"{{item: jizhong.training, hours: 3, level: {payload}}}")
    else:
        path = write_case(tmp_path, "zhengzhou", teacher=f"{{cycle_start: {payload}}}")
    code, out, err = run_cli(capsys, "assess", str(path))
    assert_one_line_error(code, out, err, case=None)
    assert "别名" in err
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000  # KiB


@pytest.mark.parametrize("text", ["[" * 250 + "]" * 250,
                                  "\n" + "".join("  " * (i + 2) + f"k{i}:\n" for i in range(10_000)) + "  " * 10_002 + "x"])
def test_deep_nesting_is_refused(tmp_path, capsys, text):
    path = write_case(tmp_path, "echeng", teacher=text)
    code, out, err = run_cli(capsys, "assess", str(path))
    assert_one_line_error(code, out, err, case=None)
    assert "嵌套层数" in err


def test_integer_of_5000_digits(tmp_path, capsys):
    path = write_case(tmp_path, "echeng", "{item: jizhong.training, hours: " + "9" * 5000 + ", level: county}")
    code, out, err = run_cli(capsys, "assess", str(path))
    assert_one_line_error(code, out, err, claim=2, field="hours")


@pytest.mark.parametrize("value", ["1:30", "010x", "0x10", "1_000", "0o17"])
def test_yaml_11_numbers_are_not_read_silently(tmp_path, capsys, value):
    path = write_case(tmp_path, "guangzhou", f"{{item: zhuanye.platform, hours: {value}}}")
    code, out, err = run_cli(capsys, "assess", str(path))
    assert_one_line_error(code, out, err, claim=2, field="hours")


def test_leading_zero_is_decimal_as_in_yaml_12(tmp_path, capsys):
    path = write_case(tmp_path, "guangzhou", "{item: zhuanye.platform, hours: 010}")
    code, out, err = run_cli(capsys, "assess", str(path), "--json")
    assert code == 0, err
    assert '"hours": 20' in out  # 10 + 10, not 10 + 8


@pytest.mark.parametrize("expect", ["{flags: 5}", "{reasons: 5}", "{carry_over: 5}"])
def test_malformed_expect_is_one_line(tmp_path, capsys, expect):
    path = write_case(tmp_path, "guangzhou")
    path.write_text(path.read_text(encoding="utf-8") + f"  expect: {expect}\n", encoding="utf-8")
    code, out, err = run_cli(capsys, "cases", str(path))
    assert_one_line_error(code, out, err, case=None)
    assert "expect." in err


# -- broken plugins --------------------------------------------------------------------------

class _StrHooks:
    @hookimpl
    def jijiao_catalogue(self):
        return "peixun.training"


class _Exiting:
    @hookimpl
    def jijiao_parameters(self):
        sys.exit(0)


def test_hook_returning_a_str_names_the_plugin_and_the_others_keep_working(tmp_path):
    registry = load_registry(disabled=set(), extra={"broken": _StrHooks(), "exiting": _Exiting()})
    reasons = {f.plugin: f.reason for f in registry.failures}
    assert "jijiao_catalogue" in reasons["broken"] and "str" in reasons["broken"]
    assert "sys.exit" in reasons["exiting"]
    assert "guangzhou" in registry.codes()
    assert {p.plugin for p in registry.check()} == {"broken", "exiting"}


def test_plugin_calling_sys_exit_at_import_is_a_named_failure(tmp_path):
    """Installed through an entry point, a module that calls sys.exit(0) at import must not make
    `plugins check` exit 0 with no output."""
    pkg = tmp_path / "exitplugin"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("import sys\nsys.exit(0)\n", encoding="utf-8")
    dist = tmp_path / "exitplugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: exitplugin\nVersion: 0.1\n", encoding="utf-8")
    (dist / "entry_points.txt").write_text("[jijiao.plugins]\nexiting = exitplugin\n", encoding="utf-8")
    import os
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    proc = subprocess.run([sys.executable, "-m", "core.cli", "plugins", "check"], capture_output=True, text=True,
                          env=env, timeout=120)
    assert proc.returncode == 1, proc
    assert "exiting" in proc.stdout and "sys.exit" in proc.stdout
    assert "✓ guangzhou" in proc.stdout


class _BadCalculator(DeclarativePlugin):
    @hookimpl
    def jijiao_calculators(self):
        yield Calculator("xcounty.bad", lambda inputs, params, context: "twelve")


def test_calculator_returning_a_str_is_named_with_its_line(tmp_path):
    catalogue = textwrap.dedent("""\
        items:
          peixun.training:
            name: 培训
            channel: declaration
            compute: {kind: custom, function: xcounty.bad}
        """)
    folder = make_plugin(tmp_path, catalogue=catalogue)
    registry = load_registry(entry_points=False, extra={"x": _BadCalculator(folder, "x")})
    assessor = registry.assessor("xcounty")
    from core.errors import PluginDataError
    with pytest.raises(PluginDataError) as info:
        assessor.assess("2025", Teacher(), assessor.parse_claims([{"item": "peixun.training"}]))
    assert "xcounty.bad" in str(info.value) and "str" in str(info.value)
    assert info.value.line == 5


def test_period_before_a_parameters_first_value_is_said(tmp_path):
    folder = make_plugin(tmp_path)
    registry = load_registry(entry_points=False, extra={"x": DeclarativePlugin(folder, "x")})
    assessor = registry.assessor("xcounty")
    assert assessor.earliest_day() == date(2025, 1, 1)
    result = assessor.assess("2020", Teacher(), [])
    assert any("2025-01-01" in a and "pass_total" in a for a in result.annotations), result.annotations
    assert not any("pass_total" in a for a in assessor.assess("2025", Teacher(), []).annotations)
