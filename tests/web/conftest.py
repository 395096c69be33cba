"""Fixtures for the web platform: the Flask app on the test world (the small province of
``tests/db/world.py``, on SQLite and on PostgreSQL when configured), a signed-in test client per
user, and a real headless Chromium driven by Playwright (Debian's ``chromium``; Playwright cannot
download a browser here, so ``executable_path`` is given)."""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading

import pytest

from tests.db.world import build

CHROMIUM = os.environ.get("JIJIAO_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARTEFACTS = os.path.join(os.path.dirname(__file__), "..", "artefacts")


@pytest.fixture
def world(platform):
    return build(platform)


@pytest.fixture
def app(platform, world, tmp_path):
    from admin import create_app
    app = create_app({"JIJIAO_PLATFORM": platform, "SECRET_KEY": "test-secret", "TESTING": True,
                      "JIJIAO_UPLOAD_DIR": str(tmp_path / "evidence")})
    # CSRF stays on in the tests (TESTING does not switch it off in Flask-WTF).
    assert app.config.get("WTF_CSRF_ENABLED", True)
    return app


_TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def csrf_of(html: str) -> str:
    m = _TOKEN.search(html)
    assert m, "no CSRF token on the page"
    return m.group(1) or m.group(2)


class Client:
    """A test client that signs in like a browser (with the login page's CSRF token)."""

    def __init__(self, app):
        self.app = app
        self.http = app.test_client()
        self.token = None

    def login(self, username: str, password: str = "secret"):
        page = self.http.get("/login")
        response = self.http.post("/login", data={"username": username, "password": password,
                                                  "csrf_token": csrf_of(page.get_data(as_text=True))})
        return response

    def get(self, url, **kw):
        return self.http.get(url, **kw)

    def post(self, url, data=None, *, token_from: str | None = None, **kw):
        data = dict(data or {})
        if "csrf_token" not in data:
            page = self.http.get(token_from or "/")
            data["csrf_token"] = csrf_of(page.get_data(as_text=True))
        return self.http.post(url, data=data, **kw)


@pytest.fixture
def client(app):
    def make(username: str | None = None, password: str = "secret") -> Client:
        c = Client(app)
        if username:
            response = c.login(username, password)
            assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return c
    return make


# -- a real browser ------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def live_server(app):
    """The app under waitress (the production server) on a free loopback port."""
    from waitress.server import create_server
    port = _free_port()
    server = create_server(app, host="127.0.0.1", port=port, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.close()


@pytest.fixture
def page_for(browser, live_server):
    """``page_for("wang", phone=True)``: a signed-in browser page (desktop or 375 px phone)."""
    contexts = []

    def make(username: str, password: str = "secret", *, phone: bool = False):
        viewport = {"width": 375, "height": 812} if phone else {"width": 1366, "height": 900}
        context = browser.new_context(viewport=viewport, locale="zh-CN", timezone_id="Asia/Shanghai",
                                      is_mobile=phone, has_touch=phone, device_scale_factor=1)
        contexts.append(context)
        page = context.new_page()
        page.errors = []
        page.on("pageerror", lambda exc: page.errors.append(str(exc)))
        page.on("console", lambda msg: page.errors.append(msg.text) if msg.type == "error" else None)
        page.goto(live_server + "/login")
        page.fill("#username", username)
        page.fill("#password", password)
        page.click("#login-submit")
        page.wait_for_load_state("networkidle")
        assert "/login" not in page.url, "not signed in"
        page.errors.clear()  # only what the pages under test do counts
        return page

    make.base = live_server
    yield make
    for context in contexts:
        context.close()


def screenshot(page, name: str) -> str:
    os.makedirs(ARTEFACTS, exist_ok=True)
    path = os.path.join(ARTEFACTS, f"{name}.png")
    page.screenshot(path=path, full_page=True)
    return path
