"""The pages: one Flask-Admin ``Admin`` whose views come from ``admin/views/``, each module
registering its own views for the roles it serves. The start page sends each role to its work."""

from __future__ import annotations

import importlib

from flask import flash, g, redirect, request, url_for
from flask_admin import Admin, expose
from flask_admin.theme import Bootstrap4Theme

from core.errors import InputError

from .i18n import _, _l
from .views.base import ALL_ROLES, HomeView, RoleView, services

# Each module has ``register(admin)``; order is the menu's order.
VIEW_MODULES = ("admin.views.teacher", "admin.views.review", "admin.views.district", "admin.views.it",
                "admin.views.documents")


class Home(HomeView):
    @expose("/")
    def index(self):
        from core.db.models import OrgNode
        from .views.base import db
        links = []
        for view in self.admin._views:
            if view is self or not view.is_accessible() or getattr(view, "hidden", False):
                continue
            # a model view's first page is "index_view", a plain view's "index"
            links.append({"name": view.name, "url": url_for(f"{view.endpoint}.{view._default_view}"),
                          "note": getattr(view, "note", None), "last": isinstance(view, JobsView)})
        links.sort(key=lambda link: link["last"])  # the role's work first, background jobs last
        node = db().get(OrgNode, g.actor.node_id) if g.actor.node_id else None
        return self.render("jijiao/home.html", links=links, node_name=node.name if node else "")


class AccountView(RoleView):
    roles = ALL_ROLES
    hidden = True

    def is_visible(self):
        return False

    @expose("/", methods=["GET", "POST"])
    def index(self):
        from .auth import PasswordForm, _start, auth_service
        from flask import session
        form = PasswordForm()
        if form.validate_on_submit():
            if form.password.data != form.confirm.data:
                flash(_("两次输入的新密码不一致"), "error")
            else:
                try:
                    signed = auth_service().change_password(g.user.user_id, form.old_password.data,
                                                            form.password.data)
                except InputError as exc:
                    flash(exc.message, "error")
                else:
                    role = session.get("ra")
                    _start(signed)
                    session["ra"] = role
                    flash(_("密码已修改；其他设备上的登录已全部退出。"), "success")
                    return redirect(url_for("admin.index"))
        return self.render("jijiao/password.html", form=form)


# Marked for extraction (``_l``); shown translated when rendered.
JOB_STATES = {"queued": _l("排队中"), "running": _l("进行中"), "done": _l("已完成"), "failed": _l("失败")}
# What each kind of job is called on screen; a module that queues a new kind adds its name here
# in its register(admin): ``JOB_KINDS["bulk_review"] = _l("批量审核")``.
JOB_KINDS = {"recompute": _l("重新计算考核结果")}


class JobsView(RoleView):
    """A background job's progress (the data layer's scope decides whose jobs one sees):
    ``/jobs/<id>`` a page with a progress bar, ``/jobs/<id>.json`` what the bar polls."""

    roles = ALL_ROLES
    note = _l("导入、批量审核、重新计算等后台任务的进度")

    def is_visible(self):
        return False

    def _job(self, job_id: int):
        from flask import abort
        from core.db.models import JobRecord
        from .views.base import db
        job = db().get(JobRecord, job_id)
        if job is None or not self._mine(job):
            abort(404)
        return job

    @staticmethod
    def _mine(job) -> bool:
        # The data layer shows a teacher the jobs of their school's path; a teacher's own page of
        # jobs lists only what they started (a school's import names other teachers).
        return g.actor.role != "teacher" or job.created_by == g.actor.user_id

    @expose("/")
    def index(self):
        from sqlalchemy import select
        from core.db.models import JobRecord
        from .views.base import db
        query = select(JobRecord).order_by(JobRecord.id.desc()).limit(50)
        if g.actor.role == "teacher":
            query = query.where(JobRecord.created_by == g.actor.user_id)
        jobs = db().scalars(query).all()
        return self.render("jijiao/jobs.html", jobs=jobs, states=JOB_STATES, kinds=JOB_KINDS)

    @expose("/<int:job_id>")
    def detail(self, job_id: int):
        return self.render("jijiao/job.html", job=self._job(job_id), states=JOB_STATES, kinds=JOB_KINDS)

    @expose("/<int:job_id>.json")
    def status(self, job_id: int):
        job = self._job(job_id)
        label = f"{JOB_STATES.get(job.state, job.state)} {job.done}/{job.total}"
        if job.message:
            label += f" · {job.message}"
        return {"id": job.id, "kind": job.kind, "state": job.state, "done": job.done, "total": job.total,
                "message": job.message, "label": label}


def init_app(app) -> None:
    # Names are lazy (_l): they are read while a page renders, in the user's language.
    admin = Admin(app, name=_l("继教平台"), index_view=Home(name=_l("工作台"), url="/", endpoint="admin"),
                  theme=Bootstrap4Theme(base_template="jijiao/layout.html", fluid=True),
                  csp_nonce_generator=lambda: g.get("csp_nonce", ""))
    admin.add_view(AccountView(name=_l("修改密码"), endpoint="account", url="/account/password"))
    admin.add_view(JobsView(name=_l("后台任务"), endpoint="jobs", url="/jobs"))
    for name in VIEW_MODULES:
        importlib.import_module(name).register(admin)
    app.extensions["jijiao_admin"] = admin

    @app.route("/healthz", endpoint="health")
    def _health():
        return {"ok": True}
