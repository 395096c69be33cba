"""The organisation tree, users with their roles, and teachers (roster)."""

from __future__ import annotations

import hashlib
import os
import secrets
from datetime import date

from sqlalchemy import select

from ..audit import append as audit_append
from ..db.models import ROLES, OrgNode, RoleAssignment, Teacher, User
from ..db.scope import Actor, check_text
from ..errors import InputError
from ..idnumber import normalise
from ..tree import add_node, ancestors, governing_jurisdiction
from . import NotFound, insert_unique


PASSWORD_ROUNDS = int(os.environ.get("JIJIAO_PASSWORD_ROUNDS", "240000"))
# Who may grant what: a role at or below one's own, at a node inside one's own subtree.
ROLE_RANK = {"teacher": 0, "school_admin": 1, "organiser": 1, "reviewer": 2, "auditor": 2, "platform_admin": 3,
             "system": 4}


def hash_password(password: str, *, salt: bytes | None = None, rounds: int | None = None) -> str:
    salt = salt or os.urandom(16)
    rounds = rounds or PASSWORD_ROUNDS
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, rounds)
    return f"pbkdf2_sha256${rounds}${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    try:
        _, rounds, salt, digest = stored.split("$")
    except ValueError:
        return False
    expected = hash_password(password, salt=bytes.fromhex(salt), rounds=int(rounds))
    return secrets.compare_digest(expected, stored)


class OrgService:
    def __init__(self, services):
        self.s = services

    def add_node(self, parent_id: int | None, kind: str, name: str, *, code: str | None = None,
                 jurisdiction: str | None = None) -> OrgNode:
        if self.s.actor.role not in ("platform_admin", "system"):
            raise InputError("只有平台管理员可以维护机构树")
        if jurisdiction is not None:
            self.s.platform.registry.bundle(jurisdiction)
        check_text(name, label="机构名称", field="name", max_length=200)
        check_text(code, label="机构编号", field="code", max_length=64)
        with self.s.transaction() as session:
            parent = session.get(OrgNode, parent_id) if parent_id is not None else None
            if parent_id is not None and parent is None:
                raise NotFound("找不到上级机构，或不在您的管辖范围内")
            return add_node(session, parent, kind, name, code=code, jurisdiction=jurisdiction)

    def add_user(self, username: str, display_name: str, password: str,
                 roles: list[tuple[str, int, int | None]] = ()) -> User:
        actor = self.s.actor
        if actor.role not in ("platform_admin", "system"):
            raise InputError("只有平台管理员可以添加用户")
        check_text(username, label="用户名", field="username", max_length=64)
        check_text(display_name, label="姓名", field="display_name", max_length=100)
        check_text(password, label="密码", field="password", max_length=200)
        if not username or not username.strip():
            raise InputError("用户名不能为空", field="username")
        with self.s.transaction() as session:
            user = User(username=username, display_name=display_name, password_hash=hash_password(password))
            for role, node_id, teacher_id in roles:
                if role not in ROLES:
                    raise InputError(f"未知角色 {role}", field="role")
                self._check_grant(session, role, node_id, teacher_id)
                user.roles.append(RoleAssignment(role=role, node_id=node_id, teacher_id=teacher_id))
            return insert_unique(session, user, f"用户名「{username}」已存在", "username")

    def _check_grant(self, session, role: str, node_id: int, teacher_id: int | None) -> None:
        """No escalation: a role at or below the actor's own, at a node inside their subtree."""
        actor = self.s.actor
        if ROLE_RANK.get(role, 99) > ROLE_RANK.get(actor.role, -1):
            raise InputError(f"不能授予高于本人角色的角色 {role}", field="role")
        node = session.get(OrgNode, node_id) if isinstance(node_id, int) else None
        if node is None:
            raise NotFound("找不到该机构，或不在您的管辖范围内：只能在本人管辖范围内授予角色")
        if role == "teacher":
            teacher = session.get(Teacher, teacher_id) if isinstance(teacher_id, int) else None
            if teacher is None or teacher.home_school_id != node.id:
                raise InputError("教师账号应指向该学校在册的教师", field="teacher_id")
        elif teacher_id is not None:
            raise InputError("只有教师角色指向教师", field="teacher_id")

    def authenticate(self, username: str, password: str) -> Actor | None:
        """Sign-in for the command line and tests: the user's Actor (first role), or None. The
        decision (password, lock after repeated failures, the audit of every attempt) is
        ``AuthService.authenticate``'s, the one place a password hash is read."""
        from .auth import AuthService, SignInRefused
        if not isinstance(username, str) or not isinstance(password, str):
            return None
        try:
            return AuthService(self.s).authenticate(username, password).actor()
        except SignInRefused:
            return None

    def set_password(self, user_id: int, password: str) -> None:
        """A new password (the user themself, or a platform admin); ends the user's other sessions."""
        actor = self.s.actor
        check_text(password, label="密码", field="password", max_length=200)
        if actor.role not in ("platform_admin", "system") and actor.user_id != user_id:
            raise InputError("只能修改本人的密码")
        with self.s.transaction() as session:
            user = session.get(User, user_id)
            if user is None:
                raise NotFound("找不到该用户，或不在您的管辖范围内")
            user.password_hash = hash_password(password)
            user.session_version = (user.session_version or 0) + 1

    def add_teacher(self, *, name: str, id_number, home_school_id: int, cert_number: str | None = None,
                    subject: str | None = None, stage: str | None = None, employed_on: date | None = None,
                    cycle_start: str | None = None, new_teacher: bool | None = None,
                    transferred_on: date | None = None, working_school_id: int | None = None,
                    arrangement: str | None = None) -> Teacher:
        if self.s.actor.role not in ("school_admin", "platform_admin", "system"):
            raise InputError("只有学校管理员或平台管理员可以登记教师")
        for value, label, key, length in ((name, "姓名", "name", 100), (cert_number, "教师资格证号", "cert_number", 64),
                                          (subject, "学科", "subject", 50), (stage, "学段", "stage", 16),
                                          (cycle_start, "周期起始", "cycle_start", 10),
                                          (arrangement, "交流安排", "arrangement", 16)):
            check_text(value, label=label, field=key, max_length=length)
        number = normalise(id_number)
        with self.s.transaction() as session:
            school = session.get(OrgNode, home_school_id)
            if school is None or school.kind != "school":
                raise NotFound("找不到该学校，或不在您的管辖范围内")
            jurisdiction = governing_jurisdiction(ancestors(session, school))
            if jurisdiction is None:
                raise InputError(f"「{school.name}」及其上级都没有挂接地区插件，无法确定考核规则")
            teacher = Teacher(name=name, id_number=number, home_school_id=school.id, cert_number=cert_number,
                              subject=subject, stage=stage, employed_on=employed_on, cycle_start=cycle_start,
                              new_teacher=new_teacher, transferred_on=transferred_on,
                              working_school_id=working_school_id, arrangement=arrangement,
                              jurisdiction=jurisdiction, scope_path=school.path)
            insert_unique(session, teacher, "该身份证号的教师已登记（身份证号只能登记一次）", "id_number")
            audit_append(session, [self.s.audit_entry(entity_type="teacher", entity_id=teacher.id, trigger="create",
                                                      from_state=None, to_state="active", scope_path=school.path)])
            return teacher

    def actor_for(self, username: str, role: str | None = None) -> Actor:
        """The Actor of a user (their first role, or the named one)."""
        with self.s.transaction(Actor.system()) as session:
            user = session.scalars(select(User).where(User.username == username)).first()
            if user is None or not user.active:
                raise NotFound(f"找不到用户「{username}」")
            assignments = [r for r in user.roles if role is None or r.role == role]
            if not assignments:
                raise NotFound(f"用户「{username}」没有角色 {role}")
            a = assignments[0]
            return Actor(user.id, user.display_name, a.role, a.node_id, a.node.path, a.teacher_id)
