"""Where a notice can be read two ways, the plugin says which reading it takes (sentence and
reason), `jijiao plugins show` lists them, and an easily computed choice is a dated parameter."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.cli import main
from core.errors import PluginDataError
from core.plugin_data import load_plugin_folder
from core.plugins import load_registry

from .test_plugin_data import JURISDICTION, make_plugin

REGISTRY = load_registry(disabled=set())
KNOWN = {"wutongqiao": ("26000", "第一年"), "lengshuijiang": ("最高级别", "最高获奖级别", "45分钟"),
         "zhongshan": ("6月30日", "哪一学年"), "zhengzhou": ("第五个周年日",), "hainan": ("第2年", "周期起点")}


@pytest.mark.parametrize("code", sorted(KNOWN))
def test_plugins_show_lists_the_readings(code, capsys):
    assert main(["plugins", "show", code]) == 0
    out = capsys.readouterr().out
    assert "对通知的理解（可两读之处）" in out
    for word in KNOWN[code]:
        assert word in out, (code, word)
    for reading in REGISTRY.bundle(code).jurisdiction.readings:
        assert reading.notice in out and reading.reason in out


def test_xuexiqiangguo_reading_is_a_dated_parameter():
    from plugins.wutongqiao import xuexiqiangguo
    params = {"xuexiqiangguo": {"quarter_min": 2000, "quarter_hours": 5, "total_for_max": 26000, "max_hours": 20}}
    inputs = {"quarter_points": (2500, 0, 0, 0), "total_points": 30000}
    assert xuexiqiangguo(inputs, dict(params, xuexiqiangguo_total_reading="full"), None) == Decimal(20)
    assert xuexiqiangguo(inputs, dict(params, xuexiqiangguo_total_reading="ceiling"), None) == Decimal(5)
    default = REGISTRY.bundle("wutongqiao").parameters["xuexiqiangguo_total_reading"].values[0].value
    assert default == "full"


def test_reading_naming_an_undefined_parameter_is_refused(tmp_path):
    jurisdiction = JURISDICTION + ("readings:\n  - {topic: 甲, notice: 乙, reading: 丙, reason: 丁, "
                                   "parameter: no_such}\n")
    folder = make_plugin(tmp_path, jurisdiction=jurisdiction)
    with pytest.raises(PluginDataError) as info:
        load_plugin_folder(folder, "x")
    assert "no_such" in str(info.value) and info.value.line == len(jurisdiction.splitlines())


def test_show_says_next_year_in_chinese(capsys):
    main(["plugins", "show", "guangzhou"])
    out = capsys.readouterr().out
    assert "次年01-31" in out and "next" not in out
