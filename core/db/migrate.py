"""Schema changes go through Alembic: ``jijiao db upgrade`` (and the tests) call ``upgrade``."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from .base import database_url, make_engine


def alembic_config(url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", "core.db:migrations")
    config.set_main_option("sqlalchemy.url", database_url(url).replace("%", "%%"))
    return config


def upgrade(url: str | None = None, revision: str = "head", engine=None) -> None:
    config = alembic_config(url)
    engine = engine or make_engine(url)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current(url: str | None = None, engine=None) -> str | None:
    from alembic.runtime.migration import MigrationContext
    engine = engine or make_engine(url)
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
