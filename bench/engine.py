"""Throughput of the rule engine on a synthetic province, against a plain-Python floor.

    python -m bench.engine                      # 1,000,000 teachers x 20 claims, guangzhou and lengshuijiang
    python -m bench.engine --quick              # 10,000 teachers: a smoke run (well under a minute)
    python -m bench.engine --profile            # also cProfile the engine on one chunk

What is timed (``time.perf_counter``, one process, one core):

- engine: ``assessor.assess(period, teacher, claims)`` per teacher, with ``explain=True`` (the
  default: one explanation per claim) and with ``explain=False``;
- floor: a plain Python loop over the very same ``Claim`` objects that only sums the primary
  measure (``claim.values.get("hours"/"credits", 0)``, milli-units) per teacher.

Claims are parsed ONCE into ``core.claims.Claim`` objects (through ``assessor.parse_claims``)
before any timing: in production parsing happens at the edge and the engine takes Claim
objects. Teachers are generated from a fixed seed into a pool of distinct synthetic teachers;
the province is assessed in chunks, each chunk a fresh copy (new Claim objects, new values
dicts, distinct claim ids) of pool teachers taken in turn, so memory stays bounded and no
object is shared between two teachers of a chunk. Engine and floor are timed on each chunk on
the same objects, and the times are summed.

Performance figures are printed, never asserted: the targets (engine within 5x of the floor; a
province of 1,000,000 teachers in under a minute on one core) are shown as met or not.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import os
import platform
import pstats
import random
import resource
import subprocess
import sys
import time
import tracemalloc
from collections import Counter
from datetime import date, timedelta

from core.claims import Claim
from core.facts import Teacher
from core.plugins import load_registry

DEFAULT_TEACHERS = 1_000_000
QUICK_TEACHERS = 10_000
DEFAULT_CLAIMS = 20
DEFAULT_POOL = 20_000
DEFAULT_CHUNK = 50_000
DEFAULT_MEMORY_SAMPLE = 2_000
QUICK_POOL = 5_000
QUICK_MEMORY_SAMPLE = 500
DEFAULT_SEED = 20240901
TARGET_RATIO = 5.0
TARGET_SECONDS = 60.0
PROVINCE = 1_000_000


# -- synthetic teachers --------------------------------------------------------------------------
def _place(rng: random.Random, raw: dict, key: str, first: date, days: int) -> dict:
    """Where a claim belongs: mostly no date (the assessed period), else a date or the period key,
    always inside the assessed period."""
    r = rng.random()
    if r < 0.30:
        raw["on"] = (first + timedelta(days=rng.randrange(days))).isoformat()
    elif r < 0.40:
        raw["period"] = key
    return raw


def _weighted(rng: random.Random, weights: dict[str, float], k: int) -> list[str]:
    return rng.choices(list(weights), weights=list(weights.values()), k=k)


class Guangzhou:
    """广州: annual hours; 公需 topics repeat (highest_of per topic); 专业 over 42 carries over."""

    code = "guangzhou"
    period = "2019"
    first, days = date(2019, 1, 1), 365
    weights = {
        "gongxu.platform": 20, "gongxu.provincial": 8,
        "zhuanye.platform": 15, "zhuanye.training": 14, "zhuanye.research": 20,
        "zhuanye.self": 24, "zhuanye.carried": 3,
    }
    topics = ("习近平新时代中国特色社会主义思想", "改革开放与创新发展", "乡村振兴战略",
              "粤港澳大湾区建设面临的机遇与挑战", "师德师风建设", "中小学教师心理健康")
    kinds = ("远程研修", "教研活动", "培训进修", "学历教育", "实践活动", "担任培训者", "学术会议", "科研成果", "其他")

    def teacher(self, rng: random.Random, n: int, next_id) -> tuple[Teacher, list[dict]]:
        diligence = rng.uniform(0.55, 1.7)  # how much this teacher studied: most pass, not all
        raws, carried = [], False
        for item in _weighted(rng, self.weights, n):
            if item == "zhuanye.carried":
                if carried:  # the platform carries over once a year
                    item = "zhuanye.research"
                carried = True
            raw = {"item": item, "id": next_id()}
            if item.startswith("gongxu."):
                raw["hours"] = rng.choice((3, 6, 6, 6, 6, 12))
                raw["topic"] = rng.choice(self.topics)
            else:
                base = rng.choice((1, 1.5, 2, 3, 4, 6, 8, 12)) * diligence
                raw["hours"] = max(round(base * 4) / 4, 0.25)  # quarter hours: <= 2 decimals
                if item == "zhuanye.self":
                    raw["kind"] = rng.choice(self.kinds)
            raws.append(_place(rng, raw, self.period, self.first, self.days))
        return Teacher(), raws


class Lengshuijiang:
    """冷水江: school-year credits; caps per item, per category, geren+jiti, per cycle; highest_of
    per paper title, per project and for the resource network; role factors, bonuses, tables."""

    code = "lengshuijiang"
    period = "2023-2024"
    first, days = date(2023, 9, 1), 366
    weights = {
        "geren.attendance": 4, "geren.observation": 5, "geren.reading": 5, "geren.open_lesson": 6,
        "geren.paper": 11, "jiti.training": 24,
        "jiangli.project": 4, "jiangli.project_award": 2, "jiangli.lesson_award": 2,
        "jiangli.resource": 3, "jiangli.resource_build": 2,
        "teshu.support": 0.4, "teshu.songke": 2, "teshu.secondment": 0.2,
        "mianxiu.maternity": 0.6, "mianxiu.sick": 0.6,
        "waibu.training": 20, "waibu.adaptation": 4,
    }
    papers = ("论文：核心素养导向的单元教学设计", "论文：农村小学阅读习惯的培养", "论文：双减背景下的作业设计",
              "论文：信息技术与课堂融合")
    projects = ("课题：乡村学校劳动教育实践研究", "课题：初中数学分层作业研究", "课题：小学生心理健康干预")
    levels = ("school", "county", "city", "province", "national")
    awards = ("encourage", "third", "second", "first")

    def teacher(self, rng: random.Random, n: int, next_id) -> tuple[Teacher, list[dict]]:
        new = rng.random() < 0.08
        diligence = rng.uniform(0.2, 1.3)  # scales external training credits: most pass, not all
        # cycle_start = the assessed period: year 1 of the five-year cycle, one period per teacher
        teacher = Teacher(new_teacher=new, cycle_start=self.period)
        raws = []
        for item in _weighted(rng, self.weights, n):
            if item == "waibu.adaptation" and not new:
                item = "waibu.training"
            raw = {"item": item, "id": next_id()}
            r = rng.random
            if item == "geren.observation":
                raw["lessons"] = rng.randint(10, 60)
            elif item == "geren.open_lesson":
                raw["level"] = rng.choice(("school", "county", "校级", "县级"))
                if r() < 0.5:
                    raw["count"] = rng.randint(1, 3)
            elif item == "geren.paper":
                level = rng.choices(self.levels, weights=(30, 30, 20, 15, 5))[0]
                raw["title"] = rng.choice(self.papers)
                raw["level"] = level
                if level != "school":
                    raw["award"] = rng.choice(self.awards + ("一等奖", "三等奖"))
                    raw["published"] = level in ("province", "national") and r() < 0.5
            elif item == "jiti.training":
                raw["minutes"] = max(round(rng.choice((45, 90, 90, 120, 135, 180, 240)) * diligence / 15) * 15, 15)
            elif item == "jiangli.project":
                raw["project"] = rng.choice(self.projects)
                raw["level"] = rng.choices(self.levels, weights=(30, 35, 20, 12, 3))[0]
                if r() < 0.6:
                    raw["role"] = rng.choice(("host", "participant", "参与者"))
            elif item == "jiangli.project_award":
                raw["project"] = rng.choice(self.projects)
                raw["level"] = rng.choice(self.levels[1:])
                raw["award"] = rng.choice(self.awards[1:])
            elif item == "jiangli.lesson_award":
                raw["level"] = rng.choice(("city", "province", "national", "市级"))
                raw["award"] = rng.choice(self.awards[1:])
            elif item == "jiangli.resource":
                raw["points"] = rng.randint(40, 320)
            elif item == "jiangli.resource_build":
                raw["adopted"] = rng.randint(4, 20)
            elif item == "teshu.songke":
                raw["days"] = rng.choice((0.5, 1, 2, 3))
            elif item in ("mianxiu.maternity", "mianxiu.sick"):
                raw["months"] = rng.randint(1, 7)
            elif item == "waibu.training":
                raw["credits"] = max(round(rng.choice((2, 4, 6, 8, 10, 12.5, 15, 20)) * diligence * 2) / 2, 0.5)
            elif item == "waibu.adaptation":
                raw["credits"] = rng.choice((10, 20, 30))
            raws.append(_place(rng, raw, self.period, self.first, self.days))
        return teacher, raws


PROVINCES = {p.code: p for p in (Guangzhou(), Lengshuijiang())}


def build_pool(assessor, spec, rng: random.Random, size: int, n_claims: int):
    """``size`` distinct teachers, their claims parsed once into Claim objects."""
    ids = iter(range(1, 1 << 62))
    next_id = ids.__next__
    pool = []
    for _ in range(size):
        teacher, raws = spec.teacher(rng, n_claims, next_id)
        pool.append((teacher, assessor.parse_claims(raws)))
    return pool


def materialize(pool, start: int, stop: int, n_claims: int):
    """Teachers ``start..stop`` of the province: fresh copies of pool teachers taken in turn."""
    size = len(pool)
    chunk = []
    for i in range(start, stop):
        teacher, claims = pool[i % size]
        ref = i * n_claims
        chunk.append((teacher, [Claim(c.item, dict(c.values), c.period, c.on, ref + k)
                                for k, c in enumerate(claims)]))
    return chunk


# -- the timed loops ----------------------------------------------------------------------------
def time_floor(chunk, measure: str) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds of this process, checksum)."""
    gc.collect()
    cpu = time.process_time()
    start = time.perf_counter()
    checksum = 0
    for _teacher, claims in chunk:
        total = 0
        for claim in claims:
            total += claim.values.get(measure, 0)
        checksum += total
    return time.perf_counter() - start, time.process_time() - cpu, checksum


def time_engine(chunk, assess, period: str, explain: bool) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds of this process, teachers passed)."""
    gc.collect()
    cpu = time.process_time()
    start = time.perf_counter()
    passed = 0
    for teacher, claims in chunk:
        if assess(period, teacher, claims, explain=explain).passed:
            passed += 1
    return time.perf_counter() - start, time.process_time() - cpu, passed


def measure_memory(assessor, spec, seed: str, sample: int, n_claims: int) -> dict[str, float]:
    """Bytes per teacher held (tracemalloc, after gc) by: the teacher with its claims list, Claim
    objects and values dicts; one Assessment with explain=True; one with explain=False."""
    rng = random.Random(seed)
    ids = iter(range(10 ** 12, 1 << 62))
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        teachers = []
        for _ in range(sample):
            teacher, raws = spec.teacher(rng, n_claims, ids.__next__)
            teachers.append((teacher, assessor.parse_claims(raws)))
        del raws
        gc.collect()
        claims_bytes = tracemalloc.get_traced_memory()[0] - base
        out = {"claims": claims_bytes / sample}
        for explain in (True, False):
            gc.collect()
            before = tracemalloc.get_traced_memory()[0]
            kept = [assessor.assess(spec.period, t, c, explain=explain) for t, c in teachers]
            gc.collect()
            out[f"assessment_{explain}"] = (tracemalloc.get_traced_memory()[0] - before) / sample
            del kept
    finally:
        tracemalloc.stop()
    return out


# -- the run ------------------------------------------------------------------------------------
def fmt_int(n: float) -> str:
    return f"{n:,.0f}"


def run_one(registry, code: str, args, out) -> dict:
    spec = PROVINCES[code]
    assessor = registry.assessor(code)
    missing = set(assessor.bundle.items) - set(spec.weights)
    unknown = set(spec.weights) - set(assessor.bundle.items)
    if missing or unknown:
        raise SystemExit(f"{code}: the generator does not match the catalogue "
                         f"(missing {sorted(missing)}, unknown {sorted(unknown)})")
    measure = assessor.measures[0]
    pool_size = min(args.pool, args.teachers)
    rng = random.Random(f"{args.seed}:{code}")
    t0 = time.perf_counter()
    pool = build_pool(assessor, spec, rng, pool_size, args.claims)
    generation = time.perf_counter() - t0
    mix = Counter(c.item for _t, claims in pool for c in claims)
    n_pool_claims = sum(mix.values())
    print(f"\n== {code}: period {spec.period}, measure {measure}"
          + ("; every teacher in year 1 of the five-year cycle (cycle_start = the assessed period)"
             if assessor.j.cycle is not None else ""), file=out)
    print(f"   pool: {fmt_int(pool_size)} distinct teachers x {args.claims} claims generated and parsed in "
          f"{generation:.1f} s (untimed); the {fmt_int(args.teachers)} teachers are drawn from this pool", file=out)
    print("   claim mix: " + ", ".join(f"{item} {100 * n / n_pool_claims:.1f}%"
                                         for item, n in sorted(mix.items(), key=lambda kv: -kv[1])), file=out)

    # warm-up (untimed): compile the rules, touch every code path once
    for teacher, claims in pool[:500]:
        assessor.assess(spec.period, teacher, claims)
        assessor.assess(spec.period, teacher, claims, explain=False)

    assess = assessor.assess
    floor_s = explain_s = plain_s = 0.0
    cpu = {"floor": 0.0, "explain": 0.0, "plain": 0.0}
    passed = checksum = 0
    chunk_size = max(1, args.chunk)
    done = 0
    report_every = max(chunk_size, args.teachers // 5)
    next_report = report_every
    t_run = time.perf_counter()
    while done < args.teachers:
        stop = min(done + chunk_size, args.teachers)
        chunk = materialize(pool, done, stop, args.claims)
        s, c, total = time_floor(chunk, measure)
        floor_s += s
        cpu["floor"] += c
        checksum += total
        s, c, _ = time_engine(chunk, assess, spec.period, True)
        explain_s += s
        cpu["explain"] += c
        s, c, p = time_engine(chunk, assess, spec.period, False)
        plain_s += s
        cpu["plain"] += c
        passed += p
        done = stop
        del chunk
        if args.progress and next_report <= done < args.teachers:
            next_report += report_every
            print(f"   ... {fmt_int(done)} teachers, {time.perf_counter() - t_run:.0f} s", file=out, flush=True)
    wall = time.perf_counter() - t_run

    memory = measure_memory(assessor, spec, f"{args.seed}:{code}:memory", min(args.memory_sample, pool_size),
                            args.claims)
    n = args.teachers
    print(f"   timed in chunks of {fmt_int(min(chunk_size, n))} teachers; wall time of the timed phase "
          f"{wall:.1f} s (includes building the chunks); passed {100 * passed / n:.1f}%; "
          f"floor checksum {checksum / 1000:,.1f} {measure}", file=out)
    return {"code": code, "teachers": n, "claims": n * args.claims, "floor": floor_s,
            "explain": explain_s, "plain": plain_s, "cpu": cpu, "memory": memory, "measure": measure,
            "pool": pool_size, "sample": min(args.memory_sample, pool_size), "pool_list": pool}


def print_table(results, args, out) -> None:
    width = 138
    print("\n" + "=" * width, file=out)
    header = (f"{'jurisdiction':<14}{'mode':<15}{'teachers':>11}{'claims':>13}{'engine s':>10}"
              f"{'assess/s':>10}{'floor s':>9}{'engine/floor':>14}{'1M teachers':>13}{'wall/cpu':>9}{'cpu ratio':>11}"
              f"  targets (<=5x, <60 s)")
    print(header, file=out)
    print("-" * width, file=out)
    contended = []
    for r in results:
        for mode, key in (("explain=True", "explain"), ("explain=False", "plain")):
            engine = r[key]
            ratio = engine / r["floor"] if r["floor"] else float("inf")
            projected = engine / r["teachers"] * PROVINCE
            ok_ratio = "met" if ratio <= TARGET_RATIO else "MISSED"
            ok_time = "met" if projected < TARGET_SECONDS else "MISSED"
            share = engine / r["cpu"][key] if r["cpu"][key] else float("nan")
            cpu_ratio = r["cpu"][key] / r["cpu"]["floor"] if r["cpu"]["floor"] else float("nan")
            if share > 1.1:
                contended.append(f"{r['code']} {mode}")
            print(f"{r['code']:<14}{mode:<15}{fmt_int(r['teachers']):>11}{fmt_int(r['claims']):>13}"
                  f"{engine:>10.2f}{fmt_int(r['teachers'] / engine):>10}{r['floor']:>9.3f}"
                  f"{ratio:>13.1f}x{projected:>12.0f}s{share:>9.2f}{cpu_ratio:>10.1f}x  {ok_ratio}, {ok_time}", file=out)
    print("-" * width, file=out)
    print("wall/cpu = perf_counter seconds / process_time seconds of the engine loops: about 1.00 when the core "
          "was not shared; cpu ratio = engine/floor on process_time (less sensitive to other load)", file=out)
    if contended:
        print(f"WARNING: the CPU was shared with other processes during {', '.join(contended)} (wall/cpu > 1.1): "
              "figures are pessimistic; rerun on a quiet machine", file=out)
    print("memory per teacher (tracemalloc, bytes still held after gc, averaged over distinct teachers):", file=out)
    for r in results:
        m = r["memory"]
        print(f"  {r['code']:<14} claims {m['claims']:>8,.0f} B  (Teacher + claims list + {args.claims} Claim objects "
              f"with their values dicts; {m['claims'] / args.claims:,.0f} B/claim)", file=out)
        print(f"  {'':<14} Assessment explain=True {m['assessment_True']:>8,.0f} B   explain=False "
              f"{m['assessment_False']:>8,.0f} B   (sample: {fmt_int(r['sample'])} teachers)", file=out)
        total = m["claims"] + m["assessment_True"]
        print(f"  {'':<14} claims + explained Assessment: {total:,.0f} B/teacher -> "
              f"{total * PROVINCE / 2 ** 30:.1f} GiB for {fmt_int(PROVINCE)} teachers held at once", file=out)
    print(f"peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB", file=out)


def profile_engine(registry, results, args, out) -> None:
    """cProfile the engine (explain=True) on one chunk of each jurisdiction."""
    for r in results:
        spec = PROVINCES[r["code"]]
        assessor = registry.assessor(r["code"])
        n = min(args.chunk, r["teachers"], 20_000)
        chunk = materialize(r["pool_list"], 0, n, args.claims)
        profiler = cProfile.Profile()
        gc.collect()
        profiler.enable()
        for teacher, claims in chunk:
            assessor.assess(spec.period, teacher, claims)
        profiler.disable()
        for order in ("tottime", "cumulative"):
            buffer = io.StringIO()
            stats = pstats.Stats(profiler, stream=buffer)
            stats.strip_dirs().sort_stats(order).print_stats(args.profile_top)
            print(f"\n== cProfile {r['code']}: {fmt_int(n)} teachers, explain=True, by {order}", file=out)
            text = buffer.getvalue()
            print(text[text.find("   ncalls"):].rstrip(), file=out)


def code_version() -> str:
    """The commit the engine and plugins were loaded from, and whether they had local changes."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True,
                              text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "core", "plugins"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown (no git)"
    if not head:
        return "unknown (not a git checkout)"
    return head + (f" with {len(dirty.splitlines())} changed file(s) under core/ or plugins/" if dirty else " (clean)")


def command_line(args) -> str:
    python = os.path.relpath(sys.executable) if sys.executable.startswith(os.getcwd()) else sys.executable
    parts = [python, "-m", "bench.engine", "--teachers", str(args.teachers), "--claims", str(args.claims),
             "--jurisdiction", ",".join(args.codes), "--seed", str(args.seed), "--pool", str(args.pool),
             "--chunk", str(args.chunk), "--memory-sample", str(args.memory_sample)]
    if args.profile:
        parts.append("--profile")
    return " ".join(parts)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.engine", description=__doc__.split("\n\n")[0])
    parser.add_argument("--teachers", type=int, default=None,
                        help=f"teachers in the synthetic province (default {DEFAULT_TEACHERS:,}; --quick: {QUICK_TEACHERS:,})")
    parser.add_argument("--claims", type=int, default=DEFAULT_CLAIMS, help="claims per teacher (default 20)")
    parser.add_argument("--jurisdiction", default="guangzhou,lengshuijiang",
                        help=f"comma-separated; available: {','.join(PROVINCES)}")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--quick", action="store_true", help=f"a smoke run of {QUICK_TEACHERS:,} teachers")
    parser.add_argument("--pool", type=int, default=None,
                        help=f"distinct synthetic teachers (default {DEFAULT_POOL:,}; --quick: {QUICK_POOL:,})")
    parser.add_argument("--chunk", type=int, default=DEFAULT_CHUNK, help="teachers held in memory at once (default 50,000)")
    parser.add_argument("--memory-sample", type=int, default=None,
                        help=f"teachers measured with tracemalloc (default {DEFAULT_MEMORY_SAMPLE:,}; --quick: {QUICK_MEMORY_SAMPLE:,})")
    parser.add_argument("--profile", action="store_true", help="also cProfile the engine on one chunk")
    parser.add_argument("--profile-top", type=int, default=25)
    parser.add_argument("--no-progress", dest="progress", action="store_false")
    args = parser.parse_args(argv)
    if args.teachers is None:
        args.teachers = QUICK_TEACHERS if args.quick else DEFAULT_TEACHERS
    if args.pool is None:
        args.pool = QUICK_POOL if args.quick else DEFAULT_POOL
    if args.memory_sample is None:
        args.memory_sample = QUICK_MEMORY_SAMPLE if args.quick else DEFAULT_MEMORY_SAMPLE
    args.codes = [c.strip() for c in args.jurisdiction.replace("，", ",").split(",") if c.strip()]
    unknown = [c for c in args.codes if c not in PROVINCES]
    if unknown or not args.codes:
        parser.error(f"unknown jurisdiction {unknown} (available: {', '.join(PROVINCES)})")
    if min(args.teachers, args.claims, args.pool, args.chunk, args.memory_sample) < 1:
        parser.error("--teachers, --claims, --pool, --chunk and --memory-sample must be positive")
    out = sys.stdout
    print(f"bench.engine: {fmt_int(args.teachers)} teachers x {args.claims} claims per jurisdiction; seed {args.seed}; "
          f"Python {platform.python_version()} ({platform.python_implementation()}) on {platform.machine()}, "
          f"one process, time.perf_counter; gc enabled", file=out)
    registry = load_registry()
    print(f"code: commit {code_version()}", file=out)
    results = []
    t0 = time.perf_counter()
    for code in args.codes:
        results.append(run_one(registry, code, args, out))
    print_table(results, args, out)
    print("floor = a plain loop summing claim.values.get(measure, 0) per teacher over the same Claim objects; "
          f"targets: engine/floor <= {TARGET_RATIO:g}x, {fmt_int(PROVINCE)} teachers < {TARGET_SECONDS:g} s on one core",
          file=out)
    if args.profile:
        profile_engine(registry, results, args, out)
    print(f"\ntotal run {time.perf_counter() - t0:.0f} s. Reproduce (from the repository root):\n  {command_line(args)}",
          file=out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
