"""Assessment results: recomputed for a teacher on every registration (in the same transaction),
and for a whole subtree as a background job when a plugin's parameters change."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from ..claims import Claim as EngineClaim
from ..claimstore import load_values
from ..db.models import AssessmentResult, Claim, JobRecord, OrgNode, SchoolPeriodFact, Teacher
from ..errors import InputError, JijiaoError
from ..facts import Teacher as TeacherFacts
from ..numbers import to_milli
from ..tree import subtree
from . import NotFound

BATCH = 2000


def _cycle_start(value: str | None):
    if value and value.count("-") == 2:
        return date.fromisoformat(value)
    return value


def teacher_facts(session, teacher: Teacher, period_key: str | None, *, home: OrgNode | None = None,
                  parent_kind: str | None = None, summary_filed: bool | None = None) -> TeacherFacts:
    if home is None:
        home = session.get(OrgNode, teacher.home_school_id, execution_options={"skip_scope": True})
    if parent_kind is None and home is not None and home.parent_id is not None:
        parent = session.get(OrgNode, home.parent_id, execution_options={"skip_scope": True})
        parent_kind = parent.kind if parent else None
    if summary_filed is None:
        fact = None
        if period_key:
            fact = session.execute(select(SchoolPeriodFact.summary_filed).where(
                SchoolPeriodFact.node_id == teacher.home_school_id, SchoolPeriodFact.period_key == period_key)
                .execution_options(skip_scope=True)).scalar()
        summary_filed = True if fact is None else bool(fact)
    return TeacherFacts(new_teacher=teacher.new_teacher, employed_on=teacher.employed_on,
                        cycle_start=_cycle_start(teacher.cycle_start), city_direct=parent_kind == "city",
                        transferred_on=teacher.transferred_on, school_summary_filed=summary_filed)


def _upsert(session, rows: list[dict]) -> None:
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(AssessmentResult.__table__)
    stmt = stmt.on_conflict_do_update(
        index_elements=["teacher_id", "period_key"],
        set_={c: stmt.excluded[c] for c in ("jurisdiction", "total_milli", "result", "passed", "scope_path",
                                              "computed_at")})
    session.connection().execute(stmt, rows)  # one statement, executemany


class AssessmentService:
    def __init__(self, services):
        self.s = services

    def recompute_in(self, session, teacher_id: int) -> None:
        """Recompute one teacher's results in the caller's transaction (after a registration).
        The teacher row is locked first, so two registrations for one teacher never race."""
        session.execute(select(Teacher.id).where(Teacher.id == teacher_id).with_for_update()
                        .execution_options(skip_scope=True))
        self.recompute_teachers(session, [teacher_id])

    def recompute_teachers(self, session, teacher_ids: list[int]) -> int:
        """Recompute every period that has registered claims (or a stored result). Returns the
        number of results written."""
        platform = self.s.platform
        teachers = {t.id: t for t in session.scalars(select(Teacher).where(Teacher.id.in_(teacher_ids))
                                                     .execution_options(skip_scope=True))}
        claims: dict[int, list] = {tid: [] for tid in teachers}
        for row in session.execute(select(Claim.teacher_id, Claim.item_code, Claim.inputs, Claim.period_key,
                                          Claim.on_date, Claim.id)
                                   .where(Claim.teacher_id.in_(teacher_ids), Claim.state == "registered")
                                   .order_by(Claim.teacher_id, Claim.id).execution_options(skip_scope=True)):
            claims[row.teacher_id].append(row)
        existing: dict[int, set] = {tid: set() for tid in teachers}
        for tid, key in session.execute(select(AssessmentResult.teacher_id, AssessmentResult.period_key)
                                        .where(AssessmentResult.teacher_id.in_(teacher_ids))
                                        .execution_options(skip_scope=True)):
            existing[tid].add(key)
        homes = {n.id: n for n in session.scalars(select(OrgNode).where(
            OrgNode.id.in_({t.home_school_id for t in teachers.values()})).execution_options(skip_scope=True))}
        parents = {n.id: n.kind for n in session.scalars(select(OrgNode).where(
            OrgNode.id.in_({h.parent_id for h in homes.values() if h.parent_id})).execution_options(skip_scope=True))}
        summaries = {(f.node_id, f.period_key): f.summary_filed for f in session.scalars(
            select(SchoolPeriodFact).where(SchoolPeriodFact.node_id.in_(homes)).execution_options(skip_scope=True))}
        rows = []
        now = platform.clock()
        for tid, teacher in teachers.items():
            assessor = platform.registry.assessor(teacher.jurisdiction)
            parser = assessor.parser
            engine_claims = []
            for row in claims[tid]:
                item = assessor.bundle.items.get(row.item_code)
                if item is None:
                    continue  # an item the plugin no longer has: never counted, kept on record
                specs = parser.specs(item)[0]
                engine_claims.append(EngineClaim(row.item_code, load_values(specs, row.inputs), row.period_key,
                                                 row.on_date, row.id))
            periods = {c.period for c in engine_claims} | existing[tid]
            home = homes[teacher.home_school_id]
            for period_key in sorted(periods):
                facts = teacher_facts(session, teacher, period_key, home=home,
                                      parent_kind=parents.get(home.parent_id),
                                      summary_filed=summaries.get((home.id, period_key), True))
                try:
                    result = assessor.assess(period_key, facts, engine_claims, explain=False)
                except InputError:
                    continue  # e.g. a personal cycle without a start date: nothing to assess yet
                measure = assessor.measures[0]
                rows.append({"teacher_id": tid, "jurisdiction": teacher.jurisdiction, "period_key": period_key,
                             "total_milli": to_milli(result.totals[measure]), "result": _jsonable(result),
                             "passed": result.passed, "scope_path": teacher.scope_path, "computed_at": now})
        for start in range(0, len(rows), BATCH):
            _upsert(session, rows[start:start + BATCH])
        return len(rows)

    def enqueue_recompute(self, session, teacher_ids: list[int] | None = None, *, node_path: str | None = None) -> int:
        """A background job recomputing these teachers (or every teacher under ``node_path``)."""
        from .. import jobs
        job = JobRecord(kind="recompute", state="queued", total=len(teacher_ids or ()),
                        params={"teachers": teacher_ids, "node_path": node_path},
                        scope_path=node_path or self.s.actor.node_path, created_by=self.s.actor.user_id,
                        message="排队中")
        session.add(job)
        session.flush()
        jobs.enqueue_after_commit(session, "recompute", job.id, self.s.platform)
        return job.id

    def recompute_subtree(self, node_id: int | None = None) -> int:
        """Queue a recomputation of every teacher under a node (the actor's by default)."""
        with self.s.transaction() as session:
            node = session.get(OrgNode, node_id or self.s.actor.node_id)
            if node is None:
                raise NotFound("找不到该机构，或不在您的管辖范围内")
            return self.enqueue_recompute(session, node_path=node.path)

    def run_job(self, job_id: int) -> None:
        """The body of a recompute job: batches of teachers, progress written after each batch."""
        platform = self.s.platform
        with self.s.transaction() as session:
            job = session.get(JobRecord, job_id)
            if job is None:
                raise NotFound(f"找不到第{job_id}号任务")
            params = job.params or {}
            if params.get("teachers") is not None:
                teacher_ids = list(params["teachers"])
            else:
                low, high = subtree(params["node_path"])
                teacher_ids = list(session.scalars(select(Teacher.id).where(Teacher.scope_path.between(low, high))
                                                   .order_by(Teacher.id).execution_options(skip_scope=True)))
            job.state, job.total, job.done, job.message = "running", len(teacher_ids), 0, "计算中"
        try:
            done = 0
            for start in range(0, len(teacher_ids), BATCH):
                batch = teacher_ids[start:start + BATCH]
                with self.s.transaction() as session:
                    self.recompute_teachers(session, batch)
                    done += len(batch)
                    job = session.get(JobRecord, job_id)
                    job.done, job.message = done, f"已计算 {done}/{len(teacher_ids)} 名教师"
            with self.s.transaction() as session:
                job = session.get(JobRecord, job_id)
                job.state, job.message, job.finished_at = "done", f"完成：{done} 名教师", platform.clock()
        except JijiaoError as exc:
            with self.s.transaction() as session:
                job = session.get(JobRecord, job_id)
                job.state, job.message, job.finished_at = "failed", str(exc), platform.clock()
            raise


def _jsonable(result) -> dict:
    return result.to_dict(explain=False)
