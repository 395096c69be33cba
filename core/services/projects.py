"""Training projects (培训项目): designed by an organiser, approved above where required, run,
completed, and their participants registered in one batch ("谁设计、谁登记")."""

from __future__ import annotations

from sqlalchemy import select, update

from ..audit import append as audit_append
from ..db.models import OrgNode, ProjectParticipant, Teacher, TrainingProject
from ..db.scope import check_text, workflow_write
from ..errors import InputError
from ..tree import ancestors, governing_jurisdiction
from ..workflow import ConflictError
from . import NotFound, insert_unique
from .context import ACTOR_REFUSALS

ORGANISER_ROLES = ("organiser", "school_admin", "reviewer")
KIND_NAMES = {"province": "省级", "city": "市级", "district": "区（县）级", "town": "镇（街）级", "school": "学校"}


class ProjectContext:
    def __init__(self, services, session, project, reason):
        self.s, self.session, self.entity, self.reason = services, session, project, reason
        self.actor = services.actor
        self.refusals, self.taken = [], None

    def actor_is_organiser(self):
        return self.actor.role in ORGANISER_ROLES and self.actor.node_id == self.entity.organiser_node_id

    def actor_is_approver(self):
        return self.actor.role == "reviewer" and self.actor.node_id == self.entity.approver_node_id

    def actor_is_claimant(self):
        return False

    def actor_is_current_reviewer(self):
        return False

    def actor_refusal(self, name):
        return ACTOR_REFUSALS.get(name, "您无权进行此操作")

    def completed_participants(self):
        return self.session.scalars(select(ProjectParticipant.id).where(
            ProjectParticipant.project_id == self.entity.id, ProjectParticipant.completed.is_(True)).limit(1)).all()


class ProjectService:
    def __init__(self, services):
        self.s = services

    def design(self, *, code: str, title: str, item_code: str, period_key: str, inputs: dict,
               needs_approval: bool = False, approver_kind: str = "city") -> TrainingProject:
        actor = self.s.actor
        if actor.role not in ORGANISER_ROLES:
            raise InputError("只有培训机构、学校或教研部门可以设计培训项目")
        check_text(code, label="项目编号", field="code", max_length=64)
        check_text(title, label="项目名称", field="title", max_length=200)
        with self.s.transaction() as session:
            node = session.get(OrgNode, actor.node_id)
            chain = ancestors(session, node)
            jurisdiction = governing_jurisdiction(chain)
            if jurisdiction is None:
                raise InputError(f"「{node.name}」及其上级都没有挂接地区插件")
            assessor = self.s.platform.registry.assessor(jurisdiction)
            item = assessor.bundle.items.get(item_code)
            if item is None:
                raise InputError(f"未知项目「{item_code}」", field="item_code")
            if item.channel not in ("organiser", "school"):
                raise InputError(f"「{item.name}」不是由机构批量登记的项目", field="item_code")
            parsed = assessor.parse_claims([dict(inputs, item=item_code, period=period_key)])[0]
            approver = None
            if needs_approval:
                approver = next((n for n in chain[1:] if n.kind == approver_kind), None)
                if approver is None:
                    raise InputError(f"「{node.name}」之上没有负责审批的{KIND_NAMES.get(approver_kind, approver_kind)}机构")
            from ..claimstore import dump_values
            # The inputs as given (validated above): the batch parses them again for each participant.
            project = TrainingProject(code=code, title=title, jurisdiction=jurisdiction, item_code=item_code,
                                      period_key=parsed.period or period_key, inputs=dump_values(dict(inputs)),
                                      organiser_node_id=node.id, needs_approval=needs_approval,
                                      approver_node_id=approver.id if approver else None, state="designed",
                                      scope_path=node.path, created_by=actor.user_id)
            insert_unique(session, project, f"本机构已有编号为「{code}」的培训项目", "code")
            audit_append(session, [self.s.audit_entry(entity_type="project", entity_id=project.id, trigger="design",
                                                      from_state=None, to_state="designed", scope_path=node.path,
                                                      detail={"title": title, "item": item_code})])
            return project

    def transition(self, project_id: int, trigger: str, *, reason: str | None = None) -> TrainingProject:
        check_text(reason, label="理由", field="reason", lines=True, max_length=2000)
        with self.s.transaction() as session:
            project = session.get(TrainingProject, project_id)
            if project is None:
                project = session.get(TrainingProject, project_id, execution_options={"skip_scope": True})
                if project is None or project.approver_node_id != self.s.actor.node_id:
                    raise NotFound(f"找不到第{project_id}号培训项目，或不在您的管辖范围内")
            workflow = self.s.platform.workflows.get(project.workflow)
            tdef = workflow.fire(trigger, project.state, ProjectContext(self.s, session, project, reason))
            with workflow_write(session):
                result = session.execute(update(TrainingProject).where(
                    TrainingProject.id == project.id, TrainingProject.version == project.version,
                    TrainingProject.state == project.state).values(state=tdef.dest, version=project.version + 1)
                    .execution_options(synchronize_session=False, skip_scope=True))
            if result.rowcount != 1:
                raise ConflictError("该培训项目已被他人处理，请刷新后重试")
            audit_append(session, [self.s.audit_entry(entity_type="project", entity_id=project.id, trigger=trigger,
                                                      from_state=project.state, to_state=tdef.dest,
                                                      scope_path=project.scope_path, reason=reason)])
            if tdef.dest == "participants_registered":
                self._register(session, project)
            session.expire(project)
            return session.get(TrainingProject, project.id, execution_options={"skip_scope": True})

    def enrol(self, project_id: int, teacher_ids: list[int], *, completed: bool = False) -> int:
        """Add participants (teachers in the organiser's subtree)."""
        with self.s.transaction() as session:
            project = session.get(TrainingProject, project_id)
            if project is None:
                raise NotFound(f"找不到第{project_id}号培训项目，或不在您的管辖范围内")
            found = set(session.scalars(select(Teacher.id).where(Teacher.id.in_(teacher_ids))))
            missing = [t for t in teacher_ids if t not in found]
            if missing:
                raise InputError(f"以下教师不存在或不在本机构管辖范围内：{missing[:10]}")
            existing = set(session.scalars(select(ProjectParticipant.teacher_id).where(
                ProjectParticipant.project_id == project_id)))
            new = [t for t in dict.fromkeys(teacher_ids) if t not in existing]
            session.add_all(ProjectParticipant(project_id=project_id, teacher_id=t, completed=completed) for t in new)
            return len(new)

    def mark_completed(self, project_id: int, teacher_ids: list[int]) -> int:
        with self.s.transaction() as session:
            if session.get(TrainingProject, project_id) is None:
                raise NotFound(f"找不到第{project_id}号培训项目，或不在您的管辖范围内")
            return session.execute(update(ProjectParticipant).where(
                ProjectParticipant.project_id == project_id, ProjectParticipant.teacher_id.in_(teacher_ids))
                .values(completed=True).execution_options(synchronize_session=False)).rowcount

    def _register(self, session, project: TrainingProject) -> None:
        """The organiser's batch: one registered claim per completed participant (in the same
        transaction as the project's own transition)."""
        rows = session.execute(select(ProjectParticipant.teacher_id).where(
            ProjectParticipant.project_id == project.id, ProjectParticipant.completed.is_(True))
            .execution_options(skip_scope=True)).scalars().all()
        items = [{"teacher_id": t, "item": project.item_code, "period": project.period_key,
                  "inputs": project.inputs} for t in rows]
        self.s.claims.register_batch_in(session, items, source=f"project:{project.id}", project_id=project.id)
