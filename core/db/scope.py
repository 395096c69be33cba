"""Scope in the data layer: a session bound to an actor sees only the actor's subtree (a teacher:
only themself) in every ORM query, and cannot write outside it.

Enforced once, underneath every view, command and job: ``do_orm_execute`` adds
``with_loader_criteria`` to every ORM SELECT, UPDATE and DELETE, and ``before_flush`` refuses
new, changed or deleted rows outside the scope. ``execution_options(skip_scope=True)`` is for the
few internal lookups that must see the tree above the actor (their own ancestors).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import event, select
from sqlalchemy.orm import Session, with_loader_criteria

from ..errors import JijiaoError
from .models import SCOPED_MODELS, AssessmentResult, AuditRecord, Claim, Evidence, OrgNode, Teacher

PATH_END = "~"


class ScopeError(JijiaoError):
    """A write outside the actor's scope."""


@dataclass(frozen=True)
class Actor:
    """Who acts: a user in one role at one node (a teacher: their own record)."""

    user_id: int | None
    name: str
    role: str
    node_id: int | None
    node_path: str
    teacher_id: int | None = None

    @classmethod
    def system(cls, name: str = "系统") -> "Actor":
        return cls(None, name, "system", None, "/", None)

    @property
    def read_only(self) -> bool:
        return self.role == "auditor"


def bind(session: Session, actor: Actor) -> Session:
    session.info["actor"] = actor
    return session


def _criteria(actor: Actor):
    if actor.role == "system":
        return []
    low, high = actor.node_path, actor.node_path + PATH_END
    options = [with_loader_criteria(OrgNode, lambda cls: cls.path.between(low, high), include_aliases=True)]
    if actor.role == "teacher":
        tid = actor.teacher_id if actor.teacher_id is not None else -1
        own_claims = select(Claim.id).where(Claim.teacher_id == tid).scalar_subquery()
        options += [
            with_loader_criteria(Teacher, lambda cls: cls.id == tid, include_aliases=True),
            with_loader_criteria(Claim, lambda cls: cls.teacher_id == tid, include_aliases=True),
            with_loader_criteria(AssessmentResult, lambda cls: cls.teacher_id == tid, include_aliases=True),
            with_loader_criteria(Evidence, lambda cls: cls.claim_id.in_(own_claims), include_aliases=True),
            with_loader_criteria(AuditRecord, lambda cls: (cls.entity_type == "claim") & cls.entity_id.in_(own_claims),
                                 include_aliases=True),
        ]
        others = [m for m in SCOPED_MODELS if m not in (Teacher, Claim, AssessmentResult, Evidence, AuditRecord)]
    else:
        others = list(SCOPED_MODELS)
    for model in others:
        options.append(with_loader_criteria(model, lambda cls: cls.scope_path.between(low, high),
                                            include_aliases=True))
    return options


@event.listens_for(Session, "do_orm_execute")
def _apply_scope(state):
    actor: Actor | None = state.session.info.get("actor")
    if actor is None or state.execution_options.get("skip_scope"):
        return
    if state.is_insert:
        if actor.read_only:
            raise ScopeError("审计员只能查看，不能修改数据")
        rows = state.parameters if isinstance(state.parameters, list) else [state.parameters or {}]
        for row in rows:
            path = row.get("scope_path") if isinstance(row, dict) else None
            if actor.role != "system" and path is not None and not path.startswith(actor.node_path):
                raise ScopeError("不能在管辖范围之外新增数据")
        return
    if state.is_select or state.is_update or state.is_delete:
        if actor.read_only and (state.is_update or state.is_delete):
            raise ScopeError("审计员只能查看，不能修改数据")
        state.statement = state.statement.options(*_criteria(actor))


def _within(actor: Actor, obj) -> bool:
    if actor.role == "system":
        return True
    if actor.role == "teacher":
        if isinstance(obj, Teacher):
            return obj.id == actor.teacher_id
        if hasattr(obj, "teacher_id"):
            return obj.teacher_id == actor.teacher_id
    if isinstance(obj, OrgNode):
        return bool(obj.path) and obj.path.startswith(actor.node_path)
    path = getattr(obj, "scope_path", None)
    if path is None:
        return True
    return path.startswith(actor.node_path)


@event.listens_for(Session, "before_flush")
def _check_writes(session, flush_context, instances):
    actor: Actor | None = session.info.get("actor")
    if actor is None:
        return
    changed = list(session.new) + list(session.dirty) + list(session.deleted)
    if actor.read_only and changed:
        raise ScopeError("审计员只能查看，不能修改数据")
    for obj in changed:
        if isinstance(obj, (OrgNode, *SCOPED_MODELS)) and not _within(actor, obj):
            raise ScopeError("不能修改管辖范围之外的数据")
