"""`jijiao worker` in its own process consumes a job queued by another process, and the progress
is visible in the database (the SQLite queue in the instance folder; Redis when configured)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from sqlalchemy import select

from core import jobs
from core.db.models import AssessmentResult, JobRecord
from core.db.scope import Actor

from .world import build


@pytest.fixture
def queued(platform):
    world = build(platform)
    claim = world.svc("wang").claims.declare(world.teachers["wang"].id, "zhuanye.self", {"hours": 9, "kind": "其他"})
    claim = world.svc("wang").claims.submit(claim.id)
    world.svc("thzx_admin").claims.approve(claim.id)
    world.svc("th_rev").claims.approve(claim.id)
    with platform.transaction(Actor.system()) as s:
        s.execute(AssessmentResult.__table__.delete())
    jobs.huey.immediate = False
    try:
        yield world.svc("th_rev").assessments.recompute_subtree()
    finally:
        jobs.huey.immediate = True


def test_worker_process_runs_a_queued_job(queued, platform):
    with platform.transaction(Actor.system()) as s:
        assert s.get(JobRecord, queued).state == "queued"
    worker = subprocess.Popen([sys.executable, "-m", "core.cli", "worker", "--workers", "1"], env=dict(os.environ),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        state = None
        while time.monotonic() < deadline:
            with platform.transaction(Actor.system()) as s:
                job = s.get(JobRecord, queued)
                state = job.state
            if state in ("done", "failed"):
                break
            time.sleep(0.3)
        assert state == "done", f"job state {state}"
        with platform.transaction(Actor.system()) as s:
            assert s.scalars(select(AssessmentResult.total_milli)).all() == [9_000]
    finally:
        worker.terminate()
        output = worker.communicate(timeout=30)[0]
    assert "后台任务进程启动" in output
