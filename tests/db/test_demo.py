"""The demo province (``demo.province``): the eight jurisdictions attached where they belong, claims in
every state for the current and the previous period with review chains, audit trails and
assessment results that agree with the rules, working accounts for every role, and a second
build refused — on SQLite, and on PostgreSQL when JIJIAO_TEST_DATABASE_URL is set.

A demo build is the expensive part, so one test builds once and checks everything about it."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import date

import pytest
from sqlalchemy import func, select

from core.audit import verify
from core.claims import Claim as EngineClaim
from core.claimstore import load_values
from core.db.models import ROLES, AssessmentResult, AuditRecord, Claim, OrgNode, Teacher, User
from core.db.scope import Actor
from demo.province import JURISDICTIONS, DemoRefused, build_demo
from core.errors import InputError, JijiaoError
from core.idnumber import make, normalise
from core.services.assessments import teacher_facts
from core.tree import ancestors, governing_jurisdiction, review_chain

TEACHERS = 600
ALL_STATES = {"draft", "recorded", "submitted", "in_review", "returned", "rejected", "registered"}
ATTACHED = {"guangzhou": ("city", "广州市"), "zhongshan": ("city", "中山市"), "wutongqiao": ("district", "五通桥区"),
            "zhengzhou": ("city", "郑州市"), "echeng": ("district", "鄂城区"), "jining": ("district", "任城区"),
            "hainan": ("province", "海南省"), "lengshuijiang": ("district", "冷水江市")}


@pytest.fixture
def demo(platform, clock):
    clock.set(2026, 11, 23)
    return build_demo(platform, teachers=TEACHERS, progress=None)


def system(platform):
    return platform.transaction(Actor.system())


def test_demo_province(platform, demo):
    with system(platform) as s:
        check_tree(platform, s, demo)
        claims = s.scalars(select(Claim).order_by(Claim.id)).all()
        check_states(demo, claims)
        check_chains_and_amounts(platform, s, claims)
        check_audit_trails(platform, s, claims, _expected_chains(platform, s))
        report = verify(s)
        assert report.ok, report.problems[:5]
        assert report.records == s.scalar(select(func.count()).select_from(AuditRecord))
        check_results(platform, s)
    check_accounts(platform, demo)
    check_school_admin_scope(platform)
    check_platform_keeps_working(platform)


def test_demo_refuses_a_second_build_and_resets(platform, clock):
    clock.set(2026, 11, 23)
    first = build_demo(platform, teachers=50, progress=None)
    with pytest.raises(DemoRefused, match="已有数据") as refused:
        build_demo(platform, teachers=50, progress=None)
    assert isinstance(refused.value, JijiaoError) and "--reset" in str(refused.value)
    with system(platform) as s:  # the refusal changed nothing
        assert s.scalar(select(func.count()).select_from(Teacher)) == 50
    messages = []
    again = build_demo(platform, teachers=50, progress=messages.append, reset=True)
    assert any("清空" in m for m in messages)
    assert again.tables == first.tables  # the same seed and clock: the same province
    assert again.claims_by_state == first.claims_by_state
    with system(platform) as s:
        assert s.scalar(select(func.count()).select_from(Teacher)) == 50
        assert verify(s).ok  # the chain starts again at its genesis
    with pytest.raises(InputError, match="至少"):
        build_demo(platform, teachers=10, progress=None, reset=True)


# -- the checks ---------------------------------------------------------------------------------

def check_tree(platform, s, demo):
    attached = {n.jurisdiction: n for n in s.scalars(select(OrgNode).where(OrgNode.jurisdiction.is_not(None)))}
    assert set(attached) == set(JURISDICTIONS)
    for code, (kind, name) in ATTACHED.items():
        assert (attached[code].kind, attached[code].name) == (kind, name), code
    kinds = Counter(s.scalars(select(OrgNode.kind)))
    assert 250 <= kinds["school"] <= 350 and kinds["province"] == 7
    assert s.scalar(select(func.count()).select_from(Teacher)) == TEACHERS == demo.tables["teachers"]
    nodes = {n.id: n for n in s.scalars(select(OrgNode))}
    per_jurisdiction = Counter()
    for t in s.scalars(select(Teacher)):
        home = nodes[t.home_school_id]
        assert home.kind == "school" and t.scope_path == home.path
        assert normalise(t.id_number) == t.id_number  # 18 characters, a real date, the right check digit
        assert t.jurisdiction == governing_jurisdiction([nodes[i] for i in reversed(home.ancestor_ids)])
        if t.working_school_id is not None:
            assert t.working_school_id != t.home_school_id and t.arrangement in ("支教", "交流", "外借")
        if t.jurisdiction == "zhengzhou" and not t.new_teacher:
            assert t.cycle_start and t.cycle_start.count("-") == 2  # an ISO date
        if t.jurisdiction in ("hainan", "lengshuijiang"):
            platform.registry.assessor(t.jurisdiction).calendar.period(t.cycle_start)  # a period key
        per_jurisdiction[t.jurisdiction] += 1
    assert set(per_jurisdiction) == set(JURISDICTIONS)
    assert demo.new_teachers > 0 and demo.seconded_teachers > 0


def _bucket(demo, claim) -> str:
    previous, current = demo.periods[claim.jurisdiction]
    if claim.period_key == "cycle":  # 郑州: dated in the calendar years of the cycle
        return "current" if str(claim.on_date.year) == current else "previous"
    assert claim.period_key in (previous, current), (claim.jurisdiction, claim.period_key)
    return "current" if claim.period_key == current else "previous"


def check_states(demo, claims):
    by_bucket = defaultdict(Counter)
    by_jurisdiction = defaultdict(set)
    for c in claims:
        by_bucket[_bucket(demo, c)][c.state] += 1
        by_jurisdiction[c.jurisdiction].add(_bucket(demo, c))
    assert set(by_bucket["current"]) == ALL_STATES, by_bucket["current"]
    assert set(by_bucket["previous"]) == ALL_STATES, by_bucket["previous"]
    assert {k: dict(v) for k, v in by_bucket.items()} == demo.claims_by_period
    assert all(buckets == {"previous", "current"} for buckets in by_jurisdiction.values()), by_jurisdiction
    assert set(by_jurisdiction) == set(JURISDICTIONS)
    assert sum(demo.claims_by_state.values()) == len(claims)


def _expected_chains(platform, s):
    cache = {}

    def chain(home_id, jurisdiction, workflow):
        key = (home_id, workflow)
        if key not in cache:
            home = s.get(OrgNode, home_id)
            levels = platform.registry.bundle(jurisdiction).review_levels
            try:
                cache[key] = [n.id for n in review_chain(ancestors(s, home), levels,
                                                         above=home if workflow == "registration" else None)]
            except InputError:
                cache[key] = None  # no chain: such a claim can only stay recorded
        return cache[key]
    return chain


def check_chains_and_amounts(platform, s, claims):
    chain_of = _expected_chains(platform, s)
    teachers = {t.id: t for t in s.scalars(select(Teacher))}
    for c in claims:
        item = platform.registry.bundle(c.jurisdiction).items[c.item_code]
        assert c.workflow == ("declaration" if item.channel == "declaration" else "registration"), c.id
        assert c.state in platform.workflows.get(c.workflow).definition.states
        expected = chain_of(c.home_school_id, c.jurisdiction, c.workflow)
        where = (c.id, c.jurisdiction, c.item_code, c.state)
        teacher = teachers[c.teacher_id]
        assert c.home_school_id == teacher.home_school_id and c.scope_path == teacher.scope_path
        if c.state in ("draft", "recorded", "rejected"):
            assert (c.review_chain, c.level, c.reviewer_node_id) == (None, 0, None), where
        else:
            assert expected is not None and c.review_chain == expected, where
        if c.state == "submitted":
            assert (c.level, c.reviewer_node_id) == (0, expected[0]), where
        elif c.state == "in_review":
            assert 1 <= c.level < len(expected) and c.reviewer_node_id == expected[c.level], where
        elif c.state == "returned":
            assert 0 <= c.level < len(expected) and c.reviewer_node_id is None and c.reason, where
        elif c.state == "rejected":
            assert c.reason, where
        elif c.state == "registered":
            assert (c.level, c.reviewer_node_id) == (len(expected) - 1, None) and c.registered_at, where
        if c.state != "registered":
            assert c.registered_at is None, where
    # every claim's stored amount is the amount of the claim assessed on its own (what the claim
    # service stores when it is declared), from inputs the item's parser reads back
    for c in claims:
        assessor = platform.registry.assessor(c.jurisdiction)
        specs = assessor.parser.specs(assessor.bundle.items[c.item_code])[0]
        claim = EngineClaim(c.item_code, load_values(specs, c.inputs), c.period_key, c.on_date, c.id)
        facts = teacher_facts(s, teachers[c.teacher_id], None if c.period_key == "cycle" else c.period_key)
        explained = assessor.assess(c.period_key, facts, [claim]).claims[0]
        assert c.explanation["computed"] == {m: str(v) for m, v in explained.computed.items()}, c.id
        assert c.amount_milli == c.explanation["amount_milli"]


def check_audit_trails(platform, s, claims, chain_of):
    rows = defaultdict(list)
    for r in s.execute(select(AuditRecord.entity_id, AuditRecord.trigger, AuditRecord.from_state,
                              AuditRecord.to_state, AuditRecord.role, AuditRecord.node_id, AuditRecord.at,
                              AuditRecord.reason).where(AuditRecord.entity_type == "claim")
                       .order_by(AuditRecord.seq)):
        rows[r.entity_id].append(r)
    assert set(rows) == {c.id for c in claims}
    teacher_rows = s.scalar(select(func.count()).select_from(AuditRecord).where(AuditRecord.entity_type == "teacher"))
    assert teacher_rows == TEACHERS
    claimant_roles = {"declaration": {"teacher"}, "registration": {"school_admin", "organiser", "system"}}
    for c in claims:
        trail = rows[c.id]
        definition = platform.workflows.get(c.workflow).definition
        where = (c.id, c.state, [r.trigger for r in trail])
        assert len(trail) == c.version, where  # one record per transition the claim went through
        first = trail[0]
        assert (first.trigger, first.from_state, first.to_state) == ("declare", None, definition.initial), where
        assert first.role in claimant_roles[c.workflow], where
        state, level, chain = definition.initial, 0, chain_of(c.home_school_id, c.jurisdiction, c.workflow)
        for prev, r in zip(trail, trail[1:]):
            assert r.from_state == state and r.at >= prev.at, where
            assert any(t.trigger == r.trigger and state in t.sources and t.dest == r.to_state
                       for t in definition.transitions), where
            if r.trigger in ("submit", "resubmit"):
                level = 0
            elif r.trigger in ("approve", "return", "reject"):
                reviewer = s.get(OrgNode, chain[level])
                assert r.node_id == reviewer.id, where  # the reviewer at the claim's level, and no other
                assert r.role == ("school_admin" if reviewer.kind == "school" else "reviewer"), where
                if r.trigger == "approve" and r.to_state == "in_review":
                    level += 1
                if r.trigger in ("return", "reject"):  # with a reason, the claim's own if it was the last step
                    assert r.reason and (r is not trail[-1] or r.reason == c.reason), where
                if r.trigger == "reject":
                    level = 0
            else:
                assert r.role == first.role, where  # withdraw: the claimant again
                level = 0
            state = r.to_state
        assert (state, level) == (c.state, c.level), where


def check_results(platform, s):
    registered = defaultdict(list)
    for c in s.scalars(select(Claim).where(Claim.state == "registered").order_by(Claim.teacher_id, Claim.id)):
        registered[c.teacher_id].append(c)
    results = defaultdict(dict)
    for r in s.scalars(select(AssessmentResult)):
        results[r.teacher_id][r.period_key] = r
    assert set(results) == set(registered)
    for teacher_id, rows in registered.items():
        teacher = s.get(Teacher, teacher_id)
        assessor = platform.registry.assessor(teacher.jurisdiction)
        claims = [EngineClaim(c.item_code, load_values(assessor.parser.specs(assessor.bundle.items[c.item_code])[0],
                                                       c.inputs), c.period_key, c.on_date, c.id) for c in rows]
        assert set(results[teacher_id]) == {c.period for c in claims}, teacher_id
        for period_key, stored in results[teacher_id].items():
            fresh = assessor.assess(period_key, teacher_facts(s, teacher, period_key), claims, explain=False)
            assert stored.result == json.loads(json.dumps(fresh.to_dict(explain=False))), (teacher_id, period_key)
            assert stored.passed == fresh.passed and stored.scope_path == teacher.scope_path
    passed = Counter(r.passed for per in results.values() for r in per.values())
    assert passed[True] and passed[False] and passed[None]  # passes, failures and no threshold


def check_accounts(platform, demo):
    org = platform.services(Actor.system()).org
    text = demo.describe()
    assert "仅供演示" in text
    assert {a.role for a in demo.accounts} == set(ROLES)
    for account in demo.accounts:
        with system(platform) as s:
            user = s.scalars(select(User).where(User.username == account.username)).one()
        assert org.authenticate(account.username, account.password) is not None, account.username
        assert org.authenticate(account.username, account.password + "x") is None
        actor = org.actor_for(account.username)
        assert actor.role == account.role and actor.user_id == user.id
        assert account.username in text and account.password in text
        if account.role == "teacher":
            with platform.transaction(actor) as s:  # a teacher sees their own claims, in several states
                states = {c.state for c in s.scalars(select(Claim))}
                assert {c.teacher_id for c in s.scalars(select(Claim))} == {actor.teacher_id}
            assert len(states) >= 4, (account.username, states)


def check_school_admin_scope(platform):
    org = platform.services(Actor.system()).org
    for username in ("gz_school", "ec_school", "lsj_school"):
        actor = org.actor_for(username)
        with platform.transaction(actor) as s:
            seen = s.scalars(select(Claim)).all()
            teachers = s.scalars(select(Teacher)).all()
        with system(platform) as s:
            own = s.scalar(select(func.count()).select_from(Claim).where(Claim.home_school_id == actor.node_id))
            total = s.scalar(select(func.count()).select_from(Claim))
        assert seen and {c.home_school_id for c in seen} == {actor.node_id}, username
        assert len(seen) == own < total
        assert {t.home_school_id for t in teachers} == {actor.node_id}


def check_platform_keeps_working(platform):
    """Ids and the audit chain continue after the bulk build (PostgreSQL's sequences included)."""
    org = platform.services(Actor.system()).org
    actor = org.actor_for("gz_teacher")
    claims = platform.services(actor).claims
    claim = claims.declare(actor.teacher_id, "zhuanye.self", {"hours": 7, "kind": "其他"})
    claim = claims.submit(claim.id)
    assert claim.state == "submitted" and claim.reviewer_node_id == actor.node_id
    school = org.actor_for("gz_school")
    assert platform.services(school).claims.approve(claim.id).state == "in_review"
    teacher = org.add_teacher(name="新来的老师", id_number=make("440106", date(1990, 1, 1), 2),
                              home_school_id=actor.node_id)
    assert teacher.id > TEACHERS
    with system(platform) as s:
        assert verify(s).ok
