"""A teacher's pages: progress, declaring through the generated form, actions."""

from __future__ import annotations


def test_smoke(client, world):
    c = client("wang")
    r = c.get("/teacher/")
    assert r.status_code == 200, r.get_data(as_text=True)
    open("/tmp/tt/progress.html", "w").write(r.get_data(as_text=True))
    r = c.get("/teacher/declare/")
    assert r.status_code == 200, r.get_data(as_text=True)
    r = c.get("/teacher/declare/zhuanye.self")
    assert r.status_code == 200, r.get_data(as_text=True)
    open("/tmp/tt/declare.html", "w").write(r.get_data(as_text=True))
    r = c.post("/teacher/declare/zhuanye.self", {"in_kind": "学术会议", "in_hours": "12", "action": "save"},
               token_from="/teacher/declare/zhuanye.self")
    assert r.status_code == 302, r.get_data(as_text=True)
    r = c.get("/teacher/")
    open("/tmp/tt/progress2.html", "w").write(r.get_data(as_text=True))
    assert "学术会议" in r.get_data(as_text=True) or "其他专业学习" in r.get_data(as_text=True)
