"""The organisation tree: materialized paths ("/1/5/23/"), subtrees as one index range, the
jurisdiction governing a node, and the review chain of a claim."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from .db.models import NODE_KINDS, OrgNode
from .errors import InputError
from .types import ReviewLevel

PATH_END = "~"  # sorts after "/" and every digit: [path, path + "~") is the subtree


def subtree(path: str) -> tuple[str, str]:
    return path, path + PATH_END


def in_subtree(path: str, root_path: str) -> bool:
    return path.startswith(root_path)


def add_node(session: Session, parent: OrgNode | None, kind: str, name: str, *, code: str | None = None,
             jurisdiction: str | None = None) -> OrgNode:
    if kind not in NODE_KINDS:
        raise InputError(f"机构层级应为 {'、'.join(NODE_KINDS)} 之一", field="kind")
    if parent is not None and NODE_KINDS.index(kind) <= NODE_KINDS.index(parent.kind):
        raise InputError(f"「{name}」（{kind}）不能挂在「{parent.name}」（{parent.kind}）之下", field="parent")
    provisional = f"{parent.path if parent else '/'}new-{uuid.uuid4().hex}/"  # in scope, unique
    node = OrgNode(parent_id=parent.id if parent else None, kind=kind, name=name, code=code,
                   jurisdiction=jurisdiction, path=provisional, depth=(parent.depth + 1) if parent else 0)
    session.add(node)
    session.flush()
    node.path = f"{parent.path if parent else '/'}{node.id}/"
    return node


def ancestors(session: Session, node: OrgNode) -> list[OrgNode]:
    """The node and its ancestors, from the node upwards."""
    ids = node.ancestor_ids
    rows = {n.id: n for n in session.scalars(select(OrgNode).where(OrgNode.id.in_(ids))
                                             .execution_options(skip_scope=True))}
    return [rows[i] for i in reversed(ids) if i in rows]


def governing_jurisdiction(chain: list[OrgNode]) -> str | None:
    """The plugin attached at the nearest node (the node itself first)."""
    return next((n.jurisdiction for n in chain if n.jurisdiction), None)


def review_chain(chain: list[OrgNode], levels: list[ReviewLevel], *, above: OrgNode | None = None) -> list[OrgNode]:
    """The reviewers of a claim whose home school is ``chain[0]``: for each review level in order,
    the next ancestor whose kind the level names. An optional level with no such ancestor (a
    main-city school directly under its district has no town) is skipped. With ``above``, the
    levels at or below that node are already done (a school's own registration)."""
    position = 0
    if above is not None:
        position = next(i for i, n in enumerate(chain) if n.id == above.id) + 1
    reviewers: list[OrgNode] = []
    for level in sorted(levels, key=lambda lv: lv.order):
        if above is not None and (above.kind in level.node_kinds or
                                  min(NODE_KINDS.index(k) for k in level.node_kinds) >= NODE_KINDS.index(above.kind)):
            continue  # the registrar's own level (or one below it): registering is that level's act
        match = next((i for i in range(position, len(chain)) if chain[i].kind in level.node_kinds), None)
        if match is None:
            if level.optional:
                continue
            raise InputError(f"审核链不完整：「{chain[0].name}」之上没有「{level.name}」所需的机构"
                             f"（{'/'.join(level.node_kinds)}）")
        reviewers.append(chain[match])
        position = match + 1
    if not reviewers:
        raise InputError(f"「{chain[0].name}」没有可用的审核层级")
    return reviewers
