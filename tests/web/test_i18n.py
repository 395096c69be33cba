"""Chinese first, English selectable: the English catalogue covers every message of ``admin/``
and its .mo is compiled from it; a Chinese screen shows no English (Flask-Admin's own words
included), an English screen shows none of the app's Chinese; no glyph is missing; times are
shown in Asia/Shanghai."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest

from admin import i18n_tools

from . import screens
from .conftest import Client, screenshot

ROLES = ("wang", "thzx_admin", "th_rev", "gz_rev", "admin", "auditor", "ec_rev")
# English that may stay on a Chinese screen: the language switch, units and formats, product
# names. Usernames (typed by people) are added from the database.
ALLOWED_ENGLISH = {"English", "PDF", "Excel", "Word", "ID", "CSV", "XLSX", "XLS", "DOCX", "DOC", "MB", "KB", "GB",
                   "OK", "CSRF", "JSON", "PNG", "JPG", "JPEG", "GIF", "WEBP", "HEIC", "ZIP", "TXT", "Noto", "Sans",
                   "CJK", "SC", "K", "x", "No", "QR"}
WORD = re.compile(r"[A-Za-z][A-Za-z’'\-]*[A-Za-z]|[A-Za-z]")
HAN = re.compile(r"[\u3400-\u9fff]")


def english_words(text: str, allowed: set) -> list[str]:
    lower = {a.lower() for a in allowed}
    return sorted({w for w in WORD.findall(text) if w.lower() not in lower})


def plugin_ids(platform) -> set:
    """Jurisdiction plugins' ids (package names, shown to the provincial IT admin as such)."""
    return set(platform.registry.codes()) | {"jijiao"}


def usernames(platform) -> set:
    from core.db.models import User
    return {u for row in screens.all_rows(platform, User) for u in (row.username, row.display_name)} | \
        {part for row in screens.all_rows(platform, User) for part in re.split(r"[_\W]+", row.username)}


def signed_in(app, username, locale=None) -> Client:
    c = Client(app)
    if locale:
        c.post("/language/" + locale, {"next": "/"}, token_from="/login")
    assert c.login(username).status_code == 302
    if locale:
        assert c.post("/language/" + locale, {"next": "/"}).status_code == 302
    return c


def role_pages(app, username, locale=None) -> dict:
    """Every page a role reaches from its start page, and an error page."""
    c = signed_in(app, username, locale)
    pages = screens.crawl(c, "/", limit=60)
    pages["/no-such-page"] = c.get("/no-such-page")
    return pages


# -- the catalogue ---------------------------------------------------------------------------

def test_the_english_catalogue_covers_every_message_and_the_mo_is_compiled():
    missing = i18n_tools.missing()
    assert not missing, ("缺少英文（运行 python -m admin.i18n_tools update，在 messages.po 中补上英文）：\n"
                         + "\n".join(missing))
    assert i18n_tools.mo_is_current(), "messages.mo 不是由 messages.po 编译的：运行 python -m admin.i18n_tools compile"
    catalog = i18n_tools.read()
    # a translation keeps every placeholder of its msgid
    for message in catalog:
        if message.id and message.string:
            assert sorted(re.findall(r"%\(\w+\)s", message.id)) == sorted(re.findall(r"%\(\w+\)s", message.string)), \
                message.id


def test_the_extraction_sees_python_and_templates():
    ids = {m.id for m in i18n_tools.extract() if m.id}
    assert {"工作台", "退出登录", "请输入用户名", "排队中"} <= ids


# -- what the screens show -------------------------------------------------------------------

@pytest.fixture
def seeded(world, platform, clock):
    return screens.seed(world, platform, clock)


def without_data(text: str, data: list[str]) -> str:
    for value in data:
        if re.search(r"[A-Za-z]", value):  # "li" is a user, not the middle of "English"
            text = re.sub(r"(?<![A-Za-z])" + re.escape(value) + r"(?![A-Za-z])", " ", text)
        else:
            text = text.replace(value, " ")
    return text


def test_no_english_on_a_chinese_screen(app, platform, seeded):
    allowed = ALLOWED_ENGLISH | usernames(platform) | plugin_ids(platform)
    data = _data_strings(platform)
    problems = []
    pages = 0
    for username in ROLES:
        for url, response in role_pages(app, username).items():
            if response.mimetype != "text/html":
                continue
            pages += 1
            text = without_data(screens.visible_text(response.get_data(as_text=True), code=False), data)
            words = english_words(text, allowed)
            if words:
                problems.append(f"{username} {url}: {words[:12]}")
    login = app.test_client().get("/login")
    words = english_words(screens.visible_text(login.get_data(as_text=True)), allowed)
    if words:
        problems.append(f"/login: {words}")
    assert pages >= len(ROLES) * 2
    assert not problems, "\n".join(problems)


def _app_chinese(catalog) -> tuple[set, list]:
    """The app's own Chinese: ``(short, long)``. A short message (under 6 Han characters, e.g.
    "保存") counts when a whole text node is exactly it (as a part of plugin data it is data); a
    long one, or a long fragment between placeholders, counts anywhere in the text."""
    short, long_ = set(), set()
    for message in catalog:
        if not message.id or isinstance(message.id, tuple):
            continue
        for part in re.split(r"%\(\w+\)s|%s|%d", message.id):
            part = part.strip(" ：:，,。.·、（）()「」")
            han = len(HAN.findall(part))
            if han >= 6:
                long_.add(part)
            elif han >= 1:
                short.add(part)
    return short, sorted(long_, key=len, reverse=True)


def _data_strings(platform) -> list[str]:
    """Text typed by people or produced by the rules: names, reasons, messages, file names (data,
    shown as it is in either language)."""
    from core.db.models import (AuditRecord, Claim, Evidence, JobRecord, OrgNode, Teacher, TrainingProject,
                                User, WindowExtension)
    out = set()
    for model, columns in ((OrgNode, ("name",)), (Teacher, ("name",)), (User, ("display_name",)),
                           (Claim, ("reason",)), (JobRecord, ("message",)), (TrainingProject, ("title", "code")),
                           (Evidence, ("filename",)), (WindowExtension, ("reason",)),
                           (AuditRecord, ("actor_name", "reason"))):
        for row in screens.all_rows(platform, model):
            out |= {getattr(row, c) for c in columns if getattr(row, c)}
    return sorted(out | _plugin_prose(platform), key=len, reverse=True)


def _plugin_prose(platform) -> set:
    """What a plugin's authors wrote (from the official notice): the jurisdiction's description,
    categories' and items' names and descriptions, input labels, conditions' reasons, parameters'
    descriptions. Data, shown as written (e.g. "第N年累计不足72×N学分"); the words and identifiers
    the pages add themselves are still checked."""
    from core.services.plugins_info import detail
    out = set()
    for code in platform.registry.codes():
        d = detail(platform.registry, code)
        out.add(d.jurisdiction.description)
        for category, items in d.categories:
            out.add(category.name)
            for item, _words, _ref in items:
                out |= {item.name, item.description} | {i.label for i in item.inputs}
                out |= {str(c.get("reason")) for c in item.rules.get("conditions") or ()}
        out |= {p.description for p, _ref in d.parameters}
    return {s for s in out if s}


def test_no_chinese_of_the_app_on_an_english_screen(app, platform, seeded):
    short, long_ = _app_chinese(i18n_tools.extract())
    data = _data_strings(platform)
    problems = []
    for username in ROLES:
        for url, response in role_pages(app, username, "en").items():
            if response.mimetype != "text/html":
                continue
            html = response.get_data(as_text=True)
            # what the page marks as code is a literal value (a column name to type), in either language
            chunks = [c.strip(" ：:，,。.·、（）()「」*") for c in screens.visible_chunks(html, code=False)]
            text = without_data(" ".join(chunks), data)
            left = [f for f in long_ if f in text] + sorted({c for c in chunks if c in short and c not in data})
            if left:
                problems.append(f"{username} {url}: {left[:8]}")
    assert not problems, "\n".join(problems)


def test_flask_admin_speaks_chinese(app, platform, world):
    """Flask-Admin's own words come from its zh_Hans_CN catalogue (no "List", "Create", "Save")."""
    from core.db.models import JobRecord
    from admin.views.base import ScopedModelView

    class Jobs(ScopedModelView):
        roles = ("platform_admin",)
        can_create = can_edit = can_delete = True
        can_view_details = True
        column_list = ("kind", "state", "message")
        column_labels = {"kind": "类型", "state": "状态", "message": "说明"}
        form_columns = ("message",)
        column_filters = ("state",)

    app.extensions["jijiao_admin"].add_view(Jobs(JobRecord, name="任务表", endpoint="planted_jobs",
                                                 url="/planted-jobs"))
    c = signed_in(app, "admin")
    allowed = ALLOWED_ENGLISH | usernames(platform)
    for url in ("/planted-jobs/", "/planted-jobs/new/"):
        r = c.get(url)
        assert r.status_code == 200, url
        text = screens.visible_text(r.get_data(as_text=True))
        assert not english_words(text, allowed), (url, english_words(text, allowed))
    assert "列表" in screens.visible_text(c.get("/planted-jobs/").get_data(as_text=True))
    assert "保存" in screens.visible_text(c.get("/planted-jobs/new/").get_data(as_text=True))


# -- glyphs ----------------------------------------------------------------------------------

# Draws every distinct character with the page's own font stack and compares it with the
# .notdef box Chromium draws for a private-use character no font has: equal pixels = tofu.
# (document.fonts.check() is no use: it answers true for installed fonts whatever the text.)
MISSING_GLYPHS = """(chars) => {
  const c = document.createElement('canvas'); c.width = 48; c.height = 48;
  const ctx = c.getContext('2d', {willReadFrequently: true});
  ctx.font = '28px ' + getComputedStyle(document.body).fontFamily;
  const px = (ch) => { ctx.clearRect(0, 0, 48, 48); ctx.fillText(ch, 4, 36);
                       return Array.from(ctx.getImageData(0, 0, 48, 48).data).join(','); };
  const tofu = new Set([px('\\uE000'), px('\\uDB80\\uDC00')]);
  return chars.filter((ch) => tofu.has(px(ch)));
}"""


def missing_glyphs(page) -> list[str]:
    text = page.evaluate("document.body.innerText + ' ' + document.title")
    chars = sorted({ch for ch in text if not ch.isspace()})
    return page.evaluate(MISSING_GLYPHS, chars)


def test_the_glyph_check_really_fails_on_a_missing_glyph(page_for):
    page = page_for("wang")
    assert page.evaluate(MISSING_GLYPHS, ["审", "核", "A", "\ue001", "\U0002A6A5"]) == ["\ue001", "\U0002A6A5"]


def test_no_glyph_is_missing_on_any_page(app, page_for, seeded):
    """Every character of every page each role reaches has a glyph (the font does not depend on
    the width, so desktop only; one phone screenshot per role to look at)."""
    problems = []
    checked = 0
    for username in ("wang", "thzx_admin", "th_rev", "admin", "auditor"):
        urls = [u for u, r in role_pages(app, username).items() if r.status_code == 200 and r.mimetype == "text/html"]
        page = page_for(username)
        for url in urls[:20]:
            page.goto(page_for.base + url, wait_until="load")
            missing = missing_glyphs(page)
            checked += 1
            if missing:
                problems.append(f"{username} {url}: {missing}")
        phone = page_for(username, phone=True)
        screenshot(phone, f"i18n-{username}-phone")
    assert checked >= 10
    assert not problems, "\n".join(problems)


def test_english_screen_in_the_browser(page_for):
    page = page_for("thzx_admin")
    page.click("form.jj-lang button")
    page.wait_for_load_state("networkidle")
    assert "Workbench" in page.content() and page.evaluate("document.documentElement.lang") == "en"
    screenshot(page, "i18n-english-home")


# -- times -----------------------------------------------------------------------------------

def test_times_are_shown_in_shanghai(app):
    from admin.i18n import jj_datetime
    moment = datetime(2019, 6, 1, 16, 30, tzinfo=timezone.utc)  # 00:30 the next day in Shanghai
    with app.test_request_context():
        assert jj_datetime(moment) == "2019-06-02 00:30"
        assert jj_datetime(moment.replace(tzinfo=None)) == "2019-06-02 00:30"  # naive = UTC (SQLite)
        assert jj_datetime(None) == ""
        rendered = app.jinja_env.from_string("{{ t|jj_datetime }} {{ t|jj_date }}").render(t=moment)
        assert rendered == "2019-06-02 00:30 2019-06-02"
