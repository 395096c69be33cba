"""The roster of a school admin's or reviewer's teachers (``/roster/``): the list (filter by
school, exact search by whole name or whole ID number, newest first on the primary key, no
``COUNT(*)``), add, edit, transfer between schools of the actor's subtree, and import from an
.xlsx workbook as a background job (all rows or none, every wrong row reported in Chinese).

And registration on a teacher's behalf (``/register/``): a school admin records hours for one of
its teachers in the registration workflow (the levels above confirm).
"""

from __future__ import annotations

import os
import uuid
from datetime import date
from decimal import Decimal, InvalidOperation

from flask import Response, abort, current_app, flash, g, redirect, request, url_for
from flask_admin import expose
from sqlalchemy import select

from core.db.models import Claim, JobRecord, OrgNode, Teacher
from core.errors import JijiaoError
from core.idnumber import mask
from core.services.roster import COLUMNS, STAGES, RosterService, template_workbook

from ..i18n import _, _l
from .base import REVIEW_ROLES, RoleView, call, db, platform, services
from .review import amount_text, item_name, parse_before, release, schools, state_label

PAGE_SIZE = 50
XLSX_MAGIC = b"PK\x03\x04"


def roster() -> RosterService:
    return RosterService(services())


def _school_names() -> dict[int, str]:
    return dict(schools())


class RosterView(RoleView):
    roles = REVIEW_ROLES
    note = _l("本单位及下属学校的教师：新增、修改、调动，从 Excel 批量导入")

    def _teacher(self, teacher_id: int) -> Teacher:
        teacher = db().get(Teacher, teacher_id)
        if teacher is None:
            abort(404)
        return teacher

    @expose("/")
    def index(self):
        session = db()
        stmt = select(Teacher).order_by(Teacher.id.desc())
        school = (request.args.get("school") or "").strip()
        names = _school_names()
        args = {}
        if school:
            if school.isdigit() and int(school) in names:
                stmt = stmt.where(Teacher.home_school_id == int(school))
                args["school"] = school
            else:
                flash(_("所选学校不存在或不在您的管辖范围内"), "error")
        q = (request.args.get("q") or "").strip()
        if q:
            args["q"] = q
            if len(q) == 18 and q[:17].isdigit():
                stmt = stmt.where(Teacher.id_number == q.upper())
            elif len(q) <= 100:
                stmt = stmt.where(Teacher.name == q)
            else:
                flash(_("搜索内容过长"), "error")
        before = parse_before(request.args.get("before"))
        if before is not None:
            stmt = stmt.where(Teacher.id < before)
        rows = session.scalars(stmt.limit(PAGE_SIZE + 1)).all()
        has_next = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE]
        teachers = [{"t": t, "id_masked": mask(t.id_number), "school": names.get(t.home_school_id, "—")}
                    for t in rows]
        return self.render("review/roster.html", teachers=teachers, before=before,
                           next_before=rows[-1].id if has_next else None, args=args,
                           schools=schools(), school=args.get("school"), q=q)

    def _form_values(self):
        form = request.form
        values = {k: (form.get(k) or "").strip() for k in ("name", "id_number", "school", "stage", "subject",
                                                            "cert_number", "employed_on")}
        values["active"] = form.get("active") == "1"
        return values

    def _parse_common(self, values) -> dict | None:
        errors = []
        if not values["name"]:
            errors.append(_("请填写姓名"))
        if values["stage"] and values["stage"] not in STAGES:
            errors.append(_("学段不正确"))
        employed = None
        if values["employed_on"]:
            try:
                employed = date.fromisoformat(values["employed_on"])
            except ValueError:
                errors.append(_("入职日期格式不正确，应为 年-月-日"))
        for message in errors:
            flash(message, "error")
        if errors:
            return None
        return {"name": values["name"], "stage": values["stage"] or None, "subject": values["subject"] or None,
                "cert_number": values["cert_number"] or None, "employed_on": employed}

    @expose("/new", methods=["GET", "POST"])
    def new(self):
        values = {k: "" for k in ("name", "id_number", "school", "stage", "subject", "cert_number", "employed_on")}
        if request.method == "POST":
            values = self._form_values()
            common = self._parse_common(values)
            school = values["school"]
            if not (school.isdigit() and int(school) in _school_names()):
                flash(_("请选择学校"), "error")
                common = None
            if not values["id_number"]:
                flash(_("请填写身份证号"), "error")
                common = None
            if common is not None:
                release()
                teacher = call(roster().add, id_number=values["id_number"], home_school_id=int(school), **common)
                if teacher is not None:
                    flash(_("已新增教师「%(name)s」", name=teacher.name), "success")
                    return redirect(url_for(".index"))
        return self.render("review/teacher_form.html", values=values, schools=schools(), stages=STAGES,
                           teacher=None)

    @expose("/<int:teacher_id>/edit", methods=["GET", "POST"])
    def edit(self, teacher_id: int):
        teacher = self._teacher(teacher_id)
        values = {"name": teacher.name, "stage": teacher.stage or "", "subject": teacher.subject or "",
                  "cert_number": teacher.cert_number or "",
                  "employed_on": teacher.employed_on.isoformat() if teacher.employed_on else "",
                  "active": teacher.active}
        if request.method == "POST":
            values = self._form_values()
            common = self._parse_common(values)
            if common is not None:
                release()
                done = call(roster().edit, teacher.id, active=values["active"], **common)
                if done is not None:
                    flash(_("已保存「%(name)s」的信息", name=done.name), "success")
                    return redirect(url_for(".index"))
        return self.render("review/teacher_form.html", values=values, schools=schools(), stages=STAGES,
                           teacher=teacher, id_masked=mask(teacher.id_number))

    @expose("/<int:teacher_id>/transfer", methods=["GET", "POST"])
    def transfer(self, teacher_id: int):
        teacher = self._teacher(teacher_id)
        names = _school_names()
        if request.method == "POST":
            school = (request.form.get("school") or "").strip()
            raw_on = (request.form.get("on") or "").strip()
            on = None
            ok = True
            if not (school.isdigit() and int(school) in names):
                flash(_("请选择调入学校"), "error")
                ok = False
            if raw_on:
                try:
                    on = date.fromisoformat(raw_on)
                except ValueError:
                    flash(_("调动日期格式不正确，应为 年-月-日"), "error")
                    ok = False
            if ok:
                release()
                done = call(roster().transfer, teacher.id, int(school), on=on)
                if done is not None:
                    flash(_("「%(name)s」已调入%(school)s", name=done.name, school=names[int(school)]), "success")
                    return redirect(url_for(".index"))
        return self.render("review/transfer.html", teacher=teacher, id_masked=mask(teacher.id_number),
                           current=names.get(teacher.home_school_id, "—"),
                           schools=[(i, n) for i, n in schools() if i != teacher.home_school_id],
                           today=platform().today().isoformat())

    @expose("/import", methods=["GET", "POST"])
    def import_(self):
        if request.method == "POST":
            upload = request.files.get("file")
            if upload is None or not upload.filename:
                flash(_("请选择要上传的 Excel 文件（.xlsx）"), "error")
            elif not upload.filename.lower().endswith(".xlsx"):
                flash(_("只能导入 .xlsx 格式的 Excel 工作簿（旧版 .xls 请先另存为 .xlsx）"), "error")
            else:
                head = upload.stream.read(4)
                upload.stream.seek(0)
                if head != XLSX_MAGIC:
                    flash(_("该文件不是有效的 .xlsx 工作簿"), "error")
                else:
                    folder = os.path.join(current_app.config["JIJIAO_UPLOAD_DIR"], "imports")
                    os.makedirs(folder, exist_ok=True)
                    path = os.path.join(folder, f"{uuid.uuid4().hex}.xlsx")
                    upload.save(path)
                    release()
                    job_id = call(roster().enqueue_import, path, os.path.basename(upload.filename)[:200])
                    if job_id is not None:
                        return redirect(url_for(".job", job_id=job_id))
                    os.unlink(path)
        return self.render("review/import.html", columns=list(COLUMNS), stages=STAGES)

    @expose("/template.xlsx")
    def template(self):
        return Response(template_workbook(), mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        headers={"Content-Disposition": "attachment; filename=roster-template.xlsx"})

    @expose("/job/<int:job_id>")
    def job(self, job_id: int):
        from ..pages import JOB_STATES
        job = db().get(JobRecord, job_id)
        if job is None or job.kind != "roster_import":
            abort(404)
        result = (job.params or {}).get("result")
        return self.render("review/import_job.html", job=job, states=JOB_STATES, result=result,
                           filename=(job.params or {}).get("filename"))


class RegisterView(RoleView):
    """Hours registered by a school for one of its teachers (the registration workflow: recorded
    here, then sent up for confirmation)."""

    roles = ("school_admin",)
    note = _l("为本校教师代为登记学时，报送上级确认")

    def _items(self) -> list[tuple[str, str, object]]:
        """(jurisdiction, code, item) of the items a school registers, for the actor's jurisdiction."""
        from .review import jurisdictions
        out = []
        for code in jurisdictions():
            try:
                bundle = platform().registry.bundle(code)
            except JijiaoError:
                continue
            for item_code, item in bundle.items.items():
                if item.channel == "school":
                    out.append((code, item_code, item))
        return out

    @expose("/", methods=["GET", "POST"])
    def index(self):
        session = db()
        items = self._items()
        teachers = session.execute(select(Teacher.id, Teacher.name, Teacher.id_number).where(Teacher.active.is_(True))
                                   .order_by(Teacher.name).limit(2000)).all()
        chosen = request.values.get("item") or (items[0][1] if items else "")
        item = next((i for i in items if i[1] == chosen), None)
        if chosen and item is None and items:
            flash(_("未知项目「%(item)s」", item=chosen), "error")
            item = items[0]
        fields = []
        if item is not None:
            assessor = platform().registry.assessor(item[0])
            specs = assessor.parser.specs(item[2])[0]
            for name, spec in specs.items():
                label = spec.label or (_("学时") if name in assessor.measures else name)
                fields.append({"name": name, "type": spec.type, "label": label, "required": spec.required,
                               "choices": spec.choices, "value": request.form.get(f"in_{name}", "")})
        if request.method == "POST" and item is not None:
            teacher = (request.form.get("teacher") or "").strip()
            period = (request.form.get("period") or "").strip() or None
            errors = []
            if not (teacher.isdigit() and any(t.id == int(teacher) for t in teachers)):
                errors.append(_("请选择教师"))
            inputs = {}
            for field in fields:
                raw = field["value"].strip()
                if not raw:
                    if field["required"]:
                        errors.append(_("请填写「%(label)s」", label=field["label"]))
                    continue
                if field["type"] in ("amount", "number", "integer"):
                    try:
                        value = Decimal(raw)
                        if not value.is_finite() or value < 0:
                            raise InvalidOperation
                    except InvalidOperation:
                        errors.append(_("「%(label)s」应为数字", label=field["label"]))
                        continue
                    inputs[field["name"]] = raw
                elif field["choices"] and raw not in field["choices"]:
                    errors.append(_("「%(label)s」的选项不正确", label=field["label"]))
                else:
                    inputs[field["name"]] = raw[:500]
            if period is not None and (len(period) > 16 or not all(c.isalnum() or c == "-" for c in period)):
                errors.append(_("周期格式不正确（如 2022-2023）"))
            for message in errors:
                flash(message, "error")
            if not errors:
                release()
                claim = call(services().claims.declare, int(teacher), item[1], inputs, period=period)
                if claim is not None:
                    flash(_("已录入第 %(id)s 号记录，请核对后报送上级确认", id=claim.id), "success")
                    return redirect(url_for("review.detail", claim_id=claim.id))
        recent = session.execute(select(Claim).where(Claim.workflow == "registration",
                                                     Claim.home_school_id == g.actor.node_id,
                                                     Claim.state.in_(("recorded", "returned")))
                                 .order_by(Claim.id.desc()).limit(50)).scalars().all()
        names = {t.id: t.name for t in teachers}
        pending = [{"c": c, "teacher": names.get(c.teacher_id, "—"), "item": item_name(c.jurisdiction, c.item_code),
                    "amount": amount_text(c.amount_milli), "state": state_label(c.workflow, c.state)} for c in recent]
        return self.render("review/register.html", items=items, item=item, fields=fields,
                           teachers=[(t.id, t.name, mask(t.id_number)) for t in teachers],
                           chosen_teacher=request.form.get("teacher", ""), period=request.form.get("period", ""),
                           pending=pending)


def register(admin) -> None:
    admin.add_view(RosterView(name=_l("教师名册"), endpoint="roster", url="/roster"))
    admin.add_view(RegisterView(name=_l("代为登记"), endpoint="register", url="/register"))
