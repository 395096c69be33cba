"""A small demo for any installed jurisdiction plugin, a third-party one included
(``jijiao demo --jurisdiction CODE``): a tree matching its review levels, schools, teachers and
claims in every state of its workflow, acted on inside its windows, and actions refused outside
them, so that an author sees the review chain and the deadlines work before a district relies
on them. Everything goes through the services (the real guards, windows and audit chain), on a
clock that walks through one period's windows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from core.db.scope import Actor
from core.errors import InputError, JijiaoError
from core.idnumber import make
from core.periods import Calendar, resolve_day
from core.services import Platform
from core.stages import review_stage

KINDS = ("province", "city", "district", "town", "school")
KIND_NAMES = {"province": "演示省", "city": "演示市", "district": "演示区", "town": "演示镇中心学校"}
STATES = {"declaration": ("draft", "submitted", "in_review", "returned", "rejected", "registered"),
          "registration": ("recorded", "submitted", "in_review", "returned", "rejected", "registered")}


class _Clock:
    def __init__(self, day: date):
        self.day = day

    def __call__(self) -> datetime:
        return datetime(self.day.year, self.day.month, self.day.day, 12, tzinfo=timezone.utc)


@dataclass
class JurisdictionDemo:
    code: str
    period: str
    tree: list[str] = field(default_factory=list)
    chains: list[str] = field(default_factory=list)
    windows: list[str] = field(default_factory=list)
    claims: dict[str, int] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    accounts: list[str] = field(default_factory=list)

    def describe(self) -> str:
        lines = [f"演示地区 {self.code}，考核期间 {self.period}", "机构树："]
        lines += [f"  {t}" for t in self.tree]
        lines.append("审核链：")
        lines += [f"  {c}" for c in self.chains]
        lines.append("阶段时间（本期间）：")
        lines += [f"  {w}" for w in self.windows] or ["  （插件未设阶段时间）"]
        lines.append("记录状态：" + "，".join(f"{state} {n}" for state, n in self.claims.items()))
        lines.append("窗口外被拒绝的操作：")
        lines += [f"  {r}" for r in self.refused] or ["  （无：插件未设时间窗口）"]
        if self.skipped:
            lines.append("未能演示：")
            lines += [f"  {s}" for s in self.skipped]
        lines.append("账号（密码均为 demo）：" + "、".join(self.accounts))
        return "\n".join(lines)


def build_jurisdiction_demo(platform, code: str, *, progress=print) -> JurisdictionDemo:
    bundle = platform.registry.bundle(code)  # an unknown code is an input error
    calendar = Calendar(bundle.jurisdiction.period)
    builder = _Builder(platform, bundle, calendar, progress)
    return builder.run()


class _Builder:
    def __init__(self, platform, bundle, calendar, progress):
        self.base = platform
        self.bundle = bundle
        self.j = bundle.jurisdiction
        self.calendar = calendar
        self.progress = progress
        self.period = self._period()
        self.clock = _Clock(self.period.start)
        self.platform = Platform(engine=platform.engine, registry=platform.registry, workflows=platform.workflows,
                                 clock=self.clock)
        self.result = JurisdictionDemo(self.j.code, self.period.key)
        self.nodes: dict[str, object] = {}
        self.actors: dict[str, Actor] = {}
        self.teachers: list[tuple[object, str]] = []

    # -- the period and its windows ---------------------------------------------------------------
    def _period(self):
        if self.calendar.personal:
            raise InputError(f"{self.j.name}按教师个人周期考核：演示暂只支持按年度考核的地区", field="jurisdiction")
        firsts = [dv.start for p in self.bundle.parameters.values() for dv in p.values[:1]]
        return self.calendar.containing(max(firsts) if firsts else date(2024, 1, 1))

    def window(self, stage: str) -> tuple[date, date] | None:
        spec = next((w for w in self.bundle.stage_windows if w.stage == stage), None)
        if spec is None:
            return None
        value = next((dv.value for dv in reversed(spec.values) if dv.start <= self.period.start), spec.values[0].value)
        opens = resolve_day(value["opens"], self.period) if value.get("opens") else self.period.start
        return opens, resolve_day(value["closes"], self.period)

    # -- build ------------------------------------------------------------------------------------
    def run(self) -> JurisdictionDemo:
        workflow = self.j.workflow if self.j.workflow in STATES else "declaration"
        self._tree()
        self._people()
        for stage in self.bundle.stage_windows:
            span = self.window(stage.stage)
            self.result.windows.append(f"{stage.stage}（{stage.name}）：{span[0]} 至 {span[1]}（含）")
        self.progress(f"建立 {self.j.name} 的演示：{len(self.teachers)} 名教师，{workflow} 流程")
        self._claims(workflow)
        return self.result

    def _tree(self) -> None:
        system = self.platform.services(Actor.system()).org
        attach = KINDS.index(self.j.level)
        parent = None
        for kind in KINDS[:-1]:
            name = (self.j.name if KINDS.index(kind) == attach else KIND_NAMES[kind]) + \
                ("" if KINDS.index(kind) == attach else f"（{self.j.code}）")
            node = system.add_node(parent.id if parent else None, kind, name,
                                   jurisdiction=self.j.code if KINDS.index(kind) == attach else None)
            self.nodes[kind] = node
            self.result.tree.append("  " * KINDS.index(kind) + f"{node.name}（{kind}）")
            parent = node
        # one school under the town, one directly under the lowest node above the town (an
        # optional town level is skipped for it)
        self.nodes["school_a"] = system.add_node(self.nodes["town"].id, "school", f"演示镇第一小学（{self.j.code}）")
        self.nodes["school_b"] = system.add_node(self.nodes["district"].id, "school", f"演示区直属中学（{self.j.code}）")
        self.result.tree.append("        " + f"{self.nodes['school_a'].name}（school）")
        self.result.tree.append("      " + f"{self.nodes['school_b'].name}（school）")

    def _people(self) -> None:
        org = self.platform.services(Actor.system()).org
        serial = iter(range(500, 999))
        for key in ("school_a", "school_b"):
            school = self.nodes[key]
            for n in range(3):
                teacher = org.add_teacher(name=f"演示教师{key[-1].upper()}{n + 1}", home_school_id=school.id,
                                          id_number=make("440106", date(1985, 1, 1), next(serial)),
                                          cycle_start=None)
                username = f"{self.j.code}_{key}_t{n + 1}"
                org.add_user(username, teacher.name, "demo", [("teacher", school.id, teacher.id)])
                self.actors[username] = org.actor_for(username)
                self.teachers.append((teacher, username))
            admin = f"{self.j.code}_{key}_admin"
            org.add_user(admin, f"{school.name}管理员", "demo", [("school_admin", school.id, None)])
            self.actors[admin] = org.actor_for(admin)
            self.actors[f"node:{school.id}"] = self.actors[admin]
        for kind in KINDS[:-1]:
            node = self.nodes[kind]
            username = f"{self.j.code}_{kind}_rev"
            org.add_user(username, f"{node.name}审核员", "demo", [("reviewer", node.id, None)])
            self.actors[username] = self.actors[f"node:{node.id}"] = org.actor_for(username)
        self.result.accounts = sorted(u for u in self.actors if not u.startswith("node:"))

    # -- claims -----------------------------------------------------------------------------------
    def _items(self, workflow: str) -> list:
        wanted = ("declaration",) if workflow == "declaration" else ("school", "organiser", "declaration")
        return [item for item in self.bundle.items.values() if item.channel in wanted]

    def _inputs(self, item) -> dict:
        self.serial = getattr(self, "serial", 0) + 1
        values = {"certificate_no": f"DEMO-{self.j.code}-{self.serial:05d}"}  # every item accepts it
        compute = item.rules.get("compute", {})
        if (compute if isinstance(compute, str) else compute.get("kind")) == "declared":
            for measure in self.j.measures:
                values[measure] = 3
        middle = self.period.start + timedelta(days=min(120, (self.period.end - self.period.start).days // 2))
        for spec in item.inputs:
            if not spec.required and spec.default is None:
                continue
            low = spec.minimum if isinstance(spec.minimum, (int, float)) else 0
            if spec.type in ("amount", "number", "integer"):
                values[spec.name] = max(low, 1) if spec.maximum is None else min(max(low, 1), spec.maximum)
            elif spec.type == "numbers":
                values[spec.name] = [max(low, 1)] * (spec.length or 1)
            elif spec.type == "text":
                values[spec.name] = f"演示{item.name}{self.serial}"
            elif spec.type == "bool":
                values[spec.name] = False
            elif spec.type == "date":
                values[spec.name] = middle.isoformat()
            elif spec.type == "choice":
                values[spec.name] = spec.choices[-1]
            elif spec.type == "period":
                values[spec.name] = self.period.key
        return values

    def _claimant(self, teacher_user: str, workflow: str, school) -> Actor:
        return self.actors[teacher_user] if workflow == "declaration" else self.actors[f"node:{school.id}"]

    def _claims(self, workflow: str) -> None:
        items = self._items(workflow)
        if not items:
            self.result.skipped.append(f"没有可由{'教师申报' if workflow == 'declaration' else '学校登记'}的项目")
            return
        submit_stage = "declare" if workflow == "declaration" else "register"
        submit_window = self.window(submit_stage)
        day = submit_window[0] if submit_window else self.period.start
        self.clock.day = max(day, self.period.start) if submit_window is None else day
        states = STATES[workflow]
        made: list[tuple[object, str, object]] = []  # (claim, target state, school)
        for index, (teacher, username) in enumerate(self.teachers):
            school = self.nodes["school_a"] if index < 3 else self.nodes["school_b"]
            for offset, target in enumerate(states if index in (0, 3) else states[:2]):
                item = items[(index + offset) % len(items)]
                claimant = self.platform.services(self._claimant(username, workflow, school))
                try:
                    claim = claimant.claims.declare(teacher.id, item.code, self._inputs(item), period=self.period.key)
                except JijiaoError as exc:
                    self.result.skipped.append(f"{item.code}：{exc}")
                    continue
                made.append((claim, target, school))
        # submit everything that should leave the first state, inside the submission window
        live = []
        for claim, target, school in made:
            if target == states[0]:
                self._count(target)
                continue
            claim = self._act(claim, "submit", school, workflow)
            if claim is not None:
                live.append((claim, target, school))
        # walk up the chain level by level, each action inside the reviewer's window
        for _ in range(10):
            waiting = []
            for claim, target, school in live:
                if claim.state == target or claim.state in ("registered", "rejected", "returned"):
                    self._count(claim.state)
                    continue
                trigger = {"returned": "return_", "rejected": "reject"}.get(target, "approve")
                claim = self._act(claim, trigger, school, workflow)
                if claim is not None:
                    waiting.append((claim, target, school))
            live = waiting
            if not live:
                break
        self._outside(items, workflow, submit_stage, submit_window)

    def _count(self, state: str) -> None:
        self.result.claims[state] = self.result.claims.get(state, 0) + 1

    def _act(self, claim, trigger: str, school, workflow: str):
        reviewer_id = claim.reviewer_node_id
        if trigger == "submit":
            actor = self.platform.services(self._claimant(self._owner(claim), workflow, school))
            span = self.window("declare" if workflow == "declaration" else "register")
        else:
            actor = self.platform.services(self.actors[f"node:{reviewer_id}"])
            kind = self._kind(reviewer_id)
            span = self.window(review_stage(kind))
        if span is not None and not (span[0] <= self.clock.day <= span[1]):
            self.clock.day = max(self.clock.day, span[0]) if span[0] >= self.clock.day else span[0]
        try:
            if trigger in ("return_", "reject"):
                return getattr(actor.claims, trigger)(claim.id, reason="演示：材料不全，请补充原件")
            claim = getattr(actor.claims, trigger)(claim.id)
            if trigger == "submit" and school.name not in {c.split("：")[0] for c in self.result.chains}:
                names = [self._name(node_id) for node_id in claim.review_chain]
                self.result.chains.append(f"{school.name}：" + " → ".join(names))
            return claim
        except JijiaoError as exc:
            self.result.skipped.append(f"第{claim.id}条记录 {trigger}：{exc}")
            return None

    def _owner(self, claim) -> str:
        return next(u for t, u in self.teachers if t.id == claim.teacher_id)

    def _name(self, node_id) -> str:
        return next(n.name for n in self.nodes.values() if n.id == node_id)

    def _kind(self, node_id) -> str:
        return next(n.kind for n in self.nodes.values() if n.id == node_id)

    def _outside(self, items, workflow, submit_stage, submit_window) -> None:
        """Actions one day after their window closes are refused with the window in the message."""
        teacher, username = self.teachers[1]
        school = self.nodes["school_a"]
        claimant = self.platform.services(self._claimant(username, workflow, school))
        if submit_window is not None:
            self.clock.day = submit_window[0]
            try:
                claim = claimant.claims.declare(teacher.id, items[0].code, self._inputs(items[0]), period=self.period.key)
            except JijiaoError as exc:
                self.result.skipped.append(f"窗口外演示：{exc}")
                return
            self.clock.day = submit_window[1] + timedelta(days=1)
            try:
                claimant.claims.submit(claim.id)
                self.result.skipped.append(f"{submit_stage} 截止后提交竟未被拒绝")
            except JijiaoError as exc:
                self.result.refused.append(f"{self.clock.day} 提交：{exc}")
            self._count(STATES[workflow][0])
