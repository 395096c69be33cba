"""Training projects ("谁设计、谁登记") and an organiser's batch registration: all rows or none."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core.db.models import AssessmentResult, AuditRecord, Claim, TrainingProject
from core.db.scope import Actor
from core.errors import InputError
from core.workflow import TransitionRefused

from .world import build


@pytest.fixture
def world(platform):
    w = build(platform)
    org = platform.services(Actor.system()).org
    org.add_user("gz_org", "广州市教师培训中心", "secret", [("organiser", w.nodes["gz"].id, None)])
    org.add_user("th_org", "天河区教研室", "secret", [("organiser", w.nodes["th"].id, None)])
    w.actors["gz_org"] = org.actor_for("gz_org")
    w.actors["th_org"] = org.actor_for("th_org")
    return w


def test_project_life_and_batch_registration(world, platform):
    organiser = world.svc("gz_org").projects
    project = organiser.design(code="GZ2019-07", title="市级骨干教师面授培训", item_code="zhuanye.training",
                               period_key="2019", inputs={"hours": 24})
    assert project.state == "designed"
    with pytest.raises(TransitionRefused, match="无需审批"):
        organiser.transition(project.id, "request_approval")
    organiser.transition(project.id, "start")
    teachers = [world.teachers[k].id for k in ("wang", "li", "zhao")]
    assert organiser.enrol(project.id, teachers) == 3
    organiser.transition(project.id, "complete")
    with pytest.raises(TransitionRefused, match="没有已结业的参训教师"):
        organiser.transition(project.id, "register_participants")
    organiser.mark_completed(project.id, teachers[:2])
    project = organiser.transition(project.id, "register_participants")
    assert project.state == "participants_registered"
    with platform.transaction(Actor.system()) as s:
        claims = s.scalars(select(Claim).order_by(Claim.teacher_id)).all()
        assert [(c.teacher_id, c.state, c.amount_milli, c.project_id) for c in claims] == [
            (teachers[0], "registered", 24_000, project.id), (teachers[1], "registered", 24_000, project.id)]
        assert sorted(s.scalars(select(AssessmentResult.total_milli))) == [24_000, 24_000]
        triggers = s.scalars(select(AuditRecord.trigger).where(AuditRecord.entity_type == "claim")).all()
        assert triggers == ["register_batch", "register_batch"]


def test_a_project_needing_approval_waits_for_the_approver(world):
    with pytest.raises(InputError, match="「广州市」之上没有负责审批的市级机构"):
        world.svc("gz_org").projects.design(code="P1", title="x", item_code="zhuanye.training", period_key="2019",
                                            inputs={"hours": 12}, needs_approval=True)
    org = world.svc("th_org").projects
    project = org.design(code="P2", title="区级名师工作室研修", item_code="zhuanye.training", period_key="2019",
                         inputs={"hours": 12}, needs_approval=True)
    with pytest.raises(TransitionRefused, match="须经审批"):
        org.transition(project.id, "start")
    org.transition(project.id, "request_approval")
    with pytest.raises(TransitionRefused, match="只有负责审批该项目的机构"):
        world.svc("th_rev").projects.transition(project.id, "approve")
    assert world.svc("gz_rev").projects.transition(project.id, "approve").state == "approved"
    assert org.transition(project.id, "start").state == "running"


def test_batch_with_a_bad_row_writes_nothing(world, platform):
    service = world.svc("gz_org").claims
    rows = [{"teacher_id": world.teachers["wang"].id, "item": "zhuanye.research", "period": "2019",
             "inputs": {"hours": 6}},
            {"teacher_id": world.teachers["li"].id, "item": "zhuanye.research", "period": "2019",
             "inputs": {"hours": -3}},
            {"teacher_id": world.teachers["chen"].id, "item": "zhuanye.research", "period": "2019",
             "inputs": {"hours": 3}}]
    with pytest.raises(InputError) as rejected:
        service.import_registered(rows, source="教研活动登记表.xlsx")
    assert "全部或全不" in str(rejected.value)
    assert set(rejected.value.rows) == {1, 2}
    assert "不能为负数" in rejected.value.rows[1] and "不在您的管辖范围内" in rejected.value.rows[2]
    with platform.transaction(Actor.system()) as s:
        assert s.scalar(select(func.count()).select_from(Claim)) == 0
    report = service.import_registered(rows[:1], source="教研活动登记表.xlsx")
    assert (report.claims, report.teachers) == (1, 1)
    with pytest.raises(InputError, match="已登记过的记录"):
        service.import_registered(rows[:1], source="again")
    with platform.transaction(Actor.system()) as s:
        assert s.scalar(select(func.count()).select_from(Claim)) == 1
        assert s.scalar(select(func.count()).select_from(TrainingProject)) == 0
