"""The dashboard of a subtree: pass rates by school, registered hours by item, and the teachers
below requirement with what each still lacks.

Every figure is one SQL aggregate over the stored results (``AssessmentResult``) and registered
claims, run on the caller's scoped session: the data layer adds the actor's subtree to every
query, so a district sees its schools and a school only itself. Nothing here recomputes an
assessment: what a teacher lacks is read from the result stored when their hours were registered.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Integer, case, func, select

from ..compile import MEASURE_WORDS
from ..db.models import AssessmentResult, Claim, OrgNode, Teacher
from ..numbers import fmt
from ..types import FLAG_LABELS

PAGE = 50


@dataclass
class SchoolRow:
    node_id: int | None
    name: str
    path: str
    teachers: int = 0      # active teachers whose home school this is
    with_results: int = 0  # teachers with a stored result for the period
    passed: int = 0
    failed: int = 0

    @property
    def judged(self) -> int:
        return self.passed + self.failed

    @property
    def undecided(self) -> int:
        """Results without a pass/fail (not assessed this year, or no standard set)."""
        return self.with_results - self.judged

    @property
    def rate(self) -> float | None:
        """合格率 = 合格人数 ÷ 已判定人数 (None when nobody was judged)."""
        return self.passed / self.judged if self.judged else None


@dataclass
class ItemRow:
    jurisdiction: str
    item_code: str
    name: str
    claims: int
    teachers: int
    amount_milli: int
    unit: str

    @property
    def amount(self) -> str:
        return fmt(self.amount_milli)


@dataclass
class BelowRow:
    result_id: int
    teacher_id: int
    name: str
    school: str
    total: str
    unit: str
    reasons: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)


def _school_rows(session, paths: set[str]) -> dict[str, OrgNode]:
    if not paths:
        return {}
    return {n.path: n for n in session.scalars(select(OrgNode).where(OrgNode.path.in_(sorted(paths))))}


class DashboardService:
    """Read-only figures for the actor's subtree, on a scoped session (``db()`` in a request)."""

    def __init__(self, services):
        self.s = services

    def _unit(self, jurisdiction: str) -> str:
        try:
            measure = self.s.platform.registry.assessor(jurisdiction).measures[0]
        except Exception:  # a jurisdiction no longer installed: its rows still count
            return ""
        return MEASURE_WORDS.get(measure, measure)

    def periods(self, session) -> list[str]:
        """The periods that have stored results in the subtree, newest first (personal cycles,
        which have no date in their key, last)."""
        keys = session.scalars(select(AssessmentResult.period_key).distinct()).all()
        return sorted(keys, key=lambda k: (not k[:1].isdigit(), [-ord(c) for c in k]))

    def by_school(self, session, period_key: str) -> list[SchoolRow]:
        """One row per school (home school of the teachers) with results or teachers in scope."""
        passed = func.sum(case((AssessmentResult.passed.is_(True), 1), else_=0)).cast(Integer)
        failed = func.sum(case((AssessmentResult.passed.is_(False), 1), else_=0)).cast(Integer)
        results = session.execute(
            select(AssessmentResult.scope_path, func.count(AssessmentResult.id), passed, failed)
            .where(AssessmentResult.period_key == period_key)
            .group_by(AssessmentResult.scope_path)).all()
        teachers = session.execute(
            select(Teacher.scope_path, func.count(Teacher.id)).where(Teacher.active.is_(True))
            .group_by(Teacher.scope_path)).all()
        paths = {r[0] for r in results} | {t[0] for t in teachers}
        nodes = _school_rows(session, paths)
        rows: dict[str, SchoolRow] = {}
        for path in paths:
            node = nodes.get(path)
            rows[path] = SchoolRow(node.id if node else None, node.name if node else path, path)
        for path, count in teachers:
            rows[path].teachers = int(count)
        for path, count, p, f in results:
            row = rows[path]
            row.with_results, row.passed, row.failed = int(count), int(p or 0), int(f or 0)
        return sorted(rows.values(), key=lambda r: r.path)

    def totals(self, rows: list[SchoolRow]) -> SchoolRow:
        total = SchoolRow(None, "合计", "")
        for r in rows:
            total.teachers += r.teachers
            total.with_results += r.with_results
            total.passed += r.passed
            total.failed += r.failed
        return total

    def by_item(self, session, period_key: str) -> list[ItemRow]:
        """Registered claims of the period per item: how many, for how many teachers, how much."""
        rows = session.execute(
            select(Claim.jurisdiction, Claim.item_code, func.count(Claim.id),
                   func.count(func.distinct(Claim.teacher_id)), func.coalesce(func.sum(Claim.amount_milli), 0))
            .where(Claim.state == "registered", Claim.period_key == period_key)
            .group_by(Claim.jurisdiction, Claim.item_code)).all()
        out = []
        registry = self.s.platform.registry
        for jurisdiction, item_code, claims, teachers, amount in rows:
            try:
                item = registry.bundle(jurisdiction).items.get(item_code)
            except Exception:
                item = None
            out.append(ItemRow(jurisdiction, item_code, item.name if item else item_code, int(claims),
                               int(teachers), int(amount or 0), self._unit(jurisdiction)))
        return sorted(out, key=lambda r: (-r.amount_milli, r.item_code))

    def below(self, session, period_key: str, *, after: int = 0, school_path: str | None = None,
              limit: int = PAGE) -> tuple[list[BelowRow], int | None]:
        """Teachers whose stored result did not pass, in result-id order from ``after``; returns
        the page and the id to continue after (None on the last page). No COUNT(*)."""
        query = (select(AssessmentResult.id, AssessmentResult.teacher_id, AssessmentResult.jurisdiction,
                        AssessmentResult.total_milli, AssessmentResult.result, AssessmentResult.scope_path,
                        Teacher.name)
                 .join(Teacher, Teacher.id == AssessmentResult.teacher_id)
                 .where(AssessmentResult.period_key == period_key, AssessmentResult.passed.is_(False),
                        AssessmentResult.id > after)
                 .order_by(AssessmentResult.id).limit(limit + 1))
        if school_path:
            query = query.where(AssessmentResult.scope_path == school_path)
        found = session.execute(query).all()
        more = len(found) > limit
        found = found[:limit]
        nodes = _school_rows(session, {r.scope_path for r in found})
        page = []
        for r in found:
            result = r.result or {}
            flags = [FLAG_LABELS.get(f, f) for f in result.get("flags") or () if f != "exempt"]
            node = nodes.get(r.scope_path)
            page.append(BelowRow(r.id, r.teacher_id, r.name, node.name if node else "", fmt(r.total_milli),
                                 self._unit(r.jurisdiction), list(result.get("reasons") or ()), flags))
        return page, (found[-1].id if more and found else None)

    def chart_data(self, schools: list[SchoolRow], items: list[ItemRow]) -> dict:
        """What the page's charts draw (passed to the browser as JSON, never as script)."""
        judged = [s for s in schools if s.judged]
        return {
            "schools": {"names": [s.name for s in judged],
                        "passed": [s.passed for s in judged],
                        "failed": [s.failed for s in judged],
                        "rates": [round(100 * s.rate, 1) for s in judged]},
            "items": {"names": [i.name for i in items],
                      "amounts": [float(i.amount) for i in items],
                      "claims": [i.claims for i in items],
                      "units": [i.unit for i in items]},
        }


class DistrictReads:
    """The few reads the district pages need above the actor's subtree, in a service session
    (``Services.transaction``): a page session may not use ``skip_scope``.

    Each answers for a node or project that is itself in the actor's scope (found through the
    scoped session first, else ``NotFound``), and hands back only what the page shows: the plugin
    code governing the node, the stage windows in force for it (extensions made above it count),
    and the name of a project's approving node.
    """

    def __init__(self, services):
        self.s = services

    def _node(self, session, node_id: int | None) -> OrgNode:
        from . import NotFound
        node = session.get(OrgNode, node_id) if node_id is not None else None
        if node is None:  # not there, or outside the actor's subtree: told apart by nobody
            raise NotFound("找不到该机构，或不在您的管辖范围内")
        return node

    def governing(self, node_id: int | None = None) -> str | None:
        """The plugin code attached at the nearest node from ``node_id`` (default: the actor's
        own node) upwards."""
        from ..tree import ancestors, governing_jurisdiction
        with self.s.transaction() as session:
            node = self._node(session, self.s.actor.node_id if node_id is None else node_id)
            return governing_jurisdiction(ancestors(session, node))

    def stage_windows(self, jurisdiction: str, period_key: str, node_id: int) -> dict:
        """{stage: Window or None} of the plugin's stage windows for claims under ``node_id``."""
        from ..errors import JijiaoError
        bundle = self.s.platform.registry.bundle(jurisdiction)
        out = {}
        with self.s.transaction() as session:
            node = self._node(session, node_id)
            for spec in bundle.stage_windows:
                try:
                    out[spec.stage] = self.s.windows.window(session, jurisdiction, spec.stage, period_key, node)
                except JijiaoError:
                    out[spec.stage] = None
        return out

    def approver_name(self, project_id: int) -> str | None:
        """The name of the node that approves a project in scope (it is above the organiser,
        often outside the actor's subtree: its name only)."""
        from ..db.models import TrainingProject
        from . import NotFound
        with self.s.transaction() as session:
            project = session.get(TrainingProject, project_id)
            if project is None:
                raise NotFound(f"找不到第{project_id}号培训项目，或不在您的管辖范围内")
            if project.approver_node_id is None:
                return None
            approver = session.get(OrgNode, project.approver_node_id, execution_options={"skip_scope": True})
            return approver.name if approver is not None else None
