"""The web application: ``create_app(config)`` builds the Flask app on one ``Platform``.

Every request that a signed-in user makes gets a database session bound to that user's actor
(``g.db``, closed at the end of the request) and the services of that actor (``g.services``);
views read and write only through them, so the data layer's scope decides what exists.
"""

from __future__ import annotations

import os
import secrets
import uuid
from datetime import timedelta
from pathlib import Path

from flask import Flask, g, request, session
from flask_babel import Babel
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException

from core.errors import JijiaoError

HERE = Path(__file__).parent
LOCALES = {"zh_Hans_CN": "中文", "en": "English"}

DEFAULTS = {
    "JIJIAO_DATABASE_URL": None,  # None: JIJIAO_DATABASE_URL in the environment, or the instance file
    "JIJIAO_PLATFORM": None,  # an existing core.services.Platform (tests)
    "JIJIAO_MAX_FAILED_LOGINS": 5,
    "JIJIAO_LOCK_MINUTES": 30,
    # failed sign-ins from one address (any user names) before it must wait
    "JIJIAO_LOGIN_LIMIT_PER_ADDRESS": 30,
    "JIJIAO_LOGIN_LIMIT_MINUTES": 10,
    "JIJIAO_IDLE_MINUTES": 30,
    "JIJIAO_ABSOLUTE_HOURS": 12,
    "JIJIAO_UPLOAD_MAX_BYTES": 10 * 1024 * 1024,
    "JIJIAO_UPLOAD_DIR": None,  # default: <instance>/evidence
    "BABEL_DEFAULT_LOCALE": "zh_Hans_CN",
    "BABEL_DEFAULT_TIMEZONE": "Asia/Shanghai",
    "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session (which has its own limits)
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "FLASK_ADMIN_SWATCH": "default",
}

csrf = CSRFProtect()


def _secret_key(instance: Path) -> str:
    """``JIJIAO_SECRET_KEY``, or a random key kept in the instance folder (so that several WSGI
    workers of one installation share it and a restart does not sign everyone out)."""
    env = os.environ.get("JIJIAO_SECRET_KEY")
    if env:
        return env
    path = instance / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def create_app(config: dict | None = None) -> Flask:
    from core.db.base import instance_dir

    app = Flask(__name__, static_folder="static", template_folder="templates")
    app.config.update(DEFAULTS)
    if os.environ.get("JIJIAO_COOKIE_SECURE") == "1":  # behind a TLS proxy
        app.config["SESSION_COOKIE_SECURE"] = True
    app.config.update(config or {})
    instance = instance_dir()
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _secret_key(instance)
    app.config["MAX_CONTENT_LENGTH"] = app.config["JIJIAO_UPLOAD_MAX_BYTES"] + 256 * 1024
    app.config.setdefault("JIJIAO_UPLOAD_DIR", None)
    if not app.config["JIJIAO_UPLOAD_DIR"]:
        app.config["JIJIAO_UPLOAD_DIR"] = str(instance / "evidence")
    app.permanent_session_lifetime = timedelta(hours=app.config["JIJIAO_ABSOLUTE_HOURS"])

    platform = app.config.get("JIJIAO_PLATFORM")
    if platform is None:
        from core.services import Platform
        from core.dbcheck import check_database
        url = check_database(app.config.get("JIJIAO_DATABASE_URL"))
        platform = Platform(url)
    app.extensions["jijiao"] = platform

    Babel(app, locale_selector=_locale, timezone_selector=lambda: app.config["BABEL_DEFAULT_TIMEZONE"])
    csrf.init_app(app)
    from .i18n import jj_date, jj_datetime
    app.add_template_filter(jj_datetime, "jj_datetime")
    app.add_template_filter(jj_datetime, "shanghai")
    app.add_template_filter(jj_date, "jj_date")

    from . import auth, pages
    auth.init_app(app)
    pages.init_app(app)
    _security_headers(app)
    _errors(app)
    _request_session(app)
    return app


def _locale() -> str:
    chosen = session.get("locale")
    if chosen in LOCALES:
        return chosen
    return "zh_Hans_CN"


def _request_session(app: Flask) -> None:
    @app.before_request
    def _request_id():
        g.request_id = uuid.uuid4().hex
        g.csp_nonce = secrets.token_urlsafe(16)

    @app.teardown_request
    def _close(exc):
        db = g.pop("db", None)
        if db is not None:
            db.close()


def _security_headers(app: Flask) -> None:
    @app.after_request
    def _headers(response):
        nonce = g.get("csp_nonce", "")
        frame_ancestors = getattr(response, "frame_ancestors", "'none'")
        response.headers.setdefault(
            "Content-Security-Policy",
            f"default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; "
            f"img-src 'self' data: blob:; font-src 'self' data:; object-src 'self'; frame-src 'self'; "
            f"base-uri 'self'; form-action 'self'; frame-ancestors {frame_ancestors}")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        if frame_ancestors == "'none'":
            response.headers.setdefault("X-Frame-Options", "DENY")
        else:
            response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if request.endpoint and request.endpoint != "static" and "Cache-Control" not in response.headers:
            response.headers["Cache-Control"] = "no-store"
        return response


def _errors(app: Flask) -> None:
    from flask import render_template

    from .i18n import _

    def page(title: str, message: str, code: int):
        return render_template("jijiao/error.html", title=title, message=message), code

    @app.errorhandler(CSRFError)
    def _csrf(exc):
        return page(_("请求已过期"), _("页面已过期或来源不明（CSRF 校验失败），请刷新页面后重试。"), 400)

    @app.errorhandler(413)
    def _too_large(exc):
        limit = app.config["JIJIAO_UPLOAD_MAX_BYTES"] // (1024 * 1024)
        return page(_("文件过大"), _("上传的文件超过 %(n)s MB 的上限。", n=limit), 413)

    @app.errorhandler(404)
    def _not_found(exc):
        return page(_("找不到页面"), _("找不到该页面或记录，或它不在您的管辖范围内。"), 404)

    @app.errorhandler(403)
    def _forbidden(exc):
        return page(_("无权访问"), _("您当前的角色无权访问此页面。"), 403)

    @app.errorhandler(405)
    def _method(exc):
        return page(_("不支持的操作"), _("该页面不支持此操作。"), 405)

    @app.errorhandler(400)
    def _bad(exc):
        return page(_("请求有误"), _("请求的内容有误，请检查后重试。"), 400)

    @app.errorhandler(JijiaoError)
    def _jijiao(exc):
        return page(_("操作未完成"), str(exc), 400)

    @app.errorhandler(429)
    def _too_many(exc):
        return page(_("操作过于频繁"), _("操作过于频繁，请稍后再试。"), 429)

    @app.errorhandler(HTTPException)
    def _other(exc):
        # any other HTTP error (werkzeug's English page otherwise): a Chinese page, same code
        if exc.code and exc.code >= 500:
            return page(_("系统错误"), _("系统出现错误，已记录。请稍后重试；如果问题持续，请联系平台管理员。"), exc.code)
        return page(_("请求有误"), _("请求的内容有误，请检查后重试。"), exc.code or 400)

    @app.errorhandler(500)
    def _server(exc):
        return page(_("系统错误"), _("系统出现错误，已记录。请稍后重试；如果问题持续，请联系平台管理员。"), 500)
