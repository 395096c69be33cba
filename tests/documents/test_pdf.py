"""PDF forms and certificates: the plugin's layout, the CJK font embedded as a subset, the text
extractable, a QR code of the verification link; revocation by the claims a document was fed by."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select

from core.db.models import AuditRecord, Document, DocumentClaim
from core.db.scope import Actor
from core.documents.issue import DocumentService, lookup, revoke_documents_fed_by
from core.errors import InputError

ARTEFACTS = Path(__file__).resolve().parent.parent / "artefacts"
BASE = "https://jijiao.example.cn"
needs_poppler = pytest.mark.skipif(not shutil.which("pdftoppm"), reason="poppler-utils 未安装")


def issue(world, who, teacher, kind, period=None):
    return DocumentService(world.svc(who)).issue(world.teachers[teacher].id, kind, period)


def pdf_checks(pdf: bytes, name: str, expected: list[str]) -> str:
    ARTEFACTS.mkdir(exist_ok=True)
    path = ARTEFACTS / f"{name}.pdf"
    path.write_bytes(pdf)
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout
    cjk = [line for line in fonts.splitlines() if "CJK" in line]
    assert cjk, fonts
    # name: a subset tag ABCDEF+...; emb / sub columns: yes yes
    assert all(re.match(r"^[A-Z]{6}\+", line) and re.search(r"\byes\s+yes\b", line) for line in cjk), fonts
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    for piece in expected:
        assert piece in text.replace(" ", ""), (piece, text)
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-singlefile", str(path), str(ARTEFACTS / name)], check=True)
    assert (ARTEFACTS / f"{name}.png").stat().st_size > 5000
    return text


@needs_poppler
def test_registration_form_with_a_verification_code(documents_world, platform):
    w = documents_world
    document = issue(w, "zsxx_admin", "sun", "registration_form", "2024-2025")
    assert len(document.code) >= 32 and document.number is None
    service = DocumentService(w.svc("zsxx_admin"))
    pdf = service.pdf(document, base_url=BASE)
    text = pdf_checks(pdf, "zhongshan_registration_form",
                      ["中山市中小学教师继续教育学分登记表", "孙老师", "中山市实验小学", "镇区培训", "校本培训",
                       "市级培训", "本学年合计", "防伪码", document.code[:20]])
    sun = w.teachers["sun"].id_number
    assert sun not in text and sun[:4] + "*" * 10 + sun[-4:] in text
    with platform.transaction(Actor.system()) as s:
        fed = set(s.scalars(select(DocumentClaim.claim_id).where(DocumentClaim.document_id == document.id)))
        assert len(fed) == 3
        assert s.scalars(select(AuditRecord.trigger).where(AuditRecord.entity_type == "document")).all() == ["issue"]


@needs_poppler
def test_cycle_certificate_numbered_and_valid_five_years(documents_world, platform, clock):
    clock.set(2020, 3, 15)
    document = issue(documents_world, "zzxx_admin", "zhou", "cycle_certificate")
    assert document.period_key == "cycle" and document.number == f"豫继教2020{document.id:06d}"
    assert document.payload["issued_on"] == "2020-03-15" and document.payload["valid_until"] == "2025-03-15"
    pdf = DocumentService(documents_world.svc("zzxx_admin")).pdf(document, base_url=BASE)
    pdf_checks(pdf, "zhengzhou_cycle_certificate",
               ["河南省中小学教师继续教育登记证书", document.number, "周老师", "370学时", "校本研修80学时",
                "2020年3月15日", "2025年3月15日", "经考核合格"])


def test_refusals(documents_world, world):
    with pytest.raises(InputError, match="本地区不出具该类文书（可出具：中山市中小学教师继续教育学分登记表）"):
        issue(documents_world, "zsxx_admin", "sun", "cycle_certificate")
    with pytest.raises(InputError, match="本地区不出具该类文书（可出具：无）"):
        issue(documents_world, "thzx_admin", "wang", "registration_form", "2019")
    with pytest.raises(Exception, match="不在您的管辖范围内"):
        issue(documents_world, "thzx_admin", "sun", "registration_form", "2024-2025")
    with pytest.raises(InputError, match="没有已登记的学时"):
        issue(documents_world, "zsxx_admin", "sun", "registration_form", "2023-2024")
    with pytest.raises(InputError, match="只有学校管理员或审核部门"):
        issue(documents_world, "wang", "wang", "registration_form", "2019")


def test_revocation_by_the_claims_a_document_was_fed_by(documents_world, platform):
    document = issue(documents_world, "zsxx_admin", "sun", "registration_form", "2024-2025")
    other = issue(documents_world, "zzxx_admin", "zhou", "cycle_certificate")
    with platform.transaction(Actor.system()) as s:
        claim_id = s.scalars(select(DocumentClaim.claim_id).where(DocumentClaim.document_id == document.id)).first()
    with platform.transaction(Actor.system()) as s:
        entry = platform.services(Actor.system()).audit_entry(entity_type="document", entity_id=0, trigger="revoke",
                                                               from_state=None, to_state=None, scope_path="/")
        audit = {k: entry[k] for k in ("actor_id", "actor_name", "role", "node_id", "request_id")}
        assert revoke_documents_fed_by(s, [claim_id, 999999], "学时登记被撤销", audit=audit) == [document.id]
        assert revoke_documents_fed_by(s, [claim_id], "again") == []  # already revoked
    found = lookup(platform, document.code)
    assert found.revoked_at is not None and found.revoked_reason == "学时登记被撤销"
    assert lookup(platform, other.code).revoked_at is None
    assert lookup(platform, "x" * 43) is None and lookup(platform, "") is None
    with platform.transaction(Actor.system()) as s:
        assert s.scalar(select(AuditRecord.reason).where(AuditRecord.trigger == "revoke")) == "学时登记被撤销"
