"""Throughput of the system of record (claims moving through the workflow, the audit chain, batch
registration, assessment recomputation) against the same work written as raw SQL, on SQLite and
PostgreSQL.

    python -m bench.workflow                       # 1,000,000 claims on SQLite and PostgreSQL, plus
                                                   # recomputing 1,000,000 teachers / 20,000,000 claims (PostgreSQL)
    python -m bench.workflow --quick               # 20,000 claims, 10,000 teachers recomputed: under a minute
    python -m bench.workflow --db sqlite --claims 200000
    python -m bench.workflow --quick --profile     # plus cProfile of the service paths

Every figure is printed next to a floor measured in the same run on the same data (the raw SQL
version of the same writes, reset between runs): ratios, not timed unit tests. Nothing is
asserted except that each path did the work (every claim moved, every row written).

The data: a province → 广州市 (guangzhou) → 天河区 → 20 schools, ``--claims / 20`` teachers with 20
claims each (公需 and 专业 declarations), every claim ``in_review`` at the LAST review level (the
district), so that one district reviewer's approval REGISTERS it: the full path (guarded update,
``registered_at``, audit record, the teachers' assessments refreshed), and one actor can approve
all of them in one bulk call. Rows are generated in bulk (executemany on SQLite, COPY or
INSERT … SELECT generate_series on PostgreSQL); the tree and the users go through the services.
"""

from __future__ import annotations

import argparse
import atexit
import cProfile
import gc
import hashlib
import io
import json
import math
import os
import platform as pyplatform
import pstats
import shutil
import signal
import sys
import tempfile
import time
import tracemalloc
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from types import SimpleNamespace
from urllib.parse import quote

DEFAULT_CLAIMS = 1_000_000
QUICK_CLAIMS = 20_000
CLAIMS_PER_TEACHER = 20
SCHOOLS = 20
DEFAULT_SINGLES = 2_000
QUICK_SINGLES = 100
DEFAULT_RECOMPUTE_TEACHERS = 1_000_000
QUICK_RECOMPUTE_TEACHERS = 2_000
RECOMPUTE_TEACHERS_PER_SCHOOL = 2_000
ENGINE_SIZES = (10_000, 100_000)
PARTS = ("engine", "bulk", "single", "import", "recompute")
PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"
PG_ENV = "JIJIAO_BENCH_PG_URL"
CLOCK = datetime(2019, 6, 1, 12, tzinfo=timezone.utc)  # inside every 2019 window of guangzhou
CHUNK = 5000

TARGET_BULK = 3.0       # service at least 1/3 of the raw rate
TARGET_SINGLE = 1000.0  # transitions per second
TARGET_IMPORT = 5.0     # within 5x of raw bulk insert
TARGET_RECOMPUTE = 60.0  # seconds for 1,000,000 teachers
TARGET_ENGINE_BYTES = 1024
TARGET_ENGINE_SCALING = 1.5

TOPICS = ("师德师风", "依法执教", "心理健康", "信息技术")
KINDS = ("远程研修", "教研活动", "培训进修", "学历教育", "实践活动", "担任培训者", "学术会议", "科研成果", "其他")

CLAIM_COLUMNS = ("id", "teacher_id", "jurisdiction", "item_code", "period_key", "on_date", "inputs", "amount_milli",
                 "explanation", "workflow", "state", "version", "level", "review_chain", "reviewer_node_id",
                 "home_school_id", "dedup_key", "project_id", "reason", "scope_path", "created_by", "created_at",
                 "updated_at", "registered_at")
TEACHER_COLUMNS = ("id", "name", "id_number", "home_school_id", "jurisdiction", "scope_path", "active", "new_teacher")
AUDIT_COLUMNS = ("seq", "at", "actor_id", "actor_name", "role", "node_id", "entity_type", "entity_id", "trigger",
                 "from_state", "to_state", "reason", "request_id", "detail", "scope_path", "prev_hash", "hash")

_cleanups: list = []


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def fmt_int(n) -> str:
    return f"{n:,.0f}"


# -- databases -----------------------------------------------------------------------------------
def _pg_driver_url(url: str) -> str:
    return "postgresql+psycopg://" + url.split("://", 1)[1] if url.startswith("postgresql://") else url


class Database:
    """A fresh database: a SQLite file in a temporary folder, or a PostgreSQL schema of its own
    (``bench_<uuid>``, dropped at the end)."""

    def __init__(self, kind: str, workdir: str, pg_base: str, label: str = "wf"):
        self.kind = kind
        self.schema = None
        if kind == "sqlite":
            self.url = f"sqlite:///{os.path.join(workdir, f'bench-{label}.sqlite3')}"
        else:
            from sqlalchemy import create_engine
            self.schema = f"bench_{uuid.uuid4().hex[:12]}_{label}"
            self._admin = create_engine(_pg_driver_url(pg_base))
            with self._admin.begin() as connection:
                connection.exec_driver_sql(f'CREATE SCHEMA "{self.schema}"')
            _cleanups.append(self.drop)
            separator = "&" if "?" in pg_base else "?"
            self.url = f"{pg_base}{separator}options={quote(f'-csearch_path={self.schema}')}"

    def drop(self) -> None:
        if self.schema is None:
            return
        schema, self.schema = self.schema, None
        try:
            with self._admin.begin() as connection:
                connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            self._admin.dispose()
            log(f"dropped schema {schema}")
        except Exception as exc:  # noqa: BLE001 - report, never hide
            log(f"could not drop schema {schema}: {exc}")


def is_pg(platform) -> bool:
    return platform.engine.dialect.name == "postgresql"


def db_label(platform) -> str:
    with platform.engine.connect() as connection:
        if is_pg(platform):
            version = connection.exec_driver_sql("SHOW server_version").scalar()
            return f"PostgreSQL {version.split()[0]} (psycopg 3, COPY for bulk rows)"
        version = connection.exec_driver_sql("select sqlite_version()").scalar()
        return f"SQLite {version} (file, WAL, synchronous=FULL)"


def sql_value(value, pg: bool):
    """A Python value as the driver takes it for a raw statement (as SQLAlchemy would store it)."""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, datetime) and not pg:
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc)
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date) and not isinstance(value, datetime) and not pg:
        return value.isoformat()
    return value


@dataclass
class Raw:
    """A raw DBAPI connection of the platform's engine (the same pragmas/settings as the services)."""

    platform: object
    fairy: object = None

    def __enter__(self):
        self.fairy = self.platform.engine.raw_connection()
        self.pg = is_pg(self.platform)
        self.con = self.fairy.driver_connection
        return self

    def __exit__(self, *exc):
        if self.pg and exc[0] is not None:
            self.con.rollback()
        self.fairy.close()

    def begin(self, cur):
        if not self.pg:
            cur.execute("BEGIN IMMEDIATE")

    def commit(self, cur):
        if self.pg:
            self.con.commit()
        else:
            cur.execute("COMMIT")

    def q(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.pg else sql


def bulk_rows(platform, table: str, columns, rows, *, raw: Raw | None = None, cur=None) -> int:
    """Insert tuples: COPY on PostgreSQL, executemany on SQLite. In the caller's transaction when
    ``cur`` is given, else in one transaction of its own."""
    own = cur is None
    if own:
        raw = Raw(platform).__enter__()
        cur = raw.con.cursor()
        raw.begin(cur)
    count = 0
    try:
        names = ", ".join(f'"{c}"' for c in columns)
        if raw.pg:
            with cur.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
                    count += 1
        else:
            marks = ", ".join("?" for _ in columns)
            batch = []
            for row in rows:
                batch.append(row)
                if len(batch) >= 50_000:
                    cur.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", batch)
                    count += len(batch)
                    batch = []
            if batch:
                cur.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", batch)
                count += len(batch)
        if own:
            raw.commit(cur)
    finally:
        if own:
            raw.__exit__(None, None, None)
    return count


def vacuum(platform, *tables) -> None:
    """Untimed housekeeping between runs, so that every timed run starts from the same state."""
    if is_pg(platform):
        with platform.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            for table in tables:
                connection.exec_driver_sql(f"VACUUM ANALYZE {table}")
    else:
        fairy = platform.engine.raw_connection()  # outside SQLAlchemy's BEGIN IMMEDIATE
        try:
            fairy.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        finally:
            fairy.close()


class IndexesOff:
    """PostgreSQL data generation: drop a table's secondary indexes and unique constraints, skip FK
    triggers (``session_replication_role = replica``), and rebuild exactly the same definitions
    afterwards. Untimed; the schema the benchmark runs on is the migrated one."""

    def __init__(self, connection, table: str):
        self.c, self.table = connection, table

    def __enter__(self):
        c = self.c
        self.constraints = c.exec_driver_sql(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            f"WHERE conrelid = '{self.table}'::regclass AND contype = 'u'").all()
        self.indexes = c.exec_driver_sql(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = current_schema() "
            f"AND i.tablename = '{self.table}' AND i.indexname NOT IN (SELECT conname FROM pg_constraint "
            f"WHERE conrelid = '{self.table}'::regclass)").all()
        for name, _ in self.constraints:
            c.exec_driver_sql(f'ALTER TABLE {self.table} DROP CONSTRAINT "{name}"')
        for name, _ in self.indexes:
            c.exec_driver_sql(f'DROP INDEX "{name}"')
        c.exec_driver_sql("SET session_replication_role = replica")
        return self

    def __exit__(self, *exc):
        c = self.c
        c.exec_driver_sql("SET session_replication_role = DEFAULT")
        c.exec_driver_sql("SET maintenance_work_mem = '1GB'")
        for name, definition in self.constraints:
            c.exec_driver_sql(f'ALTER TABLE {self.table} ADD CONSTRAINT "{name}" {definition}')
        for _name, definition in self.indexes:
            c.exec_driver_sql(definition)
        c.exec_driver_sql("RESET maintenance_work_mem")


# -- the world -----------------------------------------------------------------------------------
@dataclass
class World:
    platform: object
    province: object
    city: object
    district: object
    schools: list
    reviewer: object
    organiser: object
    teachers: int = 0
    claims: int = 0
    base_seq: int = 0
    base_hash: str = ""
    setup: dict = field(default_factory=dict)


def make_platform(url: str, registry, workflows):
    from core.db.migrate import upgrade
    from core.services import Platform
    upgrade(url)
    return Platform(url, registry=registry, workflows=workflows, clock=lambda: CLOCK)


def build_tree(platform, schools: int, districts: int = 1):
    from core.db.scope import Actor
    org = platform.services(Actor.system()).org
    province = org.add_node(None, "province", "广东省")
    city = org.add_node(province.id, "city", "广州市", jurisdiction="guangzhou")
    district_nodes = [org.add_node(city.id, "district", f"第{d + 1}区") for d in range(districts)]
    school_nodes = [org.add_node(district_nodes[s % districts].id, "school", f"第{s + 1}中学")
                    for s in range(schools)]
    return org, province, city, district_nodes, school_nodes


def audit_head(platform):
    from sqlalchemy import text
    with platform.engine.connect() as connection:
        return tuple(connection.execute(text("SELECT seq, hash FROM audit_head WHERE id = 1")).one())


def teacher_rows(world_schools, n_teachers: int, pg: bool):
    for t in range(n_teachers):
        school = world_schools[t % len(world_schools)]
        yield (t + 1, f"教师{t + 1}", f"{t + 1:018d}", school.id, "guangzhou", school.path, True, False)


def workflow_claim(i: int, schools, district_id: int, pg: bool, now):
    """Claim number ``i`` (0-based, teacher-major: a teacher's 20 claims are consecutive ids), in
    review at the district, the last level of guangzhou's two."""
    t = i // CLAIMS_PER_TEACHER
    k = i % CLAIMS_PER_TEACHER
    school = schools[t % len(schools)]
    hours = 1000 * (1 + (i * 7) % 8)
    if k < 3:
        item, inputs = "gongxu.provincial", {"hours": hours, "topic": TOPICS[(t + k) % len(TOPICS)]}
    else:
        item, inputs = "zhuanye.self", {"hours": hours, "kind": KINDS[k % len(KINDS)]}
    explanation = {"amount_milli": hours, "computed": {"hours": str(hours // 1000)},
                   "declared": {"hours": str(hours // 1000)}, "notes": []}
    values = (i + 1, t + 1, "guangzhou", item, "2019", None, inputs, hours, explanation, "declaration", "in_review",
              3, 1, [school.id, district_id], district_id, school.id, f"sum:{hashlib.sha1(str(i).encode()).hexdigest()}",
              None, None, school.path, None, now, now, None)
    return tuple(sql_value(v, pg) for v in values)


def build_workflow_world(platform, n_claims: int) -> World:
    started = time.perf_counter()
    org, province, city, districts, schools = build_tree(platform, SCHOOLS)
    district = districts[0]
    org.add_user("bench_reviewer", "天河区教育局审核员", "secret", [("reviewer", district.id, None)])
    org.add_user("bench_organiser", "广州市教师培训中心", "secret", [("organiser", city.id, None)])
    w = World(platform, province, city, district, schools, org.actor_for("bench_reviewer"),
              org.actor_for("bench_organiser"))
    pg = is_pg(platform)
    w.teachers = math.ceil(n_claims / CLAIMS_PER_TEACHER)
    w.claims = n_claims
    now = sql_value(CLOCK, pg)
    tree_s = time.perf_counter() - started
    t0 = time.perf_counter()
    if pg:
        with platform.engine.begin() as connection:
            for table in ("teachers", "claims"):
                with IndexesOff(connection, table):
                    if table == "teachers":
                        rows = teacher_rows(schools, w.teachers, pg)
                    else:
                        rows = (workflow_claim(i, schools, district.id, pg, now) for i in range(n_claims))
                    raw = connection.connection.driver_connection
                    names = ", ".join(f'"{c}"' for c in (TEACHER_COLUMNS if table == "teachers" else CLAIM_COLUMNS))
                    with raw.cursor() as cur, cur.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row(row)
            for table in ("teachers", "claims"):
                connection.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        vacuum(platform, "teachers", "claims")
    else:
        bulk_rows(platform, "teachers", TEACHER_COLUMNS, teacher_rows(schools, w.teachers, pg))
        bulk_rows(platform, "claims", CLAIM_COLUMNS,
                  (workflow_claim(i, schools, district.id, pg, now) for i in range(n_claims)))
        vacuum(platform)
    w.base_seq, w.base_hash = audit_head(platform)
    w.setup = {"tree_s": tree_s, "rows_s": time.perf_counter() - t0}
    return w


def reset(w: World, *, imported: bool = False) -> None:
    """Back to the generated state: every claim in review at the district, no audit record after
    the setup's, no assessment, no job; imported claims deleted. Untimed."""
    from sqlalchemy import text
    platform = w.platform
    with platform.engine.begin() as connection:
        if imported:
            connection.execute(text("DELETE FROM claims WHERE id > :n"), {"n": w.claims})
        connection.execute(text(
            "UPDATE claims SET state = 'in_review', version = 3, level = 1, reviewer_node_id = :d, "
            "registered_at = NULL, updated_at = created_at, reason = NULL "
            "WHERE id <= :n AND (state <> 'in_review' OR version <> 3)"), {"d": w.district.id, "n": w.claims})
        connection.execute(text("DELETE FROM audit_records WHERE seq > :seq"), {"seq": w.base_seq})
        connection.execute(text("UPDATE audit_head SET seq = :seq, hash = :hash WHERE id = 1"),
                           {"seq": w.base_seq, "hash": w.base_hash})
        connection.execute(text("DELETE FROM assessment_results"))
        connection.execute(text("DELETE FROM jobs"))
    vacuum(platform, "claims", "audit_records", "assessment_results")


def verify_chain(platform) -> None:
    from core.audit import verify
    from core.db.scope import Actor
    with platform.transaction(Actor.system()) as session:
        report = verify(session)
    if not report.ok:
        raise SystemExit(f"audit chain broken: {report.problems[:5]}")
    log(f"audit chain verified: {fmt_int(report.records)} records")


def count(platform, sql: str, **params) -> int:
    from sqlalchemy import text
    with platform.engine.connect() as connection:
        return connection.execute(text(sql), params).scalar()


# -- results -------------------------------------------------------------------------------------
@dataclass
class Result:
    operation: str
    n: int
    seconds: float
    raw_seconds: float | None = None
    target: str = ""
    ok: bool | None = None  # None: information only
    note: str = ""
    generation: float | None = None  # seconds to generate the data (untimed), where reported
    size: str | None = None

    @property
    def rate(self) -> float:
        return self.n / self.seconds if self.seconds else float("inf")

    @property
    def raw_rate(self) -> float | None:
        return self.n / self.raw_seconds if self.raw_seconds else None

    @property
    def ratio(self) -> float | None:
        return self.raw_rate / self.rate if self.raw_rate else None


def print_table(title: str, results: list[Result], out) -> None:
    header = ("operation", "N", "seconds", "rate/s", "raw rate/s", "ratio", "target", "result")
    rows = []
    for r in results:
        rows.append((r.operation, fmt_int(r.n), f"{r.seconds:.2f}", fmt_int(r.rate),
                     fmt_int(r.raw_rate) if r.raw_rate else "—",
                     f"{r.ratio:.2f}x" if r.ratio else "—", r.target,
                     "info" if r.ok is None else ("pass" if r.ok else "FAIL")))
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    print(f"\n{title}", file=out)
    line = "  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(header, widths)))
    print(line, file=out)
    print("-" * len(line), file=out)
    for row in rows:
        print("  ".join(str(x).ljust(w) if i == 0 else str(x).rjust(w)
                        for i, (x, w) in enumerate(zip(row, widths))), file=out)
    out.flush()


# -- 1. bulk approval --------------------------------------------------------------------------
def approval_audit_rows(w: World, ids, *, trigger="approve", from_state="in_review", to_state="registered",
                        actor=None, detail=None, paths=None):
    """The audit rows the service would write, chained from the setup's head (precomputed: the
    raw baseline does not pay for hashing)."""
    from core.audit import link
    actor = actor or w.reviewer
    pg = is_pg(w.platform)
    at = sql_value(CLOCK, pg)
    request_id = uuid.uuid4().hex
    prev = w.base_hash
    seq = w.base_seq
    rows = []
    schools = w.schools
    for claim_id in ids:
        seq += 1
        if paths is not None:
            path = paths[claim_id]
        else:
            path = schools[((claim_id - 1) // CLAIMS_PER_TEACHER) % len(schools)].path
        row = {"seq": seq, "at": CLOCK, "actor_id": actor.user_id, "actor_name": actor.name, "role": actor.role,
               "node_id": actor.node_id, "entity_type": "claim", "entity_id": claim_id, "trigger": trigger,
               "from_state": from_state, "to_state": to_state, "reason": None, "request_id": request_id,
               "detail": detail, "scope_path": path}
        row["prev_hash"] = prev
        row["hash"] = prev = link(prev, row)
        rows.append((seq, at, actor.user_id, actor.name, actor.role, actor.node_id, "claim", claim_id, trigger,
                     from_state, to_state, None, request_id, sql_value(detail, pg) if detail else None, path,
                     row["prev_hash"], row["hash"]))
    return rows


def raw_bulk_approve(w: World, ids, audit_rows, *, copy: bool) -> float:
    """UPDATE … WHERE id IN (chunk) for every chunk, INSERT (executemany, or COPY) the audit rows,
    move the audit head: one transaction."""
    now = sql_value(CLOCK, is_pg(w.platform))
    with Raw(w.platform) as raw:
        cur = raw.con.cursor()
        gc.collect()
        start = time.perf_counter()
        raw.begin(cur)
        moved = 0
        for i in range(0, len(ids), CHUNK):
            chunk = ids[i:i + CHUNK]
            if raw.pg:
                cur.execute("UPDATE claims SET state = 'registered', version = version + 1, reviewer_node_id = NULL, "
                            "registered_at = %s, updated_at = %s WHERE id = ANY(%s) AND state = 'in_review' "
                            "AND level = 1", (now, now, chunk))
            else:
                cur.execute("UPDATE claims SET state = 'registered', version = version + 1, reviewer_node_id = NULL, "
                            f"registered_at = ?, updated_at = ? WHERE id IN ({','.join('?' * len(chunk))}) "
                            "AND state = 'in_review' AND level = 1", (now, now, *chunk))
            moved += cur.rowcount
        names = ", ".join(f'"{c}"' for c in AUDIT_COLUMNS)
        if raw.pg and copy:
            with cur.copy(f"COPY audit_records ({names}) FROM STDIN") as cp:
                for row in audit_rows:
                    cp.write_row(row)
        else:
            marks = ", ".join("?" for _ in AUDIT_COLUMNS)
            cur.executemany(raw.q(f"INSERT INTO audit_records ({names}) VALUES ({marks})"), audit_rows)
        last = audit_rows[-1]
        cur.execute(raw.q("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1"), (last[0], last[-1]))
        raw.commit(cur)
        elapsed = time.perf_counter() - start
    if moved != len(ids):
        raise SystemExit(f"raw bulk approval moved {moved} of {len(ids)} claims")
    return elapsed


def service_bulk_approve(w: World, ids):
    svc = w.platform.services(w.reviewer)
    gc.collect()
    start = time.perf_counter()
    report = svc.claims.bulk("approve", ids)
    elapsed = time.perf_counter() - start
    if len(report.ok) != len(ids):
        raise SystemExit(f"ClaimService.bulk approved {len(report.ok)} of {len(ids)}: "
                         f"{list(report.refused.items())[:3]}")
    return elapsed, report


def bench_bulk(w: World, args, results: list[Result]) -> None:
    pg = is_pg(w.platform)
    ids = list(range(1, w.claims + 1))
    log(f"bulk approval: precomputing {fmt_int(len(ids))} chained audit rows for the raw baseline (untimed)")
    audit_rows = approval_audit_rows(w, ids)
    variants = [("INSERT executemany", False)] + ([("COPY", True)] if pg else [])
    if pg and args.quick:  # --quick: the faster raw variant only
        variants = [("COPY", True)]
    raw_times = {}
    for label, copy in variants:
        log(f"bulk approval: raw SQL (UPDATE in chunks of {CHUNK} + audit {label}), {fmt_int(len(ids))} claims")
        raw_times[label] = raw_bulk_approve(w, ids, audit_rows, copy=copy)
        log(f"  raw {label}: {raw_times[label]:.2f} s ({fmt_int(len(ids) / raw_times[label])}/s)")
        if args.verify_raw:
            verify_chain(w.platform)
        reset(w)
    del audit_rows
    log(f"bulk approval: ClaimService.bulk('approve', {fmt_int(len(ids))} ids) as the district reviewer")
    seconds, report = service_bulk_approve(w, ids)
    log(f"  service: {seconds:.2f} s ({fmt_int(len(ids) / seconds)}/s); job {report.job_id} queued "
        f"(huey.immediate = False) to recompute {fmt_int(w.teachers)} teachers")
    if args.verify:
        verify_chain(w.platform)
    floor_label = min(raw_times, key=raw_times.get)
    for label, raw_s in raw_times.items():
        if label != floor_label:
            results.append(Result(f"  raw variant: UPDATE + audit {label}", len(ids), raw_s, None, "floor candidate"))
    results.insert(0, Result("bulk approve -> registered (ClaimService.bulk)", len(ids), seconds,
                             raw_times[floor_label], f"<= {TARGET_BULK:g}x raw",
                             seconds / raw_times[floor_label] <= TARGET_BULK,
                             note=f"raw = UPDATE in chunks of {CHUNK} + audit rows by {floor_label} (the faster "
                                  f"raw variant), one transaction, hashes precomputed"))
    # the background job the bulk approval queued: run it here, timed, in this process
    if report.job_id is not None and not args.skip_job:
        from core.db.scope import Actor
        log(f"recompute job {report.job_id} (AssessmentService.run_job) for {fmt_int(w.teachers)} teachers")
        gc.collect()
        start = time.perf_counter()
        w.platform.services(Actor.system("后台任务")).assessments.run_job(report.job_id)
        job_s = time.perf_counter() - start
        written = count(w.platform, "SELECT count(*) FROM assessment_results")
        log(f"  job: {job_s:.2f} s, {fmt_int(written)} results")
        results.append(Result(f"  then its recompute job ({CLAIMS_PER_TEACHER} claims/teacher)", w.teachers, job_s,
                              None, "info (teachers)"))
    reset(w)


# -- 2. one transition at a time ---------------------------------------------------------------
def raw_single_transitions(w: World, ids) -> float:
    """Per claim, one transaction: read the claim, check it (state, reviewer, last level), lock the
    teacher, guarded UPDATE, chain one audit record (hash computed here) and move the head, sum
    the teacher's registered hours in SQL and upsert the assessment."""
    from core.audit import link
    pg = is_pg(w.platform)
    now = sql_value(CLOCK, pg)
    a = w.reviewer
    with Raw(w.platform) as raw:
        cur = raw.con.cursor()
        q = raw.q
        names = ", ".join(f'"{c}"' for c in AUDIT_COLUMNS)
        insert_audit = q(f"INSERT INTO audit_records ({names}) VALUES ({', '.join('?' for _ in AUDIT_COLUMNS)})")
        upsert = q("INSERT INTO assessment_results (teacher_id, jurisdiction, period_key, total_milli, result, passed, "
                   "scope_path, computed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (teacher_id, period_key) "
                   "DO UPDATE SET total_milli = excluded.total_milli, result = excluded.result, "
                   "passed = excluded.passed, computed_at = excluded.computed_at")
        gc.collect()
        start = time.perf_counter()
        for claim_id in ids:
            raw.begin(cur)
            cur.execute(q("SELECT state, version, level, review_chain, reviewer_node_id, teacher_id, scope_path, "
                          "period_key, jurisdiction FROM claims WHERE id = ?"), (claim_id,))
            state, version, level, chain, reviewer, teacher_id, path, period, jurisdiction = cur.fetchone()
            chain = chain if pg else json.loads(chain)
            if state not in ("submitted", "in_review") or reviewer != a.node_id or level != len(chain) - 1:
                raise SystemExit(f"raw: claim {claim_id} cannot be approved")
            cur.execute(q("SELECT id FROM teachers WHERE id = ?" + (" FOR UPDATE" if pg else "")), (teacher_id,))
            cur.fetchone()
            cur.execute(q("UPDATE claims SET state = 'registered', version = ?, reviewer_node_id = NULL, "
                          "registered_at = ?, updated_at = ? WHERE id = ? AND state = ? AND version = ?"),
                        (version + 1, now, now, claim_id, state, version))
            if cur.rowcount != 1:
                raise SystemExit(f"raw: claim {claim_id} changed")
            cur.execute(q("SELECT seq, hash FROM audit_head WHERE id = 1" + (" FOR UPDATE" if pg else "")))
            seq, prev = cur.fetchone()
            request_id = uuid.uuid4().hex
            row = {"seq": seq + 1, "at": CLOCK, "actor_id": a.user_id, "actor_name": a.name, "role": a.role,
                   "node_id": a.node_id, "entity_type": "claim", "entity_id": claim_id, "trigger": "approve",
                   "from_state": state, "to_state": "registered", "reason": None, "request_id": request_id,
                   "detail": None, "scope_path": path}
            digest = link(prev, row)
            cur.execute(insert_audit, (seq + 1, now, a.user_id, a.name, a.role, a.node_id, "claim", claim_id,
                                       "approve", state, "registered", None, request_id, None, path, prev, digest))
            cur.execute(q("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1"), (seq + 1, digest))
            cur.execute(q("SELECT COALESCE(SUM(amount_milli), 0) FROM claims WHERE teacher_id = ? AND "
                          "period_key = ? AND state = 'registered'"), (teacher_id, period))
            total = cur.fetchone()[0]
            cur.execute(upsert, (teacher_id, jurisdiction, period, total,
                                 json.dumps({"totals": {"hours": int(total) / 1000}}), total >= 72_000, path, now))
            raw.commit(cur)
        elapsed = time.perf_counter() - start
    return elapsed


def service_single_transitions(w: World, ids) -> float:
    platform = w.platform
    gc.collect()
    start = time.perf_counter()
    for claim_id in ids:
        claim = platform.services(w.reviewer).claims.approve(claim_id)
        if claim.state != "registered":
            raise SystemExit(f"claim {claim_id} is {claim.state}")
    return time.perf_counter() - start


class NoFsync:
    """Commits without waiting for the disk, for the whole pool (raw and services alike):
    PostgreSQL ``synchronous_commit = off``, SQLite ``synchronous = NORMAL`` (in WAL mode, no fsync
    at commit). Shows the CPU cost of one transition apart from the disk's flush latency."""

    def __init__(self, platform):
        self.engine = platform.engine
        self.pg = is_pg(platform)

    def _on_connect(self, dbapi_connection, _record):
        if self.pg:
            dbapi_connection.execute("SET synchronous_commit = off")
            dbapi_connection.commit()
        else:
            dbapi_connection.execute("PRAGMA synchronous = NORMAL")

    def __enter__(self):
        from sqlalchemy import event
        self.engine.dispose()
        event.listen(self.engine, "connect", self._on_connect)
        return self

    def __exit__(self, *exc):
        from sqlalchemy import event
        event.remove(self.engine, "connect", self._on_connect)
        self.engine.dispose()


def bench_single(w: World, args, results: list[Result]) -> None:
    ids = list(range(1, min(args.singles, w.claims) + 1))
    setting = "synchronous_commit = off" if is_pg(w.platform) else "synchronous = NORMAL"
    for durable in ((True,) if args.quick else (True, False)):  # --quick: the durable commit only
        label = "" if durable else f" [{setting}]"
        with (NoFsync(w.platform) if not durable else _nothing()):
            log(f"single transitions{label}: raw SQL, {fmt_int(len(ids))} approvals one transaction each")
            raw_s = raw_single_transitions(w, ids)
            log(f"  raw: {raw_s:.2f} s ({fmt_int(len(ids) / raw_s)}/s)")
            if args.verify_raw:
                verify_chain(w.platform)
            reset(w)
            log(f"single transitions{label}: ClaimService.approve, {fmt_int(len(ids))} approvals "
                "(each registers and recomputes)")
            seconds = service_single_transitions(w, ids)
            log(f"  service: {seconds:.2f} s ({fmt_int(len(ids) / seconds)}/s)")
            if args.verify:
                verify_chain(w.platform)
            reset(w)
        if durable:
            results.append(Result("one approval at a time (ClaimService.approve)", len(ids), seconds, raw_s,
                                  f">= {TARGET_SINGLE:,.0f}/s", len(ids) / seconds >= TARGET_SINGLE,
                                  note="raw = per claim: SELECT, lock teacher, guarded UPDATE, audit head + INSERT "
                                       "+ head UPDATE, SUM of registered hours, upsert of the result; one "
                                       "transaction each, committed durably as the services do"))
        else:
            results.append(Result(f"  same, commit without fsync ({setting})", len(ids), seconds, raw_s,
                                  f">= {TARGET_SINGLE:,.0f}/s", len(ids) / seconds >= TARGET_SINGLE))


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None


# -- 3. an organiser's batch -------------------------------------------------------------------
def import_items(w: World):
    first = date(2019, 1, 1)
    items = []
    for i in range(w.claims):
        t, k = divmod(i, CLAIMS_PER_TEACHER)
        items.append({"teacher_id": t + 1, "item": "zhuanye.research", "inputs": {"hours": 1 + (i * 5) % 8},
                      "on": (first + timedelta(days=(k * 17) % 365)).isoformat()})
    return items


def raw_import_rows(w: World, items):
    """The claim rows the service writes (ids after the generated claims), precomputed."""
    from core.services.claims import dedup_key
    pg = is_pg(w.platform)
    now = sql_value(CLOCK, pg)
    schools = w.schools
    rows, paths = [], {}
    for index, item in enumerate(items):
        claim_id = w.claims + 1 + index
        t = item["teacher_id"] - 1
        school = schools[t % len(schools)]
        on = date.fromisoformat(item["on"])
        values = {"hours": item["inputs"]["hours"] * 1000}
        paths[claim_id] = school.path
        rows.append(tuple(sql_value(v, pg) for v in (
            claim_id, item["teacher_id"], "guangzhou", item["item"], "2019", on, values, values["hours"], None,
            "registration", "registered", 1, 0, None, None, school.id, dedup_key("2019", on, values), None, None,
            school.path, w.organiser.user_id, now, now, now)))
    return rows, paths


def raw_import(w: World, claim_rows, audit_rows) -> float:
    """executemany (SQLite) or COPY (PostgreSQL) of the claim rows and of their audit rows, the
    audit head moved: one transaction."""
    with Raw(w.platform) as raw:
        cur = raw.con.cursor()
        gc.collect()
        start = time.perf_counter()
        raw.begin(cur)
        n = bulk_rows(w.platform, "claims", CLAIM_COLUMNS, claim_rows, raw=raw, cur=cur)
        bulk_rows(w.platform, "audit_records", AUDIT_COLUMNS, audit_rows, raw=raw, cur=cur)
        last = audit_rows[-1]
        cur.execute(raw.q("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1"), (last[0], last[-1]))
        raw.commit(cur)
        elapsed = time.perf_counter() - start
    if n != len(claim_rows):
        raise SystemExit("raw import wrote a different number of rows")
    return elapsed


def bench_import(w: World, args, results: list[Result]) -> None:
    items = import_items(w)
    log(f"batch import: precomputing {fmt_int(len(items))} claim rows and chained audit rows for the raw baseline")
    claim_rows, paths = raw_import_rows(w, items)
    audit_rows = approval_audit_rows(w, [r[0] for r in claim_rows], trigger="register_batch", from_state=None,
                                     actor=w.organiser, detail={"source": "bench"}, paths=paths)
    del paths
    label = "COPY" if is_pg(w.platform) else "executemany"
    log(f"batch import: raw {label} of {fmt_int(len(claim_rows))} claims + their audit rows")
    raw_s = raw_import(w, claim_rows, audit_rows)
    log(f"  raw: {raw_s:.2f} s ({fmt_int(len(items) / raw_s)}/s)")
    if args.verify_raw:
        verify_chain(w.platform)
    del claim_rows, audit_rows
    reset(w, imported=True)
    log(f"batch import: ClaimService.import_registered({fmt_int(len(items))} rows) as the city's organiser")
    svc = w.platform.services(w.organiser)
    gc.collect()
    start = time.perf_counter()
    report = svc.claims.import_registered(items, source="bench")
    seconds = time.perf_counter() - start
    log(f"  service: {seconds:.2f} s ({fmt_int(len(items) / seconds)}/s); job {report.job_id} queued")
    if report.claims != len(items):
        raise SystemExit(f"import_registered wrote {report.claims} of {len(items)}")
    if args.verify:
        verify_chain(w.platform)
    results.append(Result(f"import registered batch (import_registered)", len(items), seconds, raw_s,
                          f"<= {TARGET_IMPORT:g}x raw", seconds / raw_s <= TARGET_IMPORT))
    reset(w, imported=True)


# -- 4. the workflow engine alone --------------------------------------------------------------
class _Row:
    """What the bulk path hands the guards: a claim row's columns (no ORM object)."""

    __slots__ = ("id", "workflow", "state", "version", "level", "review_chain", "reviewer_node_id", "home_school_id",
                 "jurisdiction", "period_key", "teacher_id", "created_by", "scope_path")

    def __init__(self, i: int):
        self.id, self.workflow, self.state, self.version, self.level = i, "declaration", "in_review", 3, 1
        self.review_chain = [3, 2]  # a list per row, as loaded from the database
        self.reviewer_node_id, self.home_school_id, self.jurisdiction = 2, 3, "guangzhou"
        self.period_key, self.teacher_id, self.created_by, self.scope_path = "2019", i // 20 + 1, None, "/1/2/3/"


def _engine_fixture(n: int):
    from core.db.scope import Actor
    from core.services.context import ClaimContext
    actor = Actor(1, "审核员", "reviewer", 2, "/1/2/")
    services = SimpleNamespace(actor=actor, windows=SimpleNamespace(refusal=lambda *a: None))
    nodes = {2: SimpleNamespace(id=2, kind="district", name="天河区"), 3: SimpleNamespace(id=3, kind="school", name="天河中学")}
    rows = [_Row(i) for i in range(n)]
    return rows, [ClaimContext(services, None, r, None, nodes) for r in rows]


def bench_engine(workflows, args, out) -> list[tuple]:
    """Fire ``approve`` for N claims through the one shared Machine (``Workflow.fire``): time per
    claim (best of 3, gc enabled; --quick: one run) at each size, and the bytes the engine leaves
    behind per claim (tracemalloc, after gc, the fired transitions kept in a preallocated list;
    --quick: measured on at most 10,000 of the N claims)."""
    workflow = workflows.get("declaration")
    fire = workflow.fire
    repeats = 1 if args.quick else 3
    lines = []
    per_claim = {}
    for n in ENGINE_SIZES:
        rows, ctxs = _engine_fixture(n)
        taken = [None] * n
        for i in range(min(n, 1000)):  # warm-up
            fire("approve", rows[i].state, ctxs[i])
        best = float("inf")
        for _ in range(repeats):
            gc.collect()
            start = time.perf_counter()
            for i in range(n):
                taken[i] = fire("approve", rows[i].state, ctxs[i])
            best = min(best, time.perf_counter() - start)
        if any(t.dest != "registered" for t in taken):
            raise SystemExit("the engine took an unexpected transition")
        per_claim[n] = best / n
        del rows, ctxs, taken
        # memory: a fresh set of claims, measured from before they exist
        m = min(n, 10_000) if args.quick else n
        gc.collect()
        tracemalloc.start()
        try:
            empty = tracemalloc.get_traced_memory()[0]
            rows, ctxs = _engine_fixture(m)
            taken = [None] * m
            gc.collect()
            base = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            for i in range(m):
                taken[i] = fire("approve", rows[i].state, ctxs[i])
            gc.collect()
            after, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        lines.append(("Workflow.fire('approve'), shared Machine", n, best, best / n * 1e6, m, (after - base) / m,
                      (base - empty) / m, peak - base))
        del rows, ctxs, taken
    # what one Machine per claim would cost (information: the design the shared Machine avoids)
    from transitions import Machine
    n = 200 if args.quick else 1000
    d = workflow.definition
    specs = [{"trigger": t.trigger, "source": list(t.sources), "dest": t.dest} for t in d.transitions]
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        start = time.perf_counter()
        machines = [Machine(model=SimpleNamespace(), states=list(d.states), transitions=specs, initial="in_review",
                            auto_transitions=False) for _ in range(n)]
        build_s = time.perf_counter() - start
        gc.collect()
        per_machine = (tracemalloc.get_traced_memory()[0] - base) / n
    finally:
        tracemalloc.stop()
    del machines
    small, large = ENGINE_SIZES[0], ENGINE_SIZES[-1]
    scaling = per_claim[large] / per_claim[small]
    worst = max(line[5] for line in lines)
    header = ("measure", "N", "seconds", "us/claim", "memory N", "bytes/claim kept", "claim+context B",
              "transient peak")
    table = [(name, fmt_int(n), f"{s:.3f}", f"{us:.2f}", fmt_int(m), f"{kept:,.1f}", f"{ctx:,.0f}",
              f"{peak / 1024:,.1f} KiB") for name, n, s, us, m, kept, ctx, peak in lines]
    table.append(("  (info) one Machine per claim instead", fmt_int(n), f"{build_s:.3f}",
                  f"{build_s / n * 1e6:,.0f} (build)", fmt_int(n), f"{per_machine:,.0f}", "—", "—"))
    widths = [max(len(str(x)) for x in col) for col in zip(header, *table)]
    print("\nWorkflow engine (core.workflow, no database): approve at the last level, guards run "
          "(actor, review_open, last_level), ClaimContext over a plain row", file=out)
    line = "  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(header, widths)))
    print(line, file=out)
    print("-" * len(line), file=out)
    for row in table:
        print("  ".join(str(x).ljust(w) if i == 0 else str(x).rjust(w) for i, (x, w) in enumerate(zip(row, widths))),
              file=out)
    verdicts = [
        (f"memory the engine adds per claim (worst of {', '.join(fmt_int(s) for s in ENGINE_SIZES)})",
         f"{worst:,.1f} B", f"< {TARGET_ENGINE_BYTES:,} B", worst < TARGET_ENGINE_BYTES),
        (f"time per claim at {fmt_int(large)} / at {fmt_int(small)}", f"{scaling:.2f}x",
         f"<= {TARGET_ENGINE_SCALING:g}x", scaling <= TARGET_ENGINE_SCALING),
    ]
    for name, value, target, ok in verdicts:
        print(f"  {name}: {value}  (target {target})  {'pass' if ok else 'FAIL'}", file=out)
    out.flush()
    return verdicts


# -- 5. recomputing a province ------------------------------------------------------------------
RECOMPUTE_CLAIMS_SQL = """
INSERT INTO claims (id, teacher_id, jurisdiction, item_code, period_key, on_date, inputs, amount_milli, explanation,
                    workflow, state, version, level, review_chain, reviewer_node_id, home_school_id, dedup_key,
                    project_id, reason, scope_path, created_by, created_at, updated_at, registered_at)
SELECT g, t, 'guangzhou',
       CASE WHEN k < 3 THEN 'gongxu.provincial' WHEN k < 6 THEN 'zhuanye.training'
            WHEN k < 9 THEN 'zhuanye.research' ELSE 'zhuanye.self' END,
       '2019', NULL,
       CASE WHEN k < 3 THEN jsonb_build_object('hours', hours, 'topic', (%(topics)s::text[])[1 + (t + k) %% 4])
            WHEN k < 9 THEN jsonb_build_object('hours', hours)
            ELSE jsonb_build_object('hours', hours, 'kind', (%(kinds)s::text[])[1 + k %% 9]) END,
       hours, NULL, 'declaration', 'registered', 4, 1, NULL, NULL,
       (%(school_ids)s::bigint[])[1 + t %% %(schools)s], 'sum:' || md5(g::text), NULL, NULL,
       (%(paths)s::text[])[1 + t %% %(schools)s], NULL, %(now)s, %(now)s, %(now)s
FROM (SELECT g, (g - 1) %% %(teachers)s + 1 AS t, (g - 1) / %(teachers)s AS k, 1000 * (1 + (g * 7) %% 8) AS hours
      FROM generate_series(%(low)s, %(high)s) AS g) AS s
"""
RECOMPUTE_TEACHERS_SQL = """
INSERT INTO teachers (id, name, id_number, home_school_id, jurisdiction, scope_path, active, new_teacher)
SELECT g, '教师' || g, lpad(g::text, 18, '0'), (%(school_ids)s::bigint[])[1 + g %% %(schools)s], 'guangzhou',
       (%(paths)s::text[])[1 + g %% %(schools)s], true, false
FROM generate_series(1, %(teachers)s) AS g
"""


def bench_recompute(args, registry, workflows, workdir, out) -> Result:
    """Every teacher of a province recomputed by the background job (AssessmentService.run_job over
    the province's subtree), from registered claims generated server-side."""
    from core.db.scope import Actor
    teachers = args.recompute_teachers
    per = args.recompute_claims
    database = Database("postgresql", workdir, args.pg_url, "recompute")
    platform = make_platform(database.url, registry, workflows)
    try:
        schools_n = max(5, teachers // RECOMPUTE_TEACHERS_PER_SCHOOL)
        districts_n = max(1, schools_n // 50)
        log(f"recompute: building {fmt_int(teachers)} teachers x {per} registered claims "
            f"({fmt_int(teachers * per)} rows) in {schools_n} schools, {districts_n} districts (INSERT … SELECT "
            "generate_series, indexes rebuilt afterwards)")
        start = time.perf_counter()
        _org, province, _city, _districts, schools = build_tree(platform, schools_n, districts_n)
        params = {"school_ids": [s.id for s in schools], "paths": [s.path for s in schools], "schools": schools_n,
                  "teachers": teachers, "topics": list(TOPICS), "kinds": list(KINDS), "now": CLOCK}
        total = teachers * per
        step = 2_000_000
        with platform.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            raw = connection.connection.driver_connection
            with IndexesOff(connection, "teachers"):
                raw.execute(RECOMPUTE_TEACHERS_SQL, params)
            with IndexesOff(connection, "claims"):
                for low in range(1, total + 1, step):
                    high = min(total, low + step - 1)
                    raw.execute(RECOMPUTE_CLAIMS_SQL, dict(params, low=low, high=high))
                    log(f"  claims {fmt_int(high)}/{fmt_int(total)} ({time.perf_counter() - start:.0f} s)")
                log("  rebuilding the claims indexes and unique constraint")
            for table in ("teachers", "claims"):
                connection.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        vacuum(platform, "teachers", "claims")
        generation = time.perf_counter() - start
        size = count(platform, "SELECT pg_size_pretty(pg_total_relation_size('claims'))")
        log(f"  generated in {generation:.0f} s; claims table with indexes: {size}")
        system = platform.services(Actor.system("后台任务"))
        job_id = system.assessments.recompute_subtree(province.id)
        log(f"recompute: AssessmentService.run_job({job_id}) over the province ({fmt_int(teachers)} teachers)")
        gc.collect()
        start = time.perf_counter()
        system.assessments.run_job(job_id)
        seconds = time.perf_counter() - start
        written = count(platform, "SELECT count(*) FROM assessment_results")
        passed = count(platform, "SELECT count(*) FROM assessment_results WHERE passed")
        log(f"  {seconds:.1f} s, {fmt_int(written)} results ({100 * passed / max(written, 1):.0f}% passed)")
        if written != teachers:
            raise SystemExit(f"recompute wrote {written} results for {teachers} teachers")
        projected = seconds * DEFAULT_RECOMPUTE_TEACHERS / teachers
        scaled = teachers != DEFAULT_RECOMPUTE_TEACHERS
        note = (f"{fmt_int(teachers)} teachers x {per} registered claims = {fmt_int(total)} claims, "
                f"{schools_n} schools; run_job in batches of 2,000 teachers")
        if scaled:
            note += (f"; SCALED DOWN: measured {fmt_int(teachers)} teachers in {seconds:.1f} s, projected linearly "
                     f"to 1,000,000 teachers / {fmt_int(DEFAULT_RECOMPUTE_TEACHERS * per)} claims: {projected:,.0f} s")
        return Result(f"recompute every teacher (AssessmentService.run_job)", teachers, seconds, None,
                      f"< {TARGET_RECOMPUTE:g} s per 1M" + (" (projected)" if scaled else ""),
                      projected < TARGET_RECOMPUTE, note=note, generation=generation, size=size)
    finally:
        platform.engine.dispose()
        database.drop()


# -- profiling ---------------------------------------------------------------------------------
def profile(label: str, fn, top: int, out) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    fn()
    profiler.disable()
    stream = io.StringIO()
    stats = pstats.Stats(profiler, stream=stream)
    stats.sort_stats("tottime").print_stats(top)
    stream.write("\n-- core/ functions by cumulative time --\n")
    stats.sort_stats("cumulative").print_stats(r"/core/", top)
    print(f"\n== profile: {label} ==", file=out)
    text = stream.getvalue()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    print(text.replace(root + os.sep, ""), file=out)


def profile_paths(w: World, args, out) -> None:
    n_single = min(300, w.claims)
    profile(f"{n_single} single approvals (ClaimService.approve)",
            lambda: service_single_transitions(w, list(range(1, n_single + 1))), args.profile_top, out)
    reset(w)
    n_bulk = min(100_000, w.claims)
    profile(f"bulk approval of {fmt_int(n_bulk)} claims (ClaimService.bulk)",
            lambda: service_bulk_approve(w, list(range(1, n_bulk + 1))), args.profile_top, out)
    reset(w)
    items = import_items(w)[:n_bulk]
    profile(f"import_registered of {fmt_int(len(items))} rows",
            lambda: w.platform.services(w.organiser).claims.import_registered(items, source="bench"),
            args.profile_top, out)
    reset(w, imported=True)
    from core.db.scope import Actor
    teacher_ids = list(range(1, min(w.teachers, 5000) + 1))
    ids = list(range(1, len(teacher_ids) * CLAIMS_PER_TEACHER + 1))
    service_bulk_approve(w, ids)

    def recompute():
        with w.platform.transaction(Actor.system()) as session:
            w.platform.services(Actor.system()).assessments.recompute_teachers(session, teacher_ids)
    profile(f"recompute_teachers of {fmt_int(len(teacher_ids))} teachers x {CLAIMS_PER_TEACHER} registered claims",
            recompute, args.profile_top, out)
    reset(w)


# -- the run -----------------------------------------------------------------------------------
def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} CPUs"


def print_results(title: str, results: list[Result], out) -> None:
    print_table(title, results, out)
    for r in results:
        if r.note:
            print(f"  {r.operation.strip()}: {r.note}", file=out)
        if r.generation is not None:
            print(f"  data generated in {r.generation:.0f} s (untimed); claims table with its indexes: {r.size}",
                  file=out)
    out.flush()


def run_database(kind: str, args, registry, workflows, workdir, out) -> list[Result]:
    """The workflow parts on one database (their table is printed as soon as they are done), then
    on PostgreSQL the province recompute (a table of its own)."""
    results: list[Result] = []
    parts = args.parts
    if parts & {"bulk", "single", "import"}:
        database = Database(kind, workdir, args.pg_url)
        platform = make_platform(database.url, registry, workflows)
        try:
            label = db_label(platform)
            log(f"{label}: generating {fmt_int(args.claims)} claims")
            w = build_workflow_world(platform, args.claims)
            log(f"  tree and users {w.setup['tree_s']:.1f} s; {fmt_int(w.teachers)} teachers and "
                f"{fmt_int(w.claims)} claims in {w.setup['rows_s']:.1f} s (untimed)")
            before = load()
            if "bulk" in parts:
                bulk: list[Result] = []
                bench_bulk(w, args, bulk)
                results += bulk
            if "single" in parts:
                bench_single(w, args, results)
            if "import" in parts:
                bench_import(w, args, results)
            title = (f"== {label}: {fmt_int(w.claims)} claims of {fmt_int(w.teachers)} teachers in {SCHOOLS} "
                     f"schools, in review at the district (last level) ==\n   before: {before}; after: {load()}")
            print_results(title, results, out)
            if args.profile:
                profile_paths(w, args, out)
        finally:
            platform.engine.dispose()
            database.drop()
    if kind == "postgresql" and "recompute" in parts:
        before = load()
        recompute = bench_recompute(args, registry, workflows, workdir, out)
        print_results(f"== PostgreSQL: recomputing a province's assessments ==\n   before: {before}; after: {load()}",
                      [recompute], out)
        results.append(recompute)
    return results


def command_line(args) -> str:
    python = os.path.relpath(sys.executable) if sys.executable.startswith(os.getcwd()) else sys.executable
    parts = [python, "-m", "bench.workflow", "--claims", str(args.claims), "--db", args.db,
             "--singles", str(args.singles), "--recompute-teachers", str(args.recompute_teachers)]
    if args.recompute_claims != CLAIMS_PER_TEACHER:
        parts += ["--recompute-claims", str(args.recompute_claims)]
    if args.quick:
        parts.append("--quick")
    for flag in ("verify_raw", "profile", "skip_job"):
        if getattr(args, flag):
            parts.append("--" + flag.replace("_raw", "").replace("_", "-"))
    if args.parts != set(PARTS):
        parts += ["--only", ",".join(p for p in PARTS if p in args.parts)]
    return " ".join(parts)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.workflow", description=__doc__.split("\n\n")[0])
    parser.add_argument("--claims", type=int, default=None,
                        help=f"claims in review (default {DEFAULT_CLAIMS:,}; --quick: {QUICK_CLAIMS:,})")
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--quick", action="store_true", help="a smoke run, under a minute")
    parser.add_argument("--singles", type=int, default=None,
                        help=f"single transitions timed (default {DEFAULT_SINGLES:,}; --quick: {QUICK_SINGLES:,})")
    parser.add_argument("--recompute-teachers", type=int, default=None,
                        help=f"teachers of the recompute run, PostgreSQL (default {DEFAULT_RECOMPUTE_TEACHERS:,}; "
                             f"--quick: {QUICK_RECOMPUTE_TEACHERS:,}); smaller sizes are projected to 1,000,000")
    parser.add_argument("--recompute-claims", type=int, default=CLAIMS_PER_TEACHER,
                        help="registered claims per teacher in the recompute run (default 20)")
    parser.add_argument("--skip-job", action="store_true", help="do not run the job the bulk approval queues")
    parser.add_argument("--verify", action="store_true",
                        help="verify the audit chain (core.audit.verify, untimed) after every timed write, raw "
                             "baselines included (--quick: after the services' writes only)")
    parser.add_argument("--pg-url", default=os.environ.get(PG_ENV, PG_DEFAULT),
                        help=f"PostgreSQL server (a schema of its own is created and dropped; ${PG_ENV})")
    parser.add_argument("--profile", action="store_true", help="cProfile the service paths after the run")
    parser.add_argument("--profile-top", type=int, default=30)
    parser.add_argument("--only", default=",".join(PARTS),
                        help=f"comma-separated parts to run (default all: {','.join(PARTS)})")
    args = parser.parse_args(argv)
    if args.claims is None:
        args.claims = QUICK_CLAIMS if args.quick else DEFAULT_CLAIMS
    if args.singles is None:
        args.singles = QUICK_SINGLES if args.quick else DEFAULT_SINGLES
    if args.recompute_teachers is None:
        args.recompute_teachers = QUICK_RECOMPUTE_TEACHERS if args.quick else DEFAULT_RECOMPUTE_TEACHERS
    args.verify_raw = args.verify
    args.verify = args.verify or args.quick
    if min(args.claims, args.singles, args.recompute_teachers, args.recompute_claims) < 1:
        parser.error("sizes must be positive")
    args.parts = {p.strip() for p in args.only.split(",") if p.strip()}
    if not args.parts or args.parts - set(PARTS):
        parser.error(f"--only takes {','.join(PARTS)}")

    # The job queue (Huey, SQLite storage) lives in a throwaway folder; jobs are queued, not run,
    # unless the benchmark runs them itself.
    workdir = tempfile.mkdtemp(prefix="jijiao-bench-")
    _cleanups.append(lambda: shutil.rmtree(workdir, ignore_errors=True))
    os.environ["JIJIAO_INSTANCE"] = workdir
    atexit.register(_cleanup)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    from core import jobs
    jobs.huey.immediate = False

    import sqlalchemy
    from core.plugins import load_registry
    from core.workflow import WorkflowRegistry
    out = sys.stdout
    started = time.perf_counter()
    print(f"bench.workflow: {fmt_int(args.claims)} claims; {load()}; Python {pyplatform.python_version()}, SQLAlchemy "
          f"{sqlalchemy.__version__}, {os.cpu_count()} CPUs; one process, time.perf_counter, gc enabled; "
          f"huey.immediate = False (bulk jobs queued, then run in-process where stated)", file=out)
    registry = load_registry()
    workflows = WorkflowRegistry()
    verdicts = []
    if "engine" in args.parts:
        verdicts += [ok for *_x, ok in bench_engine(workflows, args, out)]
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    for kind in kinds:
        results = run_database(kind, args, registry, workflows, workdir, out)
        verdicts += [r.ok for r in results if r.ok is not None]
    print(f"\ntargets met: {sum(1 for v in verdicts if v)}/{len(verdicts)}; total {time.perf_counter() - started:.0f} s",
          file=out)
    print(f"reproduce: {command_line(args)}", file=out)
    return 0


def _cleanup() -> None:
    while _cleanups:
        _cleanups.pop()()


if __name__ == "__main__":
    try:
        sys.exit(main())
    finally:
        _cleanup()
