"""The stage codes the platform knows: every window a plugin may declare in ``review.yaml``
(``stages:``) or yield from ``jijiao_stage_windows``, with the action each one governs.

A window is ``{opens, closes}`` in the days of ``core.periods.resolve_day``; ``closes`` is
inclusive (the whole day); without ``opens`` the window opens with the period. An action outside
its window is refused with the window in the message (a reviewer may extend a window for the
nodes under them). A stage the plugin does not declare is not checked: the action is open at any
time. Stages marked ``enforced=False`` are real steps of the notices that no action reads yet;
declare them anyway (issue "Every step the notices prescribe is enforced").
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

NODE_KINDS = ("province", "city", "district", "town", "school")  # as core.db.models.NODE_KINDS


@dataclass(frozen=True)
class Stage:
    code: str
    name: str
    governs: str
    enforced: bool = True


_STAGES = [
    Stage("declare", "教师申报", "教师提交自己的申报（declaration 工作流的「提交」）"),
    Stage("register", "学校（机构）代为登记", "学校或机构为教师录入的登记报送上级确认（registration 工作流的「报送」）；"
          "登记机构自身的审核层级由此窗口管辖"),
]
_STAGES += [Stage(f"review_{kind}", f"{label}审核",
                  f"审核链中由{label}机构审核的一级：退回、不予认定、审核通过，以及被退回记录的重新提交"
                  f"（该级为审核链第一级时）")
            for kind, label in zip(NODE_KINDS, ("省级", "市级", "区县级", "乡镇（中心学校）", "学校"))]
_STAGES += [
    Stage("register_training", "组织机构登记面授培训学时", "培训组织机构为参训教师登记学时（尚未执行）", enforced=False),
    Stage("register_research", "教研部门登记教研培训学时", "教研部门、学校为教师登记教研与校本培训学时（尚未执行）",
          enforced=False),
    Stage("register_city_training", "市级培训学时认定", "市级培训、进修学院培训学时的认定（尚未执行）", enforced=False),
    Stage("submit_evidence", "报送纸质材料", "学校报送打印的上报表与证明材料（尚未执行）", enforced=False),
    Stage("plan", "报送培训计划", "学校制订并报送集体培训计划（尚未执行）", enforced=False),
]

STAGES: dict[str, Stage] = {stage.code: stage for stage in _STAGES}


def review_stage(kind: str) -> str:
    """The stage whose window governs a review by a node of ``kind``."""
    return f"review_{kind}"


def unknown_stage_message(code) -> str | None:
    """None for a known code, else a Chinese refusal naming the close matches and every code."""
    if code in STAGES:
        return None
    close = difflib.get_close_matches(str(code), list(STAGES), n=1)
    hint = f"（是否应为 {close[0]}？）" if close else ""
    return f"未知的阶段代码 {code!r}{hint}；平台认识的阶段：{'、'.join(STAGES)}"


def missing_review_windows(levels, stage_codes, workflow: str | None) -> list[tuple[object, str]]:
    """``(level, message)`` for each review level whose reviews no window governs.

    A level names node kinds; a review by a node of kind K is governed by ``review_K``. The first
    level of a ``registration`` jurisdiction is the registrar's own act, governed by ``register``.
    A level that says ``no_deadline`` (the notice sets none) needs no window."""
    problems = []
    for position, level in enumerate(sorted(levels, key=lambda lv: lv.order)):
        if getattr(level, "no_deadline", None):
            continue
        if position == 0 and workflow == "registration":
            if "register" not in stage_codes:
                problems.append((level, f"审核层级「{level.name}」是登记机构自身的一级，须有 register 阶段的时间窗口"
                                        f"（或在该层级写 no_deadline: 说明通知未规定时限的原因）"))
            continue
        missing = [review_stage(k) for k in level.node_kinds if review_stage(k) not in stage_codes]
        if missing:
            problems.append((level, f"审核层级「{level.name}」没有时间窗口：缺少阶段 {'、'.join(missing)}"
                                    f"（若通知未规定审核时限，在该层级写 no_deadline: 原因）"))
    return problems
