"""jijiao export summary|statistics|form and jijiao import registrations, each export audited."""

from __future__ import annotations

import openpyxl
from sqlalchemy import select

from core.cli import main
from core.db.models import AuditRecord, Claim
from core.db.scope import Actor


def test_export_summary_statistics_and_form(documents_world, platform, database_url, tmp_path, capsys):
    w = documents_world
    out = tmp_path / "汇总.xlsx"
    assert main(["export", "summary", "--database", database_url, "--as", "ec_rev", "--school", str(w.nodes["ec"].id),
                 "--period", "2022-2023", "-o", str(out)]) == 0
    assert "2 行" in capsys.readouterr().out
    assert openpyxl.load_workbook(out).active["D4"].value == "陈老师"
    assert main(["export", "statistics", "--database", database_url, "--school", str(w.nodes["ec"].id),
                 "--period", "2022-2023", "-o", str(tmp_path / "统计.xlsx")]) == 0
    pdf = tmp_path / "证书.pdf"
    assert main(["export", "form", "--database", database_url, "--as", "zzxx_admin", "--teacher",
                 str(w.teachers["zhou"].id), "--kind", "cycle_certificate", "-o", str(pdf),
                 "--base-url", "https://jj.example.cn"]) == 0
    printed = capsys.readouterr().out
    assert "河南省中小学教师继续教育登记证书" in printed and "https://jj.example.cn/verify/" in printed
    assert pdf.read_bytes().startswith(b"%PDF")
    # outside the user's scope: a Chinese error, exit code 2
    assert main(["export", "summary", "--database", database_url, "--as", "yz_admin", "--school",
                 str(w.nodes["cgxx"].id), "--period", "2022-2023", "-o", str(out)]) == 2
    assert "不在您的管辖范围内" in capsys.readouterr().err
    with platform.transaction(Actor.system()) as s:
        audited = s.execute(select(AuditRecord.actor_name, AuditRecord.detail).where(AuditRecord.trigger == "export")
                            .order_by(AuditRecord.seq)).all()
    assert [(a.actor_name, a.detail["what"]) for a in audited] == [
        ("ec_rev", "summary"), ("命令行", "statistics"), ("zzxx_admin", "pdf")]


def test_import_registrations_all_or_nothing(world, platform, database_url, tmp_path, capsys):
    wang, li = world.teachers["wang"], world.teachers["li"]
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["2019年度 教研活动登记表"])
    ws.append(["序号", "姓名", "身份证号", "项目代码", "学时", "考核年度"])
    ws.append([1, "王老师", wang.id_number, "zhuanye.research", 6, "2019"])
    ws.append([2, "李老师", li.id_number, "zhuanye.research", 4.5, "2019"])
    ws.append([3, "张老师", li.id_number, "zhuanye.research", 4, "2019"])
    path = tmp_path / "名单.xlsx"
    wb.save(path)
    assert main(["import", "registrations", "--database", database_url, "--as", "th_rev", str(path)]) == 1
    assert "第5行：姓名「张老师」与平台登记的不一致" in capsys.readouterr().err
    ws.delete_rows(5)
    wb.save(path)
    assert main(["import", "registrations", "--database", database_url, "--as", "th_rev", str(path)]) == 0
    assert "已登记 2 条学时，涉及 2 名教师" in capsys.readouterr().out
    with platform.transaction(Actor.system()) as s:
        before = s.scalar(select(Claim.id).order_by(Claim.id.desc()))
    assert main(["import", "registrations", "--database", database_url, "--as", "thzx_admin", str(path)]) == 1
    assert "第4行：找不到该身份证号的教师，或不在您的管辖范围内" in capsys.readouterr().err
    with platform.transaction(Actor.system()) as s:
        assert s.scalar(select(Claim.id).order_by(Claim.id.desc())) == before
