"""``jijiao export`` and ``jijiao import``: summary sheets, statistics and documents out; a list of
registered hours in. Every export is audited (trigger ``export``). ``--as USERNAME`` acts as that
user (their scope); without it the command acts as the system."""

from __future__ import annotations

import os
import sys
from pathlib import Path


DEFAULT_BASE_URL = "http://localhost:5000"


def _platform_and_actor(args):
    from ..cli_db import _platform
    from ..db.scope import Actor
    platform = _platform(args)
    actor = Actor.system("命令行") if not args.as_user else platform.services(Actor.system()).org.actor_for(args.as_user)
    return platform, actor


def cmd_export_sheet(args) -> int:
    from .issue import audit_export
    from .summary import SummaryService
    platform, actor = _platform_and_actor(args)
    out = Path(args.output)
    services = platform.services(actor)
    sheets = SummaryService(services)  # a service session: the unit's ancestors name its jurisdiction
    if args.sheet == "summary":
        info = sheets.summary(args.school, args.period, out)
    else:
        info = sheets.statistics(args.school, args.period, out)
    audit_export(services, what=args.sheet, entity_type="org_node", entity_id=args.school,
                 scope_path=info.unit_path or "/", detail={"period": args.period, "rows": info.rows, "file": out.name})
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


def cmd_import_registrations(args) -> int:
    from ..exchange.registrations import import_list
    platform, actor = _platform_and_actor(args)
    report, errors = import_list(platform, actor, args.file, Path(args.file).name)
    if errors:
        print(f"导入未执行（全部或全不）：{len(errors)} 处错误", file=sys.stderr)
        for line in errors[:100]:
            print(f"  ✗ {line}", file=sys.stderr)
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
