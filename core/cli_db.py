"""Command-line commands of the system of record: ``db``, ``demo``, ``worker``, ``audit``, ``jobs``.
The database is ``--database URL`` or ``JIJIAO_DATABASE_URL`` (default: a SQLite file in the
instance folder)."""

from __future__ import annotations

import sys

from .errors import JijiaoError


def _platform(args):
    from .services import Platform
    return Platform(args.database)


def cmd_db_upgrade(args) -> int:
    from .db.base import database_url
    from .db.migrate import current, upgrade
    url = database_url(args.database)
    upgrade(url, args.revision)
    print(f"数据库已升级到 {current(url)}（{_safe(url)}）")
    return 0


def cmd_db_current(args) -> int:
    from .db.base import database_url
    from .db.migrate import current
    url = database_url(args.database)
    print(current(url) or "（空数据库，请运行 jijiao db upgrade）")
    return 0


def cmd_audit_verify(args) -> int:
    from .audit import verify
    from .db.scope import Actor
    platform = _platform(args)
    with platform.transaction(Actor.system()) as session:
        report = verify(session)
    if report.ok:
        print(f"审计链完整：共 {report.records} 条记录，逐条校验通过")
        return 0
    print(f"审计链被破坏：共 {report.records} 条记录，发现 {len(report.problems)} 处问题")
    for problem in report.problems[:50]:
        print(f"  ✗ {problem}")
    return 1


def _min_teachers() -> int:
    try:
        from demo.province import MIN_TEACHERS
        return MIN_TEACHERS
    except Exception:  # noqa: BLE001 - help text only
        return 1


def cmd_demo(args) -> int:
    from .db.base import database_url
    from .db.migrate import upgrade
    from demo.province import build_demo
    url = database_url(args.database)
    upgrade(url)
    platform = _platform(args)
    if args.jurisdiction:  # any installed plugin, a third-party one included (demo/jurisdiction.py)
        from demo.jurisdiction import build_jurisdiction_demo
        print(build_jurisdiction_demo(platform, args.jurisdiction, progress=lambda m: print(m, flush=True)).describe())
        return 0
    summary = build_demo(platform, teachers=args.teachers, reset=args.reset, progress=lambda m: print(m, flush=True))
    print(summary.describe())
    return 0


def cmd_worker(args) -> int:
    from huey.consumer import Consumer

    from .jobs import huey
    print(f"后台任务进程启动（{type(huey).__name__}，{args.workers} 个工作线程）；Ctrl+C 退出", flush=True)
    Consumer(huey, workers=args.workers, worker_type="thread").run()
    return 0


def cmd_jobs(args) -> int:
    from sqlalchemy import select

    from .db.models import JobRecord
    from .db.scope import Actor
    platform = _platform(args)
    with platform.transaction(Actor.system()) as session:
        jobs = session.scalars(select(JobRecord).order_by(JobRecord.id.desc()).limit(args.limit)).all()
    states = {"queued": "排队中", "running": "进行中", "done": "已完成", "failed": "失败"}
    for job in jobs:
        share = f"{job.done}/{job.total}" if job.total else "—"
        bar = _bar(job.done, job.total)
        print(f"#{job.id:<5} {job.kind:<10} {states.get(job.state, job.state):<4} {bar} {share:<13} {job.message or ''}")
    if not jobs:
        print("没有后台任务")
    return 0


def _bar(done: int, total: int, width: int = 20) -> str:
    if not total:
        return " " * (width + 2)
    filled = int(width * done / total)
    return "[" + "█" * filled + "·" * (width - filled) + "]"


def _safe(url: str) -> str:
    from sqlalchemy.engine import make_url
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - only for display
        return url


def extend(sub) -> None:
    def database(parser):
        parser.add_argument("--database", metavar="URL", help="数据库（缺省：JIJIAO_DATABASE_URL 或 instance/jijiao.sqlite3）")

    db = sub.add_parser("db", help="数据库")
    dsub = db.add_subparsers(dest="db_command", metavar="子命令")
    p = dsub.add_parser("upgrade", help="按 Alembic 迁移升级数据库结构")
    database(p)
    p.add_argument("revision", nargs="?", default="head")
    p.set_defaults(func=cmd_db_upgrade)
    p = dsub.add_parser("current", help="当前数据库结构版本")
    database(p)
    p.set_defaults(func=cmd_db_current)
    db.set_defaults(func=lambda args: (db.print_help(), 2)[1])

    p = sub.add_parser("demo", help="建立演示省份（机构树、教师、各状态的申报、各角色账号）")
    database(p)
    p.add_argument("--teachers", type=int, default=20_000,
                   help="演示省份的教师人数（默认 20000，至少 MIN 名）".replace("MIN", str(_min_teachers())))
    p.add_argument("--jurisdiction", metavar="CODE",
                   help="只为这个地区（任何已安装的插件）建立小型演示：审核链、阶段时间、各状态的记录")
    p.add_argument("--reset", action="store_true", help="先清空数据库中的全部数据")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("worker", help="运行后台任务进程（Huey）")
    p.add_argument("--workers", type=int, default=2)
    p.set_defaults(func=cmd_worker)

    audit = sub.add_parser("audit", help="审计记录")
    asub = audit.add_subparsers(dest="audit_command", metavar="子命令")
    p = asub.add_parser("verify", help="逐条校验审计哈希链：被修改、删除或插入的记录都会被发现")
    database(p)
    p.set_defaults(func=cmd_audit_verify)
    audit.set_defaults(func=lambda args: (audit.print_help(), 2)[1])

    p = sub.add_parser("jobs", help="后台任务及其进度")
    database(p)
    p.add_argument("--limit", type=int, default=20)
    p.set_defaults(func=cmd_jobs)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(1)
