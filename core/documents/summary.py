"""Summary sheets (汇总表) and pass-rate statistics of a unit and period, from stored
assessment results read through the caller's session (bound to the actor: scope decides what
is seen). Nothing is recomputed here.

Finding a unit's jurisdiction reads the unit's ancestors (``skip_scope``), which only a service
session may do: pages and commands go through ``SummaryService`` (a service session opened with
``Services.transaction``: reads stay scoped, so a unit outside scope is still "not found").

The sheet is laid out like the notices' attachments: a title merged across the columns, the unit
line, the columns the jurisdiction's plugin declares, a sign-off line per review level, A4
landscape, the header row repeated on every printed page, ID and certificate numbers as text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import IO, Iterator

from openpyxl.styles import Alignment, Font
from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from ..db.models import AssessmentResult, OrgNode, Teacher
from ..errors import InputError
from ..exchange.xlsx_out import CENTER, Column, SheetWriter, new_workbook
from ..periods import PERSONAL_CYCLE_KEY
from ..tree import subtree
from .columns import SummaryColumn, columns_for, evaluate

YIELD = 2000
LEFT = Alignment(horizontal="left", vertical="center", wrap_text=True)


class NotInScope(InputError):
    """The unit does not exist or is outside the actor's scope (never told apart)."""


def period_label(period_key: str) -> str:
    if period_key == PERSONAL_CYCLE_KEY:
        return "本周期"
    if "-" in period_key:
        return f"{period_key}学年度"
    return f"{period_key}年度"


def load_unit(session: Session, node_id: int) -> OrgNode:
    node = session.get(OrgNode, node_id)
    if node is None:
        raise NotInScope("找不到该单位，或不在您的管辖范围内", field="school")
    return node


def jurisdiction_of(session: Session, node: OrgNode) -> str:
    """The plugin attached at the nearest node at or above ``node``."""
    ancestors = {n.id: n for n in session.scalars(select(OrgNode).where(OrgNode.id.in_(node.ancestor_ids))
                                                  .execution_options(skip_scope=True))}
    for node_id in reversed(node.ancestor_ids):
        code = ancestors[node_id].jurisdiction if node_id in ancestors else None
        if code:
            return code
    raise InputError(f"「{node.name}」不属于任何已配置的地区：请选择某一地区之内的单位", field="school")


def _rows(session: Session, node: OrgNode, period_key: str) -> Iterator[dict]:
    low, high = subtree(node.path)
    schools = dict(session.execute(select(OrgNode.id, OrgNode.name).where(OrgNode.path.between(low, high))).all())
    stmt = (select(Teacher.id, Teacher.name, Teacher.id_number, Teacher.cert_number, Teacher.subject,
                   Teacher.stage, Teacher.home_school_id, AssessmentResult.result, AssessmentResult.passed)
            .outerjoin(AssessmentResult, and_(AssessmentResult.teacher_id == Teacher.id,
                                              AssessmentResult.period_key == period_key))
            .where(Teacher.scope_path.between(low, high), Teacher.active.is_(True))
            .order_by(Teacher.scope_path, Teacher.id)
            .execution_options(yield_per=YIELD))
    seq = 0
    for r in session.execute(stmt):
        seq += 1
        yield {"seq": seq, "school": schools.get(r.home_school_id, ""), "result": r.result, "passed": r.passed,
               "teacher": {"id": r.id, "name": r.name, "id_number": r.id_number, "cert_number": r.cert_number,
                           "subject": r.subject, "stage": r.stage}}


@dataclass
class SheetInfo:
    title: str
    unit: str
    jurisdiction: str
    rows: int
    filename: str
    unit_path: str = ""


def write_summary(session: Session, registry, node_id: int, period_key: str, out: str | IO[bytes], *,
                  today: date | None = None) -> SheetInfo:
    """Write the summary sheet of the unit ``node_id`` (its whole subtree) for ``period_key``."""
    node = load_unit(session, node_id)
    code = jurisdiction_of(session, node)
    bundle = registry.bundle(code)
    jurisdiction = bundle.jurisdiction
    measure = jurisdiction.measures[0]
    if period_key != PERSONAL_CYCLE_KEY or not registry.assessor(code).calendar.personal:
        registry.assessor(code).calendar.period(period_key)  # a readable InputError for a bad key
    spec: list[SummaryColumn] = columns_for(registry, code)
    columns = [Column(c.header, (lambda row, c=c: evaluate(c, row, measure)), text=c.text, width=c.width,
                      number_format="0.##" if c.format == "number" else None) for c in spec]
    title = f"{period_label(period_key)}{jurisdiction.name}中小学教师继续教育学时汇总表"
    workbook = new_workbook()
    sheet = SheetWriter(workbook, "汇总表", columns, borders=True)
    ws = sheet.ws
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = "9"  # A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.horizontalCentered = True
    sheet.line(title, font=Font(bold=True, size=16), alignment=CENTER, height=30)
    day = today or date.today()
    sheet.line(f"单位：{node.name}（盖章）        填表人：              填表日期：{day.year}年{day.month}月{day.day}日",
               alignment=LEFT, height=22)
    header_row = sheet.header()
    ws.print_title_rows = f"{header_row}:{header_row}"
    ws.freeze_panes = f"A{header_row + 1}"
    count = sheet.rows(_rows(session, node, period_key))
    sheet.line("")
    levels = sorted(bundle.review_levels, key=lambda lv: lv.order)
    for level in levels:
        sheet.line(f"{level.name}意见：", alignment=LEFT, height=36)
        sheet.line("审核人：                    （公章）                    年      月      日",
                   alignment=LEFT, height=22)
    workbook.save(out)
    return SheetInfo(title, node.name, code, count, f"{node.name}{period_label(period_key)}学时汇总表.xlsx", node.path)


# -- statistics -----------------------------------------------------------------------------------
@dataclass
class UnitStats:
    unit_id: int
    unit: str
    teachers: int = 0        # in service (active)
    registered: int = 0      # with a stored result for the period
    passed: int = 0
    failed: int = 0          # below requirement, no registered hours included
    not_assessed: int = 0    # exempt / not assessed this period
    below: list[str] = field(default_factory=list)

    @property
    def rate(self) -> Decimal | None:
        judged = self.passed + self.failed
        if not judged:
            return None
        return (Decimal(self.passed) * 100 / judged).quantize(Decimal("0.1"))


def unit_statistics(session: Session, node_id: int, period_key: str) -> tuple[list[UnitStats], UnitStats]:
    """Pass rates by school under ``node_id`` (scope decides), and the total row."""
    node = load_unit(session, node_id)
    low, high = subtree(node.path)
    units: dict[int, UnitStats] = {}
    for unit_id, name in session.execute(select(OrgNode.id, OrgNode.name).where(
            OrgNode.path.between(low, high), OrgNode.kind == "school").order_by(OrgNode.path)):
        units[unit_id] = UnitStats(unit_id, name)
    total = UnitStats(node.id, f"{node.name}（合计）")
    stmt = (select(Teacher.home_school_id, Teacher.name, Teacher.id_number, AssessmentResult.id.label("rid"),
                   AssessmentResult.passed)
            .outerjoin(AssessmentResult, and_(AssessmentResult.teacher_id == Teacher.id,
                                              AssessmentResult.period_key == period_key))
            .where(Teacher.scope_path.between(low, high), Teacher.active.is_(True))
            .order_by(Teacher.scope_path, Teacher.id).execution_options(yield_per=YIELD))
    for r in session.execute(stmt):
        unit = units.get(r.home_school_id)
        if unit is None:
            unit = units[r.home_school_id] = UnitStats(r.home_school_id, str(r.home_school_id))
        for s in (unit, total):
            s.teachers += 1
            if r.rid is not None:
                s.registered += 1
            if r.passed is True:
                s.passed += 1
            elif r.passed is None and r.rid is not None:
                s.not_assessed += 1
            else:
                s.failed += 1
        if not (r.passed is True or (r.passed is None and r.rid is not None)):
            unit.below.append(r.name)
    total.below = []
    return [u for u in units.values() if u.teachers], total


STATS_COLUMNS = [Column("单位", "unit", width=28), Column("在职人数", "teachers", width=10),
                 Column("参加学时登记人数", "registered", width=14), Column("合格人数", "passed", width=10),
                 Column("不合格人数", "failed", width=10), Column("合格率（%）", "rate", width=12),
                 Column("学时未达标人员名单", lambda u: "、".join(u.below), width=60)]


def write_statistics(session: Session, node_id: int, period_key: str, out: str | IO[bytes]) -> SheetInfo:
    units, total = unit_statistics(session, node_id, period_key)
    node = load_unit(session, node_id)
    title = f"{period_label(period_key)}{node.name}教师继续教育学时登记合格率统计表"
    workbook = new_workbook()
    sheet = SheetWriter(workbook, "统计表", STATS_COLUMNS, borders=True)
    sheet.ws.page_setup.orientation = "landscape"
    sheet.ws.page_setup.paperSize = "9"  # A4
    sheet.line(title, font=Font(bold=True, size=16), alignment=CENTER, height=30)
    header_row = sheet.header()
    sheet.ws.print_title_rows = f"{header_row}:{header_row}"
    sheet.rows(units + [total])
    workbook.save(out)
    return SheetInfo(title, node.name, "", len(units), f"{node.name}{period_label(period_key)}合格率统计表.xlsx",
                     node.path)


SHEET_ROLES = ("school_admin", "reviewer", "platform_admin", "auditor", "system")


class SummaryService:
    """Summary sheets, statistics and a unit's jurisdiction as one actor, each in a service session
    (``self.s.transaction()``): the reads stay in the actor's scope; only the unit's own ancestors
    are read past it, to find the jurisdiction. Attach with ``SummaryService(services)``."""

    def __init__(self, services):
        self.s = services

    def _check_role(self) -> None:
        if self.s.actor.role not in SHEET_ROLES:
            raise InputError("只有学校管理员、审核部门、平台管理员或审计员可以查看汇总表和统计表")

    def summary(self, node_id: int, period_key: str, out: str | IO[bytes], *, today: date | None = None) -> SheetInfo:
        self._check_role()
        with self.s.transaction() as session:
            return write_summary(session, self.s.platform.registry, node_id, period_key, out,
                                 today=today)

    def statistics(self, node_id: int, period_key: str, out: str | IO[bytes]) -> SheetInfo:
        self._check_role()
        with self.s.transaction() as session:
            return write_statistics(session, node_id, period_key, out)

    def unit_statistics(self, node_id: int, period_key: str) -> tuple[list[UnitStats], UnitStats]:
        self._check_role()
        with self.s.transaction() as session:
            return unit_statistics(session, node_id, period_key)

    def jurisdiction(self, node_id: int) -> str:
        """The jurisdiction governing the unit (NotInScope when missing or outside scope)."""
        self._check_role()
        with self.s.transaction() as session:
            return jurisdiction_of(session, load_unit(session, node_id))
