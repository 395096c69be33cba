"""The test world of tests/db/world.py with registered hours, plus a 中山 and a 郑州 school for
the PDF documents."""

from __future__ import annotations

from datetime import date

import pytest

from core.db.scope import Actor
from core.idnumber import make
from tests.db.world import build


def register(platform, rows):
    return platform.services(Actor.system()).claims.import_registered(rows, source="测试登记表.xlsx")


@pytest.fixture
def world(platform):
    w = build(platform)
    t = w.teachers
    register(platform, [
        # 鄂城: 陈老师 (长港小学) passes with 集中 40 + 非集中 40; 刘老师 (鄂城一中) has 集中 10 only
        {"teacher_id": t["chen"].id, "item": "jizhong.ethics", "period": "2022-2023", "inputs": {"hours": 40}},
        {"teacher_id": t["chen"].id, "item": "feijizhong.school", "period": "2022-2023", "inputs": {"hours": 40}},
        {"teacher_id": t["liu"].id, "item": "jizhong.ethics", "period": "2022-2023", "inputs": {"hours": 10}},
        # 广州: 王老师 has 专业 60 (公需 missing: fails)
        {"teacher_id": t["wang"].id, "item": "zhuanye.research", "period": "2019", "inputs": {"hours": 60}},
    ])
    return w


@pytest.fixture
def documents_world(world, platform):
    """A 中山 school and a 郑州 school, each with one teacher and registered hours."""
    org = platform.services(Actor.system()).org
    n = world.nodes
    n["zs"] = org.add_node(n["gd"].id, "city", "中山市", jurisdiction="zhongshan")
    n["zsxx"] = org.add_node(n["zs"].id, "school", "中山市实验小学")
    n["hn"] = org.add_node(None, "province", "河南省")
    n["zz"] = org.add_node(n["hn"].id, "city", "郑州市", jurisdiction="zhengzhou")
    n["zzq"] = org.add_node(n["zz"].id, "district", "金水区")
    n["zzxx"] = org.add_node(n["zzq"].id, "school", "金水区第一小学")
    world.teachers["sun"] = org.add_teacher(name="孙老师", id_number=make("442000", date(1988, 3, 8), 515),
                                            home_school_id=n["zsxx"].id, cert_number="ZS2019001")
    world.teachers["zhou"] = org.add_teacher(name="周老师", id_number=make("410105", date(1980, 7, 9), 321),
                                             home_school_id=n["zzxx"].id, cert_number="20094101050321",
                                             cycle_start="2015-09-01")
    org.add_user("zsxx_admin", "zsxx_admin", "secret", [("school_admin", n["zsxx"].id, None)])
    org.add_user("zzxx_admin", "zzxx_admin", "secret", [("school_admin", n["zzxx"].id, None)])
    world.actors["zsxx_admin"] = org.actor_for("zsxx_admin")
    world.actors["zzxx_admin"] = org.actor_for("zzxx_admin")
    sun, zhou = world.teachers["sun"].id, world.teachers["zhou"].id
    register(platform, [
        {"teacher_id": sun, "item": "zhenqu.training", "period": "2024-2025", "inputs": {}},
        {"teacher_id": sun, "item": "xiaoben.training", "period": "2024-2025", "inputs": {}},
        {"teacher_id": sun, "item": "shiji.training", "period": "2024-2025", "inputs": {"hours": 48}},
        {"teacher_id": zhou, "item": "peixun.project", "period": "cycle", "on": "2017-05-01",
         "inputs": {"level": "city", "hours": 290}},
        {"teacher_id": zhou, "item": "xiaoben.project", "period": "cycle", "on": "2018-05-01",
         "inputs": {"hours": 80}},
    ])
    return world
