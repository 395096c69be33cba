"""Sign-in and sessions: the lock after repeated failures (same message whether the user exists),
logout ending the user's other sessions, CSRF on every state-changing request, security headers,
and every sign-in, failure and lock in the audit trail."""

from __future__ import annotations

from sqlalchemy import select

from core.db.models import AuditRecord, User
from core.db.scope import Actor

from .conftest import Client, csrf_of


def audit_triggers(platform, entity_type="user"):
    with platform.transaction(Actor.system()) as s:
        return s.scalars(select(AuditRecord.trigger).where(AuditRecord.entity_type == entity_type)
                         .order_by(AuditRecord.seq)).all()


def test_sign_in_lands_on_the_workbench_in_chinese(client):
    c = client("wang")
    page = c.get("/", follow_redirects=True).get_data(as_text=True)
    assert "工作台" in page and "王老师" not in page or "wang" in page
    assert "退出登录" in page


def test_unsigned_visitor_is_sent_to_sign_in(app):
    response = app.test_client().get("/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_five_failures_lock_the_account_and_the_message_does_not_tell_if_the_user_exists(app, platform, clock):
    c = Client(app)
    messages = []
    for _ in range(5):
        r = c.login("wang", "wrong")
        assert r.status_code == 400
        messages.append(r.get_data(as_text=True).split('id="login-error">')[1].split("<")[0])
    unknown = c.login("nobody-here", "wrong").get_data(as_text=True).split('id="login-error">')[1].split("<")[0]
    assert set(messages) == {unknown}, "the message must be the same for a real and an unknown user"
    # Locked now: even the right password is refused, with the same message.
    r = c.login("wang", "secret")
    assert r.status_code == 400 and unknown in r.get_data(as_text=True)
    with platform.transaction(Actor.system()) as s:
        locked = s.scalar(select(User.locked_until).where(User.username == "wang"))
    assert locked is not None
    # 31 minutes later the lock has passed.
    from datetime import timedelta
    clock.now = clock.now + timedelta(minutes=31)
    assert c.login("wang", "secret").status_code == 302
    triggers = audit_triggers(platform)
    assert triggers.count("login_failed") == 5  # four for wang, one for the unknown name
    assert "account_locked" in triggers and "login_locked" in triggers and triggers[-1] == "login"


def test_logout_ends_the_other_sessions_of_the_user(client):
    phone, desktop = client("wang"), client("wang")
    assert phone.get("/").status_code == 200
    r = desktop.post("/logout")
    assert r.status_code == 302
    r = phone.get("/")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_password_change_ends_other_sessions_and_keeps_this_one(client):
    other, me = client("wang"), client("wang")
    r = me.post("/account/password/", {"old_password": "secret", "password": "newpass123", "confirm": "newpass123"},
                token_from="/account/password/")
    assert r.status_code == 302
    assert me.get("/").status_code == 200
    assert other.get("/").status_code == 302
    assert client("wang", "newpass123").get("/").status_code == 200


def test_disabled_account_is_signed_out(client, platform, world):
    from core.services.auth import AuthService
    c = client("wang")
    AuthService(platform.services(Actor.system())).set_active(world.actors["wang"].user_id, False)
    assert c.get("/").status_code == 302
    assert Client(c.app).login("wang").status_code == 400


def test_requests_without_or_with_a_wrong_csrf_token_change_nothing(client, platform):
    c = client("wang")
    before = audit_triggers(platform).count("logout")
    for data in ({}, {"csrf_token": "forged"}):
        r = c.http.post("/logout", data=data)
        assert r.status_code == 400 and "CSRF" in r.get_data(as_text=True)
    assert audit_triggers(platform).count("logout") == before
    assert c.get("/").status_code == 200  # still signed in


def test_security_headers(client):
    r = client("wang").get("/")
    csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self' 'nonce-" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert "frame-ancestors 'none'" in csp
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["X-Frame-Options"] == "DENY"


def test_open_redirect_after_sign_in_is_refused(app):
    c = Client(app)
    page = c.get("/login").get_data(as_text=True)
    r = c.http.post("/login?next=//evil.example/x", data={"username": "wang", "password": "secret",
                                                          "csrf_token": csrf_of(page)})
    assert r.status_code == 302 and "evil" not in r.headers["Location"]


def test_english_is_available(client):
    c = client("wang")
    r = c.post("/language/en", {"next": "/"})
    assert r.status_code == 302
    page = c.get("/login").get_data(as_text=True)
    assert "Sign in" in page or "Log in" in page
