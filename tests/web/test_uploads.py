"""Evidence uploads and downloads: a file is judged by its content, never its name; hostile
uploads (a fake extension, HTML, SVG, a 20,000×20,000 PNG, a file over the limit, ``../`` names)
are refused with a Chinese message and nothing is stored; stored files have random names, are
served only within scope, as attachments with their Chinese names."""

from __future__ import annotations

import io
import os
import re
import struct
import zipfile
import zlib
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import func, select

from core.db.models import AuditRecord, Claim, Evidence
from core.db.scope import Actor
from core.services.evidence import check, clean_filename, sniff


def text(response) -> str:
    return response.get_data(as_text=True)


def png(size=(40, 30)) -> bytes:
    from PIL import Image
    out = io.BytesIO()
    Image.new("RGB", size, (10, 120, 10)).save(out, "PNG")
    return out.getvalue()


def jpeg() -> bytes:
    from PIL import Image
    out = io.BytesIO()
    Image.new("RGB", (30, 20), (10, 10, 120)).save(out, "JPEG")
    return out.getvalue()


def huge_png_header(width=20_000, height=20_000) -> bytes:
    """A PNG that claims 20,000×20,000 pixels (400 million): a few bytes that would need 1.2 GB
    decoded."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 1000)) + chunk(b"IEND", b""))


def office(parts: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return out.getvalue()


DOCX = office({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>"})
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"

HOSTILE = {
    "html named .pdf": ("证书.pdf", b"<!DOCTYPE html><html><script>alert(1)</script></html>", "不支持的文件类型"),
    "html": ("page.html", b"<html><body onload=alert(1)>", "不支持的文件类型"),
    "svg": ("logo.svg", b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            "不支持的文件类型"),
    "svg named .png": ("照片.png", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "不支持的文件类型"),
    "exe named .jpg": ("x.jpg", b"MZ\x90\x00" + b"\x00" * 200, "不支持的文件类型"),
    "20000x20000 png": ("大图.png", huge_png_header(), "图片尺寸过大"),
    "damaged png": ("坏图.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "图片文件已损坏"),
    "macro workbook": ("宏.xlsx", office({"[Content_Types].xml": b"<T/>", "xl/workbook.xml": b"<w/>",
                                          "xl/vbaProject.bin": b"\x00"}), "不支持的文件类型"),
    "traversal name, html": ("../../../etc/passwd.html", b"<html></html>", "不支持的文件类型"),
    "empty": ("空.pdf", b"", "文件是空的"),
}


@pytest.fixture
def upload_dir(app):
    return Path(app.config["JIJIAO_UPLOAD_DIR"])


def stored_files(upload_dir: Path) -> list[str]:
    return sorted(os.listdir(upload_dir)) if upload_dir.exists() else []


def counts(platform):
    with platform.transaction(Actor.system()) as s:
        return (s.scalar(select(func.count()).select_from(Claim)), s.scalar(select(func.count()).select_from(Evidence)))


def draft(world, teacher="wang", hours=5):
    return world.svc(teacher).claims.declare(world.teachers[teacher].id, "zhuanye.self", {"kind": "学术会议", "hours": hours})


def upload(c, claim_id, name, data):
    return c.post(f"/teacher/claim/{claim_id}/evidence", {"files": (io.BytesIO(data), name)},
                  token_from=f"/teacher/claim/{claim_id}", content_type="multipart/form-data", follow_redirects=True)


# -- the checks, one by one --------------------------------------------------------------------------

def test_content_decides_not_the_name():
    assert sniff(PDF) == "application/pdf" and sniff(png()) == "image/png" and sniff(jpeg()) == "image/jpeg"
    assert sniff(DOCX).endswith("wordprocessingml.document")
    assert check("证书.jpg", png(), max_bytes=10**6).content_type == "image/png"  # a PNG named .jpg is a PNG
    assert clean_filename("../../etc/passwd") == "passwd"
    assert clean_filename("C:\\Users\\王\\结业证书.pdf") == "结业证书.pdf"
    assert clean_filename("证书\x00\u202e.pdf\r\n") == "证书.pdf"
    assert clean_filename("..", "application/pdf") == "证明材料.pdf"
    assert len(clean_filename("长" * 300 + ".pdf")) == 120 and clean_filename("长" * 300 + ".pdf").endswith(".pdf")


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_upload_on_the_declaration_form_is_refused_and_nothing_is_stored(case, client, world, platform,
                                                                                 upload_dir):
    name, data, message = HOSTILE[case]
    r = client("wang").post("/teacher/declare/zhuanye.self",
                            {"in_kind": "学术会议", "in_hours": "3", "action": "save", "files": (io.BytesIO(data), name)},
                            token_from="/teacher/declare/zhuanye.self", content_type="multipart/form-data")
    assert r.status_code == 200
    page = text(r)
    assert message in page and "未上传" in page
    assert counts(platform) == (0, 0), "nothing is declared when a file is refused"
    assert stored_files(upload_dir) == []


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_upload_to_a_draft_is_refused_and_nothing_is_stored(case, client, world, platform, upload_dir):
    claim = draft(world)
    name, data, message = HOSTILE[case]
    page = text(upload(client("wang"), claim.id, name, data))
    assert message in page
    assert counts(platform) == (1, 0) and stored_files(upload_dir) == []


def test_a_file_over_the_limit_is_refused(client, world, platform, upload_dir, app):
    claim = draft(world)
    limit = app.config["JIJIAO_UPLOAD_MAX_BYTES"]
    big = PDF + b"0" * (limit + 1 - len(PDF))
    page = text(upload(client("wang"), claim.id, "大文件.pdf", big))
    assert "超过 10 MB 的上限" in page
    assert counts(platform) == (1, 0) and stored_files(upload_dir) == []
    # Far over the limit: the request itself is refused before any of it is read into a view.
    r = client("wang").post(f"/teacher/claim/{claim.id}/evidence",
                            {"files": (io.BytesIO(b"%PDF-" + b"0" * (limit + 512 * 1024)), "更大.pdf")},
                            token_from=f"/teacher/claim/{claim.id}", content_type="multipart/form-data")
    assert r.status_code == 413 and "文件过大" in text(r)
    assert counts(platform) == (1, 0) and stored_files(upload_dir) == []


def test_a_traversal_name_is_only_display_text(client, world, platform, upload_dir, tmp_path):
    claim = draft(world)
    page = text(upload(client("wang"), claim.id, "../../../../tmp/evil.png", png()))
    assert "已上传 1 个文件" in page
    with platform.transaction(Actor.system()) as s:
        [row] = s.scalars(select(Evidence)).all()
    assert row.filename == "evil.png" and re.fullmatch(r"[0-9a-f]{32}", row.stored_as)
    assert stored_files(upload_dir) == [row.stored_as]
    assert not Path("/tmp/evil.png").exists()


# -- storing, serving, scope --------------------------------------------------------------------------

def test_stored_with_a_random_name_served_as_an_attachment_in_scope_only(client, world, platform, upload_dir):
    claim = draft(world)
    wang = client("wang")
    assert "已上传 1 个文件" in text(upload(wang, claim.id, "结业证书（2019）.png", png()))
    assert "已上传 1 个文件" in text(upload(wang, claim.id, "学时证明.docx", DOCX))
    assert "该文件已经上传过" in text(upload(wang, claim.id, "again.png", png()))
    with platform.transaction(Actor.system()) as s:
        rows = s.scalars(select(Evidence).order_by(Evidence.id)).all()
        audit = s.scalars(select(AuditRecord.trigger).where(AuditRecord.entity_id == claim.id,
                                                            AuditRecord.entity_type == "claim")).all()
    image, doc = rows
    assert (image.filename, image.content_type, image.size) == ("结业证书（2019）.png", "image/png", len(png()))
    assert image.scope_path == claim.scope_path and len(image.sha256) == 64
    assert audit.count("add_evidence") == 2
    assert sorted(stored_files(upload_dir)) == sorted([image.stored_as, doc.stored_as])

    r = wang.get(f"/evidence/{image.id}")
    assert r.status_code == 200 and r.data == png()
    assert r.headers["Content-Type"] == "image/png"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Content-Disposition"].startswith("attachment;")
    assert "filename*=UTF-8''" + quote("结业证书（2019）.png", safe="") in r.headers["Content-Disposition"]
    # Inline only for images and PDF, framable by the platform's own pages (the reviewer's preview).
    r = wang.get(f"/evidence/{image.id}?inline=1")
    assert r.headers["Content-Disposition"].startswith("inline;") and "frame-ancestors 'self'" in r.headers[
        "Content-Security-Policy"]
    r = wang.get(f"/evidence/{doc.id}?inline=1")
    assert r.headers["Content-Disposition"].startswith("attachment;")
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
    # In scope: the school and the district above; out of scope: another teacher, another
    # school, another province — a 404 like a missing id. Signed out: to the sign-in page.
    for who in ("thzx_admin", "th_rev", "gz_rev", "auditor"):
        assert client(who).get(f"/evidence/{image.id}").status_code == 200, who
    for who in ("li", "thxx_admin", "cgxx_admin", "ec_rev"):
        assert client(who).get(f"/evidence/{image.id}").status_code == 404, who
    assert wang.get("/evidence/999999").status_code == 404
    assert client().get(f"/evidence/{image.id}").status_code == 302


def test_evidence_changes_only_while_draft_or_returned_and_only_by_the_claimant(client, world, platform, upload_dir):
    claim = draft(world)
    wang = client("wang")
    upload(wang, claim.id, "证书.pdf", PDF)
    with platform.transaction(Actor.system()) as s:
        [row] = s.scalars(select(Evidence)).all()
    page = text(wang.get(f"/teacher/claim/{claim.id}"))
    assert "证书.pdf" in page and f"/teacher/evidence/{row.id}/remove" in page
    world.svc("wang").claims.submit(claim.id)
    page = text(upload(wang, claim.id, "证书2.png", png()))
    assert "只有草稿或被退回的记录可以添加或删除证明材料" in page
    r = wang.post(f"/teacher/evidence/{row.id}/remove", {}, token_from="/teacher/", follow_redirects=True)
    assert "只有草稿或被退回的记录可以添加或删除证明材料" in text(r)
    assert counts(platform) == (1, 1) and len(stored_files(upload_dir)) == 1
    # Returned: the teacher may fix the evidence again.
    world.svc("thzx_admin").claims.return_(claim.id, reason="请上传原件扫描件")
    r = wang.post(f"/teacher/evidence/{row.id}/remove", {}, token_from="/teacher/", follow_redirects=True)
    assert "已删除文件「证书.pdf」" in text(r)
    assert counts(platform) == (1, 0) and stored_files(upload_dir) == []
    # Someone else's claim or file: not found.
    other = draft(world, "li")
    r = wang.post(f"/teacher/claim/{other.id}/evidence", {"files": (io.BytesIO(png()), "x.png")},
                  token_from="/teacher/", content_type="multipart/form-data")
    assert r.status_code == 404
    upload(client("li"), other.id, "li.pdf", PDF)
    with platform.transaction(Actor.system()) as s:
        li_file = s.scalars(select(Evidence)).one()
    assert wang.post(f"/teacher/evidence/{li_file.id}/remove", {}, token_from="/teacher/").status_code == 404
    assert counts(platform) == (2, 1)
