"""Provincial IT and the auditor in the browser: the plugins page (all built-in plugins with their
versions, a parameter's dated values and source, rule cases run on the spot, the workflow drawn
from its Machine), the organisation tree (add, move, attach, with audit rows; the review-chain
check), users and roles, and the audit log (the auditor reads and changes nothing)."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from core.db.models import AuditRecord, OrgNode, Teacher, User
from core.db.scope import Actor
from core.workflow import load_workflow

from .conftest import screenshot

BUILT_IN = ("echeng", "guangzhou", "hainan", "jining", "lengshuijiang", "wutongqiao", "zhengzhou", "zhongshan")


def audit_rows(platform, entity_type):
    with platform.transaction(Actor.system()) as s:
        return s.execute(select(AuditRecord.trigger, AuditRecord.entity_id, AuditRecord.detail)
                         .where(AuditRecord.entity_type == entity_type).order_by(AuditRecord.seq)).all()


def node(platform, node_id):
    with platform.transaction(Actor.system()) as s:
        n = s.get(OrgNode, node_id)
        s.expunge(n)
        return n


def audit_count(platform):
    with platform.transaction(Actor.system()) as s:
        return s.scalar(select(func.max(AuditRecord.seq)))


# -- plugins -------------------------------------------------------------------------------------

def test_plugins_list_shows_every_built_in_plugin_with_its_version(client):
    from importlib.metadata import version
    page = client("admin").get("/it/plugins/").get_data(as_text=True)
    for name in BUILT_IN:
        row = re.search(rf'<tr data-plugin="{name}">(.*?)</tr>', page, re.S)
        assert row, name
        assert version("jijiao") in row.group(1) and "jijiao" in row.group(1)
        assert f'/it/plugins/{name}"' in row.group(1)


def test_plugin_detail_shows_dated_values_and_their_source(client):
    page = client("admin").get("/it/plugins/guangzhou").get_data(as_text=True)
    row = re.search(r'<tr data-parameter="pass_total">(.*?)</tr>', page, re.S).group(1)
    assert "自 2019-01-01 起" in row and ">72<" in row
    # the reference "notice2019 二、验证内容" resolved to the notice's title, with its clause
    assert "二、验证内容" in row and "《" in row
    assert "学校初审" in page  # review levels
    assert "教师个人申报" in page and "next 01-31" in page  # stage windows, every dated value
    assert "自 2020-01-01 起" in page


def test_plugin_detail_shows_every_dated_value_of_a_parameter(client, platform):
    from dataclasses import replace
    from datetime import date
    from core.types import DatedValue
    params = platform.registry.bundle("guangzhou").parameters
    original = params["pass_total"]
    params["pass_total"] = replace(original, values=original.values + (DatedValue(date(2021, 1, 1), 80),))
    try:
        page = client("admin").get("/it/plugins/guangzhou").get_data(as_text=True)
    finally:
        params["pass_total"] = original
    row = re.search(r'<tr data-parameter="pass_total">(.*?)</tr>', page, re.S).group(1)
    assert row.index("自 2019-01-01 起") < row.index(">72<") < row.index("自 2021-01-01 起") < row.index(">80<")


def test_plugin_detail_marks_assumed_parameters(client, platform):
    registry = platform.registry
    code, name = next((c, p.name) for c in registry.codes() for p in registry.bundle(c).parameters.values()
                      if p.assumed)
    page = client("admin").get(f"/it/plugins/{code}").get_data(as_text=True)
    row = re.search(rf'<tr data-parameter="{name}">(.*?)</tr>', page, re.S).group(1)
    assert "假定值" in row


def test_running_the_rule_cases_of_a_built_in_plugin_passes_them_all(client):
    c = client("admin")
    r = c.post("/it/plugins/lengshuijiang/cases", token_from="/it/plugins/lengshuijiang")
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    passed = page.count('class="jj-case-pass"')
    assert passed >= 10 and 'jj-case-fail' not in page
    assert f"{passed} 个通过，0 个失败" in page


def test_a_failing_rule_case_shows_its_difference(platform, tmp_path):
    from core.services.plugins_info import run_cases
    from core.types import CaseSource
    source = platform.registry.bundle("guangzhou").case_sources[0]
    text = next(p for p in __import__("pathlib").Path(source.path).rglob("*.yaml")).read_text(encoding="utf-8")
    wrong = re.sub(r"(passed:\s*)(true|false)", lambda m: m.group(1) + ("false" if m.group(2) == "true" else "true"),
                   text, count=1)
    (tmp_path / "cases.yaml").write_text(wrong, encoding="utf-8")
    bundle = platform.registry.bundle("guangzhou")
    original = list(bundle.case_sources)
    bundle.case_sources[:] = [CaseSource("guangzhou", str(tmp_path))]
    try:
        outcomes = run_cases(platform.registry, "guangzhou")
    finally:
        bundle.case_sources[:] = original
    failed = [o for o in outcomes if not o.passed]
    assert len(failed) == 1 and failed[0].diffs[0].startswith("passed: 期望")


def test_unknown_plugin_is_404_and_other_roles_may_not_open_the_page(client):
    assert client("admin").get("/it/plugins/nowhere").status_code == 404
    for user in ("wang", "th_rev", "auditor"):
        assert client(user).get("/it/plugins/").status_code == 403


def test_the_workflow_svg_contains_every_state_of_the_declaration_workflow(client):
    from workflows import WORKFLOW_DIR
    definition = load_workflow(f"{WORKFLOW_DIR}/declaration.yaml")
    page = client("admin").get("/it/plugins/guangzhou").get_data(as_text=True)
    svg = re.search(r'<svg[^>]*id="wf-declaration".*?</svg>', page, re.S).group(0)
    for state, label in definition.states.items():
        assert f'data-state="{state}"' in svg and label in svg
    for t in definition.transitions:
        assert t.label in svg
    assert "<script" not in svg.lower()


def test_workflow_graph_escapes_labels():
    from core.workflow import Workflow, WorkflowDef, TransitionDef
    from core.workflow_graph import workflow_svg
    d = WorkflowDef("x", "<b>", "claim", "a", ("b",), {"a": "<script>alert(1)</script>", "b": "B&B"},
                    (TransitionDef("go", "走<", ("a",), "b", "claimant", (), ()),))
    svg = workflow_svg(Workflow(d))
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "B&amp;B" in svg and "走&lt;" in svg


# -- the organisation tree ----------------------------------------------------------------------

def test_tree_add_move_and_attach_write_audit_rows(client, platform, world):
    c = client("admin")
    gz, th = world.nodes["gz"], world.nodes["th"]
    page = c.get(f"/it/tree/?node={gz.id}").get_data(as_text=True)
    assert "天河区" in page and "广州市直属中学" in page
    r = c.post("/it/tree/add", {"parent_id": gz.id, "kind": "district", "name": "越秀区", "code": "yx"},
               token_from="/it/tree/")
    assert r.status_code == 302
    with platform.transaction(Actor.system()) as s:
        yx = s.scalars(select(OrgNode).where(OrgNode.code == "yx")).one()
        yx_id, yx_path = yx.id, yx.path
    assert yx_path == f"{gz.path}{yx_id}/"
    # a school added under the new district, then moved (with its teacher) to 天河区
    c.post("/it/tree/add", {"parent_id": yx_id, "kind": "school", "name": "越秀小学"}, token_from="/it/tree/")
    with platform.transaction(Actor.system()) as s:
        school_id = s.scalar(select(OrgNode.id).where(OrgNode.name == "越秀小学"))
    world.platform.services(Actor.system()).org.add_teacher(
        name="周老师", id_number=__import__("core.idnumber", fromlist=["make"]).make(
            "440106", __import__("datetime").date(1990, 1, 1), 321), home_school_id=school_id)
    r = c.post("/it/tree/move", {"node_id": school_id, "new_parent_id": th.id}, token_from="/it/tree/")
    assert r.status_code == 302
    moved = node(platform, school_id)
    assert moved.path == f"{th.path}{school_id}/" and moved.parent_id == th.id and moved.depth == th.depth + 1
    with platform.transaction(Actor.system()) as s:
        assert s.scalar(select(Teacher.scope_path).where(Teacher.name == "周老师")) == moved.path
    # attach a plugin at the new (empty) district, then detach it
    r = c.post("/it/tree/jurisdiction", {"node_id": yx_id, "jurisdiction": "zhongshan"}, token_from="/it/tree/")
    assert "应挂接在市级机构上" in c.get(r.headers["Location"]).get_data(as_text=True)  # a city's plugin
    c.post("/it/tree/jurisdiction", {"node_id": yx_id, "jurisdiction": "jining"}, token_from="/it/tree/")
    assert node(platform, yx_id).jurisdiction == "jining"
    c.post("/it/tree/jurisdiction", {"node_id": yx_id, "jurisdiction": ""}, token_from="/it/tree/")
    assert node(platform, yx_id).jurisdiction is None
    rows = audit_rows(platform, "org_node")
    assert [t for t, _, _ in rows] == ["create", "create", "move", "attach_plugin", "detach_plugin"]
    assert rows[2].detail["to_parent_id"] == th.id


def test_moves_that_make_no_sense_are_refused_with_a_reason(client, platform, world):
    zs = platform.services(Actor.system()).org.add_node(world.nodes["gd"].id, "city", "中山市",
                                                        jurisdiction="zhongshan")
    c = client("admin")
    gz, th, thzx = world.nodes["gz"], world.nodes["th"], world.nodes["thzx"]
    cases = [({"node_id": gz.id, "new_parent_id": th.id}, "下级机构"),        # under its own descendant
             ({"node_id": th.id, "new_parent_id": world.nodes["szs"].id}, "不能移到"),  # a district under a school
             ({"node_id": thzx.id, "new_parent_id": zs.id}, "考核规则"),     # its teacher would change plugin
             ({"node_id": world.nodes["gd"].id, "new_parent_id": zs.id}, "最上级")]
    for data, words in cases:
        before = node(platform, data["node_id"]).path
        r = c.post("/it/tree/move", data, token_from="/it/tree/")
        page = c.get(r.headers["Location"]).get_data(as_text=True)
        assert words in page, (data, page[page.find("alert"):][:300])
        assert node(platform, data["node_id"]).path == before
    assert audit_rows(platform, "org_node") == []


def test_attaching_a_plugin_that_would_change_teachers_rules_is_refused(client, platform, world):
    c = client("admin")
    th = world.nodes["th"]
    r = c.post("/it/tree/jurisdiction", {"node_id": th.id, "jurisdiction": "jining"}, token_from="/it/tree/")
    assert "考核规则" in c.get(r.headers["Location"]).get_data(as_text=True)
    assert node(platform, th.id).jurisdiction is None


def test_tree_children_load_lazily_as_json_and_outside_scope_is_404(client, platform, world):
    c = client("admin")
    data = c.get(f"/it/tree/children/{world.nodes['gz'].id}.json").get_json()
    names = {child["name"] for child in data["children"]}
    assert names == {"天河区", "广州市直属中学"}
    assert next(ch for ch in data["children"] if ch["name"] == "天河区")["has_children"] is True
    assert c.get(f"/it/tree/children/{world.nodes['hb'].id}.json").status_code == 404
    assert c.get(f"/it/tree/?node={world.nodes['ec'].id}").status_code == 404
    r = c.post("/it/tree/move", {"node_id": world.nodes["ec"].id, "new_parent_id": world.nodes["gz"].id},
               token_from="/it/tree/")
    assert r.status_code == 404


def test_chain_check_finds_a_school_with_an_incomplete_chain(client, platform, world):
    # guangzhou's second level needs a district or the city: a school under a bare "town" node
    # placed straight under the province of 湖北 (no plugin) and a school under a district in
    # 湖北 without a plugin have incomplete chains.
    org = platform.services(Actor.system()).org
    lone = org.add_node(world.nodes["hb"].id, "city", "孤城市")
    org.add_node(lone.id, "school", "孤城小学")
    c = client("admin")
    # the platform admin of 广东 sees only 广东: build the broken school there too
    town = org.add_node(world.nodes["gd"].id, "town", "无区镇", jurisdiction="guangzhou")
    org.add_node(town.id, "school", "无区镇小学")
    page = c.get(f"/it/tree/check?node={world.nodes['gd'].id}").get_data(as_text=True)
    problems = re.search(r'<table[^>]*id="chain-problems".*?</table>', page, re.S).group(0)
    assert "无区镇小学" in problems and "审核链不完整" in problems
    assert "天河中学" not in problems and "孤城小学" not in problems  # fine / out of scope
    assert "共检查 4 所学校，审核链不完整的 1 所" in page


# -- users ---------------------------------------------------------------------------------------

def test_users_list_create_disable_and_reset(client, platform, world):
    c = client("admin")
    page = c.get("/it/users/").get_data(as_text=True)
    assert "thzx_admin" in page and "cgxx_admin" not in page  # 湖北 is outside 广东
    assert "pbkdf2" not in page
    r = c.post("/it/users/create", {"username": "th_rev2", "display_name": "天河审核二", "role": "reviewer",
                                     "node_id": world.nodes["th"].id, "password": "abc12345", "confirm": "abc12345"},
               token_from="/it/users/")
    assert r.status_code == 302
    assert client("th_rev2", "abc12345").get("/").status_code == 200
    with platform.transaction(Actor.system()) as s:
        uid = s.scalar(select(User.id).where(User.username == "th_rev2"))
    other = client("th_rev2", "abc12345")
    c.post(f"/it/users/{uid}/active", {"active": "0"}, token_from="/it/users/")
    assert other.get("/").status_code == 302  # signed out
    c.post(f"/it/users/{uid}/active", {"active": "1"}, token_from="/it/users/")
    c.post(f"/it/users/{uid}/password", {"password": "newpass99", "confirm": "newpass99"}, token_from="/it/users/")
    assert client("th_rev2", "newpass99").get("/").status_code == 200
    triggers = [t for t, i, _ in audit_rows(platform, "user") if i == uid]
    assert triggers[:1] == ["create"] and "disabled" in triggers and "enabled" in triggers
    assert "password_reset" in triggers
    # a node outside scope, a weak password: refused, no user
    r = c.post("/it/users/create", {"username": "x_hb", "display_name": "x", "role": "reviewer",
                                     "node_id": world.nodes["ec"].id, "password": "abc12345", "confirm": "abc12345"},
               token_from="/it/users/")
    assert r.status_code == 404
    r = c.post("/it/users/create", {"username": "weakling", "display_name": "x", "role": "reviewer",
                                     "node_id": world.nodes["th"].id, "password": "12345678", "confirm": "12345678"},
               token_from="/it/users/")
    assert "字母和数字" in c.get(r.headers["Location"]).get_data(as_text=True)
    with platform.transaction(Actor.system()) as s:
        assert s.scalar(select(func.count()).select_from(User).where(User.username.in_(["x_hb", "weakling"]))) == 0
    # a user outside scope cannot be disabled
    assert c.post(f"/it/users/{world.actors['cgxx_admin'].user_id}/active", {"active": "0"},
                  token_from="/it/users/").status_code == 404


def test_the_create_form_offers_no_node_outside_scope(client, world):
    page = client("admin").get("/it/users/").get_data(as_text=True)
    select_html = re.search(r'<select[^>]*id="nu-node".*?</select>', page, re.S).group(0)
    assert "广州市" in select_html and "鄂城区" not in select_html and "湖北省" not in select_html


# -- the audit log -------------------------------------------------------------------------------

def test_auditor_reads_the_log_filters_it_and_verifies_the_chain(client, world):
    c = client("auditor")
    page = c.get("/audit/").get_data(as_text=True)
    assert 'id="audit-table"' in page and "登录" in page
    page = c.get("/audit/?entity_type=teacher&trigger=create").get_data(as_text=True)
    rows = re.findall(r'<tr data-seq="(\d+)">', page)
    assert len(rows) == 3  # the three teachers of 广东 (湖北's two are outside the auditor's scope)
    page = c.get("/audit/?entity_id=abc&start=2019-13-01").get_data(as_text=True)
    assert "对象编号应为正整数" in page and "应写作 YYYY-MM-DD" in page
    page = c.get("/audit/?start=2000-01-01&end=2000-01-02").get_data(as_text=True)
    assert "没有符合条件的记录" in page
    r = c.post("/audit/verify", token_from="/audit/")
    assert r.status_code == 200
    assert "审计链完整" in r.get_data(as_text=True)


def test_audit_log_pages_by_seq(client, platform, world):
    from core.audit import append
    system = platform.services(Actor.system())
    with platform.transaction(Actor.system()) as s:
        append(s, [system.audit_entry(entity_type="teacher", entity_id=i, trigger="edit", from_state=None,
                                      to_state=None, scope_path=world.nodes["thzx"].path) for i in range(60)])
    c = client("admin")
    page = c.get("/audit/").get_data(as_text=True)
    seqs = [int(s) for s in re.findall(r'<tr data-seq="(\d+)">', page)]
    assert seqs == sorted(seqs, reverse=True) and len(seqs) == 50
    more = re.search(r'href="([^"]+)" id="audit-next"', page).group(1).replace("&amp;", "&")
    older = [int(s) for s in re.findall(r'<tr data-seq="(\d+)">', c.get(more).get_data(as_text=True))]
    assert older and max(older) < min(seqs)


def test_auditor_cannot_post_anything_that_changes_data(client, platform, world):
    c = client("auditor")
    token_page = "/audit/"
    before = audit_count(platform)
    th, gz = world.nodes["th"], world.nodes["gz"]
    attempts = [
        ("/it/tree/add", {"parent_id": gz.id, "kind": "district", "name": "审计员的区"}),
        ("/it/tree/move", {"node_id": th.id, "new_parent_id": world.nodes["gd"].id}),
        ("/it/tree/jurisdiction", {"node_id": th.id, "jurisdiction": "zhongshan"}),
        ("/it/users/create", {"username": "sneaky", "display_name": "s", "role": "auditor", "node_id": gz.id,
                              "password": "abc12345", "confirm": "abc12345"}),
        (f"/it/users/{world.actors['wang'].user_id}/active", {"active": "0"}),
        (f"/it/users/{world.actors['wang'].user_id}/password", {"password": "abc12345", "confirm": "abc12345"}),
        ("/it/plugins/guangzhou/cases", {}),
    ]
    for url, data in attempts:
        assert c.post(url, data, token_from=token_page).status_code == 403, url
    assert audit_count(platform) == before
    assert node(platform, th.id).path == th.path and node(platform, th.id).jurisdiction is None
    with platform.transaction(Actor.system()) as s:
        assert s.scalar(select(User.id).where(User.username == "sneaky")) is None
        assert s.scalar(select(User.active).where(User.username == "wang")) is True
    page = c.get("/audit/").get_data(as_text=True)
    forms = re.findall(r'<form[^>]*method="post"[^>]*action="([^"]+)"', page)
    assert set(forms) <= {"/audit/verify", "/logout", "/account/role", "/language/zh_Hans_CN", "/language/en"}, forms


# -- the browser ---------------------------------------------------------------------------------

def test_screens_in_a_real_browser(page_for, world):
    page = page_for("admin")
    base = page_for.base
    missing = []
    page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
    page.errors.clear()  # the sign-in page's own (a missing favicon) are not this page's
    page.goto(base + "/it/plugins/")
    assert page.locator("#plugins-table tbody tr").count() == len(BUILT_IN)
    screenshot(page, "plugins-list")
    page.goto(base + "/it/plugins/guangzhou")
    page.click("#run-cases button")
    page.wait_for_selector("#case-results")
    assert page.locator(".jj-case-fail").count() == 0
    page.click('a[href="#tab-workflow"]')
    page.wait_for_selector("#wf-declaration", state="visible")
    screenshot(page, "plugin-detail")
    page.click('a[href="#tab-parameters"]')
    page.wait_for_selector("#parameters-table", state="visible")
    screenshot(page, "plugin-detail-parameters")
    page.goto(base + "/it/tree/")
    # 广州市 opens: its children come from the JSON endpoint, then 天河区's
    page.click(f'li[data-node="{world.nodes["gz"].id}"] > .jj-toggle')
    page.wait_for_selector(f'li[data-node="{world.nodes["th"].id}"]')
    page.click(f'li[data-node="{world.nodes["th"].id}"] > .jj-toggle')
    page.wait_for_selector("text=天河中学")
    screenshot(page, "org-tree")
    page.goto(base + "/it/users/")
    screenshot(page, "users")
    page.goto(base + "/audit/")
    page.click("#verify-chain button")
    page.wait_for_selector("#verify-report")
    auditor = page_for("auditor")
    auditor.errors.clear()
    auditor.goto(base + "/audit/")
    auditor.click("#verify-chain button")
    auditor.wait_for_selector("#verify-report")
    assert "审计链完整" in auditor.inner_text("#verify-report")
    assert auditor.locator("#audit-table tbody tr").count() > 3
    screenshot(auditor, "audit-log")
    assert not [e for e in auditor.errors if "404" not in e], auditor.errors
    assert all("favicon" in url for url in missing), missing
    assert not [e for e in page.errors if "404" not in e], page.errors
    phone = page_for("admin", phone=True)
    phone.errors.clear()
    phone.goto(base + "/it/plugins/")
    screenshot(phone, "plugins-list-phone")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 380, width
    phone.goto(base + "/it/plugins/guangzhou#tab-workflow")
    phone.wait_for_selector("#wf-declaration", state="visible")
    screenshot(phone, "plugin-detail-phone")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 380
    phone.goto(base + f"/it/tree/?node={world.nodes['gz'].id}")
    phone.click(f'li[data-node="{world.nodes["th"].id}"] > .jj-toggle')
    phone.wait_for_selector("text=天河中学")
    screenshot(phone, "org-tree-phone")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 380
    phone.goto(base + "/it/users/")
    screenshot(phone, "users-phone")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 380
    assert not [e for e in phone.errors if "404" not in e], phone.errors


def test_bad_input_never_gives_a_500(client, world):
    c = client("admin")
    gets = ["/it/tree/?node=abc&offset=-3", "/it/tree/?q=%25_%27", "/it/tree/check?node=99999999",
            "/it/tree/children/0.json?offset=x", "/it/users/?after=zz&q=%25", "/it/users/?node=abc",
            "/audit/?before=-1&entity_id=99999999999999999999999", "/audit/?start=2019-02-30&end=x",
            "/it/plugins/%3Cscript%3E"]
    for url in gets:
        assert c.get(url).status_code in (200, 404), url
    th = world.nodes["th"].id
    posts = [("/it/tree/add", {"parent_id": th, "kind": "bogus", "name": "x" * 500}),
             ("/it/tree/add", {"parent_id": "x", "kind": "school", "name": "y"}),
             ("/it/tree/add", {"parent_id": th, "kind": "school", "name": "  "}),
             ("/it/tree/move", {"node_id": th, "new_parent_id": "abc"}),
             ("/it/tree/move", {"node_id": th, "new_parent_id": 10**30}),
             ("/it/tree/jurisdiction", {"node_id": th, "jurisdiction": "nowhere"}),
             ("/it/users/create", {"username": "a b", "display_name": "", "role": "king", "node_id": th,
                                   "password": "x", "confirm": "x"}),
             ("/it/users/create", {"username": "admin", "display_name": "重名", "role": "reviewer", "node_id": th,
                                   "password": "abc12345", "confirm": "abc12345"}),
             (f"/it/users/{world.actors['thzx_admin'].user_id}/password", {"password": "short", "confirm": "short"})]
    for url, data in posts:
        r = c.post(url, data, token_from="/it/users/")
        assert r.status_code in (302, 404), (url, r.status_code)
    page = c.get("/it/users/").get_data(as_text=True)
    assert "已存在" in page or "密码至少" in page


def test_a_school_with_records_under_review_is_not_moved(client, platform, world):
    claim = world.svc("wang").claims.declare(world.teachers["wang"].id, "zhuanye.self", {"hours": 50, "kind": "学术会议"})
    world.svc("wang").claims.submit(claim.id)
    # a second district of 广州 (same plugin): only the record under review stops the move
    other = platform.services(Actor.system()).org.add_node(world.nodes["gz"].id, "district", "海珠区")
    c = client("admin")
    thzx = world.nodes["thzx"]
    r = c.post("/it/tree/move", {"node_id": thzx.id, "new_parent_id": other.id}, token_from="/it/tree/")
    assert "正在审核" in c.get(r.headers["Location"]).get_data(as_text=True)
    assert node(platform, thzx.id).path == thzx.path
    # the empty 天河小学 has nothing under review: it moves
    thxx = world.nodes["thxx"]
    c.post("/it/tree/move", {"node_id": thxx.id, "new_parent_id": other.id}, token_from="/it/tree/")
    assert node(platform, thxx.id).path == f"{other.path}{thxx.id}/"


# -- on the hardened data layer: service sessions ------------------------------------------------

def test_a_district_moves_whole_with_its_records_in_a_service_session(client, platform, world):
    """A multi-level move: every node path and depth under the district, and the scope_path of its
    teachers and their (draft) records, rewritten; the audit trail keeps its paths."""
    from core.db.models import Claim
    fs = platform.services(Actor.system()).org.add_node(world.nodes["gd"].id, "city", "佛山市",
                                                        jurisdiction="guangzhou")
    claim = world.svc("wang").claims.declare(world.teachers["wang"].id, "zhuanye.self",
                                             {"hours": 50, "kind": "学术会议"})
    th, thzx = world.nodes["th"], world.nodes["thzx"]
    audit_paths = dict((t, p) for t, p in _audit_paths(platform))
    c = client("admin")
    r = c.post("/it/tree/move", {"node_id": th.id, "new_parent_id": fs.id}, token_from="/it/tree/")
    assert r.status_code == 302
    assert "已将「天河区」移到新的上级机构之下" in c.get(r.headers["Location"]).get_data(as_text=True)
    moved, school = node(platform, th.id), node(platform, thzx.id)
    assert moved.path == f"{fs.path}{th.id}/" and moved.parent_id == fs.id and moved.depth == fs.depth + 1
    assert school.path == f"{moved.path}{thzx.id}/" and school.depth == moved.depth + 1
    with platform.transaction(Actor.system()) as s:
        assert s.scalar(select(Teacher.scope_path).where(Teacher.id == world.teachers["wang"].id)) == school.path
        assert s.scalar(select(Claim.scope_path).where(Claim.id == claim.id)) == school.path
    assert {t: p for t, p in _audit_paths(platform) if t in audit_paths} == audit_paths  # hash-chained rows kept
    # the page at the moved district still shows its plugin, inherited from the new city
    assert "guangzhou" in c.get(f"/it/tree/?node={th.id}").get_data(as_text=True)


def _audit_paths(platform):
    with platform.transaction(Actor.system()) as s:
        return s.execute(select(AuditRecord.seq, AuditRecord.scope_path)).all()


def test_a_page_session_cannot_move_nodes_itself(platform, world):
    """What the service does in its own session is refused in a page session."""
    from sqlalchemy import update
    from core.db.scope import ScopeError
    import pytest
    admin = world.actors["admin"]
    with pytest.raises(ScopeError):
        with platform.transaction(admin) as s:
            s.execute(update(OrgNode).where(OrgNode.id == world.nodes["thzx"].id).values(path="/1/x/"))
    with pytest.raises(ScopeError):
        with platform.transaction(admin) as s:
            s.execute(select(OrgNode.id).execution_options(skip_scope=True)).all()


def test_only_a_platform_admin_uses_the_it_services(platform, world):
    from core.errors import JijiaoError
    from core.services.auditcheck import AuditCheckService
    from core.services.orgtree import OrgTreeService
    from core.services.users import UserAdminService
    import pytest
    svc = world.svc("th_rev")
    for fn in (lambda: OrgTreeService(svc).governing(world.nodes["th"].id),
               lambda: OrgTreeService(svc).chain_check(world.nodes["th"].id),
               lambda: OrgTreeService(svc).move_node(world.nodes["thzx"].id, world.nodes["gz"].id),
               lambda: UserAdminService(svc).list(),
               lambda: UserAdminService(svc).reset_password(world.actors["thzx_admin"].user_id, "abc12345x"),
               lambda: AuditCheckService(world.svc("thzx_admin")).verify()):
        with pytest.raises(JijiaoError):
            fn()
    assert AuditCheckService(world.svc("auditor")).verify().ok


def test_verify_shows_the_signed_checkpoints_and_a_missing_one(monkeypatch, platform):
    """With JIJIAO_AUDIT_KEY every append signs the head: the page reports the checkpoints checked,
    and a deleted last checkpoint is found. The auditor's check writes nothing."""
    from sqlalchemy import delete
    from core.db.models import AuditCheckpoint
    from tests.db.world import build
    monkeypatch.setenv("JIJIAO_AUDIT_KEY", "a key kept outside the database")
    build(platform)  # the world's records, each with its checkpoint
    from admin import create_app
    import tests.web.conftest as web
    app = create_app({"JIJIAO_PLATFORM": platform, "SECRET_KEY": "test-secret", "TESTING": True})
    c = web.Client(app)
    assert c.login("auditor", "secret").status_code == 302
    with platform.transaction(Actor.system()) as s:
        before = s.scalar(select(func.count()).select_from(AuditCheckpoint))
    r = c.post("/audit/verify", token_from="/audit/")
    page = r.get_data(as_text=True)
    assert "审计链完整" in page and "链头已签名" in page and "签名检查点" in page
    with platform.transaction(Actor.system()) as s:
        # the auditor's sign-in appended a record (and its checkpoint); the check itself wrote none
        last = s.scalar(select(func.max(AuditCheckpoint.seq)))
        assert s.scalar(select(func.count()).select_from(AuditCheckpoint)) >= before
        counted = s.scalar(select(func.count()).select_from(AuditCheckpoint))
        s.execute(delete(AuditCheckpoint).where(AuditCheckpoint.seq == last))
    page = c.post("/audit/verify", token_from="/audit/").get_data(as_text=True)
    assert "没有签名检查点" in page and "链头没有签名" in page
    with platform.transaction(Actor.system()) as s:
        assert s.scalar(select(func.count()).select_from(AuditCheckpoint)) == counted - 1


def test_verify_without_a_key_says_so(client, world):
    page = client("admin").post("/audit/verify", token_from="/audit/").get_data(as_text=True)
    assert "审计链完整" in page and "未配置审计密钥" in page
