"""Claims moving up the organisation tree: the declaration and registration workflows, review
chains that follow the tree, deadlines and their extensions, duplicates, and the audit chain —
on SQLite, and on PostgreSQL when JIJIAO_TEST_DATABASE_URL is set."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from core.audit import verify
from core.db.models import AssessmentResult, AuditRecord, Claim, WindowExtension
from core.db.scope import Actor
from core.errors import InputError
from core.services import NotFound
from core.workflow import ConflictError, TransitionRefused

from .world import build


@pytest.fixture
def world(platform):
    return build(platform)


def audit_rows(platform, claim_id):
    with platform.transaction(Actor.system()) as s:
        return s.execute(select(AuditRecord.trigger, AuditRecord.from_state, AuditRecord.to_state,
                                AuditRecord.role, AuditRecord.reason)
                         .where(AuditRecord.entity_type == "claim", AuditRecord.entity_id == claim_id)
                         .order_by(AuditRecord.seq)).all()


def declare(world, who="wang", teacher="wang", hours=50, kind="学术会议"):
    return world.svc(who).claims.declare(world.teachers[teacher].id, "zhuanye.self", {"hours": hours, "kind": kind})


def test_declaration_reviewed_up_the_chain_to_registration(world, platform):
    claim = declare(world)
    assert (claim.state, claim.amount_milli, claim.period_key) == ("draft", 50_000, "2019")
    claim = world.svc("wang").claims.submit(claim.id)
    assert claim.state == "submitted"
    assert claim.review_chain == [world.nodes["thzx"].id, world.nodes["th"].id]
    claim = world.svc("thzx_admin").claims.approve(claim.id, expected_version=claim.version)
    assert (claim.state, claim.level, claim.reviewer_node_id) == ("in_review", 1, world.nodes["th"].id)
    claim = world.svc("th_rev").claims.approve(claim.id)
    assert claim.state == "registered" and claim.registered_at is not None
    assert [r.trigger for r in audit_rows(platform, claim.id)] == ["declare", "submit", "approve", "approve"]
    with platform.transaction(Actor.system()) as s:
        result = s.scalars(select(AssessmentResult).where(AssessmentResult.teacher_id == claim.teacher_id)).one()
        assert result.period_key == "2019" and result.total_milli == 50_000 and result.passed is False
        assert "公需科目学时不足：0/18" in result.result["reasons"]
        assert verify(s).ok


def test_city_direct_school_is_reviewed_by_the_city(world):
    claim = declare(world, "zhao", "zhao")
    claim = world.svc("zhao").claims.submit(claim.id)
    assert claim.review_chain == [world.nodes["szs"].id, world.nodes["gz"].id]
    with pytest.raises(TransitionRefused, match="应由「广州市直属中学」审核"):
        world.svc("gz_rev").claims.approve(claim.id)
    world.svc("szs_admin").claims.approve(claim.id)
    with pytest.raises(NotFound, match="不在您的管辖范围内"):  # a district reviewer cannot even see it
        world.svc("th_rev").claims.approve(claim.id)
    assert world.svc("gz_rev").claims.approve(claim.id).state == "registered"


def test_withdraw_only_before_the_first_review(world):
    teacher = world.svc("wang").claims
    claim = teacher.submit(declare(world).id)
    claim = teacher.withdraw(claim.id)
    assert claim.state == "draft" and claim.reviewer_node_id is None
    claim = teacher.submit(claim.id)
    world.svc("thzx_admin").claims.approve(claim.id)
    with pytest.raises(TransitionRefused, match="当前状态为「审核中」，不能撤回"):
        teacher.withdraw(claim.id)


def test_return_needs_a_reason_and_resubmit_restarts_the_review(world, platform):
    claim = world.svc("wang").claims.submit(declare(world).id)
    world.svc("thzx_admin").claims.approve(claim.id)
    with pytest.raises(TransitionRefused, match="请填写原因"):
        world.svc("th_rev").claims.return_(claim.id, reason="  ")
    claim = world.svc("th_rev").claims.return_(claim.id, reason="证书为复印件，请上传原件扫描件")
    assert claim.state == "returned" and claim.reason == "证书为复印件，请上传原件扫描件"
    claim = world.svc("wang").claims.edit(claim.id, {"hours": 40, "kind": "学术会议"}, expected_version=claim.version)
    assert claim.amount_milli == 40_000
    claim = world.svc("wang").claims.resubmit(claim.id)
    assert (claim.state, claim.level, claim.reviewer_node_id) == ("submitted", 0, world.nodes["thzx"].id)
    rows = audit_rows(platform, claim.id)
    assert [(r.trigger, r.from_state, r.to_state) for r in rows][-3:] == [
        ("return", "in_review", "returned"), ("edit", "returned", "returned"), ("resubmit", "returned", "submitted")]
    assert rows[-3].reason == "证书为复印件，请上传原件扫描件" and rows[-3].role == "reviewer"


def test_reject_is_final(world):
    claim = world.svc("wang").claims.submit(declare(world).id)
    claim = world.svc("thzx_admin").claims.reject(claim.id, reason="与本人无关的证明材料")
    assert claim.state == "rejected"
    for who, action in (("wang", "resubmit"), ("thzx_admin", "approve"), ("wang", "withdraw")):
        with pytest.raises(TransitionRefused, match="当前状态为「不予认定」"):
            world.svc(who).claims.transition(claim.id, action)


def test_only_the_claimant_submits_and_only_the_current_reviewer_approves(world):
    claim = declare(world)
    with pytest.raises(TransitionRefused, match="只有申报人本人"):
        world.svc("thzx_admin").claims.submit(claim.id)
    world.svc("wang").claims.submit(claim.id)
    with pytest.raises(TransitionRefused, match="应由「天河中学」审核"):
        world.svc("th_rev").claims.approve(claim.id)
    with pytest.raises(TransitionRefused):
        world.svc("wang").claims.approve(claim.id)


def test_teacher_cannot_declare_an_item_that_a_school_or_organiser_registers(world):
    with pytest.raises(InputError, match="教师不能自行申报"):
        world.svc("wang").claims.declare(world.teachers["wang"].id, "zhuanye.training", {"hours": 6})
    with pytest.raises(InputError, match="平台自动记录"):
        world.svc("wang").claims.declare(world.teachers["wang"].id, "gongxu.platform", {"hours": 6, "topic": "x"})


def test_the_same_claim_twice_is_refused(world):
    declare(world)
    with pytest.raises(InputError, match="已有相同内容的记录，不能重复申报"):
        declare(world)
    assert declare(world, hours=51).state == "draft"  # different content is another claim


def test_stale_version_is_a_conflict_and_writes_nothing(world, platform):
    claim = world.svc("wang").claims.submit(declare(world).id)
    stale = claim.version
    world.svc("wang").claims.withdraw(claim.id)
    with pytest.raises(ConflictError, match="已被他人处理"):
        world.svc("wang").claims.submit(claim.id, expected_version=stale)
    assert [r.trigger for r in audit_rows(platform, claim.id)] == ["declare", "submit", "withdraw"]


class TestDeadlines:
    def test_submit_after_the_window_names_it_and_who_can_extend(self, world, clock):
        claim = declare(world)
        clock.set(2020, 2, 1)  # 2019 declarations closed 2020-01-31
        with pytest.raises(TransitionRefused) as refused:
            world.svc("wang").claims.submit(claim.id)
        message = str(refused.value)
        assert "「教师个人申报」时间为 2019-01-01 至 2020-01-31" in message and "已截止" in message
        assert "请联系「天河中学」或其上级机构的审核员" in message

    def test_an_extension_opens_the_window_for_that_subtree_only(self, world, clock, platform):
        mine, other = declare(world), declare(world, "li", "li")
        clock.set(2020, 2, 1)
        world.svc("thzx_admin").windows.extend(jurisdiction="guangzhou", stage="declare", period_key="2019",
                                               closes=date(2020, 2, 10), reason="系统故障，延期一周")
        assert world.svc("wang").claims.submit(mine.id).state == "submitted"
        with pytest.raises(TransitionRefused, match="已截止"):
            world.svc("li").claims.submit(other.id)
        world.svc("th_rev").windows.extend(jurisdiction="guangzhou", stage="declare", period_key="2019",
                                           closes=date(2020, 2, 5))
        assert world.svc("li").claims.submit(other.id).state == "submitted"
        with platform.transaction(Actor.system()) as s:
            rows = s.execute(select(AuditRecord.trigger, AuditRecord.to_state, AuditRecord.reason)
                             .where(AuditRecord.entity_type == "window").order_by(AuditRecord.seq)).all()
        assert [tuple(r) for r in rows] == [("extend", "2020-02-10", "系统故障，延期一周"), ("extend", "2020-02-05", None)]

    def test_extension_outside_ones_subtree_or_by_a_teacher_is_refused(self, world):
        with pytest.raises(InputError, match="只有审核员"):
            world.svc("wang").windows.extend(jurisdiction="guangzhou", stage="declare", period_key="2019",
                                             closes=date(2020, 3, 1))
        with pytest.raises(Exception, match="不在您的管辖范围内"):
            world.svc("thzx_admin").windows.extend(jurisdiction="guangzhou", stage="declare", period_key="2019",
                                                   closes=date(2020, 3, 1), node_id=world.nodes["thxx"].id)

    def test_an_extension_reaches_only_stages_at_or_below_the_extender(self, world):
        """Issue #8 item 4: a school admin could extend the district's review window."""
        for who, stage in (("thzx_admin", "review_district"), ("thzx_admin", "review_city"),
                           ("th_rev", "review_city"), ("cg_rev", "review_district")):
            jurisdiction = "echeng" if who == "cg_rev" else "guangzhou"
            period = "2018-2019" if who == "cg_rev" else "2019"
            with pytest.raises(InputError, match="属于上级机构"):
                world.svc(who).windows.extend(jurisdiction=jurisdiction, stage=stage, period_key=period,
                                              closes=date(2021, 3, 1))
        assert world.svc("thzx_admin").windows.extend(jurisdiction="guangzhou", stage="review_school",
                                                      period_key="2019", closes=date(2021, 3, 1)).id
        assert world.svc("th_rev").windows.extend(jurisdiction="guangzhou", stage="review_district",
                                                  period_key="2019", closes=date(2021, 3, 1)).id
        assert world.svc("admin").windows.extend(jurisdiction="guangzhou", stage="review_city",
                                                 period_key="2019", closes=date(2021, 3, 1)).id

    def test_review_stage_window(self, world, clock):
        claim = world.svc("wang").claims.submit(declare(world).id)
        clock.set(2020, 3, 1)  # school review closed 2020-02-28
        with pytest.raises(TransitionRefused, match="「学校初审」时间为 2019-01-01 至 2020-02-28"):
            world.svc("thzx_admin").claims.approve(claim.id)


class TestRegistrationByTheSchool:
    """A school registers for its teacher; the levels above confirm (the town level is skipped for a
    school hanging directly under the district)."""

    def test_town_school_goes_school_town_district(self, world, clock):
        clock.set(2023, 9, 15)
        claim = world.svc("cgxx_admin").claims.declare(world.teachers["chen"].id, "jizhong.training",
                                                       {"hours": 24, "level": "区级"}, period="2022-2023")
        assert (claim.workflow, claim.state) == ("registration", "recorded")
        claim = world.svc("cgxx_admin").claims.submit(claim.id)
        assert claim.review_chain == [world.nodes["cg"].id, world.nodes["ec"].id]
        world.svc("cg_rev").claims.approve(claim.id)
        with pytest.raises(TransitionRefused, match="「区教育局检查验印」时间为 2023-11-07 至 2023-11-15，尚未开始"):
            world.svc("ec_rev").claims.approve(claim.id)
        clock.set(2023, 11, 8)
        assert world.svc("ec_rev").claims.approve(claim.id).state == "registered"

    def test_main_city_school_skips_the_town(self, world, clock):
        clock.set(2023, 9, 15)
        claim = world.svc("yz_admin").claims.declare(world.teachers["liu"].id, "feijizhong.school",
                                                     {"hours": 30}, period="2022-2023")
        claim = world.svc("yz_admin").claims.submit(claim.id)
        assert claim.review_chain == [world.nodes["ec"].id]
        clock.set(2023, 11, 8)
        claim = world.svc("ec_rev").claims.approve(claim.id)
        assert claim.state == "registered"


def test_audit_rows_one_per_transition_and_the_chain_verifies(world, platform):
    claim = world.svc("wang").claims.submit(declare(world).id)
    world.svc("thzx_admin").claims.approve(claim.id)
    with platform.transaction(Actor.system()) as s:
        count = s.scalar(select(func.count()).select_from(AuditRecord).where(AuditRecord.entity_type == "claim"))
        assert count == 3
        report = verify(s)
        assert report.ok and report.records >= 3 + 5  # + the teachers created
    with platform.transaction(Actor.system()) as s:
        assert s.scalars(select(Claim.state)).all() == ["in_review"]
