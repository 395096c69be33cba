"""Opening the database for a command or the web app: a wrong URL, a server that cannot be
reached or a database never migrated is one Chinese sentence, never a driver traceback."""

from __future__ import annotations

from pathlib import Path

from .errors import JijiaoError


class DatabaseUnavailable(JijiaoError):
    """The database named by the configuration cannot be used."""


def _display(url) -> str:
    try:
        return url.render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - only for display
        return str(url)


def check_url(url: str | None, *, create_folder: bool = True) -> str:
    """The URL, checked for form and dialect; a SQLite file's folder is created when it is the
    instance folder (or asked for), otherwise a missing folder is an error."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    from .db.base import database_url, instance_dir
    text = database_url(url)
    try:
        parsed = make_url(text)
    except (ArgumentError, ValueError):
        raise DatabaseUnavailable(f"数据库地址「{text[:200]}」格式不正确；应为 sqlite:///文件路径 或 "
                                  "postgresql://用户@主机:端口/数据库") from None
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise DatabaseUnavailable(f"不支持的数据库类型「{backend}」：只支持 SQLite（sqlite:///文件路径）和 "
                                  "PostgreSQL（postgresql://…）")
    if backend == "sqlite":
        database = parsed.database
        if not database or database == ":memory:":
            raise DatabaseUnavailable("SQLite 数据库必须是一个文件（sqlite:///文件路径），不能是内存数据库")
        folder = Path(database).expanduser().resolve().parent
        if not folder.exists():
            instance = instance_dir().resolve()
            if create_folder and (folder == instance or instance in folder.parents):
                folder.mkdir(parents=True, exist_ok=True)
            else:
                raise DatabaseUnavailable(f"SQLite 数据库所在的文件夹「{folder}」不存在；请先建立该文件夹，"
                                          "或换一个路径")
    return text


def check_database(url: str | None, *, migrated: bool = True) -> str:
    """The URL of a database that answers (and, when ``migrated``, is at the newest schema)."""
    from sqlalchemy.exc import SQLAlchemyError

    from .db.base import make_engine
    text = check_url(url)
    if migrated and text.startswith("sqlite"):
        from sqlalchemy.engine import make_url
        if not Path(make_url(text).database).expanduser().exists():
            raise DatabaseUnavailable(f"数据库文件「{make_url(text).database}」不存在；请先运行 jijiao db upgrade"
                                      "（或 make demo 建立演示数据）")
    engine = make_engine(text)
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("select 1")
            if migrated:
                from alembic.runtime.migration import MigrationContext
                from alembic.script import ScriptDirectory

                from .db.migrate import alembic_config
                current = MigrationContext.configure(connection).get_current_revision()
                head = ScriptDirectory.from_config(alembic_config(text)).get_current_head()
                if current is None:
                    raise DatabaseUnavailable(f"数据库「{_display(engine.url)}」尚未初始化；请先运行 "
                                              "jijiao db upgrade（或 make demo 建立演示数据）")
                if current != head:
                    raise DatabaseUnavailable(f"数据库结构版本为 {current}，程序需要 {head}；请运行 jijiao db upgrade")
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise DatabaseUnavailable(f"无法连接数据库「{_display(engine.url)}」（服务器未运行、地址或端口不对、"
                                  f"或拒绝了连接）；驱动的原话：{reason}") from None
    finally:
        engine.dispose()
    return text
