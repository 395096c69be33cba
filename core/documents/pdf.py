"""PDF documents: the plugin's Jinja template rendered with the document's stored payload, a QR
code of its verification link (``segno``, pure Python, as an SVG data URI), printed by WeasyPrint
with the CJK font of Debian's ``fonts-noto-cjk`` (embedded as a subset).

System packages WeasyPrint needs on Debian: ``libpango-1.0-0 libpangoft2-1.0-0
libharfbuzz-subset0`` and the font ``fonts-noto-cjk``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import segno
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from .issue import document_kinds

BASE_CSS = """
@page { size: A4; margin: 16mm 16mm 18mm 16mm; }
html { font-family: "Noto Sans CJK SC", "Noto Serif CJK SC", sans-serif; font-size: 11pt; color: #000; }
h1 { font-size: 20pt; text-align: center; letter-spacing: 2pt; margin: 0 0 6mm 0; }
table.grid { width: 100%; border-collapse: collapse; }
table.grid td, table.grid th { border: 0.6pt solid #000; padding: 2.2mm 2mm; }
table.grid th { font-weight: bold; background: #f2f2f2; }
.verify { margin-top: 8mm; display: flex; align-items: center; gap: 4mm; font-size: 9pt; }
.verify img { width: 26mm; height: 26mm; }
.code { word-break: break-all; }
.revoked { color: #b00; font-weight: bold; font-size: 16pt; text-align: center; border: 2pt solid #b00; padding: 2mm; }
"""


def verify_url(base_url: str, code: str) -> str:
    return f"{base_url.rstrip('/')}/verify/{code}"


def qr_data_uri(url: str) -> str:
    return segno.make(url, error="m").svg_data_uri(scale=4, border=2)


@lru_cache(maxsize=32)
def _environment(folder: str) -> Environment:
    env = Environment(loader=FileSystemLoader(folder), autoescape=select_autoescape(["html"]),
                      undefined=StrictUndefined)
    env.filters["cn_date"] = cn_date
    return env


def cn_date(value) -> str:
    """2024-09-01 → 2024年9月1日."""
    from datetime import date
    day = date.fromisoformat(str(value)) if value else None
    return f"{day.year}年{day.month}月{day.day}日" if day else ""


@lru_cache(maxsize=1)
def _font_config():
    from weasyprint.text.fonts import FontConfiguration
    return FontConfiguration()


def render_html(registry, document, *, base_url: str) -> str:
    payload = document.payload
    kinds = document_kinds(registry, payload["jurisdiction_code"])
    spec = kinds.get(document.kind)
    if spec is None:
        from ..errors import InputError
        raise InputError("该文书的版式已不再提供（插件未声明此类文书）")
    env = _environment(str(spec.template.parent))
    url = verify_url(base_url, document.code)
    return env.get_template(spec.template.name).render(
        doc=payload, number=document.number, code=document.code, verify_url=url, qr=qr_data_uri(url),
        revoked=document.revoked_at is not None, base_css=BASE_CSS)


def html_to_pdf(html: str) -> bytes:
    from weasyprint import HTML
    return HTML(string=html, base_url=str(Path.cwd())).write_pdf(font_config=_font_config())


def render_document(registry, document, *, base_url: str) -> bytes:
    return html_to_pdf(render_html(registry, document, base_url=base_url))


def render_many(registry, documents, *, base_url: str) -> bytes:
    """Many documents in one PDF (a school printing its teachers' forms): each laid out on its own
    pages, the fonts subset and embedded once for all of them."""
    from weasyprint import HTML
    rendered = [HTML(string=render_html(registry, d, base_url=base_url), base_url=str(Path.cwd()))
                .render(font_config=_font_config()) for d in documents]
    if not rendered:
        raise ValueError("no documents")
    pages = [page for doc in rendered for page in doc.pages]
    return rendered[0].copy(pages).write_pdf()
