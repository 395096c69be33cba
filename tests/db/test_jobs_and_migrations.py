"""Background recomputation with progress, and the schema: Alembic's migrations match the models."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.db.models import AssessmentResult, JobRecord
from core.db.scope import Actor

from .world import build


def test_subtree_recompute_job_reports_progress(platform):
    world = build(platform)
    claim = world.svc("wang").claims.declare(world.teachers["wang"].id, "zhuanye.self", {"hours": 80, "kind": "其他"})
    claim = world.svc("wang").claims.submit(claim.id)
    world.svc("thzx_admin").claims.approve(claim.id)
    world.svc("th_rev").claims.approve(claim.id)
    with platform.transaction(Actor.system()) as s:
        s.execute(AssessmentResult.__table__.delete())  # as if the parameters had changed
    job_id = world.svc("th_rev").assessments.recompute_subtree()
    with platform.transaction(Actor.system()) as s:
        job = s.get(JobRecord, job_id)
        assert (job.state, job.done, job.total) == ("done", 2, 2)  # 天河区 has two teachers
        assert "完成" in job.message and job.finished_at is not None
        results = s.scalars(select(AssessmentResult)).all()
        assert [(r.period_key, r.total_milli) for r in results] == [("2019", 80_000)]


def test_jobs_outside_the_scope_are_not_visible(platform):
    world = build(platform)
    job_id = world.svc("th_rev").assessments.recompute_subtree()
    session = platform.session(world.actors["ec_rev"])
    try:
        assert session.get(JobRecord, job_id) is None
    finally:
        session.close()


def test_models_and_migrations_agree(database_url):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from core.db.base import Base, make_engine
    from core.db.migrate import upgrade
    engine = make_engine(database_url)
    upgrade(database_url, engine=engine)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert diff == [], "models changed without a migration: run alembic revision --autogenerate"
