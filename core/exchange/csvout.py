"""CSV out (UTF-8 with a BOM, so Excel on Chinese Windows opens it as UTF-8) and the
``Content-Disposition`` header for a download with a Chinese file name (RFC 6266 / RFC 5987)."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from typing import IO, Any, Iterable
from urllib.parse import quote

from .xlsx_out import Column, cell_value

BOM = "\ufeff"
CSV_MIME = "text/csv; charset=utf-8"


def write_csv(out: IO[str], columns: list[Column], rows: Iterable[Any], *, bom: bool = True) -> int:
    """Write a header and ``rows`` to a text stream opened with ``newline=""``. Formula-like
    strings are neutralised exactly as in the Excel export. Returns the number of data rows."""
    if bom:
        out.write(BOM)
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([c.header for c in columns])
    count = 0
    for row in rows:
        writer.writerow(["" if (v := cell_value(c.get(row), text=c.text)) is None else v for c in columns])
        count += 1
    return count


def csv_bytes(columns: list[Column], rows: Iterable[Any]) -> bytes:
    buffer = io.StringIO(newline="")
    write_csv(buffer, columns, rows)
    return buffer.getvalue().encode("utf-8")


def ascii_fallback(filename: str, default: str = "download") -> str:
    """An ASCII-only file name for clients without RFC 5987 (keeps the extension)."""
    stem, dot, ext = filename.rpartition(".")
    if not dot:
        stem, ext = filename, ""
    text = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or default
    ext = re.sub(r"[^A-Za-z0-9]", "", ext)
    return f"{text}.{ext}" if ext else text


def content_disposition(filename: str, *, inline: bool = False) -> str:
    """``attachment; filename="summary.xlsx"; filename*=UTF-8''%E6%B1%87...``."""
    kind = "inline" if inline else "attachment"
    fallback = ascii_fallback(filename)
    encoded = quote(filename, safe="")
    return f'{kind}; filename="{fallback}"; filename*=UTF-8\'\'{encoded}'
