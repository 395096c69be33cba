"""A list of registered hours (登记名单) read through the one importer and mapped to the teachers
the actor sees: used by ``jijiao import registrations`` and the upload on the documents page."""

from __future__ import annotations

from decimal import Decimal


def registration_fields():
    from ..exchange.xlsx_in import Field
    return [Field("id_number", "身份证号", "id_number", required=True, aliases=("身份证号码", "公民身份号码")),
            Field("name", "姓名", "text", required=True, aliases=("教师姓名",)),
            Field("item", "项目代码", "text", required=True, aliases=("项目",)),
            Field("hours", "学时", "decimal", aliases=("登记学时", "认定学时")),
            Field("period", "考核年度", "text", aliases=("学年度", "年度")),
            Field("on", "日期", "date", aliases=("培训日期",))]


def read_registrations(platform, actor, path) -> tuple[list[dict], list[str]]:
    """Rows of a registration list mapped to teachers the actor sees; errors in Chinese."""
    from sqlalchemy import select

    from ..db.models import Teacher
    from ..exchange.xlsx_in import read_table
    result = read_table(path, registration_fields())
    errors = [str(e) for e in result.errors]
    numbers = sorted({r["id_number"] for r in result.rows})
    teachers = {}
    with platform.transaction(actor) as session:
        for start in range(0, len(numbers), 500):
            for t in session.execute(select(Teacher.id, Teacher.name, Teacher.id_number)
                                     .where(Teacher.id_number.in_(numbers[start:start + 500]))):
                teachers[t.id_number] = t
    items = []
    for row in result.rows:
        teacher = teachers.get(row["id_number"])
        if teacher is None:
            errors.append(f"第{row['_row']}行：找不到该身份证号的教师，或不在您的管辖范围内")
            continue
        if teacher.name != row["name"]:
            errors.append(f"第{row['_row']}行：姓名「{row['name']}」与平台登记的不一致")
            continue
        inputs = {}
        if row.get("hours") is not None:
            hours: Decimal = row["hours"]
            inputs["hours"] = int(hours) if hours == hours.to_integral_value() else float(hours)
        item = {"teacher_id": teacher.id, "item": row["item"], "inputs": inputs, "_row": row["_row"]}
        if row.get("period"):
            item["period"] = row["period"]
        if row.get("on"):
            item["on"] = row["on"].isoformat()
        items.append(item)
    return items, errors


def import_list(platform, actor, source, name: str, *, request_id: str | None = None):
    """Read and register a list, all rows or none. Returns ``(report, [])`` or ``(None, errors)``
    with every error located by its Excel row; a refused file raises ``ImportRefused``."""
    from ..errors import InputError
    items, errors = read_registrations(platform, actor, source)
    if errors:
        return None, errors
    if not items:
        return None, ["表格中没有数据行"]
    rows = [{k: v for k, v in item.items() if k != "_row"} for item in items]
    try:
        report = platform.services(actor, request_id).claims.import_registered(rows, source=name)
    except InputError as exc:
        mapped = getattr(exc, "rows", None) or {}
        return None, [f"第{items[i]['_row']}行：{m}" for i, m in mapped.items()] or [exc.message]
    return report, []
