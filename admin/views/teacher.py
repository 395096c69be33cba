"""A teacher's pages: "我的学时" (progress against each requirement, what pending claims would
add, the reasons, every claim with the engine's explanation and its actions) and declaring (the
jurisdiction's catalogue; a form generated from the item's inputs; evidence uploads).

Every change goes through the services with the version the teacher saw; every refusal is shown
as the services word it. The teacher is ``g.actor.teacher_id``; the data layer's scope decides
what exists, so someone else's claim id is a 404 like a missing one.
"""

from __future__ import annotations

from flask import abort, current_app, flash, g, redirect, request, url_for
from flask_admin import expose
from sqlalchemy import select

from core.compile import MEASURE_WORDS
from core.db.models import Claim, Evidence, Teacher
from core.errors import InputError, JijiaoError
from core.numbers import fmt
from core.services.evidence import ACCEPTED, MAX_FILES
from core.services.progress import ProgressService

from .. import evidence as web_evidence
from ..forms import attach_error, build_form, declaration_form_class, inputs_of
from ..i18n import _, _l
from .base import RoleView, db, platform, services

CLAIMANT_TRIGGERS = ("submit", "withdraw", "resubmit")
EDITABLE = ("draft", "recorded", "returned")
STATE_STYLES = {"draft": "secondary", "recorded": "secondary", "submitted": "info", "in_review": "primary",
                "returned": "warning", "rejected": "danger", "registered": "success"}
MAX_CLAIMS_SHOWN = 300
UNITS = {"hours": _l("学时"), "credits": _l("学分")}  # the measures' words (core.compile.MEASURE_WORDS), translatable


def release() -> None:
    """End the request session's transaction before a service runs its own: on SQLite every
    transaction takes the write lock, so an open read would block the service's write. Loaded
    objects stay usable (sessions do not expire on commit)."""
    session = g.get("db")
    if session is not None and session.in_transaction():
        session.commit()


def _message(exc: JijiaoError) -> str:
    return getattr(exc, "message", None) or str(exc)


class TeacherView(RoleView):
    roles = ("teacher",)
    note = _l("本年度与本周期的学时进度、申报与证明材料")

    # -- helpers --------------------------------------------------------------------------------
    def _teacher(self) -> Teacher:
        tid = g.actor.teacher_id
        teacher = db().get(Teacher, tid) if tid is not None else None
        if teacher is None:
            abort(404)
        return teacher

    def _claim(self, claim_id: int) -> Claim:
        claim = db().get(Claim, claim_id)
        if claim is None:
            abort(404)
        return claim

    def _workflow(self, claim: Claim):
        return platform().workflows.get(claim.workflow).definition

    @staticmethod
    def _own(claim: Claim) -> bool:
        """Whether the teacher is the claim's claimant: their own declaration (a school's or an
        organiser's registration for them is the registering body's to change)."""
        return claim.workflow == "declaration" and claim.teacher_id == g.actor.teacher_id

    def _editable(self, claim: Claim) -> bool:
        return self._own(claim) and claim.state in EDITABLE

    def _actions(self, claim: Claim) -> list[dict]:
        """The buttons a claimant sees for a claim (the services still decide)."""
        if not self._own(claim):
            return []
        wf = self._workflow(claim)
        seen, out = set(), []
        for t in wf.transitions:
            if t.actor == "claimant" and claim.state in t.sources and t.trigger in CLAIMANT_TRIGGERS \
                    and t.trigger not in seen:
                seen.add(t.trigger)
                out.append({"trigger": t.trigger, "label": _(t.label)})
        return out

    def _item(self, teacher: Teacher, code: str):
        assessor = platform().registry.assessor(teacher.jurisdiction)
        item = assessor.bundle.items.get(code)
        return assessor, item

    def _form_class(self, assessor, item):
        specs = assessor.parser.specs(item)[0]
        periods = ProgressService(services()).periods(assessor.code, 3)
        personal = assessor.calendar.personal
        return declaration_form_class(item, specs, measures=assessor.measures, periods=periods,
                                      personal=personal), specs, periods, personal

    def _unit(self, assessor) -> str:
        measure = assessor.measures[0]
        return UNITS.get(measure) or MEASURE_WORDS.get(measure, "")

    def _check_files(self):
        """Check every uploaded file before anything is stored: (checked files, refusals)."""
        checker = web_evidence.evidence_service()
        max_bytes = current_app.config["JIJIAO_UPLOAD_MAX_BYTES"]
        checked, errors = [], []
        files = web_evidence.uploaded_files()
        if len(files) > MAX_FILES:
            return [], [_("每条记录最多上传 %(n)s 个文件", n=MAX_FILES)]
        for storage in files:
            try:
                checked.append(checker.check(storage.filename, web_evidence.read_upload(storage, max_bytes)))
            except InputError as exc:
                from core.services.evidence import clean_filename
                errors.append(_("「%(name)s」未上传：%(message)s", name=clean_filename(storage.filename),
                                message=_message(exc)))
        return checked, errors

    def _store_files(self, claim_id: int, checked) -> bool:
        service = web_evidence.evidence_service()
        ok = True
        for item in checked:
            try:
                service.add(claim_id, item)
            except JijiaoError as exc:
                flash(_("「%(name)s」未上传：%(message)s", name=item.filename, message=_message(exc)), "error")
                ok = False
        return ok

    # -- 我的学时 ---------------------------------------------------------------------------------
    @expose("/")
    def index(self):
        teacher = self._teacher()
        progress_service = ProgressService(services())
        periods = progress_service.periods(teacher.jurisdiction)
        period = request.args.get("period") or periods[0]
        if period not in periods:
            abort(404)
        release()  # the service reads in a session of its own
        progress = progress_service.of_teacher(teacher.id, period)
        assessor = platform().registry.assessor(teacher.jurisdiction)
        claims = db().scalars(select(Claim).where(Claim.teacher_id == teacher.id)
                              .order_by(Claim.updated_at.desc(), Claim.id.desc()).limit(MAX_CLAIMS_SHOWN)).all()
        evidence_counts: dict[int, int] = {}
        if claims:
            for cid, _eid in db().execute(select(Evidence.claim_id, Evidence.id).where(
                    Evidence.claim_id.in_([c.id for c in claims]))):
                evidence_counts[cid] = evidence_counts.get(cid, 0) + 1
        rows = []
        for claim in claims:
            wf = self._workflow(claim)
            item = assessor.bundle.items.get(claim.item_code)
            rows.append({"claim": claim, "item_name": item.name if item else claim.item_code,
                         "state_label": _(wf.state_label(claim.state)),
                         "style": STATE_STYLES.get(claim.state, "secondary"),
                         "amount": fmt(claim.amount_milli), "actions": self._actions(claim),
                         "editable": self._editable(claim),
                         "explanation": claim.explanation or {},
                         "assessed": progress.explanations.get(claim.id),
                         "evidence": evidence_counts.get(claim.id, 0)})
        flags = assessor.j.flags
        return self.render("teacher/progress.html", teacher=teacher, progress=progress, periods=periods,
                           period=period, rows=rows, unit=self._unit(assessor), units=UNITS,
                           flag_labels=flags, jurisdiction_name=assessor.j.name)

    # -- declaring --------------------------------------------------------------------------------
    @expose("/declare/")
    def catalogue(self):
        teacher = self._teacher()
        assessor = platform().registry.assessor(teacher.jurisdiction)
        names = {c.code: c.name for c in assessor.j.categories}
        items = [i for i in assessor.bundle.items.values() if i.channel == "declaration"]
        groups: dict[str, list] = {}
        for item in items:
            groups.setdefault(names.get(item.category, item.category), []).append(item)
        return self.render("teacher/catalogue.html", groups=groups, jurisdiction_name=assessor.j.name)

    @expose("/declare/<path:code>", methods=["GET", "POST"])
    def declare(self, code: str):
        teacher = self._teacher()
        assessor, item = self._item(teacher, code)
        if item is None or item.channel != "declaration":
            abort(404)
        form_class, specs, periods, personal = self._form_class(assessor, item)
        form = build_form(form_class, periods, personal, formdata=request.form if request.method == "POST" else None)
        file_errors: list[str] = []
        if request.method == "POST" and form.validate():
            checked, file_errors = self._check_files()
            if not file_errors:
                period = None if personal else (form.period.data or None)
                release()
                try:
                    claim = services().claims.declare(teacher.id, item.code, inputs_of(form), period=period,
                                                      on=form.on.data)
                except InputError as exc:
                    if not attach_error(form, exc):
                        flash(_message(exc), "error")
                except JijiaoError as exc:
                    flash(_message(exc), "error")
                else:
                    stored = self._store_files(claim.id, checked)
                    if request.form.get("action") == "submit" and stored:
                        try:
                            services().claims.submit(claim.id, expected_version=claim.version)
                        except JijiaoError as exc:
                            flash(_("已保存为草稿，但未能提交：%(message)s", message=_message(exc)), "error")
                        else:
                            flash(_("已提交「%(name)s」，等待审核", name=item.name), "success")
                    else:
                        flash(_("已保存草稿「%(name)s」", name=item.name), "success")
                    if not stored:
                        return redirect(url_for(".claim", claim_id=claim.id))
                    return redirect(url_for(".index"))
        return self.render("teacher/declare.html", form=form, item=item, file_errors=file_errors,
                           accepted=ACCEPTED, max_mb=current_app.config["JIJIAO_UPLOAD_MAX_BYTES"] // (1024 * 1024),
                           max_files=MAX_FILES, personal=personal)

    # -- one claim ----------------------------------------------------------------------------------
    @expose("/claim/<int:claim_id>", methods=["GET", "POST"])
    def claim(self, claim_id: int):
        teacher = self._teacher()
        claim = self._claim(claim_id)
        assessor, item = self._item(teacher, claim.item_code)
        wf = self._workflow(claim)
        form = None
        editable = self._editable(claim) and item is not None
        if editable:
            form_class, specs, periods, personal = self._form_class(assessor, item)
            if request.method == "POST":
                form = build_form(form_class, periods, personal, formdata=request.form)
            else:
                form = build_form(form_class, periods, personal, claim=claim, specs=specs)
            if "period" in form:
                del form.period  # the period of a saved claim stays (the services keep it)
            if request.method == "POST" and form.validate():
                version = _int(request.form.get("version"))
                release()
                try:
                    services().claims.edit(claim.id, inputs_of(form), expected_version=version, on=form.on.data)
                except InputError as exc:
                    if not attach_error(form, exc):
                        flash(_message(exc), "error")
                except JijiaoError as exc:
                    flash(_message(exc), "error")
                else:
                    flash(_("已保存修改"), "success")
                    return redirect(url_for(".claim", claim_id=claim.id))
        elif request.method == "POST":
            flash(_("只有草稿或被退回的记录可以修改"), "error")
            return redirect(url_for(".claim", claim_id=claim.id))
        evidence = db().scalars(select(Evidence).where(Evidence.claim_id == claim.id).order_by(Evidence.id)).all()
        return self.render("teacher/claim.html", claim=claim, item=item, form=form, evidence=evidence,
                           state_label=_(wf.state_label(claim.state)),
                           style=STATE_STYLES.get(claim.state, "secondary"), actions=self._actions(claim),
                           editable=editable, amount=fmt(claim.amount_milli), unit=self._unit(assessor),
                           explanation=claim.explanation or {}, units=UNITS, accepted=ACCEPTED,
                           max_mb=current_app.config["JIJIAO_UPLOAD_MAX_BYTES"] // (1024 * 1024),
                           max_files=MAX_FILES)

    @expose("/claim/<int:claim_id>/<trigger>", methods=["POST"])
    def act(self, claim_id: int, trigger: str):
        self._teacher()
        claim = self._claim(claim_id)
        if trigger not in CLAIMANT_TRIGGERS:
            abort(404)
        version = _int(request.form.get("version"))
        if version is None:
            flash(_("请求缺少版本号，请刷新页面后重试"), "error")
        else:
            wf = self._workflow(claim)
            release()
            try:
                services().claims.transition(claim.id, trigger, expected_version=version)
            except JijiaoError as exc:
                flash(_message(exc), "error")
            else:
                flash(_("已%(action)s：第%(id)s号记录", action=_(wf.trigger_label(trigger)), id=claim.id), "success")
        return redirect(_back(url_for(".index")))

    @expose("/claim/<int:claim_id>/evidence", methods=["POST"])
    def upload(self, claim_id: int):
        self._teacher()
        claim = self._claim(claim_id)
        checked, errors = self._check_files()
        for message in errors:
            flash(message, "error")
        if not checked and not errors:
            flash(_("请选择要上传的文件"), "error")
        release()
        if checked and self._store_files(claim.id, checked):
            flash(_("已上传 %(n)s 个文件", n=len(checked)), "success")
        return redirect(url_for(".claim", claim_id=claim.id))

    @expose("/evidence/<int:evidence_id>/remove", methods=["POST"])
    def remove_evidence(self, evidence_id: int):
        self._teacher()
        row = db().get(Evidence, evidence_id)
        if row is None:
            abort(404)
        claim_id = row.claim_id
        release()
        try:
            web_evidence.evidence_service().remove(evidence_id)
        except JijiaoError as exc:
            flash(_message(exc), "error")
        else:
            flash(_("已删除文件「%(name)s」", name=row.filename), "success")
        return redirect(url_for(".claim", claim_id=claim_id))


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _back(default: str) -> str:
    target = request.form.get("next") or ""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default


def register(admin) -> None:
    admin.add_view(TeacherView(name=_l("我的学时"), endpoint="teacher", url="/teacher"))
    web_evidence.init_app(admin.app)
