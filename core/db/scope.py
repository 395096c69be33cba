"""Scope and write permission in the data layer, underneath every page, command and job.

A session bound to an actor (``bind``) sees only the actor's subtree (a teacher: only themself) in
every ORM query, and writes only what the actor's role may write. Three kinds of session:

* **system** (``Actor.system()``: command line, jobs, demo, migrations): trusted, no rule applies.
* **service** sessions, opened by the service layer (``Services.transaction``): they read and write
  in scope; they alone may write the rows the services own (users, role assignments, the audit
  trail, windows, assessments, jobs, claims and projects) and use ``skip_scope`` to read their own
  ancestors. Workflow columns (``WORKFLOW_COLUMNS``) change only inside ``workflow_write``, the
  guarded UPDATEs of the workflow path.
* **page** sessions: every other bound session (``Platform.session``/``transaction``, what an admin
  view uses). Reads are scoped; writes follow ``WRITES`` (model × role → operations, columns); any
  other write, any workflow column, any Core/text statement, ``skip_scope``, the legacy bulk methods
  and a primary-key ``executemany`` UPDATE are refused with a ``ScopeError``.

Every form of ORM statement goes through ``do_orm_execute`` (select, insert with values, from a
select or executemany, update and delete by criteria or by primary key) and every unit of work
through ``before_flush`` (add, change, delete, merge). Columns that say who owns a row (``OWNERS``:
``scope_path``, ``teacher_id``, ``home_school_id``, ``node_id``, …) are checked on insert and on
change in every bound session, and every text value is checked against its column (length, control
characters) so that no raw database error reaches a caller. ``session.connection()`` and the engine
are outside these rules: they belong to the services (bulk COPY) and to migrations.
"""

from __future__ import annotations

import unicodedata
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import JSON, Column, Join, Select, String, Table, event, inspect, select
from sqlalchemy.orm import Session, with_loader_criteria
from sqlalchemy.sql import visitors
from sqlalchemy.sql.elements import BindParameter

from ..errors import InputError, JijiaoError
from .models import (SCOPED_MODELS, AssessmentResult, AuditCheckpoint, AuditHead, AuditRecord, Claim, Evidence,
                     JobRecord, OrgNode, ProjectParticipant, RoleAssignment, SchoolPeriodFact, Teacher,
                     TrainingProject, User, WindowExtension)

PATH_END = "~"


class ScopeError(JijiaoError):
    """A read or write outside the actor's scope or role."""


@dataclass(frozen=True)
class Actor:
    """Who acts: a user in one role at one node (a teacher: their own record)."""

    user_id: int | None
    name: str
    role: str
    node_id: int | None
    node_path: str
    teacher_id: int | None = None

    @classmethod
    def system(cls, name: str = "系统") -> "Actor":
        return cls(None, name, "system", None, "/", None)

    @property
    def read_only(self) -> bool:
        return self.role == "auditor"


# -- the rules a reader can see ---------------------------------------------------------------------

@dataclass(frozen=True)
class Grant:
    """What a role may write of a model from a page: ``ops`` among insert/update/delete, the
    ``columns`` an insert may set or an update may change, and which rows (always inside the
    actor's read scope; ``rows`` names a narrower rule)."""

    ops: frozenset
    columns: frozenset = frozenset()
    rows: str = "scope"  # "scope" | "own_editable_claim" (a teacher's own draft or returned claim)


def _g(ops: str, columns: str = "", rows: str = "scope") -> Grant:
    return Grant(frozenset(ops.split()), frozenset(columns.split()), rows)


ADMINS = ("school_admin", "platform_admin")
EDITABLE_CLAIM_STATES = ("draft", "recorded", "returned")

# Written only by the services (a page gets a ScopeError for any write of these):
SERVICE_ONLY = (User, RoleAssignment, AuditRecord, AuditHead, AuditCheckpoint, WindowExtension, AssessmentResult,
                JobRecord, Claim, TrainingProject)

_EVIDENCE = "claim_id filename content_type size sha256 stored_as scope_path uploaded_by uploaded_at"
WRITES: dict[type, dict[str, Grant]] = {
    # model: {role: Grant}; a role not listed writes nothing of the model. The auditor writes nothing.
    OrgNode: {"platform_admin": _g("update", "name code active")},
    Teacher: {role: _g("update", "name cert_number subject stage active") for role in ADMINS},
    Evidence: {"teacher": _g("insert delete", _EVIDENCE, rows="own_editable_claim"),
               "school_admin": _g("insert delete", _EVIDENCE), "organiser": _g("insert delete", _EVIDENCE)},
    ProjectParticipant: {role: _g("insert update delete", "project_id teacher_id completed")
                         for role in ("organiser", "school_admin", "reviewer")},
    SchoolPeriodFact: {role: _g("insert update delete", "node_id period_key summary_filed scope_path")
                       for role in ADMINS},
}

# Columns only a transition changes (inside ``workflow_write``), whoever the actor is.
WORKFLOW_COLUMNS: dict[type, frozenset] = {
    Claim: frozenset("workflow state version level review_chain reviewer_node_id amount_milli explanation "
                     "registered_at reason dedup_key".split()),
    TrainingProject: frozenset("workflow state version needs_approval approver_node_id".split()),
}

# Columns that say who owns a row: (column, referenced model). On insert and on change, the row
# referenced must be inside the actor's scope (a teacher: their own), and ``scope_path`` must be the
# path the reference gives (``SCOPE_FROM``).
OWNERS: dict[type, tuple] = {
    OrgNode: (("parent_id", OrgNode),),
    Teacher: (("home_school_id", OrgNode),),
    Claim: (("teacher_id", Teacher), ("home_school_id", OrgNode)),
    Evidence: (("claim_id", Claim),),
    TrainingProject: (("organiser_node_id", OrgNode),),
    ProjectParticipant: (("project_id", TrainingProject), ("teacher_id", Teacher)),
    WindowExtension: (("node_id", OrgNode),),
    SchoolPeriodFact: (("node_id", OrgNode),),
    AssessmentResult: (("teacher_id", Teacher),),
    RoleAssignment: (("node_id", OrgNode), ("teacher_id", Teacher)),
}
SCOPE_FROM = {Teacher: "home_school_id", Claim: "teacher_id", Evidence: "claim_id", TrainingProject: "organiser_node_id",
              WindowExtension: "node_id", SchoolPeriodFact: "node_id", AssessmentResult: "teacher_id"}
CREATOR_COLUMNS = ("created_by", "uploaded_by")

MODELS = (OrgNode, User, RoleAssignment, *SCOPED_MODELS, ProjectParticipant, AuditHead, AuditCheckpoint)
_BY_TABLE = {m.__table__: m for m in MODELS}
_BY_TABLE_NAME = {m.__table__.name: m for m in MODELS}

LABELS = {"name": "名称", "display_name": "姓名", "username": "用户名", "reason": "理由", "cert_number": "证书编号",
          "code": "编号", "title": "标题", "filename": "文件名", "subject": "学科", "inputs": "填报内容",
          "dedup_key": "证书编号", "message": "说明", "detail": "详情"}


# -- sessions -----------------------------------------------------------------------------------------

def bind(session: Session, actor: Actor) -> Session:
    session.info["actor"] = actor
    return session


def trust(session: Session) -> Session:
    """Internal to the service layer: mark a session as the services' own (see the module doc)."""
    session.info["service"] = True
    return session


@contextmanager
def workflow_write(session: Session):
    """Internal to the service layer: the workflow path's guarded writes (state, version, …)."""
    if not session.info.get("service") and _actor(session) is not None and _actor(session).role != "system":
        raise ScopeError("流程字段只能由服务层的流转操作修改")
    session.info["workflow"] = session.info.get("workflow", 0) + 1
    try:
        yield session
    finally:
        session.info["workflow"] -= 1


def _actor(session) -> Actor | None:
    return session.info.get("actor")


def _is_page(session, actor) -> bool:
    return actor is not None and actor.role != "system" and not session.info.get("service")


def _in_workflow(session, actor) -> bool:
    return actor is None or actor.role == "system" or bool(session.info.get("workflow"))


class GuardedSession(Session):
    """A Session whose legacy bulk methods (which fire no event) are refused in page sessions."""

    def _refuse_bulk(self):
        if _is_page(self, _actor(self)):
            raise ScopeError("批量写入方法（bulk_*）只供服务层内部使用")

    def bulk_save_objects(self, *args, **kwargs):
        self._refuse_bulk()
        return super().bulk_save_objects(*args, **kwargs)

    def bulk_insert_mappings(self, *args, **kwargs):
        self._refuse_bulk()
        return super().bulk_insert_mappings(*args, **kwargs)

    def bulk_update_mappings(self, *args, **kwargs):
        self._refuse_bulk()
        return super().bulk_update_mappings(*args, **kwargs)


# -- reading ------------------------------------------------------------------------------------------

def _users_in(low: str, high: str):
    ra, nodes = RoleAssignment.__table__, OrgNode.__table__
    return select(ra.c.user_id).where(ra.c.node_id.in_(
        select(nodes.c.id).where(nodes.c.path.between(low, high)).scalar_subquery())).scalar_subquery()


def _nodes_in(low: str, high: str):
    nodes = OrgNode.__table__
    return select(nodes.c.id).where(nodes.c.path.between(low, high)).scalar_subquery()


def _criteria(actor: Actor):
    if actor.role == "system":
        return []
    low, high = actor.node_path, actor.node_path + PATH_END
    uid = actor.user_id if actor.user_id is not None else -1
    options = [with_loader_criteria(OrgNode, lambda cls: cls.path.between(low, high), include_aliases=True)]
    if actor.role not in ("auditor", "platform_admin"):
        options += [with_loader_criteria(AuditHead, lambda cls: cls.id.is_(None), include_aliases=True),
                    with_loader_criteria(AuditCheckpoint, lambda cls: cls.id.is_(None), include_aliases=True)]
    if actor.role == "teacher":
        tid = actor.teacher_id if actor.teacher_id is not None else -1
        own_claims = select(Claim.__table__.c.id).where(Claim.__table__.c.teacher_id == tid).scalar_subquery()
        options += [
            with_loader_criteria(User, lambda cls: cls.id == uid, include_aliases=True),
            with_loader_criteria(RoleAssignment, lambda cls: cls.user_id == uid, include_aliases=True),
            with_loader_criteria(Teacher, lambda cls: cls.id == tid, include_aliases=True),
            with_loader_criteria(Claim, lambda cls: cls.teacher_id == tid, include_aliases=True),
            with_loader_criteria(AssessmentResult, lambda cls: cls.teacher_id == tid, include_aliases=True),
            with_loader_criteria(Evidence, lambda cls: cls.claim_id.in_(own_claims), include_aliases=True),
            with_loader_criteria(AuditRecord, lambda cls: (cls.entity_type == "claim") & cls.entity_id.in_(own_claims),
                                 include_aliases=True),
            with_loader_criteria(ProjectParticipant, lambda cls: cls.teacher_id == tid, include_aliases=True),
            # A school's jobs (roster imports, bulk reviews) carry other teachers' data: a teacher
            # sees only the jobs they started.
            with_loader_criteria(JobRecord, lambda cls: (cls.created_by == uid) & cls.scope_path.between(low, high),
                                 include_aliases=True),
        ]
        others = [m for m in SCOPED_MODELS
                  if m not in (Teacher, Claim, AssessmentResult, Evidence, AuditRecord, JobRecord)]
    else:
        teachers = Teacher.__table__
        users, nodes = _users_in(low, high), _nodes_in(low, high)
        in_scope = select(teachers.c.id).where(teachers.c.scope_path.between(low, high)).scalar_subquery()
        options += [
            with_loader_criteria(User, lambda cls: (cls.id == uid) | cls.id.in_(users), include_aliases=True),
            with_loader_criteria(RoleAssignment, lambda cls: cls.node_id.in_(nodes), include_aliases=True),
            with_loader_criteria(ProjectParticipant, lambda cls: cls.teacher_id.in_(in_scope), include_aliases=True),
        ]
        others = list(SCOPED_MODELS)
    for model in others:
        options.append(with_loader_criteria(model, lambda cls: cls.scope_path.between(low, high),
                                            include_aliases=True))
    return options


def _orm_tables(elements) -> set:
    tables = set()
    for root in elements:
        for element in visitors.iterate(root):
            entity = (getattr(element, "_annotations", None) or {}).get("parententity")
            table = getattr(entity, "local_table", None) if entity is not None and not entity.is_aliased_class else None
            if table is not None:
                tables.add(table)
    return tables


def _tables_of(froms) -> set:
    tables, todo = set(), list(froms)
    while todo:
        item = todo.pop()
        if isinstance(item, Join):
            todo += [item.left, item.right]
        elif isinstance(item, Table):
            tables.add(item)
    return tables


def _raw_sql(statement) -> str | None:
    """Why a page may not run this ORM statement: a Core table that is not also an ORM entity of
    the same SELECT (loader criteria reach only entities), or the password hash."""
    raw = "页面只能通过模型读写数据（不能直接使用数据表）"
    target = getattr(statement, "table", None)
    target = getattr(target, "__element__", target)
    for element in visitors.iterate(statement):
        if isinstance(element, Column):
            if element.table is User.__table__ and element.key == "password_hash":
                return "密码摘要只在登录时读取"
            if target is not None and not getattr(element, "_annotations", None) and element.table in _BY_TABLE \
                    and element.table is not target:
                return raw
        elif isinstance(element, Select):
            orm = _orm_tables([*element._raw_columns, *element._from_obj, *(j[0] for j in element._setup_joins),
                               *element._where_criteria])
            for table in _tables_of(element.get_final_froms()):
                if table in _BY_TABLE and table not in orm:
                    return raw
    for option in getattr(statement, "_with_options", ()):
        if any("password_hash" in str(getattr(c, "path", "")) for c in getattr(option, "context", ())):
            return "密码摘要只在登录时读取"
    return None


# -- checks of written values ---------------------------------------------------------------------------

def _text_problem(value, allow_lines: bool) -> bool:
    for ch in value:
        cat = unicodedata.category(ch)
        if cat == "Cs" or (cat == "Cc" and not (allow_lines and ch in "\t\n\r")):
            return True
    return False


def _check_json(value, label, key):
    if isinstance(value, str):
        if _text_problem(value, True):
            raise InputError(f"「{label}」含有不可见的控制字符（如 NUL），请删除后重试", field=key)
    elif isinstance(value, dict):
        for k, v in value.items():
            _check_json(k, label, key)
            _check_json(v, label, key)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _check_json(v, label, key)


def check_value(column, value) -> None:
    """A text value against its column: length and control characters; one Chinese InputError."""
    if value is None:
        return
    key = column.key
    label = LABELS.get(key, key)
    ctype = column.type
    if isinstance(ctype, JSON) or getattr(ctype, "_type_affinity", None) is JSON:
        _check_json(value, label, key)
        return
    if isinstance(ctype, String) and isinstance(value, str):
        length = ctype.length
        if length is not None and len(value) > length:
            raise InputError(f"「{label}」不能超过 {length} 个字符（现有 {len(value)} 个）", field=key)
        if _text_problem(value, length is None):
            raise InputError(f"「{label}」含有不可见的控制字符（如 NUL），请删除后重试", field=key)


def check_text(value: str | None, *, label: str, field: str | None = None, max_length: int | None = None,
               lines: bool = False) -> str | None:
    """The service layer's check of one text input (same rules and message as the data layer)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InputError(f"「{label}」应为文字", field=field)
    if max_length is not None and len(value) > max_length:
        raise InputError(f"「{label}」不能超过 {max_length} 个字符（现有 {len(value)} 个）", field=field)
    if _text_problem(value, lines):
        raise InputError(f"「{label}」含有不可见的控制字符（如 NUL），请删除后重试", field=field)
    return value


def _columns(model):
    return {c.key: c for c in model.__table__.columns}


def _within_path(actor: Actor, path) -> bool:
    return actor.role == "system" or (isinstance(path, str) and path.startswith(actor.node_path))


def _visible(session, model, ident):
    """The referenced row as the actor sees it (None when outside their scope)."""
    columns = [model.id] + ([model.scope_path] if hasattr(model, "scope_path") else []) \
        + ([model.path] if model is OrgNode else []) + ([model.state, model.teacher_id] if model is Claim else [])
    with session.no_autoflush:
        return session.execute(select(*columns).where(model.id == ident)).first()


def _check_owners(session, actor: Actor, model, row: dict, changed: set | None = None) -> None:
    """Owner columns of one row (``row``: column key -> value) inside the actor's scope."""
    if actor.role == "system":
        return
    refs = {}
    for key, target in OWNERS.get(model, ()):
        if key not in row or (changed is not None and key not in changed):
            continue
        value = row[key]
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool):
            raise ScopeError("归属字段只能是确定的编号")
        seen = _visible(session, target, value)
        if seen is None or (actor.role == "teacher" and target is Teacher and value != actor.teacher_id):
            raise ScopeError("不能把数据归到管辖范围之外")
        refs[key] = seen
    if model is OrgNode and "path" in row and row["path"] is not None and not _within_path(actor, row["path"]):
        raise ScopeError("不能修改管辖范围之外的数据")
    if "scope_path" in row and (changed is None or "scope_path" in changed):
        path = row["scope_path"]
        if not _within_path(actor, path):
            raise ScopeError("不能在管辖范围之外新增或移动数据")
        source = SCOPE_FROM.get(model)
        if source in refs:
            mapping = refs[source]._mapping
            expected = mapping["path"] if "path" in mapping else mapping["scope_path"]
            if path != expected:
                raise ScopeError("数据的归属路径与其所属机构或教师不符")


def _check_row_rule(session, actor, model, grant: Grant, row: dict) -> None:
    if grant.rows == "own_editable_claim":
        claim = _visible(session, Claim, row.get("claim_id"))
        if claim is None or claim.teacher_id != actor.teacher_id or claim.state not in EDITABLE_CLAIM_STATES:
            raise ScopeError("教师只能修改本人草稿或被退回记录的材料")


def _row_where(model, actor: Actor, grant: Grant):
    if model is ProjectParticipant:  # a participant row is written by the project's organiser side
        projects = TrainingProject.__table__
        low, high = actor.node_path, actor.node_path + PATH_END
        return model.project_id.in_(select(projects.c.id).where(projects.c.scope_path.between(low, high))
                                    .scalar_subquery())
    if grant.rows == "own_editable_claim":
        claims = Claim.__table__
        tid = actor.teacher_id if actor.teacher_id is not None else -1
        return model.claim_id.in_(select(claims.c.id).where(claims.c.teacher_id == tid,
                                                             claims.c.state.in_(EDITABLE_CLAIM_STATES)).scalar_subquery())
    return None


def _grant(actor: Actor, model, op: str) -> Grant:
    if actor.read_only:
        raise ScopeError("审计员只能查看，不能修改数据")
    if model in SERVICE_ONLY:
        raise ScopeError(f"「{model.__tablename__}」只能通过服务层的操作修改")
    grant = WRITES.get(model, {}).get(actor.role)
    if grant is None or op not in grant.ops:
        raise ScopeError(f"您的角色（{actor.role}）不能{ {'insert': '新增', 'update': '修改', 'delete': '删除'}[op] }"
                         f"「{model.__tablename__}」")
    return grant


def _check_columns(session, actor, model, keys: set, grant: Grant | None, *, insert: bool) -> None:
    workflow = WORKFLOW_COLUMNS.get(model, frozenset()) & keys
    if workflow and not insert and not _in_workflow(session, actor):
        raise ScopeError(f"流程字段（{'、'.join(sorted(workflow))}）只能通过审核流转修改")
    if grant is not None:
        extra = keys - grant.columns - ({"id"} if not insert else set())
        if extra:
            raise ScopeError(f"不能{'填写' if insert else '修改'}字段：{'、'.join(sorted(extra))}")


def _check_required(model, row: dict) -> None:
    cols = _columns(model)
    for key, _ in OWNERS.get(model, ()):
        if not cols[key].nullable and row.get(key) is None:
            raise ScopeError(f"新增数据必须指定归属字段 {key}")


def _check_creator(actor, row: dict) -> None:
    for key in CREATOR_COLUMNS:
        if key in row and row[key] is not None and row[key] != actor.user_id:
            raise ScopeError("记录的创建人只能是您本人")


# -- statements ----------------------------------------------------------------------------------------

def _statement_model(statement):
    table = getattr(statement, "table", None)
    if table is None:
        return None
    entity = getattr(table, "_annotations", {}).get("parententity")
    if entity is not None:
        return entity.class_
    return _BY_TABLE.get(table) or _BY_TABLE_NAME.get(getattr(table, "name", None))


def _value_rows(state, model) -> list[dict]:
    """The rows an INSERT or UPDATE writes: column key -> Python value (an SQL expression stays
    an expression)."""
    statement = state.statement
    cols = _columns(model)
    mapper = inspect(model)
    rows = []

    def key_of(k):
        if isinstance(k, str):
            prop = mapper.attrs.get(k) if k in mapper.attrs else None
            return prop.columns[0].key if prop is not None and hasattr(prop, "columns") else k
        return getattr(k, "key", str(k))

    def value_of(v):
        return v.effective_value if isinstance(v, BindParameter) else v

    base = {key_of(k): value_of(v) for k, v in (getattr(statement, "_values", None) or {}).items()}
    multi = getattr(statement, "_multi_values", None) or ()
    if multi:
        for batch in multi:
            for r in batch:
                rows.append(dict(base, **{key_of(k): value_of(v) for k, v in
                                          (r.items() if isinstance(r, dict) else zip(cols, r))}))
    params = state.parameters
    if isinstance(params, list):
        for p in params:
            rows.append(dict(base, **{key_of(k): v for k, v in p.items()}))
    elif isinstance(params, dict) and params:
        rows.append(dict(base, **{key_of(k): v for k, v in params.items()}))
    if not rows:
        rows.append(base)
    return rows


def _check_values(model, rows: list[dict]) -> None:
    cols = _columns(model)
    for row in rows:
        for key, value in row.items():
            if key in cols and not hasattr(value, "__clause_element__") and not hasattr(value, "_compiler_dispatch"):
                check_value(cols[key], value)


@event.listens_for(Session, "do_orm_execute")
def _apply_scope(state):
    session = state.session
    actor: Actor | None = _actor(session)
    if actor is None:
        return
    page = _is_page(session, actor)
    statement = state.statement
    if actor.role == "system":
        return
    if state.execution_options.get("skip_scope"):
        if page:
            raise ScopeError("skip_scope 只供服务层内部使用")
        return
    if not state.is_orm_statement:
        if page:
            raise ScopeError("页面只能通过模型读写数据（不能执行 SQL 文本或数据表语句）")
        return
    if page:
        problem = _raw_sql(statement)
        if problem:
            raise ScopeError(problem)
    if state.is_select:
        state.statement = statement.options(*_criteria(actor))
        return
    if actor.read_only:
        raise ScopeError("审计员只能查看，不能修改数据")
    model = _statement_model(statement)
    if model is None:
        raise ScopeError("无法确定语句所写的数据表")
    if state.is_insert:
        if getattr(statement, "select", None) is not None:
            if page:
                raise ScopeError("页面不能用 INSERT … SELECT 写入数据")
            return
        rows = _value_rows(state, model)
        _check_values(model, rows)
        if page:
            grant = _grant(actor, model, "insert")
            for row in rows:
                if row.get("id") is not None:
                    raise ScopeError("新增数据不能指定编号")
                _check_columns(session, actor, model, set(row), grant, insert=True)
                _check_required(model, row)
                _check_creator(actor, row)
                _check_row_rule(session, actor, model, grant, row)
                _check_owners(session, actor, model, row)
        else:
            for row in rows:
                if "scope_path" in row and not _within_path(actor, row["scope_path"]):
                    raise ScopeError("不能在管辖范围之外新增数据")
        return
    # UPDATE or DELETE
    if state.is_update:
        if isinstance(state.parameters, list) and page:
            raise ScopeError("按主键批量更新只供服务层内部使用")
        rows = _value_rows(state, model)
        _check_values(model, rows)
        keys = set().union(*rows) if rows else set()
        _check_columns(session, actor, model, keys, None, insert=False)
        grant = _grant(actor, model, "update") if page else None
        _check_columns(session, actor, model, keys, grant, insert=False)
        if page and "scope_path" in keys and SCOPE_FROM.get(model) not in keys:
            raise ScopeError("归属路径只能与其所属机构或教师一同修改")
        for row in rows:
            for key in keys & ({k for k, _ in OWNERS.get(model, ())} | {"scope_path", "path", *CREATOR_COLUMNS}):
                value = row.get(key)
                if hasattr(value, "__clause_element__") or hasattr(value, "_compiler_dispatch"):
                    raise ScopeError("归属字段只能设为确定的值")
            _check_creator(actor, row)
            _check_owners(session, actor, model, row)
    else:
        grant = _grant(actor, model, "delete") if page else None
    if page:
        where = _row_where(model, actor, grant)
        if where is not None:
            statement = statement.where(where)
    if state.execution_options.get("synchronize_session") == "evaluate":
        state.update_execution_options(synchronize_session="fetch")  # scope criteria are SQL, not Python
    state.statement = statement.options(*_criteria(actor))


# -- the unit of work ----------------------------------------------------------------------------------

def _model_of(obj):
    for model in type(obj).__mro__:
        if model in _BY_TABLE.values():
            return model
    return None


def _within(actor: Actor, obj) -> bool:
    if actor.role == "system":
        return True
    if actor.role == "teacher":
        if isinstance(obj, Teacher):
            return obj.id == actor.teacher_id
        if hasattr(obj, "teacher_id") and not isinstance(obj, RoleAssignment):
            return obj.teacher_id == actor.teacher_id
    if isinstance(obj, OrgNode):
        return bool(obj.path) and obj.path.startswith(actor.node_path)
    path = getattr(obj, "scope_path", None)
    if path is None:
        return True
    return path.startswith(actor.node_path)


def _changes(obj) -> tuple[set, dict, dict]:
    """Changed column keys, their old values and the row's current column values."""
    state = inspect(obj)
    mapper = state.mapper
    changed, old, row = set(), {}, {}
    for prop in mapper.column_attrs:
        key = prop.columns[0].key
        if prop.key in state.unloaded:
            continue
        history = state.attrs[prop.key].history
        row[key] = state.dict.get(prop.key)
        if history.has_changes():
            changed.add(key)
            if history.deleted:
                old[key] = history.deleted[0]
    return changed, old, row


@event.listens_for(Session, "before_flush")
def _check_writes(session, flush_context, instances):
    actor: Actor | None = _actor(session)
    if actor is None:
        return
    page = _is_page(session, actor)
    new, dirty, deleted = list(session.new), [o for o in session.dirty if session.is_modified(o)], list(session.deleted)
    if actor.read_only and (new or dirty or deleted):
        raise ScopeError("审计员只能查看，不能修改数据")
    for obj in new:
        model = _model_of(obj)
        if model is None:
            if page:  # a table the rules do not know: only the services write it (fail closed)
                raise ScopeError("该数据只能由服务层写入")
            continue
        _, _, row = _changes(obj)
        row = {k: v for k, v in row.items() if v is not None}
        _check_values(model, [row])
        if actor.role == "system":
            continue
        if page:
            grant = _grant(actor, model, "insert")
            if row.get("id") is not None:
                raise ScopeError("新增数据不能指定编号（或该编号的数据不在您的管辖范围内）")
            _check_columns(session, actor, model, set(row) - {"id"}, grant, insert=True)
            _check_required(model, row)
            _check_creator(actor, row)
            _check_row_rule(session, actor, model, grant, row)
        if not _within(actor, obj) and not (model is RoleAssignment):
            raise ScopeError("不能修改管辖范围之外的数据")
        _check_owners(session, actor, model, row)
    for obj in dirty:
        model = _model_of(obj)
        if model is None:
            if page:  # a table the rules do not know: only the services write it (fail closed)
                raise ScopeError("该数据只能由服务层写入")
            continue
        changed, old, row = _changes(obj)
        if not changed:
            continue
        _check_values(model, [{k: row[k] for k in changed}])
        if actor.role == "system":
            continue
        _check_columns(session, actor, model, changed, None, insert=False)
        grant = _grant(actor, model, "update") if page else None
        _check_columns(session, actor, model, changed, grant, insert=False)
        if not _within(actor, obj):
            raise ScopeError("不能修改管辖范围之外的数据")
        for key, value in old.items():  # where the row was must be in scope too
            if key == "scope_path" and not _within_path(actor, value):
                raise ScopeError("不能修改管辖范围之外的数据")
        _check_creator(actor, {k: row[k] for k in changed if k in CREATOR_COLUMNS})
        _check_owners(session, actor, model, row, None if page else changed)
        if page:
            _check_row_rule(session, actor, model, grant, row)
    for obj in deleted:
        model = _model_of(obj)
        if model is None and page:
            raise ScopeError("该数据只能由服务层写入")
        if model is None or actor.role == "system":
            continue
        if page:
            grant = _grant(actor, model, "delete")
            _, _, row = _changes(obj)
            _check_row_rule(session, actor, model, grant, row)
            _check_owners(session, actor, model, row)
        if not _within(actor, obj):
            raise ScopeError("不能修改管辖范围之外的数据")
