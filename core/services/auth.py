"""Sign-in: passwords, the lock after repeated failures, and the session version that ends a
user's other sessions. Every sign-in, failure, lock, logout and password change is audited.

The web layer calls these with the system actor's services (there is no signed-in actor yet);
the password hash is read here and nowhere else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import select, update

from ..audit import append as audit_append
from ..db.models import OrgNode, RoleAssignment, User
from ..db.scope import Actor
from ..errors import InputError
from .org import check_password, hash_password

# One message for a wrong name, a wrong password, a locked and a disabled account, so that the
# page never tells whether a user exists.
FAILED_MESSAGE = "用户名或密码错误，或账号已被暂时锁定（连续输错 {n} 次锁定 {m} 分钟）；请稍后再试或联系管理员"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Role:
    """One role a user holds: what the role switcher offers."""

    assignment_id: int
    role: str
    node_id: int
    node_name: str
    node_path: str
    teacher_id: int | None


@dataclass(frozen=True)
class SignedIn:
    user_id: int
    username: str
    display_name: str
    locale: str
    session_version: int
    roles: tuple[Role, ...]

    def actor(self, assignment_id: int | None = None) -> Actor:
        role = next((r for r in self.roles if r.assignment_id == assignment_id), self.roles[0])
        return Actor(self.user_id, self.display_name, role.role, role.node_id, role.node_path, role.teacher_id)


class SignInRefused(InputError):
    """Wrong user name or password, a locked or disabled account: one message for all."""


def _clean_username(username: str) -> str:
    """The name as typed, without control characters; a name longer than any user name can be is
    kept whole, so that it matches nobody (never a prefix of a real name)."""
    return _CONTROL.sub("", str(username or "")).strip()[:65]


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


class AuthService:
    def __init__(self, services, *, max_failures: int = 5, lock_minutes: int = 30):
        self.s = services
        self.max_failures = max_failures
        self.lock_minutes = lock_minutes

    @property
    def message(self) -> str:
        return FAILED_MESSAGE.format(n=self.max_failures, m=self.lock_minutes)

    # -- reading ---------------------------------------------------------------------------------
    def _roles(self, session, user_id: int) -> tuple[Role, ...]:
        rows = session.execute(
            select(RoleAssignment.id, RoleAssignment.role, RoleAssignment.node_id, OrgNode.name, OrgNode.path,
                   RoleAssignment.teacher_id)
            .join(OrgNode, OrgNode.id == RoleAssignment.node_id)
            .where(RoleAssignment.user_id == user_id).order_by(RoleAssignment.id)).all()
        return tuple(Role(*row) for row in rows)

    def load(self, user_id: int, session_version: int) -> SignedIn | None:
        """The signed-in user of a web session, or None when the session is no longer valid
        (logged out elsewhere, password changed, account disabled or removed)."""
        with self.s.platform.transaction(Actor.system()) as session:
            row = session.execute(select(User.id, User.username, User.display_name, User.locale, User.active,
                                         User.session_version).where(User.id == user_id)).one_or_none()
            if row is None or not row.active or row.session_version != session_version:
                return None
            roles = self._roles(session, user_id)
            if not roles:
                return None
            return SignedIn(row.id, row.username, row.display_name, row.locale, row.session_version, roles)

    # -- signing in --------------------------------------------------------------------------------
    def authenticate(self, username: str, password: str, *, remote: str | None = None) -> SignedIn:
        """The user, or ``SignInRefused`` with the same message whether the user exists or not."""
        name = _clean_username(username)
        now = self.s.platform.clock()
        refusal = None  # raised after the commit, so that the failure and its audit row are kept
        with self.s.platform.transaction(Actor.system()) as session:
            user = session.execute(select(User.id, User.display_name, User.password_hash, User.active,
                                          User.failed_logins, User.locked_until)
                                   .where(User.username == name).with_for_update()).one_or_none()
            if user is None:
                # Same work as a real check, so timing does not tell whether the name exists.
                check_password(str(password), hash_password("x"))
                self._audit(session, 0, name[:64], "login_failed", "/", {"username": name[:64], "remote": remote,
                                                                     "why": "unknown_user"})
                refusal = self.message
            else:
                path = self._path(session, user.id)
                locked_until = _aware(user.locked_until)
                if locked_until is not None and locked_until > now:
                    check_password(str(password), user.password_hash)
                    self._audit(session, user.id, name, "login_locked", path, {"username": name, "remote": remote})
                    refusal = self.message
                elif not user.active or not check_password(str(password), user.password_hash):
                    failures = (user.failed_logins or 0) + 1
                    values = {"failed_logins": failures}
                    trigger = "login_failed"
                    if failures >= self.max_failures:
                        values = {"failed_logins": 0, "locked_until": now + timedelta(minutes=self.lock_minutes)}
                        trigger = "account_locked"
                    session.execute(update(User).where(User.id == user.id).values(**values))
                    self._audit(session, user.id, name, trigger, path,
                                {"username": name, "remote": remote, "failures": failures})
                    refusal = self.message
                else:
                    session.execute(update(User).where(User.id == user.id)
                                    .values(failed_logins=0, locked_until=None, last_login_at=now))
                    self._audit(session, user.id, name, "login", path, {"remote": remote})
        if refusal:
            raise SignInRefused(refusal)
        signed = self._signed_in(user.id)
        if signed is None:
            raise SignInRefused(self.message)
        return signed

    def _signed_in(self, user_id: int) -> SignedIn | None:
        with self.s.platform.transaction(Actor.system()) as session:
            version = session.scalar(select(User.session_version).where(User.id == user_id))
        return self.load(user_id, version)

    # -- ending sessions -------------------------------------------------------------------------
    def end_sessions(self, user_id: int, trigger: str = "logout") -> None:
        """Logging out ends every session of the user (the version in the database moves on)."""
        with self.s.platform.transaction(Actor.system()) as session:
            session.execute(update(User).where(User.id == user_id)
                            .values(session_version=User.session_version + 1))
            self._audit(session, user_id, self.s.actor.name, trigger, self._path(session, user_id), None)

    def change_password(self, user_id: int, old: str, new: str) -> SignedIn:
        if len(new or "") < 8 or new.isdigit() or new.isalpha():
            raise InputError("新密码至少 8 位，且须同时包含字母和数字", field="password")
        if len(new) > 128 or _CONTROL.search(new):
            raise InputError("新密码过长或含有控制字符", field="password")
        with self.s.platform.transaction(Actor.system()) as session:
            stored = session.scalar(select(User.password_hash).where(User.id == user_id))
            if stored is None or not check_password(str(old), stored):
                raise InputError("原密码不正确", field="old_password")
            session.execute(update(User).where(User.id == user_id)
                            .values(password_hash=hash_password(new), session_version=User.session_version + 1))
            self._audit(session, user_id, self.s.actor.name, "password_changed", self._path(session, user_id), None)
        signed = self._signed_in(user_id)
        assert signed is not None
        return signed

    def set_active(self, user_id: int, active: bool) -> None:
        """Disable (or re-enable) an account; disabling ends its sessions."""
        with self.s.platform.transaction(Actor.system()) as session:
            session.execute(update(User).where(User.id == user_id)
                            .values(active=active, session_version=User.session_version + 1))
            self._audit(session, user_id, self.s.actor.name, "enabled" if active else "disabled",
                        self._path(session, user_id), None)

    # -- helpers -----------------------------------------------------------------------------------
    def _path(self, session, user_id: int) -> str:
        path = session.scalar(select(OrgNode.path).join(RoleAssignment, RoleAssignment.node_id == OrgNode.id)
                              .where(RoleAssignment.user_id == user_id).order_by(RoleAssignment.id).limit(1))
        return path or "/"

    def _audit(self, session, user_id: int, name: str, trigger: str, path: str, detail: dict | None) -> None:
        entry = self.s.audit_entry(entity_type="user", entity_id=user_id, trigger=trigger, from_state=None,
                                   to_state=None, scope_path=path, detail=detail)
        entry["actor_id"] = user_id or None
        entry["actor_name"] = (name or "")[:100]
        entry["role"] = "user"
        audit_append(session, [entry])
