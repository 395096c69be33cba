"""Background jobs with Huey: SQLite storage in the instance folder by default (nothing to run),
Redis when ``JIJIAO_REDIS_URL`` is set. ``jijiao worker`` runs the consumer; tests run jobs
immediately (``huey.immediate = True``). Jobs are enqueued only after the transaction that created
their JobRecord commits, and they re-open the database themselves: nothing assumes one process."""

from __future__ import annotations

import os

from huey import RedisHuey, SqliteHuey
from sqlalchemy import event

from .db.base import DATABASE_ENV, database_url, instance_dir

REDIS_ENV = "JIJIAO_REDIS_URL"


def make_huey():
    url = os.environ.get(REDIS_ENV)
    if url:
        return RedisHuey("jijiao", url=url)
    return SqliteHuey("jijiao", filename=str(instance_dir() / "jobs.sqlite3"))


huey = make_huey()
_platforms: dict[str, object] = {}


def _platform(url: str):
    platform = _platforms.get(url)
    if platform is None:
        from .services import Platform
        platform = _platforms[url] = Platform(url)
    return platform


@huey.task()
def recompute(job_id: int, url: str) -> None:
    from .db.scope import Actor
    platform = _platform(url)
    platform.services(Actor.system("后台任务")).assessments.run_job(job_id)


@huey.task()
def review_bulk(job_id: int, url: str) -> None:
    from .services.review_jobs import run_review_job
    run_review_job(_platform(url), job_id)


@huey.task()
def roster_import(job_id: int, url: str) -> None:
    from .services.roster import run_import_job
    run_import_job(_platform(url), job_id)


TASKS = {"recompute": recompute, "review_bulk": review_bulk, "roster_import": roster_import}


def enqueue_after_commit(session, kind: str, job_id: int, platform) -> None:
    url = platform.engine.url.render_as_string(hide_password=False)
    if url not in _platforms:
        _platforms[url] = platform

    @event.listens_for(session, "after_commit", once=True)
    def _enqueue(_session):
        TASKS[kind](job_id, url)


def configured_database() -> str:
    return os.environ.get(DATABASE_ENV) or database_url()
