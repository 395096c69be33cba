"""Integrity under concurrency and crashes, and the tamper-evident audit chain."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from core.audit import verify
from core.db.models import AssessmentResult, AuditRecord, Claim
from core.db.scope import Actor
from core.workflow import ConflictError, TransitionRefused

from .world import build

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def world(platform):
    return build(platform)


def submitted_claims(world, n, hours=5):
    ids = []
    for i in range(n):
        who = ("wang", "li")[i % 2]
        claim = world.svc(who).claims.declare(world.teachers[who].id, "zhuanye.self",
                                              {"hours": hours, "kind": "其他", "certificate_no": f"C{i}"})
        ids.append(world.svc(who).claims.submit(claim.id).id)
    return ids


def count(platform, stmt):
    with platform.transaction(Actor.system()) as s:
        return s.scalar(stmt)


def race(n, action):
    """Run ``action(i)`` in n threads released together; return (successes, errors)."""
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def run(i):
        barrier.wait()
        try:
            results[i] = ("ok", action(i))
        except Exception as exc:  # noqa: BLE001 - the test looks at every outcome
            results[i] = ("error", exc)
    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return [r[1] for r in results if r[0] == "ok"], [r[1] for r in results if r[0] == "error"]


def test_twenty_simultaneous_approvals_one_success(world, platform):
    """At each level: one success, nineteen clear conflicts, one audit row, hours counted once."""
    claim = world.svc("wang").claims.declare(world.teachers["wang"].id, "zhuanye.self", {"hours": 42, "kind": "其他"})
    claim = world.svc("wang").claims.submit(claim.id)
    for who, expected in (("thzx_admin", "in_review"), ("th_rev", "registered")):
        version = claim.version
        ok, errors = race(20, lambda i: world.svc(who).claims.approve(claim.id, expected_version=version))
        assert len(ok) == 1 and ok[0].state == expected
        assert len(errors) == 19 and all(isinstance(e, ConflictError) for e in errors), errors
        assert all("已被他人处理" in str(e) for e in errors)
        claim = ok[0]
    approvals = count(platform, select(func.count()).select_from(AuditRecord).where(
        AuditRecord.entity_id == claim.id, AuditRecord.trigger == "approve"))
    assert approvals == 2
    assert count(platform, select(AssessmentResult.total_milli)) == 42_000
    with platform.transaction(Actor.system()) as s:
        assert verify(s).ok


def test_concurrent_registrations_of_one_teacher_are_both_counted(world, platform):
    """Two claims of one teacher registered at the same moment: the assessment sees both."""
    ids = []
    for hours in (10, 20):
        c = world.svc("wang").claims.declare(world.teachers["wang"].id, "zhuanye.self", {"hours": hours, "kind": "其他"})
        c = world.svc("wang").claims.submit(c.id)
        ids.append(world.svc("thzx_admin").claims.approve(c.id).id)
    ok, errors = race(2, lambda i: world.svc("th_rev").claims.approve(ids[i]))
    assert len(ok) == 2 and not errors
    assert count(platform, select(AssessmentResult.total_milli)) == 30_000


def test_bulk_action_reports_each_claim(world, platform):
    ids = submitted_claims(world, 6)
    world.svc("wang").claims.withdraw(ids[0])
    report = world.svc("thzx_admin").claims.bulk("approve", ids + [999_999])
    wang_ids = ids[0::2]
    assert report.ok == sorted(wang_ids[1:])  # li's claims belong to another school
    assert "当前状态为「草稿」" in report.refused[ids[0]]
    for other in ids[1::2] + [999_999]:
        assert "不在您的管辖范围内" in report.refused[other]
    assert report.summary == "成功 2 条，未处理 5 条"
    assert count(platform, select(func.count()).select_from(AuditRecord).where(AuditRecord.trigger == "approve")) == 2


CRASH_SCRIPT = textwrap.dedent("""
    import sys
    from datetime import datetime, timezone
    from core.services import Platform
    url, who, ids = sys.argv[1], sys.argv[2], [int(i) for i in sys.argv[3].split(",")]
    platform = Platform(url, clock=lambda: datetime(2019, 6, 1, 12, tzinfo=timezone.utc))
    actor = platform.services(__import__("core.db.scope", fromlist=["Actor"]).Actor.system()).org.actor_for(who)
    report = platform.services(actor).claims.bulk("approve", ids)
    print(len(report.ok), len(report.refused))
""")


@pytest.mark.parametrize("failpoint", ["bulk.after_update", "bulk.before_commit"])
def test_bulk_action_killed_midway_applies_nothing_and_retry_counts_once(world, platform, database_url, failpoint):
    ids = submitted_claims(world, 10, hours=3)
    for claim_id in ids:
        world.svc("thzx_admin" if claim_id in ids[0::2] else "thxx_admin").claims.approve(claim_id)
    wang = ids[0::2]  # in_review at 天河区: the district registers them
    li = ids[1::2]
    before = count(platform, select(func.count()).select_from(AuditRecord))
    env = dict(os.environ, JIJIAO_FAILPOINT=failpoint, PYTHONPATH=str(ROOT))
    run = [sys.executable, "-c", CRASH_SCRIPT, database_url, "th_rev", ",".join(map(str, ids))]
    killed = subprocess.run(run, env=env, capture_output=True, text=True, timeout=120)
    assert killed.returncode == 137, killed.stderr
    assert count(platform, select(func.count()).select_from(Claim).where(Claim.state == "registered")) == 0
    assert count(platform, select(func.count()).select_from(AuditRecord)) == before
    assert count(platform, select(func.count()).select_from(AssessmentResult)) == 0
    env.pop("JIJIAO_FAILPOINT")
    for attempt in range(2):  # the retry applies everything; a second retry applies nothing more
        done = subprocess.run(run, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert done.stdout.split() == (["10", "0"] if attempt == 0 else ["0", "10"])
    assert count(platform, select(func.count()).select_from(AuditRecord)) == before + 10
    with platform.transaction(Actor.system()) as s:
        totals = dict(s.execute(select(AssessmentResult.teacher_id, AssessmentResult.total_milli)).all())
        assert totals == {world.teachers["wang"].id: 15_000, world.teachers["li"].id: 15_000}
        assert verify(s).ok
    assert len(wang) == len(li) == 5


class TestAuditChain:
    @pytest.fixture
    def chain(self, world, platform):
        claim = world.svc("wang").claims.declare(world.teachers["wang"].id, "zhuanye.self", {"hours": 5, "kind": "其他"})
        claim = world.svc("wang").claims.submit(claim.id)
        world.svc("thzx_admin").claims.return_(claim.id, reason="材料不全")
        with platform.transaction(Actor.system()) as s:
            assert verify(s).ok
            return s.scalar(select(func.max(AuditRecord.seq)))

    def tamper(self, platform, sql, **params):
        with platform.engine.begin() as connection:
            connection.execute(text(sql), params)

    def problems(self, platform):
        with platform.transaction(Actor.system()) as s:
            return verify(s).problems

    def test_edited_row(self, chain, platform):
        self.tamper(platform, "UPDATE audit_records SET reason = '材料齐全' WHERE seq = :seq", seq=chain)
        assert any("被修改" in p for p in self.problems(platform))

    def test_deleted_row(self, chain, platform):
        self.tamper(platform, "DELETE FROM audit_records WHERE seq = :seq", seq=chain - 1)
        assert any("被删除" in p for p in self.problems(platform))

    def test_deleted_last_row(self, chain, platform):
        self.tamper(platform, "DELETE FROM audit_records WHERE seq = :seq", seq=chain)
        assert any("链头" in p for p in self.problems(platform))

    def test_inserted_row(self, chain, platform):
        self.tamper(platform, """INSERT INTO audit_records (seq, at, actor_id, actor_name, role, node_id, entity_type,
                                 entity_id, "trigger", from_state, to_state, reason, request_id, detail, scope_path,
                                 prev_hash, hash)
                                 SELECT seq + 1, at, actor_id, actor_name, role, node_id, entity_type, entity_id,
                                 'approve', to_state, 'registered', NULL, request_id, detail, scope_path, hash, hash
                                 FROM audit_records WHERE seq = :seq""", seq=chain)
        assert self.problems(platform)

    def test_cli_verify_exit_codes(self, chain, platform, database_url):
        env = dict(os.environ, JIJIAO_DATABASE_URL=database_url)
        ok = subprocess.run([sys.executable, "-m", "core.cli", "audit", "verify"], env=env, capture_output=True,
                            text=True, timeout=120)
        assert ok.returncode == 0 and "审计链完整" in ok.stdout, ok.stdout + ok.stderr
        self.tamper(platform, "UPDATE audit_records SET reason = 'x' WHERE seq = :seq", seq=chain)
        bad = subprocess.run([sys.executable, "-m", "core.cli", "audit", "verify"], env=env, capture_output=True,
                             text=True, timeout=120)
        assert bad.returncode == 1 and "被修改" in bad.stdout


def test_final_states_stay_final(world):
    ids = submitted_claims(world, 1)
    world.svc("thzx_admin").claims.reject(ids[0], reason="非本人材料")
    for trigger in ("approve", "return", "resubmit", "withdraw", "submit"):
        with pytest.raises(TransitionRefused):
            world.svc("thzx_admin").claims.transition(ids[0], trigger, reason="x")
