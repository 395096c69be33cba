"""Scope is enforced in the data layer: a session bound to a user cannot read, count, update or
delete another school's rows by any ORM path; a teacher sees only themself; an auditor changes
nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import aliased

from core.db.models import AuditRecord, Claim, OrgNode, Teacher
from core.db.scope import Actor, ScopeError

from .world import build


@pytest.fixture
def world(platform):
    w = build(platform)
    for who in ("wang", "li"):
        claim = w.svc(who).claims.declare(w.teachers[who].id, "zhuanye.self", {"hours": 7, "kind": "其他"})
        w.svc(who).claims.submit(claim.id)
    return w


def ids(platform, who_actor, stmt):
    session = platform.session(who_actor)
    try:
        return sorted(session.scalars(stmt).all())
    finally:
        session.close()


def claim_of(world, platform, teacher):
    with platform.transaction(Actor.system()) as s:
        return s.scalar(select(Claim.id).where(Claim.teacher_id == world.teachers[teacher].id))


def test_select_count_get_join_and_alias_see_only_the_subtree(world, platform):
    admin = world.actors["thzx_admin"]
    mine, theirs = claim_of(world, platform, "wang"), claim_of(world, platform, "li")
    session = platform.session(admin)
    try:
        assert session.scalars(select(Claim.id)).all() == [mine]
        assert session.scalar(select(func.count()).select_from(Claim)) == 1
        assert session.get(Claim, theirs) is None
        assert session.scalars(select(Claim.id).join(Teacher, Teacher.id == Claim.teacher_id)).all() == [mine]
        other = aliased(Claim)
        assert session.scalars(select(other.id).where(other.id == theirs)).all() == []
        assert session.scalars(select(Teacher.name)).all() == ["王老师"]
        names = session.scalars(select(OrgNode.name)).all()
        assert names == ["天河中学"]
        assert all(r.scope_path.startswith(admin.node_path) for r in session.scalars(select(AuditRecord)))
    finally:
        session.close()
    district = world.actors["th_rev"]
    assert ids(platform, district, select(Claim.id)) == sorted([mine, theirs])


def test_update_and_delete_cannot_reach_another_school(world, platform):
    admin = world.actors["thzx_admin"]
    theirs = claim_of(world, platform, "li")
    li = world.teachers["li"].id
    with platform.transaction(admin) as s:
        # a column the school admin may write, on a teacher of another school: no row matches
        assert s.execute(update(Teacher).where(Teacher.id == li).values(name="x")
                         .execution_options(synchronize_session=False)).rowcount == 0
        assert s.execute(update(Teacher).values(name="x").execution_options(synchronize_session=False)).rowcount == 1
    # claims change only through the services; a workflow column only through a transition
    with pytest.raises(ScopeError, match="流程字段"):
        with platform.transaction(admin) as s:
            s.execute(update(Claim).where(Claim.id == theirs).values(state="registered")
                      .execution_options(synchronize_session=False))
    with pytest.raises(ScopeError, match="服务层"):
        with platform.transaction(admin) as s:
            s.execute(delete(Claim).where(Claim.id == theirs).execution_options(synchronize_session=False))
    with platform.transaction(Actor.system()) as s:
        assert s.get(Claim, theirs).state == "submitted"
        assert s.scalar(select(func.count()).select_from(Teacher).where(Teacher.name == "x")) == 1


def test_objects_outside_the_scope_cannot_be_written(world, platform):
    admin = world.actors["thzx_admin"]
    with platform.transaction(Actor.system()) as s:
        theirs = s.get(Claim, claim_of(world, platform, "li"))
    with pytest.raises(ScopeError):
        with platform.transaction(admin) as s:
            s.merge(theirs).reason = "改别校的记录"
    with pytest.raises(ScopeError):
        with platform.transaction(admin) as s:
            s.add(OrgNode(parent_id=None, kind="school", name="别处", path="/999/", depth=0))


def test_a_teacher_sees_only_themself(world, platform):
    wang = world.actors["wang"]
    mine = claim_of(world, platform, "wang")
    assert ids(platform, wang, select(Claim.id)) == [mine]
    assert ids(platform, wang, select(Teacher.id)) == [world.teachers["wang"].id]
    session = platform.session(wang)
    try:
        entities = {(r.entity_type, r.entity_id) for r in session.scalars(select(AuditRecord))}
        assert entities == {("claim", mine)}
    finally:
        session.close()
    with pytest.raises(Exception, match="不在您的管辖范围内"):
        world.svc("wang").claims.submit(claim_of(world, platform, "li"))


def test_an_auditor_reads_everything_in_scope_and_changes_nothing(world, platform):
    auditor = world.actors["auditor"]
    assert len(ids(platform, auditor, select(Claim.id))) == 2
    with pytest.raises(ScopeError, match="审计员只能查看"):
        with platform.transaction(auditor) as s:
            s.execute(update(Claim).values(reason="x").execution_options(synchronize_session=False))
    with pytest.raises(ScopeError, match="审计员只能查看"):
        with platform.transaction(auditor) as s:
            s.scalars(select(Claim)).first().reason = "x"


def test_a_reviewer_in_another_province_sees_nothing_of_this_one(world, platform):
    assert ids(platform, world.actors["ec_rev"], select(Claim.id)) == []
    assert ids(platform, world.actors["ec_rev"], select(Teacher.name)) == sorted(["刘老师", "陈老师"])
