"""Issued documents: a registration form or a certificate of one teacher and period, built from
the stored assessment result, stored with a random verification code (``secrets.token_urlsafe``,
192 bits) and the ids of the registered claims it was fed by, so that revoking or changing one of
those claims revokes the document (``revoke_documents_fed_by``).

Which documents a jurisdiction issues, and their layout, live in its plugin: a folder
``documents/`` beside the plugin module (or the ``DeclarativePlugin``'s folder) holding
``documents.yaml`` (kind → title, template, whether a number is given, validity in years,
which pass it requires) and the Jinja templates. The core knows no jurisdiction.
"""

from __future__ import annotations

import secrets
import sys
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..audit import append as audit_append
from ..db.models import AssessmentResult, Claim, Document, DocumentClaim, OrgNode, Teacher
from ..errors import InputError, JijiaoError
from ..idnumber import mask
from ..periods import PERSONAL_CYCLE_KEY
from .summary import period_label

CODE_BYTES = 24  # 192 bits of randomness; the brief asks for ≥ 100


class NotFound(JijiaoError):
    """Not there, or not in the actor's scope (never told apart)."""


@dataclass(frozen=True)
class DocumentKind:
    jurisdiction: str
    kind: str
    title: str
    template: Path
    numbered: bool = False
    number_format: str = "{year}{serial:06d}"
    valid_years: int | None = None
    requires: str | None = None  # "passed": the period's result must have passed


def plugin_folder(registry, jurisdiction: str) -> Path | None:
    name = registry.owner.get(jurisdiction)
    plugin = registry.pm.get_plugin(name) if name else None
    if plugin is None:
        return None
    folder = getattr(plugin, "folder", None)
    if folder is None:
        module = sys.modules.get(getattr(plugin, "__module__", "") or "") if not hasattr(plugin, "__file__") else plugin
        file = getattr(module, "__file__", None)
        folder = Path(file).parent if file else None
    return Path(folder) if folder else None


def document_kinds(registry, jurisdiction: str) -> dict[str, DocumentKind]:
    """The documents the jurisdiction's plugin declares in ``documents/documents.yaml``."""
    folder = plugin_folder(registry, jurisdiction)
    if folder is None or not (folder / "documents" / "documents.yaml").is_file():
        return {}
    base = folder / "documents"
    data = yaml.safe_load((base / "documents.yaml").read_text(encoding="utf-8")) or {}
    kinds = {}
    for kind, spec in data.items():
        kinds[kind] = DocumentKind(jurisdiction, kind, spec["title"], base / spec["template"],
                                   bool(spec.get("numbered", False)),
                                   spec.get("number_format", "{year}{serial:06d}"), spec.get("valid_years"),
                                   spec.get("requires"))
    return kinds


def new_code() -> str:
    return secrets.token_urlsafe(CODE_BYTES)


def _number(value) -> Any:
    if isinstance(value, dict):
        value = next(iter(value.values()), None)
    return value


def build_payload(session: Session, registry, teacher: Teacher, period_key: str, kind: DocumentKind,
                  result: AssessmentResult, today: date) -> dict:
    """What the document shows (and what the verification page shows again): never the full ID."""
    bundle = registry.bundle(teacher.jurisdiction)
    school = session.get(OrgNode, teacher.home_school_id, execution_options={"skip_scope": True})
    stored = result.result or {}
    names = {c.code: c.name for c in bundle.jurisdiction.categories}
    categories = [{"code": code, "name": names.get(code, code), "amount": _number(amount)}
                  for code, amount in (stored.get("categories") or {}).items()]
    measure = bundle.jurisdiction.measures[0]
    payload = {"kind": kind.kind, "title": kind.title, "jurisdiction": bundle.jurisdiction.name,
               "jurisdiction_code": teacher.jurisdiction,
               "teacher": teacher.name, "id_number_masked": mask(teacher.id_number),
               "cert_number": teacher.cert_number, "school": school.name if school else "",
               "subject": teacher.subject, "period_key": period_key, "period_label": period_label(period_key),
               "categories": categories, "total": _number((stored.get("totals") or {}).get(measure)),
               "cycle_total": _number((stored.get("cycle_totals") or {}).get(measure)),
               "carry_over": {names.get(k, k): _number(v) for k, v in (stored.get("carry_over") or {}).items()},
               "passed": result.passed, "issued_on": today.isoformat()}
    if kind.valid_years:
        try:
            until = today.replace(year=today.year + kind.valid_years)
        except ValueError:  # 29 February
            until = today.replace(year=today.year + kind.valid_years, day=28)
        payload["valid_until"] = until.isoformat()
    return payload


class DocumentService:
    """Issue, find and revoke documents as one actor (attach with ``DocumentService(services)``)."""

    def __init__(self, services):
        self.s = services

    def issue(self, teacher_id: int, kind: str, period_key: str | None = None) -> Document:
        platform = self.s.platform
        actor = self.s.actor
        if actor.role not in ("school_admin", "reviewer", "platform_admin", "system"):
            raise InputError("只有学校管理员或审核部门可以出具登记表和证书")
        # A service session: the document, its claims and the audit entry are the services' rows,
        # and the school's name is read past scope (``build_payload``); reads stay in scope.
        with self.s.transaction() as session:
            teacher = session.get(Teacher, teacher_id)
            if teacher is None:
                raise NotFound("找不到该教师，或不在您的管辖范围内")
            kinds = document_kinds(platform.registry, teacher.jurisdiction)
            spec = kinds.get(kind)
            if spec is None:
                offered = "、".join(k.title for k in kinds.values()) or "无"
                raise InputError(f"本地区不出具该类文书（可出具：{offered}）", field="kind")
            assessor = platform.registry.assessor(teacher.jurisdiction)
            if assessor.calendar.personal:
                period_key = PERSONAL_CYCLE_KEY
            elif not period_key:
                raise InputError("请选择考核年度", field="period")
            else:
                assessor.calendar.period(period_key)
            result = session.scalars(select(AssessmentResult).where(
                AssessmentResult.teacher_id == teacher.id, AssessmentResult.period_key == period_key)).first()
            if result is None:
                raise InputError(f"{teacher.name}在{period_label(period_key)}没有已登记的学时，不能出具{spec.title}")
            if spec.requires == "passed" and result.passed is not True:
                raise InputError(f"{teacher.name}{period_label(period_key)}考核未合格，不能出具{spec.title}")
            claim_ids = list(session.scalars(select(Claim.id).where(
                Claim.teacher_id == teacher.id, Claim.period_key == period_key, Claim.state == "registered")
                .order_by(Claim.id)))
            today = platform.clock().astimezone().date()
            document = Document(kind=kind, code=new_code(), teacher_id=teacher.id, period_key=period_key,
                                scope_path=teacher.scope_path,
                                payload=build_payload(session, platform.registry, teacher, period_key, spec,
                                                      result, today),
                                issued_by=actor.user_id, issued_at=platform.clock())
            session.add(document)
            session.flush()
            if spec.numbered:
                document.number = spec.number_format.format(year=today.year, serial=document.id)
                document.payload = dict(document.payload, number=document.number)
            session.add_all(DocumentClaim(document_id=document.id, claim_id=c) for c in claim_ids)
            audit_append(session, [self.s.audit_entry(
                entity_type="document", entity_id=document.id, trigger="issue", from_state=None, to_state="issued",
                scope_path=document.scope_path,
                detail={"kind": kind, "teacher_id": teacher.id, "period": period_key, "claims": claim_ids,
                        "number": document.number})])
            session.flush()
            session.expunge(document)
            return document

    def get(self, document_id: int) -> Document:
        with self.s.transaction() as session:
            document = session.get(Document, document_id)
            if document is None or (self.s.actor.role == "teacher" and document.teacher_id != self.s.actor.teacher_id):
                raise NotFound("找不到该文书，或不在您的管辖范围内")
            session.expunge(document)
            return document

    def pdf(self, document: Document, *, base_url: str) -> bytes:
        from .pdf import render_document
        return render_document(self.s.platform.registry, document, base_url=base_url)


def revoke_documents_fed_by(session: Session, claim_ids, reason: str, *, at: datetime | None = None,
                            audit: dict | None = None) -> list[int]:
    """Revoke every unrevoked document fed by any of ``claim_ids`` (in the caller's transaction).
    Returns the revoked documents' ids. ``audit``: the fields of an audit entry (actor, request)
    to record one ``revoke`` entry per document."""
    claim_ids = list(claim_ids)
    if not claim_ids:
        return []
    ids: set[int] = set()
    for start in range(0, len(claim_ids), 500):
        ids.update(session.scalars(select(DocumentClaim.document_id).where(
            DocumentClaim.claim_id.in_(claim_ids[start:start + 500]))))
    if not ids:
        return []
    rows = session.execute(select(Document.id, Document.scope_path).where(
        Document.id.in_(ids), Document.revoked_at.is_(None)).execution_options(skip_scope=True)).all()
    if not rows:
        return []
    when = at or datetime.now(timezone.utc)
    session.execute(update(Document).where(Document.id.in_([r.id for r in rows]))
                    .values(revoked_at=when, revoked_reason=reason).execution_options(skip_scope=True))
    if audit is not None:
        audit_append(session, [dict(audit, at=when, entity_type="document", entity_id=r.id, trigger="revoke",
                                    from_state="issued", to_state="revoked", reason=reason, scope_path=r.scope_path,
                                    detail={"claims": claim_ids[:50]})
                               for r in rows])
    return [r.id for r in rows]


def lookup(platform, code: str) -> Document | None:
    """The document with this verification code, for the public page (no actor: a system read)."""
    from ..db.scope import Actor
    if not code or len(code) > 64:
        return None
    with platform.transaction(Actor.system("公开验证")) as session:
        document = session.scalars(select(Document).where(Document.code == code)).first()
        if document is not None:
            session.expunge(document)
        return document


def audit_export(services, *, what: str, entity_type: str, entity_id: int, scope_path: str,
                 detail: dict | None = None) -> None:
    """One audit record per export (trigger ``export``), in its own transaction: an export is a
    read, so read-only roles (the auditor) export too, and their exports are recorded as well."""
    from ..db.scope import Actor
    entry = services.audit_entry(entity_type=entity_type, entity_id=entity_id, trigger="export",
                                 from_state=None, to_state=None, scope_path=scope_path,
                                 detail=dict(detail or {}, what=what))
    with services.platform.transaction(Actor.system()) as session:
        audit_append(session, [entry])
