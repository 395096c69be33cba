"""The context the workflow guards see for one claim transition."""

from __future__ import annotations

from ..db.models import OrgNode

ACTOR_REFUSALS = {
    "claimant": "只有申报人本人（或录入该记录的管理员）可以进行此操作",
    "organiser": "只有设计该项目的机构可以进行此操作",
    "approver": "只有负责审批该项目的机构可以进行此操作",
}


class ClaimContext:
    """``entity`` is the claim (an ORM object or a row with the same attributes)."""

    def __init__(self, services, session, entity, reason: str | None, nodes: dict[int, OrgNode]):
        self.s = services
        self.session = session
        self.entity = entity
        self.reason = reason
        self.actor = services.actor
        self.nodes = nodes  # id -> OrgNode (home school and reviewers)
        self.refusals: list[str] = []
        self.taken = None

    def home(self) -> OrgNode:
        return self.nodes[self.entity.home_school_id]

    def reviewer(self) -> OrgNode | None:
        node_id = self.entity.reviewer_node_id
        return self.nodes.get(node_id) if node_id is not None else None

    def review_stage(self) -> str:
        """The window that governs the next review: the current reviewer's level, or for a claim
        that is not under review (returned, about to be resubmitted) the first level of its chain."""
        reviewer = self.reviewer()
        if reviewer is None and self.entity.review_chain:
            reviewer = self.nodes.get(self.entity.review_chain[0])
        return f"review_{reviewer.kind}" if reviewer is not None else "review"

    def is_last_level(self) -> bool:
        chain = self.entity.review_chain or []
        return self.entity.level >= len(chain) - 1

    def window_refusal(self, stage: str) -> str | None:
        home = self.home()
        who = f"「{home.name}」或其上级机构"
        return self.s.windows.refusal(self.session, self.entity.jurisdiction, stage, self.entity.period_key,
                                      home, who)

    def actor_is_claimant(self) -> bool:
        a, c = self.actor, self.entity
        if a.role == "teacher":
            return a.teacher_id == c.teacher_id and c.workflow == "declaration"
        if a.role in ("school_admin", "organiser"):
            return c.created_by == a.user_id or (c.workflow == "registration" and a.role == "school_admin"
                                                  and a.node_id == c.home_school_id)
        return False

    def actor_is_current_reviewer(self) -> bool:
        a = self.actor
        return (a.role in ("reviewer", "school_admin") and a.node_id is not None
                and a.node_id == self.entity.reviewer_node_id)

    def actor_is_organiser(self) -> bool:
        return False

    def actor_is_approver(self) -> bool:
        return False

    def actor_refusal(self, name: str) -> str:
        if name == "current_reviewer":
            reviewer = self.reviewer()
            if reviewer is None:
                return "该记录当前不在审核中"
            return f"该记录当前应由「{reviewer.name}」审核，您无权操作"
        return ACTOR_REFUSALS.get(name, "您无权进行此操作")

    def completed_participants(self):
        return []
