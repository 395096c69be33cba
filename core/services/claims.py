"""Claims: declare, edit, submit, withdraw, return, resubmit, reject, approve — one at a time or
in bulk. Every transition is a guarded UPDATE (the expected state and version in the WHERE) plus
one audit record, in one transaction; a registration recomputes the teacher's assessment."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from types import SimpleNamespace

from sqlalchemy import select, update

from .. import failpoints
from ..audit import append as audit_append
from ..claims import Claim as EngineClaim
from ..claimstore import dump_values
from ..db.models import Claim, OrgNode, Teacher
from ..db.scope import check_text, workflow_write
from ..errors import InputError, JijiaoError
from ..numbers import to_milli
from ..tree import ancestors, review_chain
from ..workflow import ConflictError, TransitionRefused
from . import NotFound, insert_unique
from .context import ClaimContext

CHUNK = 5000
INLINE_RECOMPUTE = 200  # more teachers than this after a bulk registration: a background job


@dataclass
class BulkReport:
    """What a bulk action did, claim by claim: ``ok`` and a reason for every other claim."""

    trigger: str
    ok: list[int] = field(default_factory=list)
    refused: dict[int, str] = field(default_factory=dict)
    job_id: int | None = None

    @property
    def summary(self) -> str:
        return f"成功 {len(self.ok)} 条，未处理 {len(self.refused)} 条"


class BatchRejected(InputError):
    """A batch with wrong rows: nothing was written; ``rows`` maps row index → reason."""

    def __init__(self, message: str, rows: dict[int, str]):
        super().__init__(message)
        self.rows = rows


@dataclass
class ImportReport:
    claims: int
    teachers: int
    job_id: int | None = None


def driver_integrity_errors() -> tuple:
    """IntegrityError classes raised by the raw driver (COPY bypasses SQLAlchemy's wrapping)."""
    try:
        import psycopg
        return (psycopg.errors.IntegrityError,)
    except ImportError:  # pragma: no cover
        return ()


DEDUP_LENGTH = 128  # Claim.dedup_key


def check_inputs(values: dict) -> None:
    """Text in a claim's inputs: no control characters (PostgreSQL refuses NUL in JSONB)."""
    for key, value in (values or {}).items():
        if isinstance(value, str):
            check_text(value, label=key, field=key, lines=True)


def dedup_key(period_key: str, on, values: dict, project_id: int | None = None) -> str:
    if project_id is not None:
        return f"project:{project_id}"
    certificate = values.get("certificate_no")
    if certificate:
        certificate = check_text(str(certificate), label="证书编号", field="certificate_no",
                                 max_length=DEDUP_LENGTH - len("cert:"))
        return f"cert:{certificate}"
    payload = json.dumps([period_key, str(on) if on else None, dump_values(values)], sort_keys=True,
                         ensure_ascii=False, default=str)
    return "sum:" + hashlib.sha1(payload.encode()).hexdigest()


class ClaimService:
    def __init__(self, services):
        self.s = services

    # -- declaring ---------------------------------------------------------------------------
    def declare(self, teacher_id: int, item: str, inputs: dict, *, period: str | None = None,
                on=None) -> Claim:
        """A teacher's declaration (a draft), or a school's registration (recorded) for a teacher."""
        actor = self.s.actor
        with self.s.transaction() as session:
            teacher = session.get(Teacher, teacher_id)
            if teacher is None:
                raise NotFound(f"找不到第{teacher_id}号教师，或不在您的管辖范围内")
            assessor = self.s.platform.registry.assessor(teacher.jurisdiction)
            catalogue_item = assessor.bundle.items.get(item)
            if catalogue_item is None:
                raise InputError(f"未知项目「{item}」", field="item")
            workflow = self._workflow_for(assessor, catalogue_item)
            claim, explanation = self._parse(session, assessor, teacher, item, inputs, period, on)
            check_inputs(claim.values)
            row = Claim(teacher_id=teacher.id, jurisdiction=teacher.jurisdiction, item_code=item,
                        period_key=claim.period, on_date=claim.on, inputs=dump_values(claim.values),
                        amount_milli=explanation["amount_milli"], explanation=explanation,
                        workflow=workflow, state=self.s.platform.workflows.get(workflow).definition.initial,
                        home_school_id=teacher.home_school_id, scope_path=teacher.scope_path,
                        dedup_key=dedup_key(claim.period, claim.on, claim.values), created_by=actor.user_id)
            insert_unique(session, row, f"{teacher.name}的「{catalogue_item.name}」已有相同内容的记录，不能重复申报")
            audit_append(session, [self.s.audit_entry(entity_type="claim", entity_id=row.id, trigger="declare",
                                                      from_state=None, to_state=row.state, scope_path=row.scope_path,
                                                      detail={"item": item, "inputs": row.inputs})])
            return row

    def _workflow_for(self, assessor, item) -> str:
        role = self.s.actor.role
        if item.channel in ("auto", "platform") and role != "system":
            raise InputError(f"「{item.name}」由平台自动记录，不能人工申报或登记", field="item")
        if role == "teacher":
            if item.channel != "declaration":
                raise InputError(f"「{item.name}」由学校或培训机构登记，教师不能自行申报", field="item")
            return "declaration"
        if role in ("school_admin", "organiser", "system"):
            return "registration"
        raise InputError("您的角色不能申报或登记学时")

    def _parse(self, session, assessor, teacher, item, inputs, period, on):
        from .assessments import teacher_facts
        raw = dict(inputs or {})
        raw["item"] = item
        if on is not None:
            raw["on"] = on
        if period is not None:
            raw["period"] = period
        claim: EngineClaim = assessor.parse_claims([raw])[0]
        today = self.s.platform.today()
        calendar = assessor.calendar
        claim.period = assessor.period_of(claim, today)
        facts = teacher_facts(session, teacher, claim.period if not calendar.personal else None)
        period_key = claim.period
        result = assessor.assess(period_key, facts, [claim]) if not calendar.personal or facts.cycle_start \
            or facts.employed_on else None
        if result is None:
            return claim, {"amount_milli": 0, "computed": {}, "notes": ["缺少周期起始日期，暂不能计算"]}
        explained = result.claims[0]
        measure = assessor.measures[0]
        return claim, {"amount_milli": to_milli(explained.computed[measure]),
                       "computed": {m: str(v) for m, v in explained.computed.items()},
                       "declared": {m: str(v) for m, v in (explained.declared or {}).items()},
                       "notes": explained.notes}

    def edit(self, claim_id: int, inputs: dict, *, expected_version: int, on=None) -> Claim:
        """Change a draft or a returned claim (the claimant only)."""
        with self.s.transaction() as session:
            claim = self._load(session, claim_id)
            if claim.state not in ("draft", "recorded", "returned"):
                raise TransitionRefused("只有草稿或被退回的记录可以修改")
            ctx = self._context(session, claim, None)
            if not ctx.actor_is_claimant():
                raise TransitionRefused("只有申报人本人（或录入该记录的管理员）可以修改")
            teacher = session.get(Teacher, claim.teacher_id)
            assessor = self.s.platform.registry.assessor(claim.jurisdiction)
            parsed, explanation = self._parse(session, assessor, teacher, claim.item_code, inputs,
                                              claim.period_key if not assessor.calendar.personal else None, on)
            check_inputs(parsed.values)
            values = dict(inputs=dump_values(parsed.values), on_date=parsed.on, period_key=parsed.period,
                          amount_milli=explanation["amount_milli"], explanation=explanation,
                          dedup_key=dedup_key(parsed.period, parsed.on, parsed.values),
                          version=claim.version + 1, updated_at=self.s.platform.clock())
            from sqlalchemy.exc import IntegrityError
            try:
                with session.begin_nested(), workflow_write(session):
                    result = session.execute(update(Claim).where(Claim.id == claim.id, Claim.state == claim.state,
                                                                 Claim.version == expected_version).values(**values)
                                             .execution_options(synchronize_session=False))
            except IntegrityError:
                raise InputError("修改后的内容与该教师已有的另一条记录相同，不能重复申报") from None
            if result.rowcount != 1:
                raise ConflictError("该记录已被修改（版本已变化），请刷新后重试")
            audit_append(session, [self.s.audit_entry(entity_type="claim", entity_id=claim.id, trigger="edit",
                                                      from_state=claim.state, to_state=claim.state,
                                                      scope_path=claim.scope_path, detail={"inputs": values["inputs"]})])
            session.expire(claim)
            return session.get(Claim, claim.id)

    # -- transitions -------------------------------------------------------------------------
    def submit(self, claim_id, **kw):
        return self.transition(claim_id, "submit", **kw)

    def withdraw(self, claim_id, **kw):
        return self.transition(claim_id, "withdraw", **kw)

    def resubmit(self, claim_id, **kw):
        return self.transition(claim_id, "resubmit", **kw)

    def return_(self, claim_id, reason, **kw):
        return self.transition(claim_id, "return", reason=reason, **kw)

    def reject(self, claim_id, reason, **kw):
        return self.transition(claim_id, "reject", reason=reason, **kw)

    def approve(self, claim_id, **kw):
        return self.transition(claim_id, "approve", **kw)

    def _load(self, session, claim_id) -> Claim:
        claim = session.get(Claim, claim_id)
        if claim is None:
            raise NotFound(f"找不到第{claim_id}号记录，或不在您的管辖范围内")
        return claim

    def _nodes(self, session, ids) -> dict[int, OrgNode]:
        ids = {i for i in ids if i is not None}
        return {n.id: n for n in session.scalars(select(OrgNode).where(OrgNode.id.in_(ids))
                                                 .execution_options(skip_scope=True))}

    def _context(self, session, claim, reason) -> ClaimContext:
        first = claim.review_chain[0] if claim.review_chain else None
        nodes = self._nodes(session, [claim.home_school_id, claim.reviewer_node_id, first])
        return ClaimContext(self.s, session, claim, reason, nodes)

    def _effects(self, session, tdef, claim, ctx) -> dict:
        """Column changes of the transition taken, besides state and version."""
        changes: dict = {"updated_at": self.s.platform.clock()}
        for effect in tdef.effects:
            if effect == "start_review":
                home = ctx.home()
                chain_nodes = ancestors(session, home)
                levels = self.s.platform.registry.bundle(claim.jurisdiction).review_levels
                above = home if claim.workflow == "registration" else None
                chain = [n.id for n in review_chain(chain_nodes, levels, above=above)]
                changes.update(review_chain=chain, level=0, reviewer_node_id=chain[0], reason=None)
            elif effect == "clear_review":
                changes.update(level=0, reviewer_node_id=None, review_chain=None)
            elif effect == "advance":
                changes.update(level=claim.level + 1, reviewer_node_id=claim.review_chain[claim.level + 1])
            elif effect == "keep_reason":
                changes.update(reason=ctx.reason, reviewer_node_id=None)
            elif effect == "register":
                changes.update(reviewer_node_id=None, registered_at=self.s.platform.clock())
            else:
                raise JijiaoError(f"未知的流程效果 {effect}")
        return changes

    def transition(self, claim_id: int, trigger: str, *, expected_version: int | None = None,
                   reason: str | None = None) -> Claim:
        """Fire ``trigger`` on one claim. ``expected_version`` is the version the actor saw: if the
        claim changed since, a ConflictError (nothing is written)."""
        check_text(reason, label="理由", field="reason", lines=True, max_length=2000)
        with self.s.transaction() as session:
            claim = self._load(session, claim_id)
            if expected_version is not None and claim.version != expected_version:
                raise ConflictError(f"第{claim.id}号记录已被他人处理（当前版本 {claim.version}，"
                                    f"您看到的是 {expected_version}），请刷新后重试")
            workflow = self.s.platform.workflows.get(claim.workflow)
            ctx = self._context(session, claim, reason)
            tdef = workflow.fire(trigger, claim.state, ctx)
            changes = self._effects(session, tdef, claim, ctx)
            with workflow_write(session):
                result = session.execute(
                    update(Claim).where(Claim.id == claim.id, Claim.state == claim.state,
                                        Claim.version == claim.version)
                    .values(state=tdef.dest, version=claim.version + 1, **changes)
                    .execution_options(synchronize_session=False))
            if result.rowcount != 1:
                raise ConflictError(f"第{claim.id}号记录已被他人处理（状态或版本已变化），请刷新后重试")
            audit_append(session, [self.s.audit_entry(entity_type="claim", entity_id=claim.id, trigger=trigger,
                                                      from_state=claim.state, to_state=tdef.dest,
                                                      scope_path=claim.scope_path, reason=reason)])
            if tdef.dest == "registered":
                self.s.assessments.recompute_in(session, claim.teacher_id)
            session.expire(claim)
            return session.get(Claim, claim.id)

    # -- an organiser's batch of registered claims --------------------------------------------------
    def import_registered(self, items: list[dict], *, source: str) -> "ImportReport":
        """Register a batch (an organiser's or a school's list): all rows or none. Every row is
        checked first; if any is wrong, nothing is written and every wrong row is reported."""
        with self.s.transaction() as session:
            return self.register_batch_in(session, items, source=source)

    def register_batch_in(self, session, items: list[dict], *, source: str, project_id: int | None = None):
        from .bulkload import allocate_ids, bulk_insert
        actor = self.s.actor
        if actor.role not in ("organiser", "school_admin", "reviewer", "system"):
            raise InputError("只有培训机构、学校或教研部门可以批量登记学时")
        now = self.s.platform.clock()
        teacher_ids = sorted({int(i["teacher_id"]) for i in items})
        teachers = {}
        for start in range(0, len(teacher_ids), CHUNK):
            for row in session.execute(select(Teacher.id, Teacher.jurisdiction, Teacher.home_school_id,
                                              Teacher.scope_path).where(Teacher.id.in_(teacher_ids[start:start + CHUNK]))):
                teachers[row.id] = row
        errors: dict[int, str] = {}
        rows = []
        registry = self.s.platform.registry
        for index, item in enumerate(items):
            teacher = teachers.get(int(item["teacher_id"]))
            if teacher is None:
                errors[index] = "教师不存在或不在您的管辖范围内"
                continue
            assessor = registry.assessor(teacher.jurisdiction)
            catalogue_item = assessor.bundle.items.get(item["item"])
            if catalogue_item is None or catalogue_item.channel not in ("organiser", "school"):
                errors[index] = f"「{item['item']}」不是可由机构批量登记的项目"
                continue
            raw = dict(item.get("inputs") or {}, item=item["item"])
            if item.get("period"):
                raw["period"] = item["period"]
            if item.get("on"):
                raw["on"] = item["on"]
            try:
                claim = assessor.parser.parse(raw)
                check_inputs(claim.values)
                dedup_key("", claim.on, claim.values, project_id)
            except InputError as exc:
                errors[index] = exc.describe()
                continue
            try:
                period = assessor.period_of(claim, now.date())
            except InputError as exc:
                errors[index] = exc.describe()
                continue
            values = dump_values(claim.values)
            rows.append({"id": None, "teacher_id": teacher.id, "jurisdiction": teacher.jurisdiction, "item_code": item["item"],
                         "period_key": period, "on_date": claim.on, "inputs": values,
                         "amount_milli": assessor.claim_amount(claim, period),
                         "explanation": None, "workflow": "registration", "state": "registered", "version": 1,
                         "level": 0, "review_chain": None, "reviewer_node_id": None,
                         "home_school_id": teacher.home_school_id,
                         "dedup_key": dedup_key(period, claim.on, claim.values, project_id),
                         "project_id": project_id, "reason": None, "scope_path": teacher.scope_path,
                         "created_by": actor.user_id, "created_at": now, "updated_at": now, "registered_at": now})
        if errors:
            shown = "；".join(f"第{i + 1}行：{m}" for i, m in list(errors.items())[:20])
            raise BatchRejected(f"批量登记未执行（全部或全不）：{len(errors)} 行有误。{shown}", errors)
        from sqlalchemy.exc import IntegrityError
        for row, new_id in zip(rows, allocate_ids(session, Claim, len(rows))):
            row["id"] = new_id
        columns = list(rows[0]) if rows else []
        try:
            with session.begin_nested():
                bulk_insert(session, Claim, rows, columns)
        except (IntegrityError, *driver_integrity_errors()):
            raise BatchRejected("批量登记未执行：其中有已登记过的记录（同一教师、同一项目、相同内容），"
                                "请先导出已登记名单核对", {}) from None
        entries = [self.s.audit_entry(entity_type="claim", entity_id=r["id"], trigger="register_batch",
                                      from_state=None, to_state="registered", scope_path=r["scope_path"],
                                      detail={"source": source}) for r in rows]
        audit_append(session, entries)
        affected = sorted({r["teacher_id"] for r in rows})
        job_id = None
        if len(affected) <= INLINE_RECOMPUTE:
            for teacher_id in affected:
                self.s.assessments.recompute_in(session, teacher_id)
        else:
            job_id = self.s.assessments.enqueue_recompute(session, affected)
        return ImportReport(len(rows), len(affected), job_id)

    # -- bulk ------------------------------------------------------------------------------------
    def bulk(self, trigger: str, claim_ids, *, reason: str | None = None) -> BulkReport:
        """Approve or return (any trigger) a set of claims, with a result per claim.

        All-or-nothing for what is applied: the claims that may move are moved in ONE transaction
        with their audit records; the others are reported with the reason. If the process dies
        before the commit, nothing is applied; a retry re-checks every claim, so a claim moved by
        an earlier, committed run is reported as already handled and is never counted twice."""
        report = BulkReport(trigger)
        check_text(reason, label="理由", field="reason", lines=True, max_length=2000)
        ids = list(dict.fromkeys(int(i) for i in claim_ids))
        registered_teachers: set[int] = set()
        with self.s.transaction() as session:
            rows = []
            for start in range(0, len(ids), CHUNK):
                chunk = ids[start:start + CHUNK]
                rows += session.execute(select(
                    Claim.id, Claim.workflow, Claim.state, Claim.version, Claim.level, Claim.review_chain,
                    Claim.reviewer_node_id, Claim.home_school_id, Claim.jurisdiction, Claim.period_key,
                    Claim.teacher_id, Claim.created_by, Claim.scope_path).where(Claim.id.in_(chunk))).all()
            found = {r.id for r in rows}
            for claim_id in ids:
                if claim_id not in found:
                    report.refused[claim_id] = "找不到该记录，或不在您的管辖范围内"
            groups: dict[tuple, list] = {}
            for r in rows:
                key = (r.workflow, r.state, r.level, r.reviewer_node_id, r.home_school_id, r.jurisdiction,
                       r.period_key, json.dumps(r.review_chain))
                groups.setdefault(key, []).append(r)
            nodes = self._nodes(session, {r.home_school_id for r in rows} | {r.reviewer_node_id for r in rows}
                                | {r.review_chain[0] for r in rows if r.review_chain})
            entries = []
            for key, members in groups.items():
                first = SimpleNamespace(**members[0]._mapping)
                ctx = ClaimContext(self.s, session, first, reason, nodes)
                try:
                    tdef = self.s.platform.workflows.get(first.workflow).fire(trigger, first.state, ctx)
                    changes = self._effects(session, tdef, first, ctx)
                except JijiaoError as exc:
                    for r in members:
                        report.refused[r.id] = str(exc)
                    continue
                moved = []
                member_ids = [r.id for r in members]
                for start in range(0, len(member_ids), CHUNK):
                    chunk = member_ids[start:start + CHUNK]
                    with workflow_write(session):
                        result = session.execute(
                            update(Claim).where(Claim.id.in_(chunk), Claim.state == first.state,
                                                Claim.level == first.level)
                            .values(state=tdef.dest, version=Claim.version + 1, **changes)
                            .returning(Claim.id).execution_options(synchronize_session=False))
                    moved += [row[0] for row in result]
                failpoints.hit("bulk.after_update")
                moved_set = set(moved)
                for r in members:
                    if r.id in moved_set:
                        report.ok.append(r.id)
                        entries.append(self.s.audit_entry(entity_type="claim", entity_id=r.id, trigger=trigger,
                                                          from_state=r.state, to_state=tdef.dest,
                                                          scope_path=r.scope_path, reason=reason))
                        if tdef.dest == "registered":
                            registered_teachers.add(r.teacher_id)
                    else:
                        report.refused[r.id] = "该记录已被他人处理（状态已变化）"
            audit_append(session, entries)
            failpoints.hit("bulk.before_commit")
            if len(registered_teachers) <= INLINE_RECOMPUTE:
                for teacher_id in sorted(registered_teachers):
                    self.s.assessments.recompute_in(session, teacher_id)
            else:
                report.job_id = self.s.assessments.enqueue_recompute(session, sorted(registered_teachers))
        report.ok.sort()
        return report
