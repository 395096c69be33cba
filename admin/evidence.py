"""Evidence files in the browser: reading an upload (size-limited, never trusting its name or
type) and serving a stored file to those whose scope holds it.

``/evidence/<id>`` (endpoint ``evidence.download``) sends the file as an attachment with its
Chinese name (RFC 5987 ``filename*``); ``?inline=1`` shows an image or PDF inline, framable by
the platform's own pages only (for the reviewer's preview). The record is read through ``db()``:
out of scope is a 404 exactly like a missing id.
"""

from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, abort, current_app, request, send_file

from core.db.models import Evidence
from core.services import NotFound
from core.services.evidence import IMAGES, PDF, EvidenceService

from .auth import login_required
from .views.base import db, services

bp = Blueprint("evidence", __name__)


def evidence_service() -> EvidenceService:
    config = current_app.config
    return EvidenceService(services(), upload_dir=config["JIJIAO_UPLOAD_DIR"],
                           max_bytes=config["JIJIAO_UPLOAD_MAX_BYTES"])


def read_upload(storage, max_bytes: int) -> bytes:
    """The bytes of an uploaded file, reading at most one byte past the limit (so a too-large
    file is recognised without keeping it all)."""
    return storage.stream.read(max_bytes + 1)


def uploaded_files(field: str = "files"):
    """The non-empty files the request carries in ``field``."""
    return [f for f in request.files.getlist(field) if f is not None and (f.filename or "").strip()]


def content_disposition(kind: str, filename: str) -> str:
    ascii_name = "".join(c if 32 <= ord(c) < 127 and c not in '"\\;' else "_" for c in filename) or "file"
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


@bp.route("/evidence/<int:evidence_id>")
@login_required
def download(evidence_id: int):
    row = db().get(Evidence, evidence_id)
    if row is None:
        abort(404)
    try:
        path = evidence_service().path_of(row)
    except NotFound:
        abort(404)
    if not path.is_file():
        abort(404)
    inline = request.args.get("inline") == "1" and row.content_type in (PDF, *IMAGES)
    response = send_file(path, mimetype=row.content_type, as_attachment=False, conditional=True, max_age=0)
    response.headers["Content-Disposition"] = content_disposition("inline" if inline else "attachment", row.filename)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    if inline:
        response.frame_ancestors = "'self'"
    return response


def init_app(app) -> None:
    if "evidence" not in app.blueprints:
        app.register_blueprint(bp)
