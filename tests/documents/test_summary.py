"""Summary sheets (汇总表) and statistics from stored results: the plugin's columns, scope, layout."""

from __future__ import annotations

from datetime import date

import openpyxl
import pytest
from sqlalchemy import select

from core.db.models import AssessmentResult
from core.db.scope import Actor
from core.documents.summary import NotInScope, SummaryService, unit_statistics, write_summary
from core.errors import InputError


def sheet(platform, world, who, node, period, tmp_path):
    path = tmp_path / f"{who}-{node}.xlsx"
    # through the service (a service session: the unit's ancestors name its jurisdiction)
    services = platform.services(world.actors[who] if who != "system" else Actor.system())
    info = SummaryService(services).summary(world.nodes[node].id, period, path, today=date(2023, 11, 7))
    return info, openpyxl.load_workbook(path).active


def values(ws, row):
    return [c.value for c in ws[row]]


def test_echeng_summary_laid_out_like_the_attachment(world, platform, tmp_path):
    info, ws = sheet(platform, world, "ec_rev", "ec", "2022-2023", tmp_path)
    assert info.title == "2022-2023学年度鄂州市鄂城区中小学教师继续教育学时汇总表" and info.rows == 2
    assert ws["A1"].value == info.title and "A1:H1" in ws.merged_cells
    assert ws["A2"].value.startswith("单位：鄂城区（盖章）")
    assert values(ws, 3) == ["序号", "学校", "证书编号", "姓名", "任教学科", "集中培训学时", "非集中培训学时", "是否合格"]
    assert values(ws, 4) == [1, "长港小学", None, "陈老师", None, 40, 40, "是"]
    assert values(ws, 5) == [2, "鄂城一中", None, "刘老师", None, 10, 0, "否"]
    signoffs = [ws.cell(r, 1).value for r in range(6, ws.max_row + 1) if ws.cell(r, 1).value]
    assert [s for s in signoffs if s.endswith("意见：")] == [
        "学校登记与自查意见：", "中心学校审核认定（主城区学校、高中直报区局）意见：", "区教育局检查组检查验印意见："]
    assert ws.page_setup.orientation == "landscape" and ws.page_setup.paperSize == 9
    assert ws.print_title_rows == "$3:$3"


def test_scope_decides_what_is_in_the_sheet(world, platform, tmp_path):
    info, ws = sheet(platform, world, "yz_admin", "yz", "2022-2023", tmp_path)
    assert info.rows == 1 and values(ws, 4)[3] == "刘老师"
    with pytest.raises(NotInScope, match="不在您的管辖范围内"):
        sheet(platform, world, "yz_admin", "cgxx", "2022-2023", tmp_path)
    with pytest.raises(NotInScope):
        sheet(platform, world, "th_rev", "ec", "2022-2023", tmp_path)


def test_guangzhou_columns_masked_id_and_text(world, platform, tmp_path):
    info, ws = sheet(platform, world, "th_rev", "th", "2019", tmp_path)
    assert values(ws, 3) == ["序号", "学校（单位）", "姓名", "身份证号", "任教学科", "公需科目学时", "专业科目学时",
                             "总学时", "结转下一年度专业科目学时", "验证是否合格"]
    row = values(ws, 4)
    assert row[:3] == [1, "天河中学", "王老师"] and row[5:] == [0, 60, 60, 0, "否"]
    assert row[3] == world.teachers["wang"].id_number[:4] + "*" * 10 + world.teachers["wang"].id_number[-4:]
    assert ws["D4"].number_format == "@"
    assert values(ws, 5)[2:4] == ["李老师", values(ws, 5)[3]] and values(ws, 5)[5:] == [None, None, None, None, "无学时登记"]


def test_values_come_from_stored_results_not_recomputed(world, platform, tmp_path):
    with platform.transaction(Actor.system()) as s:
        result = s.scalars(select(AssessmentResult).where(
            AssessmentResult.teacher_id == world.teachers["liu"].id)).one()
        stored = dict(result.result)
        stored["categories"] = {"jizhong": 99, "feijizhong": 1}
        result.result, result.passed = stored, True
    _, ws = sheet(platform, world, "yz_admin", "yz", "2022-2023", tmp_path)
    assert values(ws, 4)[5:] == [99, 1, "是"]


def test_default_columns_and_bad_period(world, platform, tmp_path):
    with pytest.raises(InputError, match="格式不对"):
        sheet(platform, world, "ec_rev", "ec", "2023", tmp_path)
    with pytest.raises(InputError, match="不属于任何已配置的地区"):
        sheet(platform, world, "system", "hb", "2019", tmp_path)


def test_statistics_by_unit(world, platform):
    with platform.transaction(world.actors["ec_rev"]) as session:
        units, total = unit_statistics(session, world.nodes["ec"].id, "2022-2023")
    assert [(u.unit, u.teachers, u.registered, u.passed, u.failed, u.rate, u.below) for u in units] == [
        ("长港小学", 1, 1, 1, 0, 100, []), ("鄂城一中", 1, 1, 0, 1, 0, ["刘老师"])]
    assert (total.teachers, total.passed, total.failed, str(total.rate)) == (2, 1, 1, "50.0")


def test_a_page_session_cannot_read_past_scope_and_a_teacher_gets_no_sheet(world, platform, tmp_path):
    from core.db.scope import ScopeError
    with pytest.raises(ScopeError, match="skip_scope"):
        with platform.transaction(world.actors["ec_rev"]) as session:
            write_summary(session, platform.registry, world.nodes["ec"].id, "2022-2023", tmp_path / "x.xlsx")
    with pytest.raises(InputError, match="只有学校管理员"):
        SummaryService(platform.services(world.actors["wang"])).summary(world.nodes["thzx"].id, "2019",
                                                                        tmp_path / "y.xlsx")
