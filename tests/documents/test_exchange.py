"""Excel/CSV out and the one Excel importer, hostile files included (each crafted in the test,
under tests/documents/hostile/, never committed)."""

from __future__ import annotations

import csv
import io
import os
import re
import time
import tracemalloc
import zipfile
from datetime import date
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from core.exchange.csvout import content_disposition, write_csv
from core.exchange.xlsx_in import Field, ImportRefused, read_table
from core.exchange.xlsx_out import Column, write_rows
from core.idnumber import make

HOSTILE = Path(__file__).parent / "hostile"
ID1 = make("440106", date(1985, 1, 1), 123)
ID2 = make("420704", date(1990, 5, 6), 7)

FIELDS = [Field("name", "姓名", required=True, aliases=("教师姓名",)),
          Field("id_number", "身份证号", "id_number", required=True, aliases=("身份证号码",)),
          Field("hours", "学时", "decimal", required=True),
          Field("on", "日期", "date")]


@pytest.fixture(scope="module")
def hostile():
    HOSTILE.mkdir(exist_ok=True)
    (HOSTILE / ".gitignore").write_text("*\n")  # generated at test time, never committed
    return HOSTILE


# -- out ----------------------------------------------------------------------------------------
def test_xlsx_out_text_ids_neutralised_formulas_and_real_negatives(tmp_path):
    path = tmp_path / "out.xlsx"
    columns = [Column("姓名", "name"), Column("身份证号", "id", text=True), Column("证书编号", "cert", text=True),
               Column("学时", "hours"), Column("备注", "note")]
    rows = [{"name": "王老师", "id": ID1, "cert": "0012345", "hours": Decimal("72.5"), "note": "=HYPERLINK(\"x\")"},
            {"name": "@SUM(A1)", "id": ID2, "cert": 12345, "hours": -3, "note": "-2+3"},
            {"name": "\tTab", "id": ID2, "cert": None, "hours": 0, "note": "+1"}]
    assert write_rows(path, columns, rows, title="天河中学 学时汇总") == 3
    ws = openpyxl.load_workbook(path).active
    assert ws["A1"].value == "天河中学 学时汇总" and "A1:E1" in ws.merged_cells
    assert [c.value for c in ws[2]] == ["姓名", "身份证号", "证书编号", "学时", "备注"]
    assert ws["B3"].value == ID1 and ws["B3"].data_type == "s" and ws["B3"].number_format == "@"
    assert ws["C3"].value == "0012345" and ws["C4"].value == "12345" and ws["C4"].number_format == "@"
    assert ws["D3"].value == 72.5 and ws["D4"].value == -3  # a genuine negative stays a number
    assert ws["E3"].value == "'=HYPERLINK(\"x\")" and ws["E4"].value == "'-2+3" and ws["E5"].value == "'+1"
    assert ws["A4"].value == "'@SUM(A1)" and ws["A5"].value == "'\tTab"
    assert ws.print_title_rows == "$2:$2"


def test_csv_has_a_bom_and_neutralises(tmp_path):
    buffer = io.StringIO(newline="")
    write_csv(buffer, [Column("姓名", "name"), Column("身份证号", "id", text=True), Column("学时", "h")],
              [{"name": "=1+1", "id": ID1, "h": -2}])
    data = buffer.getvalue().encode("utf-8")
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows == [["姓名", "身份证号", "学时"], ["'=1+1", ID1, "-2"]]


def test_content_disposition_with_a_chinese_file_name():
    header = content_disposition("天河中学2019学时汇总表.xlsx")
    assert header.startswith('attachment; filename="2019.xlsx"; ')
    assert "filename*=UTF-8''%E5%A4%A9%E6%B2%B3" in header
    assert content_disposition("汇总.xlsx").startswith('attachment; filename="download.xlsx"')
    assert '"' not in content_disposition('a"b.xlsx').split(";")[1].strip()[10:-1]


# -- in -----------------------------------------------------------------------------------------
def book(rows, *, path: Path, merges=(), title_rows=()):
    wb = openpyxl.Workbook()
    ws = wb.active
    for row in title_rows:
        ws.append(row)
    for row in rows:
        ws.append(row)
    for ref in merges:
        ws.merge_cells(ref)
    wb.save(path)
    return path


def test_reads_typed_rows_with_aliases_and_a_title_row(tmp_path):
    path = book([["序号", "教师姓名", "身份证号码 *", "学时", "日期"],
                 [1, "王老师", ID1, 12.5, date(2019, 3, 1)],
                 [None, None, None, None, None],
                 [2, "李老师", ID2.lower(), "8", "2019年4月2日"]],
                path=tmp_path / "ok.xlsx", title_rows=[["2019年度 培训名单"]])
    result = read_table(path, FIELDS)
    assert result.ok, result.summary()
    assert result.header_row == 2 and result.columns == {"name": "B", "id_number": "C", "hours": "D", "on": "E"}
    assert result.rows == [
        {"_row": 3, "name": "王老师", "id_number": ID1, "hours": Decimal("12.5"), "on": date(2019, 3, 1)},
        {"_row": 5, "name": "李老师", "id_number": ID2, "hours": Decimal("8"), "on": date(2019, 4, 2)}]


def test_per_row_errors_name_the_row_column_and_problem(tmp_path):
    path = book([["姓名", "身份证号", "学时", "日期"],
                 ["王老师", 440106198501011230, 10, None],       # ID typed as a number
                 ["李老师", ID2, "=A2*2", None],                 # a formula
                 ["", ID1, "abc", "2019-13-01"],                # missing name, bad number, bad date
                 ["赵老师", ID1[:-1] + "0", 5, None],            # bad check digit
                 ["合并", ID1, 1, None], ["合并", ID2, 1, None]],
                path=tmp_path / "bad.xlsx", merges=["A6:A7"])
    result = read_table(path, FIELDS)
    assert result.rows == []
    text = [str(e) for e in result.errors]
    assert text[0].startswith("第2行 B列（身份证号）：该列必须以文本格式填写")
    assert text[1] == "第3行 C列（学时）：是公式，请复制后“选择性粘贴 → 数值”再上传"
    assert text[2] == "第4行 A列（姓名）：必填，不能为空"
    assert text[3] == "第4行 C列（学时）：应为数字，填写的是「abc」"
    assert text[4].startswith("第4行 D列（日期）：应为日期")
    assert text[5] == "第5行 B列（身份证号）：身份证号校验位不正确，请核对"
    assert text[6] == "第6行：含有合并单元格（A6:A7），请取消合并后每行分别填写"
    assert text[7] == "第7行：含有合并单元格（A6:A7），请取消合并后每行分别填写"


def test_missing_header_is_refused_in_chinese(tmp_path):
    path = book([["名字", "号码"], ["王", "1"]], path=tmp_path / "nohead.xlsx")
    with pytest.raises(ImportRefused, match="找不到表头行.*缺少：姓名、身份证号、学时"):
        read_table(path, FIELDS)


# -- hostile files ------------------------------------------------------------------------------
def test_not_a_spreadsheet_by_content_not_by_name(hostile):
    fake = hostile / "名单.xlsx"
    fake.write_bytes(b"%PDF-1.4 not a spreadsheet")
    with pytest.raises(ImportRefused, match="不是 Excel 表格"):
        read_table(fake, FIELDS)
    other_zip = hostile / "other.xlsx"
    with zipfile.ZipFile(other_zip, "w") as z:
        z.writestr("readme.txt", "hello")
    with pytest.raises(ImportRefused, match="不是 Excel 表格"):
        read_table(other_zip, FIELDS)
    xls = hostile / "old.xls"
    xls.write_bytes(bytes.fromhex("d0cf11e0a1b11ae1") + b"\0" * 504)
    with pytest.raises(ImportRefused, match="另存为” .xlsx"):
        read_table(xls, FIELDS)


def _replace_member(src: Path, dst: Path, name: str, content: bytes, *, compression=zipfile.ZIP_DEFLATED):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", compression) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, content if info.filename == name else zin.read(info.filename))
    return dst


def test_xml_bomb_is_refused(hostile, tmp_path):
    base = book([["姓名", "身份证号", "学时"], ["王老师", ID1, 1]], path=tmp_path / "base.xlsx")
    lol = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
           + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
                      for i in range(1, 10))
           + b"]>")
    with zipfile.ZipFile(base) as z:
        sheet = z.read("xl/worksheets/sheet1.xml")
    sheet = lol + sheet.replace("王老师".encode(), b"&lol9;")
    bomb = _replace_member(base, hostile / "xml_bomb.xlsx", "xl/worksheets/sheet1.xml", sheet)
    started = time.perf_counter()
    with pytest.raises(ImportRefused, match="XML 实体"):
        read_table(bomb, FIELDS)
    assert time.perf_counter() - started < 2


def test_a_dtd_hidden_after_a_long_prolog_is_still_refused(hostile, tmp_path):
    base = book([["姓名", "身份证号", "学时"], ["王老师", ID1, 1]], path=tmp_path / "base.xlsx")
    with zipfile.ZipFile(base) as z:
        sheet = z.read("xl/worksheets/sheet1.xml")
    hidden = b'<?xml version="1.0"?>' + b"<!--" + os.urandom(1_500_000).hex().encode() + b"-->" + b'<!DOCTYPE w [<!ENTITY a "b">]>' + sheet
    path = _replace_member(base, hostile / "hidden_dtd.xlsx", "xl/worksheets/sheet1.xml", hidden)
    with pytest.raises(ImportRefused, match="XML 实体"):
        read_table(path, FIELDS)


def test_defusedxml_refuses_entities_as_a_second_line():
    """openpyxl parses worksheets with defusedxml's iterparse, which refuses DTD entities."""
    from defusedxml import EntitiesForbidden
    from openpyxl.xml import DEFUSEDXML
    from openpyxl.xml.functions import iterparse
    assert DEFUSEDXML
    with pytest.raises(EntitiesForbidden):
        list(iterparse(io.BytesIO(b'<!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>')))


def test_zip_bomb_is_refused_before_inflating(hostile, tmp_path):
    base = book([["姓名", "身份证号", "学时"], ["王老师", ID1, 1]], path=tmp_path / "base.xlsx")
    bomb = hostile / "zip_bomb.xlsx"
    with zipfile.ZipFile(base) as zin, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, zin.read(info.filename))
        zout.writestr("xl/media/padding.bin", b"\0" * (50 * 1024 * 1024))  # 50 MB → ~50 KB
    assert bomb.stat().st_size < 200_000
    tracemalloc.start()
    started = time.perf_counter()
    with pytest.raises(ImportRefused, match="压缩炸弹"):
        read_table(bomb, FIELDS)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert time.perf_counter() - started < 2 and peak < 20 * 1024 * 1024


def test_a_sheet_claiming_a_million_rows_is_refused(hostile, tmp_path):
    base = book([["姓名", "身份证号", "学时"], ["王老师", ID1, 1]], path=tmp_path / "base.xlsx")
    with zipfile.ZipFile(base) as z:
        sheet = z.read("xl/worksheets/sheet1.xml")
    claimed = re.sub(rb'<dimension ref="A1:C2"\s*/>', b'<dimension ref="A1:C1048576"/>', sheet)
    assert claimed != sheet
    path = _replace_member(base, hostile / "million.xlsx", "xl/worksheets/sheet1.xml", claimed)
    with pytest.raises(ImportRefused, match="行数过多（声明 1048576 行"):
        read_table(path, FIELDS)


def test_more_rows_than_the_limit_are_refused_whatever_the_dimension_says(tmp_path):
    rows = [["姓名", "身份证号", "学时"]] + [["王老师", ID1, 1]] * 60
    path = book(rows, path=tmp_path / "many.xlsx")
    with zipfile.ZipFile(path) as z:
        sheet = z.read("xl/worksheets/sheet1.xml")
    lying = _replace_member(path, tmp_path / "lying.xlsx", "xl/worksheets/sheet1.xml",
                            re.sub(rb'<dimension ref="A1:C61"\s*/>', b'<dimension ref="A1:C2"/>', sheet))
    assert b'ref="A1:C2"' in zipfile.ZipFile(lying).read("xl/worksheets/sheet1.xml")
    with pytest.raises(ImportRefused, match="上限 50 行"):
        read_table(lying, FIELDS, max_rows=50)
    assert len(read_table(path, FIELDS, max_rows=60).rows) == 60


def test_a_too_large_upload_is_refused(tmp_path):
    with pytest.raises(ImportRefused, match="文件过大"):
        read_table(b"PK\x03\x04" + b"\0" * 2000, FIELDS, max_bytes=1000)
