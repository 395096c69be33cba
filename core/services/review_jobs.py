"""A reviewer's queue and the background bulk review of it.

* ``QueueFilter`` + ``queue_select(actor, filter)``: the claims waiting at the actor's node (their
  ``reviewer_node_id``) in a review state, narrowed by the page's filters. Every condition is on
  an indexed column or narrows a scan that is already bounded by ``LIMIT`` on the primary key; a
  search matches a claim number, a whole ID number or a whole name exactly, never a prefix.
* ``ReviewJobService.enqueue_bulk(...)``: a ``JobRecord`` of kind ``review_bulk`` holding the
  trigger, the reason, the selected ids or the filter, and who asked; ``run(job_id)`` (called by
  the Huey task ``core.jobs.review_bulk``) resolves the claims, runs ``ClaimService.bulk`` on
  chunks of them (each chunk one transaction: what may move moves with its audit records, every
  other claim is reported with its reason) and stores the per-claim result in ``JobRecord.params``:
  ``{"ok": [ids], "refused": {reason: [ids]}}``. A rerun re-checks every claim (a claim already
  moved is reported as handled, never moved twice).
* ``ReviewPageService``: what a reviewer's pages read above the actor's subtree (the jurisdiction
  governing the actor's node, the review windows set and extended at ancestors), in a service
  session: a page session may not use ``skip_scope``. Only nodes the actor can see are asked
  about: a school outside the actor's scope gives no window, exactly like a missing one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from ..db.models import Claim, JobRecord, OrgNode, RoleAssignment, Teacher, User, WindowExtension
from ..db.scope import Actor
from ..errors import InputError, JijiaoError
from . import NotFound

QUEUE_STATES = ("submitted", "in_review")
BULK_TRIGGERS = ("approve", "return")
REVIEWER_ROLES = ("school_admin", "reviewer")
JOB_CHUNK = 1000
BADGE_CAP = 999
LOCAL = ZoneInfo("Asia/Shanghai")


@dataclass
class QueueFilter:
    """The page's filters, already validated (amounts in milli-units, dates in Asia/Shanghai)."""

    school_id: int | None = None
    school_path: str | None = None    # the school's path: the claims' ``scope_path`` (indexed)
    item: str | None = None
    state: str | None = None
    period: str | None = None
    amount_min: int | None = None
    amount_max: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    claim_id: int | None = None       # search: a claim number
    id_number: str | None = None      # search: a whole ID number
    teacher_name: str | None = None   # search: a whole name

    def to_params(self) -> dict:
        out = {}
        for key, value in asdict(self).items():
            if value is None:
                continue
            out[key] = value.isoformat() if isinstance(value, date) else value
        return out

    @classmethod
    def from_params(cls, params: dict | None) -> "QueueFilter":
        values = dict(params or {})
        for key in ("date_from", "date_to"):
            if values.get(key):
                values[key] = date.fromisoformat(values[key])
        return cls(**{k: v for k, v in values.items() if k in cls.__dataclass_fields__})

    @property
    def active(self) -> bool:
        return bool(self.to_params())


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, LOCAL)


def queue_conditions(actor: Actor, f: QueueFilter) -> list:
    states = (f.state,) if f.state else QUEUE_STATES
    conditions = [Claim.reviewer_node_id == (actor.node_id if actor.node_id is not None else -1),
                  Claim.state.in_(states)]
    if f.school_path is not None:
        conditions.append(Claim.scope_path.between(f.school_path, f.school_path + "~"))
    if f.school_id is not None:
        conditions.append(Claim.home_school_id == f.school_id)
    if f.item:
        conditions.append(Claim.item_code == f.item)
    if f.period:
        conditions.append(Claim.period_key == f.period)
    if f.amount_min is not None:
        conditions.append(Claim.amount_milli >= f.amount_min)
    if f.amount_max is not None:
        conditions.append(Claim.amount_milli <= f.amount_max)
    if f.date_from is not None:
        conditions.append(Claim.updated_at >= _day_start(f.date_from))
    if f.date_to is not None:
        conditions.append(Claim.updated_at < _day_start(date.fromordinal(f.date_to.toordinal() + 1)))
    if f.claim_id is not None:
        conditions.append(Claim.id == f.claim_id)
    if f.id_number:
        conditions.append(Claim.teacher_id.in_(select(Teacher.id).where(Teacher.id_number == f.id_number)))
    if f.teacher_name:
        conditions.append(Claim.teacher_id.in_(select(Teacher.id).where(Teacher.name == f.teacher_name)))
    return conditions


def queue_select(actor: Actor, f: QueueFilter, *columns):
    """The queue, newest first (the primary key: indexed)."""
    return select(*(columns or (Claim,))).where(*queue_conditions(actor, f)).order_by(Claim.id.desc())


def queue_count(session, actor: Actor, cap: int = BADGE_CAP) -> int:
    """How many claims wait for the actor, counted up to ``cap + 1`` (a bounded index range)."""
    if actor.node_id is None or actor.role not in REVIEWER_ROLES:
        return 0
    inner = select(Claim.id).where(*queue_conditions(actor, QueueFilter())).limit(cap + 1).subquery()
    return session.scalar(select(func.count()).select_from(inner)) or 0


def actor_params(actor: Actor) -> dict:
    return {"user_id": actor.user_id, "name": actor.name, "role": actor.role, "node_id": actor.node_id,
            "node_path": actor.node_path, "teacher_id": actor.teacher_id}


def actor_of_job(platform, job_id: int, kind: str) -> Actor:
    """The actor who queued a job, checked again now: the user is active and still holds the role
    at that node (a job never acts with rights its author has since lost)."""
    with platform.transaction(Actor.system()) as session:
        job = session.get(JobRecord, job_id)
        if job is None or job.kind != kind:
            raise NotFound(f"找不到第{job_id}号任务")
        a = (job.params or {}).get("actor") or {}
        holds = session.scalar(select(func.count()).select_from(RoleAssignment).join(User)
                               .where(RoleAssignment.user_id == a.get("user_id"), RoleAssignment.role == a.get("role"),
                                      RoleAssignment.node_id == a.get("node_id"), User.active.is_(True)))
        if not holds:
            job.state, job.message, job.finished_at = "failed", "发起人已无此角色或账号已停用，任务未执行", platform.clock()
            return None
        return Actor(a["user_id"], a["name"], a["role"], a["node_id"], a["node_path"], a.get("teacher_id"))


class ReviewPageService:
    """Reads of a reviewer's pages that reach above the actor's subtree (see the module doc)."""

    def __init__(self, services):
        self.s = services

    def governing_jurisdiction(self) -> str | None:
        """The jurisdiction whose plugin governs the actor's own node (attached there or above)."""
        from ..tree import ancestors, governing_jurisdiction
        actor = self.s.actor
        if actor.node_id is None:
            return None
        with self.s.transaction() as session:
            node = session.get(OrgNode, actor.node_id)  # in scope: the actor's own node
            return governing_jurisdiction(ancestors(session, node)) if node is not None else None

    def windows(self, stage: str, keys) -> dict:
        """The window of ``stage`` per key ``(jurisdiction, period_key, school_id)``; ``None`` when
        the plugin sets none, the key is wrong, or the school is not in the actor's scope. When no
        extension of the stage applies to any of the schools, every school of a jurisdiction and
        period has the same window: it is looked up once (the keys stay per school)."""
        keys = set(keys)
        out: dict = {}
        if not keys:
            return out
        with self.s.transaction() as session:
            homes = {n.id: n for n in session.scalars(
                select(OrgNode).where(OrgNode.id.in_({k[2] for k in keys if k[2] is not None})))}  # scoped
            above = {i for node in homes.values() for i in node.ancestor_ids}
            extended = bool(above) and session.scalar(
                select(WindowExtension.id).where(WindowExtension.stage == stage, WindowExtension.node_id.in_(above))
                .limit(1).execution_options(skip_scope=True)) is not None  # ancestors of nodes in scope
            shared: dict = {}
            for key in keys:
                jurisdiction, period_key, school_id = key
                home = homes.get(school_id)
                if home is None:
                    out[key] = None
                    continue
                cache_key = (jurisdiction, period_key, school_id if extended else None)
                if cache_key not in shared:
                    try:
                        shared[cache_key] = self.s.windows.window(session, jurisdiction, stage, period_key, home)
                    except (JijiaoError, KeyError, ValueError):
                        shared[cache_key] = None
                out[key] = shared[cache_key]
        return out


class ReviewJobService:
    def __init__(self, services):
        self.s = services

    def enqueue_bulk(self, trigger: str, *, ids: list[int] | None = None, queue_filter: QueueFilter | None = None,
                     reason: str | None = None) -> int:
        """Queue a bulk approval or return of the selected claims (``ids``) or of every claim of the
        actor's queue matching ``queue_filter``. Returns the job's id."""
        from .. import jobs
        actor = self.s.actor
        if actor.role not in REVIEWER_ROLES:
            raise InputError("只有学校管理员或审核员可以批量审核")
        if trigger not in BULK_TRIGGERS:
            raise InputError("批量操作只能是审核通过或退回", field="action")
        reason = (reason or "").strip() or None
        if trigger == "return" and not reason:
            raise InputError("退回须填写原因", field="reason")
        if ids is None and queue_filter is None:
            raise InputError("请选择要处理的记录")
        if ids is not None:
            ids = sorted({int(i) for i in ids})
            if not ids:
                raise InputError("请先勾选要处理的记录")
        params = {"trigger": trigger, "reason": reason, "actor": actor_params(actor),
                  "ids": ids, "filter": queue_filter.to_params() if queue_filter is not None else None}
        with self.s.transaction() as session:
            job = JobRecord(kind="review_bulk", state="queued", total=len(ids) if ids is not None else 0, done=0,
                            params=params, scope_path=actor.node_path, created_by=actor.user_id, message="排队中")
            session.add(job)
            session.flush()
            jobs.enqueue_after_commit(session, "review_bulk", job.id, self.s.platform)
            return job.id

    def run(self, job_id: int) -> None:
        platform = self.s.platform
        with self.s.transaction() as session:
            job = session.get(JobRecord, job_id)
            if job is None:
                raise NotFound(f"找不到第{job_id}号任务")
            params = dict(job.params or {})
            if params.get("ids") is not None:
                ids = list(params["ids"])
            else:
                f = QueueFilter.from_params(params.get("filter"))
                ids = list(session.scalars(queue_select(self.s.actor, f, Claim.id).order_by(None)
                                           .order_by(Claim.id)))
            job.state, job.total, job.done, job.message = "running", len(ids), 0, "处理中"
        ok: list[int] = []
        refused: dict[str, list[int]] = {}
        trigger, reason = params["trigger"], params.get("reason")
        failure = crash = None
        try:
            for start in range(0, len(ids), JOB_CHUNK):
                report = self.s.claims.bulk(trigger, ids[start:start + JOB_CHUNK], reason=reason)
                ok += report.ok
                for claim_id, why in report.refused.items():
                    refused.setdefault(why, []).append(claim_id)
                with self.s.transaction() as session:
                    job = session.get(JobRecord, job_id)
                    job.done = min(start + JOB_CHUNK, len(ids))
                    job.message = f"已处理 {job.done}/{len(ids)} 条：成功 {len(ok)} 条，未处理 {job.done - len(ok)} 条"
        except JijiaoError as exc:
            failure = str(exc)
        except Exception as exc:  # noqa: BLE001 - the job is marked failed, then the error goes to the worker's log
            failure, crash = "系统错误，请稍后重试或联系平台管理员", exc
        with self.s.transaction() as session:
            job = session.get(JobRecord, job_id)
            n_refused = sum(len(v) for v in refused.values())
            result = {"ok": sorted(ok), "refused": {k: sorted(v) for k, v in refused.items()}}
            job.params = {**params, "result": result}
            job.finished_at = platform.clock()
            if failure:
                job.state, job.message = "failed", f"中途出错：{failure}（已完成的部分：成功 {len(ok)} 条）"
            else:
                job.state = "done"
                job.message = f"完成：成功 {len(ok)} 条，未处理 {n_refused} 条"
        if crash is not None:
            raise crash


def run_review_job(platform, job_id: int) -> None:
    actor = actor_of_job(platform, job_id, "review_bulk")
    if actor is not None:
        ReviewJobService(platform.services(actor)).run(job_id)
