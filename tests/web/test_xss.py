"""20 XSS payloads in every text a page shows (teacher, school and user names, claim inputs, return
reasons, evidence file names, job messages, project titles, window reasons, and the URL itself),
then every page each role reaches opened in Chromium with the Content Security Policy switched off
(so escaping alone must hold) and once more with it on: 0 executed, 0 CSP violations, and every
payload escaped in the HTML."""

from __future__ import annotations

import re
import time
from datetime import date
from urllib.parse import quote

import pytest

from core.db.scope import Actor
from core.idnumber import make

from . import screens
from .conftest import Client

# Each payload calls __xssHit(n) if it ever runs (exposed by the browser test) or opens a dialog.
PAYLOADS = [
    "<script>__xssHit(1)</script>",
    "<img src=x onerror=__xssHit(2)>",
    "<svg onload=__xssHit(3)>",
    "\"><script>__xssHit(4)</script>",
    "'><img src=x onerror=__xssHit(5)>",
    "javascript:__xssHit(6)",
    "<a href=\"javascript:__xssHit(7)\">点我</a>",
    "<iframe src=\"javascript:__xssHit(8)\"></iframe>",
    "<body onload=__xssHit(9)>",
    "\" onmouseover=\"__xssHit(10)\" autofocus onfocus=\"__xssHit(10)\" x=\"",
    "' onfocus='__xssHit(11)' autofocus x='",
    "jj{{7*7}}jj${7*7}#{7*7}",
    "<details open ontoggle=__xssHit(13)>",
    "</textarea><script>__xssHit(14)</script>",
    "</title><script>__xssHit(15)</script>",
    "<math><mtext><table><mglyph><style><img src=x onerror=__xssHit(16)>",
    "<input autofocus onfocus=__xssHit(17)>",
    "</script><script>__xssHit(18)</script>",
    "<object data=\"javascript:__xssHit(19)\"></object>",
    "<svg><animate onbegin=__xssHit(20) attributeName=x dur=1s>",
]
assert len(PAYLOADS) == 20
ROLES = ("wang", "thzx_admin", "xss_admin", "th_rev", "gz_rev", "admin", "auditor", "ec_rev", "cgxx_admin")
# one user of each role in the browser (every user's HTML is checked above)
BROWSER_ROLES = ("wang", "thzx_admin", "xss_admin", "th_rev", "admin", "auditor", "ec_rev")
REFLECTED = ("/login?next={p}", "/?q={p}", "/jobs/?sort={p}", "/no-such-page/{p}")


@pytest.fixture
def payloaded(world, platform, clock):
    """The payloads placed in every text field, through the services where there is one."""
    chosen: dict = {}

    def text(key):
        if key not in chosen:
            chosen[key] = PAYLOADS[len(chosen) % len(PAYLOADS)]
        return chosen[key]

    screens.seed(world, platform, clock, text=text)
    org = platform.services(Actor.system()).org
    school = org.add_node(world.nodes["th"].id, "school", PAYLOADS[1])
    for i, payload in enumerate(PAYLOADS[:6]):
        home = world.nodes["thzx"] if i % 2 == 0 else school
        org.add_teacher(name=payload[:100], id_number=make("440106", date(1986, 2, 2), 900 + i), home_school_id=home.id)
    org.add_teacher(name=PAYLOADS[2], id_number=make("420704", date(1986, 2, 2), 950), home_school_id=world.nodes["cgxx"].id)
    org.add_user("xss_admin", PAYLOADS[3], "secret", [("school_admin", world.nodes["thzx"].id, None)])
    world.actors["xss_admin"] = org.actor_for("xss_admin")
    # a teacher's free-text input, and a reason typed by a reviewer
    clock.set(2019, 6, 1)
    wang = world.svc("wang").claims
    for i, payload in enumerate(PAYLOADS[6:12]):
        claim = wang.declare(world.teachers["wang"].id, "gongxu.provincial", {"hours": 1 + i, "topic": payload})
        if i % 2 == 0:
            claim = wang.submit(claim.id)
            world.svc("thzx_admin").claims.return_(claim.id, PAYLOADS[12 + i // 2])
    return PAYLOADS


def role_urls(app, username, *, limit=40, per_path=2) -> dict:
    c = Client(app)
    assert c.login(username).status_code == 302
    pages = screens.crawl(c, "/", limit=limit, per_path=per_path)
    for pattern in REFLECTED:
        url = pattern.format(p=quote(PAYLOADS[0] + PAYLOADS[3], safe=""))
        pages[url] = c.get(url)
    return pages


_timing: list = []
UNSAFE_URL = re.compile(r"""(href|src|action|data|formaction)\s*=\s*["']?\s*javascript:""", re.I)


def escaping_problems(url: str, html: str) -> list[str]:
    problems = []
    for payload in PAYLOADS:
        if "<" in payload and payload in html:
            problems.append(f"{url}: raw {payload!r}")
    if UNSAFE_URL.search(html):
        problems.append(f"{url}: a javascript: URL in an attribute")
    if "jj49jj" in html:
        problems.append(f"{url}: a template evaluated user text")
    return problems


def test_payloads_are_escaped_in_every_page(app, payloaded):
    problems = []
    pages = 0
    shown = set()
    for username in ROLES:
        for url, response in role_urls(app, username).items():
            assert response.status_code < 500, f"{username} {url} → {response.status_code}"
            html = screens.body_text(response)
            pages += 1
            problems += [f"{username} {p}" for p in escaping_problems(url, html)]
            text = screens.visible_text(html)
            shown |= {p for p in PAYLOADS if p in text}
    assert not problems, "\n".join(problems[:30])
    assert pages >= len(ROLES) * 3
    # the payloads did reach the screens, as text
    assert len(shown) >= 4, shown


def _visit(browser, base, username, urls, *, bypass_csp: bool):
    hits: list = []
    context = browser.new_context(bypass_csp=bypass_csp, locale="zh-CN", timezone_id="Asia/Shanghai")
    try:
        context.expose_function("__xssHit", lambda n: hits.append(n))
        context.add_init_script(
            "window.__csp = []; document.addEventListener('securitypolicyviolation',"
            " (e) => window.__csp.push(e.violatedDirective + ' ' + (e.sample || '')));")
        page = context.new_page()
        page.on("dialog", lambda d: (hits.append("dialog: " + d.message), d.dismiss()))
        page.goto(base + "/login")
        page.fill("#username", username)
        page.fill("#password", "secret")
        page.click("#login-submit")
        page.wait_for_load_state("networkidle")
        violations = []
        started = time.monotonic()
        for url in urls:
            page.goto(base + url, wait_until="load")
            page.wait_for_timeout(30)  # events fired after load (ontoggle, SVG animation)
            page.mouse.move(200, 200)
            page.keyboard.press("Tab")
            violations += [f"{url}: {v}" for v in page.evaluate("window.__csp")]
        _timing.append((time.monotonic() - started) / max(1, len(urls)))
        return hits, violations
    finally:
        context.close()


def test_no_payload_executes_in_the_browser(app, browser, live_server, payloaded):
    problems = []
    visited = 0
    for username in BROWSER_ROLES:
        urls = [u for u, r in role_urls(app, username, limit=25, per_path=1).items() if r.mimetype == "text/html"]
        # escaping alone (CSP off), then the real thing (CSP on: no violation either)
        hits, _ = _visit(browser, live_server, username, urls, bypass_csp=True)
        problems += [f"{username} (CSP off): payload {h} ran" for h in hits]
        if username in ("thzx_admin", "wang"):
            hits, violations = _visit(browser, live_server, username, urls, bypass_csp=False)
            problems += [f"{username}: payload {h} ran" for h in hits]
            problems += [f"{username}: CSP violation {v}" for v in violations]
        visited += len(urls)
    assert visited >= len(BROWSER_ROLES) * 3
    assert not problems, "\n".join(problems[:30])


def test_the_hook_sees_an_unescaped_payload(browser, live_server, app):
    """The detector works: a page that prints a payload raw is caught (with the CSP off)."""
    @app.route("/planted-xss", endpoint="planted_xss")
    def planted():
        return "<html><body>" + PAYLOADS[1] + PAYLOADS[0] + "</body></html>"

    hits, _ = _visit(browser, live_server, "wang", ["/planted-xss"], bypass_csp=True)
    assert 1 in hits and 2 in hits
    hits, violations = _visit(browser, live_server, "wang", ["/planted-xss"], bypass_csp=False)
    assert hits == [] and violations, "the CSP blocks it and reports it"
