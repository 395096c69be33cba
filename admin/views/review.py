"""A reviewer's pages (school admins and reviewers at the town, district and city):

* ``/review/``: the queue of claims waiting at the actor's node (``Claim.reviewer_node_id``), with
  filters (school, item, state, period, amount, date) and an exact search, newest first on the
  primary key; pages are keyset pages (``id < before``, ``LIMIT n+1``: no ``COUNT(*)``, no
  ``OFFSET``); a filter on a column without an index looks through at most ``SCAN_WINDOW`` claim
  numbers per request and offers to look further back; each row shows the time left in the
  window that governs the review. The menu shows the queue's size, counted up to 999 ("999+").
* ``/review/claim/<id>``: the claim with its inputs, the explanation of its amount, its evidence
  previewed inline (images, PDF), its audit history, and approve / return / reject (a reason is
  required to return or reject).
* ``/review/bulk``: approve or return the selection, or everything matching the filter, as a
  background job (``core.services.review_jobs``) whose page shows a progress bar and the result
  per claim.
* ``/roster/`` (``admin.views.roster``) and ``/register/`` (registration on a teacher's behalf) are
  registered from here too.

Pages never move a claim themselves: every change is a service call, and every refusal is shown
as the services word it.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from datetime import date

from flask import abort, flash, g, redirect, request, url_for
from flask_admin import expose
from flask_admin.menu import MenuView
from markupsafe import Markup, escape
from sqlalchemy import func, select
from werkzeug.routing import BuildError

from core.db.models import AuditRecord, Claim, Evidence, JobRecord, OrgNode, Teacher
from core.errors import JijiaoError
from core.idnumber import mask
from core.services.review_jobs import BADGE_CAP, QUEUE_STATES, QueueFilter, ReviewJobService, ReviewPageService, \
    queue_conditions, queue_count, queue_select

from ..i18n import _, _l
from .base import REVIEW_ROLES, RoleView, call, db, platform, services

PAGE_SIZE = 50
SCAN_WINDOW = 100_000  # claim numbers looked through per request by a filter without an index
PERIOD_RE = re.compile(r"^[0-9A-Za-z-]{1,16}$")
MAX_AMOUNT = Decimal(100000)
TRIGGER_NAMES = {"declare": _l("申报/录入"), "edit": _l("修改"), "register_batch": _l("批量登记"),
                 "create": _l("新增")}
ACTIONS = ("approve", "return", "reject", "submit", "resubmit", "withdraw")
# The labels of workflows/*.yaml (states, then transitions), here so that they are extracted and
# translated: the pages show a workflow's label through ``_()`` (``state_label``, ``trigger_label``).
WORKFLOW_WORDS = (_l("草稿"), _l("待初审"), _l("审核中"), _l("已退回"), _l("不予认定"), _l("已登记"),
                  _l("已录入"), _l("待确认"), _l("确认中"), _l("已设计"), _l("待审批"), _l("已审批"),
                  _l("实施中"), _l("已结业"), _l("学时已登记"), _l("已取消"),
                  _l("提交"), _l("撤回"), _l("重新提交"), _l("退回"), _l("审核通过"), _l("报送"), _l("重新报送"),
                  _l("确认"), _l("报请审批"), _l("审批通过"), _l("退回修改"), _l("开始实施"), _l("结业"),
                  _l("登记参训学时"), _l("取消"))


def workflow_word(label: str) -> str:
    """A workflow's (Chinese) label in the page's language."""
    return _(label) if label else label


# -- what the pages share -----------------------------------------------------------------------
def amount_text(milli: int | None) -> str:
    if milli is None:
        return "—"
    value = Decimal(milli) / 1000
    return f"{value.normalize():f}"


def actor_node() -> OrgNode | None:
    if "jj_node" not in g:
        g.jj_node = db().get(OrgNode, g.actor.node_id) if g.actor.node_id else None
    return g.jj_node


def jurisdictions() -> list[str]:
    """The jurisdictions whose claims the actor may see: the one governing the actor's node, and
    any attached inside the actor's subtree."""
    if "jj_jurisdictions" not in g:
        found: list[str] = []
        release()
        above = ReviewPageService(services()).governing_jurisdiction()
        if above:
            found.append(above)
        for code in db().scalars(select(OrgNode.jurisdiction).where(OrgNode.jurisdiction.is_not(None)).distinct()):
            if code not in found:
                found.append(code)
        g.jj_jurisdictions = found
    return g.jj_jurisdictions


def item_names() -> dict[str, str]:
    names: dict[str, str] = {}
    for code in jurisdictions():
        try:
            bundle = platform().registry.bundle(code)
        except JijiaoError:
            continue
        for item_code, item in bundle.items.items():
            names.setdefault(item_code, item.name)
    return names


def item_name(jurisdiction: str, code: str) -> str:
    try:
        item = platform().registry.bundle(jurisdiction).items.get(code)
    except JijiaoError:
        item = None
    return item.name if item is not None else code


def schools() -> list[tuple[int, str]]:
    """(id, name) of the schools in the actor's subtree."""
    if "jj_schools" not in g:
        rows = db().execute(select(OrgNode.id, OrgNode.name, OrgNode.path).where(OrgNode.kind == "school")
                            .order_by(OrgNode.path)).all()
        g.jj_schools = [(r.id, r.name) for r in rows]
        g.jj_school_paths = {r.id: r.path for r in rows}
    return g.jj_schools


def school_path(school_id: int) -> str | None:
    schools()
    return g.jj_school_paths.get(school_id)


def state_label(workflow: str, state: str) -> str:
    try:
        return workflow_word(platform().workflows.get(workflow).definition.state_label(state))
    except JijiaoError:
        return state


def trigger_label(workflow: str, trigger: str) -> str:
    if trigger in TRIGGER_NAMES:
        return str(TRIGGER_NAMES[trigger])
    try:
        return workflow_word(platform().workflows.get(workflow).definition.trigger_label(trigger))
    except JijiaoError:
        return trigger


STATE_CHOICES = (("submitted", _l("待初审")), ("in_review", _l("审核中")))


def parse_filter(args) -> tuple[QueueFilter, list[str]]:
    """The filters of a request, validated: every wrong value gives a message and is ignored."""
    f, errors = QueueFilter(), []
    school = (args.get("school") or "").strip()
    if school:
        if school.isdigit() and len(school) <= 12 and school_path(int(school)) is not None:
            f.school_id, f.school_path = int(school), school_path(int(school))
        else:
            errors.append(_("所选学校不存在或不在您的管辖范围内"))
    item = (args.get("item") or "").strip()
    if item:
        if item in item_names():
            f.item = item
        else:
            errors.append(_("未知项目「%(item)s」", item=item))
    state = (args.get("state") or "").strip()
    if state:
        if state in QUEUE_STATES:
            f.state = state
        else:
            errors.append(_("状态只能是待初审或审核中"))
    period = (args.get("period") or "").strip()
    if period:
        if PERIOD_RE.match(period):
            f.period = period
        else:
            errors.append(_("周期格式不正确（如 2019 或 2022-2023）"))
    for key, attr, label in (("amount_min", "amount_min", _("最少学时")), ("amount_max", "amount_max", _("最多学时"))):
        raw = (args.get(key) or "").strip()
        if not raw:
            continue
        try:
            value = Decimal(raw)
            if not value.is_finite() or value < 0 or value > MAX_AMOUNT:
                raise InvalidOperation
        except InvalidOperation:
            errors.append(_("%(label)s应为 0 到 100000 之间的数字", label=label))
            continue
        setattr(f, attr, int(value * 1000))
    for key, attr, label in (("date_from", "date_from", _("起始日期")), ("date_to", "date_to", _("截止日期"))):
        raw = (args.get(key) or "").strip()
        if not raw:
            continue
        try:
            setattr(f, attr, date.fromisoformat(raw))
        except ValueError:
            errors.append(_("%(label)s格式不正确，应为 年-月-日（如 2019-06-01）", label=label))
    if f.amount_min is not None and f.amount_max is not None and f.amount_min > f.amount_max:
        errors.append(_("最少学时不能大于最多学时"))
        f.amount_min = f.amount_max = None
    if f.date_from and f.date_to and f.date_from > f.date_to:
        errors.append(_("起始日期不能晚于截止日期"))
        f.date_from = f.date_to = None
    q = (args.get("q") or "").strip()
    if q:
        if q.isdigit() and len(q) <= 12:
            f.claim_id = int(q)
        elif len(q) == 18 and q[:17].isdigit():
            f.id_number = q.upper()
        elif len(q) <= 100:
            f.teacher_name = q
        else:
            errors.append(_("搜索内容过长"))
    return f, errors


def parse_before(raw) -> int | None:
    """The keyset of a page: claims numbered below ``before`` (no OFFSET, no COUNT)."""
    raw = (raw or "").strip()
    if raw.isdigit() and len(raw) <= 15:
        return int(raw)
    return None


FILTER_KEYS = ("school", "item", "state", "period", "amount_min", "amount_max", "date_from", "date_to", "q")


def filter_args(args) -> dict:
    return {k: args.get(k) for k in FILTER_KEYS if (args.get(k) or "").strip()}


class WindowNotes:
    """The time left in the window that governs a review at the actor's level, per
    (jurisdiction, period, home school), looked up for the whole page at once (by the service:
    windows are set and extended above the actor's subtree)."""

    def __init__(self):
        self.today = platform().today()
        node = actor_node()
        self.stage = f"review_{node.kind}" if node is not None else "review"
        self.homes: dict[int, OrgNode] = {}
        self.windows: dict = {}

    def load_homes(self, ids) -> None:
        missing = {i for i in ids if i not in self.homes}
        if missing:
            for node in db().scalars(select(OrgNode).where(OrgNode.id.in_(missing))):
                self.homes[node.id] = node

    def prepare(self, claims) -> None:
        keys = {(c.jurisdiction, c.period_key, c.home_school_id) for c in claims}
        keys -= set(self.windows)
        if keys:
            release()
            self.windows.update(ReviewPageService(services()).windows(self.stage, keys))

    def window(self, claim):
        key = (claim.jurisdiction, claim.period_key, claim.home_school_id)
        if key not in self.windows:
            self.prepare([claim])
        return self.windows.get(key)

    def note(self, claim) -> tuple[str, str, str]:
        """(time left, css class, the closing date) of the governing window."""
        window = self.window(claim)
        if window is None:
            return _("不限时"), "text-muted", ""
        if self.today < window.opens:
            return _("尚未开始"), "text-warning", _("%(d)s 起", d=window.opens.isoformat())
        if self.today > window.closes:
            return _("已截止"), "text-danger", _("截止于 %(d)s", d=window.closes.isoformat())
        days = (window.closes - self.today).days
        until = _("至 %(d)s", d=window.closes.isoformat())
        if days == 0:
            return _("今天截止"), "text-danger font-weight-bold", until
        return _("剩余 %(n)s 天", n=days), \
            "text-danger" if days <= 3 else ("text-warning" if days <= 7 else "text-success"), until


def release() -> None:
    """End the request session's read transaction before a service writes in its own (on SQLite
    every transaction takes the write lock; loaded objects stay usable)."""
    if "db" in g:
        g.db.commit()


def evidence_url(evidence_id: int, inline: bool = False) -> str | None:
    """The evidence endpoint (the teacher's pages provide ``evidence.download``); None if absent."""
    try:
        if inline:
            return url_for("evidence.download", evidence_id=evidence_id, inline=1)
        return url_for("evidence.download", evidence_id=evidence_id)
    except BuildError:
        return None


def waiting() -> int:
    """The size of the actor's queue, counted up to BADGE_CAP + 1, once per request."""
    if "jj_queue_count" not in g:
        g.jj_queue_count = queue_count(db(), g.actor)
    return g.jj_queue_count


# -- the queue and a claim ------------------------------------------------------------------------
class QueueMenu(MenuView):
    """The queue's menu entry, with the number of claims waiting (counted at request time)."""

    @property
    def name(self):
        base = escape(str(self._view.name))
        if g.get("actor") is None or not self._view.is_accessible():
            return base
        try:
            n = waiting()
        except Exception:  # noqa: BLE001 - the menu must never break a page
            n = 0
        if not n:
            return base
        shown = f"{BADGE_CAP}+" if n > BADGE_CAP else str(n)
        return Markup('{} <span class="badge badge-pill badge-danger" id="jj-queue-count">{}</span>').format(base, shown)

    @name.setter
    def name(self, value):
        pass


class ReviewView(RoleView):
    roles = REVIEW_ROLES
    note = _l("等待您审核的申报与登记：筛选、查看证明材料、审核通过、退回或不予认定，可批量处理")

    @expose("/")
    def index(self):
        f, errors = parse_filter(request.args)
        for message in errors:
            flash(message, "error")
        before = parse_before(request.args.get("before"))
        session = db()
        stmt = queue_select(g.actor, f)
        if before is not None:
            stmt = stmt.where(Claim.id < before)
        # A filter on a column without an index (item, period, amount, date) scans the queue newest
        # first; it looks at SCAN_WINDOW claim numbers per request, never the whole table, and
        # offers to go on looking further back.
        scan_from = None
        if f.item or f.period or f.amount_min is not None or f.amount_max is not None or f.date_from or f.date_to:
            if f.claim_id is None and f.id_number is None and f.teacher_name is None:
                # The newest claim of the queue (indexed conditions only) bounds the window.
                top = before if before is not None else (session.scalar(
                    select(func.max(Claim.id)).where(*queue_conditions(
                        g.actor, QueueFilter(state=f.state, school_path=f.school_path)))) or 0) + 1
                scan_from = max(0, top - SCAN_WINDOW)
                stmt = stmt.where(Claim.id >= scan_from)
        rows = session.scalars(stmt.limit(PAGE_SIZE + 1)).all()
        has_next = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE]
        next_before = rows[-1].id if has_next else None
        scan_more = None
        if not has_next and scan_from:
            scan_more = scan_from  # nothing more in this window: go on below it
        teachers = {t.id: t for t in session.execute(
            select(Teacher.id, Teacher.name, Teacher.id_number).where(Teacher.id.in_({c.teacher_id for c in rows})))}
        notes = WindowNotes()
        notes.load_homes({c.home_school_id for c in rows})
        notes.prepare(rows)
        items = []
        for c in rows:
            t = teachers.get(c.teacher_id)
            text, css, until = notes.note(c)
            items.append({"claim": c, "teacher": t.name if t else "—", "id_masked": mask(t.id_number) if t else "",
                          "school": notes.homes[c.home_school_id].name if c.home_school_id in notes.homes else "—",
                          "item": item_name(c.jurisdiction, c.item_code), "amount": amount_text(c.amount_milli),
                          "state": state_label(c.workflow, c.state), "left": text, "left_class": css,
                          "until": until})
        args = filter_args(request.args)
        return self.render("review/queue.html", items=items, before=before, next_before=next_before,
                           scan_more=scan_more, scan_from=scan_from, args=args,
                           filter=f, schools=schools(), item_names=item_names(), states=STATE_CHOICES,
                           waiting=waiting(), cap=BADGE_CAP)

    def _claim(self, claim_id: int) -> Claim:
        claim = db().get(Claim, claim_id)
        if claim is None:
            abort(404)
        return claim

    @expose("/claim/<int:claim_id>")
    def detail(self, claim_id: int):
        session = db()
        claim = self._claim(claim_id)
        teacher = session.get(Teacher, claim.teacher_id)
        home = session.get(OrgNode, claim.home_school_id)
        evidence = session.scalars(select(Evidence).where(Evidence.claim_id == claim.id).order_by(Evidence.id)).all()
        files = []
        for ev in evidence:
            kind = "image" if ev.content_type.startswith("image/") else (
                "pdf" if ev.content_type == "application/pdf" else "other")
            files.append({"ev": ev, "kind": kind, "url": evidence_url(ev.id), "inline": evidence_url(ev.id, True),
                          "size_kb": max(1, ev.size // 1024)})
        history = []
        for r in session.scalars(select(AuditRecord).where(AuditRecord.entity_type == "claim",
                                                           AuditRecord.entity_id == claim.id)
                                 .order_by(AuditRecord.seq)):
            history.append({"r": r, "trigger": trigger_label(claim.workflow, r.trigger),
                            "from": state_label(claim.workflow, r.from_state) if r.from_state else "",
                            "to": state_label(claim.workflow, r.to_state) if r.to_state else ""})
        reviewing = claim.reviewer_node_id is not None and claim.reviewer_node_id == g.actor.node_id \
            and claim.state in QUEUE_STATES
        claimant = []
        if claim.workflow == "registration" and g.actor.role == "school_admin" \
                and g.actor.node_id == claim.home_school_id:
            claimant = [t for t, states in (("submit", ("recorded",)), ("resubmit", ("returned",)),
                                            ("withdraw", ("submitted",))) if claim.state in states
                        and (t != "withdraw" or claim.level == 0)]
        notes = WindowNotes()
        window_text, window_class, window_until = notes.note(claim) if reviewing else ("", "", "")
        if window_until:
            window_text = _("%(left)s（%(until)s）", left=window_text, until=window_until)
        inputs = []
        assessor = None
        try:
            assessor = platform().registry.assessor(claim.jurisdiction)
            specs = assessor.parser.specs(assessor.bundle.items[claim.item_code])[0]
        except (JijiaoError, KeyError):
            specs = {}
        for key, value in (claim.inputs or {}).items():
            spec = specs.get(key)
            label = (spec.label if spec is not None and spec.label else None) or (
                _("学时") if key == "hours" else key)
            if spec is not None and spec.type == "amount" and isinstance(value, int):
                value = amount_text(value)
            elif isinstance(value, list):
                value = "、".join(str(v) for v in value)
            elif isinstance(value, bool):
                value = _("是") if value else _("否")
            inputs.append((label, value))
        explanation = claim.explanation or {}
        return self.render("review/detail.html", claim=claim, teacher=teacher,
                           id_masked=mask(teacher.id_number) if teacher else "", home=home,
                           item=item_name(claim.jurisdiction, claim.item_code), amount=amount_text(claim.amount_milli),
                           state=state_label(claim.workflow, claim.state), files=files, history=history,
                           reviewing=reviewing, claimant=[(t, trigger_label(claim.workflow, t)) for t in claimant],
                           approve_label=trigger_label(claim.workflow, "approve"),
                           window_text=window_text, window_class=window_class, inputs=inputs,
                           explanation=explanation, back=request.args.get("back") or "")

    @expose("/claim/<int:claim_id>/act", methods=["POST"])
    def act(self, claim_id: int):
        claim = self._claim(claim_id)
        action = request.form.get("action", "")
        reason = (request.form.get("reason") or "").strip()
        back = url_for(".detail", claim_id=claim.id)
        if action not in ACTIONS:
            flash(_("未知的操作"), "error")
            return redirect(back)
        try:
            version = int(request.form.get("version", ""))
        except ValueError:
            version = None
        if action in ("return", "reject") and not reason:
            flash(_("退回或不予认定须填写原因"), "error")
            return redirect(back)
        if len(reason) > 2000:
            flash(_("原因不能超过 2000 字"), "error")
            return redirect(back)
        claims = services().claims
        release()
        label = trigger_label(claim.workflow, action)
        if action in ("return", "reject"):
            result = call(claims.transition, claim.id, action, expected_version=version, reason=reason)
        else:
            result = call(claims.transition, claim.id, action, expected_version=version)
        if result is None:
            return redirect(back)
        flash(_("第 %(id)s 号记录：%(action)s，当前状态「%(state)s」", id=claim.id, action=label,
                state=state_label(result.workflow, result.state)), "success")
        if action in ("approve", "return", "reject"):
            return redirect(url_for(".index"))
        return redirect(back)

    @expose("/bulk", methods=["POST"])
    def bulk(self):
        form = request.form
        action = form.get("action", "")
        reason = (form.get("reason") or "").strip()
        scope = form.get("scope", "selected")
        back = url_for(".index", **filter_args(form))
        if action not in ("approve", "return"):
            flash(_("请选择批量操作：审核通过或退回"), "error")
            return redirect(back)
        if action == "return" and not reason:
            flash(_("批量退回须填写原因"), "error")
            return redirect(back)
        if len(reason) > 2000:
            flash(_("原因不能超过 2000 字"), "error")
            return redirect(back)
        if scope == "filter":
            f, errors = parse_filter(form)
            if errors:
                for message in errors:
                    flash(message, "error")
                return redirect(back)
            release()
            job_id = call(ReviewJobService(services()).enqueue_bulk, action, queue_filter=f, reason=reason)
        else:
            raw = form.getlist("ids")
            if not raw:
                flash(_("请先勾选要处理的记录"), "error")
                return redirect(back)
            if len(raw) > 10000 or not all(i.isdigit() and len(i) <= 12 for i in raw):
                flash(_("所选记录有误，请刷新页面后重试"), "error")
                return redirect(back)
            release()
            job_id = call(ReviewJobService(services()).enqueue_bulk, action, ids=[int(i) for i in raw],
                          reason=reason)
        if job_id is None:
            return redirect(back)
        return redirect(url_for(".job", job_id=job_id))

    @expose("/job/<int:job_id>")
    def job(self, job_id: int):
        from ..pages import JOB_STATES
        job = db().get(JobRecord, job_id)
        if job is None or job.kind != "review_bulk":
            abort(404)
        params = job.params or {}
        result = params.get("result")
        refused = []
        if result:
            for why, ids in result.get("refused", {}).items():
                refused.append({"reason": why, "ids": ids[:200], "more": max(0, len(ids) - 200), "n": len(ids)})
        trigger = params.get("trigger")
        return self.render("review/job.html", job=job, states=JOB_STATES, result=result, refused=refused,
                           ok_ids=(result or {}).get("ok", [])[:500],
                           ok_more=max(0, len((result or {}).get("ok", [])) - 500),
                           n_ok=len((result or {}).get("ok", [])),
                           action=_("审核通过") if trigger == "approve" else _("退回"),
                           reason=params.get("reason"), by_filter=params.get("ids") is None)


    @expose("/job/<int:job_id>.csv")
    def job_csv(self, job_id: int):
        """Every claim of a bulk job with its result (UTF-8 with BOM, for Excel)."""
        import csv
        import io
        from flask import Response
        job = db().get(JobRecord, job_id)
        if job is None or job.kind != "review_bulk":
            abort(404)
        result = (job.params or {}).get("result") or {}
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow([_("编号"), _("结果"), _("原因")])
        for claim_id in result.get("ok", []):
            writer.writerow([claim_id, _("已处理"), ""])
        for why, ids in result.get("refused", {}).items():
            for claim_id in ids:
                writer.writerow([claim_id, _("未处理"), why])
        return Response("\ufeff" + out.getvalue(), mimetype="text/csv",
                        headers={"Content-Disposition": f"attachment; filename=review-job-{job.id}.csv"})


def register(admin) -> None:
    view = ReviewView(name=_l("待审核"), endpoint="review", url="/review")
    admin.add_view(view)
    view.menu.__class__ = QueueMenu
    from . import roster
    roster.register(admin)
