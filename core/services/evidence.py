"""Evidence (证明材料) attached to a claim: checked by content, stored under a random name.

* What a file is comes from its first bytes, never its name: PDF, PNG and JPEG, and Office
  documents (docx, xlsx: zip containers holding the Office parts, without macros). HTML, SVG,
  scripts and everything else are refused whatever their extension.
* Images are opened with Pillow, which reads only the header first: an image over
  ``MAX_PIXELS`` is refused without decoding a pixel; a damaged one is refused too.
* Files are stored as ``<upload_dir>/<32 random hex digits>``; the name the person gave is kept
  only as display text (path parts and control characters removed).
* Only the claimant adds or removes evidence, and only while the claim is a draft (recorded) or
  returned. Every change is in the audit trail.
"""

from __future__ import annotations

import hashlib
import io
import os
import secrets
import unicodedata
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

from ..audit import append as audit_append
from ..db.models import Claim, Evidence
from ..errors import InputError
from ..workflow import TransitionRefused
from . import NotFound

MAX_PIXELS = 40_000_000  # a 40-megapixel photo is plenty for a certificate
MAX_FILES = 10  # per claim
EDITABLE_STATES = ("draft", "recorded", "returned")

PDF, PNG, JPEG = "application/pdf", "image/png", "image/jpeg"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EXTENSIONS = {PDF: ".pdf", PNG: ".png", JPEG: ".jpg", DOCX: ".docx", XLSX: ".xlsx"}
IMAGES = (PNG, JPEG)
ACCEPTED = "PDF、PNG、JPEG 图片或 Word（docx）、Excel（xlsx）文档"


@dataclass(frozen=True)
class Checked:
    """A file that passed the checks: what it is, its display name, size and digest."""

    filename: str
    content_type: str
    size: int
    sha256: str
    data: bytes


def clean_filename(raw: str | None, content_type: str | None = None) -> str:
    """Display text from a client's file name: the last path part, without control or format
    characters, at most 120 characters (the extension kept); never empty."""
    text = unicodedata.normalize("NFC", str(raw or ""))
    text = text.replace("\\", "/").split("/")[-1]
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C")
    text = text.strip().lstrip(".").strip()
    if len(text) > 120:
        stem, dot, ext = text.rpartition(".")
        ext = ext[:10] if dot else ""
        text = (stem if dot else text)[:120 - len(ext) - 1] + ("." + ext if ext else "")
    if not text:
        text = "证明材料" + EXTENSIONS.get(content_type or "", "")
    return text


def sniff(data: bytes) -> str | None:
    """The content type from the first bytes, or None for anything not accepted."""
    if data.startswith(b"%PDF-"):
        return PDF
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(b"PK\x03\x04"):
        return _office(data)
    return None


def _office(data: bytes) -> str | None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, ValueError, OSError, EOFError):
        return None
    if "[Content_Types].xml" not in names or any(n.lower().endswith("vbaproject.bin") for n in names):
        return None
    if "word/document.xml" in names:
        return DOCX
    if "xl/workbook.xml" in names:
        return XLSX
    return None


def check_image(data: bytes, content_type: str, max_pixels: int = MAX_PIXELS) -> None:
    """Refuse an image that is too large (judged from its header alone) or damaged."""
    from PIL import Image
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:  # reads the header only
                width, height = image.size
                fmt = image.format
                if width * height > max_pixels:
                    raise InputError(f"图片尺寸过大（{width}×{height} 像素），请缩小后再上传"
                                     f"（不超过 {max_pixels // 1_000_000} 百万像素）", field="file")
                if (content_type == PNG and fmt != "PNG") or (content_type == JPEG and fmt != "JPEG"):
                    raise InputError("文件内容与图片格式不符，请重新导出后上传", field="file")
                image.verify()
    except InputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InputError("图片尺寸过大，请缩小后再上传", field="file") from None
    except Exception:  # noqa: BLE001 - Pillow raises many kinds for a damaged file
        raise InputError("图片文件已损坏或无法识别，请重新拍照或导出后上传", field="file") from None


def check(filename: str | None, data: bytes, *, max_bytes: int, max_pixels: int = MAX_PIXELS) -> Checked:
    """Check one uploaded file; InputError (Chinese) when refused. Nothing is stored here."""
    if not data:
        raise InputError("文件是空的，请重新选择", field="file")
    if len(data) > max_bytes:
        raise InputError(f"文件超过 {max_bytes // (1024 * 1024)} MB 的上限，请压缩后再上传", field="file")
    content_type = sniff(data)
    if content_type is None:
        raise InputError(f"不支持的文件类型：只接受 {ACCEPTED}（按文件内容判断，与扩展名无关）", field="file")
    if content_type in IMAGES:
        check_image(data, content_type, max_pixels)
    return Checked(clean_filename(filename, content_type), content_type, len(data),
                   hashlib.sha256(data).hexdigest(), data)


class EvidenceService:
    def __init__(self, services, *, upload_dir: str | os.PathLike, max_bytes: int, max_pixels: int = MAX_PIXELS):
        self.s = services
        self.dir = Path(upload_dir)
        self.max_bytes = max_bytes
        self.max_pixels = max_pixels

    def check(self, filename: str | None, data: bytes) -> Checked:
        return check(filename, data, max_bytes=self.max_bytes, max_pixels=self.max_pixels)

    def path_of(self, evidence: Evidence) -> Path:
        name = evidence.stored_as
        if not name or not all(c in "0123456789abcdef" for c in name):
            raise NotFound("找不到该文件")
        return self.dir / name

    def _editable(self, session, claim: Claim) -> None:
        from .claims import ClaimService
        ctx = ClaimService(self.s)._context(session, claim, None)
        if not ctx.actor_is_claimant():
            raise TransitionRefused("只有申报人本人可以添加或删除证明材料")
        if claim.state not in EDITABLE_STATES:
            raise TransitionRefused("只有草稿或被退回的记录可以添加或删除证明材料")

    def add(self, claim_id: int, checked: Checked) -> Evidence:
        """Attach a checked file to a claim (the claimant's draft or returned claim)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        path = None
        try:
            with self.s.transaction() as session:
                claim = session.get(Claim, claim_id)
                if claim is None:
                    raise NotFound(f"找不到第{claim_id}号记录，或不在您的管辖范围内")
                self._editable(session, claim)
                count = session.scalar(select(func.count()).select_from(Evidence).where(Evidence.claim_id == claim.id))
                if count >= MAX_FILES:
                    raise InputError(f"每条记录最多上传 {MAX_FILES} 个文件", field="file")
                same = session.scalar(select(Evidence.filename).where(Evidence.claim_id == claim.id,
                                                                      Evidence.sha256 == checked.sha256))
                if same is not None:
                    raise InputError(f"该文件已经上传过（{same}）", field="file")
                stored_as = secrets.token_hex(16)
                path = self.dir / stored_as
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as out:
                    out.write(checked.data)
                row = Evidence(claim_id=claim.id, filename=checked.filename, content_type=checked.content_type,
                               size=checked.size, sha256=checked.sha256, stored_as=stored_as,
                               scope_path=claim.scope_path, uploaded_by=self.s.actor.user_id,
                               uploaded_at=self.s.platform.clock())
                session.add(row)
                session.flush()
                audit_append(session, [self.s.audit_entry(
                    entity_type="claim", entity_id=claim.id, trigger="add_evidence", from_state=claim.state,
                    to_state=claim.state, scope_path=claim.scope_path,
                    detail={"evidence": row.id, "filename": row.filename, "sha256": row.sha256})])
                session.expunge(row)
                return row
        except BaseException:
            if path is not None and path.exists():
                path.unlink()
            raise

    def remove(self, evidence_id: int) -> int:
        """Remove one file from the claimant's draft or returned claim; returns the claim id."""
        with self.s.transaction() as session:
            row = session.get(Evidence, evidence_id)
            if row is None:
                raise NotFound("找不到该证明材料，或不在您的管辖范围内")
            claim = session.get(Claim, row.claim_id)
            if claim is None:
                raise NotFound("找不到该证明材料，或不在您的管辖范围内")
            self._editable(session, claim)
            path = self.path_of(row)
            audit_append(session, [self.s.audit_entry(
                entity_type="claim", entity_id=claim.id, trigger="remove_evidence", from_state=claim.state,
                to_state=claim.state, scope_path=claim.scope_path,
                detail={"evidence": row.id, "filename": row.filename, "sha256": row.sha256})])
            session.delete(row)
            claim_id = claim.id
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        return claim_id
