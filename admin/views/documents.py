"""Documents and exchange: summary sheets (汇总表) and pass-rate statistics of a unit as Excel,
registration forms and certificates as PDF, and the public verification page ``/verify/<code>``.

Every read goes through ``db()`` (the session bound to the signed-in actor): a unit or a document
outside scope is a 404 exactly like a missing one. Every download is audited (trigger ``export``).
The verification page is public and rate-limited per client address by an in-process token
bucket (per process: each waitress process keeps its own buckets).
"""

from __future__ import annotations

import io
import threading
import time

from flask import (Blueprint, abort, current_app, flash, g, redirect, render_template, request, send_file,
                   url_for)
from flask_admin import expose
from sqlalchemy import select

from core.db.models import Document, OrgNode, Teacher
from core.documents.issue import DocumentService, NotFound, audit_export, document_kinds, lookup
from core.documents.summary import NotInScope, SummaryService, period_label
from core.errors import InputError, JijiaoError
from core.exchange.csvout import content_disposition
from core.exchange.xlsx_out import XLSX_MIME
from core.idnumber import mask

from ..i18n import _, _l
from .base import RoleView, call, db, platform, services

ROLES = ("school_admin", "reviewer", "platform_admin", "auditor")
ISSUERS = ("school_admin", "reviewer", "platform_admin")
IMPORTERS = ("school_admin", "reviewer")
MAX_UNITS = 500


def _unit_choices():
    """The actor's node and the units below it (scope decides), at most MAX_UNITS."""
    rows = db().execute(select(OrgNode.id, OrgNode.name, OrgNode.depth, OrgNode.kind)
                        .where(OrgNode.kind != "province").order_by(OrgNode.path).limit(MAX_UNITS)).all()
    top = min((r.depth for r in rows), default=0)
    return [(r.id, "　" * (r.depth - top) + r.name) for r in rows]


def _node_and_period():
    try:
        node_id = int(request.args.get("node") or g.actor.node_id or 0)
    except ValueError:
        abort(404)
    period = (request.args.get("period") or "").strip()[:16]
    return node_id, period


def _download(data: bytes, filename: str, mimetype: str):
    response = send_file(io.BytesIO(data), mimetype=mimetype, as_attachment=True, download_name=filename)
    response.headers["Content-Disposition"] = content_disposition(filename)
    return response


class DocumentsView(RoleView):
    roles = ROLES
    note = _l("学时汇总表、合格率统计、登记表与证书")

    @expose("/")
    def index(self):
        node_id, period = _node_and_period()
        return self._index(node_id, period)

    def _index(self, node_id: int, period: str, *, statistics: bool = True):
        units = _unit_choices()
        stats = total = None
        node = db().get(OrgNode, node_id) if node_id else None
        if node is None and units:
            node = db().get(OrgNode, units[0][0])
        example = ""
        kinds = {}
        code = None
        # End the page session's read (SQLite: every transaction holds the one write lock) before the
        # service's own transactions; commit keeps the loaded rows (nothing was written).
        db().commit()
        if node is not None:
            sheets = SummaryService(services())  # service sessions: the unit's ancestors name its jurisdiction
            try:
                code = sheets.jurisdiction(node.id)
                example = platform().registry.assessor(code).calendar.example_key()
                kinds = document_kinds(platform().registry, code)
            except JijiaoError:
                code = None
            if period and statistics:
                try:
                    stats, total = sheets.unit_statistics(node.id, period)
                except JijiaoError as exc:
                    call(_raise, exc)
        # the issue form only where documents can be issued (a jurisdiction declaring none: no form)
        return self.render("documents/index.html", can_import=g.actor.role in IMPORTERS, units=units, node=node, period=period, stats=stats,
                           total=total, example=example, label=period_label(period) if period else "",
                           can_issue=g.actor.role in ISSUERS and (bool(kinds) or code is None), kinds=kinds)

    @expose("/summary.xlsx")
    def summary(self):
        return self._sheet(lambda sheets: sheets.summary, "summary")

    @expose("/statistics.xlsx")
    def statistics(self):
        return self._sheet(lambda sheets: sheets.statistics, "statistics")

    def _sheet(self, writer, what):
        node_id, period = _node_and_period()
        # A refusal is shown on the page answering this request (never a flash left for a later
        # page: a 404 shown next would then differ from another 404).
        if not period:
            call(_raise, InputError(_("请填写考核年度")))
            return self._index(node_id, period)
        buffer = io.BytesIO()
        try:
            info = writer(SummaryService(services()))(node_id, period, buffer)
        except NotInScope:
            abort(404)
        except JijiaoError as exc:
            call(_raise, exc)
            return self._index(node_id, period, statistics=False)
        db().rollback()  # end any read before the audit's own write transaction (SQLite: one writer)
        audit_export(services(), what=what, entity_type="org_node", entity_id=node_id, scope_path=info.unit_path,
                     detail={"period": period, "rows": info.rows, "file": info.filename})
        return _download(buffer.getvalue(), info.filename, XLSX_MIME)

    @expose("/issue", methods=["POST"])
    def issue(self):
        if g.actor.role not in ISSUERS:
            abort(403)
        try:
            teacher_id = int(request.form.get("teacher", ""))
        except ValueError:
            call(_raise, InputError(_("请填写教师编号")))
            return redirect(url_for(".index"))
        kind = (request.form.get("kind") or "").strip()[:32]
        period = (request.form.get("period") or "").strip()[:16] or None
        document = call(DocumentService(services()).issue, teacher_id, kind, period,
                        success=_("已出具，可下载打印"))
        if document is None:
            return redirect(url_for(".index"))
        return redirect(url_for(".document", document_id=document.id))

    @expose("/import", methods=["GET", "POST"])
    def import_list(self):
        """Upload a list of registered hours (登记名单): every row checked, all or nothing."""
        if g.actor.role not in IMPORTERS:
            abort(403)
        errors: list[str] = []
        if request.method == "POST":
            upload = request.files.get("file")
            if upload is None or not upload.filename:
                errors = [_("请选择要上传的 Excel 文件")]
            else:
                from core.exchange.registrations import import_list
                try:
                    report, errors = import_list(platform(), g.actor, upload.stream, upload.filename,
                                                 request_id=g.get("request_id"))
                except JijiaoError as exc:
                    report, errors = None, [getattr(exc, "message", None) or str(exc)]
                if report is not None:
                    flash(_("已登记 %(claims)s 条学时，涉及 %(teachers)s 名教师", claims=report.claims,
                            teachers=report.teachers), "success")
                    return redirect(url_for(".import_list"))
        return self.render("documents/import.html", errors=errors[:200], more=max(0, len(errors) - 200))

    @expose("/teacher/<int:teacher_id>")
    def teacher(self, teacher_id: int):
        teacher = db().get(Teacher, teacher_id)
        if teacher is None:
            abort(404)
        kinds = document_kinds(platform().registry, teacher.jurisdiction)
        documents = db().scalars(select(Document).where(Document.teacher_id == teacher.id)
                                 .order_by(Document.id.desc()).limit(50)).all()
        return self.render("documents/teacher.html", teacher=teacher, masked=mask(teacher.id_number),
                           kinds=kinds, documents=documents, can_issue=g.actor.role in ISSUERS)

    @expose("/<int:document_id>")
    def document(self, document_id: int):
        document = db().get(Document, document_id)
        if document is None:
            abort(404)
        return self.render("documents/document.html", document=document, doc=document.payload,
                           verify=url_for("verify.page", code=document.code, _external=True))

    @expose("/<int:document_id>.pdf")
    def pdf(self, document_id: int):
        document = db().get(Document, document_id)
        if document is None:
            abort(404)
        try:
            data = DocumentService(services()).pdf(document, base_url=request.url_root)
        except JijiaoError as exc:
            call(_raise, exc)
            return redirect(url_for(".document", document_id=document_id))
        document_id, path, kind, payload = document.id, document.scope_path, document.kind, document.payload
        db().rollback()  # end the read before the audit's own write transaction (SQLite: one writer)
        audit_export(services(), what="pdf", entity_type="document", entity_id=document_id,
                     scope_path=path, detail={"kind": kind})
        name = f"{payload.get('teacher', '')}{payload.get('title', '')}.pdf"
        return _download(data, name, "application/pdf")


def _raise(exc):
    raise exc


# -- the public verification page ------------------------------------------------------------------
class TokenBucket:
    """Per client address: ``rate`` requests per second on average, bursts of ``burst``. In-process
    (each server process keeps its own buckets); old addresses are dropped past ``max_keys``."""

    def __init__(self, rate: float = 1.0, burst: int = 10, max_keys: int = 10_000):
        self.rate, self.burst, self.max_keys = rate, burst, max_keys
        self.buckets: dict[str, tuple[float, float]] = {}
        self.lock = threading.Lock()

    def allow(self, key: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        with self.lock:
            tokens, last = self.buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            if len(self.buckets) >= self.max_keys and key not in self.buckets:
                self.buckets.clear()
            if tokens < 1:
                self.buckets[key] = (tokens, now)
                return False
            self.buckets[key] = (tokens - 1, now)
            return True


verify_bp = Blueprint("verify", __name__)


@verify_bp.route("/verify/<code>")
def page(code: str):
    bucket: TokenBucket = current_app.extensions["jijiao_verify_bucket"]
    if not bucket.allow(request.remote_addr or "?"):
        return render_template("documents/verify.html", state="limited", doc=None, document=None), 429
    document = lookup(platform(), code[:64])
    if document is None:
        return render_template("documents/verify.html", state="unknown", doc=None, document=None), 404
    state = "revoked" if document.revoked_at is not None else "valid"
    return render_template("documents/verify.html", state=state, doc=document.payload, document=document)


def register(admin) -> None:
    admin.add_view(DocumentsView(name=_l("文书与导出"), endpoint="documents", url="/documents"))
    app = admin.app
    if app is not None and "verify" not in app.blueprints:
        app.extensions.setdefault("jijiao_verify_bucket", TokenBucket(
            rate=app.config.get("JIJIAO_VERIFY_RATE", 1.0), burst=app.config.get("JIJIAO_VERIFY_BURST", 10)))
        app.register_blueprint(verify_bp)
