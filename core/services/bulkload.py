"""Fast bulk insertion: COPY on PostgreSQL, executemany elsewhere, in the caller's transaction."""

from __future__ import annotations

import json
from datetime import date, datetime

from sqlalchemy import insert


def _copy_value(value):
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return value


def bulk_insert(session, model, rows: list[dict], columns: list[str]) -> None:
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        raw = connection.connection.driver_connection
        table = model.__table__.name
        names = ", ".join(f'"{c}"' for c in columns)
        with raw.cursor() as cursor:
            with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row([_copy_value(row.get(c)) for c in columns])
        return
    # Core executemany over the table: one statement for every row (the ORM's bulk insert would
    # split rows by which optional columns are None).
    session.connection().execute(model.__table__.insert(), [{c: row.get(c) for c in columns} for row in rows])


def allocate_ids(session, model, count: int) -> list[int]:
    """``count`` fresh primary keys for rows inserted in bulk (the caller's transaction holds the
    write lock on SQLite; PostgreSQL hands them out from the table's sequence)."""
    if count == 0:
        return []
    connection = session.connection()
    table = model.__table__.name
    if connection.dialect.name == "postgresql":
        result = connection.exec_driver_sql(
            f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, {int(count)})")
        return [row[0] for row in result]
    start = connection.exec_driver_sql(f"SELECT COALESCE(MAX(id), 0) FROM {table}").scalar() + 1
    return list(range(start, start + count))


__all__ = ["allocate_ids", "bulk_insert", "date", "datetime"]
