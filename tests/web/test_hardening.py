"""Holes closed in the skeleton: redirects after sign-in that a browser would take off-site, a
password spray over many user names from one address, HTTP errors without a Chinese page, the
sign-in refusal in English on an English screen."""

from __future__ import annotations

import pytest
from flask import abort

from admin.auth import _safe_next

from .conftest import Client, csrf_of


@pytest.mark.parametrize("target", ["//evil.example/x", "/\\evil.example", "/\\/evil.example", "https://evil.example/",
                                    "javascript:alert(1)", "/\t/evil.example", "/\n/evil.example", "evil.example",
                                    "", None, "/" + "x" * 3000])
def test_unsafe_next_is_refused(target):
    assert _safe_next(target) is None


@pytest.mark.parametrize("target", ["/", "/jobs/?page=2", "/account/password/", "/jobs/5"])
def test_safe_next_is_kept(target):
    assert _safe_next(target) == target


def test_backslash_next_after_sign_in_stays_on_the_site(app):
    c = Client(app)
    page = c.get("/login").get_data(as_text=True)
    r = c.http.post("/login?next=/%5Cevil.example", data={"username": "wang", "password": "secret",
                                                          "csrf_token": csrf_of(page)})
    assert r.status_code == 302 and "evil" not in r.headers["Location"]
    r = c.post("/language/en", {"next": "/\\evil.example"})
    assert r.status_code == 302 and "evil" not in r.headers["Location"]


def test_a_spray_from_one_address_is_slowed_without_telling_who_exists(app):
    app.config["JIJIAO_LOGIN_LIMIT_PER_ADDRESS"] = 4
    c = Client(app)
    for name in ("nobody1", "nobody2", "wang", "nobody3"):
        assert c.login(name, "wrong").status_code == 400
    r = c.login("li", "secret")  # even the right password waits
    assert r.status_code == 429 and "登录尝试过于频繁" in r.get_data(as_text=True)
    other = app.test_client()  # another address is not affected
    page = other.get("/login", environ_base={"REMOTE_ADDR": "10.0.0.9"}).get_data(as_text=True)
    r = other.post("/login", data={"username": "li", "password": "secret", "csrf_token": csrf_of(page)},
                   environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert r.status_code == 302


def test_every_http_error_has_a_chinese_page(app):
    @app.route("/planted-gone", endpoint="planted_gone")
    def gone():
        abort(410)

    r = app.test_client().get("/planted-gone")
    text = r.get_data(as_text=True)
    assert r.status_code == 410 and "请求有误" in text and "Gone" not in text


def test_the_sign_in_refusal_in_english(app):
    c = Client(app)
    c.post("/language/en", {"next": "/login"}, token_from="/login")
    r = c.login("wang", "wrong")
    assert r.status_code == 400 and "Wrong username or password" in r.get_data(as_text=True)
