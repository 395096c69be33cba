"""The demo province (``jijiao demo``): a realistic organisation tree with the eight jurisdictions
attached where they belong, a few hundred schools, teachers with valid ID numbers, claims in
every workflow state for the current and the previous period of each jurisdiction (with the
audit trail of every transition they went through), assessment results, and one account for
every role, with documented demo-only passwords.

Fast by construction: the tree through ``core.tree.add_node``; teachers, claims and school facts
as bulk inserts with explicit ids (one executemany of a table INSERT; COPY on PostgreSQL) in a few
large transactions; the audit trail through ``core.audit.append`` in large chunks, in time
order; the results through ``AssessmentService.recompute_teachers`` in batches; only the ~25
demo accounts go through ``OrgService.add_user``. Everything the rules decide (amounts,
explanations, review chains, workflow effects) comes from the plugins and the workflow
definitions, never from this module:
claim inputs are parsed by the jurisdiction's assessor, amounts are the assessor's, review chains
are ``core.tree.review_chain`` of the plugin's levels, and each claim's state is reached by
firing the workflow's transitions (their branch guards and effects) one by one.

Deterministic for a given ``seed`` and platform clock.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import delete, event, func, insert, select, text, update

from core.audit import GENESIS, append as audit_append
from core.claimstore import dump_values
from core.db.models import (AssessmentResult, AuditHead, AuditRecord, Claim, Evidence, JobRecord, OrgNode,
                        ProjectParticipant, RoleAssignment, SchoolPeriodFact, Teacher, TrainingProject, User,
                        WindowExtension)
from core.db.scope import Actor
from core.errors import InputError, JijiaoError
from core.facts import Teacher as TeacherFacts
from core.idnumber import make as make_id_number
from core.numbers import to_milli
from core.periods import Period
from core.services.bulkload import bulk_insert
from core.services.claims import dedup_key
from core.tree import add_node, review_chain
from core.workflow import BRANCH_GUARDS, GUARDS

JURISDICTIONS = ("guangzhou", "zhongshan", "wutongqiao", "zhengzhou", "echeng", "jining", "hainan", "lengshuijiang")
ADMIN_PASSWORD = "admin123"
AUDITOR_PASSWORD = "audit123"
DEMO_PASSWORD = "demo123"
MIN_TEACHERS = 50
CLAIM_CHUNK = 20_000
AUDIT_CHUNK = 50_000
RESULT_BATCH = 2_000
AUDIT_FIELDS = ("id", "at", "actor_id", "actor_name", "role", "node_id", "entity_type", "entity_id", "trigger",
                "from_state", "to_state", "reason", "request_id", "detail", "scope_path")
LEVEL_KINDS = {"national": "province", "province": "province", "city": "city", "county": "district", "town": "town"}
MIDNIGHT = datetime.min.time()
# The states claims are in: a past period is mostly registered, the current one under way.
TARGETS_PREVIOUS = (("registered", 92), ("rejected", 3), ("returned", 2), ("in_review", 1), ("submitted", 1),
                    ("draft", 1))
TARGETS_CURRENT = (("registered", 42), ("in_review", 13), ("submitted", 16), ("draft", 13), ("returned", 9),
                   ("rejected", 7))

STATE_NAMES = {"draft": "草稿", "recorded": "已录入", "submitted": "待审核", "in_review": "审核中",
               "returned": "已退回", "rejected": "不予认定", "registered": "已登记"}
STATE_ORDER = ("draft", "recorded", "submitted", "in_review", "returned", "rejected", "registered")
KIND_NAMES = {"province": "省", "city": "市", "district": "区县", "town": "镇街", "school": "学校"}
ROLE_NAMES = {"platform_admin": "平台管理员", "auditor": "审计员", "school_admin": "学校继教管理员",
              "reviewer": "审核员", "organiser": "培训组织者", "teacher": "教师"}


class DemoRefused(JijiaoError):
    """The database is not empty (and no reset was asked for)."""


# ---------------------------------------------------------------------------------------------
# The tree
# ---------------------------------------------------------------------------------------------

VILLAGES = ("东山", "新村", "河口", "石桥", "龙潭", "马鞍", "杨柳", "桂花", "白沙", "青龙", "松林", "高桥",
            "双河", "塘坊", "枫树", "太平", "柏林", "黄岭", "清水", "团结", "和平", "长岭", "凤凰", "金山")
URBAN_TYPES = ("小学", "中学", "幼儿园", "第二小学", "实验学校", "第二中学", "第三小学")
DISTRICT_TYPES = ("第一小学", "第二小学", "中学", "幼儿园", "实验学校", "第三小学", "第二中学")


def _n(kind, name, region=None, *, jurisdiction=None, children=(), demo=False):
    return {"kind": kind, "name": name, "region": region, "jurisdiction": jurisdiction,
            "children": list(children), "demo": demo}


def _school(name, demo=False):
    return _n("school", name, demo=demo)


def _town(name, prefix, count, *, style="urban", demo=False, villages=()):
    """A town or 街道 with ``count`` schools. ``name`` may carry 中心学校 (a town run by it)."""
    place = name.removesuffix("中心学校")
    base = place
    for suffix in ("街道", "镇", "乡"):
        if base.endswith(suffix) and len(base) > len(suffix) + 1:
            base = base[: -len(suffix)]
            break
    if style == "urban":
        names = [f"{prefix}{base}{t}" for t in URBAN_TYPES]
    else:
        names = ([f"{prefix}{place}中心小学", f"{prefix}{place}初级中学", f"{prefix}{place}中心幼儿园"]
                 + [f"{prefix}{place}{v}小学" for v in villages])
    schools = [_school(n, demo and i == 0) for i, n in enumerate(names[:count])]
    return _n("town", name, children=schools)


def _district_schools(prefix, count, demo=False):
    return [_school(f"{prefix}{t}", demo and i == 0) for i, t in enumerate(DISTRICT_TYPES[:count])]


def _tree_spec() -> list[dict]:
    villages = iter(VILLAGES * 4)

    def v(k):
        return [next(villages) for _ in range(k)]

    gz = "广州市"
    guangzhou_districts = [
        ("天河区", "440106", "广州市天河中学", ["石牌街道", "五山街道", "林和街道"]),
        ("越秀区", "440104", "广州市越秀区育才实验学校", ["北京街道", "农林街道", "东山街道"]),
        ("海珠区", "440105", "广州市海珠中学", ["新港街道", "江海街道", "赤岗街道"]),
        ("荔湾区", "440103", "广州市真光中学", ["西村街道", "逢源街道", "多宝街道"]),
        ("白云区", "440111", "广州市白云中学", ["三元里街道", "同和街道", "太和镇"]),
        ("番禺区", "440113", "广州市番禺中学", ["市桥街道", "沙湾街道", "石楼镇"]),
    ]
    guangzhou = _n("city", gz, "440100", jurisdiction="guangzhou", children=[
        *[_school(s) for s in ("广州市执信中学", "广州市第二中学", "广州市第六中学", "广州市广雅中学")],
        *[_n("district", d, r, children=[_school(direct), *[
            _town(t, f"{gz}{d}", 4, style="rural" if t.endswith("镇") else "urban",
                  demo=(d == "天河区" and t == "石牌街道"), villages=v(2)) for t in towns]])
          for d, r, direct, towns in guangzhou_districts],
    ])
    zhongshan = _n("city", "中山市", "442000", jurisdiction="zhongshan", children=[
        *[_school(s) for s in ("中山纪念中学", "中山市第一中学", "中山市实验中学")],
        *[_town(t, "中山市", 4, demo=(t == "石岐街道")) for t in ("石岐街道", "东区街道", "西区街道", "南区街道")],
        *[_town(t, "中山市", 4, style="rural", villages=v(2)) for t in ("小榄镇", "古镇镇", "坦洲镇", "三乡镇")],
    ])
    wutongqiao = _n("district", "五通桥区", "511112", jurisdiction="wutongqiao", children=[
        _school("乐山市五通桥中学"), _school("五通桥区实验小学"),
        *[_town(t, "五通桥区", 3, style="rural", demo=(t == "竹根镇"), villages=v(1))
          for t in ("竹根镇", "牛华镇", "金粟镇", "西坝镇", "石麟镇", "蔡金镇")],
    ])
    zz = "郑州市"
    zhengzhou_districts = [
        ("金水区", "410105", ["文化路街道", "花园路街道", "经八路街道"]),
        ("二七区", "410103", ["建中街街道", "淮河路街道", "五里堡街道"]),
        ("中原区", "410102", ["林山寨街道", "建设路街道", "桐柏路街道"]),
        ("管城回族区", "410104", ["北下街街道", "南关街道", "紫荆山南路街道"]),
    ]
    zhengzhou = _n("city", zz, "410100", jurisdiction="zhengzhou", children=[
        *[_school(s) for s in ("郑州市第一中学", "郑州外国语学校", "郑州市第四中学", "郑州市第七中学")],
        *[_n("district", d, r, children=[_school(f"{zz}{d}实验小学"), *[
            _town(t, f"{zz}{d}", 4, demo=(d == "金水区" and t == "文化路街道")) for t in towns]])
          for d, r, towns in zhengzhou_districts],
    ])
    echeng = _n("district", "鄂城区", "420704", jurisdiction="echeng", children=[
        *[_school(s) for s in ("鄂城区实验小学", "鄂城区古楼中学", "鄂城区南浦中学", "鄂城区凤凰路小学")],
        *[_town(t, "鄂城区", 4, style="rural", demo=(t == "长港镇中心学校"), villages=v(1))
          for t in ("长港镇中心学校", "杜山镇中心学校", "泽林镇中心学校", "汀祖镇中心学校", "碧石渡镇中心学校",
                    "沙窝乡中心学校", "燕矶镇中心学校")],
    ])
    jining = _n("district", "任城区", "370811", jurisdiction="jining", children=[
        _town("长沟镇", "任城区", 8, style="rural", demo=True, villages=v(5)),
    ])
    hainan = _n("province", "海南省", "460000", jurisdiction="hainan", children=[
        _n("city", "海口市", "460100", children=[
            _n("district", "龙华区", "460106", children=_district_schools("海口市龙华区", 6, demo=True)),
            _n("district", "美兰区", "460108", children=_district_schools("海口市美兰区", 5)),
            _n("district", "秀英区", "460105", children=_district_schools("海口市秀英区", 4)),
            _n("district", "琼山区", "460107", children=_district_schools("海口市琼山区", 5)),
        ]),
        _n("city", "三亚市", "460200", children=[
            _n("district", "吉阳区", "460203", children=_district_schools("三亚市吉阳区", 4)),
            _n("district", "天涯区", "460204", children=_district_schools("三亚市天涯区", 4)),
            _n("district", "海棠区", "460202", children=_district_schools("三亚市海棠区", 3)),
            _n("district", "崖州区", "460205", children=_district_schools("三亚市崖州区", 3)),
        ]),
        # 省直辖县: a county directly under the province.
        _n("district", "陵水黎族自治县", "469028", children=[
            _town("椰林镇", "陵水黎族自治县", 4, style="rural", villages=v(1)),
            _town("英州镇", "陵水黎族自治县", 3, style="rural"),
        ]),
    ])
    # 冷水江 is a county-level city under 娄底市: a district-kind node (see DemoSummary.warnings).
    lengshuijiang = _n("district", "冷水江市", "431381", jurisdiction="lengshuijiang", children=[
        *[_school(s) for s in ("冷水江市第一中学", "冷水江市第六中学", "冷水江市实验学校")],
        *[_town(t, "冷水江市", 3, style="urban") for t in ("布溪街道", "锡矿山街道", "沙塘湾街道")],
        *[_town(t, "冷水江市", 3, style="rural", demo=(t == "禾青镇"), villages=v(1)) for t in ("禾青镇", "渣渡镇", "铎山镇")],
    ])
    return [
        _n("province", "广东省", "440000", children=[guangzhou, zhongshan]),
        _n("province", "四川省", "510000", children=[_n("city", "乐山市", "511100", children=[wutongqiao])]),
        _n("province", "河南省", "410000", children=[zhengzhou]),
        _n("province", "湖北省", "420000", children=[_n("city", "鄂州市", "420700", children=[echeng])]),
        _n("province", "山东省", "370000", children=[_n("city", "济宁市", "370800", children=[jining])]),
        hainan,
        _n("province", "湖南省", "430000", children=[_n("city", "娄底市", "431300", children=[lengshuijiang])]),
    ]


def _stages(name: str) -> tuple[tuple[str, ...], float]:
    """The school stages a school's name implies, and its relative size."""
    if "幼儿园" in name:
        return ("幼儿园",), 0.35
    if "职业" in name:
        return ("中职",), 1.2
    if name.endswith("小学"):
        return ("小学",), 1.0
    if name.endswith("初级中学"):
        return ("初中",), 1.1
    if name.endswith(("执信中学", "广雅中学", "纪念中学", "第一中学", "第二中学", "第六中学")) and "区" not in name:
        return ("高中",), 1.9
    if name.endswith("中学"):
        return ("初中", "高中"), 1.5
    return ("小学", "初中"), 1.3  # 实验学校、外国语学校: 九年一贯制


# ---------------------------------------------------------------------------------------------
# People
# ---------------------------------------------------------------------------------------------

SURNAMES = ("王" * 71 + "李" * 70 + "张" * 68 + "刘" * 54 + "陈" * 45 + "杨" * 31 + "黄" * 22 + "赵" * 21
            + "吴" * 20 + "周" * 19 + "徐" * 16 + "孙" * 15 + "马" * 13 + "朱" * 13 + "胡" * 13 + "郭" * 12
            + "何" * 12 + "林" * 11 + "高" * 11 + "罗" * 11 + "郑" * 10 + "梁" * 9 + "谢" * 8 + "宋" * 8
            + "唐" * 8 + "许" * 7 + "韩" * 7 + "冯" * 7 + "邓" * 7 + "曹" * 7 + "彭" * 6 + "曾" * 6 + "肖" * 6
            + "田" * 6 + "董" * 5 + "潘" * 5 + "袁" * 5 + "蔡" * 5 + "蒋" * 5 + "余" * 5 + "于" * 5 + "杜" * 4
            + "叶" * 4 + "程" * 4 + "魏" * 4 + "苏" * 4 + "吕" * 4 + "丁" * 4 + "任" * 4 + "卢" * 4 + "姚" * 4
            + "沈" * 4 + "钟" * 4 + "姜" * 3 + "崔" * 3 + "谭" * 3 + "陆" * 3 + "范" * 3 + "汪" * 3 + "廖" * 3
            + "石" * 3 + "金" * 3 + "韦" * 3 + "贾" * 3 + "夏" * 3 + "付" * 3 + "方" * 3 + "邹" * 3 + "熊" * 3)
FEMALE = "芳娟敏静丽艳燕霞玲萍红婷雪琳洁慧颖倩欣怡佳悦晓雅思梦婉蕾瑶春秀英华兰凤莉丹璐娜"
MALE = "伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波宇浩凯健俊帆峰建国志文海林东亮晨阳昊博"
SUBJECTS = {
    "幼儿园": (("学前教育", 1),),
    "小学": (("语文", 30), ("数学", 25), ("英语", 10), ("科学", 6), ("道德与法治", 6), ("体育与健康", 7),
             ("音乐", 5), ("美术", 5), ("信息科技", 3), ("心理健康", 1), ("综合实践活动", 2)),
    "初中": (("语文", 16), ("数学", 16), ("英语", 14), ("物理", 8), ("化学", 6), ("生物学", 6),
             ("道德与法治", 6), ("历史", 6), ("地理", 5), ("体育与健康", 7), ("音乐", 3), ("美术", 3),
             ("信息科技", 3), ("心理健康", 1)),
    "高中": (("语文", 14), ("数学", 14), ("英语", 13), ("物理", 9), ("化学", 8), ("生物学", 7),
             ("思想政治", 7), ("历史", 7), ("地理", 6), ("体育与健康", 6), ("信息技术", 3), ("通用技术", 2),
             ("艺术", 3), ("心理健康", 1)),
    "中职": (("语文", 10), ("数学", 10), ("英语", 8), ("计算机应用", 12), ("电子商务", 8), ("会计事务", 8),
             ("数控技术应用", 8), ("汽车运用与维修", 6), ("体育与健康", 4)),
}
ARRANGEMENTS = ("支教", "交流", "外借")
RETURN_REASONS = ("证明材料不清晰，请重新上传原件扫描件", "学时数与证书不符，请核对后重新填写",
                  "缺少学校盖章的学时证明", "培训日期填写有误，请更正", "请补充签到表和培训通知")
REJECT_REASONS = ("该培训已在其他项目中登记，不能重复申报", "证明材料不符合要求，不予认定",
                  "培训机构不具备资质，不予认定", "培训不在本年度内，不予认定")
GONGXU_TOPICS = ("习近平新时代中国特色社会主义思想", "党史学习教育", "法治教育", "心理健康教育", "师德师风建设",
                 "人工智能与教育", "安全教育与应急管理", "生态文明建设", "乡村振兴战略", "数字素养与技能")
PAPER_TITLES = ("小学数学课堂提问有效性研究", "初中语文整本书阅读教学策略", "核心素养下的单元整体教学设计",
                "信息技术与学科教学融合的实践", "农村学校留守儿童心理健康教育", "“双减”背景下作业设计的探索",
                "高中英语读后续写教学研究", "幼儿园区角活动的组织与指导", "大单元教学在物理教学中的应用",
                "劳动教育课程校本化实施")
PROJECTS = ("基于核心素养的课堂教学改进研究", "农村小学阅读推广实践研究", "初中数学分层作业设计研究",
            "信息化背景下的教研模式创新", "家校共育机制研究", "乡村学校劳动教育实践研究")


def _weighted(rng: random.Random, pairs):
    total = sum(w for _, w in pairs)
    x = rng.random() * total
    for value, w in pairs:
        x -= w
        if x < 0:
            return value
    return pairs[-1][0]


# ---------------------------------------------------------------------------------------------
# The summary
# ---------------------------------------------------------------------------------------------

@dataclass
class DemoAccount:
    username: str
    password: str
    role: str
    node: str  # the node's name (several, joined with 、, for the platform admin and the auditor)
    display_name: str
    jurisdiction: str | None = None
    note: str = ""


@dataclass
class DemoSummary:
    seed: int
    seconds: float
    tables: dict[str, int]
    nodes_by_kind: dict[str, int]
    teachers_by_jurisdiction: dict[str, int]
    schools_by_jurisdiction: dict[str, int]
    claims_by_state: dict[str, int]
    claims_by_period: dict[str, dict[str, int]]  # "previous"/"current" → state → count
    periods: dict[str, tuple[str, str]]  # jurisdiction → (previous key, current key)
    attachments: list[tuple[str, str, str, str]]  # code, plugin name, node path (names), node kind
    results: dict[str, int]
    accounts: list[DemoAccount]
    new_teachers: int = 0
    seconded_teachers: int = 0
    warnings: list[str] = field(default_factory=list)

    def describe(self) -> str:
        lines = [f"演示数据已建立：用时 {self.seconds:.1f} 秒（随机种子 {self.seed}）"]
        kinds = "、".join(f"{self.nodes_by_kind.get(k, 0)} 个{KIND_NAMES[k]}" for k in KIND_NAMES)
        lines.append(f"机构树：{kinds}")
        lines.append("地区插件挂接：")
        for code, name, path, kind in self.attachments:
            prev, cur = self.periods.get(code, ("", ""))
            lines.append(f"  {name}（{code}）→ {path}（{kind}）；学校 {self.schools_by_jurisdiction.get(code, 0)} 所，"
                         f"教师 {self.teachers_by_jurisdiction.get(code, 0)} 名；本期 {cur}，上期 {prev}")
        lines.append(f"教师：{self.tables.get('teachers', 0)} 名（其中新教师 {self.new_teachers} 名，"
                     f"支教/交流/外借 {self.seconded_teachers} 名）")
        lines.append(f"申报/登记记录：{self.tables.get('claims', 0)} 条")

        def states(counter):
            return "，".join(f"{STATE_NAMES[s]} {counter[s]}" for s in STATE_ORDER if counter.get(s))
        lines.append(f"  全部：{states(self.claims_by_state)}")
        for key, label in (("current", "本期"), ("previous", "上期")):
            if key in self.claims_by_period:
                lines.append(f"  {label}：{states(self.claims_by_period[key])}")
        r = self.results
        lines.append(f"考核结果：{r.get('total', 0)} 条（合格 {r.get('passed', 0)}，不合格 {r.get('failed', 0)}，"
                     f"不判定 {r.get('undecided', 0)}）")
        lines.append(f"审计记录：{self.tables.get('audit_records', 0)} 条（哈希链）")
        lines.append(f"用户：{self.tables.get('users', 0)} 个，角色分配 {self.tables.get('role_assignments', 0)} 个")
        lines.append("")
        lines.append("演示账号（密码仅供演示，任何正式环境都不得使用；上线前请删除这些账号或修改密码）：")
        width = max(len(a.username) for a in self.accounts) if self.accounts else 8
        for a in self.accounts:
            where = a.node if len(a.node) <= 40 else a.node[:38] + "…"
            note = f"  {a.note}" if a.note else ""
            lines.append(f"  {a.username:<{width}}  {a.password:<9} {ROLE_NAMES.get(a.role, a.role)}  {where}{note}")
        if self.warnings:
            lines.append("")
            lines.append("注意：")
            lines.extend(f"  · {w}" for w in self.warnings)
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Building
# ---------------------------------------------------------------------------------------------

class _Teacher:
    __slots__ = ("id", "name", "school", "code", "female", "employed_on", "new", "cycle_start", "cycle_from",
                 "transferred_on", "arrangement", "demo", "id_number", "scope_path")


class _Actor:
    __slots__ = ("user_id", "name", "role", "node_id")

    def __init__(self, user_id, name, role, node_id):
        self.user_id, self.name, self.role, self.node_id = user_id, name, role, node_id


SYSTEM_ACTOR = _Actor(None, "系统", "system", None)


class _Sim:
    """A claim's review columns while a script of triggers runs through its workflow (the
    chain is of positions, not nodes); also what the branch guards look at."""

    __slots__ = ("state", "level", "review_chain", "reviewer")

    def __init__(self, state):
        self.state, self.level, self.review_chain, self.reviewer = state, 0, None, None

    # the guard context protocol (core.workflow's branch guards)
    @property
    def entity(self):
        return self

    def is_last_level(self) -> bool:
        return self.level >= len(self.review_chain or []) - 1


def build_demo(platform, *, teachers: int = 20_000, seed: int = 2026, progress=print,
               reset: bool = False) -> DemoSummary:
    """Build the demo province into ``platform``'s (migrated, empty) database. Refuses when the
    database already holds organisation nodes or users, unless ``reset`` (then everything is
    deleted first, the audit chain included)."""
    return _Builder(platform, teachers, seed, progress, reset).run()


class _Builder:
    def __init__(self, platform, teachers, seed, progress, reset):
        if teachers < MIN_TEACHERS:
            raise InputError(f"演示教师人数至少 {MIN_TEACHERS} 名（填写的是 {teachers}）", field="teachers")
        self.p = platform
        self.n_teachers = teachers
        self.seed = seed
        self.say = progress or (lambda message: None)
        self.reset = reset
        self.rng = random.Random(seed)
        self.now = platform.clock()
        if self.now.tzinfo is None:
            self.now = self.now.replace(tzinfo=timezone.utc)
        self.today = platform.today()
        self.registry = platform.registry
        self.audit: list[tuple] = []
        self.warnings: list[str] = []
        self.by_period: dict[str, Counter] = {"previous": Counter(), "current": Counter()}
        self.explain_cache: dict = {}
        self.step_cache: dict = {}
        self.stuck_registrations = 0

    # -- orchestration -----------------------------------------------------------------------------
    def run(self) -> DemoSummary:
        started = time.perf_counter()
        for code in JURISDICTIONS:
            self.registry.bundle(code)  # every jurisdiction must be installed
        self._check_empty()
        self.say("建立机构树……")
        self._build_tree()
        self._periods()
        self.say(f"生成教师 {self.n_teachers} 名……")
        self._make_teachers()
        self.say(f"建立演示账号 {len(self._account_specs()) + 2} 个……")
        self._make_accounts()
        self.say("生成各状态的申报与登记记录及其审计记录……")
        self._make_claims()
        self.say("计算考核结果……")
        results = self._recompute()
        seconds = time.perf_counter() - started
        summary = self._summary(seconds, results)
        self.say(f"完成：{summary.tables['claims']} 条记录，{summary.tables['audit_records']} 条审计记录，"
                 f"用时 {seconds:.1f} 秒")
        return summary

    def _check_empty(self) -> None:
        with self.p.transaction(Actor.system()) as s:
            nodes = s.scalar(select(func.count()).select_from(OrgNode))
            users = s.scalar(select(func.count()).select_from(User))
            if not (nodes or users):
                return
            if not self.reset:
                raise DemoRefused(f"数据库中已有数据（机构 {nodes} 个、用户 {users} 个）：演示数据只能建在空数据库上。"
                                  "如确需清空后重建，请用 jijiao demo --reset（将删除全部数据，包括审计记录）")
            self.say(f"清空数据库（机构 {nodes} 个、用户 {users} 个及其全部记录）……")
            from core.db.models import AuditCheckpoint, Document, DocumentClaim
            for model in (DocumentClaim, Document, ProjectParticipant, Evidence, AssessmentResult, WindowExtension,
                          SchoolPeriodFact, JobRecord, Claim, TrainingProject, RoleAssignment, Teacher, User,
                          AuditCheckpoint, AuditRecord):
                s.execute(delete(model).execution_options(synchronize_session=False))
            s.execute(update(OrgNode).values(parent_id=None).execution_options(synchronize_session=False))
            s.execute(delete(OrgNode).execution_options(synchronize_session=False))
            s.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=0, hash=GENESIS))

    # -- the tree ----------------------------------------------------------------------------------
    def _build_tree(self) -> None:
        self.nodes: dict[int, OrgNode] = {}
        self.meta: dict[int, dict] = {}
        self.schools: list[OrgNode] = []
        self.attached: dict[str, OrgNode] = {}
        counters: Counter = Counter()
        with self.p.transaction(Actor.system()) as s:
            def build(spec, parent, region):
                region = spec["region"] or region
                if spec["kind"] == "school":
                    counters[region] += 1
                    code = f"S{region}{counters[region]:04d}"
                elif spec["kind"] == "town":
                    counters[region] += 1
                    code = f"{region}{counters[region]:03d}"
                else:
                    code = spec["region"]
                node = add_node(s, parent, spec["kind"], spec["name"], code=code, jurisdiction=spec["jurisdiction"])
                self.nodes[node.id] = node
                stages, weight = _stages(spec["name"]) if spec["kind"] == "school" else ((), 0)
                self.meta[node.id] = {"region": region, "stages": stages, "weight": weight, "demo": spec["demo"]}
                if spec["jurisdiction"]:
                    self.attached[spec["jurisdiction"]] = node
                if spec["kind"] == "school":
                    self.schools.append(node)
                for child in spec["children"]:
                    build(child, node, region)
            for province in _tree_spec():
                build(province, None, province["region"])
        # every school: its ancestors, jurisdiction and review chains (declaration / registration)
        self.school_info: dict[int, dict] = {}
        self.schools_of: dict[str, list[OrgNode]] = defaultdict(list)
        for school in self.schools:
            chain = [self.nodes[i] for i in reversed(school.ancestor_ids)]
            code = next(n.jurisdiction for n in chain if n.jurisdiction)
            levels = self.registry.bundle(code).review_levels
            declaration = [n.id for n in review_chain(chain, levels)]
            try:
                registration = [n.id for n in review_chain(chain, levels, above=school)]
            except InputError:
                registration = None
            parent = self.nodes[school.parent_id]
            self.school_info[school.id] = {
                "code": code, "ancestors": chain, "declaration": declaration, "registration": registration,
                "city_direct": parent.kind == "city", "town": next((n for n in chain if n.kind == "town"), None)}
            self.schools_of[code].append(school)
        self._shape_warnings()

    def _shape_warnings(self) -> None:
        for code in JURISDICTIONS:
            bundle = self.registry.bundle(code)
            node = self.attached[code]
            level = bundle.jurisdiction.level
            if level != node.kind:
                self.warnings.append(f"{bundle.jurisdiction.name}（{code}）：插件 level 为 {level}，"
                                     f"演示树中挂接在{KIND_NAMES[node.kind]}级节点「{node.name}」")
            outside = Counter()
            for school in self.schools_of[code]:
                info = self.school_info[school.id]
                for chain in (info["declaration"], info["registration"] or []):
                    for node_id in chain:
                        if not self.nodes[node_id].path.startswith(node.path):
                            outside[node_id] += 1
            for node_id in outside:
                self.warnings.append(f"{bundle.jurisdiction.name}（{code}）：审核链落到挂接节点「{node.name}」之外的"
                                     f"「{self.nodes[node_id].name}」（{self.nodes[node_id].kind}），"
                                     f"该级审核员须设在「{self.nodes[node_id].name}」")
            broken = [s.name for s in self.schools_of[code] if self.school_info[s.id]["registration"] is None]
            if broken:
                self.warnings.append(f"{bundle.jurisdiction.name}（{code}）：{len(broken)} 所学校（如「{broken[0]}」）"
                                     "由学校代为登记的记录无法报送（core.tree.review_chain：审核链不完整）："
                                     "演示数据中这些记录停在「已录入」")

    def _periods(self) -> None:
        """Each jurisdiction's previous and current period (for 郑州's personal cycle: calendar
        years, to date the claims by; their key is ``cycle``)."""
        self.period: dict[str, dict[str, Period]] = {}
        self.pools: dict[tuple, list[date]] = {}
        for code in JURISDICTIONS:
            calendar = self.registry.assessor(code).calendar
            if calendar.personal:
                y = self.today.year
                cur = Period(str(y), date(y, 1, 1), date(y, 12, 31))
                prev = Period(str(y - 1), date(y - 1, 1, 1), date(y - 1, 12, 31))
            else:
                cur = calendar.containing(self.today)
                prev = calendar.shift(cur, -1)
            self.period[code] = {"previous": prev, "current": cur}

    # -- teachers ----------------------------------------------------------------------------------
    def _make_teachers(self) -> None:
        rng = self.rng
        schools = self.schools
        demo = [s for s in schools if self.meta[s.id]["demo"]]
        counts = {s.id: 0 for s in schools}
        for s in demo:
            counts[s.id] = 1
        rest = self.n_teachers - len(demo)
        weights = {s.id: self.meta[s.id]["weight"] * rng.uniform(0.6, 1.4) for s in schools}
        total = sum(weights.values())
        quotas = {i: rest * w / total for i, w in weights.items()}
        for i, q in quotas.items():
            counts[i] += int(q)
        short = self.n_teachers - sum(counts.values())
        for i in sorted(quotas, key=lambda i: quotas[i] - int(quotas[i]), reverse=True)[:short]:
            counts[i] += 1

        with self.p.transaction(Actor.system()) as s:
            next_id = (s.scalar(select(func.max(Teacher.id))) or 0) + 1
        self.teachers: list[_Teacher] = []
        self.teacher_rows: list[dict] = []
        seen_ids: set[str] = set()
        by_code_schools = self.schools_of
        for school in schools:
            info = self.school_info[school.id]
            code = info["code"]
            meta = self.meta[school.id]
            for k in range(counts[school.id]):
                t = _Teacher()
                t.id = next_id
                next_id += 1
                t.school = school
                t.code = code
                t.demo = meta["demo"] and k == 0
                t.female = rng.random() < 0.72
                surname = rng.choice(SURNAMES)
                chars = FEMALE if t.female else MALE
                t.name = surname + "".join(rng.choice(chars) for _ in range(1 if rng.random() < 0.3 else 2))
                t.new = not t.demo and rng.random() < 0.045
                if t.new:
                    start = max(self.period[code]["current"].start, self.today - timedelta(days=330))
                    t.employed_on = start + timedelta(days=rng.randint(0, max((self.today - start).days - 1, 0)))
                    born = date(t.employed_on.year - rng.randint(22, 26), rng.randint(1, 12), rng.randint(1, 28))
                else:
                    born = date(rng.randint(1966, min(2000, self.today.year - 26)), rng.randint(1, 12),
                                rng.randint(1, 28))
                    employed_year = min(born.year + rng.randint(21, 26), self.today.year - 2)
                    t.employed_on = date(employed_year, 9, 1) if rng.random() < 0.7 else \
                        date(employed_year, rng.randint(1, 12), rng.randint(1, 28))
                while True:
                    serial = rng.randrange(0, 1000, 2) + (0 if t.female else 1)  # 第17位：奇数男、偶数女
                    number = make_id_number(meta["region"], born, serial)
                    if number not in seen_ids:
                        seen_ids.add(number)
                        break
                t.id_number = number
                t.scope_path = school.path
                t.transferred_on = None
                t.arrangement = None
                working = None
                if not t.demo and not t.new and rng.random() < 0.015:
                    others = [o for o in by_code_schools[code] if o.id != school.id]
                    if others:
                        working = rng.choice(others).id
                        t.arrangement = rng.choice(ARRANGEMENTS)
                if code == "hainan" and not t.new and not t.demo and rng.random() < 0.015:
                    cur = self.period[code]["current"]
                    t.transferred_on = cur.start + timedelta(days=rng.randint(0, max((self.today - cur.start).days, 0)))
                t.cycle_start, t.cycle_from = self._cycle_start(t)
                stage = rng.choice(meta["stages"])
                self.teachers.append(t)
                certificate = f"{max(t.employed_on.year - 1, 1990)}{meta['region'][:2]}{rng.randrange(10 ** 11):011d}"
                self.teacher_rows.append({
                    "id": t.id, "name": t.name, "id_number": number, "cert_number": certificate,
                    "subject": _weighted(rng, SUBJECTS[stage]), "stage": stage, "home_school_id": school.id,
                    "working_school_id": working, "arrangement": t.arrangement, "employed_on": t.employed_on,
                    "cycle_start": t.cycle_start, "new_teacher": t.new, "transferred_on": t.transferred_on,
                    "jurisdiction": code, "scope_path": school.path, "active": True})
        with self.p.transaction(Actor.system()) as s:
            for start in range(0, len(self.teacher_rows), CLAIM_CHUNK):
                _insert(s, Teacher, self.teacher_rows[start:start + CLAIM_CHUNK])
            self._fix_sequence(s, Teacher)
        for t in self.teachers:  # on the roster before their first claim
            start = min(t.cycle_from or date.max, self.period[t.code]["previous"].start) - timedelta(days=20)
            at = datetime.combine(t.employed_on if t.new else start, MIDNIGHT, timezone.utc)
            self.audit.append((min(at, self.now), None, "花名册导入（演示数据）", "system", None, "teacher", t.id, "create",
                               None, "active", None, None, None, t.scope_path))

    def _cycle_start(self, t: _Teacher) -> tuple[str | None, date | None]:
        """``cycle_start`` as stored, and the first day a claim of the teacher's cycle may carry.
        郑州: the issue date of the teacher's previous certificate (certificates are issued in
        batches, twice a year), from almost five years ago to the start of last year; a new
        teacher's cycle starts at employment (no ``cycle_start``). 海南、冷水江: the cycle began
        with the previous period (a period key)."""
        code = t.code
        prev = self.period[code]["previous"]
        assessor = self.registry.assessor(code)
        if assessor.calendar.personal:
            if t.new:
                return None, t.employed_on
            earliest = self.today - timedelta(days=int(365.25 * 4.9))
            issued = [date(year, month, day) for year in range(earliest.year, prev.start.year + 1)
                      for month, day in ((6, 30), (12, 20)) if earliest <= date(year, month, day) <= prev.start]
            day = self.rng.choice(issued or [prev.start])
            return day.isoformat(), day
        if assessor.j.cycle is None:
            return None, None
        return prev.key, None

    def _fix_sequence(self, session, model) -> None:
        """PostgreSQL: rows were inserted with explicit ids, move the id sequence past them."""
        if session.get_bind().dialect.name != "postgresql":
            return
        table = model.__tablename__
        session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                             f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)"))

    # -- accounts ----------------------------------------------------------------------------------
    def _demo_school(self, code: str) -> OrgNode:
        return next(s for s in self.schools_of[code] if self.meta[s.id]["demo"])

    def _account_specs(self) -> list[tuple]:
        """(username, role, jurisdiction, node selector, note)."""
        return [
            ("gz_teacher", "teacher", "guangzhou", "teacher", "申报在各状态：草稿、待审核、审核中、已退回、不予认定、已登记"),
            ("gz_school", "school_admin", "guangzhou", "school", "学校初审"),
            ("gz_district", "reviewer", "guangzhou", "chain:-1", "区复审"),
            ("gz_city", "reviewer", "guangzhou", "direct:-1", "市属学校由市中小学教师培训中心审核"),
            ("gz_organiser", "organiser", "guangzhou", "jurisdiction", "市、区面授培训登记"),
            ("zs_school", "school_admin", "zhongshan", "school", "学校师训专管员"),
            ("zs_city", "reviewer", "zhongshan", "chain:-1", "市继续教育中心审核认定"),
            ("wtq_school", "school_admin", "wutongqiao", "school", "学校初核"),
            ("wtq_district", "reviewer", "wutongqiao", "chain:-1", "区教师发展中心复核"),
            ("zz_teacher", "teacher", "zhengzhou", "teacher", "个人五年周期"),
            ("zz_school", "school_admin", "zhengzhou", "school", "学校审核"),
            ("zz_district", "reviewer", "zhengzhou", "chain:-1", "县（区）学时登记机构"),
            ("zz_city", "reviewer", "zhengzhou", "direct:-1", "市直学校由市继续教育办公室审核"),
            ("ec_teacher", "teacher", "echeng", "teacher", "由学校代为登记（只读）"),
            ("ec_school", "school_admin", "echeng", "school", "学校依报告册登记并报送"),
            ("ec_town", "reviewer", "echeng", "reg:0", "中心学校审核认定"),
            ("ec_district", "reviewer", "echeng", "reg:-1", "区教育局检查验印"),
            ("jn_school", "school_admin", "jining", "school", "学校审核工作组"),
            ("jn_district", "reviewer", "jining", "chain:-1", "教育行政部门认定"),
            ("hn_school", "school_admin", "hainan", "school", "学校审核"),
            ("hn_district", "reviewer", "hainan", "chain:-1", "县（区）教育行政部门审核"),
            ("lsj_teacher", "teacher", "lengshuijiang", "teacher", "学分制、五年周期"),
            ("lsj_school", "school_admin", "lengshuijiang", "school", "学校审核登记"),
            ("lsj_town", "reviewer", "lengshuijiang", "reg:0", "乡镇中心学校审核学校登记的记录"),
            ("lsj_city", "reviewer", "lengshuijiang", "chain:-1", "市教师进修学校抽查审核"),
        ]

    def _make_accounts(self) -> None:
        org = self.p.services(Actor.system()).org
        self.accounts: list[DemoAccount] = []
        self.actor_of: dict[tuple, _Actor] = {}  # (role, node_id) → the demo account's actor
        self.teacher_user: dict[int, _Actor] = {}
        roots = [n for n in self.nodes.values() if n.parent_id is None]
        root_names = "、".join(n.name for n in roots)
        for username, role, display, password in (("admin", "platform_admin", "平台管理员（演示）", ADMIN_PASSWORD),
                                                  ("auditor", "auditor", "审计员（演示）", AUDITOR_PASSWORD)):
            org.add_user(username, display, password, [(role, n.id, None) for n in roots])
            self.accounts.append(DemoAccount(username, password, role, root_names, display, None,
                                             "每个省级根节点各一个角色；默认作用于第一个（广东省）"))
        by_id = {t.id: t for t in self.teachers}
        for username, role, code, selector, note in self._account_specs():
            school = self._demo_school(code)
            info = self.school_info[school.id]
            teacher_id = None
            if selector == "teacher":
                teacher = next(t for t in self.teachers if t.school.id == school.id and t.demo)
                node, teacher_id, display = school, teacher.id, teacher.name
            elif selector == "school":
                node = school
                display = f"{school.name}继教管理员"
            elif selector == "jurisdiction":
                node = self.attached[code]
                display = f"{node.name}教师培训中心"
            else:
                kind, index = selector.split(":")
                if kind == "direct":
                    direct = next(s for s in self.schools_of[code] if self.school_info[s.id]["city_direct"])
                    chain = self.school_info[direct.id]["declaration"]
                else:
                    chain = info["registration"] if kind == "reg" else info["declaration"]
                node = self.nodes[chain[int(index)]]
                display = f"{_org_name(node)}审核员"
            user = org.add_user(username, display, DEMO_PASSWORD, [(role, node.id, teacher_id)])
            actor = _Actor(user.id, display, role, node.id)
            if teacher_id is not None:
                self.teacher_user[teacher_id] = actor
                by_id[teacher_id].demo = True
            else:
                self.actor_of[(role, node.id)] = actor
            self.accounts.append(DemoAccount(username, DEMO_PASSWORD, role, node.name, display, code, note))

    # -- claims ------------------------------------------------------------------------------------
    def _make_claims(self) -> None:
        with self.p.transaction(Actor.system()) as s:
            _big_transaction(s)
            next_id = (s.scalar(select(func.max(Claim.id))) or 0) + 1
            facts_rows = self._school_facts()
            if facts_rows:
                _insert(s, SchoolPeriodFact, facts_rows)
            self.summary_filed = {(r["node_id"], r["period_key"]): r["summary_filed"] for r in facts_rows}
            self.workflows = {name: self.p.workflows.get(name) for name in ("declaration", "registration")}
            rows: list[dict] = []
            for t in self.teachers:
                assessor = self.registry.assessor(t.code)
                info = self.school_info[t.school.id]
                keys_seen: set[tuple] = set()
                demo_states = iter(("draft", "submitted", "in_review", "returned", "rejected", "registered") * 3)
                for which, period, raws in self._slots(t):
                    if not raws:
                        continue
                    extras = [{k: raw.pop(k) for k in [k for k in raw if k[0] == "_"]} for raw in raws]
                    channels = [assessor.bundle.items[raw["item"]].channel for raw in raws]
                    personal = assessor.calendar.personal
                    for raw in raws:
                        raw["period"] = "cycle" if personal else raw.get("period", period.key)
                    parsed = assessor.parse_claims(raws)
                    contexts: dict[str, tuple] = {}
                    for raw, claim, extra, channel in zip(raws, parsed, extras, channels):
                        workflow = "declaration" if channel == "declaration" else "registration"
                        chain = info[workflow]
                        key = dedup_key(claim.period, claim.on, claim.values)
                        if (claim.item, key) in keys_seen:
                            continue
                        keys_seen.add((claim.item, key))
                        values = dump_values(claim.values)
                        context = contexts.get(claim.period)
                        if context is None:
                            context = contexts[claim.period] = self._context(assessor, t, claim.period)
                        explanation = self._explain(assessor, context, claim, values)
                        bad = extra.get("_bad")
                        if chain is None:  # no review chain above the school: recorded, cannot be sent up
                            self.stuck_registrations += 1
                            chain, script = [], ()
                        else:
                            if t.demo and which == "current" and channel not in ("auto", "platform"):
                                target = self._fit(next(demo_states), workflow, len(chain))
                            else:
                                target = self._target(which, channel, workflow, len(chain), bad)
                            script = self._script(target, len(chain))
                        row = self._run_workflow(t, claim, values, explanation, workflow, channel, chain, script,
                                                 bad, next_id, key, extra.get("_organiser"), raw.get("level"))
                        self.by_period[which][row["state"]] += 1
                        rows.append(row)
                        next_id += 1
                if len(rows) >= CLAIM_CHUNK:
                    _insert(s, Claim, rows)
                    rows = []
            if rows:
                _insert(s, Claim, rows)
            self._fix_sequence(s, Claim)
            self._write_audit(s)
            self.say("提交……")

    def _write_audit(self, session) -> None:
        """Every audit entry, in time order, through ``core.audit.append`` (the chain's one writer).
        The entries carry explicit ids so that the ORM's bulk INSERT is one executemany."""
        self.say(f"写入审计记录 {len(self.audit)} 条（哈希链）……")
        self.audit.sort(key=lambda entry: entry[0])
        event.listen(session, "do_orm_execute", _render_nulls)
        try:
            next_id = (session.scalar(select(func.max(AuditRecord.id))) or 0) + 1
            for start in range(0, len(self.audit), AUDIT_CHUNK):
                chunk = self.audit[start:start + AUDIT_CHUNK]
                audit_append(session, [dict(zip(AUDIT_FIELDS, (next_id + start + k,) + entry))
                                       for k, entry in enumerate(chunk)])
                self.say(f"  审计记录：{start + len(chunk)}/{len(self.audit)}")
        finally:
            event.remove(session, "do_orm_execute", _render_nulls)
        self._fix_sequence(session, AuditRecord)
        self.audit = []

    def _slots(self, t: _Teacher):
        """(previous/current, period, raw claims) of one teacher. 郑州's period is the teacher's
        own five-year cycle: its claims are dated in each calendar year of the cycle so far, the
        earlier years counting as "previous"."""
        code = t.code
        plan = getattr(self, f"_plan_{code}")
        prev, cur = self.period[code]["previous"], self.period[code]["current"]
        if self.registry.assessor(code).calendar.personal:
            for year in range(t.cycle_from.year, cur.start.year):
                period = Period(str(year), date(year, 1, 1), date(year, 12, 31))
                yield "previous", period, plan(t, "previous" if year == prev.start.year else "history", period)
        elif not (t.new or t.transferred_on):
            yield "previous", prev, plan(t, "previous", prev)
        raws = plan(t, "current", cur)
        for _ in range(8 if t.demo else 0):  # a demo account's teacher: claims enough for every state
            if len(raws) >= 7:
                break
            raws += plan(t, "current", cur)
        yield "current", cur, raws

    def _school_facts(self) -> list[dict]:
        """中山: whether each school filed its school-based training summary last period (two did not)."""
        rows = []
        code = "zhongshan"
        prev = self.period[code]["previous"].key
        schools = self.schools_of[code]
        missing = {s.id for s in self.rng.sample(schools, min(2, len(schools))) if not self.meta[s.id]["demo"]}
        for school in schools:
            rows.append({"node_id": school.id, "period_key": prev, "summary_filed": school.id not in missing,
                         "scope_path": school.path})
        return rows

    def _context(self, assessor, t: _Teacher, period_key: str) -> tuple:
        """The teacher's facts in one period (as ``services.assessments.teacher_facts`` gives
        them), and what a claim's amount there can depend on besides the claim: the window,
        the cycle start and every predicate's value."""
        personal = assessor.calendar.personal
        start = t.cycle_start
        if start and start.count("-") == 2:
            start = date.fromisoformat(start)
        filed = True if personal else self.summary_filed.get((t.school.id, period_key), True)
        facts = TeacherFacts(new_teacher=t.new, employed_on=t.employed_on, cycle_start=start,
                             city_direct=self.school_info[t.school.id]["city_direct"],
                             transferred_on=t.transferred_on, school_summary_filed=filed)
        if personal:
            window = assessor.calendar.cycle_of(start if isinstance(start, date) else t.employed_on,
                                                assessor.j.period.years)
        else:
            window = assessor.calendar.period(period_key)
        holds = tuple(bool(p.function(facts, window)) for p in assessor.bundle.predicates.values())
        return facts, (assessor.code, period_key, str(start), window.start, holds), window if personal else None

    def _explain(self, assessor, context: tuple, claim, values: dict) -> dict:
        """What ``ClaimService._parse`` stores: the claim assessed on its own. Cached on the
        claim's inputs and everything in its context its amount and notes can depend on: the
        period (a personal cycle: its window, and whether the claim's date falls inside it), the
        cycle start and the value of every predicate."""
        facts, context_key, cycle = context
        key = (context_key, claim.item, json.dumps(values, sort_keys=True, ensure_ascii=False),
               None if cycle is None else (claim.on is None or cycle.contains(claim.on)))
        cached = self.explain_cache.get(key)
        if cached is None:
            explained = assessor.assess(claim.period, facts, [claim]).claims[0]
            cached = self.explain_cache[key] = {
                "amount_milli": to_milli(explained.computed[assessor.measures[0]]),
                "computed": {m: str(v) for m, v in explained.computed.items()},
                "declared": {m: str(v) for m, v in (explained.declared or {}).items()},
                "notes": explained.notes}
        return cached

    def _target(self, which: str, channel: str, workflow: str, levels: int, bad: str | None) -> str:
        rng = self.rng
        if bad:
            return "rejected" if rng.random() < 0.7 else "returned"
        if channel in ("auto", "platform"):  # recorded by the platform: confirmed, or awaiting it
            return "registered" if which == "previous" or rng.random() < 0.8 else "submitted"
        pairs = TARGETS_PREVIOUS if which == "previous" else TARGETS_CURRENT
        return self._fit(_weighted(rng, pairs), workflow, levels)

    @staticmethod
    def _fit(target: str, workflow: str, levels: int) -> str:
        """The state as this workflow and chain can have it (one level: never "in review")."""
        if target in ("draft", "recorded"):
            return "draft" if workflow == "declaration" else "recorded"
        if target == "in_review" and levels < 2:
            return "submitted"
        return target

    def _script(self, target: str, levels: int) -> tuple[str, ...]:
        """The triggers that bring a new claim to ``target`` (sometimes the long way round)."""
        r = self.rng.random()
        if target in ("draft", "recorded"):
            return ("submit", "withdraw") if r < 0.06 else ()
        if target == "submitted":
            return ("submit", "return", "resubmit") if r < 0.1 else ("submit",)
        k = int(r * 1000) % levels  # approvals before the last step
        if target == "in_review":
            return ("submit",) + ("approve",) * max(k, 1)
        if target in ("returned", "rejected"):
            return ("submit",) + ("approve",) * k + ("return" if target == "returned" else "reject",)
        if r < 0.08:
            return ("submit",) + ("approve",) * k + ("return", "resubmit") + ("approve",) * levels
        return ("submit",) + ("approve",) * levels

    def _steps(self, workflow: str, script: tuple[str, ...], levels: int):
        """Run ``script`` through the workflow definition on a chain of ``levels`` positions: the
        transition taken at each step (branch guards choose), who acts (the claimant, or the
        reviewer at a chain position) and the claim's columns at the end. Cached: a handful of
        shapes serve every claim."""
        key = (workflow, script, levels)
        cached = self.step_cache.get(key)
        if cached is not None:
            return cached
        definition = self.workflows[workflow].definition
        sim = _Sim(definition.initial)
        steps = []
        reason_step = register_step = None
        for index, trigger in enumerate(script):
            candidates = [d for d in definition.transitions if d.trigger == trigger and sim.state in d.sources]
            tdef = next((d for d in candidates if all(_branch_ok(name, arg, sim) for name, arg in d.guards)), None)
            if tdef is None:
                raise JijiaoError(f"演示数据：流程「{definition.name}」在「{sim.state}」不能 {trigger}")
            actor = None if tdef.actor == "claimant" else sim.reviewer  # a chain position
            if tdef.actor not in ("claimant", "current_reviewer"):
                raise JijiaoError(f"演示数据：不知道谁来执行「{definition.name}」的 {trigger}（{tdef.actor}）")
            for effect in tdef.effects:
                if effect == "start_review":
                    sim.review_chain, sim.level, sim.reviewer, reason_step = list(range(levels)), 0, 0, None
                elif effect == "clear_review":
                    sim.level, sim.reviewer, sim.review_chain = 0, None, None
                elif effect == "advance":
                    sim.level += 1
                    sim.reviewer = sim.review_chain[sim.level]
                elif effect == "keep_reason":
                    sim.reviewer, reason_step = None, index
                elif effect == "register":
                    sim.reviewer, register_step = None, index
                else:
                    raise JijiaoError(f"演示数据：未知的流程效果 {effect}")
            steps.append((trigger, sim.state, tdef.dest, actor))
            sim.state = tdef.dest
        final = (sim.state, sim.level, sim.review_chain is not None, sim.reviewer, reason_step, register_step,
                 1 + len(script))
        cached = self.step_cache[key] = (steps, final)
        return cached

    def _claimant(self, t: _Teacher, channel: str, organiser: str | None, level: str | None) -> _Actor:
        if channel == "declaration":
            return self.teacher_user.get(t.id) or _Actor(None, t.name, "teacher", t.school.id)
        if channel in ("auto", "platform"):
            return SYSTEM_ACTOR
        if channel == "school":
            return self.actor_of.get(("school_admin", t.school.id)) or \
                _Actor(None, f"{t.school.name}继教管理员", "school_admin", t.school.id)
        node = self._organiser_node(t, organiser, level)
        actor = self.actor_of.get(("organiser", node.id))
        if actor is None:
            actor = self.actor_of[("organiser", node.id)] = _Actor(
                None, f"{_org_name(node)}{'教师培训基地' if node.kind == 'town' else ''}", "organiser", node.id)
        return actor

    def _organiser_node(self, t: _Teacher, organiser: str | None, level: str | None) -> OrgNode:
        """Who designed the training ("谁设计、谁登记"): the ancestor of the training's level."""
        wanted = organiser or LEVEL_KINDS.get(level)
        if wanted:
            found = next((n for n in self.school_info[t.school.id]["ancestors"] if n.kind == wanted), None)
            if found is not None:
                return found
        return self.attached[t.code]

    def _reviewer(self, node_id: int) -> _Actor:
        node = self.nodes[node_id]
        role = "school_admin" if node.kind == "school" else "reviewer"
        actor = self.actor_of.get((role, node_id))
        if actor is None:
            name = f"{node.name}继教管理员" if node.kind == "school" else f"{_org_name(node)}审核员"
            actor = self.actor_of[(role, node_id)] = _Actor(None, name, role, node_id)
        return actor

    def _run_workflow(self, t, claim, values, explanation, workflow, channel, chain, script, bad, claim_id, key,
                      organiser, level) -> dict:
        rng = self.rng
        steps, (state, position, has_chain, reviewer, reason_step, register_step, version) = \
            self._steps(workflow, script, len(chain))
        claimant = self._claimant(t, channel, organiser, level)
        at = datetime.combine(claim.on or self.today, MIDNIGHT, timezone.utc) + \
            timedelta(seconds=int(rng.random() * 6 * 86400) + 3600)
        at = min(at, self.now)
        created = at
        audit, scope = self.audit, t.scope_path
        audit.append((at, claimant.user_id, claimant.name, claimant.role, claimant.node_id, "claim", claim_id,
                      "declare", None, steps[0][1] if steps else state, None, f"{rng.getrandbits(64):016x}",
                      {"item": claim.item, "inputs": values}, scope))
        reason = registered_at = None
        for index, (trigger, source, dest, actor_position) in enumerate(steps):
            actor = claimant if actor_position is None else self._reviewer(chain[actor_position])
            why = None
            if trigger in ("return", "reject"):
                why = bad or rng.choice(RETURN_REASONS if trigger == "return" else REJECT_REASONS)
                if index == reason_step:
                    reason = why
            at = min(at + timedelta(seconds=int(rng.random() * 12 * 86400) + 7200), self.now)
            if index == register_step:
                registered_at = at
            audit.append((at, actor.user_id, actor.name, actor.role, actor.node_id, "claim", claim_id, trigger,
                          source, dest, why, f"{rng.getrandbits(64):016x}", None, scope))
        return {"id": claim_id, "teacher_id": t.id, "jurisdiction": t.code, "item_code": claim.item,
                "period_key": claim.period, "on_date": claim.on, "inputs": values,
                "amount_milli": explanation["amount_milli"], "explanation": explanation, "workflow": workflow,
                "state": state, "version": version, "level": position,
                "review_chain": list(chain) if has_chain else None,
                "reviewer_node_id": chain[reviewer] if reviewer is not None else None,
                "home_school_id": t.school.id, "dedup_key": key, "project_id": None, "reason": reason,
                "scope_path": scope, "created_by": claimant.user_id, "created_at": created, "updated_at": at,
                "registered_at": registered_at}

    # -- results -----------------------------------------------------------------------------------
    def _recompute(self) -> dict:
        with self.p.transaction(Actor.system()) as s:
            ids = list(s.scalars(select(Claim.teacher_id).where(Claim.state == "registered").distinct()
                                 .order_by(Claim.teacher_id)))
        assessments = self.p.services(Actor.system()).assessments
        written = 0
        for start in range(0, len(ids), RESULT_BATCH):
            batch = ids[start:start + RESULT_BATCH]
            with self.p.transaction(Actor.system()) as s:
                written += assessments.recompute_teachers(s, batch)
            self.say(f"  考核结果：{min(start + RESULT_BATCH, len(ids))}/{len(ids)} 名教师")
        return {"teachers": len(ids), "written": written}

    # -- the summary -------------------------------------------------------------------------------
    def _summary(self, seconds: float, results: dict) -> DemoSummary:
        with self.p.transaction(Actor.system()) as s:
            tables = {model.__tablename__: s.scalar(select(func.count()).select_from(model))
                      for model in (OrgNode, User, RoleAssignment, Teacher, Claim, AuditRecord, AssessmentResult,
                                    SchoolPeriodFact)}
            by_state = dict(s.execute(select(Claim.state, func.count()).group_by(Claim.state)).all())
            passed = dict(s.execute(select(AssessmentResult.passed, func.count())
                                    .group_by(AssessmentResult.passed)).all())
        nodes_by_kind = Counter(n.kind for n in self.nodes.values())
        attachments = []
        for code in JURISDICTIONS:
            node = self.attached[code]
            path = "/".join(self.nodes[i].name for i in node.ancestor_ids)
            attachments.append((code, self.registry.bundle(code).jurisdiction.name, path, node.kind))
        if self.stuck_registrations:
            self.warnings.append(f"因审核链不完整而停在「已录入」、无法报送的学校登记记录：{self.stuck_registrations} 条")
        return DemoSummary(
            seed=self.seed, seconds=seconds, tables=tables, nodes_by_kind=dict(nodes_by_kind),
            teachers_by_jurisdiction=dict(Counter(t.code for t in self.teachers)),
            schools_by_jurisdiction={code: len(v) for code, v in self.schools_of.items()},
            claims_by_state={k: by_state.get(k, 0) for k in STATE_ORDER},
            claims_by_period={k: dict(v) for k, v in self.by_period.items()},
            periods={code: (p["previous"].key, p["current"].key) for code, p in self.period.items()},
            attachments=attachments,
            results={"total": tables["assessment_results"], "passed": passed.get(True, 0),
                     "failed": passed.get(False, 0), "undecided": passed.get(None, 0),
                     "teachers": results["teachers"]},
            accounts=self.accounts, new_teachers=sum(1 for t in self.teachers if t.new),
            seconded_teachers=sum(1 for r in self.teacher_rows if r["working_school_id"]),
            warnings=self.warnings)

    # -- what each jurisdiction's teachers claim ---------------------------------------------------
    # Each plan gives the raw claims (item, inputs, on) of one teacher in one period, as a person
    # or an organisation would enter them: "previous" is a whole past period, "current" the one
    # under way (fewer claims so far), "history" an earlier year of 郑州's five-year cycle.
    # ``_bad`` marks a claim a reviewer will refuse (with that reason); ``_organiser`` the kind of
    # node whose organisation designed the training and registers it.

    def _plan_guangzhou(self, t, which, period):
        rng, p, m = self.rng, (0.65 if which == "current" else 1.0), self._keen(which)
        out = []
        topics = rng.sample(GONGXU_TOPICS, 2)
        if rng.random() < 0.06:
            topics[1] = topics[0]  # the same topic studied twice counts once
        hours = rng.choice((12, 18, 18, 24))
        if rng.random() < m:
            out.append({"item": "gongxu.platform", "topic": topics[0], "hours": hours})
        if rng.random() < (m if hours < 18 else 0.4 * p):
            out.append({"item": "gongxu.provincial", "topic": topics[1], "hours": rng.choice((6, 8, 10))})
        if rng.random() < m:
            out.append({"item": "zhuanye.platform", "hours": rng.choice((36, 42, 48, 54))})
        if rng.random() < 0.7 * p:
            out.append({"item": "zhuanye.training", "hours": rng.choice((18, 24, 30)),
                        "_organiser": rng.choice(("city", "district"))})
        if rng.random() < 0.6 * p:
            out.append({"item": "zhuanye.research", "hours": rng.choice((12, 16, 20)), "_organiser": "district"})
        if rng.random() < 0.4 * p:
            out.append({"item": "zhuanye.self", "kind": rng.choice(("远程研修", "教研活动", "培训进修", "学术会议",
                                                                   "实践活动", "担任培训者", "科研成果", "其他")),
                        "hours": rng.choice((6, 8, 12, 16, 24))})
        return self._dated(out, t, period)

    def _plan_zhongshan(self, t, which, period):
        rng, p = self.rng, (0.65 if which == "current" else 1.0)
        out = []
        if self.school_info[t.school.id]["town"] is not None and rng.random() < 0.85 * p:
            out.append({"item": "zhenqu.training", "_organiser": "town"})
        if rng.random() < 0.9 * p:
            out.append({"item": "xiaoben.training"})
        if rng.random() < 0.5 * p:
            out.append({"item": "shiji.training", "hours": rng.choice((6, 12, 18, 24)), "_organiser": "city"})
        if rng.random() < 0.6 * p:
            out.append({"item": "geren.declare", "hours": rng.choice((4, 6, 8, 12, 16, 24, 30))})
        if rng.random() < 0.03:
            out.append({"item": "geren.degree", "hours": rng.choice((24, 36, 48))})
        if rng.random() < 0.02:
            out.append({"item": "geren.exemption", "reason": ("maternity" if t.female else "illness")
                        if rng.random() < 0.7 else "support"})
        return self._dated(out, t, period)

    def _plan_wutongqiao(self, t, which, period):
        rng, p, m = self.rng, (0.6 if which == "current" else 1.0), self._keen(which)
        out = []
        if rng.random() < m:
            raw = {"item": "guifan.xuexiqiangguo",
                   "quarter_points": [rng.choice((1500, 2100, 2600, 3200, 4000)) for _ in range(4)]}
            if rng.random() < 0.3:
                raw["total_points"] = rng.choice((22000, 25500, 26800, 31000))
            out.append(raw)
        if rng.random() < m:
            out.append({"item": "guifan.dangjian", "terms": 1 if which == "current" else rng.choice((1, 2, 2))})
        if rng.random() < 0.3 * p:
            out.append({"item": "guifan.shaike", "video_uploaded": rng.random() < 0.5})
        if rng.random() < 0.3 * p:
            out.append({"item": "guifan.shaike_research"})
        if rng.random() < 0.08:
            raw = {"item": "guifan.lecturer", "level": rng.choice(("school", "school", "county", "city")),
                   "count": rng.choice((1, 1, 2)), "minutes": rng.choice((45, 60, 90, 120))}
            if rng.random() < 0.15:
                raw["minutes"] = 30
                raw["_bad"] = "主讲时长不足40分钟，不计学时"
            out.append(raw)
        if rng.random() < 0.25 * p:
            out.append({"item": "guifan.it20", "hours": 50})
        if rng.random() < (m if m == 1 else 0.55 * p):
            out.append({"item": "guifan.special", "hours": rng.choice((18, 24, 36)), "_organiser": "city"})
        if rng.random() < m:
            out.append({"item": "qita.other", "hours": rng.choice((40, 48, 54, 60))})
        return self._dated(out, t, period)

    def _plan_zhengzhou(self, t, which, period):
        rng = self.rng
        out = []
        if t.new and which == "current":
            out.append({"item": "peixun.newteacher", "passed": True, "_organiser": "district"})
        if rng.random() < self._keen(which):
            out.append({"item": "xiaoben.project", "hours": rng.choice((20, 24, 24, 30))})
        projects = {"current": (0, 1, 1), "previous": (1, 1, 2), "history": (1, 1, 2)}[which]
        for _ in range(rng.choice(projects)):
            level = _weighted(rng, (("county", 35), ("city", 30), ("province", 22), ("national", 13)))
            hours = {"county": (30, 40), "city": (40, 50), "province": (50, 60, 72), "national": (60, 80, 120)}[level]
            out.append({"item": "peixun.project", "level": level, "hours": rng.choice(hours)})
        if which != "history" and rng.random() < 0.2:
            out.append({"item": "peixun.nondegree", "hours": rng.choice((10, 16, 20, 30))})
        if which != "history" and rng.random() < 0.04:
            out.append({"item": "peixun.zhijiao", "hours": rng.choice((20, 30, 40)), "_organiser": "district"})
        if which == "previous" and rng.random() < 0.01:
            out.append({"item": "peixun.degree", "graduated_on": self._day(t.code, period, t.cycle_from)})
        return self._dated(out, t, period, after=t.cycle_from)

    def _plan_echeng(self, t, which, period):
        rng, p, m = self.rng, (0.55 if which == "current" else 1.0), self._keen(which)
        out = []
        if rng.random() < m:
            out.append({"item": "jizhong.training", "level": rng.choice(("county", "county", "city", "province",
                                                                         "national")),
                        "hours": rng.choice((30, 36, 48, 60))})
        if rng.random() < 0.8 * p:
            out.append({"item": "jizhong.ethics", "hours": rng.choice((6, 8, 12))})
        if rng.random() < m:
            out.append({"item": "feijizhong.platform", "hours": rng.choice((30, 40, 50))})
        if rng.random() < m:
            out.append({"item": "feijizhong.school", "hours": rng.choice((20, 24, 30))})
        if rng.random() < 0.25 * p:
            out.append({"item": "feijizhong.other", "hours": rng.choice((4, 6, 8))})
        return self._dated(out, t, period)

    def _plan_jining(self, t, which, period):
        rng = self.rng
        window = self.registry.assessor("jining").rules_for(period.start).params.get("training_window") or {}
        first = _month_day(period.start.year, window.get("from", "03-31"))
        last = min(_month_day(period.start.year, window.get("to", "12-31")), self.today - timedelta(days=1))
        out = []
        if last < first:
            return out  # the registration range of this year has not begun
        for _ in range(rng.choice((1, 1, 2)) if which == "current" else rng.choice((1, 2, 3))):
            started = first + timedelta(days=int(rng.random() * ((last - first).days + 1)))
            ended = min(started + timedelta(days=rng.choice((0, 1, 2, 4))), last)
            raw = {"item": "peixun.training", "credits": rng.choice((2, 3, 4, 5, 6, 8, 10)),
                   "started_on": started, "ended_on": ended, "on": ended}
            if rng.random() < 0.04:  # began before the registration range: refused
                raw["started_on"] = first - timedelta(days=rng.randint(20, 60))
                raw["_bad"] = "培训须在本年度3月31日至12月31日期间进行并结束，本年度不予登记"
            out.append(raw)
        return out

    def _plan_hainan(self, t, which, period):
        rng, cur = self.rng, which == "current"
        out = []
        for _ in range(rng.choice((1, 1, 2)) if cur else rng.choice((1, 2, 2))):
            credits = rng.choice((2, 3))
            out.append({"item": "xiaoji.training", "credits": credits, "hours": credits * 6})
        for _ in range(rng.choice((0, 1, 1)) if cur else rng.choice((2, 2, 3) if self._keen(which) == 1 else (1, 2))):
            level = rng.choice(("county", "county", "city", "province", "national"))
            credits = rng.choice((3, 4, 5))
            out.append({"item": "peixun.training", "level": level, "credits": credits, "hours": credits * 10})
        out = self._dated(out, t, period)
        if not cur and rng.random() < 0.03:  # made up this year for last year
            out.append({"item": "peixun.remedial", "for_period": period.key, "period": period.key,
                        "credits": 4, "hours": 24, "on": self._day(t.code, self.period[t.code]["current"]),
                        "_organiser": "province"})
        return out

    def _plan_lengshuijiang(self, t, which, period):
        rng, p, m = self.rng, (0.55 if which == "current" else 1.0), self._keen(which)
        out = []
        if which != "current" and rng.random() < 0.85:
            out.append({"item": "geren.attendance"})
        if rng.random() < m:
            out.append({"item": "geren.observation", "lessons": rng.choice((24, 30, 32, 36, 40, 50))})
        if rng.random() < m:
            out.append({"item": "geren.reading"})
        if rng.random() < 0.35 * p:
            out.append({"item": "geren.open_lesson", "level": rng.choice(("school", "school", "county")),
                        "count": rng.choice((1, 2))})
        if rng.random() < 0.3 * p:
            level = rng.choice(("school", "county", "city", "province"))
            raw = {"item": "geren.paper", "title": rng.choice(PAPER_TITLES), "level": level}
            if level != "school":
                raw["award"] = rng.choice(("encourage", "third", "second", "first"))
                raw["published"] = level == "province" and rng.random() < 0.3
            out.append(raw)
        if rng.random() < m:
            out.append({"item": "jiti.training", "minutes": rng.choice((1080, 1080, 1200))})
        if rng.random() < 0.08 * p:
            out.append({"item": "jiangli.project", "project": rng.choice(PROJECTS),
                        "level": rng.choice(("school", "county", "city")), "role": rng.choice(("host", "participant"))})
        if rng.random() < 0.04 * p:
            out.append({"item": "jiangli.project_award", "project": rng.choice(PROJECTS),
                        "level": rng.choice(("county", "city")), "award": rng.choice(("third", "second", "first"))})
        if rng.random() < 0.04 * p:
            out.append({"item": "jiangli.lesson_award", "level": rng.choice(("city", "province")),
                        "award": rng.choice(("first", "second", "third"))})
        if rng.random() < 0.15 * p:
            out.append({"item": "jiangli.resource", "points": rng.choice((60, 100, 120, 180))})
        if rng.random() < 0.04 * p:
            out.append({"item": "jiangli.resource_build", "adopted": rng.choice((5, 10, 12))})
        if t.arrangement == "支教":
            out.append({"item": "teshu.support"})
        if rng.random() < 0.08 * p:
            out.append({"item": "teshu.songke", "days": rng.choice((1, 2, 3))})
        if rng.random() < 0.01:
            out.append({"item": "teshu.secondment"})
        if t.female and rng.random() < 0.02:
            out.append({"item": "mianxiu.maternity", "months": rng.choice((3, 4, 5, 6))})
        if rng.random() < 0.01:
            out.append({"item": "mianxiu.sick", "months": rng.choice((1, 2, 3))})
        if rng.random() < m:
            out.append({"item": "waibu.training", "credits": rng.choice((10, 12, 16, 20, 24))})
        if t.new and which == "current":
            out.append({"item": "waibu.adaptation", "credits": rng.choice((30, 40, 60))})
        return self._dated(out, t, period)

    def _keen(self, which: str) -> float:
        """How likely a teacher takes the trainings the requirement rests on: most teachers do
        in a whole period (some fall short); the current period is under way."""
        if which == "current":
            return 0.6
        return 1.0 if self.rng.random() < 0.9 else 0.45

    def _pool(self, code: str, period: Period) -> list[date]:
        """About thirty days spread over the period up to today: trainings happen on common dates."""
        pool = self.pools.get((code, period.key))
        if pool is None:
            last = min(period.end, self.today)
            span = max((last - period.start).days, 0)
            pool = self.pools[(code, period.key)] = sorted({period.start + timedelta(days=round(span * k / 29))
                                                            for k in range(30)})
        return pool

    def _day(self, code: str, period: Period, after: date | None = None) -> date:
        pool = self._pool(code, period)
        if after is not None and after > pool[0]:
            later = [d for d in pool if d >= after]
            if not later:
                return min(max(after, pool[-1]), self.today)
            pool = later
        return pool[int(self.rng.random() * len(pool))]

    def _dated(self, raws: list[dict], t: _Teacher, period: Period, after: date | None = None) -> list[dict]:
        if t.new:
            after = max(after or t.employed_on, t.employed_on)
        for raw in raws:
            raw.setdefault("on", self._day(t.code, period, after))
        return raws


def _big_transaction(session) -> None:
    """SQLite: a page cache that holds the indexes a large transaction writes into (256 MB;
    the default 2 MB makes every index insert of hundreds of thousands of rows go to the OS)."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("PRAGMA cache_size = -262144"))


def _insert(session, model, rows: list[dict]) -> None:
    """Rows that all carry every column (ids included), in bulk: COPY on PostgreSQL
    (``core.services.bulkload``), one executemany of a table INSERT elsewhere. (Not the ORM's
    ``insert(Model)``: it leaves out None values and groups consecutive rows by the keys left,
    so rows whose optional columns alternate between None and a value go one statement each.)"""
    if not rows:
        return
    if session.get_bind().dialect.name == "postgresql":
        bulk_insert(session, model, rows, list(rows[0]))
    else:
        session.execute(insert(model.__table__), rows)


def _render_nulls(state) -> None:
    """The same for every ORM bulk INSERT of one session (``core.audit.append``'s)."""
    if state.is_insert:
        state.update_execution_options(render_nulls=True)


def _branch_ok(name, arg, sim: _Sim) -> bool:
    """Only the branch guards (last level or not) choose; the others are a person's business."""
    if name not in BRANCH_GUARDS:
        return True
    return GUARDS[name](sim, arg) is None


def _org_name(node: OrgNode) -> str:
    if node.kind == "district":
        return f"{node.name}教师发展中心"
    if node.kind == "city":
        return f"{node.name}中小学教师培训中心"
    if node.kind == "town":
        return node.name if node.name.endswith("中心学校") else f"{node.name}中心学校"
    if node.kind == "province":
        return f"{node.name}教育厅"
    return node.name


def _month_day(year: int, text_value: str) -> date:
    month, day = (int(x) for x in str(text_value).split("-"))
    return date(year, month, day)
