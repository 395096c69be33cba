"""The roster of a school admin's or reviewer's teachers: the list in scope with ID numbers masked
and exact search, add / edit / transfer (audited, refused outside scope), import from .xlsx as a
background job with per-row errors in Chinese and nothing half-imported; and registration of hours
on a teacher's behalf by the school."""

from __future__ import annotations

import io
import re
from datetime import date

from openpyxl import Workbook
from sqlalchemy import select

from core.db.models import AuditRecord, Claim, JobRecord, Teacher
from core.db.scope import Actor
from core.idnumber import make


def text(response):
    return response.get_data(as_text=True)


def flashes(html):
    return re.findall(r'jj-flash" role="alert">([^<]*)<', html)


def teachers(platform):
    with platform.transaction(Actor.system()) as s:
        return {t.name: (t.home_school_id, t.id_number, t.stage) for t in s.scalars(select(Teacher))}


def xlsx(rows, header=("姓名", "身份证号", "学校", "学段", "学科", "教师资格证号")) -> io.BytesIO:
    book = Workbook()
    sheet = book.active
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    out = io.BytesIO()
    book.save(out)
    out.seek(0)
    return out


def upload(c, data: io.BytesIO, name="名册.xlsx"):
    token_page = text(c.get("/roster/import"))
    token = re.search(r'name="csrf_token" value="([^"]+)"', token_page).group(1)
    return c.http.post("/roster/import", data={"csrf_token": token, "file": (data, name)},
                       content_type="multipart/form-data")


def test_roster_lists_teachers_in_scope_masked_with_exact_search(client, world):
    school = text(client("thzx_admin").get("/roster/"))
    assert "王老师" in school and "李老师" not in school
    assert world.teachers["wang"].id_number not in school and "4401**********" in school
    district = client("th_rev")
    page = text(district.get("/roster/"))
    assert "王老师" in page and "李老师" in page and "赵老师" not in page
    assert "李老师" not in text(district.get("/roster/?q=王老师"))
    assert "王老师" in text(district.get(f"/roster/?q={world.teachers['wang'].id_number}"))
    assert "没有符合条件的教师" in text(district.get(f"/roster/?q={world.teachers['wang'].id_number[:6]}"))
    assert district.get("/roster/?school=abc&page=zz").status_code == 200
    assert client("wang").get("/roster/").status_code == 403


def test_add_edit_and_errors_in_chinese(client, world, platform):
    c = client("thzx_admin")
    number = make("440106", date(1990, 5, 6), 321)
    form = {"name": "周老师", "id_number": number, "school": world.nodes["thzx"].id, "stage": "初中",
            "subject": "数学", "cert_number": "", "employed_on": "2015-09-01"}
    r = c.post("/roster/new", form, token_from="/roster/new")
    assert r.status_code == 302
    assert teachers(platform)["周老师"] == (world.nodes["thzx"].id, number, "初中")
    again = c.post("/roster/new", form, token_from="/roster/new")
    assert "该身份证号的教师已登记" in " ".join(flashes(text(again)))
    bad = c.post("/roster/new", {**form, "id_number": "123", "employed_on": "x"}, token_from="/roster/new")
    assert bad.status_code == 200 and any("身份证号应为18位" in m or "入职日期" in m for m in flashes(text(bad)))
    outside = c.post("/roster/new", {**form, "id_number": make("440106", date(1991, 1, 1), 5),
                                     "school": world.nodes["thxx"].id}, token_from="/roster/new")
    assert "请选择学校" in flashes(text(outside))
    wang = world.teachers["wang"].id
    r = c.post(f"/roster/{wang}/edit", {"name": "王老师", "stage": "高中", "subject": "语文", "active": "1"},
               token_from=f"/roster/{wang}/edit")
    assert r.status_code == 302 and teachers(platform)["王老师"][2] == "高中"
    with platform.transaction(Actor.system()) as s:
        record = s.scalars(select(AuditRecord).where(AuditRecord.entity_type == "teacher", AuditRecord.entity_id == wang,
                                                     AuditRecord.trigger == "edit")).one()
        assert record.detail["changed"]["学段"] == [None, "高中"] and record.actor_name == "thzx_admin"
    assert client("thxx_admin").get(f"/roster/{wang}/edit").status_code == 404


def test_transfer_between_schools_in_scope(client, world, platform):
    wang = world.teachers["wang"].id
    district = client("th_rev")
    r = district.post(f"/roster/{wang}/transfer", {"school": world.nodes["szs"].id}, token_from="/roster/")
    assert "请选择调入学校" in flashes(text(r))  # 市直属中学 is outside 天河区
    r = district.post(f"/roster/{wang}/transfer", {"school": world.nodes["thxx"].id, "on": "2019-06-01"},
                      token_from="/roster/")
    assert r.status_code == 302 and teachers(platform)["王老师"][0] == world.nodes["thxx"].id
    assert "王老师" not in text(client("thzx_admin").get("/roster/"))
    assert "王老师" in text(client("thxx_admin").get("/roster/"))
    with platform.transaction(Actor.system()) as s:
        record = s.scalars(select(AuditRecord).where(AuditRecord.trigger == "transfer")).one()
        assert (record.from_state, record.to_state) == ("天河中学", "天河小学")


def test_import_from_xlsx_is_a_job_all_rows_or_none_with_errors_per_row_in_chinese(client, world, platform):
    c = client("th_rev")
    good1, good2 = make("440106", date(1988, 3, 4), 11), make("440106", date(1989, 3, 4), 12)
    rows = [("孙老师", good1, "天河中学", "初中", "物理", "T001"),
            ("钱老师", 440106198903040120, "天河小学", "小学", "", ""),          # a number: the ID lost as text
            ("吴老师", good2, "天河小学", "大学", "", ""),                     # no such stage
            ("郑老师", good2, "广州市直属中学", "", "", ""),                  # duplicate, school outside scope
            ("", world.teachers["wang"].id_number, "天河中学", "", "", "")]  # no name, already registered
    r = upload(c, xlsx(rows))
    assert r.status_code == 302 and "/roster/job/" in r.headers["Location"]
    job_id = int(r.headers["Location"].split("/")[-1])
    with platform.transaction(Actor.system()) as s:
        job = s.get(JobRecord, job_id)
        assert (job.kind, job.state) == ("roster_import", "failed")
        errors = {e["row"]: " ".join(e["messages"]) for e in job.params["result"]["errors"]}
    assert sorted(errors) == [3, 4, 5, 6]
    assert "身份证号应以文本格式填写" in errors[3]
    assert "学段应为" in errors[4]
    assert "身份证号与第4行重复" in errors[5] and "找不到学校「广州市直属中学」" in errors[5]
    assert "姓名不能为空" in errors[6] and "已登记" in errors[6]
    assert "孙老师" not in teachers(platform), "nothing is imported when any row is wrong"
    page = text(c.get(r.headers["Location"]))
    assert "有 4 行有误，未导入任何教师" in page and "第 3 行" in page and "身份证号应以文本格式填写" in page
    # Corrected, the whole file goes in.
    r = upload(c, xlsx([rows[0], ("吴老师", good2, "天河小学", "小学", "", "")]))
    job_id = int(r.headers["Location"].split("/")[-1])
    with platform.transaction(Actor.system()) as s:
        assert s.get(JobRecord, job_id).state == "done"
    now = teachers(platform)
    assert now["孙老师"][0] == world.nodes["thzx"].id and now["吴老师"][0] == world.nodes["thxx"].id
    assert "已导入 2 名教师" in text(c.get(r.headers["Location"]))


def test_import_refuses_what_is_not_an_xlsx_or_lacks_columns(client, world, platform):
    c = client("thzx_admin")
    assert "只能导入 .xlsx" in " ".join(flashes(text(upload(c, io.BytesIO(b"a,b"), "名册.csv"))))
    assert "不是有效的 .xlsx" in " ".join(flashes(text(upload(c, io.BytesIO(b"hello"), "x.xlsx"))))
    r = upload(c, xlsx([("孙老师", "x")], header=("姓名", "证件")))
    with platform.transaction(Actor.system()) as s:
        job = s.get(JobRecord, int(r.headers["Location"].split("/")[-1]))
        assert job.state == "failed" and "缺少列：身份证号、学校" in job.message
    assert c.get("/roster/template.xlsx").status_code == 200


def test_school_registers_hours_for_its_teacher_and_sends_them_up(client, world, platform, clock):
    clock.set(2023, 9, 15)
    c = client("cgxx_admin")
    page = text(c.get("/register/?item=jizhong.training"))
    assert "陈老师" in page and "培训级别" in page
    r = c.post("/register/", {"item": "jizhong.training", "teacher": world.teachers["chen"].id,
                              "in_hours": "24", "in_level": "county", "period": "2022-2023"},
               token_from="/register/")
    assert r.status_code == 302, flashes(text(r))
    claim_id = int(r.headers["Location"].rstrip("/").split("/")[-1])
    with platform.transaction(Actor.system()) as s:
        claim = s.get(Claim, claim_id)
        assert (claim.workflow, claim.state, claim.amount_milli) == ("registration", "recorded", 24_000)
    detail = text(c.get(f"/review/claim/{claim_id}"))
    assert "报送" in detail
    c.post(f"/review/claim/{claim_id}/act", {"action": "submit"}, token_from=f"/review/claim/{claim_id}")
    with platform.transaction(Actor.system()) as s:
        assert s.get(Claim, claim_id).state == "submitted"
    assert f"/review/claim/{claim_id}\"" in text(client("cg_rev").get("/review/"))
    bad = c.post("/register/", {"item": "jizhong.training", "teacher": "x", "in_hours": "abc"},
                 token_from="/register/")
    assert bad.status_code == 200 and "请选择教师" in flashes(text(bad))
    # Guangzhou schools register nothing themselves (organisers do): the page says so.
    assert "学校无需代为登记" in text(client("thzx_admin").get("/register/"))


def test_screenshots_of_the_roster(page_for, world):
    from .conftest import screenshot
    for phone in (False, True):
        page = page_for("th_rev", phone=phone)
        page.goto(page_for.base + "/roster/")
        assert page.locator("#jj-roster tbody tr").count() == 2
        screenshot(page, "roster-phone" if phone else "roster-desktop")
        page.goto(page_for.base + "/roster/import")
        assert page.locator("input[type=file]").count() == 1
