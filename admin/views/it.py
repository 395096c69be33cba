"""Provincial IT (平台管理员) and the auditor (审计员).

* 地区插件: every installed plugin with its distribution and version; per jurisdiction its
  catalogue, parameters with every dated value and its source, review levels, stage windows, the
  workflows drawn from the Machines that run them, and its rule cases run on the spot.
* 机构树: the tree in scope, children loaded per node (never the whole tree at once); add, move,
  attach or detach a plugin, and the review-chain check of every school under a node.
* 用户与角色: the users holding a role in scope; create, disable/enable, reset a password.
* 审计日志 (auditor and platform admin): the audit trail in scope, newest first, filterable,
  and the check of the whole hash chain. The auditor changes nothing.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, time, timedelta, timezone

from flask import abort, flash, g, jsonify, redirect, request, url_for
from flask_admin import expose
from flask_babel import format_datetime
from markupsafe import Markup, escape
from sqlalchemy import exists, select
from sqlalchemy.orm import aliased

from admin.i18n import _, _l
from core.db.models import NODE_KINDS, AuditRecord, OrgNode
from core.errors import JijiaoError, UnknownJurisdictionError

from .base import RoleView, db, end_reads, platform, services
from .review import workflow_word

IT_ROLES = ("platform_admin",)
AUDIT_ROLES = ("auditor", "platform_admin")
CHILDREN_PAGE = 100
AUDIT_PAGE = 50
SHANGHAI = timezone(timedelta(hours=8))

KIND_LABELS = {"province": _l("省"), "city": _l("市"), "district": _l("区（县）"), "town": _l("乡镇（中心校）"),
               "school": _l("学校")}
ENTITY_LABELS = {"claim": _l("学时记录"), "teacher": _l("教师"), "user": _l("用户"), "org_node": _l("机构"),
                 "project": _l("培训项目"), "window": _l("阶段时间")}
TRIGGER_LABELS = {"login": _l("登录"), "login_failed": _l("登录失败"), "login_locked": _l("锁定期间尝试登录"),
                  "account_locked": _l("账号被锁定"), "logout": _l("退出登录"), "password_changed": _l("修改密码"),
                  "password_reset": _l("重置密码"), "enabled": _l("启用账号"), "disabled": _l("停用账号"),
                  "create": _l("新建"), "edit": _l("修改"), "move": _l("移动"), "attach_plugin": _l("挂接插件"),
                  "detach_plugin": _l("取消挂接插件"), "declare": _l("填报"), "design": _l("设计项目"),
                  "extend": _l("延长时间"), "register_batch": _l("批量登记"),
                  # the workflows' triggers (their YAML labels are Chinese only; these translate)
                  "submit": _l("提交"), "withdraw": _l("撤回"), "resubmit": _l("重新提交"), "return": _l("退回"),
                  "reject": _l("不予认定"), "approve": _l("审核通过"), "request_approval": _l("报请审批"),
                  "start": _l("开始实施"), "complete": _l("结业"), "register_participants": _l("登记参训学时"),
                  "cancel": _l("取消")}


STATE_LABELS = {"active": _l("有效")}
# core.services.plugins_info's words for a plugin's page, translatable
CHANNEL_LABELS = {"declaration": _l("教师申报"), "organiser": _l("组织机构登记"), "school": _l("学校登记"),
                  "auto": _l("平台自动记录"), "platform": _l("平台生成")}
INPUT_TYPE_LABELS = {"amount": _l("数量"), "number": _l("数值"), "integer": _l("整数"), "text": _l("文本"),
                     "bool": _l("是/否"), "date": _l("日期"), "choice": _l("选项"), "numbers": _l("数值列表"),
                     "period": _l("考核期间")}
ACTOR_ROLE_LABELS = {"user": _l("账号本人")}


IDENTIFIER = re.compile(r"(?<![\w.{])[A-Za-z][A-Za-z0-9]*(?:[_.][A-Za-z0-9]+)+(?![\w.}])")


def ids_as_code(text) -> Markup:
    """A plugin's Chinese sentence with its identifiers (``paper_credits``,
    ``county.bonus_rule``) marked as code: they are names, not English. A ``{placeholder}``
    inside a condition's reason is the plugin's own text and stays as written."""
    if not text:
        return Markup("")
    escaped = str(escape(text))
    return Markup(IDENTIFIER.sub(lambda m: f"<code>{m.group(0)}</code>", escaped))


def window_day(value):
    """A stage window's day as configured (``"09-01"``, ``"next 11-06"``), shown as such (code)."""
    return Markup("<code>{}</code>").format(value) if value else None


def when(value) -> str:
    """A stored time (UTC; SQLite returns it naive) in Asia/Shanghai."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return format_datetime(value, "yyyy-MM-dd HH:mm:ss")


def act(fn, *args, success: str | None = None, **kwargs):
    """``call`` for a change: the record outside scope is a 404 like a missing one; any other
    refusal is flashed as the services word it. Returns the result or None."""
    from core.services import NotFound
    end_reads()
    try:
        result = fn(*args, **kwargs)
    except NotFound:
        abort(404)
    except JijiaoError as exc:
        flash(getattr(exc, "message", None) or str(exc), "error")
        return None
    if success:
        flash(success, "success")
    return result


def _int(value, default=None):
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return default
    return number if 0 < number < 2**62 else default


# -- plugins ------------------------------------------------------------------------------------

class PluginsView(RoleView):
    roles = IT_ROLES
    note = _l("已安装的地区插件：项目、参数及其来源、审核层级、阶段时间、流程图，现场运行规则案例")

    @expose("/")
    def index(self):
        from core.services.plugins_info import plugin_list
        registry = platform().registry
        plugins, failures = plugin_list(registry)
        names = {code: registry.bundle(code).jurisdiction.name for code in registry.codes()}
        return self.render("it/plugins.html", plugins=plugins, failures=failures, names=names)

    def _detail(self, code: str):
        from core.services.plugins_info import detail
        try:
            return detail(platform().registry, code)
        except UnknownJurisdictionError:
            abort(404)

    def _render_detail(self, code: str, outcomes=None):
        from admin.forms import CHOICE_LABELS, MEASURE_UNITS
        from core.workflow_graph import workflow_svg
        from core.services.plugins_info import (CHANNEL_WORDS, CHOICE_WORDS, INPUT_TYPE_WORDS, LEVEL_WORDS,
                                                MEASURE_WORDS, amount_words, value_text)
        d = self._detail(code)
        workflows = platform().workflows.workflows
        used = [d.jurisdiction.workflow] + [name for name in ("registration", "project") if name != d.jurisdiction.workflow]
        graphs = []
        for name in used:
            wf = workflows.get(name)
            if wf is not None:
                graphs.append((wf.definition, Markup(workflow_svg(wf, element_id=f"wf-{name}"))))
        return self.render("it/plugin.html", d=d, graphs=graphs, outcomes=outcomes,
                           channel_words={**CHANNEL_WORDS, **CHANNEL_LABELS}, level_words={**LEVEL_WORDS, **KIND_LABELS},
                           input_words={**INPUT_TYPE_WORDS, **INPUT_TYPE_LABELS}, amount_words=amount_words,
                           measure_words={**MEASURE_WORDS, **MEASURE_UNITS}, choice_words={**CHOICE_WORDS, **CHOICE_LABELS},
                           value_text=value_text, window_day=window_day, ids_as_code=ids_as_code)

    @expose("/<code>")
    def detail(self, code: str):
        return self._render_detail(code)

    @expose("/<code>/cases", methods=["POST"])
    def cases(self, code: str):
        from core.services.plugins_info import run_cases
        self._detail(code)
        outcomes = run_cases(platform().registry, code)
        return self._render_detail(code, outcomes)


# -- the organisation tree -------------------------------------------------------------------

def _children_query(parent_id: int):
    child = aliased(OrgNode)
    has_children = exists().where(child.parent_id == OrgNode.id)
    return (select(OrgNode.id, OrgNode.name, OrgNode.kind, OrgNode.code, OrgNode.jurisdiction,
                   has_children.label("has_children"))
            .where(OrgNode.parent_id == parent_id).order_by(OrgNode.kind, OrgNode.name, OrgNode.id))


class OrgTreeView(RoleView):
    roles = IT_ROLES
    note = _l("机构树：添加、移动机构，挂接地区插件，审核链检查")

    def _node(self, node_id) -> OrgNode:
        node = db().get(OrgNode, node_id) if node_id else None
        if node is None:
            abort(404)
        return node

    def _breadcrumbs(self, node: OrgNode) -> list[OrgNode]:
        ids = node.ancestor_ids
        rows = {n.id: n for n in db().scalars(select(OrgNode).where(OrgNode.id.in_(ids)))}  # scoped: in scope only
        return [rows[i] for i in ids if i in rows]

    @expose("/")
    def index(self):
        node_id = _int(request.args.get("node")) or g.actor.node_id
        node = self._node(node_id)
        offset = max(0, _int(request.args.get("offset"), 0) or 0)
        rows = db().execute(_children_query(node.id).offset(offset).limit(CHILDREN_PAGE + 1)).all()
        more = len(rows) > CHILDREN_PAGE
        rows = rows[:CHILDREN_PAGE]
        crumbs = self._breadcrumbs(node)
        from core.services.orgtree import OrgTreeService
        end_reads()
        try:
            governing = OrgTreeService(services()).governing(node.id)
        except JijiaoError:
            abort(404)
        q = (request.args.get("q") or "").strip()[:100]
        found = []
        if q:
            criteria = [OrgNode.code == q, OrgNode.name.like(q.replace("%", "").replace("_", "") + "%")]
            number = _int(q)
            if number:
                criteria.append(OrgNode.id == number)
            from sqlalchemy import or_
            found = db().execute(select(OrgNode.id, OrgNode.name, OrgNode.kind, OrgNode.path)
                                 .where(or_(*criteria)).order_by(OrgNode.depth, OrgNode.name).limit(20)).all()
        codes = platform().registry.codes()
        names = {c: platform().registry.bundle(c).jurisdiction.name for c in codes}
        attachable = [c for c in codes if platform().registry.bundle(c).jurisdiction.level == node.kind]
        child_kinds = [k for k in NODE_KINDS if NODE_KINDS.index(k) > NODE_KINDS.index(node.kind)]
        return self.render("it/tree.html", node=node, rows=rows, more=more, offset=offset, crumbs=crumbs,
                           governing=governing, kinds=KIND_LABELS, codes=codes, names=names, q=q, found=found,
                           child_kinds=child_kinds, page=CHILDREN_PAGE, attachable=attachable)

    @expose("/children/<int:node_id>.json")
    def children(self, node_id: int):
        node = self._node(node_id)
        offset = max(0, _int(request.args.get("offset"), 0) or 0)
        rows = db().execute(_children_query(node.id).offset(offset).limit(CHILDREN_PAGE + 1)).all()
        more = len(rows) > CHILDREN_PAGE
        return jsonify({
            "children": [{"id": r.id, "name": r.name, "kind": r.kind, "kind_label": str(KIND_LABELS[r.kind]),
                          "code": r.code, "jurisdiction": r.jurisdiction, "has_children": bool(r.has_children),
                          "url": url_for(".index", node=r.id),
                          "children_url": url_for(".children", node_id=r.id)} for r in rows[:CHILDREN_PAGE]],
            "more": more, "next_offset": offset + CHILDREN_PAGE if more else None,
            "more_label": _("加载更多…"), "plugin_label": _("插件"),
        })

    def _back(self, node_id):
        return redirect(url_for(".index", node=node_id) if node_id else url_for(".index"))

    @expose("/add", methods=["POST"])
    def add(self):
        from core.services.orgtree import OrgTreeService
        parent_id = _int(request.form.get("parent_id"))
        if parent_id is None:
            abort(404)
        node = act(OrgTreeService(services()).add_node, parent_id, request.form.get("kind", ""),
                    request.form.get("name", ""), code=request.form.get("code"),
                    jurisdiction=request.form.get("jurisdiction") or None)
        if node is not None:
            flash(_("已添加机构「%(name)s」", name=node.name), "success")
        return self._back(parent_id)

    @expose("/move", methods=["POST"])
    def move(self):
        from core.services.orgtree import OrgTreeService
        node_id = _int(request.form.get("node_id"))
        if node_id is None:
            abort(404)
        target = _int(request.form.get("new_parent_id"))
        if target is None:
            flash(_("请填写目标上级机构的编号"), "error")
            return self._back(node_id)
        node = act(OrgTreeService(services()).move_node, node_id, target)
        if node is not None:
            flash(_("已将「%(name)s」移到新的上级机构之下", name=node.name), "success")
        return self._back(node_id)

    @expose("/jurisdiction", methods=["POST"])
    def jurisdiction(self):
        from core.services.orgtree import OrgTreeService
        node_id = _int(request.form.get("node_id"))
        if node_id is None:
            abort(404)
        code = request.form.get("jurisdiction") or None
        node = act(OrgTreeService(services()).set_jurisdiction, node_id, code)
        if node is not None:
            flash(_("已挂接插件「%(code)s」", code=code) if code else _("已取消挂接插件"), "success")
        return self._back(node_id)

    @expose("/check")
    def check(self):
        from core.services.orgtree import OrgTreeService
        node = self._node(_int(request.args.get("node")) or g.actor.node_id)
        crumbs = self._breadcrumbs(node)
        end_reads()
        try:
            report = OrgTreeService(services()).chain_check(node.id)
        except JijiaoError:
            abort(404)
        return self.render("it/chain.html", report=report, node=node, crumbs=crumbs)


# -- users -----------------------------------------------------------------------------------

class UsersView(RoleView):
    roles = IT_ROLES
    note = _l("用户与角色：新建用户并授予角色、停用或启用、重置密码")

    def _service(self):
        from core.services.users import UserAdminService
        return UserAdminService(services())

    @expose("/")
    def index(self):
        q = (request.args.get("q") or "").strip()[:64]
        after = _int(request.args.get("after"))
        end_reads()
        rows = self._service().list(search=q, after=after, limit=51)
        more = len(rows) > 50
        rows = rows[:50]
        fixed = None
        node_id = _int(request.args.get("node"))
        if node_id:
            fixed = db().get(OrgNode, node_id)
            if fixed is None:
                abort(404)
        nodes = []
        if fixed is None:  # nodes above school level in scope (a school is chosen from the tree)
            nodes = db().execute(select(OrgNode.id, OrgNode.name, OrgNode.kind, OrgNode.depth)
                                 .where(OrgNode.kind != "school").order_by(OrgNode.path).limit(500)).all()
        return self.render("it/users.html", rows=rows, more=more, q=q, fixed=fixed, nodes=nodes, when=when,
                           grantable=self._service().grantable(), kinds=KIND_LABELS,
                           next_after=rows[-1].id if rows and more else None)

    @expose("/create", methods=["POST"])
    def create(self):
        f = request.form
        node_id = _int(f.get("node_id"))
        if node_id is None:
            flash(_("请选择您管辖范围内的机构"), "error")
            return redirect(url_for(".index"))
        if f.get("password", "") != f.get("confirm", ""):
            flash(_("两次输入的密码不一致"), "error")
            return redirect(url_for(".index", node=node_id))
        user = act(self._service().create, f.get("username", ""), f.get("display_name", ""), f.get("password", ""),
                    f.get("role", ""), node_id)
        if user is not None:
            flash(_("已新建用户「%(name)s」", name=user.username), "success")
            return redirect(url_for(".index", q=user.username))
        return redirect(url_for(".index", node=node_id))

    def _user(self, user_id: int) -> int:
        if not self._service().in_scope(db(), user_id):
            abort(404)
        return user_id

    @expose("/<int:user_id>/active", methods=["POST"])
    def active(self, user_id: int):
        from core.services.auth import AuthService
        self._user(user_id)
        active = request.form.get("active") == "1"
        if user_id == g.actor.user_id and not active:
            flash(_("不能停用您自己的账号"), "error")
        else:
            act(lambda: AuthService(services()).set_active(user_id, active) or True,
                 success=_("账号已启用") if active else _("账号已停用，其登录已全部退出"))
        return redirect(url_for(".index", q=request.form.get("q") or None))

    @expose("/<int:user_id>/password", methods=["POST"])
    def password(self, user_id: int):
        f = request.form
        if f.get("password", "") != f.get("confirm", ""):
            flash(_("两次输入的密码不一致"), "error")
        else:
            act(lambda: self._service().reset_password(user_id, f.get("password", "")) or True,
                 success=_("密码已重置，该用户的登录已全部退出"))
        return redirect(url_for(".index", q=request.form.get("q") or None))


# -- the audit trail ---------------------------------------------------------------------------

class AuditFilters:
    """The filters of the audit log, validated; ``errors`` are shown, never a 500."""

    def __init__(self, args):
        self.errors: list[str] = []
        self.entity_type = (args.get("entity_type") or "").strip()[:32]
        self.trigger = (args.get("trigger") or "").strip()[:40]
        self.actor = (args.get("actor") or "").strip()[:100]
        raw_id = (args.get("entity_id") or "").strip()
        self.entity_id = _int(raw_id) if raw_id else None
        if raw_id and self.entity_id is None:
            self.errors.append(_("对象编号应为正整数"))
        self.raw_id = raw_id[:20]
        self.start = self._date(args.get("start"), _("开始日期"))
        self.end = self._date(args.get("end"), _("结束日期"))
        if self.start and self.end and self.end < self.start:
            self.errors.append(_("结束日期不能早于开始日期"))
        self.before = _int(args.get("before"))

    def _date(self, raw, label):
        raw = (raw or "").strip()
        if not raw:
            return None
        try:
            return datetime.strptime(raw[:10], "%Y-%m-%d").date()
        except ValueError:
            self.errors.append(_("%(label)s应写作 YYYY-MM-DD", label=label))
            return None

    def query(self):
        q = select(AuditRecord).order_by(AuditRecord.seq.desc())
        if self.entity_type:
            q = q.where(AuditRecord.entity_type == self.entity_type)
        if self.trigger:
            q = q.where(AuditRecord.trigger == self.trigger)
        if self.actor:
            q = q.where(AuditRecord.actor_name == self.actor)
        if self.entity_id is not None:
            q = q.where(AuditRecord.entity_id == self.entity_id)
        if self.start:
            q = q.where(AuditRecord.at >= datetime.combine(self.start, time(), SHANGHAI).astimezone(timezone.utc))
        if self.end:
            end = datetime.combine(self.end + timedelta(days=1), time(), SHANGHAI).astimezone(timezone.utc)
            q = q.where(AuditRecord.at < end)
        if self.before:
            q = q.where(AuditRecord.seq < self.before)
        return q

    def fetch(self, session, limit: int) -> list:
        """The newest ``limit`` records that match. With an entity id the (entity_type, entity_id)
        index answers; otherwise the seq index is walked backwards in growing windows, so that
        no query sorts the whole (scoped) table and none counts it."""
        if self.entity_id is not None:
            return session.scalars(self.query().limit(limit)).all()
        from core.db.models import AuditHead
        head = session.scalar(select(AuditHead.seq).where(AuditHead.id == 1)) or 0
        top = min(head, self.before - 1) if self.before else head
        rows: list = []
        window = 2000
        while top >= 1 and len(rows) < limit:
            low = max(1, top - window + 1)
            rows += session.scalars(self.query().where(AuditRecord.seq.between(low, top))
                                    .limit(limit - len(rows))).all()
            top = low - 1
            window = min(window * 4, 512_000)
        return rows

    def args(self, **extra) -> dict:
        values = {"entity_type": self.entity_type, "trigger": self.trigger, "actor": self.actor,
                  "entity_id": self.raw_id, "start": self.start.isoformat() if self.start else "",
                  "end": self.end.isoformat() if self.end else ""}
        values.update(extra)
        return {k: v for k, v in values.items() if v not in ("", None)}


class AuditView(RoleView):
    roles = AUDIT_ROLES
    note = _l("审计日志：按对象、操作、操作人、日期筛选；校验审计链")

    def _labels(self):
        triggers = dict(TRIGGER_LABELS)
        states = dict(STATE_LABELS)
        for wf in platform().workflows.workflows.values():
            for t in wf.definition.transitions:
                triggers.setdefault(t.trigger, workflow_word(t.label))
            for code, label in wf.definition.states.items():
                states.setdefault(code, workflow_word(label))
        return triggers, states

    def _page(self, report=None):
        filters = AuditFilters(request.args)
        records = []
        more = False
        if not filters.errors:
            records = filters.fetch(db(), AUDIT_PAGE + 1)
            more = len(records) > AUDIT_PAGE
            records = records[:AUDIT_PAGE]
        for message in filters.errors:
            flash(message, "error")
        next_url = (url_for(".index", **filters.args(before=records[-1].seq)) if more else None)
        first_url = url_for(".index", **filters.args()) if filters.before else None
        return self.render("it/audit.html", records=records, filters=filters, next_url=next_url, first_url=first_url,
                           when=when, entity_labels=ENTITY_LABELS, trigger_labels=self._labels()[0],
                           state_labels=self._labels()[1], actor_roles=ACTOR_ROLE_LABELS, report=report,
                           detail_text=lambda d: json.dumps(d, ensure_ascii=False, default=str) if d else "")

    @expose("/")
    def index(self):
        return self._page()

    @expose("/verify", methods=["POST"])
    def verify(self):
        """Check the whole chain (for the auditor it only reads) and show what ``verify`` reports."""
        from core.services.auditcheck import AuditCheckService
        end_reads()
        try:
            report = AuditCheckService(services()).verify()
        except JijiaoError as exc:
            flash(getattr(exc, "message", None) or str(exc), "error")
            report = None
        return self._page(report)


def register(admin) -> None:
    admin.add_view(PluginsView(name=_l("地区插件"), endpoint="it_plugins", url="/it/plugins"))
    admin.add_view(OrgTreeView(name=_l("机构树"), endpoint="it_tree", url="/it/tree"))
    admin.add_view(UsersView(name=_l("用户与角色"), endpoint="it_users", url="/it/users"))
    admin.add_view(AuditView(name=_l("审计日志"), endpoint="it_audit", url="/audit"))
