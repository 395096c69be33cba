"""Shared fixtures: a database per test on SQLite always, and on PostgreSQL too when
``JIJIAO_TEST_DATABASE_URL`` is set (each test in its own schema, so runs never collide). If that
variable is set and the server cannot be reached, the run stops with an error: it never skips."""

from __future__ import annotations

import os
import uuid
from datetime import datetime, timezone
from urllib.parse import quote

import pytest

PG_ENV = "JIJIAO_TEST_DATABASE_URL"
os.environ.setdefault("JIJIAO_PASSWORD_ROUNDS", "1000")  # fast tests; production keeps the default
os.environ.setdefault("JIJIAO_INSTANCE", os.path.join(os.path.dirname(__file__), "..", "instance", "test"))


def _pg_url(url: str) -> str:
    return "postgresql+psycopg://" + url.split("://", 1)[1] if url.startswith("postgresql://") else url


def pytest_sessionstart(session):
    url = os.environ.get(PG_ENV)
    if not url:
        return
    from sqlalchemy import create_engine
    try:
        engine = create_engine(_pg_url(url))
        with engine.connect() as connection:
            connection.exec_driver_sql("select 1")
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - any failure to reach the server stops the run
        pytest.exit(f"{PG_ENV}={url} 无法连接 PostgreSQL：{exc}", returncode=3)


def backends():
    return ["sqlite"] + (["postgresql"] if os.environ.get(PG_ENV) else [])


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    """One SQLite file migrated by Alembic, copied for each test."""
    from core.db.migrate import upgrade
    path = tmp_path_factory.mktemp("template") / "jijiao.sqlite3"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(params=backends())
def database_url(request, tmp_path):
    if request.param == "sqlite":
        import shutil
        template = request.getfixturevalue("sqlite_template")
        shutil.copy(template, tmp_path / "jijiao.sqlite3")
        yield f"sqlite:///{tmp_path / 'jijiao.sqlite3'}"
        return
    from sqlalchemy import create_engine
    base = _pg_url(os.environ[PG_ENV])
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(base)
    with admin.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in base else "?"
    yield f"{base}{separator}options={quote(f'-csearch_path={schema}')}"
    with admin.begin() as connection:
        connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
    admin.dispose()


class Clock:
    """A settable clock for deadlines: ``clock.set(2020, 2, 1)``."""

    def __init__(self, *args):
        self.now = datetime(*(args or (2019, 6, 1)), 12, tzinfo=timezone.utc)

    def set(self, year, month, day):
        self.now = datetime(year, month, day, 12, tzinfo=timezone.utc)

    def __call__(self):
        return self.now


@pytest.fixture(scope="session")
def registry():
    from core.plugins import load_registry
    return load_registry()


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def platform(database_url, registry, clock):
    from core import jobs
    from core.db.migrate import upgrade
    from core.services import Platform
    upgrade(database_url)
    jobs.huey.immediate = True
    platform = Platform(database_url, registry=registry, clock=clock)
    yield platform
    platform.engine.dispose()


# One browser for the whole run (two Playwright sync sessions cannot be open at once): Debian's
# Chromium, since Playwright cannot download a browser here.
CHROMIUM = os.environ.get("JIJIAO_CHROMIUM") or __import__("shutil").which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"找不到 Chromium（{CHROMIUM}）：请运行 make test（会安装 Debian 的 chromium 软件包）")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield b
        b.close()


