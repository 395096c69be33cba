"""A small province for tests: two jurisdictions with their review shapes.

    广东省 (province)
      广州市 (city, guangzhou)
        天河区 (district)
          天河中学 (school)            ← school → district
          天河小学 (school)
        广州市直属中学 (school)        ← city-direct: school → city
    湖北省 (province)
      鄂州市 (city)
        鄂城区 (district, echeng)
          长港镇中心学校 (town)
            长港小学 (school)          ← school → town → district
          鄂城一中 (school)            ← main-city school: school → district
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from core.db.scope import Actor
from core.idnumber import make


@dataclass
class World:
    platform: object
    nodes: dict = field(default_factory=dict)
    teachers: dict = field(default_factory=dict)
    actors: dict = field(default_factory=dict)

    def svc(self, who: str):
        return self.platform.services(self.actors[who])


def build(platform) -> World:
    w = World(platform)
    system = platform.services(Actor.system())
    org = system.org
    n = w.nodes
    n["gd"] = org.add_node(None, "province", "广东省")
    n["gz"] = org.add_node(n["gd"].id, "city", "广州市", jurisdiction="guangzhou")
    n["th"] = org.add_node(n["gz"].id, "district", "天河区")
    n["thzx"] = org.add_node(n["th"].id, "school", "天河中学")
    n["thxx"] = org.add_node(n["th"].id, "school", "天河小学")
    n["szs"] = org.add_node(n["gz"].id, "school", "广州市直属中学")
    n["hb"] = org.add_node(None, "province", "湖北省")
    n["ez"] = org.add_node(n["hb"].id, "city", "鄂州市")
    n["ec"] = org.add_node(n["ez"].id, "district", "鄂城区", jurisdiction="echeng")
    n["cg"] = org.add_node(n["ec"].id, "town", "长港镇中心学校")
    n["cgxx"] = org.add_node(n["cg"].id, "school", "长港小学")
    n["yz"] = org.add_node(n["ec"].id, "school", "鄂城一中")
    serial = iter(range(100, 999))

    def teacher(key, name, school, **kw):
        w.teachers[key] = org.add_teacher(name=name, id_number=make("440106", date(1985, 1, 1), next(serial)),
                                          home_school_id=n[school].id, **kw)

    teacher("wang", "王老师", "thzx")
    teacher("li", "李老师", "thxx")
    teacher("zhao", "赵老师", "szs")
    teacher("chen", "陈老师", "cgxx")
    teacher("liu", "刘老师", "yz")
    users = [
        ("wang", "teacher", "thzx", "wang"), ("li", "teacher", "thxx", "li"), ("zhao", "teacher", "szs", "zhao"),
        ("thzx_admin", "school_admin", "thzx", None), ("thxx_admin", "school_admin", "thxx", None),
        ("szs_admin", "school_admin", "szs", None), ("th_rev", "reviewer", "th", None),
        ("gz_rev", "reviewer", "gz", None), ("cgxx_admin", "school_admin", "cgxx", None),
        ("yz_admin", "school_admin", "yz", None), ("cg_rev", "reviewer", "cg", None),
        ("ec_rev", "reviewer", "ec", None), ("auditor", "auditor", "gd", None),
        ("admin", "platform_admin", "gd", None),
    ]
    for username, role, node, teacher_key in users:
        tid = w.teachers[teacher_key].id if teacher_key else None
        org.add_user(username, username, "secret", [(role, n[node].id, tid)])
        w.actors[username] = org.actor_for(username)
    return w
