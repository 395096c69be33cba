"""A teacher's pages: "我的学时" (bars against each requirement from the engine, what pending
claims would add, the reasons, each claim's explanation), declaring through the form generated
from the plugin's inputs (a new item in a plugin's data is a new form), and every action with its
refusals: wrong state, a stale version, someone else's claim (404)."""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from core.db.models import AssessmentResult, Claim, Evidence
from core.db.scope import Actor

from .conftest import Client, screenshot

REPO = Path(__file__).resolve().parents[2]


def text(response) -> str:
    return response.get_data(as_text=True)


def png_bytes(size=(40, 30)) -> bytes:
    from PIL import Image
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


def claims_of(platform, teacher_id):
    with platform.transaction(Actor.system()) as s:
        return s.scalars(select(Claim).where(Claim.teacher_id == teacher_id).order_by(Claim.id)).all()


def register(world, item, inputs, teacher="wang"):
    """A claim declared, submitted and approved up the chain (registered)."""
    claims = world.svc(teacher).claims
    claim = claims.submit(claims.declare(world.teachers[teacher].id, item, inputs).id)
    claim = world.svc("thzx_admin").claims.approve(claim.id)
    return world.svc("th_rev").claims.approve(claim.id)


# -- 我的学时 ----------------------------------------------------------------------------------------

def test_progress_shows_each_requirement_what_pending_adds_and_why_not_met(client, world, platform):
    register(world, "gongxu.provincial", {"topic": "师德", "hours": 20})
    pending = world.svc("wang").claims.declare(world.teachers["wang"].id, "zhuanye.self",
                                               {"kind": "学术会议", "hours": 30})
    world.svc("wang").claims.submit(pending.id)
    draft = world.svc("wang").claims.declare(world.teachers["wang"].id, "zhuanye.self",
                                             {"kind": "教研活动", "hours": 5})
    page = text(client("wang").get("/teacher/"))
    # One bar per requirement of 广州 (total 72, 公需 18, 专业 42), registered / minimum.
    bars = re.findall(r'data-requirement="([^"]+)"', page)
    assert bars == ["总学时", "公需科目学时", "专业科目学时"]
    assert "20 / 72 学时" in page and "20 / 18 学时" in page and "0 / 42 学时" in page
    # What the pending claim would add (the engine's totals with it counted), and the reasons.
    assert "另有 1 条待审核" in page and "含待审核 50" in page and "含待审核 30" in page
    assert "未达标的原因" in page and "专业科目学时不足：0/42" in page
    # The claim list: Chinese states, amounts, the explanation in <details>, actions by state.
    assert "已登记" in page and "待初审" in page and "草稿" in page
    card = page.split(f'id="claim-{draft.id}"')[1].split('class="card mb-2')[0]
    assert "<details" in card and "按规则计算" in card and 'data-trigger="submit"' in card
    card = page.split(f'id="claim-{pending.id}"')[1].split('class="card mb-2')[0]
    assert 'data-trigger="withdraw"' in card and "计入本期" in card
    # A page never writes results: only the registration wrote one (20 hours).
    with platform.transaction(Actor.system()) as s:
        results = s.scalars(select(AssessmentResult)).all()
    assert [(r.period_key, r.total_milli) for r in results] == [("2019", 20_000)]


def test_progress_service_matches_the_stored_assessment(world, platform):
    from core.services.progress import ProgressService
    register(world, "zhuanye.self", {"kind": "学术会议", "hours": 50})
    progress = ProgressService(world.svc("wang")).of_teacher(world.teachers["wang"].id)
    with platform.transaction(Actor.system()) as s:
        stored = s.scalars(select(AssessmentResult)).one()
    assert progress.registered.to_dict(explain=False) == stored.result
    assert [(b.label, b.registered, b.minimum, b.met) for b in progress.bars] == [
        ("总学时", 50, 72, False), ("公需科目学时", 0, 18, False), ("专业科目学时", 50, 42, True)]


def test_progress_of_another_jurisdiction(world):
    """鄂城 (echeng): one requirement, its own bar; a reviewer above may read it, a school of
    another province may not."""
    from core.services import NotFound
    from core.services.progress import ProgressService
    progress = ProgressService(world.svc("ec_rev")).of_teacher(world.teachers["chen"].id)
    assert [(b.label, b.registered) for b in progress.bars] == [("总学时", 0)] and progress.error is None
    with pytest.raises(NotFound):
        ProgressService(world.svc("thzx_admin")).of_teacher(world.teachers["chen"].id)


# -- declaring -------------------------------------------------------------------------------------

def test_catalogue_lists_only_what_a_teacher_may_declare(client, world):
    page = text(client("wang").get("/teacher/declare/"))
    items = re.findall(r'data-item="([^"]+)"', page)
    assert items == ["gongxu.provincial", "zhuanye.self"]  # not the organiser's or the platform's
    assert client("wang").get("/teacher/declare/zhuanye.training").status_code == 404
    assert client("wang").get("/teacher/declare/no.such").status_code == 404


def test_the_form_is_generated_from_the_items_inputs(client, world):
    page = text(client("wang").get("/teacher/declare/zhuanye.self"))
    assert 'name="in_kind"' in page and '<option value="学术会议">学术会议</option>' in page
    assert 'name="in_hours"' in page and "学时数" in page and 'inputmode="decimal"' in page
    assert 'name="in_certificate_no"' in page and "证书编号" in page
    assert 'name="on"' in page and 'type="date"' in page and 'name="period"' in page
    assert "证明原件扫描件或照片" in page  # the item's evidence list as a hint


def test_every_declarable_item_of_every_plugin_gets_a_form(app, registry):
    """The generator covers every input type the plugins use (text, choice, level, award, date,
    bool, integer, number, numbers, amount) and renders each with its label."""
    from admin.forms import FIELD_PREFIX, build_form, declaration_form_class
    seen = set()
    with app.test_request_context("/"):
        for code in registry.codes():
            assessor = registry.assessor(code)
            periods = ["cycle"] if assessor.calendar.personal else ["2019", "2018"]
            for item in assessor.bundle.items.values():
                if item.channel != "declaration":
                    continue
                specs = assessor.parser.specs(item)[0]
                form_class = declaration_form_class(item, specs, measures=assessor.measures, periods=periods,
                                                    personal=assessor.calendar.personal)
                form = build_form(form_class, periods, assessor.calendar.personal)
                for spec in specs.values():
                    field = form[FIELD_PREFIX + spec.name]
                    html = str(field())
                    assert f'name="{FIELD_PREFIX}{spec.name}"' in html, (code, item.code, spec.name)
                    assert field.label.text and not field.label.text.startswith(FIELD_PREFIX)
                    seen.add(spec.type)
    assert {"text", "choice", "date", "bool", "integer", "number", "numbers", "amount"} <= seen


def test_declare_with_a_certificate_then_submit(client, world, platform, app):
    c = client("wang")
    r = c.post("/teacher/declare/zhuanye.self",
               {"in_kind": "学术会议", "in_hours": "１２.5学时", "in_certificate_no": "GZ-2019-001",
                "on": "2019/5/20", "action": "save", "files": (io.BytesIO(png_bytes()), "结业证书.png")},
               token_from="/teacher/declare/zhuanye.self", content_type="multipart/form-data")
    assert r.status_code == 302
    [claim] = claims_of(platform, world.teachers["wang"].id)
    assert (claim.state, claim.amount_milli, claim.on_date.isoformat()) == ("draft", 12_500, "2019-05-20")
    assert claim.inputs["certificate_no"] == "GZ-2019-001"
    with platform.transaction(Actor.system()) as s:
        [ev] = s.scalars(select(Evidence)).all()
    assert ev.filename == "结业证书.png" and ev.content_type == "image/png" and ev.scope_path == claim.scope_path
    assert re.fullmatch(r"[0-9a-f]{32}", ev.stored_as)
    assert (Path(app.config["JIJIAO_UPLOAD_DIR"]) / ev.stored_as).read_bytes() == png_bytes()
    page = text(c.get("/teacher/", follow_redirects=True))
    assert "已保存草稿" in page and "12.5" in page and "证明材料 1 个" in page
    r = c.post(f"/teacher/claim/{claim.id}/submit", {"version": claim.version}, token_from="/teacher/")
    assert r.status_code == 302
    assert claims_of(platform, world.teachers["wang"].id)[0].state == "submitted"
    assert "已提交" in text(c.get("/teacher/"))


def test_save_and_submit_in_one_step(client, world, platform):
    c = client("wang")
    r = c.post("/teacher/declare/gongxu.provincial", {"in_topic": "师德", "in_hours": "6", "action": "submit"},
               token_from="/teacher/declare/gongxu.provincial")
    assert r.status_code == 302
    [claim] = claims_of(platform, world.teachers["wang"].id)
    assert claim.state == "submitted"


def test_field_errors_are_chinese_and_next_to_the_field(client, world, platform):
    c = client("wang")
    r = c.post("/teacher/declare/zhuanye.self", {"in_kind": "打游戏", "in_hours": "-3", "on": "明天"},
               token_from="/teacher/declare/zhuanye.self")
    page = text(r)
    assert r.status_code == 200
    assert "请按提示修改标红的项目" in page
    assert re.search(r'name="in_kind"[^>]*>.*?不是可选的值', page, re.S)
    assert re.search(r'name="in_hours".*?不能为负数', page, re.S)
    assert "不是有效日期" in page
    r = c.post("/teacher/declare/zhuanye.self", {"in_kind": "学术会议"}, token_from="/teacher/declare/zhuanye.self")
    assert re.search(r'name="in_hours".*?必填', text(r), re.S)
    r = c.post("/teacher/declare/zhuanye.self", {"in_kind": "学术会议", "in_hours": "1.234"},
               token_from="/teacher/declare/zhuanye.self")
    assert "最多保留2位小数" in text(r)
    assert claims_of(platform, world.teachers["wang"].id) == []


def test_a_services_refusal_is_shown_as_worded(client, world, platform):
    c = client("wang")
    data = {"in_kind": "学术会议", "in_hours": "8", "in_certificate_no": "X-1", "action": "save"}
    assert c.post("/teacher/declare/zhuanye.self", data, token_from="/teacher/").status_code == 302
    r = c.post("/teacher/declare/zhuanye.self", data, token_from="/teacher/")
    assert r.status_code == 200 and "已有相同内容的记录，不能重复申报" in text(r)
    assert len(claims_of(platform, world.teachers["wang"].id)) == 1


def test_a_new_item_in_a_plugins_catalogue_is_a_new_form(tmp_path, database_url, world, clock):
    """The low-code part: an item added to a copy of 广州's catalogue, in a registry built from
    plugin objects, appears with its fields, labels, choices and validation; nothing else was
    written for it."""
    from admin import create_app
    from core.declarative import DeclarativePlugin
    from core.plugins import load_registry
    from core.services import Platform
    folder = tmp_path / "guangzhou"
    shutil.copytree(REPO / "plugins" / "guangzhou", folder, ignore=shutil.ignore_patterns("tests", "__pycache__"))
    with open(folder / "catalogue.yaml", "a", encoding="utf-8") as f:
        f.write("\n  zhuanye.test_new:\n"
                "    name: 测试新增的读书活动\n"
                "    channel: declaration\n"
                "    inputs:\n"
                "      book: {type: text, label: 书名, length: 40}\n"
                "      level: {type: level, choices: [county, city], label: 活动级别}\n"
                "      pages: {type: integer, min: 1, label: 页数}\n"
                "      read_on: {type: date, label: 读完日期}\n"
                "      shared: {type: bool, default: false, label: 是否在校内分享}\n"
                "      scores: {type: numbers, length: 2, min: 0, required: false, label: 两次测验成绩}\n"
                "    compute: declared\n"
                "    evidence: [读书笔记照片]\n")
    registry = load_registry(disabled={"guangzhou"}, extra={"guangzhou_copy": DeclarativePlugin(folder, "guangzhou")})
    assert not registry.check()
    platform = Platform(database_url, registry=registry, clock=clock)
    try:
        app = create_app({"JIJIAO_PLATFORM": platform, "SECRET_KEY": "t", "TESTING": True,
                          "JIJIAO_UPLOAD_DIR": str(tmp_path / "evidence")})
        c = Client(app)
        assert c.login("wang").status_code == 302
        assert "测试新增的读书活动" in text(c.get("/teacher/declare/"))
        page = text(c.get("/teacher/declare/zhuanye.test_new"))
        for name, label in (("in_book", "书名"), ("in_level", "活动级别"), ("in_pages", "页数"),
                            ("in_read_on", "读完日期"), ("in_shared", "是否在校内分享"), ("in_hours", "学时数"),
                            ("in_scores", "两次测验成绩"),
                            ("in_certificate_no", "证书编号")):
            assert f'name="{name}"' in page and label in page, name
        assert '<option value="county">县（区）级</option>' in page and 'value="province"' not in page
        assert 'maxlength="40"' in page and "读书笔记照片" in page
        assert re.search(r'name="in_read_on"[^>]*type="date"|type="date"[^>]*name="in_read_on"', page)
        assert re.search(r'type="checkbox"[^>]*name="in_shared"|name="in_shared"[^>]*type="checkbox"', page)
        r = c.post("/teacher/declare/zhuanye.test_new", {"in_book": "给教师的建议", "in_level": "city",
                                                         "in_pages": "2.5", "in_hours": "3"},
                   token_from="/teacher/declare/zhuanye.test_new")
        assert r.status_code == 200 and "应为整数" in text(r)
        r = c.post("/teacher/declare/zhuanye.test_new", {"in_book": "给教师的建议", "in_level": "city", "in_pages": "300",
                                                         "in_read_on": "2019-05-01", "in_shared": "y", "in_hours": "3",
                                                         "in_scores": "90，85.5",
                                                         "action": "save"},
                   token_from="/teacher/declare/zhuanye.test_new")
        assert r.status_code == 302, text(r)
        [claim] = claims_of(platform, world.teachers["wang"].id)
        assert claim.item_code == "zhuanye.test_new" and claim.amount_milli == 3000
        assert claim.inputs["level"] == "city" and claim.inputs["shared"] is True and claim.inputs["pages"] == 300
        assert claim.inputs["read_on"] == "2019-05-01" and claim.inputs["scores"] == [90, "85.5"]
    finally:
        platform.engine.dispose()


# -- actions and refusals ---------------------------------------------------------------------------

def test_withdraw_return_fix_and_resubmit(client, world, platform):
    c = client("wang")
    claims = world.svc("wang").claims
    claim = claims.submit(claims.declare(world.teachers["wang"].id, "zhuanye.self", {"kind": "学术会议", "hours": 9}).id)
    r = c.post(f"/teacher/claim/{claim.id}/withdraw", {"version": claim.version}, token_from="/teacher/")
    assert r.status_code == 302 and claims_of(platform, claim.teacher_id)[0].state == "draft"
    claim = claims.submit(claim.id)
    claim = world.svc("thzx_admin").claims.return_(claim.id, reason="证书照片不清楚，请重新拍照上传")
    page = text(c.get("/teacher/"))
    assert "退回原因：" in page and "证书照片不清楚，请重新拍照上传" in page and 'data-trigger="resubmit"' in page
    page = text(c.get(f"/teacher/claim/{claim.id}"))
    assert "证书照片不清楚" in page and 'id="jj-edit-form"' in page and 'value="9"' in page
    r = c.post(f"/teacher/claim/{claim.id}", {"in_kind": "学术会议", "in_hours": "10", "version": claim.version},
               token_from=f"/teacher/claim/{claim.id}")
    assert r.status_code == 302
    claim = claims_of(platform, claim.teacher_id)[0]
    assert claim.amount_milli == 10_000 and claim.state == "returned"
    r = c.post(f"/teacher/claim/{claim.id}/resubmit", {"version": claim.version}, token_from="/teacher/",
               follow_redirects=True)
    assert "已重新提交" in text(r)
    assert claims_of(platform, claim.teacher_id)[0].state == "submitted"


def test_wrong_state_and_stale_version_are_refused_as_the_services_word_them(client, world, platform):
    c = client("wang")
    claims = world.svc("wang").claims
    claim = claims.declare(world.teachers["wang"].id, "zhuanye.self", {"kind": "学术会议", "hours": 9})
    r = c.post(f"/teacher/claim/{claim.id}/withdraw", {"version": claim.version}, token_from="/teacher/",
               follow_redirects=True)
    assert "当前状态为「草稿」，不能撤回" in text(r)
    seen = claim.version
    claims.edit(claim.id, {"kind": "学术会议", "hours": 8}, expected_version=seen)  # changed elsewhere
    r = c.post(f"/teacher/claim/{claim.id}/submit", {"version": seen}, token_from="/teacher/", follow_redirects=True)
    assert "已被他人处理" in text(r) and "请刷新后重试" in text(r)
    r = c.post(f"/teacher/claim/{claim.id}", {"in_kind": "学术会议", "in_hours": "7", "version": seen},
               token_from="/teacher/")
    assert r.status_code == 200 and "版本已变化" in text(r)
    assert claims_of(platform, claim.teacher_id)[0].amount_milli == 8_000
    claim = claims.submit(claim.id)
    r = c.post(f"/teacher/claim/{claim.id}", {"in_kind": "学术会议", "in_hours": "7", "version": claim.version},
               token_from="/teacher/", follow_redirects=True)
    assert "只有草稿或被退回的记录可以修改" in text(r)
    r = c.post(f"/teacher/claim/{claim.id}/approve", {"version": claim.version}, token_from="/teacher/")
    assert r.status_code == 404  # not a teacher's action at all
    assert claims_of(platform, claim.teacher_id)[0].state == "submitted"


def test_someone_elses_claim_is_not_found(client, world):
    claims = world.svc("li").claims
    other = claims.declare(world.teachers["li"].id, "zhuanye.self", {"kind": "学术会议", "hours": 9})
    c = client("wang")
    assert c.get(f"/teacher/claim/{other.id}").status_code == 404
    assert c.post(f"/teacher/claim/{other.id}/submit", {"version": 1}, token_from="/teacher/").status_code == 404
    assert c.post(f"/teacher/claim/{other.id}", {"in_kind": "学术会议", "in_hours": "1", "version": 1},
                  token_from="/teacher/").status_code == 404
    assert c.get("/teacher/claim/999999").status_code == 404
    assert world.svc("li").claims.transition(other.id, "submit").state == "submitted"


def test_a_schools_registration_for_the_teacher_has_no_teacher_actions(client, world):
    recorded = world.svc("thzx_admin").claims.declare(world.teachers["wang"].id, "zhuanye.training", {"hours": 6})
    assert recorded.state == "recorded"
    c = client("wang")
    page = text(c.get("/teacher/"))
    card = page.split(f'id="claim-{recorded.id}"')[1]
    assert "已录入" in card.split('class="card mb-2')[0]
    assert "data-trigger" not in card and "修改" not in card
    page = text(c.get(f"/teacher/claim/{recorded.id}"))
    assert 'id="jj-edit-form"' not in page and "data-trigger" not in page and "/evidence\"" not in page
    r = c.post(f"/teacher/claim/{recorded.id}/submit", {"version": recorded.version}, token_from="/teacher/",
               follow_redirects=True)
    assert "只有申报人本人" in text(r)


def test_only_teachers_open_the_pages(client, world):
    assert client("thzx_admin").get("/teacher/").status_code == 403
    assert client().get("/teacher/").status_code == 302


# -- in a browser ----------------------------------------------------------------------------------

def _no_overflow(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_in_the_browser_declare_with_a_photo_see_it_and_submit(page_for, world, tmp_path):
    register(world, "gongxu.provincial", {"topic": "师德", "hours": 12})
    pending = world.svc("wang").claims.declare(world.teachers["wang"].id, "zhuanye.self", {"kind": "学术会议", "hours": 20})
    world.svc("wang").claims.submit(pending.id)
    returned = world.svc("wang").claims.declare(world.teachers["wang"].id, "zhuanye.self", {"kind": "培训进修", "hours": 6})
    world.svc("wang").claims.submit(returned.id)
    world.svc("thzx_admin").claims.return_(returned.id, reason="请补充学校盖章的学时证明")
    photo = tmp_path / "结业证书.png"
    photo.write_bytes(png_bytes((300, 200)))

    phone = page_for("wang", phone=True)
    base = page_for.base
    phone.goto(base + "/teacher/declare/")
    phone.click('[data-item="zhuanye.self"]')
    phone.wait_for_selector("#jj-declare-form")
    phone.select_option("#in_kind", "教研活动")
    phone.fill("#in_hours", "8")
    phone.fill("#in_certificate_no", "TH-2019-88")
    phone.set_input_files("#jj-files", str(photo))
    assert _no_overflow(phone)
    screenshot(phone, "teacher-declare-phone")
    phone.click("#jj-save")
    phone.wait_for_load_state("networkidle")
    assert "已保存草稿" in phone.content()
    card = phone.locator(".jj-claim-draft").first
    assert "证明材料 1 个" in card.inner_text()
    card.locator('button[data-trigger="submit"]').click()
    phone.wait_for_load_state("networkidle")
    assert "已提交" in phone.content()
    phone.locator(".jj-claim details").first.click()
    assert _no_overflow(phone), "the phone page must not scroll sideways"
    screenshot(phone, "teacher-progress-phone")
    phone.goto(base + f"/teacher/claim/{returned.id}")
    assert "请补充学校盖章的学时证明" in phone.content()
    assert _no_overflow(phone)
    screenshot(phone, "teacher-claim-phone")
    assert not phone.errors, phone.errors

    desktop = page_for("wang")
    desktop.goto(base + "/teacher/")
    assert desktop.locator(".jj-bar").count() == 3
    assert "请补充学校盖章的学时证明" in desktop.content()
    screenshot(desktop, "teacher-progress-desktop")
    assert not desktop.errors, desktop.errors
