"""Command-line commands of the system of record: ``db``, ``demo``, ``worker``, ``audit``, ``jobs``.
The database is ``--database URL`` or ``JIJIAO_DATABASE_URL`` (default: a SQLite file in the
instance folder)."""

from __future__ import annotations

import sys

from .errors import JijiaoError


def _platform(args):
    from .dbcheck import check_database
    from .services import Platform
    return Platform(check_database(args.database))


def cmd_db_upgrade(args) -> int:
    from .db.migrate import current, upgrade
    from .dbcheck import check_database
    url = check_database(args.database, migrated=False)
    upgrade(url, args.revision)
    print(f"数据库已升级到 {current(url)}（{_safe(url)}）")
    return 0


def cmd_db_current(args) -> int:
    from .db.migrate import current
    from .dbcheck import check_database
    url = check_database(args.database, migrated=False)
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


def _accounts_file(url: str):
    """Where the demo's account list is kept beside the database (to print it again on reuse)."""
    from .db.base import instance_dir
    import hashlib
    return instance_dir() / f"demo-accounts-{hashlib.sha1(url.encode()).hexdigest()[:10]}.json"


def _min_teachers() -> int:
    try:
        from demo.province import MIN_TEACHERS
        return MIN_TEACHERS
    except Exception:  # noqa: BLE001 - help text only
        return 1


def cmd_demo(args) -> int:
    import json
    from dataclasses import asdict

    from .db.migrate import upgrade
    from .dbcheck import check_database
    from demo.province import DemoAccount, build_demo
    url = check_database(args.database, migrated=False)
    upgrade(url)
    platform = _platform(args)
    if args.jurisdiction:  # any installed plugin, a third-party one included (demo/jurisdiction.py)
        from demo.jurisdiction import build_jurisdiction_demo
        print(build_jurisdiction_demo(platform, args.jurisdiction, progress=lambda m: print(m, flush=True)).describe())
        return 0
    accounts = _accounts_file(url)
    if args.if_missing and not args.reset and _has_teachers(platform):
        print(f"演示数据已存在，直接使用（{_safe(url)}）；要重建请运行 jijiao demo --reset")
        if accounts.exists():
            print(_describe_accounts([DemoAccount(**a) for a in json.loads(accounts.read_text())]))
        return 0
    summary = build_demo(platform, teachers=args.teachers, reset=args.reset, progress=lambda m: print(m, flush=True))
    accounts.write_text(json.dumps([asdict(a) for a in summary.accounts], ensure_ascii=False, indent=1))
    print(summary.describe())
    return 0


def _has_teachers(platform) -> bool:
    from sqlalchemy import select

    from .db.models import Teacher
    from .db.scope import Actor
    with platform.transaction(Actor.system()) as session:
        return session.scalar(select(Teacher.id).limit(1)) is not None


def _describe_accounts(accounts) -> str:
    from demo.province import ROLE_NAMES
    lines = ["演示账号（密码仅供演示，任何正式环境都不得使用）："]
    width = max((len(a.username) for a in accounts), default=8)
    for a in accounts:
        where = a.node if len(a.node) <= 40 else a.node[:38] + "…"
        note = f"  {a.note}" if a.note else ""
        lines.append(f"  {a.username:<{width}}  {a.password:<9} {ROLE_NAMES.get(a.role, a.role)}  {where}{note}")
    return "\n".join(lines)


def cmd_serve(args) -> int:
    import os

    from waitress import serve

    from admin import create_app
    from .dbcheck import check_database
    url = check_database(args.database)
    port = args.port or int(os.environ.get("PORT", "5000"))
    app = create_app({"JIJIAO_DATABASE_URL": url})
    accounts = _accounts_file(url)
    print(f"继教平台已启动：http://{args.host}:{port}/ （数据库 {_safe(url)}；Ctrl+C 停止）", flush=True)
    if accounts.exists():
        import json

        from demo.province import DemoAccount
        print(_describe_accounts([DemoAccount(**a) for a in json.loads(accounts.read_text())]), flush=True)
    if not args.no_worker:
        _start_worker_threads()
    serve(app, host=args.host, port=port, threads=args.threads, ident="jijiao")
    return 0


def _start_worker_threads(workers: int = 2) -> None:
    """Run the background-job consumer in this process (threads), for a one-command demo or a
    small school server. Production runs ``jijiao worker`` apart and ``serve --no-worker``."""
    import signal

    from huey.consumer import Consumer

    from .jobs import huey
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    Consumer(huey, workers=workers, worker_type="thread").start()
    for sig, handler in saved.items():  # Ctrl+C stops the server as usual
        signal.signal(sig, handler)
    print(f"后台任务在本进程中运行（{workers} 个线程）；生产环境请另行运行 jijiao worker 并使用 --no-worker", flush=True)


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
    p.add_argument("--if-missing", action="store_true", help="数据库里已有演示数据时直接使用，不重建")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("serve", help="启动网页平台（生产级 WSGI 服务器 waitress）")
    database(p)
    p.add_argument("--host", default="127.0.0.1", help="监听地址（缺省 127.0.0.1；对外服务请用 0.0.0.0 并置于反向代理之后）")
    p.add_argument("--port", type=int, default=None, help="端口（缺省：环境变量 PORT，否则 5000）")
    p.add_argument("--threads", type=int, default=8)
    p.add_argument("--no-worker", action="store_true", help="不在本进程中运行后台任务（另行运行 jijiao worker）")
    p.set_defaults(func=cmd_serve)

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
