"""The data model: the organisation tree, people and roles, teachers, claims and their evidence,
training projects, the hash-chained audit trail, stage-window extensions, assessment results and
background jobs.

Rows that belong somewhere in the tree carry ``scope_path`` (the materialized path of their home
node), so that a user's subtree is one index range on the row itself (see ``core.db.scope``).
"""

from __future__ import annotations

from datetime import date, datetime, timezone

from sqlalchemy import (Boolean, Date, DateTime, ForeignKey, Index, Integer, String, Text,
                        UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, IdType, JSONType, PathType

NODE_KINDS = ("province", "city", "district", "town", "school")
ROLES = ("teacher", "school_admin", "reviewer", "organiser", "platform_admin", "auditor")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class OrgNode(Base):
    """A node of the organisation tree (province → city → district → town → school)."""

    __tablename__ = "org_nodes"
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("org_nodes.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    code: Mapped[str | None] = mapped_column(String(64), unique=True)
    path: Mapped[str] = mapped_column(PathType, unique=True)  # "/1/5/23/": ancestors' ids, then own
    depth: Mapped[int] = mapped_column(Integer)
    jurisdiction: Mapped[str | None] = mapped_column(String(64))  # plugin attached at this node
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    parent: Mapped["OrgNode | None"] = relationship(remote_side=[id])

    @property
    def ancestor_ids(self) -> list[int]:
        return [int(part) for part in self.path.strip("/").split("/")]


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    # Never loaded by ``select(User)`` (reading it raises); sign-in reads it explicitly
    # (``OrgService.authenticate``), and a page session may not name it at all (core.db.scope).
    password_hash: Mapped[str] = mapped_column(String(200), default="", deferred=True, deferred_raiseload=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    locale: Mapped[str] = mapped_column(String(16), default="zh_Hans_CN")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Sign-in: a failed-attempt counter and a lock; ``session_version`` is bumped on logout,
    # password change and disabling, which ends every other session of the user.
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    session_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    roles: Mapped[list["RoleAssignment"]] = relationship(back_populates="user", cascade="all, delete-orphan")


class RoleAssignment(Base):
    """A role held at a node (and its subtree); a teacher's role names the teacher record."""

    __tablename__ = "role_assignments"
    __table_args__ = (UniqueConstraint("user_id", "role", "node_id"),)
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    role: Mapped[str] = mapped_column(String(32))
    node_id: Mapped[int] = mapped_column(ForeignKey("org_nodes.id"))
    teacher_id: Mapped[int | None] = mapped_column(ForeignKey("teachers.id"))

    user: Mapped[User] = relationship(back_populates="roles")
    node: Mapped[OrgNode] = relationship()


class Teacher(Base):
    __tablename__ = "teachers"
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    id_number: Mapped[str] = mapped_column(String(18), unique=True)  # GB 11643, validated; shown masked
    cert_number: Mapped[str | None] = mapped_column(String(64))
    subject: Mapped[str | None] = mapped_column(String(50))
    stage: Mapped[str | None] = mapped_column(String(16))  # 幼儿园/小学/初中/高中/中职
    home_school_id: Mapped[int] = mapped_column(ForeignKey("org_nodes.id"), index=True)
    working_school_id: Mapped[int | None] = mapped_column(ForeignKey("org_nodes.id"))
    arrangement: Mapped[str | None] = mapped_column(String(16))  # 支教/交流/外借
    employed_on: Mapped[date | None] = mapped_column(Date)
    cycle_start: Mapped[str | None] = mapped_column(String(10))  # period key or ISO date
    new_teacher: Mapped[bool | None] = mapped_column(Boolean)
    transferred_on: Mapped[date | None] = mapped_column(Date)
    jurisdiction: Mapped[str] = mapped_column(String(64), index=True)
    scope_path: Mapped[str] = mapped_column(PathType, index=True)  # the home school's path
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    home_school: Mapped[OrgNode] = relationship(foreign_keys=[home_school_id])

    @property
    def id_number_masked(self) -> str:
        from ..idnumber import mask
        return mask(self.id_number)


class Claim(Base):
    """A claim (申报/登记记录): a teacher, an item, a period, typed inputs, the computed amount
    with its explanation, a workflow state and a version for guarded updates."""

    __tablename__ = "claims"
    __table_args__ = (
        UniqueConstraint("teacher_id", "item_code", "dedup_key"),
        Index("ix_claims_scope_state", "scope_path", "state"),
        Index("ix_claims_teacher_period", "teacher_id", "period_key"),
    )
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    teacher_id: Mapped[int] = mapped_column(ForeignKey("teachers.id"))
    jurisdiction: Mapped[str] = mapped_column(String(64))
    item_code: Mapped[str] = mapped_column(String(64))
    period_key: Mapped[str] = mapped_column(String(16))
    on_date: Mapped[date | None] = mapped_column(Date)
    inputs: Mapped[dict] = mapped_column(JSONType)  # normalised (core.claimstore)
    amount_milli: Mapped[int] = mapped_column(IdType, default=0)  # primary measure, computed
    explanation: Mapped[dict | None] = mapped_column(JSONType)
    workflow: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(24), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    level: Mapped[int] = mapped_column(Integer, default=0)  # index into review_chain awaiting action
    review_chain: Mapped[list | None] = mapped_column(JSONType)  # node ids, school upwards
    reviewer_node_id: Mapped[int | None] = mapped_column(ForeignKey("org_nodes.id"), index=True)
    home_school_id: Mapped[int] = mapped_column(ForeignKey("org_nodes.id"))  # registers the claim
    dedup_key: Mapped[str] = mapped_column(String(128))
    project_id: Mapped[int | None] = mapped_column(ForeignKey("training_projects.id"))
    reason: Mapped[str | None] = mapped_column(Text)  # the last return/reject reason
    scope_path: Mapped[str] = mapped_column(PathType)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    registered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    teacher: Mapped[Teacher] = relationship()
    evidence: Mapped[list["Evidence"]] = relationship(back_populates="claim", cascade="all, delete-orphan")


class Evidence(Base):
    __tablename__ = "evidence"
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(IdType)
    sha256: Mapped[str] = mapped_column(String(64))
    stored_as: Mapped[str] = mapped_column(String(400))
    scope_path: Mapped[str] = mapped_column(PathType, index=True)
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    claim: Mapped[Claim] = relationship(back_populates="evidence")


class TrainingProject(Base):
    """A training designed by an organisation; "谁设计、谁登记": its organiser registers the
    participants who completed it, in one batch."""

    __tablename__ = "training_projects"
    __table_args__ = (UniqueConstraint("organiser_node_id", "code"),)
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    code: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    jurisdiction: Mapped[str] = mapped_column(String(64))
    item_code: Mapped[str] = mapped_column(String(64))
    period_key: Mapped[str] = mapped_column(String(16))
    inputs: Mapped[dict] = mapped_column(JSONType)  # the designed hours and other inputs
    organiser_node_id: Mapped[int] = mapped_column(ForeignKey("org_nodes.id"))
    needs_approval: Mapped[bool] = mapped_column(Boolean, default=False)
    approver_node_id: Mapped[int | None] = mapped_column(ForeignKey("org_nodes.id"))
    workflow: Mapped[str] = mapped_column(String(32), default="project")
    state: Mapped[str] = mapped_column(String(24))
    version: Mapped[int] = mapped_column(Integer, default=1)
    scope_path: Mapped[str] = mapped_column(PathType, index=True)  # the organiser's path
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    participants: Mapped[list["ProjectParticipant"]] = relationship(back_populates="project",
                                                                    cascade="all, delete-orphan")


class ProjectParticipant(Base):
    __tablename__ = "project_participants"
    __table_args__ = (UniqueConstraint("project_id", "teacher_id"),)
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("training_projects.id"), index=True)
    teacher_id: Mapped[int] = mapped_column(ForeignKey("teachers.id"))
    completed: Mapped[bool] = mapped_column(Boolean, default=False)
    claim_id: Mapped[int | None] = mapped_column(ForeignKey("claims.id"))

    project: Mapped[TrainingProject] = relationship(back_populates="participants")


class AuditRecord(Base):
    """One row per state change, hash-chained: ``hash = sha256(prev_hash + canonical row)``."""

    __tablename__ = "audit_records"
    __table_args__ = (Index("ix_audit_entity", "entity_type", "entity_id"),)
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    seq: Mapped[int] = mapped_column(IdType, unique=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor_id: Mapped[int | None] = mapped_column(IdType)
    actor_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(32))
    node_id: Mapped[int | None] = mapped_column(IdType)
    entity_type: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[int] = mapped_column(IdType)
    trigger: Mapped[str] = mapped_column(String(40))
    from_state: Mapped[str | None] = mapped_column(String(24))
    to_state: Mapped[str | None] = mapped_column(String(24))
    reason: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict | None] = mapped_column(JSONType)
    scope_path: Mapped[str] = mapped_column(PathType, index=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The chain's last link; its row is locked by every writer, so the chain never forks."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(IdType, default=0)
    hash: Mapped[str] = mapped_column(String(64))


class AuditCheckpoint(Base):
    """A signed anchor of the chain head: ``mac = HMAC(key, seq:hash)`` with a key kept outside
    the database, so that a chain rewritten whole (every later hash recomputed) is detected."""

    __tablename__ = "audit_checkpoints"
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    seq: Mapped[int] = mapped_column(IdType, index=True)
    hash: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str] = mapped_column(String(32))
    mac: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class WindowExtension(Base):
    """A reviewer's extension of a stage window for their subtree (audited)."""

    __tablename__ = "window_extensions"
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    jurisdiction: Mapped[str] = mapped_column(String(64))
    stage: Mapped[str] = mapped_column(String(40))
    period_key: Mapped[str] = mapped_column(String(16))
    node_id: Mapped[int] = mapped_column(ForeignKey("org_nodes.id"))
    scope_path: Mapped[str] = mapped_column(PathType, index=True)
    opens: Mapped[date | None] = mapped_column(Date)
    closes: Mapped[date] = mapped_column(Date)
    reason: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SchoolPeriodFact(Base):
    """Facts about a school in a period that rules depend on (whether its annual school-based training summary was filed)."""

    __tablename__ = "school_period_facts"
    __table_args__ = (UniqueConstraint("node_id", "period_key"),)
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("org_nodes.id"))
    period_key: Mapped[str] = mapped_column(String(16))
    summary_filed: Mapped[bool] = mapped_column(Boolean, default=True)
    scope_path: Mapped[str] = mapped_column(PathType, index=True)


class AssessmentResult(Base):
    __tablename__ = "assessment_results"
    __table_args__ = (UniqueConstraint("teacher_id", "period_key"),)
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    teacher_id: Mapped[int] = mapped_column(ForeignKey("teachers.id"))
    jurisdiction: Mapped[str] = mapped_column(String(64))
    period_key: Mapped[str] = mapped_column(String(16))
    total_milli: Mapped[int] = mapped_column(IdType, default=0)  # primary measure, for sorting
    result: Mapped[dict] = mapped_column(JSONType)  # Assessment.to_dict(explain=False)
    passed: Mapped[bool | None] = mapped_column(Boolean)
    scope_path: Mapped[str] = mapped_column(PathType, index=True)
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class JobRecord(Base):
    """A background job's progress, for the progress display."""

    __tablename__ = "jobs"
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(16), default="queued")  # queued running done failed
    total: Mapped[int] = mapped_column(IdType, default=0)
    done: Mapped[int] = mapped_column(IdType, default=0)
    message: Mapped[str | None] = mapped_column(Text)
    params: Mapped[dict | None] = mapped_column(JSONType)
    scope_path: Mapped[str] = mapped_column(PathType, index=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


SCOPED_MODELS = (Teacher, Claim, Evidence, TrainingProject, AuditRecord, WindowExtension,
                 SchoolPeriodFact, AssessmentResult, JobRecord)


class Document(Base):
    """An issued document (a registration form, a certificate): its verification code (random,
    unique), the data shown on it, the claims it was fed by, and whether it was revoked."""

    __tablename__ = "documents"
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    code: Mapped[str] = mapped_column(String(64), unique=True)  # secrets.token_urlsafe: ≥ 128 bits
    number: Mapped[str | None] = mapped_column(String(64))  # a certificate's number
    teacher_id: Mapped[int | None] = mapped_column(ForeignKey("teachers.id"), index=True)
    period_key: Mapped[str | None] = mapped_column(String(16))
    scope_path: Mapped[str] = mapped_column(PathType, index=True)
    payload: Mapped[dict] = mapped_column(JSONType)
    issued_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_reason: Mapped[str | None] = mapped_column(Text)

    claims: Mapped[list["DocumentClaim"]] = relationship(cascade="all, delete-orphan")


class DocumentClaim(Base):
    """A claim a document was fed by: revoking or changing the claim revokes the document."""

    __tablename__ = "document_claims"
    __table_args__ = (UniqueConstraint("document_id", "claim_id"),)
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), index=True)
    claim_id: Mapped[int] = mapped_column(IdType, index=True)


SCOPED_MODELS = SCOPED_MODELS + (Document,)
