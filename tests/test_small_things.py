"""The issue's "small things seen"."""

from __future__ import annotations

from core import cli
from core.plugins import PluginFailure, PluginInfo


def test_plugins_list_columns_align_with_long_distribution_names(capsys, monkeypatch):
    class Registry:
        failures = [PluginFailure("broken", "无法导入")]

        def plugins(self):
            return [PluginInfo("a", "jijiao-plugin-a-very-long-distribution-name", "10.20.30", ("a",)),
                    PluginInfo("bb", "short", "1", ("bb",))]
    monkeypatch.setattr(cli, "_registry", lambda: Registry())
    assert cli.main(["plugins", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len({line.index("地区") for line in lines[:2]}) == 1, lines
    assert lines[2].startswith("broken") and "加载失败" in lines[2]


def test_fixed_amount_explanation_shows_what_was_declared(tmp_path, capsys):
    path = tmp_path / "c.yaml"
    path.write_text("- name: x\n  jurisdiction: lengshuijiang\n  period: \"2023-2024\"\n  claims:\n"
                    "    - {item: teshu.songke, days: 2}\n", encoding="utf-8")
    assert cli.main(["assess", str(path)]) == 0
    assert "填写 days 2，计算 12学分" in capsys.readouterr().out


def test_jijiao_without_arguments_lists_the_commands(capsys):
    assert cli.main([]) == 2
    out = capsys.readouterr().out
    for command in ("assess", "cases", "plugins", "demo"):
        assert command in out


def test_demo_teachers_option_documents_its_minimum(capsys):
    try:
        cli.main(["demo", "--help"])
    except SystemExit:
        pass
    out = capsys.readouterr().out
    assert "--teachers" in out and "至少" in out and "--jurisdiction" in out
