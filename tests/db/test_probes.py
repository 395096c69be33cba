"""The probe suite (issue #6): a session bound to each role, as an admin page would bind it, tries
every model × read, insert, update and delete through every ORM statement form, against rows
inside and outside its scope. A probe *leaks* when it reads a row the role may not see or changes
anything the rules below do not allow; a raw database exception (or SQLAlchemy's
InvalidRequestError) is a failure too. The test prints the number of probes.

The expectations here are written independently of ``core.db.scope``: who sees which row is
spelled out in ``expected_visible``; what a role may write is ``core.db.scope.WRITES`` (the table
a reader can see), held to the issue's rules by ``test_the_write_table_says_what_the_issue_says``.
"""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from sqlalchemy import delete, func, insert, inspect, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import aliased

from core.audit import checkpoint
from core.db.models import (AssessmentResult, AuditCheckpoint, AuditHead, AuditRecord, Claim, Evidence, JobRecord,
                            OrgNode, ProjectParticipant, RoleAssignment, SchoolPeriodFact, Teacher, TrainingProject,
                            User, WindowExtension)
from core.db.scope import OWNERS, SERVICE_ONLY, WORKFLOW_COLUMNS, WRITES, Actor, ScopeError
from core.errors import InputError

from .world import build

MODELS = (OrgNode, User, RoleAssignment, Teacher, Claim, Evidence, TrainingProject, ProjectParticipant, AuditRecord,
          AuditHead, AuditCheckpoint, WindowExtension, SchoolPeriodFact, AssessmentResult, JobRecord)
ROLES = {"teacher": "wang", "school_admin": "thzx_admin", "reviewer": "cg_rev", "district": "th_rev",
         "city": "gz_rev", "platform_admin": "admin", "auditor": "auditor"}
# A column of each model whose change is a plain edit (the role table decides), with a new value.
PLAIN = {OrgNode: ("name", "改名"), User: ("display_name", "改名"), RoleAssignment: ("role", "platform_admin"),
         Teacher: ("name", "改名"), Claim: ("on_date", date(2019, 5, 5)), Evidence: ("filename", "x.pdf"),
         TrainingProject: ("title", "改名"), ProjectParticipant: ("completed", False), AuditRecord: ("reason", "改"),
         AuditHead: ("seq", 999), AuditCheckpoint: ("mac", "0" * 64), WindowExtension: ("closes", date(2030, 1, 1)),
         SchoolPeriodFact: ("summary_filed", False), AssessmentResult: ("total_milli", 999_000),
         JobRecord: ("message", "改")}
WORKFLOW = {Claim: [("state", "registered"), ("amount_milli", 999_000), ("reviewer_node_id", None)],
            TrainingProject: [("state", "completed")]}
RAW = (SQLAlchemyError,)


class Rollback(Exception):
    pass


@pytest.fixture
def world(platform):
    w = build(platform)
    n, t = w.nodes, w.teachers
    draft = w.svc("wang").claims.declare(t["wang"].id, "zhuanye.self", {"hours": 5, "kind": "其他"})
    done = w.svc("wang").claims.declare(t["wang"].id, "zhuanye.self", {"hours": 7, "kind": "其他"})
    w.svc("wang").claims.submit(done.id)
    w.svc("thzx_admin").claims.approve(done.id)
    w.svc("th_rev").claims.approve(done.id)
    li = w.svc("li").claims.declare(t["li"].id, "zhuanye.self", {"hours": 6, "kind": "其他"})
    chen = w.svc("cgxx_admin").claims.declare(t["chen"].id, "jizhong.training", {"hours": 24, "level": "区级"},
                                              period="2022-2023")
    now = datetime(2019, 6, 1, tzinfo=timezone.utc)
    with platform.transaction(Actor.system()) as s:
        for claim in (draft, done, li, chen):
            c = s.get(Claim, claim.id)
            s.add(Evidence(claim_id=c.id, filename="a.pdf", content_type="application/pdf", size=1, sha256="0" * 64,
                           stored_as=f"e/{c.id}", scope_path=c.scope_path))
        projects = []
        for node, teacher in (("th", "wang"), ("cg", "chen")):
            p = TrainingProject(code=f"P-{node}", title="培训", jurisdiction="guangzhou", item_code="x",
                                period_key="2019", inputs={}, organiser_node_id=n[node].id, state="designed",
                                scope_path=n[node].path)
            s.add(p)
            s.flush()
            s.add(ProjectParticipant(project_id=p.id, teacher_id=t[teacher].id, completed=True))
            projects.append(p)
        for school in ("thzx", "cgxx"):
            s.add(WindowExtension(jurisdiction="guangzhou", stage="declare", period_key="2019", node_id=n[school].id,
                                  scope_path=n[school].path, closes=date(2020, 3, 1)))
            s.add(SchoolPeriodFact(node_id=n[school].id, period_key="2019", summary_filed=True,
                                   scope_path=n[school].path))
            s.add(JobRecord(kind="recompute", scope_path=n[school].path))
        s.add(AssessmentResult(teacher_id=t["chen"].id, jurisdiction="echeng", period_key="2022-2023",
                               total_milli=1, result={}, passed=None, scope_path=n["cgxx"].path))
        head = s.get(AuditHead, 1)
        checkpoint(s, head.seq, head.hash, key=("probe", b"secret"), at=now)
    w.draft_id = draft.id
    return w


# -- who may see what, spelled out ----------------------------------------------------------------------

def snapshot(platform):
    rows = {}
    with platform.engine.connect() as c:
        for model in MODELS:
            rows[model] = {r["id"]: dict(r) for r in c.execute(select(model.__table__)).mappings()}
    return rows


def expected_visible(world, rows, actor: Actor, model, row) -> bool:
    path = actor.node_path
    if model is OrgNode:
        return row["path"].startswith(path)
    if model in (AuditHead, AuditCheckpoint):
        return actor.role in ("auditor", "platform_admin")
    if model is User:
        return row["id"] == actor.user_id or any(
            ra["user_id"] == row["id"] and expected_visible(world, rows, actor, RoleAssignment, ra)
            for ra in rows[RoleAssignment].values())
    if model is RoleAssignment:
        if actor.role == "teacher":
            return row["user_id"] == actor.user_id
        return rows[OrgNode][row["node_id"]]["path"].startswith(path)
    if actor.role == "teacher":
        tid = actor.teacher_id
        if model is Teacher:
            return row["id"] == tid
        if model in (Claim, AssessmentResult, ProjectParticipant):
            return row["teacher_id"] == tid
        if model is Evidence:
            return rows[Claim][row["claim_id"]]["teacher_id"] == tid
        if model is AuditRecord:
            return row["entity_type"] == "claim" and row["entity_id"] in rows[Claim] \
                and rows[Claim][row["entity_id"]]["teacher_id"] == tid
    if model is ProjectParticipant:
        return rows[Teacher][row["teacher_id"]]["scope_path"].startswith(path)
    return row["scope_path"].startswith(path)


def refers_visible(world, rows, actor, model, row) -> bool:
    """Every owner column of a row written refers to a row the actor sees (a teacher: their own)."""
    for key, target in OWNERS.get(model, ()):
        value = row.get(key)
        if value is None:
            continue
        if value not in rows[target] or not expected_visible(world, rows, actor, target, rows[target][value]):
            return False
    if "scope_path" in row and not str(row["scope_path"]).startswith(actor.node_path):
        return False
    return True


def may(actor, model, op, columns=()):
    if actor.role == "auditor" or model in SERVICE_ONLY:
        return False
    grant = WRITES.get(model, {}).get(actor.role)
    if grant is None or op not in grant.ops:
        return False
    if set(columns) & WORKFLOW_COLUMNS.get(model, frozenset()):
        return False
    return set(columns) <= grant.columns


def own_editable(rows, actor, row):
    claim = rows[Claim].get(row.get("claim_id"))
    return claim is not None and claim["teacher_id"] == actor.teacher_id and claim["state"] in ("draft", "returned")


# -- the probes ----------------------------------------------------------------------------------------

class Probe:
    def __init__(self, platform, world, rows):
        self.platform, self.world, self.rows = platform, world, rows
        self.count = 0
        self.effects = 0  # probes that changed something (and were allowed to)
        self.leaks: list[str] = []

    def run(self, actor, label, action, check):
        """``action(session)`` in a page session, rolled back; ``check(before, after, result)`` says
        whether what happened is allowed."""
        self.count += 1
        session = self.platform.session(actor)
        try:
            with session.begin():
                conn = session.connection()
                before = self.state(conn)
                try:
                    result = action(session)
                    session.flush()
                except (ScopeError, InputError):
                    raise Rollback() from None
                after = self.state(conn)
                if before != after:
                    self.effects += 1
                problem = check(before, after, result)
                if problem:
                    self.leaks.append(f"{actor.role}@{actor.node_path} {label}: {problem}")
                raise Rollback()
        except Rollback:
            pass
        except RAW as exc:
            self.leaks.append(f"{actor.role}@{actor.node_path} {label}: raw {type(exc).__name__}: {str(exc)[:160]}")
        finally:
            session.close()

    def state(self, conn):
        return {m: {r["id"]: dict(r) for r in conn.execute(select(m.__table__)).mappings()} for m in self.models}


def changed_rows(before, after):
    out = []
    for model in before:
        b, a = before[model], after[model]
        for key in set(b) | set(a):
            if b.get(key) != a.get(key):
                cols = {c for c in set(b.get(key) or {}) | set(a.get(key) or {})
                        if (b.get(key) or {}).get(c) != (a.get(key) or {}).get(c)}
                out.append((model, key, b.get(key), a.get(key), cols))
    return out


def test_probe_every_model_role_and_statement_form(world, platform, capsys):
    rows = snapshot(platform)
    probe = Probe(platform, world, rows)
    actors = {role: world.actors[key] for role, key in ROLES.items()}

    for model in MODELS:
        probe.models = (model, Claim) if model is Evidence else (model,)
        M = model
        for role, actor in actors.items():
            vis = lambda r: expected_visible(world, rows, actor, M, r)  # noqa: E731
            inside = [r for r in rows[M].values() if vis(r)]
            outside = [r for r in rows[M].values() if not vis(r)]

            # -- read ------------------------------------------------------------------------------
            def read_check(_b, _a, result):
                extra = [i for i in result if i not in rows[M] or not vis(rows[M][i])]
                return f"reads rows {extra}" if extra else None
            probe.run(actor, f"select {M.__name__}", lambda s: [o.id for o in s.scalars(select(M))], read_check)
            probe.run(actor, f"select {M.__name__}.id", lambda s: list(s.scalars(select(M.id))), read_check)
            al = aliased(M)
            probe.run(actor, f"aliased {M.__name__}", lambda s: list(s.scalars(select(al.id))), read_check)
            probe.run(actor, f"count {M.__name__}", lambda s: s.scalar(select(func.count()).select_from(M)),
                      lambda b, a, n: None if n <= len(inside) else f"counts {n} > {len(inside)}")
            probe.run(actor, f"subquery count {M.__name__}",
                      lambda s: s.scalar(select(func.count()).select_from(select(M.id).subquery())),
                      lambda b, a, n: None if n <= len(inside) else f"counts {n} > {len(inside)}")
            probe.run(actor, f"core select {M.__name__}", lambda s: list(s.execute(select(M.__table__.c.id)).scalars()),
                      read_check)
            for r in outside[:3]:
                probe.run(actor, f"get foreign {M.__name__}#{r['id']}", lambda s, r=r: s.get(M, r["id"]),
                          lambda b, a, o: "got a foreign row" if o is not None else None)
            if M is User:
                def no_hash(s):
                    users = s.scalars(select(User)).all()
                    return [u for u in users if "password_hash" in inspect(u).dict]
                probe.run(actor, "password hash on select(User)", no_hash,
                          lambda b, a, loaded: "password hash loaded" if loaded else None)
                probe.run(actor, "select(User.password_hash)", lambda s: list(s.scalars(select(User.password_hash))),
                          lambda b, a, r: "read password hashes" if r else None)

            # -- writes ----------------------------------------------------------------------------
            targets = ([("in", r) for r in inside[:2]] + [("out", r) for r in outside[:2]])

            def write_check(op, target=None):
                def check(before, after, _result):
                    problems = []
                    for model_, key, old, new, cols in changed_rows(before, after):
                        if model_ is not M:
                            if M is Evidence and model_ is Claim:
                                problems.append("changed a claim")
                            continue
                        if old is None:  # inserted
                            ok = may(actor, M, "insert") and refers_visible(world, rows, actor, M, new) \
                                and (M is not Evidence or actor.role != "teacher" or own_editable(rows, actor, new))
                        elif new is None:  # deleted
                            ok = may(actor, M, "delete") and vis(old) \
                                and (M is not Evidence or actor.role != "teacher" or own_editable(rows, actor, old))
                        else:
                            ok = may(actor, M, "update", cols) and vis(old) and refers_visible(world, rows, actor, M, new)
                        if not ok:
                            problems.append(f"{op}: {M.__name__}#{key} {sorted(cols)}")
                    return "; ".join(problems) or None
                return check

            updates = [PLAIN[M]] + WORKFLOW.get(M, [])
            owners = OWNERS.get(M, ())
            if owners:
                key, target_model = owners[0]
                foreign = next((i for i, r in rows[target_model].items()
                                if not expected_visible(world, rows, actor, target_model, r)), None)
                if foreign is not None:
                    updates.append((key, foreign))
            if "scope_path" in M.__table__.c:
                updates.append(("scope_path", "/999/"))
            for where, r in targets:
                rid = r["id"]
                for col, value in updates:
                    attr = inspect(M).get_property_by_column(M.__table__.c[col]).key
                    tag = f"{M.__name__}#{rid}({where}).{col}"

                    def orm_attr(s, rid=rid, attr=attr, value=value):
                        obj = s.get(M, rid)
                        if obj is not None:
                            setattr(obj, attr, value)
                    probe.run(actor, f"orm set {tag}", orm_attr, write_check("orm set"))
                    probe.run(actor, f"update where {tag}", lambda s, rid=rid, attr=attr, value=value: s.execute(
                        update(M).where(M.id == rid).values({attr: value}).execution_options(synchronize_session=False)),
                        write_check("update"))
                    probe.run(actor, f"update evaluate {tag}", lambda s, rid=rid, attr=attr, value=value: s.execute(
                        update(M).where(M.id == rid).values({attr: value})
                        .execution_options(synchronize_session="evaluate")), write_check("update evaluate"))
                    probe.run(actor, f"update by pk {tag}", lambda s, rid=rid, attr=attr, value=value: s.execute(
                        update(M), [{"id": rid, attr: value}]), write_check("update by pk"))
                    probe.run(actor, f"bulk_update_mappings {tag}", lambda s, rid=rid, attr=attr, value=value:
                              s.bulk_update_mappings(M, [{"id": rid, attr: value}]), write_check("bulk_update"))
                    probe.run(actor, f"merge {tag}", lambda s, r=r, attr=attr, value=value: s.merge(
                        M(**dict(attrs(M, r), **{attr: value}))), write_check("merge"))
                    probe.run(actor, f"bulk_save_objects {tag}", lambda s, r=r, attr=attr, value=value:
                              s.bulk_save_objects([M(**dict(attrs(M, r), **{attr: value}))]),
                              write_check("bulk_save"))
                tag = f"{M.__name__}#{rid}({where})"

                def orm_delete(s, rid=rid):
                    obj = s.get(M, rid)
                    if obj is not None:
                        s.delete(obj)
                probe.run(actor, f"orm delete {tag}", orm_delete, write_check("orm delete"))
                probe.run(actor, f"delete where {tag}", lambda s, rid=rid: s.execute(
                    delete(M).where(M.id == rid).execution_options(synchronize_session=False)), write_check("delete"))
                probe.run(actor, f"delete evaluate {tag}", lambda s, rid=rid: s.execute(
                    delete(M).where(M.id == rid).execution_options(synchronize_session="evaluate")),
                    write_check("delete evaluate"))

                # inserts: a copy of the row (a new id; the actor as creator; unique columns varied)
                values = new_values(M, r, actor)
                probe.run(actor, f"orm add {tag}", lambda s, v=values: s.add(M(**v)), write_check("orm add"))
                probe.run(actor, f"insert values {tag}", lambda s, v=values: s.execute(insert(M).values(**v)),
                          write_check("insert values"))
                probe.run(actor, f"insert executemany {tag}", lambda s, v=values: s.execute(insert(M), [v]),
                          write_check("insert executemany"))
                cols = [c for c in values if c in M.__table__.c]
                probe.run(actor, f"insert from select {tag}", lambda s, rid=rid, cols=cols: s.execute(
                    insert(M).from_select(cols, select(*[getattr(M, attr_of(M, c)) for c in cols]).where(M.id == rid))),
                    write_check("insert from select"))
                probe.run(actor, f"bulk_insert_mappings {tag}", lambda s, v=values: s.bulk_insert_mappings(M, [v]),
                          write_check("bulk_insert"))
                probe.run(actor, f"bulk_save_objects new {tag}", lambda s, v=values: s.bulk_save_objects([M(**v)]),
                          write_check("bulk_save new"))
                probe.run(actor, f"merge foreign id {tag}", lambda s, v=values, rid=rid: s.merge(M(id=rid, **v)),
                          write_check("merge id"))

    with capsys.disabled():
        print(f"\n{probe.count} probes ({len(MODELS)} models × {len(actors)} roles), {probe.effects} allowed writes "
              f"took effect, {len(probe.leaks)} leaks")
    assert not probe.leaks, "\n".join(probe.leaks[:60])
    assert probe.effects > 0  # the probes do write where the table allows


def attr_of(model, column_key):
    return inspect(model).get_property_by_column(model.__table__.c[column_key]).key


def attrs(model, row: dict) -> dict:
    return {attr_of(model, k): v for k, v in row.items()}


def new_values(model, row: dict, actor: Actor) -> dict:
    values = {k: v for k, v in row.items() if k != "id"}
    for key in ("created_by", "uploaded_by"):
        if key in values:
            values[key] = actor.user_id
    tweak = {OrgNode: {"path": row.get("path", "") + "p/", "code": None}, User: {"username": "probe"},
             Teacher: {"id_number": "11010519491231002X"}, Claim: {"dedup_key": "probe"},
             AuditRecord: {"seq": 10_000}, AuditHead: {}, SchoolPeriodFact: {"period_key": "2099"},
             TrainingProject: {"code": "probe"}, AssessmentResult: {"period_key": "2099"},
             RoleAssignment: {"role": "auditor"}}
    values.update(tweak.get(model, {}))
    if model is ProjectParticipant:
        values["teacher_id"] = values["teacher_id"] + 1  # another teacher (ids follow world.py's order)
    return {attr_of(model, k): v for k, v in values.items()}


def test_the_write_table_says_what_the_issue_says():
    """A teacher writes only their own evidence (drafts go through the services); school-wide
    rows belong to the school's and the platform's admins; an auditor writes nothing; the services
    alone write users, roles, the audit trail, windows, claims and projects."""
    assert {m for m, grants in WRITES.items() if "teacher" in grants} == {Evidence}
    assert WRITES[Evidence]["teacher"].rows == "own_editable_claim"
    assert not any("auditor" in grants for grants in WRITES.values())
    assert set(WRITES[SchoolPeriodFact]) == {"school_admin", "platform_admin"}
    for model in (User, RoleAssignment, AuditRecord, AuditHead, AuditCheckpoint, WindowExtension, Claim):
        assert model in SERVICE_ONLY and model not in WRITES
    for model, grants in WRITES.items():
        for grant in grants.values():
            assert not grant.columns & WORKFLOW_COLUMNS.get(model, frozenset())
