"""The district and city admins' pages: stage windows and their extension, training projects with
participants imported from .xlsx (all rows or none), and the dashboard (pass rates by school and
hours by item, with ECharts) with the list of teachers below requirement.

The test world's results are seeded through the services (a teacher's declaration approved up the
chain, and an organiser's batch), and every expected figure is worked out by hand below.

Guangzhou 2019 passes a teacher at total >= 72, 公需 >= 18 and 专业 >= 42 hours:
  王老师 (天河中学)        专业 60 (市级面授, batch) + 公需 18 (declared, approved)  → 78: 合格
  李老师 (天河小学)        专业 30 (教研活动, batch)                              → 30: 不合格
  赵老师 (广州市直属中学)  专业 60 (市级面授, batch)                              → 60: 不合格 (公需 0/18)
So 广州市 (gz_rev): 3 teachers with results, 1 passed: 33.3%; 天河区 (th_rev): 2, 1 passed: 50.0%.
"""

from __future__ import annotations

import io
import json
import re
from datetime import date

import pytest
from sqlalchemy import func, select

from core.db.models import AuditRecord, Claim, ProjectParticipant, TrainingProject, WindowExtension
from core.db.scope import Actor

from .conftest import screenshot


def seed_results(world):
    """Registered hours for 王, 李 and 赵 through the services (see the module docstring)."""
    t = world.teachers
    gz = world.svc("gz_rev").claims
    gz.import_registered([
        {"teacher_id": t["wang"].id, "item": "zhuanye.training", "period": "2019", "inputs": {"hours": 60}},
        {"teacher_id": t["zhao"].id, "item": "zhuanye.training", "period": "2019", "inputs": {"hours": 60}},
        {"teacher_id": t["li"].id, "item": "zhuanye.research", "period": "2019", "inputs": {"hours": 30}},
    ], source="测试登记表.xlsx")
    claim = world.svc("wang").claims.declare(t["wang"].id, "gongxu.provincial", {"hours": 18, "topic": "师德"},
                                             period="2019")
    world.svc("wang").claims.submit(claim.id)
    world.svc("thzx_admin").claims.approve(claim.id)
    assert world.svc("th_rev").claims.approve(claim.id).state == "registered"


def text(response) -> str:
    return response.get_data(as_text=True)


def flashes(html: str) -> list[str]:
    return [re.sub(r"\s+", " ", m).strip() for m in re.findall(r'class="alert[^"]*jj-flash"[^>]*>(.*?)</div>', html, re.S)]


def cells(html: str, table_id: str) -> list[list[str]]:
    body = html.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    rows = []
    for tr in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S):
        row = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", tr, re.S)]
        if row:
            rows.append(row)
    return rows


# -- the dashboard ---------------------------------------------------------------------------

def test_dashboard_pass_rates_by_school_and_hours_by_item_worked_by_hand(world, client):
    seed_results(world)
    page = text(client("gz_rev").get("/district/dashboard/?period=2019"))
    schools = {r[0]: r[1:6] for r in cells(page, "jj-schools")[1:-1]}
    # 教师, 有结果, 合格, 不合格, 合格率
    assert schools == {"天河中学": ["1", "1", "1", "0", "100.0%"], "天河小学": ["1", "1", "0", "1", "0.0%"],
                       "广州市直属中学": ["1", "1", "0", "1", "0.0%"]}
    assert cells(page, "jj-schools")[-1][:6] == ["合计", "3", "3", "1", "2", "33.3%"]
    items = {r[0]: r[1:] for r in cells(page, "jj-items")[1:]}
    assert items == {"市、区面授培训": ["2", "2", "120 学时"], "教研活动与校本培训": ["1", "1", "30 学时"],
                     "省系统公需科目学习": ["1", "1", "18 学时"]}
    data = json.loads(page.split('id="jj-dashboard-data">', 1)[1].split("</script>", 1)[0])
    assert data["schools"]["rates"] == [100.0, 0.0, 0.0] and data["items"]["amounts"][0] == 120.0
    assert 'src="/static/vendor/echarts/echarts.min.js"' in page and 'nonce="' in page

    # The district sees its own two schools only: 1 of 2 passed.
    page = text(client("th_rev").get("/district/dashboard/"))
    assert [r[0] for r in cells(page, "jj-schools")[1:-1]] == ["天河中学", "天河小学"]
    assert cells(page, "jj-schools")[-1][:6] == ["合计", "2", "2", "1", "1", "50.0%"]
    assert "广州市直属中学" not in page
    # A school admin sees its own school's dashboard.
    page = text(client("thxx_admin").get("/district/dashboard/"))
    assert [r[0] for r in cells(page, "jj-schools")[1:-1]] == ["天河小学"]
    assert "0.0%" in page and "天河中学" not in page
    # Another jurisdiction's reviewer sees none of it.
    page = text(client("ec_rev").get("/district/dashboard/"))
    assert "天河" not in page and 'id="jj-no-results"' in page


def test_teachers_below_requirement_show_what_they_lack_from_the_stored_result(world, client):
    seed_results(world)
    c = client("gz_rev")
    page = text(c.get("/district/dashboard/below?period=2019"))
    rows = {r[0]: r for r in cells(page, "jj-below")[1:]}
    assert set(rows) == {"李老师", "赵老师"}
    assert rows["李老师"][1] == "天河小学" and rows["李老师"][2] == "30 学时"
    assert "公需科目学时不足：0/18" in rows["李老师"][3] and "专业科目学时不足：30/42" in rows["李老师"][3]
    assert "公需科目学时不足：0/18" in rows["赵老师"][3] and "专业科目" not in rows["赵老师"][3]
    # One school only, and a page size of one row pages by id (no COUNT).
    school = world.nodes["thxx"].id
    page = text(c.get(f"/district/dashboard/below?period=2019&school={school}"))
    assert [r[0] for r in cells(page, "jj-below")[1:]] == ["李老师"]
    from core.services.dashboard import DashboardService
    with world.platform.transaction(world.actors["gz_rev"]) as s:
        service = DashboardService(world.svc("gz_rev"))
        first, after = service.below(s, "2019", limit=1)
        second, end = service.below(s, "2019", limit=1, after=after)
        assert after is not None and end is None and {first[0].name, second[0].name} == {"李老师", "赵老师"}
    # A school outside scope is a 404, like a missing one.
    assert client("th_rev").get(f"/district/dashboard/below?school={world.nodes['szs'].id}").status_code == 404
    assert client("th_rev").get("/district/dashboard/below?school=99999").status_code == 404
    # Teachers have no access.
    assert client("wang").get("/district/dashboard/").status_code == 403


# -- stage windows ---------------------------------------------------------------------------

def test_windows_listed_and_extended_with_an_audit_record(world, client, platform):
    c = client("th_rev")
    page = text(c.get("/district/windows/?period=2019"))
    stages = {r[0]: r[1:3] for r in cells(page, "jj-stages")[1:]}
    assert stages["区（市培训中心）复审"] == ["2019-01-01", "2020-03-10"]
    assert stages["学校初审"] == ["2019-01-01", "2020-02-28"]
    # The district may extend its own review and the schools'; not the city's.
    form = page.split('id="jj-extend"', 1)[1].split("</form>", 1)[0]
    assert 'value="review_district"' in form and 'value="review_school"' in form
    assert 'value="review_city"' not in form
    r = c.post("/district/windows/extend", {"jurisdiction": "guangzhou", "period": "2019", "stage": "review_district",
                                            "node": str(world.nodes["th"].id), "closes": "2020-03-31",
                                            "reason": "疫情期间延期复审"}, token_from="/district/windows/?period=2019")
    assert r.status_code == 302
    page = text(c.get(r.headers["Location"]))
    assert "已延长" in " ".join(flashes(page))
    stages = {r[0]: r[1:4] for r in cells(page, "jj-stages")[1:]}
    assert stages["区（市培训中心）复审"][:2] == ["2019-01-01", "2020-03-31"] and "已由天河区延长" in stages["区（市培训中心）复审"][2]
    ext = cells(page, "jj-extensions")[1]
    assert ext[:4] == ["天河区", "区（市培训中心）复审", "2020-03-31", "疫情期间延期复审"]
    with platform.transaction(Actor.system()) as s:
        record = s.scalars(select(AuditRecord).where(AuditRecord.entity_type == "window")).one()
        assert (record.trigger, record.from_state, record.to_state, record.reason) == (
            "extend", "2020-03-10", "2020-03-31", "疫情期间延期复审")
        assert record.actor_name and record.role == "reviewer"
    # The city sees the district's extension in its subtree; a school below it sees the new date.
    assert "疫情期间延期复审" in text(client("gz_rev").get("/district/windows/?period=2019"))
    school_page = text(client("thzx_admin").get("/district/windows/?period=2019"))
    assert {r[0]: r[2] for r in cells(school_page, "jj-stages")[1:]}["区（市培训中心）复审"] == "2020-03-31"


def test_extension_refusals_are_shown_as_worded_and_nothing_is_written(world, client, platform):
    c = client("th_rev")
    url = "/district/windows/?period=2019"
    base = {"jurisdiction": "guangzhou", "period": "2019", "stage": "review_district",
            "node": str(world.nodes["th"].id), "closes": "2020-03-31", "reason": "延期"}
    # Not later than the current date: the service's words.
    r = c.post("/district/windows/extend", dict(base, closes="2020-01-01"), token_from=url)
    assert r.status_code == 400 and "应晚于当前截止日期 2020-03-10" in " ".join(flashes(text(r)))
    # No reason, a date that is not a date: Chinese messages, no 500.
    r = c.post("/district/windows/extend", dict(base, reason=""), token_from=url)
    assert r.status_code == 400 and "请填写延长原因" in " ".join(flashes(text(r)))
    r = c.post("/district/windows/extend", dict(base, closes="明年三月"), token_from=url)
    assert r.status_code == 400 and "请填写有效的新截止日期" in " ".join(flashes(text(r)))
    # A stage above the actor's level, forged into the form: refused by the page.
    r = c.post("/district/windows/extend", dict(base, stage="review_city"), token_from=url)
    assert "只能延长本级及以下的阶段" in " ".join(flashes(text(c.get(r.headers["Location"]))))
    # A node outside the subtree.
    r = c.post("/district/windows/extend", dict(base, node=str(world.nodes["szs"].id)), token_from=url)
    assert "不在您的管辖范围内" in " ".join(flashes(text(c.get(r.headers["Location"]))))
    # A school admin is not offered the district's or the city's review.
    page = text(client("thzx_admin").get(url))
    form = page.split('id="jj-extend"', 1)[1].split("</form>", 1)[0]
    assert 'value="review_school"' in form and 'value="declare"' in form
    assert 'value="review_district"' not in form and 'value="review_city"' not in form
    r = client("thzx_admin").post("/district/windows/extend", dict(base, node=str(world.nodes["thzx"].id)),
                                  token_from=url)
    assert r.status_code == 302
    with platform.transaction(Actor.system()) as s:
        assert s.scalar(select(func.count()).select_from(WindowExtension)) == 0


# -- training projects -----------------------------------------------------------------------

def xlsx(rows, headers=("姓名", "身份证号", "是否结业")) -> bytes:
    from openpyxl import Workbook
    wb = Workbook()
    ws = wb.active
    ws.append(list(headers))
    for row in rows:
        ws.append(list(row))
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def upload(c, project_id, data: bytes, name="参训名单.xlsx"):
    return c.post(f"/district/projects/{project_id}/participants", {"file": (io.BytesIO(data), name)},
                  token_from=f"/district/projects/{project_id}", content_type="multipart/form-data")


def design(c, **fields):
    data = {"code": "TH2019-01", "title": "区级名师工作室研修", "item_code": "zhuanye.training",
            "period_key": "2019", "amount": "24", "approver_kind": "city"}
    data.update(fields)
    return c.post("/district/projects/new", data, token_from="/district/projects/new")


def act(c, project_id, trigger, reason=None):
    data = {"trigger": trigger}
    if reason is not None:
        data["reason"] = reason
    r = c.post(f"/district/projects/{project_id}/transition", data, token_from=f"/district/projects/{project_id}")
    assert r.status_code == 302
    return " ".join(flashes(text(c.get(r.headers["Location"]))))


def test_project_designed_approved_and_participants_registered_from_xlsx(world, client, platform):
    th, gz = client("th_rev"), client("gz_rev")
    r = design(th, needs_approval="y")
    assert r.status_code == 302, " ".join(flashes(text(r)))
    project_id = int(r.headers["Location"].rstrip("/").split("/")[-1])
    page = text(th.get(f"/district/projects/{project_id}"))
    assert "区级名师工作室研修" in page and "已设计" in page and "广州市" in page  # the approver
    # Starting before approval: the workflow's refusal, as worded.
    assert "须经审批" in act(th, project_id, "start")
    assert "已完成：报请审批" in act(th, project_id, "request_approval")
    # Only the approver approves; the district cannot approve its own project.
    assert "只有负责审批该项目的机构" in act(th, project_id, "approve")
    waiting = text(gz.get("/district/projects/")).split('id="jj-waiting"', 1)[1].split("</div>", 1)[0]
    assert "TH2019-01" in waiting and "天河区" in waiting
    assert "已完成：审批通过" in act(gz, project_id, "approve")
    assert "已完成：开始实施" in act(th, project_id, "start")
    # The list of participants from an .xlsx: the ID numbers as text.
    t = world.teachers
    data = xlsx([("王老师", t["wang"].id_number, "是"), ("李老师", t["li"].id_number, "否")])
    r = upload(th, project_id, data)
    assert r.status_code == 302
    page = text(th.get(r.headers["Location"]))
    assert "共 2 人，新增 2 人" in " ".join(flashes(page))
    participants = {row[0]: row for row in cells(page, "jj-participants")[1:]}
    assert participants["王老师"][3] == "是" and participants["李老师"][3] == "否"
    assert t["wang"].id_number not in page  # shown masked
    assert "已完成：结业" in act(th, project_id, "complete")
    assert "已完成：登记参训学时" in act(th, project_id, "register_participants")
    with platform.transaction(Actor.system()) as s:
        claims = s.execute(select(Claim.teacher_id, Claim.amount_milli, Claim.state)
                           .where(Claim.project_id == project_id)).all()
        assert claims == [(t["wang"].id, 24_000, "registered")]
        assert s.get(TrainingProject, project_id).state == "participants_registered"
        triggers = s.scalars(select(AuditRecord.trigger).where(AuditRecord.entity_type == "project")
                             .order_by(AuditRecord.seq)).all()
        assert triggers == ["design", "request_approval", "approve", "start", "import_participants", "complete",
                            "register_participants"]
    # The list is closed once the hours are registered.
    assert 'id="jj-import"' not in text(th.get(f"/district/projects/{project_id}"))
    # The project is in the city's list too (its subtree), not in another district's.
    assert "TH2019-01" in text(gz.get("/district/projects/"))
    assert client("ec_rev").get(f"/district/projects/{project_id}").status_code == 404


def test_a_list_with_a_bad_row_registers_nobody_and_names_the_row(world, client, platform):
    th = client("th_rev")
    r = design(th, code="TH2019-02")
    project_id = int(r.headers["Location"].rstrip("/").split("/")[-1])
    t = world.teachers
    bad = xlsx([
        ("王老师", t["wang"].id_number, "是"),                 # row 2: right
        ("李老师", int(t["li"].id_number[:15]), "是"),         # row 3: a number cell
        ("赵老师", t["zhao"].id_number, "是"),                 # row 4: outside 天河区
        ("陈老师", t["wang"].id_number, "是"),                 # row 5: a repeat (and a wrong name)
        ("刘老师", "440106198501011234", "是"),                # row 6: a wrong check digit
        ("王老师", t["wang"].id_number[:-1] + "0", "也许"),    # row 7: not 是/否
    ])
    r = upload(th, project_id, bad)
    assert r.status_code == 400
    page = text(r)
    message = " ".join(flashes(page))
    assert "全部或全不" in message and "6 行有误" not in message
    errors = {row[0]: row[1] for row in cells(page, "jj-row-errors")[1:]}
    assert set(errors) == {"第3行", "第4行", "第5行", "第6行", "第7行"}
    assert "数字格式" in errors["第3行"] and "文本格式" in errors["第3行"]
    assert "不在本机构管辖范围内" in errors["第4行"]
    assert "与第2行的身份证号重复" in errors["第5行"]
    assert "校验位" in errors["第6行"]
    assert "是否结业" in errors["第7行"] or "校验位" in errors["第7行"]
    with platform.transaction(Actor.system()) as s:
        assert s.scalar(select(func.count()).select_from(ProjectParticipant)) == 0
    # A name that does not match its ID number; a file that is not a workbook; no headers.
    r = upload(th, project_id, xlsx([("李四", t["wang"].id_number, "是")]))
    assert "姓名「李四」与身份证号" in text(r)
    r = upload(th, project_id, b"not a workbook at all")
    assert r.status_code == 400 and "无法读取该文件" in text(r)
    r = upload(th, project_id, b"x", name="名单.xls")
    assert r.status_code == 400 and ".xlsx" in " ".join(flashes(text(r)))
    r = upload(th, project_id, xlsx([("王老师", t["wang"].id_number)], headers=("姓名", "身份证")))
    assert "缺少列：身份证号、是否结业" in text(r)
    # Another district's reviewer cannot import into it: 404.
    r = client("ec_rev").post(f"/district/projects/{project_id}/participants",
                              {"file": (io.BytesIO(xlsx([])), "a.xlsx")}, token_from="/district/projects/",
                              content_type="multipart/form-data")
    assert r.status_code == 404
    with platform.transaction(Actor.system()) as s:
        assert s.scalar(select(func.count()).select_from(ProjectParticipant)) == 0


def test_reads_above_the_subtree_answer_only_for_what_is_in_scope(world, client):
    """The page session may not skip scope; DistrictReads does the reads above the actor's node
    in a service session, and only for a node or project the actor could already see."""
    from core.services import NotFound
    from core.services.dashboard import DistrictReads
    n = world.nodes
    th = DistrictReads(world.svc("th_rev"))
    assert th.governing() == "guangzhou"                 # attached at 广州市, above 天河区
    assert th.governing(n["thzx"].id) == "guangzhou"
    assert th.stage_windows("guangzhou", "2019", n["thzx"].id)  # windows for a school below
    ec = DistrictReads(world.svc("ec_rev"))
    assert ec.governing() == "echeng"
    for call in (lambda: ec.governing(n["thzx"].id), lambda: ec.stage_windows("guangzhou", "2019", n["th"].id)):
        with pytest.raises(NotFound):
            call()
    r = design(client("th_rev"), code="TH2019-09", needs_approval="y")
    project_id = int(r.headers["Location"].rstrip("/").split("/")[-1])
    assert th.approver_name(project_id) == "广州市"     # above the district: its name only
    with pytest.raises(NotFound):
        ec.approver_name(project_id)                     # another district's project: not found
    with pytest.raises(NotFound):
        DistrictReads(world.svc("thxx_admin")).approver_name(project_id)


def test_template_download_and_design_refusals(world, client):
    from openpyxl import load_workbook
    th = client("th_rev")
    r = th.get("/district/projects/template.xlsx")
    assert r.status_code == 200 and "spreadsheetml" in r.headers["Content-Type"]
    ws = load_workbook(io.BytesIO(r.data)).active
    assert [c.value for c in ws[1]] == ["姓名", "身份证号", "是否结业"] and ws["B2"].number_format == "@"
    # The services' refusals, as worded; bad numbers are Chinese messages, never a 500.
    assert design(th).status_code == 302
    assert "已有编号为「TH2019-01」的培训项目" in " ".join(flashes(text(design(th))))
    assert "学时应为数字" in " ".join(flashes(text(design(th, code="X2", amount="二十"))))
    r = design(th, code="X3", period_key="明年")
    assert r.status_code == 400 and "考核期间" in " ".join(flashes(text(r)))
    r = design(client("gz_rev"), code="X4", needs_approval="y", approver_kind="city")
    assert "之上没有负责审批的市级机构" in " ".join(flashes(text(r)))


# -- in the browser: charts drawn, no glyph missing, phones ----------------------------------

# Every non-ASCII character of the page's text (and of the chart labels, drawn on a canvas) is
# drawn with the page's fonts and compared with the "missing glyph" box: a character whose pixels
# are the box's has no glyph in any installed font.
MISSING_GLYPHS = """(extra) => {
  const text = document.body.innerText + extra;
  const chars = [...new Set([...text].filter(c => c.trim() && c.codePointAt(0) > 0x7e))];
  const canvas = document.createElement('canvas');
  canvas.width = 48; canvas.height = 48;
  const ctx = canvas.getContext('2d', {willReadFrequently: true});
  const font = getComputedStyle(document.body).fontFamily;
  const draw = (ch) => {
    ctx.clearRect(0, 0, 48, 48);
    ctx.font = '32px ' + font; ctx.fillStyle = '#000'; ctx.textBaseline = 'top';
    ctx.fillText(ch, 4, 4);
    return Array.from(ctx.getImageData(0, 0, 48, 48).data).join(',');
  };
  const box = draw('\\u{10FFFD}');
  if (box !== draw('\\u{10FFFC}')) { return ['(the missing-glyph box is not stable)']; }
  return chars.filter(c => draw(c) === box);
}"""

CHART_INK = """(id) => {
  const canvas = document.querySelector('#' + id + ' canvas');
  if (!canvas) { return 0; }
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let ink = 0;
  for (let i = 3; i < data.length; i += 4) { if (data[i] > 0) { ink++; } }
  return ink;
}"""


def chart_text(page) -> str:
    return page.evaluate("() => ['jj-dashboard-data', 'jj-dashboard-text'].map(id => "
                         "(document.getElementById(id) || {}).textContent || '').join('') + '…'")


def check_page(page, extra: str = ""):
    assert page.evaluate(MISSING_GLYPHS, extra) == [], "characters without a glyph"
    assert page.errors == [], page.errors  # no script error, no CSP violation
    width = page.evaluate("() => document.documentElement.scrollWidth")
    viewport = page.viewport_size["width"]
    assert width <= viewport + 1, f"the page is {width}px wide in a {viewport}px window"


def test_dashboard_in_the_browser_desktop_and_phone(world, page_for):
    seed_results(world)
    for phone, name in ((False, "dashboard-desktop"), (True, "dashboard-phone")):
        page = page_for("gz_rev", phone=phone)
        page.goto(page_for.base + "/district/dashboard/?period=2019")
        page.wait_for_selector("#jj-chart-schools[data-drawn] canvas")
        page.wait_for_selector("#jj-chart-items[data-drawn] canvas")
        assert page.evaluate(CHART_INK, "jj-chart-schools") > 2000
        assert page.evaluate(CHART_INK, "jj-chart-items") > 1000
        assert page.evaluate("() => window.jjCharts.length") == 2
        assert page.evaluate("() => [window.jjCharts[0].getOption().textStyle].flat()[0].fontFamily").startswith(
            '"Noto Sans CJK SC"')
        assert "33.3%" in page.inner_text("#jj-total-rate")
        screenshot(page, name)
        check_page(page, chart_text(page))
    page.click("#jj-below-link")
    page.wait_for_selector("#jj-below")
    assert "公需科目学时不足：0/18" in page.inner_text("#jj-below")
    screenshot(page, "below-phone")
    check_page(page)


def test_windows_and_projects_in_the_browser(world, page_for):
    page = page_for("th_rev")
    page.goto(page_for.base + "/district/windows/?period=2019")
    page.select_option("#stage", "review_district")
    page.fill("#closes", "2020-03-31")
    page.fill("#reason", "疫情期间延期复审")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#jj-extend button[type=submit]")
    page.wait_for_selector("#jj-extensions")
    assert "2020-03-31" in page.inner_text("#jj-stages tr[data-stage=review_district]")
    screenshot(page, "windows")
    check_page(page)

    page.goto(page_for.base + "/district/projects/new")
    screenshot(page, "project-new")
    check_page(page)
    page.fill("#code", "TH2019-05")
    page.fill("#title", "天河区青年教师教学能力提升培训")
    page.select_option("#item_code", "zhuanye.training")
    page.fill("#amount", "24")
    page.click("#jj-project-form button[type=submit]")
    page.wait_for_selector("#jj-state")
    page.click("button[data-trigger=start]")
    page.wait_for_selector("#jj-import")
    t = world.teachers
    mime = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    bad = xlsx([("王老师", t["wang"].id_number, "是"), ("李老师", int(t["li"].id_number[:15]), "否")])
    page.set_input_files("#jj-file", files=[{"name": "有误的名单.xlsx", "buffer": bad, "mimeType": mime}])
    page.click("#jj-import button[type=submit]")
    page.wait_for_selector("#jj-row-errors")
    assert "第3行" in page.inner_text("#jj-row-errors") and page.query_selector("#jj-participants") is None
    screenshot(page, "projects-import-refused")
    # The refusal is answered with status 400, which the browser logs: that one is expected.
    page.errors[:] = [e for e in page.errors if "status of 400" not in e]
    check_page(page)
    data = xlsx([("王老师", t["wang"].id_number, "是"), ("李老师", t["li"].id_number, "否")])
    page.set_input_files("#jj-file", files=[{"name": "参训名单.xlsx", "buffer": data,
                                             "mimeType": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}])
    page.click("#jj-import button[type=submit]")
    page.wait_for_selector("#jj-participants")
    assert "王老师" in page.inner_text("#jj-participants")
    screenshot(page, "projects")
    check_page(page)
    phone = page_for("th_rev", phone=True)
    phone.goto(page_for.base + "/district/projects/")
    assert "TH2019-05" in phone.inner_text("#jj-projects")
    screenshot(phone, "projects-phone")
    check_page(phone)
    phone.goto(page_for.base + "/district/windows/?period=2019")
    screenshot(phone, "windows-phone")
    check_page(phone)


def test_bad_input_is_answered_in_chinese_never_a_500(world, client):
    th = client("th_rev")
    for url in ("/district/dashboard/below?after=abc&school=xyz&period=zzz", "/district/windows/?j=nope&period=1999",
                "/district/projects/?before=abc", "/district/dashboard/?period=%00"):
        assert th.get(url).status_code == 200, url
    assert th.get("/district/projects/99999").status_code == 404
    for amount, words in (("1e400", "数值过大"), ("-5", "不能为负数"), ("NaN", "学时应为数字")):
        r = design(th, code="C-" + amount, amount=amount)
        assert r.status_code == 400 and words in " ".join(flashes(text(r)))
    r = design(th, code="Z1", item_code="gongxu.platform")
    assert "不是由机构批量登记的项目" in " ".join(flashes(text(r)))
    r = th.post("/district/windows/extend", {}, token_from="/district/windows/")
    assert r.status_code == 400 and "请填写延长原因" in " ".join(flashes(text(r)))
    # No CSRF token: refused, nothing written.
    assert th.http.post("/district/windows/extend", data={"stage": "declare"}).status_code == 400
    r = th.http.post("/district/projects/new", data={"code": "X"})
    assert r.status_code == 400 and "请刷新页面后重试" in text(r)  # the app's CSRF page, in Chinese
    with world.platform.transaction(Actor.system()) as s:
        assert s.scalar(select(func.count()).select_from(TrainingProject)) == 0
