"""The documents pages: downloads scoped and audited, issuing through the service, the public
verification page (masked ID, unknown, revoked, rate-limited)."""

from __future__ import annotations

import io
import re

import openpyxl
from sqlalchemy import select

from core.db.models import AuditRecord, Document
from core.db.scope import Actor
from core.documents.issue import revoke_documents_fed_by
from tests.web.conftest import app, client  # noqa: F401 - fixtures

from .test_pdf import issue


def test_summary_download_scoped_and_audited(client, world, platform):
    c = client("ec_rev")
    page = c.get(f"/documents/?node={world.nodes['ec'].id}&period=2022-2023").get_data(as_text=True)
    assert "合格率统计" in page and "刘老师" in page and "50.0%" in page
    response = c.get(f"/documents/summary.xlsx?node={world.nodes['ec'].id}&period=2022-2023")
    assert response.status_code == 200
    assert "filename*=UTF-8''%E9%84%82%E5%9F%8E%E5%8C%BA" in response.headers["Content-Disposition"]
    ws = openpyxl.load_workbook(io.BytesIO(response.data)).active
    assert ws["A1"].value == "2022-2023学年度鄂州市鄂城区中小学教师继续教育学时汇总表"
    stats = c.get(f"/documents/statistics.xlsx?node={world.nodes['ec'].id}&period=2022-2023")
    assert stats.status_code == 200
    with platform.transaction(Actor.system()) as s:
        rows = s.execute(select(AuditRecord.trigger, AuditRecord.actor_name, AuditRecord.detail)
                         .where(AuditRecord.trigger == "export")).all()
    assert [(r.trigger, r.actor_name, r.detail["what"]) for r in rows] == [
        ("export", "ec_rev", "summary"), ("export", "ec_rev", "statistics")]
    # outside scope: 404 like a missing unit; a bad period: a Chinese message, no 500
    assert client("yz_admin").get(f"/documents/summary.xlsx?node={world.nodes['cgxx'].id}&period=2022-2023").status_code == 404
    assert c.get("/documents/summary.xlsx?node=999999&period=2022-2023").status_code == 404
    bad = c.get(f"/documents/summary.xlsx?node={world.nodes['ec'].id}&period=abc", follow_redirects=True)
    assert bad.status_code == 200 and "格式不对" in bad.get_data(as_text=True)
    assert client("wang").get("/documents/").status_code == 403


def test_issue_download_and_verify(client, documents_world, platform):
    w = documents_world
    c = client("zsxx_admin")
    teacher_page = c.get(f"/documents/teacher/{w.teachers['sun'].id}").get_data(as_text=True)
    assert "中山市中小学教师继续教育学分登记表" in teacher_page
    response = c.post("/documents/issue", {"teacher": w.teachers["sun"].id, "kind": "registration_form",
                                           "period": "2024-2025"}, token_from="/documents/")
    assert response.status_code == 302
    document_url = response.headers["Location"]
    page = c.get(document_url).get_data(as_text=True)
    code = re.search(r"/verify/([A-Za-z0-9_-]+)", page).group(1)
    pdf = c.get(document_url + ".pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    refused = c.post("/documents/issue", {"teacher": w.teachers["sun"].id, "kind": "nope", "period": "2024-2025"},
                     token_from="/documents/", follow_redirects=True)
    assert "本地区不出具该类文书" in refused.get_data(as_text=True)
    assert client("thzx_admin").get(document_url).status_code == 404  # another school's document

    public = app_client = c.app.test_client()
    shown = public.get(f"/verify/{code}")
    text = shown.get_data(as_text=True)
    sun = w.teachers["sun"].id_number
    assert shown.status_code == 200 and "验证通过" in text and "孙老师" in text
    assert sun not in text and sun[:4] + "*" * 10 + sun[-4:] in text
    assert public.get("/verify/not-a-real-code").status_code == 404
    with platform.transaction(Actor.system()) as s:
        document = s.scalars(select(Document).where(Document.code == code)).one()
        revoke_documents_fed_by(s, [c.claim_id for c in document.claims], "学时登记被撤销")
    assert "已作废" in app_client.get(f"/verify/{code}").get_data(as_text=True)


def test_verification_is_rate_limited_per_address(client, world):
    public = client().app.test_client()
    codes = [public.get("/verify/x", environ_base={"REMOTE_ADDR": "10.0.0.1"}).status_code for _ in range(12)]
    assert codes[:10] == [404] * 10 and codes[10:] == [429, 429]
    assert public.get("/verify/x", environ_base={"REMOTE_ADDR": "10.0.0.2"}).status_code == 404


def test_upload_a_registration_list(client, world, platform):
    wang = world.teachers["wang"]
    c = client("th_rev")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["姓名", "身份证号", "项目代码", "学时", "考核年度"])
    ws.append(["王老师", 440106198501011230, "zhuanye.research", 6, "2019"])  # ID as a number
    buffer = io.BytesIO()
    wb.save(buffer)

    def upload(data: bytes, name="名单.xlsx"):
        return c.post("/documents/import", {"file": (io.BytesIO(data), name)}, token_from="/documents/import",
                      content_type="multipart/form-data", follow_redirects=True)
    page = upload(buffer.getvalue()).get_data(as_text=True)
    assert "导入未执行" in page and "第2行 B列（身份证号）：该列必须以文本格式填写" in page
    assert "不是 Excel 表格" in upload(b"%PDF-1.4 hello", "名单.xlsx").get_data(as_text=True)
    ws.delete_rows(2)
    ws.append(["王老师", wang.id_number, "zhuanye.research", 6, "2019"])
    buffer = io.BytesIO()
    wb.save(buffer)
    assert "已登记 1 条学时，涉及 1 名教师" in upload(buffer.getvalue()).get_data(as_text=True)
    assert client("auditor").get("/documents/import").status_code == 403
