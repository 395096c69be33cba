"""The organisation tree, users with their roles, and teachers (roster)."""

from __future__ import annotations

import hashlib
import os
import secrets
from datetime import date

from sqlalchemy import select

from ..audit import append as audit_append
from ..db.models import ROLES, OrgNode, RoleAssignment, Teacher, User
from ..db.scope import Actor
from ..errors import InputError
from ..idnumber import normalise
from ..tree import add_node, ancestors, governing_jurisdiction
from . import NotFound, insert_unique


PASSWORD_ROUNDS = int(os.environ.get("JIJIAO_PASSWORD_ROUNDS", "240000"))


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
        with self.s.transaction() as session:
            parent = session.get(OrgNode, parent_id) if parent_id is not None else None
            if parent_id is not None and parent is None:
                raise NotFound("找不到上级机构，或不在您的管辖范围内")
            return add_node(session, parent, kind, name, code=code, jurisdiction=jurisdiction)

    def add_user(self, username: str, display_name: str, password: str,
                 roles: list[tuple[str, int, int | None]] = ()) -> User:
        if self.s.actor.role not in ("platform_admin", "system"):
            raise InputError("只有平台管理员可以添加用户")
        with self.s.transaction() as session:
            user = User(username=username, display_name=display_name, password_hash=hash_password(password))
            for role, node_id, teacher_id in roles:
                if role not in ROLES:
                    raise InputError(f"未知角色 {role}", field="role")
                user.roles.append(RoleAssignment(role=role, node_id=node_id, teacher_id=teacher_id))
            return insert_unique(session, user, f"用户名「{username}」已存在", "username")

    def add_teacher(self, *, name: str, id_number, home_school_id: int, cert_number: str | None = None,
                    subject: str | None = None, stage: str | None = None, employed_on: date | None = None,
                    cycle_start: str | None = None, new_teacher: bool | None = None,
                    transferred_on: date | None = None, working_school_id: int | None = None,
                    arrangement: str | None = None) -> Teacher:
        if self.s.actor.role not in ("school_admin", "platform_admin", "system"):
            raise InputError("只有学校管理员或平台管理员可以登记教师")
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
