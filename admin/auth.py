"""Sign-in, sign-out, the role switcher, the language switcher and the session limits.

The cookie holds the user id, the session version, the chosen role, the sign-in time and the
last activity; every request checks them against the database (``AuthService.load``), so that
logging out, changing a password or disabling an account ends the user's other sessions.
"""

from __future__ import annotations

import time
from functools import wraps
from urllib.parse import urlsplit

from flask import (Blueprint, abort, current_app, flash, g, redirect, render_template, request, session,
                   url_for)
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from core.db.scope import Actor
from core.errors import InputError, JijiaoError

from .i18n import _, _l

bp = Blueprint("auth", __name__)

ROLE_NAMES = {"teacher": _l("教师"), "school_admin": _l("学校管理员"), "reviewer": _l("审核员"),
              "organiser": _l("培训组织者"), "platform_admin": _l("平台管理员"), "auditor": _l("审计员"),
              "system": _l("系统")}
PUBLIC_ENDPOINTS = {"auth.login", "auth.set_language", "static", "verify.page", "health"}


def platform():
    return current_app.extensions["jijiao"]


def auth_service():
    from core.services.auth import AuthService
    services = platform().services(Actor.system("登录"), g.get("request_id"))
    return AuthService(services, max_failures=current_app.config["JIJIAO_MAX_FAILED_LOGINS"],
                       lock_minutes=current_app.config["JIJIAO_LOCK_MINUTES"])


class LoginForm(FlaskForm):
    username = StringField(_l("用户名"), validators=[DataRequired(message=_l("请输入用户名")), Length(max=64)])
    password = PasswordField(_l("密码"), validators=[DataRequired(message=_l("请输入密码")), Length(max=128)])


class PasswordForm(FlaskForm):
    old_password = PasswordField(_l("原密码"), validators=[DataRequired(message=_l("请输入原密码"))])
    password = PasswordField(_l("新密码"), validators=[DataRequired(message=_l("请输入新密码"))])
    confirm = PasswordField(_l("再次输入新密码"), validators=[DataRequired(message=_l("请再次输入新密码"))])


def _safe_next(target: str | None) -> str | None:
    """A path on this site to go back to, or None. Browsers read ``/\\evil.example`` (and a tab
    or newline inside ``//``) as another host, so backslashes, control characters and
    whitespace are refused along with schemes and ``//``."""
    if not target or len(target) > 2000:
        return None
    if "\\" in target or any(ord(ch) < 0x21 or ch == "\x7f" for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


class _Throttle:
    """Failed sign-ins per client address in a sliding window (in this process). The account lock
    stops guessing one user's password; this stops trying one password on many names, without
    telling whether any of them exists."""

    def __init__(self):
        import threading
        self.lock = threading.Lock()
        self.failures: dict[str, list[float]] = {}

    def blocked(self, remote: str, limit: int, window: float) -> bool:
        now = time.monotonic()
        with self.lock:
            recent = [t for t in self.failures.get(remote, ()) if now - t < window]
            if recent:
                self.failures[remote] = recent
            else:
                self.failures.pop(remote, None)
            return len(recent) >= limit

    def failed(self, remote: str) -> None:
        with self.lock:
            self.failures.setdefault(remote, []).append(time.monotonic())
            if len(self.failures) > 10000:  # bounded memory under a spray from many addresses
                oldest = sorted(self.failures, key=lambda k: self.failures[k][-1])[:5000]
                for key in oldest:
                    self.failures.pop(key, None)


def _throttle() -> _Throttle:
    return current_app.extensions.setdefault("jijiao_login_throttle", _Throttle())


def _refusal_message() -> str:
    """The one refusal for a wrong name, a wrong password or a locked account, in the user's
    language (the services word it in Chinese: core.services.auth.FAILED_MESSAGE)."""
    return _("用户名或密码错误，或账号已被暂时锁定（连续输错 %(n)s 次锁定 %(m)s 分钟）；请稍后再试或联系管理员",
             n=current_app.config["JIJIAO_MAX_FAILED_LOGINS"], m=current_app.config["JIJIAO_LOCK_MINUTES"])


def _start(signed) -> None:
    session.clear()
    session.permanent = True
    now = int(time.time())
    session.update(uid=signed.user_id, sv=signed.session_version, ra=signed.roles[0].assignment_id,
                   t0=now, seen=now, locale=session.get("locale") or _default_locale(signed))


def _default_locale(signed) -> str:
    return signed.locale if signed.locale in ("zh_Hans_CN", "en") else "zh_Hans_CN"


def load_user() -> None:
    """Before every request: the signed-in user and actor, or nothing."""
    g.user = None
    g.actor = None
    uid = session.get("uid")
    if uid is None:
        return
    now = int(time.time())
    idle = current_app.config["JIJIAO_IDLE_MINUTES"] * 60
    absolute = current_app.config["JIJIAO_ABSOLUTE_HOURS"] * 3600
    if now - session.get("seen", 0) > idle or now - session.get("t0", 0) > absolute:
        _expire(_("您已长时间未操作，请重新登录。") if now - session.get("seen", 0) > idle
                else _("登录已超过 %(h)s 小时，请重新登录。", h=current_app.config["JIJIAO_ABSOLUTE_HOURS"]))
        return
    signed = auth_service().load(uid, session.get("sv"))
    if signed is None:
        _expire(_("您的登录已失效（已在别处退出、修改了密码或账号被停用），请重新登录。"))
        return
    if now - session.get("seen", 0) > 30:  # refresh the cookie at most every 30 s
        session["seen"] = now
    g.user = signed
    g.actor = signed.actor(session.get("ra"))
    g.roles = signed.roles


def _expire(message: str) -> None:
    locale = session.get("locale")
    session.clear()
    if locale:
        session["locale"] = locale
    flash(message, "warning")


def login_required(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        if g.get("actor") is None:
            return redirect(url_for("auth.login", next=request.full_path if request.method == "GET" else None))
        return view(*args, **kwargs)
    return wrapper


def roles_required(*roles: str):
    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if g.get("actor") is None:
                return redirect(url_for("auth.login", next=request.full_path if request.method == "GET" else None))
            if g.actor.role not in roles:
                abort(403)
            return view(*args, **kwargs)
        return wrapper
    return decorate


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    error = None
    remote = request.remote_addr or "-"
    throttle = _throttle()
    limit = current_app.config["JIJIAO_LOGIN_LIMIT_PER_ADDRESS"]
    window = current_app.config["JIJIAO_LOGIN_LIMIT_MINUTES"] * 60
    if request.method == "POST" and throttle.blocked(remote, limit, window):
        error = _("登录尝试过于频繁，请 %(m)s 分钟后再试。", m=current_app.config["JIJIAO_LOGIN_LIMIT_MINUTES"])
        return render_template("jijiao/login.html", form=form, error=error), 429
    if form.validate_on_submit():
        from core.services.auth import SignInRefused
        try:
            signed = auth_service().authenticate(form.username.data, form.password.data, remote=remote)
        except SignInRefused:
            throttle.failed(remote)
            error = _refusal_message()
        except JijiaoError as exc:
            throttle.failed(remote)
            error = str(exc)
        else:
            target = _safe_next(request.args.get("next"))
            _start(signed)
            return redirect(target or url_for("admin.index"))
    elif request.method == "POST" and not form.errors.get("csrf_token"):
        error = "；".join(m for messages in form.errors.values() for m in messages)
    elif form.errors.get("csrf_token"):
        error = _("页面已过期，请重新输入后登录。")
    return render_template("jijiao/login.html", form=form, error=error), (200 if error is None else 400)


@bp.route("/logout", methods=["POST"])
def logout():
    if g.get("user") is not None:
        auth_service().end_sessions(g.user.user_id, "logout")
    locale = session.get("locale")
    session.clear()
    if locale:
        session["locale"] = locale
    flash(_("您已安全退出。"), "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/role", methods=["POST"])
@login_required
def switch_role():
    try:
        wanted = int(request.form.get("assignment", ""))
    except ValueError:
        abort(400)
    if not any(r.assignment_id == wanted for r in g.user.roles):
        abort(403)
    session["ra"] = wanted
    return redirect(url_for("admin.index"))


@bp.route("/language/<code>", methods=["POST"])
def set_language(code: str):
    from .app import LOCALES
    if code in LOCALES:
        session["locale"] = code
    target = _safe_next(request.form.get("next")) or url_for("admin.index")
    return redirect(target)


def init_app(app) -> None:
    app.register_blueprint(bp)
    app.before_request(load_user)

    @app.context_processor
    def _context():
        from .app import LOCALES
        return {"current_user": g.get("user"), "current_actor": g.get("actor"), "role_names": ROLE_NAMES,
                "locales": LOCALES, "current_locale": session.get("locale", "zh_Hans_CN"),
                "csp_nonce": g.get("csp_nonce", "")}
