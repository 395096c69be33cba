"""Time of the reviewer's pages on a large table: every list, filter and search page of the
reviewer's queue and of the teacher roster, as whole HTTP requests through the Flask app (the
test client: routing, sign-in check, scoped session, queries, template), beside the time of the
SQL behind each request (``before/after_cursor_execute`` on the engine).

    python -m bench.pages                 # 2,000,000 claims (100,000 teachers) on PostgreSQL
    python -m bench.pages --quick         # 50,000 claims: a few minutes
    python -m bench.pages --claims 500000 --repeat 30

The data is ``bench.workflow``'s (a province → 广州市 → one district → 20 schools; every claim in
review at the district, the last level), so the district reviewer's queue holds EVERY claim: the
worst case for a queue page. Generated with COPY into a PostgreSQL schema of its own, dropped at
the end. Each page is requested ``--warmup`` times untimed, then ``--repeat`` times; the table
gives the median and p95 of the request and of its SQL, the number of statements, and whether
the page answered 200 with the rows expected; "app CPU" is the CPU time of this process per request
(Python: routing, ORM, template; the database server's own CPU is not in it), which does not grow
with the time spent waiting for a core on a busy machine. Target: median under 300 ms.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import statistics
import sys
import tempfile
import time

from sqlalchemy import event

from bench.workflow import (PG_DEFAULT, PG_ENV, Database, _cleanup, _cleanups, build_workflow_world, db_label,
                            fmt_int, log, make_platform)

DEFAULT_CLAIMS = 2_000_000
QUICK_CLAIMS = 50_000
TARGET_MS = 300.0
_TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


class SqlTimer:
    """Wall time spent inside the driver for each statement, summed per request."""

    def __init__(self, engine):
        self.total = 0.0
        self.statements = 0
        self._starts = []
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        self._starts.append(time.perf_counter())

    def _after(self, conn, cursor, statement, parameters, context, executemany):
        self.total += time.perf_counter() - self._starts.pop()
        self.statements += 1

    def reset(self):
        self.total, self.statements = 0.0, 0


def sign_in(app, username: str):
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = _TOKEN.search(page).group(1)
    response = client.post("/login", data={"username": username, "password": "secret", "csrf_token": token})
    if response.status_code != 302:
        raise SystemExit(f"sign-in as {username} failed ({response.status_code})")
    return client


def percentile(values, p: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def pages(w, teacher_name: str, id_number: str, claim_id: int):
    school = w.schools[3]
    return [
        ("待审核：列表（第1页）", "/review/", "jj-queue"),
        ("待审核：第2页", f"/review/?before={w.claims - 49}", "jj-queue"),
        ("待审核：中间一页", f"/review/?before={w.claims // 2}", "jj-queue"),
        ("筛选：学校", f"/review/?school={school.id}", "jj-queue"),
        ("筛选：项目", "/review/?item=gongxu.provincial", "jj-queue"),
        ("筛选：状态", "/review/?state=in_review", "jj-queue"),
        ("筛选：周期", "/review/?period=2019", "jj-queue"),
        ("筛选：学时范围", "/review/?amount_min=7&amount_max=8", "jj-queue"),
        ("筛选：日期范围", "/review/?date_from=2019-06-01&date_to=2019-06-30", "jj-queue"),
        ("筛选：组合", f"/review/?school={school.id}&item=zhuanye.self&amount_min=3", "jj-queue"),
        ("筛选：无结果（日期）", "/review/?date_from=2018-01-01&date_to=2018-01-31", "jj-queue"),
        ("筛选：无结果（周期）", "/review/?period=2018", "jj-queue"),
        ("筛选：无结果，下一段", f"/review/?period=2018&before={w.claims // 2}", "jj-queue"),
        ("搜索：编号", f"/review/?q={claim_id}", "jj-queue"),
        ("搜索：姓名", f"/review/?q={teacher_name}", "jj-queue"),
        ("搜索：身份证号", f"/review/?q={id_number}", "jj-queue"),
        ("记录详情", f"/review/claim/{claim_id}", "jj-history"),
        ("名册：列表", "/roster/", "jj-roster"),
        ("名册：中间一页", f"/roster/?before={w.teachers // 2}", "jj-roster"),
        ("名册：学校", f"/roster/?school={school.id}", "jj-roster"),
        ("名册：搜索姓名", f"/roster/?q={teacher_name}", "jj-roster"),
        ("名册：搜索身份证号", f"/roster/?q={id_number}", "jj-roster"),
    ]


def run(args) -> int:
    from admin import create_app
    from core.plugins import load_registry
    from core.workflow import WorkflowRegistry

    workdir = tempfile.mkdtemp(prefix="jijiao-bench-pages-")
    _cleanups.append(lambda: shutil.rmtree(workdir, ignore_errors=True))
    os.environ["JIJIAO_INSTANCE"] = workdir
    from core import jobs
    jobs.huey.immediate = False
    database = Database("postgresql", workdir, args.pg_url, label="pages")
    platform = make_platform(database.url, load_registry(), WorkflowRegistry())
    log(f"building {fmt_int(args.claims)} claims …")
    w = build_workflow_world(platform, args.claims)
    log(f"built in {w.setup['tree_s'] + w.setup['rows_s']:.0f} s; {fmt_int(w.teachers)} teachers")
    app = create_app({"JIJIAO_PLATFORM": platform, "SECRET_KEY": "bench", "TESTING": False,
                      "JIJIAO_UPLOAD_DIR": os.path.join(workdir, "evidence")})
    client = sign_in(app, "bench_reviewer")
    timer = SqlTimer(platform.engine)
    middle = w.teachers // 2
    teacher_name, id_number = f"教师{middle}", f"{middle:018d}"
    claim_id = w.claims // 2
    out = sys.stdout
    print(f"bench.pages: {fmt_int(w.claims)} claims, {fmt_int(w.teachers)} teachers, {len(w.schools)} schools; "
          f"{db_label(platform)}; every claim waits at the district reviewer (the whole table is the queue); "
          f"{args.warmup} warm-up + {args.repeat} timed requests per page (Flask test client, one process); "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs", file=out)
    header = (f"{'page':<22} {'request median':>15} {'p95':>8} {'SQL median':>11} {'p95':>8} {'app CPU':>8} "
              f"{'stmts':>6} {'rows':>5}  ok")
    print(header, file=out)
    print("-" * len(header), file=out)
    failures = 0
    for label, url, marker in pages(w, teacher_name, id_number, claim_id):
        requests, sqls, cpus = [], [], []
        status, rows, statements = None, 0, 0
        for i in range(args.warmup + args.repeat):
            timer.reset()
            started, cpu = time.perf_counter(), time.process_time()
            response = client.get(url)
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
            body = response.get_data(as_text=True)
            status = response.status_code
            rows = body.count('<tr>') - 1 if marker != "jj-history" else body.count("list-group-item small")
            statements = timer.statements
            if i >= args.warmup:
                requests.append(elapsed * 1000)
                sqls.append(timer.total * 1000)
                cpus.append(cpu * 1000)
        median = statistics.median(requests)
        good = status == 200 and marker in body and median < TARGET_MS
        failures += not good
        print(f"{label:<22} {median:>12.1f} ms {percentile(requests, 95):>5.1f} ms {statistics.median(sqls):>8.1f} ms "
              f"{percentile(sqls, 95):>5.1f} ms {statistics.median(cpus):>5.1f} ms {statements:>6} {rows:>5}  {'yes' if good else 'NO'}"
              + ("" if status == 200 else f" (HTTP {status})"), file=out, flush=True)
    print(f"load average at the end {os.getloadavg()[0]:.1f}", file=out)
    print(f"\npages under {TARGET_MS:.0f} ms median: {len(pages(w, '', '', 0)) - failures}/{len(pages(w, '', '', 0))}",
          file=out)
    if args.explain:
        explain(platform, w)
    return 0 if failures == 0 else 1


def explain(platform, w) -> None:
    """The plans of the queue's first page, plain and with a filter that matches nothing."""
    from core.services.review_jobs import QueueFilter, queue_select
    from datetime import date
    actor = w.reviewer
    from sqlalchemy import func, select
    from core.db.models import Claim
    from admin.views.review import SCAN_WINDOW
    for label, f, window in (("queue", QueueFilter(), False),
                             ("no match, one scan window", QueueFilter(period="2018"), True)):
        stmt = queue_select(actor, f).limit(51)
        if window:
            stmt = stmt.where(Claim.id >= w.claims - SCAN_WINDOW)
        sql = stmt.compile(platform.engine, compile_kwargs={"literal_binds": True})
        with platform.engine.connect() as connection:
            plan = connection.exec_driver_sql(f"EXPLAIN ANALYZE {sql}").scalars().all()
        print(f"\nEXPLAIN ANALYZE ({label}):\n  " + "\n  ".join(plan))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pages", description=__doc__.split("\n\n")[0])
    parser.add_argument("--claims", type=int, default=None,
                        help=f"claims (default {DEFAULT_CLAIMS:,}; --quick: {QUICK_CLAIMS:,})")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeat", type=int, default=None, help="timed requests per page (default 20; --quick 10)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--explain", action="store_true", help="print the plans of the queue's statements")
    parser.add_argument("--pg-url", default=os.environ.get(PG_ENV, PG_DEFAULT),
                        help=f"PostgreSQL server (a schema of its own is created and dropped; ${PG_ENV})")
    args = parser.parse_args(argv)
    if args.claims is None:
        args.claims = QUICK_CLAIMS if args.quick else DEFAULT_CLAIMS
    if args.repeat is None:
        args.repeat = 10 if args.quick else 20
    if args.claims < 1000 or args.repeat < 1:
        parser.error("--claims at least 1000, --repeat at least 1")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        return run(args)
    finally:
        _cleanup()


if __name__ == "__main__":
    sys.exit(main())
