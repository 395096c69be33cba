"""Engines, sessions and column types shared by SQLite and PostgreSQL.

The database is chosen by ``JIJIAO_DATABASE_URL`` (default: ``instance/jijiao.sqlite3`` under the
working directory). SQLite runs in WAL mode with foreign keys on and ``synchronous=FULL``;
PostgreSQL through psycopg 3.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import JSON, BigInteger, Integer, MetaData, String, create_engine, event
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, sessionmaker

DATABASE_ENV = "JIJIAO_DATABASE_URL"
INSTANCE_ENV = "JIJIAO_INSTANCE"

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# JSON in SQLite, JSONB in PostgreSQL.
JSONType = JSON().with_variant(postgresql.JSONB(), "postgresql")
# Tree paths compare byte-wise on both databases, so a subtree is a plain index range.
PathType = String(400).with_variant(String(400, collation="C"), "postgresql")
# 64-bit ids on PostgreSQL; SQLite's INTEGER PRIMARY KEY is already 64-bit and must stay INTEGER.
IdType = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict: JSONType, list: JSONType}


def instance_dir() -> Path:
    path = Path(os.environ.get(INSTANCE_ENV, "instance"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def database_url(url: str | None = None) -> str:
    if url:
        return url
    env = os.environ.get(DATABASE_ENV)
    if env:
        return env
    return f"sqlite:///{(instance_dir() / 'jijiao.sqlite3').resolve()}"


def make_engine(url: str | None = None, **kwargs) -> Engine:
    url = database_url(url)
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {}).setdefault("timeout", 30)
        engine = create_engine(url, **kwargs)
        _sqlite_pragmas(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def _sqlite_pragmas(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, record):
        # Let SQLAlchemy own transactions (pysqlite's implicit BEGIN is off) and take the write
        # lock at BEGIN, so that a guarded update never fails on a lock upgrade.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def session_factory(engine: Engine) -> sessionmaker:
    from .scope import GuardedSession
    return sessionmaker(engine, class_=GuardedSession, expire_on_commit=False)
