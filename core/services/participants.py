"""A training project's participant list from a spreadsheet (参训名单): read, checked row by row,
and written all rows or none.

The sheet has a header row with 姓名, 身份证号 and 是否结业 (or 是否完成, 是否完成/结业); every
other row is a participant. ID numbers must be text cells: a number cell has lost its last digits
(Excel keeps 15 significant digits), so it is an error, never a guess. A teacher is found by the
ID number through the actor's scoped session, so a teacher outside the organiser's subtree is
"not found", exactly like a wrong number; the name must match the record. If any row is wrong,
nothing is written and every wrong row is reported with its Excel row number.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from sqlalchemy import select

from ..audit import append as audit_append
from ..db.models import ProjectParticipant, Teacher, TrainingProject
from ..errors import InputError
from ..idnumber import mask, normalise
from . import NotFound
from .claims import BatchRejected
from .projects import ORGANISER_ROLES

MAX_ROWS = 5000
HEADERS = ("姓名", "身份证号", "是否结业")
NAME_HEADERS = ("姓名", "教师姓名")
ID_HEADERS = ("身份证号", "身份证号码", "公民身份号码")
DONE_HEADERS = ("是否结业", "是否完成", "是否完成/结业", "是否完成／结业", "结业", "完成")
YES = {"是", "已结业", "结业", "已完成", "完成", "合格", "y", "yes", "true", "1", "√", "✓"}
NO = {"否", "未结业", "未完成", "不合格", "n", "no", "false", "0", "×", ""}
# Participants may change until the project's hours are registered (or it is cancelled).
OPEN_STATES = ("designed", "pending_approval", "approved", "running", "completed")


@dataclass(frozen=True)
class SheetRow:
    row: int          # the Excel row number, as the user sees it
    name: str
    id_number: object  # the cell's value as read (a str, or a number: an error)
    completed: object


@dataclass(frozen=True)
class ImportResult:
    added: int
    updated: int
    completed: int
    total: int


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def read_sheet(data: bytes, *, max_rows: int = MAX_ROWS) -> list[SheetRow]:
    """The rows of the first worksheet of an .xlsx file. An unreadable file or a missing header
    is an InputError in Chinese; blank rows are skipped."""
    from openpyxl import load_workbook
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # a zip that is not a workbook, an old .xls, a text file...
        raise InputError("无法读取该文件：请上传 Excel 工作簿（.xlsx），可先下载模板填写", field="file") from None
    try:
        sheet = workbook.worksheets[0] if workbook.worksheets else None
        if sheet is None:
            raise InputError("工作簿中没有工作表", field="file")
        rows = sheet.iter_rows(values_only=True)
        header_row = next(rows, None)
        header = [_text(h).replace(" ", "") for h in (header_row or ())]

        def column(names):
            return next((i for i, h in enumerate(header) if h in names), None)
        name_col, id_col, done_col = column(NAME_HEADERS), column(ID_HEADERS), column(DONE_HEADERS)
        missing = [label for label, col in zip(HEADERS, (name_col, id_col, done_col)) if col is None]
        if missing:
            raise InputError("第1行应为表头，缺少列：" + "、".join(missing) + "（可下载模板填写）", field="file")
        out = []
        for number, values in enumerate(rows, start=2):
            values = tuple(values or ())

            def cell(i):
                return values[i] if i < len(values) else None
            if all(v is None or _text(v) == "" for v in values):
                continue
            if len(out) >= max_rows:
                raise InputError(f"名单超过 {max_rows} 行，请分批导入", field="file")
            out.append(SheetRow(number, _text(cell(name_col)), cell(id_col), cell(done_col)))
        if not out:
            raise InputError("名单中没有参训教师（表头以下都是空行）", field="file")
        return out
    finally:
        workbook.close()


def template_bytes() -> bytes:
    """An empty list with the headers, the ID column formatted as text."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "参训名单"
    sheet.append(list(HEADERS))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in range(2, 502):
        sheet.cell(row=row, column=2).number_format = "@"
    sheet.column_dimensions["A"].width = 14
    sheet.column_dimensions["B"].width = 24
    sheet.column_dimensions["C"].width = 12
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _completed(value) -> bool | None:
    text = _text(value).lower()
    if text in YES:
        return True
    if text in NO:
        return False
    return None


class ParticipantService:
    def __init__(self, services):
        self.s = services

    def import_rows(self, project_id: int, rows: list[SheetRow], *, source: str = "") -> ImportResult:
        """Enrol the listed teachers (with whether each completed) in one transaction, or nothing.
        Raises ``BatchRejected`` with ``rows`` = {Excel row number: reason}."""
        actor = self.s.actor
        if actor.role not in ORGANISER_ROLES:
            raise InputError("只有培训机构、学校或教研部门可以导入参训名单")
        with self.s.transaction() as session:
            project = session.get(TrainingProject, project_id)
            if project is None:
                raise NotFound(f"找不到第{project_id}号培训项目，或不在您的管辖范围内")
            if project.organiser_node_id != actor.node_id:
                raise InputError("只有设计该项目的机构可以导入参训名单（谁设计、谁登记）")
            if project.state not in OPEN_STATES:
                label = self.s.platform.workflows.get(project.workflow).definition.state_label(project.state)
                raise InputError(f"项目当前状态为「{label}」，不能再修改参训名单")
            errors: dict[int, str] = {}
            wanted: dict[str, SheetRow] = {}
            for r in rows:
                if not r.name:
                    errors[r.row] = "姓名为空"
                    continue
                if isinstance(r.id_number, (int, float)) and not isinstance(r.id_number, bool):
                    errors[r.row] = "身份证号是数字格式，末位可能已丢失：请将该列设为文本格式后重新填写"
                    continue
                if r.id_number is None or _text(r.id_number) == "":
                    errors[r.row] = "身份证号为空"
                    continue
                try:
                    number = normalise(r.id_number)
                except InputError as exc:
                    errors[r.row] = exc.message
                    continue
                if _completed(r.completed) is None:
                    errors[r.row] = f"「是否结业」应填“是”或“否”，填写的是「{_text(r.completed)}」"
                    continue
                if number in wanted:
                    errors[r.row] = f"与第{wanted[number].row}行的身份证号重复"
                    continue
                wanted[number] = r
            teachers: dict[str, Teacher] = {}
            numbers = list(wanted)
            for start in range(0, len(numbers), 1000):
                for t in session.scalars(select(Teacher).where(Teacher.id_number.in_(numbers[start:start + 1000]))):
                    teachers[t.id_number] = t
            for number, r in wanted.items():
                teacher = teachers.get(number)
                if teacher is None:
                    errors[r.row] = f"找不到身份证号为 {mask(number)} 的教师，或不在本机构管辖范围内"
                elif not teacher.active:
                    errors[r.row] = f"{teacher.name}（{mask(number)}）已停用"
                elif teacher.name.replace(" ", "") != r.name.replace(" ", ""):
                    errors[r.row] = f"姓名「{r.name}」与身份证号 {mask(number)} 登记的姓名不一致"
            if errors:
                ordered = dict(sorted(errors.items()))
                shown = "；".join(f"第{i}行：{m}" for i, m in list(ordered.items())[:20])
                more = "……" if len(ordered) > 20 else ""
                raise BatchRejected(f"参训名单未导入（全部或全不）：{len(ordered)} 行有误。{shown}{more}", ordered)
            existing = {p.teacher_id: p for p in session.scalars(
                select(ProjectParticipant).where(ProjectParticipant.project_id == project.id))}
            added = updated = completed = 0
            for number, r in wanted.items():
                teacher = teachers[number]
                done = bool(_completed(r.completed))
                completed += done
                current = existing.get(teacher.id)
                if current is None:
                    session.add(ProjectParticipant(project_id=project.id, teacher_id=teacher.id, completed=done))
                    added += 1
                elif current.completed != done:
                    current.completed = done
                    updated += 1
            session.flush()
            audit_append(session, [self.s.audit_entry(
                entity_type="project", entity_id=project.id, trigger="import_participants",
                from_state=project.state, to_state=project.state, scope_path=project.scope_path,
                detail={"source": source, "rows": len(wanted), "added": added, "updated": updated,
                        "completed": completed})])
            return ImportResult(added, updated, completed, len(wanted))
