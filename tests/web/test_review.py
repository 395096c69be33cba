"""The reviewer's pages: the queue at the actor's level with its count in the menu, filters that
never fail on bad input, a claim's detail with its explanation and audit history, approve /
return / reject (a reason is required), a refusal outside the window that names the window and
works once the district extends it, and bulk approval of everything matching a filter as a
background job reporting per claim."""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import select

from core.db.models import Claim, JobRecord
from core.db.scope import Actor


def declare(world, who="wang", teacher="wang", hours=50, kind="学术会议", submit=True):
    svc = world.svc(who).claims
    claim = svc.declare(world.teachers[teacher].id, "zhuanye.self", {"hours": hours, "kind": kind})
    return svc.submit(claim.id) if submit else claim


def state_of(platform, claim_id):
    with platform.transaction(Actor.system()) as s:
        return s.get(Claim, claim_id).state


def text(response):
    return response.get_data(as_text=True)


def flashes(html):
    return re.findall(r'jj-flash" role="alert">([^<]*)<', html)


def test_queue_shows_the_claims_waiting_at_my_level_with_the_count_in_the_menu(client, world):
    a, b = declare(world, hours=10), declare(world, hours=20)
    declare(world, "li", "li")  # 天河小学: another school's queue
    c = client("thzx_admin")
    page = text(c.get("/review/"))
    assert "王老师" in page and "李老师" not in page
    assert f'href="/review/claim/{a.id}"' in page and f'href="/review/claim/{b.id}"' in page
    assert page.index(f"/review/claim/{b.id}") < page.index(f"/review/claim/{a.id}")  # newest first
    assert re.search(r'id="jj-queue-count">2<', page), "the menu shows the queue's size"
    assert world.teachers["wang"].id_number not in page and "4401**********" in page  # masked
    assert "剩余 " in page and "2020-02-28" in page  # the school review window closes 2020-02-28
    # The district reviewer has nothing yet: the claims wait at the school.
    district = text(client("th_rev").get("/review/"))
    assert "没有符合条件的待审核记录" in district and "jj-queue-count" not in district


def test_filters_narrow_the_queue_and_bad_values_are_messages_not_errors(client, world):
    small, big = declare(world, hours=5), declare(world, hours=80)
    c = client("thzx_admin")
    page = text(c.get("/review/?amount_min=50"))
    assert f"/review/claim/{big.id}\"" in page and f"/review/claim/{small.id}\"" not in page
    page = text(c.get(f"/review/?q={small.id}"))
    assert f"/review/claim/{small.id}\"" in page and f"/review/claim/{big.id}\"" not in page
    assert f"/review/claim/{big.id}\"" in text(c.get("/review/?q=王老师&item=zhuanye.self&period=2019&state=submitted"))
    assert "没有符合条件" in text(c.get("/review/?q=王"))  # names match whole, never by prefix
    bad = c.get("/review/?school=abc&item=nope&state=x&period=%27%3B--&amount_min=-1&amount_max=zz"
                "&date_from=2019-13-01&date_to=yesterday&page=x")
    assert bad.status_code == 200
    messages = flashes(text(bad))
    assert "所选学校不存在或不在您的管辖范围内" in messages and "未知项目「nope」" in messages
    assert any("最少学时应为" in m for m in messages) and any("起始日期格式不正确" in m for m in messages)
    # A school outside the actor's scope is refused like a missing one.
    messages = flashes(text(c.get(f"/review/?school={world.nodes['thxx'].id}")))
    assert messages == ["所选学校不存在或不在您的管辖范围内"]


def test_detail_shows_inputs_explanation_history_and_out_of_scope_is_404(client, world):
    claim = declare(world, hours=12)
    page = text(client("thzx_admin").get(f"/review/claim/{claim.id}"))
    assert "王老师" in page and "学术会议" in page and "12" in page
    assert 'id="jj-explanation"' in page and 'id="jj-approve"' in page
    history = page.split('id="jj-history"')[1]
    assert "申报/录入" in history and "提交" in history and "wang" in history
    assert 'name="reason"' in page and "required" in page.split('id="jj-reason"')[1].split(">")[0]
    assert client("thxx_admin").get(f"/review/claim/{claim.id}").status_code == 404
    assert client("thzx_admin").get("/review/claim/999999").status_code == 404
    assert client("wang").get(f"/review/claim/{claim.id}").status_code == 403


def test_approve_then_return_and_reject_need_a_reason(client, world, platform):
    claim = declare(world)
    school = client("thzx_admin")
    url = f"/review/claim/{claim.id}"
    r = school.post(f"{url}/act", {"action": "approve", "version": claim.version}, token_from=url)
    assert r.status_code == 302 and state_of(platform, claim.id) == "in_review"
    district = client("th_rev")
    r = district.post(f"{url}/act", {"action": "return", "reason": "  "}, token_from=url)
    assert r.status_code == 302
    assert "退回或不予认定须填写原因" in flashes(text(district.get(url)))
    assert state_of(platform, claim.id) == "in_review"
    r = district.post(f"{url}/act", {"action": "return", "reason": "证书不清晰"}, token_from=url)
    assert state_of(platform, claim.id) == "returned"
    world.svc("wang").claims.resubmit(claim.id)
    school.post(f"{url}/act", {"action": "reject", "reason": "与本人无关"}, token_from=url)
    assert state_of(platform, claim.id) == "rejected"
    # Not this reviewer's turn, and a stale version: the services' words, nothing moves.
    other = declare(world, hours=7)
    r = district.post(f"/review/claim/{other.id}/act", {"action": "approve"}, token_from=url)
    assert "应由「天河中学」审核" in " ".join(flashes(text(district.get(f"/review/claim/{other.id}"))))
    r = school.post(f"/review/claim/{other.id}/act", {"action": "approve", "version": 0}, token_from=url)
    assert any("已被他人处理" in m for m in flashes(text(school.get(f"/review/claim/{other.id}"))))
    assert state_of(platform, other.id) == "submitted"


def test_an_action_outside_its_window_is_refused_naming_it_and_works_after_the_district_extends_it(
        client, world, platform, clock):
    claim = declare(world)
    clock.set(2020, 3, 1)  # the school review of 2019 closed on 2020-02-28
    school = client("thzx_admin")
    url = f"/review/claim/{claim.id}"
    assert "已截止" in (q := text(school.get("/review/"))) and "截止于 2020-02-28" in q
    school.post(f"{url}/act", {"action": "approve", "version": claim.version}, token_from=url)
    message = " ".join(flashes(text(school.get(url))))
    assert "「学校初审」时间为 2019-01-01 至 2020-02-28" in message and "已截止" in message
    assert state_of(platform, claim.id) == "submitted"
    world.svc("th_rev").windows.extend(jurisdiction="guangzhou", stage="review_school", period_key="2019",
                                       closes=date(2020, 3, 10), reason="系统维护，延期")
    assert "剩余 9 天" in (q := text(school.get("/review/"))) and "至 2020-03-10" in q
    school.post(f"{url}/act", {"action": "approve", "version": claim.version}, token_from=url)
    assert state_of(platform, claim.id) == "in_review"


def test_bulk_approval_of_everything_matching_the_filter_runs_as_a_job_and_reports_per_claim(
        client, world, platform, clock):
    clock.set(2018, 6, 1)
    late = declare(world, hours=30)  # a 2018 claim: its school review closed on 2019-02-28
    clock.set(2019, 6, 1)
    ok1, ok2 = declare(world, hours=31), declare(world, hours=32)
    small = declare(world, hours=3)  # outside the filter
    school = client("thzx_admin")
    r = school.post("/review/bulk", {"action": "approve", "scope": "filter", "amount_min": "10",
                                     "item": "zhuanye.self"}, token_from="/review/")
    assert r.status_code == 302 and "/review/job/" in r.headers["Location"]
    job_id = int(r.headers["Location"].rstrip("/").split("/")[-1])
    with platform.transaction(Actor.system()) as s:
        job = s.get(JobRecord, job_id)
        assert (job.kind, job.state, job.total, job.done) == ("review_bulk", "done", 3, 3)
        result = job.params["result"]
    assert result["ok"] == sorted([ok1.id, ok2.id])
    [(why, ids)] = result["refused"].items()
    assert ids == [late.id] and "「学校初审」时间为" in why and "已截止" in why
    assert [state_of(platform, i) for i in (ok1.id, ok2.id, late.id, small.id)] == \
        ["in_review", "in_review", "submitted", "submitted"]
    page = text(school.get(r.headers["Location"]))
    assert "成功 2 条，未处理 1 条" in page and f"#{late.id}" in page and "已截止" in page
    assert f'data-job-url="/jobs/{job_id}.json"' in page
    assert school.get(f"/jobs/{job_id}.json").get_json()["state"] == "done"
    rows = school.get(f"/review/job/{job_id}.csv").get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert rows[0] == "编号,结果,原因" and f"{ok1.id},已处理," in rows and any(r.startswith(f"{late.id},未处理,") for r in rows)
    # Another school's admin cannot see the job.
    assert client("thxx_admin").get(r.headers["Location"]).status_code == 404


def test_bulk_of_the_selection_and_its_refusals(client, world, platform):
    mine, theirs = declare(world), declare(world, "li", "li")
    school = client("thzx_admin")
    r = school.post("/review/bulk", {"action": "return", "scope": "selected", "ids": [mine.id]}, token_from="/review/")
    assert r.status_code == 302 and "批量退回须填写原因" in flashes(text(school.get("/review/")))
    r = school.post("/review/bulk", {"action": "return", "reason": "材料不全", "scope": "selected",
                                     "ids": [mine.id, theirs.id]}, token_from="/review/")
    page = text(school.get(r.headers["Location"]))
    assert "成功 1 条，未处理 1 条" in page and "找不到该记录，或不在您的管辖范围内" in page
    assert state_of(platform, mine.id) == "returned" and state_of(platform, theirs.id) == "submitted"
    r = school.post("/review/bulk", {"action": "approve", "scope": "selected", "ids": ["1; drop"]},
                    token_from="/review/")
    assert r.status_code == 302 and "所选记录有误" in " ".join(flashes(text(school.get("/review/"))))


@pytest.mark.parametrize("phone", [False, True])
def test_screenshots_of_the_review_queue(page_for, world, phone):
    from .conftest import screenshot
    for hours in (8, 12, 20, 36):
        declare(world, hours=hours)
    page = page_for("thzx_admin", phone=phone)
    failed = []
    page.on("response", lambda r: failed.append(r.url) if r.status >= 400 and "favicon" not in r.url else None)
    page.errors.clear()
    page.goto(page_for.base + "/review/")
    assert page.locator("#jj-queue tbody tr").count() == 4
    assert page.locator("#jj-queue-count").first.inner_text() == "4"
    screenshot(page, "review-queue-phone" if phone else "review-queue-desktop")
    if not phone:
        page.click("#jj-queue tbody tr:first-child td:nth-child(2) a")
        page.wait_for_load_state("networkidle")
        assert page.locator("#jj-approve").is_visible()
        screenshot(page, "review-detail")
        page.click("#jj-approve")
        page.wait_for_load_state("networkidle")
        assert page.locator("#jj-queue tbody tr").count() == 3
        page.check("#jj-check-all")
        with page.expect_navigation():
            page.click("#jj-bulk-selected")
        page.wait_for_selector("#jj-job-summary")
        assert "成功 3 条" in page.inner_text("#jj-job-summary")
        screenshot(page, "review-job")
    assert failed == []
    assert [e for e in page.errors if "404" not in e] == []  # a 404 here is the browser's favicon


def test_a_filter_without_an_index_looks_through_a_bounded_window_and_offers_to_go_on(client, world, monkeypatch):
    from admin.views import review
    old = declare(world, hours=40)
    for hours in (1, 2, 3):
        declare(world, hours=hours)
    monkeypatch.setattr(review, "SCAN_WINDOW", 2)
    c = client("thzx_admin")
    page = text(c.get("/review/?amount_min=30"))
    assert f"/review/claim/{old.id}\"" not in page and 'id="jj-scan-more"' in page
    further = re.search(r'id="jj-scan-more" href="([^"]+)"', page).group(1).replace("&amp;", "&")
    page = text(c.get(further))
    assert f"/review/claim/{old.id}\"" in page
    # Keyset pages: "next" continues below the last claim shown.
    monkeypatch.setattr(review, "PAGE_SIZE", 2)
    page = text(c.get("/review/"))
    nxt = re.search(r'id="jj-next" href="([^"]+)"', page).group(1).replace("&amp;", "&")
    assert f"/review/claim/{old.id}\"" in text(c.get(nxt)) and f"/review/claim/{old.id}\"" not in page


def test_evidence_is_previewed_inline_when_it_is_an_image_or_a_pdf(app, client, world, platform):
    from flask import Blueprint
    from core.db.models import Evidence
    from .conftest import Client
    claim = declare(world)
    with platform.transaction(Actor.system()) as s:
        for name, kind in (("证书.png", "image/png"), ("培训证明.pdf", "application/pdf"), ("说明.docx", "application/msword")):
            s.add(Evidence(claim_id=claim.id, filename=name, content_type=kind, size=2048, sha256="0" * 64,
                           stored_as="x", scope_path=claim.scope_path))
    if "evidence.download" not in app.view_functions:
        # The teacher's pages serve evidence (``evidence.download``); without them, names only.
        from admin import create_app
        bare = Client(create_app({"JIJIAO_PLATFORM": platform, "SECRET_KEY": "x", "TESTING": True}))
        bare.login("thzx_admin")
        page = text(bare.get(f"/review/claim/{claim.id}"))
        assert "证书.png" in page and "附件预览暂不可用" in page and "<img" not in page
        bp = Blueprint("evidence", __name__)
        bp.add_url_rule("/evidence/<int:evidence_id>", "download", lambda evidence_id: "")
        app.register_blueprint(bp)
    page = text(client("thzx_admin").get(f"/review/claim/{claim.id}"))
    assert "证书.png" in page and "培训证明.pdf" in page and "说明.docx" in page
    assert re.search(r'<img src="/evidence/\d+\?inline=1"', page)
    assert re.search(r'<iframe src="/evidence/\d+\?inline=1"', page)
    assert page.count("inline=1") == 2  # a Word file is a download link, not a preview


def test_a_job_that_breaks_is_marked_failed_with_what_was_done(client, world, platform, monkeypatch):
    from core.services.claims import ClaimService
    claim = declare(world)

    def broken(self, *a, **kw):
        raise RuntimeError("disk full")
    monkeypatch.setattr(ClaimService, "bulk", broken)
    school = client("thzx_admin")
    r = school.post("/review/bulk", {"action": "approve", "scope": "selected", "ids": [claim.id]},
                    token_from="/review/")  # the error goes to the worker (Huey), the page shows the job
    assert r.status_code == 302 and "系统错误" in text(school.get(r.headers["Location"]))
    with platform.transaction(Actor.system()) as s:
        job = s.scalars(select(JobRecord)).one()
        assert job.state == "failed" and "系统错误" in job.message and job.params["result"]["ok"] == []
    assert state_of(platform, claim.id) == "submitted"
