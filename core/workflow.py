"""The workflow runner: declarative workflows (``workflows/*.yaml``) run on ``transitions``.

One ``transitions.Machine(model=None, auto_transitions=False)`` per workflow definition is shared
by every claim: an event is fired against a two-slot token holding the claim's state, never a
machine per claim. Guards are names in the data, resolved from ``GUARDS``/``ACTORS`` here, never
imported from data. A refused transition raises ``TransitionRefused`` with a Chinese message;
the caller (the service layer) then writes the state change as a guarded UPDATE.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from transitions import Machine, MachineError

from .errors import JijiaoError, PluginDataError
from .yamlstrict import Node, load_file


class TransitionRefused(JijiaoError):
    """The transition is not allowed now (wrong state, role, scope, window or missing reason)."""


class ConflictError(JijiaoError):
    """Somebody else changed the record first (its state or version is not what was expected)."""


@dataclass(frozen=True, slots=True)
class TransitionDef:
    trigger: str
    label: str
    sources: tuple[str, ...]
    dest: str
    actor: str
    guards: tuple[tuple[str, Any], ...]
    effects: tuple[str, ...]


@dataclass(frozen=True)
class WorkflowDef:
    name: str
    label: str
    entity: str
    initial: str
    final: tuple[str, ...]
    states: dict[str, str]
    transitions: tuple[TransitionDef, ...]

    def trigger_label(self, trigger: str) -> str:
        return next((t.label for t in self.transitions if t.trigger == trigger), trigger)

    def state_label(self, state: str | None) -> str:
        return self.states.get(state, state or "—")


# -- guards ------------------------------------------------------------------------------------
# A guard takes the transition context (built by the service layer) and the guard's argument from
# the data; it returns None when the transition may go on, or a Chinese refusal. Branch guards
# only choose between transitions of one trigger: their refusals are not reported.

def _stage_open(ctx, stage):
    return ctx.window_refusal(stage)


def _review_open(ctx, _):
    return ctx.window_refusal(ctx.review_stage())


def _reason_given(ctx, _):
    if not (ctx.reason or "").strip():
        return "请填写原因"
    return None


def _not_yet_reviewed(ctx, _):
    return None if ctx.entity.level == 0 else "已有审核记录，不能撤回"


def _last_level(ctx, _):
    return None if ctx.is_last_level() else "not last"


def _not_last_level(ctx, _):
    return None if not ctx.is_last_level() else "last"


def _needs_approval(ctx, _):
    return None if ctx.entity.needs_approval else "该项目无需审批，可直接开始实施"


def _approved_if_needed(ctx, _):
    if ctx.entity.needs_approval and ctx.entity.state != "approved":
        return "该项目须经审批后方可实施"
    return None


def _has_completed_participants(ctx, _):
    return None if ctx.completed_participants() else "没有已结业的参训教师可登记"


GUARDS: dict[str, Callable] = {
    "stage_open": _stage_open,
    "review_open": _review_open,
    "reason_given": _reason_given,
    "not_yet_reviewed": _not_yet_reviewed,
    "last_level": _last_level,
    "not_last_level": _not_last_level,
    "needs_approval": _needs_approval,
    "approved_if_needed": _approved_if_needed,
    "has_completed_participants": _has_completed_participants,
}
BRANCH_GUARDS = frozenset({"last_level", "not_last_level"})

# Who may fire a transition, relative to the record's place in the review chain.
ACTORS: dict[str, Callable] = {
    "claimant": lambda ctx: ctx.actor_is_claimant(),
    "current_reviewer": lambda ctx: ctx.actor_is_current_reviewer(),
    "organiser": lambda ctx: ctx.actor_is_organiser(),
    "approver": lambda ctx: ctx.actor_is_approver(),
}


# -- definitions ---------------------------------------------------------------------------------

def _fail(message, node, key=None):
    line = node.line_of(key) if isinstance(node, Node) and key is not None else getattr(node, "line", None)
    raise PluginDataError(message, file=getattr(node, "file", None), line=line)


def load_workflow(path: str | Path) -> WorkflowDef:
    node = load_file(path)
    allowed = {"name", "label", "entity", "initial", "final", "states", "transitions"}
    if not isinstance(node, Node):
        _fail("工作流文件应为映射", node)
    for key in node:
        if key not in allowed:
            _fail(f"未知的键 {key!r}", node, key)
    states = node.get("states")
    if not isinstance(states, Node) or not states:
        _fail("states 应为映射：状态 → 中文名", node, "states")
    for key in ("initial",):
        if node.get(key) not in states:
            _fail(f"{key} 不是已声明的状态", node, key)
    for state in node.get("final", ()):
        if state not in states:
            _fail(f"终态 {state!r} 不是已声明的状态", node, "final")
    transitions = []
    for index, t in enumerate(node.get("transitions", ())):
        for key in t:
            if key not in {"trigger", "label", "source", "dest", "actor", "guards", "effects"}:
                _fail(f"transitions[{index}] 中未知的键 {key!r}", t, key)
        sources = t["source"] if isinstance(t["source"], list) else [t["source"]]
        for state in [*sources, t["dest"]]:
            if state not in states:
                _fail(f"transitions[{index}]：状态 {state!r} 未声明", t)
        for state in sources:
            if state in node.get("final", ()):
                _fail(f"transitions[{index}]：终态 {state!r} 不能再转出", t, "source")
        if t.get("actor") not in ACTORS:
            _fail(f"transitions[{index}]：未知的 actor {t.get('actor')!r}（可用：{'、'.join(ACTORS)}）", t, "actor")
        guards = []
        for guard in t.get("guards", ()):
            name, arg = (next(iter(guard.items())) if isinstance(guard, dict) else (guard, None))
            if name not in GUARDS:
                _fail(f"transitions[{index}]：未知的 guard {name!r}（可用：{'、'.join(GUARDS)}）", t, "guards")
            guards.append((name, arg))
        transitions.append(TransitionDef(t["trigger"], t.get("label", t["trigger"]), tuple(sources), t["dest"],
                                         t["actor"], tuple(guards), tuple(t.get("effects", ()))))
    return WorkflowDef(node["name"], node.get("label", node["name"]), node.get("entity", "claim"),
                       node["initial"], tuple(node.get("final", ())), dict(states), tuple(transitions))


class _Token:
    """What the shared machine sees of a record: its state, and nothing else."""

    __slots__ = ("state",)

    def __init__(self, state: str):
        self.state = state


class Workflow:
    """A workflow definition with its one shared ``transitions`` Machine."""

    def __init__(self, definition: WorkflowDef):
        self.definition = definition
        specs = []
        for tdef in definition.transitions:
            specs.append({"trigger": tdef.trigger, "source": list(tdef.sources), "dest": tdef.dest,
                          "conditions": self._conditions(tdef)})
        self.machine = Machine(model=None, states=list(definition.states), transitions=specs,
                               initial=definition.initial, auto_transitions=False, send_event=True)

    @staticmethod
    def _conditions(tdef: TransitionDef) -> list[Callable]:
        def actor(event):
            ctx = event.kwargs["ctx"]
            if ACTORS[tdef.actor](ctx):
                return True
            ctx.refusals.append(ctx.actor_refusal(tdef.actor))
            return False

        def guard(name, arg):
            function = GUARDS[name]

            def check(event):
                ctx = event.kwargs["ctx"]
                refusal = function(ctx, arg)
                if refusal is None:
                    return True
                if name not in BRANCH_GUARDS:
                    ctx.refusals.append(refusal)
                return False
            return check

        def taken(event):
            event.kwargs["ctx"].taken = tdef
            return True
        return [actor, *[guard(name, arg) for name, arg in tdef.guards], taken]

    def triggers_from(self, state: str) -> list[str]:
        return sorted({t.trigger for t in self.definition.transitions if state in t.sources})

    def fire(self, trigger: str, state: str, ctx) -> TransitionDef:
        """Run the guards of ``trigger`` from ``state``; return the transition taken or raise."""
        d = self.definition
        event = self.machine.events.get(trigger)
        if event is None:
            raise TransitionRefused(f"流程「{d.label}」没有「{trigger}」这一操作")
        ctx.refusals = []
        ctx.taken = None
        token = _Token(state)
        try:
            ok = event.trigger(token, ctx=ctx)
        except MachineError:
            raise TransitionRefused(f"当前状态为「{d.state_label(state)}」，不能{d.trigger_label(trigger)}") from None
        if not ok or ctx.taken is None:
            reasons = list(dict.fromkeys(ctx.refusals)) or ["条件不满足"]
            raise TransitionRefused(f"不能{d.trigger_label(trigger)}：" + "；".join(reasons))
        return ctx.taken


class WorkflowRegistry:
    """Every workflow in a folder (default: the ``workflows`` package), built once per app."""

    def __init__(self, folder: str | Path | None = None):
        if folder is None:
            from workflows import WORKFLOW_DIR
            folder = WORKFLOW_DIR
        self.workflows: dict[str, Workflow] = {}
        for path in sorted(Path(folder).glob("*.yaml")):
            definition = load_workflow(path)
            self.workflows[definition.name] = Workflow(definition)

    def get(self, name: str) -> Workflow:
        workflow = self.workflows.get(name)
        if workflow is None:
            raise PluginDataError(f"未知的流程 {name!r}（可用：{'、'.join(self.workflows)}）")
        return workflow
