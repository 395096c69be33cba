"""Users and role assignments as provincial IT sees them: the users holding a role at a node in
the actor's subtree (never their password hashes), creating one with a role, resetting a
password. Disabling and enabling is ``core.services.auth.AuthService.set_active`` (which ends the
user's sessions); ``in_scope`` is the check a page makes before calling it.

Users and role assignments are service-owned: every read that needs more than the page's scope
(the roles of a listed user held outside it) and every write happens in a service session
(``Services.transaction``); the role and the scope of the actor are checked here, and a role is
granted only through ``OrgService.add_user`` (which refuses an escalation).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select, update

from ..audit import append as audit_append
from ..db.models import OrgNode, RoleAssignment, User
from ..errors import InputError
from ..tree import PATH_END
from . import NotFound
from .org import ROLE_RANK, hash_password

# Roles IT grants here; a teacher's account belongs to a teacher record (the roster pages).
GRANTABLE = ("school_admin", "reviewer", "organiser", "platform_admin", "auditor")
USERNAME = re.compile(r"^[A-Za-z0-9_.\-@]{3,64}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_new_password(password: str) -> None:
    if len(password or "") < 8 or password.isdigit() or password.isalpha():
        raise InputError("密码至少 8 位，且须同时包含字母和数字", field="password")
    if len(password) > 128 or _CONTROL.search(password):
        raise InputError("密码过长或含有控制字符", field="password")


@dataclass(frozen=True)
class UserRow:
    id: int
    username: str
    display_name: str
    active: bool
    last_login_at: object
    locked_until: object
    roles: tuple  # (role, node name, node id)


class UserAdminService:
    """Attach where used: ``UserAdminService(services())``."""

    def __init__(self, services):
        self.s = services

    def _require_admin(self) -> None:
        if self.s.actor.role not in ("platform_admin", "system"):
            raise InputError("只有平台管理员可以管理用户")

    def _scope(self):
        low = self.s.actor.node_path
        return low, low + PATH_END

    def grantable(self) -> tuple:
        """The roles the actor may grant here: at or below their own (``OrgService.add_user``)."""
        mine = ROLE_RANK.get(self.s.actor.role, -1)
        return tuple(r for r in GRANTABLE if ROLE_RANK.get(r, 99) <= mine)

    def list(self, *, search: str = "", after: int | None = None, limit: int = 50) -> list[UserRow]:
        """Users with a role in scope, by id; ``search`` is a username prefix (the username is a
        unique, indexed column). Only the columns shown are read; a listed user's roles held
        outside the actor's scope are shown too (read in a service session)."""
        self._require_admin()
        with self.s.transaction() as session:
            return self._list(session, search=search, after=after, limit=limit)

    def _list(self, session, *, search: str, after: int | None, limit: int) -> list[UserRow]:
        low, high = self._scope()
        in_scope = (select(RoleAssignment.user_id).join(OrgNode, OrgNode.id == RoleAssignment.node_id)
                    .where(OrgNode.path.between(low, high)))
        q = (select(User.id, User.username, User.display_name, User.active, User.last_login_at, User.locked_until)
             .where(User.id.in_(in_scope)).order_by(User.id).limit(limit))
        search = (search or "").strip()[:64]
        if search:
            escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            q = q.where(User.username.like(escaped + "%", escape="\\"))
        if after is not None:
            q = q.where(User.id > after)
        rows = session.execute(q).all()
        roles: dict[int, list] = {}
        if rows:
            for user_id, role, name, node_id in session.execute(
                    select(RoleAssignment.user_id, RoleAssignment.role, OrgNode.name, OrgNode.id)
                    .join(OrgNode, OrgNode.id == RoleAssignment.node_id)
                    .where(RoleAssignment.user_id.in_([r.id for r in rows]))
                    .order_by(RoleAssignment.id).execution_options(skip_scope=True)):
                roles.setdefault(user_id, []).append((role, name, node_id))
        return [UserRow(r.id, r.username, r.display_name, r.active, r.last_login_at, r.locked_until,
                        tuple(roles.get(r.id, ()))) for r in rows]

    def in_scope(self, session, user_id: int) -> bool:
        low, high = self._scope()
        return session.scalar(select(RoleAssignment.id).join(OrgNode, OrgNode.id == RoleAssignment.node_id)
                              .where(RoleAssignment.user_id == user_id, OrgNode.path.between(low, high))
                              .limit(1)) is not None

    def create(self, username: str, display_name: str, password: str, role: str, node_id: int) -> User:
        """A new user with one role at a node inside the actor's subtree (``OrgService.add_user``),
        audited."""
        self._require_admin()
        username = (username or "").strip()
        display_name = (display_name or "").strip()
        if not USERNAME.match(username):
            raise InputError("用户名为 3–64 位字母、数字或 _ . - @", field="username")
        if not display_name or len(display_name) > 100:
            raise InputError("请填写姓名（不超过 100 个字）", field="display_name")
        if role not in GRANTABLE:
            raise InputError("请选择角色", field="role")
        check_new_password(password)
        with self.s.transaction() as session:
            node = session.get(OrgNode, node_id) if isinstance(node_id, int) else None
            if node is None:
                raise NotFound("找不到该机构，或不在您的管辖范围内")
            path = node.path
        user = self.s.org.add_user(username, display_name, password, [(role, node_id, None)])
        with self.s.transaction() as session:
            audit_append(session, [self.s.audit_entry(entity_type="user", entity_id=user.id, trigger="create",
                                                      from_state=None, to_state="active", scope_path=path,
                                                      detail={"username": username, "role": role,
                                                              "node_id": node_id})])
        return user

    def reset_password(self, user_id: int, password: str) -> None:
        """Set a new password (the user's sessions end: ``session_version`` is bumped, as
        ``OrgService.set_password`` does) and clear a lock, audited in the same transaction."""
        self._require_admin()
        check_new_password(password)
        with self.s.transaction() as session:
            if not self.in_scope(session, user_id):
                raise NotFound("找不到该用户，或不在您的管辖范围内")
            low, high = self._scope()
            path = session.scalar(select(OrgNode.path).join(RoleAssignment, RoleAssignment.node_id == OrgNode.id)
                                  .where(RoleAssignment.user_id == user_id, OrgNode.path.between(low, high))
                                  .order_by(RoleAssignment.id).limit(1))
            session.execute(update(User).where(User.id == user_id)
                            .values(password_hash=hash_password(password), session_version=User.session_version + 1,
                                    failed_logins=0, locked_until=None))
            audit_append(session, [self.s.audit_entry(entity_type="user", entity_id=user_id,
                                                      trigger="password_reset", from_state=None, to_state=None,
                                                      scope_path=path)])
