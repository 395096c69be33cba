"""Excel in: ONE importer for every upload (rosters, participant lists, registrations).

The caller declares its columns (``Field``: Chinese header and aliases → field, type, required);
``read_table`` reads an .xlsx with openpyxl in read-only mode, finds the header row, and returns
typed rows plus per-row errors (``RowError``: the row number as Excel shows it, the column letter
and header, and what is wrong, in Chinese).

Hostile files are refused before openpyxl parses them, quickly and in bounded memory
(``ImportRefused`` with a Chinese message):

- not a spreadsheet: judged by the content's signature, never by the file name;
- .xls (the old binary format): refused with a message to save as .xlsx;
- a zip bomb: the zip's declared uncompressed sizes, their ratio to the compressed sizes and the
  number of members are checked first; ``zipfile`` never inflates a member past its declared
  size, so the declared sizes bound the memory;
- an XML bomb: any DTD (``<!DOCTYPE``/``<!ENTITY``) anywhere in a member is refused before any
  parser runs; openpyxl's worksheet parser is ``defusedxml``'s (a dependency), which refuses
  entities as a second line;
- a sheet claiming a million rows: its ``<dimension>`` is checked, and reading stops at the row
  limit whatever the dimension said.

Inside the data, formulas where values belong, merged cells and numbers in a text column (an ID
number typed as a number loses its last digits) are per-row errors.
"""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Any, Callable

from openpyxl.utils import get_column_letter, range_boundaries

from ..errors import InputError, JijiaoError

MAX_BYTES = 10 * 1024 * 1024          # the upload itself
MAX_UNCOMPRESSED = 200 * 1024 * 1024  # all members together, as declared
MAX_RATIO = 200                       # declared uncompressed / compressed, per member
MAX_MEMBERS = 2000
MAX_ROWS = 200_000
HEADER_SCAN_ROWS = 20
XLSX_SIGNATURE = b"PK\x03\x04"
OLE2_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
DTD = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
DIMENSION = re.compile(rb"<(?:\w+:)?dimension\s+ref=\"([A-Z]+\d+)(?::([A-Z]+)(\d+))?\"")
MERGE = re.compile(rb"<(?:\w+:)?mergeCell\s+ref=\"([A-Z]+\d+:[A-Z]+\d+)\"")


class ImportRefused(JijiaoError):
    """The whole file is refused (not a spreadsheet, hostile, too large, no header row)."""


@dataclass(frozen=True)
class Field:
    """A declared column: the field name, its Chinese header, other headers accepted for it, the
    type (``str``, ``text`` — a string that must not arrive as a number, ``id_number``, ``int``,
    ``decimal``, ``date``, ``bool``) and whether it is required."""

    name: str
    header: str
    type: str = "str"
    required: bool = False
    aliases: tuple[str, ...] = ()
    choices: tuple[str, ...] = ()
    parse: Callable[[Any], Any] | None = None  # a custom converter raising InputError


@dataclass(frozen=True)
class RowError:
    row: int          # as Excel shows it (1-based)
    column: str       # the letter, "" for a whole-row problem
    header: str
    message: str

    def __str__(self) -> str:
        if self.column:
            return f"第{self.row}行 {self.column}列（{self.header}）：{self.message}"
        return f"第{self.row}行：{self.message}"


@dataclass
class ImportResult:
    rows: list[dict] = field(default_factory=list)   # each with "_row": the Excel row number
    errors: list[RowError] = field(default_factory=list)
    header_row: int = 0
    columns: dict[str, str] = field(default_factory=dict)  # field → column letter
    sheet: str = ""

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self, limit: int = 20) -> str:
        shown = "；".join(str(e) for e in self.errors[:limit])
        more = f"（另有 {len(self.errors) - limit} 处）" if len(self.errors) > limit else ""
        return f"共 {len(self.errors)} 处错误：{shown}{more}"


def norm_header(text: Any) -> str:
    """Headers compare without spaces, line breaks, full-width forms, a trailing colon or the
    required marker ``*``."""
    if text is None:
        return ""
    value = unicodedata.normalize("NFKC", str(text))
    return re.sub(r"[\s*＊:：]+", "", value).lower()


# -- the file as a whole ------------------------------------------------------------------------
def _read_bytes(source: str | Path | bytes | IO[bytes], max_bytes: int) -> bytes:
    if isinstance(source, (bytes, bytearray)):
        data = bytes(source)
    elif isinstance(source, (str, Path)):
        path = Path(source)
        if path.stat().st_size > max_bytes:
            raise ImportRefused(f"文件过大（上限 {max_bytes // (1024 * 1024)} MB），请拆分后上传")
        data = path.read_bytes()
    else:
        data = source.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ImportRefused(f"文件过大（上限 {max_bytes // (1024 * 1024)} MB），请拆分后上传")
    return data


def check_container(data: bytes, *, max_uncompressed: int = MAX_UNCOMPRESSED) -> zipfile.ZipFile:
    """The zip of an .xlsx, after the signature, size, ratio and DTD checks."""
    if data.startswith(OLE2_SIGNATURE):
        raise ImportRefused("不支持旧版 Excel（.xls）文件：请在 Excel 中“另存为” .xlsx 格式后再上传")
    if not data.startswith(XLSX_SIGNATURE):
        raise ImportRefused("文件不是 Excel 表格（.xlsx）：请上传用 Excel 或 WPS 保存的 .xlsx 文件")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise ImportRefused("文件已损坏，无法作为 Excel 表格读取") from None
    if len(members) > MAX_MEMBERS:
        raise ImportRefused("文件结构异常（内部文件过多），已拒绝")
    total = 0
    for info in members:
        total += info.file_size
        if info.file_size > 1024 * 1024 and info.file_size > MAX_RATIO * max(1, info.compress_size):
            raise ImportRefused("文件结构异常（压缩比过高，疑似“压缩炸弹”），已拒绝")
        if total > max_uncompressed:
            raise ImportRefused("文件解压后过大，已拒绝：请拆分后上传")
    names = {i.filename for i in members}
    if "[Content_Types].xml" not in names or not any(n.startswith("xl/") for n in names):
        raise ImportRefused("文件不是 Excel 表格（.xlsx）：请上传用 Excel 或 WPS 保存的 .xlsx 文件")
    for info in members:
        if info.filename.endswith((".xml", ".rels", ".vml")) and _has_dtd(archive, info):
            raise ImportRefused("文件含有不允许的 XML 实体声明（疑似恶意文件），已拒绝")
    return archive


def _has_dtd(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bool:
    """Whether a member declares a DTD or an entity anywhere (read in chunks, whatever parser
    openpyxl later uses: with lxml installed its ``fromstring`` is not the defused one)."""
    tail = b""
    with archive.open(info) as member:
        while chunk := member.read(1 << 20):
            if DTD.search(tail + chunk):
                return True
            tail = chunk[-16:]
    return False


def _sheet_member(archive: zipfile.ZipFile, sheet_index: int = 0) -> str | None:
    """The zip member of the first worksheet (as listed by the workbook), for the raw checks."""
    try:
        workbook = archive.read("xl/workbook.xml")
        rels = archive.read("xl/_rels/workbook.xml.rels")
    except KeyError:
        return None
    ids = re.findall(rb"<(?:\w+:)?sheet\b[^>]*?r:id=\"([^\"]+)\"", workbook)
    if not ids or sheet_index >= len(ids):
        return None
    rid = ids[sheet_index]
    for rel in re.findall(rb"<Relationship\b[^>]*>", rels):
        if re.search(rb"Id=\"" + re.escape(rid) + rb"\"", rel):
            target = re.search(rb"Target=\"([^\"]+)\"", rel)
            if target:
                path = target.group(1).decode()
                return path.lstrip("/") if path.startswith("/") else "xl/" + path
    return None


def scan_sheet(archive: zipfile.ZipFile, member: str) -> tuple[int | None, list[tuple[int, int, int, int]]]:
    """The declared last row (from ``<dimension>``) and the merged ranges, read in chunks."""
    rows = None
    merges: list[tuple[int, int, int, int]] = []
    tail = b""
    with archive.open(member) as stream:
        first = True
        while chunk := stream.read(1 << 20):
            block = tail + chunk
            if first:
                match = DIMENSION.search(block[:8192])
                if match:
                    rows = int(match.group(3)) if match.group(3) else int(re.sub(rb"[A-Z]", b"", match.group(1)))
                first = False
            if b"mergeCell" in block:
                for ref in MERGE.findall(block):
                    merges.append(range_boundaries(ref.decode()))
            tail = block[-200:]  # a tag split across two chunks is seen whole; duplicates dropped below
    return rows, list(dict.fromkeys(merges))


# -- values -------------------------------------------------------------------------------------
DATE_PATTERNS = (re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$"), re.compile(r"^(\d{4})(\d{2})(\d{2})$"))
TRUE = {"是", "合格", "y", "yes", "true", "1", "√", "对"}
FALSE = {"否", "不合格", "n", "no", "false", "0", "×", ""}


def convert(spec: Field, value: Any) -> Any:
    """The typed value of a (non-empty) cell, or InputError in Chinese."""
    kind = spec.type
    if spec.parse is not None:
        return spec.parse(value)
    if kind in ("text", "id_number") and isinstance(value, (int, float)) and not isinstance(value, bool):
        raise InputError("该列必须以文本格式填写（数字格式会丢失位数）：请将该列设为“文本”后重新输入")
    if kind == "id_number":
        from ..idnumber import normalise
        return normalise(value)
    if kind in ("str", "text"):
        text = unicodedata.normalize("NFKC", str(value)).strip() if kind == "text" else str(value).strip()
        if isinstance(value, float) and value.is_integer():
            text = str(int(value))
        if spec.choices and text not in spec.choices:
            raise InputError(f"应为以下之一：{'、'.join(spec.choices)}；填写的是「{text}」")
        return text
    if kind == "int":
        if isinstance(value, bool):
            raise InputError("应为整数")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        try:
            return int(str(value).strip())
        except ValueError:
            raise InputError(f"应为整数，填写的是「{value}」") from None
    if kind == "decimal":
        if isinstance(value, bool):
            raise InputError("应为数字")
        try:
            number = Decimal(str(value).strip().replace(",", ""))
        except InvalidOperation:
            raise InputError(f"应为数字，填写的是「{value}」") from None
        if not number.is_finite():
            raise InputError(f"应为数字，填写的是「{value}」")
        return number
    if kind == "date":
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        text = unicodedata.normalize("NFKC", str(value)).strip()
        for pattern in DATE_PATTERNS:
            match = pattern.match(text)
            if match:
                try:
                    return date(*map(int, match.groups()))
                except ValueError:
                    break
        raise InputError(f"应为日期（如 2024-09-01），填写的是「{value}」")
    if kind == "bool":
        text = str(value).strip().lower()
        if text in TRUE:
            return True
        if text in FALSE:
            return False
        raise InputError(f"应填“是”或“否”，填写的是「{value}」")
    raise InputError(f"未知的列类型 {kind}")


# -- the table ----------------------------------------------------------------------------------
def _match_header(cells: tuple, lookup: dict[str, Field]) -> dict[int, Field]:
    found: dict[int, Field] = {}
    for index, value in enumerate(cells):
        spec = lookup.get(norm_header(value))
        if spec is not None and spec not in found.values():
            found[index] = spec
    return found


def read_table(source: str | Path | bytes | IO[bytes], fields: list[Field], *,
               max_rows: int = MAX_ROWS, max_bytes: int = MAX_BYTES, sheet: int = 0) -> ImportResult:
    """Read the first (or ``sheet``-th) worksheet of an .xlsx upload against ``fields``."""
    data = _read_bytes(source, max_bytes)
    archive = check_container(data)
    member = _sheet_member(archive, sheet)
    if member is None or member not in archive.namelist():
        raise ImportRefused("文件中没有工作表")
    declared_rows, merges = scan_sheet(archive, member)
    if declared_rows is not None and declared_rows > max_rows + HEADER_SCAN_ROWS:
        raise ImportRefused(f"表格行数过多（声明 {declared_rows} 行，上限 {max_rows} 行），请拆分后上传")

    import openpyxl
    from openpyxl.xml import DEFUSEDXML
    if not DEFUSEDXML:  # pragma: no cover - defusedxml is a dependency
        raise ImportRefused("服务器缺少安全的 XML 解析组件（defusedxml），暂不能导入 Excel")
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except JijiaoError:
        raise
    except Exception:  # noqa: BLE001 - any parse failure (defusedxml refusals included) is one message
        raise ImportRefused("文件已损坏或含有不允许的内容，无法作为 Excel 表格读取") from None
    try:
        return _read_sheet(workbook, workbook.worksheets[sheet], fields, merges, max_rows)
    except JijiaoError:
        raise
    except Exception:  # noqa: BLE001
        raise ImportRefused("文件已损坏或含有不允许的内容，无法作为 Excel 表格读取") from None
    finally:
        workbook.close()


def _read_sheet(workbook, ws, fields: list[Field], merges, max_rows: int) -> ImportResult:
    lookup: dict[str, Field] = {}
    for spec in fields:
        for name in (spec.header, *spec.aliases):
            lookup[norm_header(name)] = spec
    result = ImportResult(sheet=ws.title)
    ws.reset_dimensions()  # read every row present: a wrong <dimension> must not drop rows silently
    rows = ws.iter_rows(values_only=True)
    mapping: dict[int, Field] = {}
    number = 0
    best: tuple[int, dict] = (0, {})
    for cells in rows:
        number += 1
        found = _match_header(cells, lookup)
        if found and all(s in found.values() for s in fields if s.required):
            mapping = found
            break
        if len(found) > best[0]:
            best = (len(found), found)
        if number >= HEADER_SCAN_ROWS:
            break
    if not mapping:
        missing = [s.header for s in fields if s.required and s not in best[1].values()]
        raise ImportRefused(f"找不到表头行：前 {HEADER_SCAN_ROWS} 行中没有包含必填列的行（缺少：{'、'.join(missing)}）。"
                            "请使用下载的模板")
    result.header_row = number
    result.columns = {spec.name: get_column_letter(i + 1) for i, spec in mapping.items()}
    letters = {i: get_column_letter(i + 1) for i in mapping}
    merged_rows: dict[int, str] = {}
    for min_col, min_row, max_col, max_row in merges:
        if max_row <= result.header_row:
            continue
        ref = f"{get_column_letter(min_col)}{min_row}:{get_column_letter(max_col)}{max_row}"
        for r in range(max(min_row, result.header_row + 1), min(max_row, result.header_row + max_rows) + 1):
            merged_rows.setdefault(r, ref)
    errors = result.errors
    out = result.rows
    data_rows = 0
    items = list(mapping.items())
    for cells in rows:
        number += 1
        if not cells or all(v is None or (isinstance(v, str) and not v.strip()) for v in cells):
            continue
        data_rows += 1
        if data_rows > max_rows:
            raise ImportRefused(f"表格行数过多（上限 {max_rows} 行），请拆分后上传")
        if number in merged_rows:
            errors.append(RowError(number, "", "", f"含有合并单元格（{merged_rows[number]}），请取消合并后每行分别填写"))
            continue
        row: dict[str, Any] = {"_row": number}
        bad = False
        width = len(cells)
        for index, spec in items:
            value = cells[index] if index < width else None
            if isinstance(value, str):
                if value.startswith("="):
                    errors.append(RowError(number, letters[index], spec.header,
                                           "是公式，请复制后“选择性粘贴 → 数值”再上传"))
                    bad = True
                    continue
                if not value.strip():
                    value = None
            if value is None:
                if spec.required:
                    errors.append(RowError(number, letters[index], spec.header, "必填，不能为空"))
                    bad = True
                row[spec.name] = None
                continue
            try:
                row[spec.name] = convert(spec, value)
            except InputError as exc:
                errors.append(RowError(number, letters[index], spec.header, exc.message))
                bad = True
        if not bad:
            out.append(row)
    return result
