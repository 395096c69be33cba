"""``jijiao export`` and ``jijiao import``: summary sheets, statistics and documents out; a list of
registered hours in. Every export is audited (trigger ``export``). ``--as USERNAME`` acts as that
user (their scope); without it the command acts as the system."""

from __future__ import annotations

import os
import sys
from decimal import Decimal
from pathlib import Path

from ..errors import InputError

DEFAULT_BASE_URL = "http://localhost:5000"


def _platform_and_actor(args):
    from ..cli_db import _platform
    from ..db.scope import Actor
    platform = _platform(args)
    actor = Actor.system("命令行") if not args.as_user else platform.services(Actor.system()).org.actor_for(args.as_user)
    return platform, actor


def _node_path(platform, node_id: int) -> str:
    from ..db.models import OrgNode
    from ..db.scope import Actor
    with platform.transaction(Actor.system()) as session:
        node = session.get(OrgNode, node_id)
        return node.path if node else "/"


def cmd_export_sheet(args) -> int:
    from .issue import audit_export
    from .summary import write_statistics, write_summary
    platform, actor = _platform_and_actor(args)
    out = Path(args.output)
    with platform.transaction(actor) as session:
        if args.sheet == "summary":
            info = write_summary(session, platform.registry, args.school, args.period, out)
        else:
            info = write_statistics(session, args.school, args.period, out)
    audit_export(platform.services(actor), what=args.sheet, entity_type="org_node", entity_id=args.school,
                 scope_path=_node_path(platform, args.school),
                 detail={"period": args.period, "rows": info.rows, "file": out.name})
    print(f"已导出「{info.title}」：{info.rows} 行 → {out}")
    return 0


def cmd_export_form(args) -> int:
    from .issue import DocumentService, audit_export
    platform, actor = _platform_and_actor(args)
    services = platform.services(actor)
    documents = DocumentService(services)
    document = documents.issue(args.teacher, args.kind, args.period)
    base_url = args.base_url or os.environ.get("JIJIAO_PUBLIC_URL") or DEFAULT_BASE_URL
    data = documents.pdf(document, base_url=base_url)
    out = Path(args.output)
    out.write_bytes(data)
    audit_export(services, what="pdf", entity_type="document", entity_id=document.id,
                 scope_path=document.scope_path, detail={"kind": document.kind, "file": out.name})
    number = f"，编号 {document.number}" if document.number else ""
    print(f"已出具「{document.payload['title']}」{number} → {out}")
    print(f"验证地址：{base_url.rstrip('/')}/verify/{document.code}")
    return 0


def registration_fields():
    from ..exchange.xlsx_in import Field
    return [Field("id_number", "身份证号", "id_number", required=True, aliases=("身份证号码", "公民身份号码")),
            Field("name", "姓名", "text", required=True, aliases=("教师姓名",)),
            Field("item", "项目代码", "text", required=True, aliases=("项目",)),
            Field("hours", "学时", "decimal", aliases=("登记学时", "认定学时")),
            Field("period", "考核年度", "text", aliases=("学年度", "年度")),
            Field("on", "日期", "date", aliases=("培训日期",))]


def read_registrations(platform, actor, path) -> tuple[list[dict], list[str]]:
    """Rows of a registration list mapped to teachers the actor sees; errors in Chinese."""
    from sqlalchemy import select

    from ..db.models import Teacher
    from ..exchange.xlsx_in import read_table
    result = read_table(path, registration_fields())
    errors = [str(e) for e in result.errors]
    numbers = sorted({r["id_number"] for r in result.rows})
    teachers = {}
    with platform.transaction(actor) as session:
        for start in range(0, len(numbers), 500):
            for t in session.execute(select(Teacher.id, Teacher.name, Teacher.id_number)
                                     .where(Teacher.id_number.in_(numbers[start:start + 500]))):
                teachers[t.id_number] = t
    items = []
    for row in result.rows:
        teacher = teachers.get(row["id_number"])
        if teacher is None:
            errors.append(f"第{row['_row']}行：找不到该身份证号的教师，或不在您的管辖范围内")
            continue
        if teacher.name != row["name"]:
            errors.append(f"第{row['_row']}行：姓名「{row['name']}」与平台登记的不一致")
            continue
        inputs = {}
        if row.get("hours") is not None:
            hours: Decimal = row["hours"]
            inputs["hours"] = int(hours) if hours == hours.to_integral_value() else float(hours)
        item = {"teacher_id": teacher.id, "item": row["item"], "inputs": inputs, "_row": row["_row"]}
        if row.get("period"):
            item["period"] = row["period"]
        if row.get("on"):
            item["on"] = row["on"].isoformat()
        items.append(item)
    return items, errors


def cmd_import_registrations(args) -> int:
    platform, actor = _platform_and_actor(args)
    items, errors = read_registrations(platform, actor, args.file)
    if errors:
        print(f"导入未执行（全部或全不）：{len(errors)} 处错误", file=sys.stderr)
        for line in errors[:100]:
            print(f"  ✗ {line}", file=sys.stderr)
        return 1
    if not items:
        raise InputError("表格中没有数据行")
    rows = [{k: v for k, v in item.items() if k != "_row"} for item in items]
    try:
        report = platform.services(actor).claims.import_registered(rows, source=Path(args.file).name)
    except InputError as exc:
        mapped = getattr(exc, "rows", None) or {}
        print(f"导入未执行（全部或全不）：{exc.message}", file=sys.stderr)
        for index, message in list(mapped.items())[:100]:
            print(f"  ✗ 第{items[index]['_row']}行：{message}", file=sys.stderr)
        return 1
    print(f"已登记 {report.claims} 条学时，涉及 {report.teachers} 名教师")
    return 0


def extend(sub) -> None:
    def common(parser):
        parser.add_argument("--database", metavar="URL", help="数据库（缺省：JIJIAO_DATABASE_URL 或 instance/jijiao.sqlite3）")
        parser.add_argument("--as", dest="as_user", metavar="用户名", help="以该用户的身份和管辖范围执行（缺省：系统）")

    export = sub.add_parser("export", help="导出学时汇总表、统计表、登记表或证书（每次导出都记入审计）")
    esub = export.add_subparsers(dest="export_command", metavar="子命令")
    for sheet, text in (("summary", "单位的学时汇总表（Excel）"), ("statistics", "单位及下属学校的合格率统计表（Excel）")):
        p = esub.add_parser(sheet, help=text)
        common(p)
        p.add_argument("--school", type=int, required=True, metavar="机构编号", help="学校或上级单位的编号")
        p.add_argument("--period", required=True, metavar="年度", help="考核年度，如 2019 或 2022-2023")
        p.add_argument("-o", "--output", required=True, metavar="文件.xlsx")
        p.set_defaults(func=cmd_export_sheet, sheet=sheet)
    p = esub.add_parser("form", help="出具教师的登记表或证书（PDF，带验证码）")
    common(p)
    p.add_argument("--teacher", type=int, required=True, metavar="教师编号")
    p.add_argument("--kind", default="registration_form", help="文书类型（插件 documents/documents.yaml 中声明）")
    p.add_argument("--period", metavar="年度", help="考核年度（按个人周期考核的地区可省略）")
    p.add_argument("--base-url", help="验证地址的网站根地址（缺省：JIJIAO_PUBLIC_URL）")
    p.add_argument("-o", "--output", required=True, metavar="文件.pdf")
    p.set_defaults(func=cmd_export_form)
    export.set_defaults(func=lambda args: (export.print_help(), 2)[1])

    imp = sub.add_parser("import", help="导入 Excel 名单")
    isub = imp.add_subparsers(dest="import_command", metavar="子命令")
    p = isub.add_parser("registrations", help="批量登记学时（列：身份证号、姓名、项目代码、学时、考核年度、日期；全部或全不）")
    common(p)
    p.add_argument("file", metavar="文件.xlsx")
    p.set_defaults(func=cmd_import_registrations)
    imp.set_defaults(func=lambda args: (imp.print_help(), 2)[1])
