"""Stage windows (deadlines): the plugin's dated defaults, and reviewers' extensions for their
subtree. Stored dates checked by guards; nothing here is a timer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from ..audit import append as audit_append
from ..db.models import NODE_KINDS, OrgNode, WindowExtension
from ..db.scope import check_text
from ..errors import InputError
from ..periods import Calendar, Period, resolve_day
from . import NotFound

EXTENDERS = ("reviewer", "school_admin", "platform_admin")
TOP_LEVEL = ("platform_admin", "system")


def stage_level(stage: str) -> int:
    """The tree level a stage belongs to (an index into NODE_KINDS, 0 = province): a review stage
    ``review_<kind>`` is its kind's; any other review stage the top; submission stages (declare,
    register, …) the bottom."""
    if stage.startswith("review"):
        kind = stage[len("review_"):] if stage.startswith("review_") else None
        return NODE_KINDS.index(kind) if kind in NODE_KINDS else 0
    return len(NODE_KINDS)


@dataclass(frozen=True)
class Window:
    stage: str
    name: str
    opens: date
    closes: date
    extended_by: str | None = None  # the node whose extension is in force

    def contains(self, day: date) -> bool:
        return self.opens <= day <= self.closes

    def describe(self) -> str:
        extended = f"（已由{self.extended_by}延长）" if self.extended_by else ""
        return f"「{self.name}」时间为 {self.opens} 至 {self.closes}{extended}"


def period_for(calendar: Calendar, period_key: str, day: date) -> Period:
    """The period a window is resolved in: the claim's period, or for a personal cycle the
    calendar year of ``day``."""
    if calendar.personal:
        return Period(str(day.year), date(day.year, 1, 1), date(day.year, 12, 31))
    return calendar.period(period_key)


class WindowService:
    def __init__(self, services):
        self.s = services

    def window(self, session, jurisdiction: str, stage: str, period_key: str, node: OrgNode) -> Window | None:
        """The window of ``stage`` for claims under ``node``; None when the plugin sets none."""
        bundle = self.s.platform.registry.bundle(jurisdiction)
        spec = next((w for w in bundle.stage_windows if w.stage == stage), None)
        if spec is None:
            return None
        assessor = self.s.platform.registry.assessor(jurisdiction)
        period = period_for(assessor.calendar, period_key, self.s.platform.today())
        value = next((dv.value for dv in reversed(spec.values) if dv.start <= period.start), spec.values[0].value)
        opens = resolve_day(value.get("opens", period.start), period)
        closes = resolve_day(value["closes"], period)
        extensions = session.execute(
            select(WindowExtension, OrgNode.name).join(OrgNode, OrgNode.id == WindowExtension.node_id)
            .where(WindowExtension.jurisdiction == jurisdiction, WindowExtension.stage == stage,
                   WindowExtension.period_key == period_key, WindowExtension.node_id.in_(node.ancestor_ids))
            .execution_options(skip_scope=True)).all()
        extended_by = None
        for ext, node_name in extensions:
            if ext.closes > closes:
                closes, extended_by = ext.closes, node_name
            if ext.opens is not None and ext.opens < opens:
                opens = ext.opens
        return Window(stage, spec.name, opens, closes, extended_by)

    def refusal(self, session, jurisdiction, stage, period_key, node: OrgNode, who: str) -> str | None:
        window = self.window(session, jurisdiction, stage, period_key, node)
        if window is None:
            return None
        today = self.s.platform.today()
        if window.contains(today):
            return None
        state = "尚未开始" if today < window.opens else "已截止"
        return f"{window.describe()}，{state}；如需延期，请联系{who}的审核员在其管辖范围内延长"

    def extend(self, *, jurisdiction: str, stage: str, period_key: str, closes: date, node_id: int | None = None,
               opens: date | None = None, reason: str | None = None) -> WindowExtension:
        """Extend a stage window for the actor's subtree (or a node inside it). Audited."""
        actor = self.s.actor
        if actor.role not in EXTENDERS:
            raise InputError("只有审核员、学校管理员或平台管理员可以延长时间")
        check_text(reason, label="延期理由", field="reason", lines=True, max_length=2000)
        bundle = self.s.platform.registry.bundle(jurisdiction)
        if not any(w.stage == stage for w in bundle.stage_windows):
            stages = "、".join(w.stage for w in bundle.stage_windows) or "无"
            raise InputError(f"{bundle.jurisdiction.name}没有阶段「{stage}」（可用：{stages}）", field="stage")
        self.s.platform.registry.assessor(jurisdiction).calendar.period(period_key) \
            if not self.s.platform.registry.assessor(jurisdiction).calendar.personal else None
        with self.s.transaction() as session:
            if actor.role not in TOP_LEVEL:
                own = session.get(OrgNode, actor.node_id)
                if own is None or stage_level(stage) < NODE_KINDS.index(own.kind):
                    raise InputError(f"「{stage}」阶段属于上级机构，只能由该级或更高一级的审核员延长", field="stage")
            node = session.get(OrgNode, node_id or actor.node_id)
            if node is None:
                raise NotFound("找不到该机构，或不在您的管辖范围内")
            current = self.window(session, jurisdiction, stage, period_key, node)
            if closes <= current.closes:
                raise InputError(f"新的截止日期 {closes} 应晚于当前截止日期 {current.closes}", field="closes")
            ext = WindowExtension(jurisdiction=jurisdiction, stage=stage, period_key=period_key, node_id=node.id,
                                  scope_path=node.path, opens=opens, closes=closes, reason=reason,
                                  created_by=actor.user_id)
            session.add(ext)
            session.flush()
            audit_append(session, [self.s.audit_entry(
                entity_type="window", entity_id=ext.id, trigger="extend", from_state=str(current.closes),
                to_state=str(closes), scope_path=node.path, reason=reason,
                detail={"jurisdiction": jurisdiction, "stage": stage, "period": period_key, "node": node.name})])
            return ext
