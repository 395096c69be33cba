"""Maintaining the organisation tree (provincial IT): adding a node, moving a subtree, attaching
or detaching a jurisdiction plugin, and the review-chain check of every school under a node.

Every change is one service transaction (``Services.transaction``: reads in the actor's scope,
writes the service-owned rows, and ``skip_scope`` only to read the ancestors of a node in scope),
with its audit row in the same transaction. The actor's role is checked here (the data layer
trusts a service session). A move rewrites the materialized paths of the whole subtree and the
``scope_path`` of the rows that live in it (teachers, claims, evidence, ...) with determinate values
(one statement per old path, so that the data layer checks every owner column it sets), but never
the audit trail, whose rows are hash-chained and keep the path they were written with.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import not_, or_, select, update

from ..audit import append as audit_append
from ..db.models import NODE_KINDS, SCOPED_MODELS, AuditRecord, Claim, OrgNode, Teacher
from ..errors import InputError
from ..tree import PATH_END, add_node, ancestors, governing_jurisdiction, review_chain
from . import NotFound

KIND_WORDS = {"province": "省", "city": "市", "district": "区（县）", "town": "乡镇（中心校）", "school": "学校"}
NAME_MAX = 200


def _require_admin(services) -> None:
    if services.actor.role not in ("platform_admin", "system"):
        raise InputError("只有平台管理员可以维护机构树")


def _node(session, node_id, what="机构") -> OrgNode:
    node = session.get(OrgNode, node_id) if node_id is not None else None
    if node is None:
        raise NotFound(f"找不到该{what}，或不在您的管辖范围内")
    return node


def _audit(services, session, node: OrgNode, trigger: str, detail: dict, *, from_state=None, to_state=None):
    audit_append(session, [services.audit_entry(entity_type="org_node", entity_id=node.id, trigger=trigger,
                                                from_state=from_state, to_state=to_state,
                                                scope_path=node.path, detail=detail)])


def _check_level(services, code: str, kind: str, name: str) -> None:
    """A plugin attaches at the level it declares (``jurisdiction.yaml``'s ``level``)."""
    j = services.platform.registry.bundle(code).jurisdiction
    if j.level != kind:
        raise InputError(f"地区插件「{j.name}」（{code}）应挂接在{KIND_WORDS.get(j.level, j.level)}级机构上，"
                         f"而「{name}」是{KIND_WORDS.get(kind, kind)}", field="jurisdiction")


def _teachers_governed_by(session, node: OrgNode):
    """A query of the teachers under ``node`` whose rules come from the plugin governing ``node``
    (not from a plugin attached further down)."""
    low = node.path
    overriding = session.scalars(select(OrgNode.path).where(OrgNode.path > low, OrgNode.path < low + PATH_END,
                                                            OrgNode.jurisdiction.is_not(None))).all()
    q = select(Teacher.id, Teacher.jurisdiction).where(Teacher.scope_path.between(low, low + PATH_END))
    if overriding:
        q = q.where(not_(or_(*[Teacher.scope_path.between(p, p + PATH_END) for p in overriding])))
    return q


def _refuse_if_teachers_change(session, node: OrgNode, new_code: str | None, action: str) -> None:
    row = session.execute(_teachers_governed_by(session, node)
                          .where(or_(Teacher.jurisdiction != new_code, Teacher.jurisdiction.is_(None))
                                 if new_code else Teacher.id.is_not(None)).limit(1)).first()
    if row is not None:
        raise InputError(f"「{node.name}」下已有按「{row.jurisdiction}」考核的教师；{action}会改变他们适用的考核规则，"
                         f"不能进行。请先将这些教师调出，或在其学校所在的下级机构上挂接插件。")


class OrgTreeService:
    """Attach where used: ``OrgTreeService(services())``."""

    def __init__(self, services):
        self.s = services

    # -- adding ------------------------------------------------------------------------------
    def add_node(self, parent_id: int, kind: str, name: str, *, code: str | None = None,
                 jurisdiction: str | None = None) -> OrgNode:
        _require_admin(self.s)
        name = (name or "").strip()
        code = (code or "").strip() or None
        if not name:
            raise InputError("请填写机构名称", field="name")
        if len(name) > NAME_MAX:
            raise InputError(f"机构名称不能超过 {NAME_MAX} 个字", field="name")
        if code is not None and len(code) > 64:
            raise InputError("机构代码不能超过 64 个字符", field="code")
        if kind not in NODE_KINDS:
            raise InputError("请选择机构层级", field="kind")
        if jurisdiction:
            _check_level(self.s, jurisdiction, kind, name)
        with self.s.transaction() as session:
            parent = _node(session, parent_id, "上级机构")
            if code is not None and session.scalar(select(OrgNode.id).where(OrgNode.code == code)
                                                   .execution_options(skip_scope=True)) is not None:
                raise InputError(f"机构代码「{code}」已被使用", field="code")
            if NODE_KINDS.index(kind) <= NODE_KINDS.index(parent.kind):
                raise InputError(f"{KIND_WORDS[kind]}不能设在{KIND_WORDS[parent.kind]}「{parent.name}」之下",
                                 field="kind")
            node = add_node(session, parent, kind, name, code=code, jurisdiction=jurisdiction or None)
            session.flush()
            _audit(self.s, session, node, "create", {"parent_id": parent.id, "kind": kind, "name": name,
                                                      "code": code, "jurisdiction": jurisdiction or None},
                   to_state="active")
            return node

    # -- moving ------------------------------------------------------------------------------
    def move_node(self, node_id: int, new_parent_id: int) -> OrgNode:
        """Move ``node`` and its subtree under ``new_parent``: refused under the node itself or
        its descendants, under a parent of the same or a lower kind, when the plugin that governs
        teachers in the subtree would change, and while records in it are under review (their
        review chains name the old ancestors)."""
        _require_admin(self.s)
        with self.s.transaction() as session:
            node = _node(session, node_id)
            parent = _node(session, new_parent_id, "目标上级机构")
            if node.parent_id is None or node.path == self.s.actor.node_path:
                raise InputError("不能移动最上级机构（或您本人所在的机构）")
            if parent.id == node.id or parent.path.startswith(node.path):
                raise InputError(f"不能把「{node.name}」移到它自己或它的下级机构之下")
            if parent.id == node.parent_id:
                raise InputError(f"「{node.name}」已在「{parent.name}」之下")
            if NODE_KINDS.index(node.kind) <= NODE_KINDS.index(parent.kind):
                raise InputError(f"{KIND_WORDS[node.kind]}「{node.name}」不能移到{KIND_WORDS[parent.kind]}"
                                 f"「{parent.name}」之下")
            if node.jurisdiction is None:
                before = governing_jurisdiction(ancestors(session, node))
                after = governing_jurisdiction(ancestors(session, parent))
                if before != after:
                    _refuse_if_teachers_change(session, node, after, "移动")
            under_review = session.scalar(select(Claim.id).where(Claim.scope_path.between(node.path, node.path + PATH_END),
                                                                 Claim.reviewer_node_id.is_not(None)).limit(1))
            if under_review is not None:
                raise InputError(f"「{node.name}」下有正在审核的记录，移动会使其审核链失效：请待审核结束后再移动")
            old_path, old_parent_id = node.path, node.parent_id
            new_path = f"{parent.path}{node.id}/"
            delta = parent.depth + 1 - node.depth
            high = old_path + PATH_END

            def moved(path: str) -> str:
                return new_path + path[len(old_path):]

            subtree = session.execute(select(OrgNode.id, OrgNode.path, OrgNode.depth)
                                      .where(OrgNode.path.between(old_path, high))).all()
            session.execute(update(OrgNode).where(OrgNode.id == node.id).values(parent_id=parent.id)
                            .execution_options(synchronize_session=False))
            for row in subtree:
                session.execute(update(OrgNode).where(OrgNode.id == row.id)
                                .values(path=moved(row.path), depth=row.depth + delta)
                                .execution_options(synchronize_session=False))
            for model in SCOPED_MODELS:
                if model is AuditRecord:
                    continue  # hash-chained: rows keep the path they were written with
                paths = session.scalars(select(model.scope_path).where(model.scope_path.between(old_path, high))
                                        .distinct()).all()
                for path in paths:  # a row's scope_path is a node's path: few distinct values
                    session.execute(update(model).where(model.scope_path == path).values(scope_path=moved(path))
                                    .execution_options(synchronize_session=False))
            session.expire_all()
            node = session.get(OrgNode, node_id)
            _audit(self.s, session, node, "move", {"from_parent_id": old_parent_id, "to_parent_id": parent.id,
                                                    "from_path": old_path, "to_path": new_path})
            return node

    # -- plugins -----------------------------------------------------------------------------
    def set_jurisdiction(self, node_id: int, code: str | None) -> OrgNode:
        """Attach the plugin ``code`` at the node (``None`` or "" detaches it)."""
        _require_admin(self.s)
        code = (code or "").strip() or None
        if code is not None:
            self.s.platform.registry.bundle(code)
        with self.s.transaction() as session:
            node = _node(session, node_id)
            if node.jurisdiction == code:
                raise InputError("该机构已是这一设置，无需更改")
            if code is not None:
                _check_level(self.s, code, node.kind, node.name)
            previous = node.jurisdiction
            effective = code if code is not None else governing_jurisdiction(ancestors(session, node)[1:])
            old_effective = governing_jurisdiction(ancestors(session, node))
            if effective != old_effective:
                _refuse_if_teachers_change(session, node, effective, "更换插件" if code else "取消挂接")
            node.jurisdiction = code
            session.flush()
            _audit(self.s, session, node, "attach_plugin" if code else "detach_plugin",
                   {"from": previous, "to": code}, from_state=previous, to_state=code)
            return node

    # -- reading -----------------------------------------------------------------------------
    def governing(self, node_id: int) -> str | None:
        """The plugin governing a node in scope (attached at it or at its nearest ancestor, which
        may lie above the actor's node: read in a service session)."""
        _require_admin(self.s)
        with self.s.transaction() as session:
            return governing_jurisdiction(ancestors(session, _node(session, node_id)))

    def chain_check(self, node_id: int, *, limit: int = 500) -> "ChainReport":
        """Resolve the review chain of every school under the node (in scope) for its plugin's
        levels; the schools whose chain is incomplete (or that no plugin governs) with the reason."""
        _require_admin(self.s)
        with self.s.transaction() as session:
            return self._chain_check(session, _node(session, node_id), limit=limit)

    def _chain_check(self, session, node: OrgNode, *, limit: int) -> "ChainReport":
        registry = self.s.platform.registry
        low, high = node.path, node.path + PATH_END
        schools = session.execute(select(OrgNode.id, OrgNode.name, OrgNode.path, OrgNode.kind, OrgNode.jurisdiction)
                                  .where(OrgNode.path.between(low, high), OrgNode.kind == "school")
                                  .order_by(OrgNode.path)).all()
        needed: set[int] = set()
        for s in schools:
            needed.update(int(p) for p in s.path.strip("/").split("/"))
        nodes: dict[int, OrgNode] = {}
        ids = sorted(needed)
        for i in range(0, len(ids), 900):  # ancestors may lie above the actor's node: read them all
            for n in session.scalars(select(OrgNode).where(OrgNode.id.in_(ids[i:i + 900]))
                                     .execution_options(skip_scope=True)):
                nodes[n.id] = n
        report = ChainReport(node=node)
        for s in schools:
            report.checked += 1
            chain = [nodes[int(p)] for p in reversed(s.path.strip("/").split("/")) if int(p) in nodes]
            code = governing_jurisdiction(chain)
            problem = None
            reviewers: list[OrgNode] = []
            if code is None:
                problem = "该学校及其上级都没有挂接地区插件"
            else:
                try:
                    levels = registry.bundle(code).review_levels
                    reviewers = review_chain(chain, list(levels))
                except InputError as exc:
                    problem = exc.message if hasattr(exc, "message") else str(exc)
            if problem is not None:
                report.incomplete_count += 1
                if len(report.incomplete) < limit:
                    report.incomplete.append(ChainProblem(s.id, s.name, _path_names(chain), code, problem))
            elif len(report.samples) < 3:
                report.samples.append((s.name, code, [r.name for r in reviewers]))
        return report


def _path_names(chain: list[OrgNode]) -> str:
    return " / ".join(n.name for n in reversed(chain))


@dataclass
class ChainProblem:
    school_id: int
    school: str
    path: str
    jurisdiction: str | None
    problem: str


@dataclass
class ChainReport:
    node: OrgNode
    checked: int = 0
    incomplete_count: int = 0
    incomplete: list[ChainProblem] = field(default_factory=list)
    samples: list = field(default_factory=list)
