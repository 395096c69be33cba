"""The district and city admins' pages (and a school admin's view of its own school):

* 阶段时间 (``/district/windows``): the stage windows of the actor's jurisdiction(s) for a period,
  the extensions in the subtree, and a form extending a stage for the actor's node or a node below.
* 培训项目 (``/district/projects``): training projects in scope, designing one, its workflow
  actions, and its participant list imported from an .xlsx file (all rows or none).
* 考核统计 (``/district/dashboard``): pass rates by school and registered hours by item, drawn
  with ECharts (served by the app) beside the tables, and the teachers below requirement with
  what each still lacks, as stored in their assessment result.

Every figure and every change goes through ``db()`` (the actor's scoped session) and
``services()``; refusals are flashed as the services word them.
"""

from __future__ import annotations

import io
from decimal import Decimal, InvalidOperation

from flask import abort, flash, g, redirect, request, send_file, url_for
from flask_admin import expose
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import BooleanField, DateField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from core.db.models import OrgNode, ProjectParticipant, Teacher, TrainingProject, User, WindowExtension
from core.errors import JijiaoError
from core.services.dashboard import DistrictReads

from ..i18n import _, _l
from .base import RoleView, call, db, end_reads, platform, services
from .review import workflow_word

WINDOW_ROLES = ("reviewer", "school_admin", "platform_admin")
PROJECT_ROLES = ("organiser", "school_admin", "reviewer")
DASHBOARD_ROLES = ("reviewer", "school_admin", "platform_admin", "auditor")
KIND_ORDER = {"province": 0, "city": 1, "district": 2, "town": 3, "school": 4}


def _flash_errors(form, *, closes_message=None) -> None:
    """A form's errors as Chinese flashes (WTForms' own words for a bad date or a missing CSRF
    token are English: replaced here)."""
    for name, errors in form.errors.items():
        if name == "csrf_token":
            flash(_("页面已过期或来源不明，请刷新页面后重试"), "error")
        elif name == "closes" and closes_message:
            flash(closes_message, "error")
        else:
            for message in errors:
                flash(str(message), "error")


def _actor_node():
    node = db().get(OrgNode, g.actor.node_id) if g.actor.node_id else None
    if node is None:
        abort(403)
    return node


def _reads() -> DistrictReads:
    """Reads above the actor's subtree (the governing plugin, windows, an approver's name): a
    service session does them, never the page's own (which may not skip scope). The page's read
    transaction ends first: on SQLite each transaction holds the write lock from its start."""
    end_reads()
    return DistrictReads(services())


def _governing() -> str | None:
    """The plugin governing the actor's node (None when no node above attaches one)."""
    try:
        return _reads().governing()
    except JijiaoError:
        return None


def _registry_has(code: str) -> bool:
    try:
        platform().registry.bundle(code)
    except Exception:
        return False
    return True


def _jurisdictions(node: OrgNode) -> list[str]:
    """The plugin governing the actor's node, then any plugin attached inside the subtree."""
    session = db()
    codes = []
    governing = _governing()
    if governing:
        codes.append(governing)
    for code in session.scalars(select(OrgNode.jurisdiction).where(OrgNode.jurisdiction.is_not(None))
                                .distinct().order_by(OrgNode.jurisdiction)):
        if code not in codes:
            codes.append(code)
    return [c for c in codes if _registry_has(c)]


def _periods(code: str) -> tuple[list[str], str]:
    """Period keys offered for a jurisdiction (last, this, next) and the default (this)."""
    calendar = platform().registry.assessor(code).calendar
    if calendar.personal:
        return ["cycle"], "cycle"
    current = calendar.containing(platform().today())
    keys = [calendar.shift(current, k).key for k in (1, 0, -1, -2)]
    return keys, current.key


def _stage_allowed(stage: str, node: OrgNode) -> bool:
    """A role may extend the review stages of its own level and below, never one above it (a
    school's admin does not move the district's review); other stages are not tied to a level."""
    if g.actor.role == "platform_admin":
        return True
    if stage.startswith("review_"):
        kind = stage[len("review_"):]
        if kind in KIND_ORDER and node.kind in KIND_ORDER:
            return KIND_ORDER[kind] >= KIND_ORDER[node.kind]
    return True


class ExtendForm(FlaskForm):
    jurisdiction = SelectField(_l("地区"), validate_choice=False)
    period = SelectField(_l("考核期间"), validate_choice=False)
    stage = SelectField(_l("阶段"), validate_choice=False)
    node = SelectField(_l("适用机构"), validate_choice=False)
    closes = DateField(_l("新的截止日期"), validators=[DataRequired(message=_l("请填写新的截止日期（年-月-日）"))])
    reason = TextAreaField(_l("延长原因"), validators=[DataRequired(message=_l("请填写延长原因")),
                                                   Length(max=500, message=_l("原因不超过500字"))])


class WindowsView(RoleView):
    roles = WINDOW_ROLES
    note = _l("本辖区各阶段的开放与截止时间，以及延长记录")

    def _context(self, code: str | None, period: str | None):
        node = _actor_node()
        codes = _jurisdictions(node)
        if not codes:
            return None
        if code not in codes:
            code = codes[0]
        keys, default = _periods(code)
        if period not in keys:
            period = default
        session = db()
        bundle = platform().registry.bundle(code)
        windows = _reads().stage_windows(code, period, node.id)
        stages = []
        for spec in bundle.stage_windows:
            stages.append({"stage": spec.stage, "name": spec.name, "window": windows.get(spec.stage),
                           "allowed": _stage_allowed(spec.stage, node)})
        ext_rows = session.execute(
            select(WindowExtension, OrgNode.name, User.display_name)
            .join(OrgNode, OrgNode.id == WindowExtension.node_id)
            .outerjoin(User, User.id == WindowExtension.created_by)
            .where(WindowExtension.jurisdiction == code, WindowExtension.period_key == period)
            .order_by(WindowExtension.id.desc()).limit(200)).all()
        names = {s["stage"]: s["name"] for s in stages}
        extensions = [{"ext": e, "node": n, "by": u or "", "stage": names.get(e.stage, e.stage)}
                      for e, n, u in ext_rows]
        nodes = session.scalars(select(OrgNode).where(OrgNode.active.is_(True))
                                .order_by(OrgNode.path).limit(500)).all()
        form = ExtendForm()
        form.jurisdiction.choices = [(c, platform().registry.bundle(c).jurisdiction.name) for c in codes]
        form.period.choices = [(k, k) for k in keys]
        form.stage.choices = [(s["stage"], s["name"]) for s in stages if s["allowed"]]
        form.node.choices = [(str(n.id), "　" * max(0, n.depth - node.depth) + n.name) for n in nodes]
        if not form.is_submitted():
            form.jurisdiction.data, form.period.data, form.node.data = code, period, str(node.id)
        return {"node": node, "code": code, "codes": form.jurisdiction.choices, "period": period, "keys": keys,
                "stages": stages, "extensions": extensions, "form": form,
                "can_extend": g.actor.role in ("reviewer", "school_admin", "platform_admin") and not g.actor.read_only,
                "name": bundle.jurisdiction.name}

    @expose("/")
    def index(self):
        ctx = self._context(request.args.get("j"), request.args.get("period"))
        if ctx is None:
            return self.render("district/windows.html", empty=True)
        return self.render("district/windows.html", empty=False, **ctx)

    @expose("/extend", methods=["POST"])
    def extend(self):
        form_j, form_p = request.form.get("jurisdiction"), request.form.get("period")
        ctx = self._context(form_j, form_p)
        if ctx is None:
            abort(404)
        form = ctx["form"]
        back = url_for(".index", j=ctx["code"], period=ctx["period"])
        if not form.validate_on_submit():
            _flash_errors(form, closes_message=_("请填写有效的新截止日期（年-月-日）"))
            return self.render("district/windows.html", empty=False, **ctx), 400
        if form_j != ctx["code"] or form_p != ctx["period"]:
            flash(_("地区或考核期间不在可选范围内"), "error")
            return redirect(back)
        if form.stage.data not in {c[0] for c in form.stage.choices}:
            flash(_("您不能延长该阶段的时间（只能延长本级及以下的阶段）"), "error")
            return redirect(back)
        if form.node.data not in {c[0] for c in form.node.choices}:
            flash(_("找不到该机构，或不在您的管辖范围内"), "error")
            return redirect(back)
        end_reads()
        done = call(services().windows.extend, jurisdiction=ctx["code"], stage=form.stage.data,
                    period_key=ctx["period"], closes=form.closes.data, node_id=int(form.node.data),
                    reason=form.reason.data.strip(), success=_("已延长，延长记录已写入审计日志"))
        if done is None:
            return self.render("district/windows.html", empty=False, **ctx), 400
        return redirect(back)


# -- training projects -------------------------------------------------------------------------

class ProjectForm(FlaskForm):
    code = StringField(_l("项目编号"), validators=[DataRequired(message=_l("请填写项目编号")),
                                                Length(max=64, message=_l("项目编号不超过64个字符"))])
    title = StringField(_l("项目名称"), validators=[DataRequired(message=_l("请填写项目名称")),
                                                 Length(max=200, message=_l("项目名称不超过200字"))])
    item_code = SelectField(_l("学时项目"), validate_choice=False)
    period_key = StringField(_l("考核期间"), validators=[DataRequired(message=_l("请填写考核期间"))])
    amount = StringField(_l("学时（学分）"), validators=[Optional()])
    needs_approval = BooleanField(_l("需要上级审批"))
    approver_kind = SelectField(_l("审批机构"), choices=[("city", _l("市级")), ("district", _l("区（县）级")),
                                                     ("province", _l("省级"))], validate_choice=False)


def _project_or_404(project_id: int) -> TrainingProject:
    project = db().get(TrainingProject, project_id)
    if project is None:
        abort(404)
    return project


class ProjectsView(RoleView):
    roles = PROJECT_ROLES
    note = _l("设计培训项目、审批、结业，导入参训名单并登记学时")

    def _items(self, node: OrgNode):
        code = _governing()
        if not code or not _registry_has(code):
            return None, []
        assessor = platform().registry.assessor(code)
        items = [(i.code, i.name) for i in assessor.bundle.items.values() if i.channel in ("organiser", "school")]
        return assessor, items

    @expose("/")
    def index(self):
        before = request.args.get("before", type=int)
        query = select(TrainingProject, OrgNode.name).join(OrgNode, OrgNode.id == TrainingProject.organiser_node_id)
        if before:
            query = query.where(TrainingProject.id < before)
        rows = db().execute(query.order_by(TrainingProject.id.desc()).limit(51)).all()
        more = len(rows) > 50
        rows = rows[:50]
        workflow = platform().workflows.get("project").definition

        def view(p, n):
            return {"p": p, "organiser": n, "state": workflow_word(workflow.state_label(p.state)), "item": self._item_name(p),
                    "amount": self._amount(p)}
        projects = [view(p, n) for p, n in rows]
        # What waits for this node's approval (its own subtree: the approver is above the organiser).
        waiting = db().execute(
            select(TrainingProject, OrgNode.name).join(OrgNode, OrgNode.id == TrainingProject.organiser_node_id)
            .where(TrainingProject.approver_node_id == g.actor.node_id, TrainingProject.state == "pending_approval")
            .order_by(TrainingProject.id).limit(50)).all() if g.actor.role == "reviewer" else []
        return self.render("district/projects.html", projects=projects, waiting=[view(p, n) for p, n in waiting],
                           next_before=rows[-1][0].id if more and rows else None)

    def _item_name(self, project) -> str:
        try:
            item = platform().registry.bundle(project.jurisdiction).items.get(project.item_code)
        except Exception:
            item = None
        return item.name if item else project.item_code

    def _amount(self, project) -> str:
        try:
            measure = platform().registry.assessor(project.jurisdiction).measures[0]
        except Exception:
            return ""
        value = (project.inputs or {}).get(measure)
        return "" if value is None else str(value)

    @expose("/new", methods=["GET", "POST"])
    def new(self):
        node = _actor_node()
        assessor, items = self._items(node)
        form = ProjectForm()
        form.item_code.choices = items
        if assessor is None:
            flash(_("本机构及其上级都没有挂接地区插件，不能设计培训项目"), "error")
            return redirect(url_for(".index"))
        if not assessor.calendar.personal and not form.is_submitted():
            form.period_key.data = assessor.calendar.containing(platform().today()).key
        if form.validate_on_submit():
            inputs = {}
            raw = (form.amount.data or "").strip()
            if raw:
                try:
                    value = Decimal(raw)
                except InvalidOperation:
                    value = None
                if value is None or not value.is_finite():
                    flash(_("学时应为数字，例如 24 或 1.5"), "error")
                    return self.render("district/project_new.html", form=form), 400
                inputs[assessor.measures[0]] = raw
            end_reads()
            project = call(services().projects.design, code=form.code.data.strip(), title=form.title.data.strip(),
                           item_code=form.item_code.data, period_key=form.period_key.data.strip(), inputs=inputs,
                           needs_approval=bool(form.needs_approval.data), approver_kind=form.approver_kind.data,
                           success=_("培训项目已创建"))
            if project is not None:
                return redirect(url_for(".detail", project_id=project.id))
            return self.render("district/project_new.html", form=form), 400
        _flash_errors(form)
        return self.render("district/project_new.html", form=form), (400 if form.errors else 200)

    def _detail(self, project_id: int, row_errors=None, status=200):
        project = _project_or_404(project_id)
        session = db()
        workflow = platform().workflows.get(project.workflow)
        definition = workflow.definition
        organiser = session.get(OrgNode, project.organiser_node_id)
        # The approver is above the organiser, often outside the actor's subtree: its name only.
        approver = _reads().approver_name(project.id) if project.approver_node_id else None
        rows = session.execute(
            select(ProjectParticipant, Teacher.name, Teacher.id_number, OrgNode.name)
            .join(Teacher, Teacher.id == ProjectParticipant.teacher_id)
            .join(OrgNode, OrgNode.id == Teacher.home_school_id, isouter=True)
            .where(ProjectParticipant.project_id == project.id)
            .order_by(ProjectParticipant.id).limit(501)).all()
        from core.idnumber import mask
        participants = [{"name": name, "id": mask(number), "school": school or "", "completed": p.completed,
                         "claim": p.claim_id} for p, name, number, school in rows[:500]]
        actions = []
        for trigger in workflow.triggers_from(project.state):
            tdef = next(t for t in definition.transitions if t.trigger == trigger and project.state in t.sources)
            actions.append({"trigger": trigger, "label": workflow_word(tdef.label),
                            "reason": any(name == "reason_given" for name, _arg in tdef.guards)})
        from core.services.participants import OPEN_STATES
        can_import = (project.state in OPEN_STATES and g.actor.node_id == project.organiser_node_id)
        return self.render("district/project.html", project=project, state=workflow_word(definition.state_label(project.state)),
                           item=self._item_name(project), amount=self._amount(project), organiser=organiser,
                           approver=approver, participants=participants, more=len(rows) > 500,
                           actions=actions, can_import=can_import, row_errors=row_errors or {}), status

    @expose("/<int:project_id>")
    def detail(self, project_id: int):
        return self._detail(project_id)

    @expose("/<int:project_id>/transition", methods=["POST"])
    def transition(self, project_id: int):
        _project_or_404(project_id)
        form = FlaskForm()
        if not form.validate_on_submit():
            abort(400)
        trigger = request.form.get("trigger", "")
        reason = (request.form.get("reason") or "").strip() or None
        label = workflow_word(platform().workflows.get("project").definition.trigger_label(trigger))
        end_reads()
        call(services().projects.transition, project_id, trigger, reason=reason,
             success=_("已完成：%(action)s", action=label))
        return redirect(url_for(".detail", project_id=project_id))

    @expose("/<int:project_id>/participants", methods=["POST"])
    def participants(self, project_id: int):
        from core.services.claims import BatchRejected
        from core.services.participants import ParticipantService, read_sheet
        _project_or_404(project_id)
        if not FlaskForm().validate_on_submit():
            abort(400)
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            flash(_("请选择要导入的 Excel 文件（.xlsx）"), "error")
            return self._detail(project_id, status=400)
        if not upload.filename.lower().endswith(".xlsx"):
            flash(_("只能导入 .xlsx 格式的 Excel 文件（旧的 .xls 请先另存为 .xlsx）"), "error")
            return self._detail(project_id, status=400)
        data = upload.read()
        try:
            rows = read_sheet(data)
            end_reads()
            result = ParticipantService(services()).import_rows(project_id, rows, source=upload.filename)
        except BatchRejected as exc:
            flash(exc.message, "error")
            return self._detail(project_id, row_errors=exc.rows, status=400)
        except JijiaoError as exc:
            flash(getattr(exc, "message", None) or str(exc), "error")
            return self._detail(project_id, status=400)
        flash(_("参训名单已导入：共 %(total)s 人，新增 %(added)s 人，更新 %(updated)s 人，其中已结业 %(done)s 人",
                total=result.total, added=result.added, updated=result.updated, done=result.completed), "success")
        return redirect(url_for(".detail", project_id=project_id))

    @expose("/template.xlsx")
    def template(self):
        from core.services.participants import template_bytes
        return send_file(io.BytesIO(template_bytes()), as_attachment=True, download_name="参训名单模板.xlsx",
                         mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


# -- the dashboard -----------------------------------------------------------------------------

class DashboardView(RoleView):
    roles = DASHBOARD_ROLES
    note = _l("各校合格率、各项目登记学时，以及学时未达标教师名单")

    def _service(self):
        from core.services.dashboard import DashboardService
        return DashboardService(services())

    def _period(self, service):
        periods = service.periods(db())
        period = request.args.get("period")
        if period not in periods:
            period = None
            node = _actor_node()
            code = _governing()
            if code and _registry_has(code):
                calendar = platform().registry.assessor(code).calendar
                if not calendar.personal:
                    current = calendar.containing(platform().today()).key
                    period = current if current in periods else None
            if period is None and periods:
                period = periods[0]
        return periods, period

    @expose("/")
    def index(self):
        service = self._service()
        periods, period = self._period(service)
        node = _actor_node()
        if period is None:
            return self.render("district/dashboard.html", node=node, periods=[], period=None)
        session = db()
        schools = service.by_school(session, period)
        items = service.by_item(session, period)
        return self.render("district/dashboard.html", node=node, periods=periods, period=period, schools=schools,
                           total=service.totals(schools), items=items,
                           chart=service.chart_data(schools, items))

    @expose("/below")
    def below(self):
        service = self._service()
        periods, period = self._period(service)
        node = _actor_node()
        school = None
        school_id = request.args.get("school", type=int)
        if school_id:
            school = db().get(OrgNode, school_id)
            if school is None:
                abort(404)
        after = max(0, request.args.get("after", 0, type=int) or 0)
        rows, next_after = ([], None) if period is None else service.below(
            db(), period, after=after, school_path=school.path if school else None)
        return self.render("district/below.html", node=node, periods=periods, period=period, rows=rows,
                           next_after=next_after, school=school, after=after)


def register(admin) -> None:
    admin.add_view(WindowsView(name=_l("阶段时间"), endpoint="district_windows", url="/district/windows"))
    admin.add_view(ProjectsView(name=_l("培训项目"), endpoint="district_projects", url="/district/projects"))
    admin.add_view(DashboardView(name=_l("考核统计"), endpoint="district_dashboard", url="/district/dashboard"))
