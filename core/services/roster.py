"""The roster of teachers of a school admin or reviewer: add, edit, transfer between schools of
the actor's subtree, and import from an .xlsx workbook as a background job (all rows or none,
every wrong row reported in Chinese). Every change is audited."""

from __future__ import annotations

import os
from datetime import date, datetime

from sqlalchemy import select

from ..audit import append as audit_append
from ..db.models import JobRecord, OrgNode, Teacher
from ..db.scope import Actor
from ..errors import InputError, JijiaoError
from ..idnumber import normalise
from ..tree import ancestors, governing_jurisdiction
from . import NotFound, insert_unique

ROSTER_ROLES = ("school_admin", "reviewer", "platform_admin", "system")
STAGES = ("幼儿园", "小学", "初中", "高中", "中职")
COLUMNS = {"姓名": "name", "身份证号": "id_number", "学校": "school", "学段": "stage", "学科": "subject",
           "教师资格证号": "cert_number", "入职日期": "employed_on"}
REQUIRED = ("姓名", "身份证号", "学校")
MAX_ROWS = 50000
EDITABLE = {"name": "姓名", "cert_number": "教师资格证号", "subject": "学科", "stage": "学段",
            "employed_on": "入职日期", "active": "在职"}


def _text(value, label: str, limit: int, *, required: bool = False) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise InputError(f"{label}不能为空")
        return None
    if not isinstance(value, str):
        raise InputError(f"{label}应以文本格式填写（该单元格是数字或日期）")
    value = value.strip()
    if len(value) > limit:
        raise InputError(f"{label}不能超过 {limit} 个字")
    return value


def _stage(value) -> str | None:
    value = _text(value, "学段", 16)
    if value is not None and value not in STAGES:
        raise InputError(f"学段应为{'、'.join(STAGES)}之一，填写的是「{value}」")
    return value


def _date(value, label: str) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise InputError(f"{label}应为日期（如 2015-09-01），填写的是「{value}」")


class RosterService:
    def __init__(self, services):
        self.s = services

    def _check_role(self):
        if self.s.actor.role not in ROSTER_ROLES:
            raise InputError("只有学校管理员、审核员或平台管理员可以维护教师名册")

    def _school(self, session, school_id) -> OrgNode:
        school = session.get(OrgNode, school_id) if school_id is not None else None
        if school is None or school.kind != "school":
            raise NotFound("找不到该学校，或不在您的管辖范围内")
        return school

    def _jurisdiction(self, session, school: OrgNode) -> str:
        jurisdiction = governing_jurisdiction(ancestors(session, school))
        if jurisdiction is None:
            raise InputError(f"「{school.name}」及其上级都没有挂接地区插件，无法确定考核规则")
        return jurisdiction

    # -- one teacher -------------------------------------------------------------------------------
    def add(self, *, name: str, id_number, home_school_id: int, cert_number: str | None = None,
            subject: str | None = None, stage: str | None = None, employed_on: date | None = None) -> Teacher:
        self._check_role()
        name = _text(name, "姓名", 100, required=True)
        number = normalise(id_number)
        stage = _stage(stage)
        with self.s.transaction() as session:
            school = self._school(session, home_school_id)
            teacher = Teacher(name=name, id_number=number, home_school_id=school.id, cert_number=cert_number or None,
                              subject=subject or None, stage=stage, employed_on=employed_on,
                              jurisdiction=self._jurisdiction(session, school), scope_path=school.path, active=True)
            insert_unique(session, teacher, "该身份证号的教师已登记（身份证号只能登记一次）", "id_number")
            audit_append(session, [self.s.audit_entry(entity_type="teacher", entity_id=teacher.id, trigger="create",
                                                      from_state=None, to_state="active", scope_path=school.path,
                                                      detail={"school": school.name})])
            return teacher

    def edit(self, teacher_id: int, **changes) -> Teacher:
        """Change a teacher's name, certificate, subject, stage, employment date or whether they are
        active (the ID number and the school are not edited here: see ``transfer``)."""
        self._check_role()
        unknown = set(changes) - set(EDITABLE)
        if unknown:
            raise InputError(f"不能修改这些字段：{'、'.join(sorted(unknown))}")
        if "name" in changes:
            changes["name"] = _text(changes["name"], "姓名", 100, required=True)
        for key, label, limit in (("cert_number", "教师资格证号", 64), ("subject", "学科", 50)):
            if key in changes:
                changes[key] = _text(changes[key], label, limit)
        if "stage" in changes:
            changes["stage"] = _stage(changes["stage"])
        with self.s.transaction() as session:
            teacher = session.get(Teacher, teacher_id)
            if teacher is None:
                raise NotFound(f"找不到第{teacher_id}号教师，或不在您的管辖范围内")
            changed = {}
            for key, value in changes.items():
                old = getattr(teacher, key)
                if old != value:
                    changed[EDITABLE[key]] = [str(old) if old is not None else None,
                                              str(value) if value is not None else None]
                    setattr(teacher, key, value)
            if not changed:
                return teacher
            session.flush()
            audit_append(session, [self.s.audit_entry(
                entity_type="teacher", entity_id=teacher.id, trigger="edit", from_state=None,
                to_state="active" if teacher.active else "inactive", scope_path=teacher.scope_path,
                detail={"changed": changed})])
            return teacher

    def transfer(self, teacher_id: int, school_id: int, *, on: date | None = None) -> Teacher:
        """Move a teacher to another school of the actor's subtree (same jurisdiction). Their
        earlier claims stay with the school where they were made."""
        self._check_role()
        with self.s.transaction() as session:
            teacher = session.get(Teacher, teacher_id)
            if teacher is None:
                raise NotFound(f"找不到第{teacher_id}号教师，或不在您的管辖范围内")
            school = self._school(session, school_id)
            if school.id == teacher.home_school_id:
                raise InputError("调入学校与当前学校相同", field="school")
            old = session.get(OrgNode, teacher.home_school_id)
            jurisdiction = self._jurisdiction(session, school)
            if jurisdiction != teacher.jurisdiction:
                raise InputError("调入学校属于另一个地区（考核规则不同），请联系平台管理员办理跨地区调动",
                                 field="school")
            teacher.home_school_id, teacher.scope_path = school.id, school.path
            teacher.transferred_on = on or self.s.platform.today()
            session.flush()
            audit_append(session, [self.s.audit_entry(
                entity_type="teacher", entity_id=teacher.id, trigger="transfer", from_state=old.name if old else None,
                to_state=school.name, scope_path=school.path,
                detail={"from": old.id if old else None, "to": school.id, "on": teacher.transferred_on.isoformat()})])
            return teacher

    # -- import ------------------------------------------------------------------------------------
    def enqueue_import(self, path: str, filename: str) -> int:
        """Queue the import of a saved .xlsx workbook; returns the job's id."""
        from .. import jobs
        from .review_jobs import actor_params
        self._check_role()
        actor = self.s.actor
        with self.s.transaction() as session:
            job = JobRecord(kind="roster_import", state="queued", total=0, done=0, message="排队中",
                            params={"path": path, "filename": filename, "actor": actor_params(actor)},
                            scope_path=actor.node_path, created_by=actor.user_id)
            session.add(job)
            session.flush()
            jobs.enqueue_after_commit(session, "roster_import", job.id, self.s.platform)
            return job.id

    def read_rows(self, path: str) -> list[tuple[int, dict]]:
        """(Excel row number, {column: raw value}) of every non-empty row; a missing column or an
        unreadable file is an InputError."""
        from openpyxl import load_workbook
        try:
            book = load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:  # noqa: BLE001 - any unreadable file is the user's to fix
            raise InputError(f"无法读取该文件，请上传 Excel 工作簿（.xlsx）：{type(exc).__name__}") from None
        try:
            sheet = book.worksheets[0]
            rows = sheet.iter_rows(values_only=True)
            header = next(rows, None)
            if header is None:
                raise InputError("工作表是空的：第1行应为列名（姓名、身份证号、学校……）")
            names = [str(h).strip() if h is not None else "" for h in header]
            missing = [c for c in REQUIRED if c not in names]
            if missing:
                raise InputError(f"缺少列：{'、'.join(missing)}（第1行应为列名：{'、'.join(COLUMNS)}）")
            index = {COLUMNS[n]: i for i, n in enumerate(names) if n in COLUMNS}
            out = []
            for number, values in enumerate(rows, start=2):
                if values is None or all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
                    continue
                out.append((number, {key: values[i] if i < len(values) else None for key, i in index.items()}))
                if len(out) > MAX_ROWS:
                    raise InputError(f"一次最多导入 {MAX_ROWS} 行，请分批导入")
            return out
        finally:
            book.close()

    def check_rows(self, session, rows: list[tuple[int, dict]]) -> tuple[list[dict], dict[int, list[str]]]:
        """Every row checked; returns (teachers to insert, {row number: [reasons]})."""
        schools: dict[str, list[OrgNode]] = {}
        for node in session.scalars(select(OrgNode).where(OrgNode.kind == "school")):
            schools.setdefault(node.name, []).append(node)
        jurisdictions: dict[int, str | None] = {}
        errors: dict[int, list[str]] = {}
        seen: dict[str, int] = {}
        good = []
        for number, raw in rows:
            problems = []
            record: dict = {}
            for key, label, limit, required in (("name", "姓名", 100, True), ("subject", "学科", 50, False),
                                                ("cert_number", "教师资格证号", 64, False)):
                try:
                    record[key] = _text(raw.get(key), label, limit, required=required)
                except InputError as exc:
                    problems.append(exc.message)
            value = raw.get("id_number")
            if value is None or (isinstance(value, str) and not value.strip()):
                problems.append("身份证号不能为空")
            elif not isinstance(value, str):
                problems.append("身份证号应以文本格式填写（该单元格是数字，末位可能已丢失；请将该列设为文本后重新填写）")
            else:
                try:
                    record["id_number"] = normalise(value)
                except InputError as exc:
                    problems.append(exc.message)
                else:
                    if record["id_number"] in seen:
                        problems.append(f"身份证号与第{seen[record['id_number']]}行重复")
                    else:
                        seen[record["id_number"]] = number
            try:
                record["stage"] = _stage(raw.get("stage"))
            except InputError as exc:
                problems.append(exc.message)
            try:
                record["employed_on"] = _date(raw.get("employed_on"), "入职日期")
            except InputError as exc:
                problems.append(exc.message)
            school_name = raw.get("school")
            school_name = school_name.strip() if isinstance(school_name, str) else school_name
            matches = schools.get(school_name, []) if isinstance(school_name, str) else []
            if not school_name:
                problems.append("学校不能为空")
            elif len(matches) > 1:
                problems.append(f"学校名称「{school_name}」在您的管辖范围内不唯一，请联系平台管理员")
            elif not matches:
                problems.append(f"找不到学校「{school_name}」，或不在您的管辖范围内")
            else:
                school = matches[0]
                if school.id not in jurisdictions:
                    jurisdictions[school.id] = governing_jurisdiction(ancestors(session, school))
                if jurisdictions[school.id] is None:
                    problems.append(f"「{school.name}」及其上级都没有挂接地区插件")
                record.update(home_school_id=school.id, scope_path=school.path,
                              jurisdiction=jurisdictions[school.id])
            if problems:
                errors[number] = problems
            else:
                good.append({**record, "_row": number})
        numbers = list(seen)
        for start in range(0, len(numbers), 1000):
            for (existing,) in session.execute(select(Teacher.id_number).where(
                    Teacher.id_number.in_(numbers[start:start + 1000])).execution_options(skip_scope=True)):
                row = seen[existing]
                errors.setdefault(row, []).append("该身份证号的教师已登记（身份证号只能登记一次）")
        good = [r for r in good if r["_row"] not in errors]
        return good, errors

    def run_import(self, job_id: int) -> None:
        platform = self.s.platform
        with self.s.transaction() as session:
            job = session.get(JobRecord, job_id)
            if job is None:
                raise NotFound(f"找不到第{job_id}号任务")
            params = dict(job.params or {})
            job.state, job.message = "running", "读取文件"
        path = params["path"]
        result: dict = {"imported": 0, "errors": []}
        crash = None
        state, message = "failed", ""
        try:
            rows = self.read_rows(path)
            with self.s.transaction() as session:
                job = session.get(JobRecord, job_id)
                job.total, job.message = len(rows), f"检查 {len(rows)} 行"
            with self.s.transaction() as session:
                good, errors = self.check_rows(session, rows)
                if errors:
                    result["errors"] = [{"row": n, "messages": errors[n]} for n in sorted(errors)]
                    message = f"导入未执行：{len(errors)} 行有误，未导入任何教师（全部或全不），请改正后重新上传"
                elif not good:
                    message = "文件中没有教师数据"
                else:
                    teachers = []
                    for r in good:
                        r = {k: v for k, v in r.items() if k != "_row"}
                        teachers.append(Teacher(active=True, **r))
                    from sqlalchemy.exc import IntegrityError
                    try:
                        with session.begin_nested():
                            session.add_all(teachers)
                            session.flush()
                    except IntegrityError:
                        raise InputError("其中有教师刚被他人登记（身份证号重复），请重新上传") from None
                    audit_append(session, [self.s.audit_entry(
                        entity_type="teacher", entity_id=t.id, trigger="import", from_state=None, to_state="active",
                        scope_path=t.scope_path, detail={"file": params.get("filename")}) for t in teachers])
                    result["imported"] = len(teachers)
                    state, message = "done", f"完成：导入 {len(teachers)} 名教师"
        except InputError as exc:
            message = f"导入未执行：{exc.message}"
        except JijiaoError as exc:
            message = f"导入未执行：{exc}"
        except Exception as exc:  # noqa: BLE001 - marked failed below, then raised to the worker's log
            message, crash = "导入未执行：系统错误，请稍后重试或联系平台管理员", exc
        finally:
            try:
                os.unlink(path)
            except OSError:
                pass
        with self.s.transaction() as session:
            job = session.get(JobRecord, job_id)
            job.params = {**params, "result": result}
            job.state, job.message, job.finished_at = state, message, platform.clock()
            job.done = job.total if state == "done" else 0
        if crash is not None:
            raise crash


def run_import_job(platform, job_id: int) -> None:
    from .review_jobs import actor_of_job
    actor = actor_of_job(platform, job_id, "roster_import")
    if actor is not None:
        RosterService(platform.services(actor)).run_import(job_id)


def template_workbook() -> bytes:
    """An empty workbook with the column names (the ID number column formatted as text)."""
    import io
    from openpyxl import Workbook
    book = Workbook()
    sheet = book.active
    sheet.title = "教师名册"
    sheet.append(list(COLUMNS))
    for column in "ABCDEFG":
        sheet.column_dimensions[column].width = 20
    for row in range(2, 502):
        sheet.cell(row=row, column=2).number_format = "@"
        sheet.cell(row=row, column=6).number_format = "@"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
