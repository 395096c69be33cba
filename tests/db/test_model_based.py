"""A model-based test of claims: a Hypothesis state machine drives random declarations and
registrations, submissions, reviews, returns, rejections, withdrawals, edits, deadline moves and
extensions, bulk actions and concurrent actions against a real platform (a fresh database and
the small province of ``world.py`` per example), keeps a pure-Python model of every claim and
window, and after every step checks:

1. registered hours equal the assessment: for every teacher and period, the sum of the
   ``amount_milli`` of the registered claims is the stored ``AssessmentResult.total_milli`` (and
   ``result["totals"]["hours"]``), and there is no result for a period with nothing registered;
2. no claim is approved twice at one level: in every review round (from a submit or resubmit)
   the approve records name the nodes of the review chain in order, each once;
3. exactly one audit record per successful operation (declare, edit, each transition, each
   extension) with the expected trigger, states and actor, and the hash chain verifies;
4. a claim in ``registered`` or ``rejected`` never leaves it;
5. every action the model says is outside its window or its actor's scope or role fails with the
   expected error (NotFound, TransitionRefused, ConflictError, InputError) and changes nothing.

The model is written from the workflow files and the plugins' review.yaml, not from the service
code: review chains, stage windows and who may act are spelled out below. Actors are chosen right
most of the time and wrong otherwise (another school's admin, a teacher, the district reviewer
before the school has approved, the auditor...); the clock walks over days either side of the
广州 2019/2020 and 鄂城 2018-2019/2019-2020 deadlines and also jumps to the exact boundaries (the day
before a window opens, its first day, its last day, the day after) of the window an open claim
waits for. Concurrency is checked twice: two actors acting in turn from the version both saw (the
second gets ConflictError), and two threads firing at the same moment (exactly one wins).

BUGS THIS MACHINE FOUND (all fixed; the machine is strict by default, and
``JIJIAO_MODEL_STRICT=0`` would tolerate them again, each only in exactly its situation):

* ``resubmit_window`` — ``resubmit`` is guarded by ``review_open``, but a returned claim has no
  reviewer, so the guard looks up the stage ``review`` which no plugin defines: a returned claim
  can be resubmitted after every window of its period has closed. The model expects the window of
  the first review level (where the resubmitted claim goes) to be open.
* ``city_review_window`` — the review stage is ``review_<kind of the reviewer node>``; 广州's
  second level covers districts and the city (局属学校由市中小学教师培训中心审核), but the plugin
  had no ``review_city`` window, so a city-direct school's second review never closed (fixed by
  adding ``review_city`` with ``review_district``'s dates, which the model now follows).
* ``edit_duplicate`` — editing a draft or returned claim into the content of another claim of the
  same teacher raises a raw ``sqlalchemy.exc.IntegrityError`` instead of the InputError that
  ``declare`` gives for the same duplicate.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import threading
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from urllib.parse import quote

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (Bundle, RuleBasedStateMachine, initialize, invariant, multiple, precondition,
                                 rule)
from sqlalchemy import create_engine, func, select
from sqlalchemy.exc import IntegrityError

from core import jobs
from core.audit import verify
from core.db.base import make_engine
from core.db.migrate import upgrade
from core.db.models import AssessmentResult, AuditRecord, Claim, WindowExtension
from core.db.scope import Actor
from core.errors import InputError, JijiaoError
from core.plugins import load_registry
from core.services import NotFound, Platform
from core.workflow import ConflictError, TransitionRefused, WorkflowRegistry

from ..conftest import PG_ENV, Clock, _pg_url
from .world import World, build

REGISTRY = load_registry()
WORKFLOWS = WorkflowRegistry()
STRICT = os.environ.get("JIJIAO_MODEL_STRICT", "1") != "0"  # the three bugs below are fixed
KNOWN_BUGS = frozenset() if STRICT else frozenset({"resubmit_window", "city_review_window", "edit_duplicate"})
SETTINGS = settings(max_examples=25, stateful_step_count=25, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                           HealthCheck.data_too_large])

# -- the province of world.py, as the model knows it ------------------------------------------------

ACTORS = ("wang", "li", "zhao", "thzx_admin", "thxx_admin", "szs_admin", "th_rev", "gz_rev",
          "cgxx_admin", "yz_admin", "cg_rev", "ec_rev", "auditor", "admin")
EXTENDERS = ("reviewer", "school_admin", "platform_admin")
# An extension reaches only the stages at or below the extender's own level (a school admin cannot
# extend the district's review window): the level of each stage, written out by hand.
LEVELS = ("province", "city", "district", "town", "school")
STAGE_KIND = {"declare": "school", "register": "school", "review_school": "school", "review_town": "town",
              "review_district": "district", "review_city": "city"}
TEACHERS = ("wang", "li", "zhao", "chen", "liu")
HOME = {"wang": "thzx", "li": "thxx", "zhao": "szs", "chen": "cgxx", "liu": "yz"}
JURISDICTION = {"wang": "guangzhou", "li": "guangzhou", "zhao": "guangzhou", "chen": "echeng", "liu": "echeng"}
# Who declares (a 广州 teacher, for themself) or registers (an 鄂城 school, for its teacher).
DECLARER = {"wang": "wang", "li": "li", "zhao": "zhao", "chen": "cgxx_admin", "liu": "yz_admin"}
# 广州 declarations: school, then district (city for a city-direct school). 鄂城 registrations by the
# school: town (optional: a main-city school has none), then district.
CHAIN = {"wang": ("thzx", "th"), "li": ("thxx", "th"), "zhao": ("szs", "gz"), "chen": ("cg", "ec"), "liu": ("ec",)}
REVIEWER = {"thzx": "thzx_admin", "thxx": "thxx_admin", "szs": "szs_admin", "th": "th_rev", "gz": "gz_rev",
            "cg": "cg_rev", "ec": "ec_rev", "cgxx": "cgxx_admin", "yz": "yz_admin"}
ITEMS = {"guangzhou": ("zhuanye.self",), "echeng": ("feijizhong.school", "feijizhong.other")}
KINDS = ("学术会议", "其他", "教研活动")
BAD_KIND = "不存在的类别"
INITIAL = {"declaration": "draft", "registration": "recorded"}
FINAL = ("registered", "rejected")
SUBMIT_STAGE = {"declaration": "declare", "registration": "register"}
# The review stage of a level, by the kind of its reviewer node (review.yaml): 广州's second level
# is reviewed by the district, or for a city-direct school by the city, each with its own window
# (review_city has review_district's dates; an extension of one does not extend the other).
REVIEW_STAGE = {("guangzhou", "school"): "review_school", ("guangzhou", "district"): "review_district",
                ("guangzhou", "city"): "review_city", ("echeng", "town"): "review_town",
                ("echeng", "district"): "review_district"}
STAGES = {"guangzhou": ("declare", "review_school", "review_district", "review_city"),
          "echeng": ("register", "review_town", "review_district")}
PERIODS = {"guangzhou": ("2019", "2020"), "echeng": ("2018-2019", "2019-2020")}
# Days either side of the boundaries: 广州 2019 declarations close 2020-01-31, school review
# 2020-02-28, district review 2020-03-10; 鄂城 2018-2019 registration and town review run
# 2019-09-01..11-06, district review 2019-11-07..11-15 (a year later for 2019-2020).
DAYS = (date(2019, 6, 1), date(2019, 9, 15), date(2019, 10, 20), date(2019, 11, 10), date(2019, 12, 1),
        date(2020, 1, 15), date(2020, 1, 31), date(2020, 2, 1), date(2020, 2, 28), date(2020, 2, 29),
        date(2020, 3, 10), date(2020, 3, 11), date(2020, 9, 15), date(2020, 11, 10), date(2021, 2, 1),
        date(2021, 3, 1))
TRIGGERS = ("submit", "withdraw", "resubmit", "approve", "return", "reject")
CLAIMANT_TRIGGERS = ("submit", "withdraw", "resubmit")
REASONS = ("材料不全，请补充原件", "  ", "")
EDGES = ("opens-1", "opens", "closes", "closes+1", "closes+1")


def default_window(jurisdiction: str, stage: str, period: str) -> tuple[date, date]:
    """The plugin's dated default (review.yaml), written out by hand."""
    if jurisdiction == "guangzhou":
        y = int(period)
        if y <= 2019:  # 2019-01-01 values (also for an earlier period: the first values apply,
            # relative to that period: "next 01-31" of 2018 is 2019-01-31)
            closes = {"declare": date(y + 1, 1, 31), "review_school": date(y + 1, 2, 28),
                      "review_district": date(y + 1, 3, 10), "review_city": date(y + 1, 3, 10)}[stage]
        else:  # 2020-01-01 values
            closes = {"declare": date(y, 12, 31), "review_school": date(y + 1, 1, 31),
                      "review_district": date(y + 1, 2, 28), "review_city": date(y + 1, 2, 28)}[stage]
        return date(y, 1, 1), closes
    y = int(period[:4]) + 1  # 鄂城: the school year's registration runs in the next autumn
    if stage == "review_district":
        return date(y, 11, 7), date(y, 11, 15)
    return date(y, 9, 1), date(y, 11, 6)


def default_period(jurisdiction: str, day: date) -> str:
    if jurisdiction == "guangzhou":
        return str(day.year)
    y = day.year if day.month >= 9 else day.year - 1
    return f"{y}-{y + 1}"


def parse_hours(text: str) -> int | None:
    """Milli-hours of a valid amount (not negative, at most 2 decimals), else None."""
    try:
        d = Decimal(text)
    except InvalidOperation:
        return None
    if d < 0 or d != d.quantize(Decimal("0.01")):
        return None
    return int(d * 1000)


valid_hours_st = st.one_of(
    st.integers(0, 6000).map(lambda n: str(Decimal(n).scaleb(-2))),  # 0.00 .. 60.00, two decimals
    st.integers(0, 600).map(lambda n: str(Decimal(n).scaleb(-1))),  # 0.0 .. 60.0
    st.integers(0, 80).map(str),
)
hours_st = st.one_of(valid_hours_st, valid_hours_st, valid_hours_st,
                     st.sampled_from(["0.125", "-2", "3.999"]))  # refused: three decimals, negative
kind_st = st.sampled_from(KINDS * 3 + (BAD_KIND,))


# -- the model ------------------------------------------------------------------------------------------

@dataclass
class MClaim:
    id: int
    teacher: str
    jurisdiction: str
    workflow: str
    item: str
    period: str
    milli: int
    kind: str | None
    created_by: str
    state: str
    version: int = 1
    level: int = 0
    chain: tuple[str, ...] | None = None
    reviewer: str | None = None
    log: list[tuple] = field(default_factory=list)  # (trigger, from_state, to_state, actor key)

    def content(self):
        return (self.teacher, self.item, self.period, self.milli, self.kind)


@dataclass
class Outcome:
    """What the model expects: success, or one of ``error``. ``bug`` names a known core bug under
    which ``alt`` ("ok" or an exception tuple) happens instead."""

    ok: bool
    error: tuple = ()
    why: str = ""
    bug: str | None = None
    alt: object = None

    @classmethod
    def fail(cls, error, why, bug=None, alt=None):
        return cls(False, error if isinstance(error, tuple) else (error,), why, bug, alt)


OK = Outcome(True)


class ClaimsMachine(RuleBasedStateMachine):
    backend = "sqlite"

    claims = Bundle("claims")

    def __init__(self):
        super().__init__()
        self._cleanup = []
        jobs.huey.immediate = True
        self.day = 0
        self.clock = Clock(DAYS[0].year, DAYS[0].month, DAYS[0].day)
        url, template, drop = fresh_database(self.backend)
        self._cleanup.append(drop)
        self.platform = Platform(url, registry=REGISTRY, workflows=WORKFLOWS, clock=self.clock)
        self._cleanup.insert(0, self.platform.engine.dispose)
        self.world = World(self.platform, template.nodes, template.teachers, template.actors)
        self.node_key = {n.id: k for k, n in self.world.nodes.items()}
        self.model: dict[int, MClaim] = {}  # the claims rules pick from
        # Claims after a race between two different actions: which one won is up to the database,
        # so they leave the pool the rules draw from (Hypothesis needs the same draws when it
        # replays an example); the invariants and bulk actions still cover them.
        self.retired: dict[int, MClaim] = {}
        self.extensions: list[tuple] = []  # (jurisdiction, stage, period, node key, closes)
        with self.platform.transaction(Actor.system()) as s:
            self.audit_total = s.scalar(select(func.count()).select_from(AuditRecord))
        self.final_seen: dict[int, str] = {}

    # -- databases ---------------------------------------------------------------------------------
    def teardown(self):
        for step in self._cleanup:
            step()

    # -- what the model knows about people and places ---------------------------------------------------
    def actor(self, key) -> Actor:
        return self.world.actors[key]

    def role(self, key) -> str:
        return self.actor(key).role

    def node_of(self, key) -> str | None:
        return self.node_key.get(self.actor(key).node_id)

    def path(self, node_key) -> str:
        return self.world.nodes[node_key].path

    def kind(self, node_key) -> str:
        return self.world.nodes[node_key].kind

    def sees_teacher(self, actor_key, teacher) -> bool:
        a = self.actor(actor_key)
        if a.role == "teacher":
            return a.teacher_id == self.world.teachers[teacher].id
        return self.path(HOME[teacher]).startswith(a.node_path)

    def sees_node(self, actor_key, node_key) -> bool:
        return self.path(node_key).startswith(self.actor(actor_key).node_path)

    def is_claimant(self, actor_key, c: MClaim) -> bool:
        role = self.role(actor_key)
        if role == "teacher":
            return self.actor(actor_key).teacher_id == self.world.teachers[c.teacher].id and c.workflow == "declaration"
        if role == "school_admin":
            return c.created_by == actor_key or (c.workflow == "registration"
                                                 and self.node_of(actor_key) == HOME[c.teacher])
        return False

    def is_current_reviewer(self, actor_key, c: MClaim) -> bool:
        return (self.role(actor_key) in ("reviewer", "school_admin") and c.reviewer is not None
                and self.node_of(actor_key) == c.reviewer)

    def right_actor(self, trigger, c: MClaim) -> str:
        if trigger in CLAIMANT_TRIGGERS or trigger == "edit":
            return DECLARER[c.teacher]
        node = c.reviewer or (c.chain or CHAIN[c.teacher])[0]
        return REVIEWER[node]

    # -- windows ---------------------------------------------------------------------------------------------
    def window(self, jurisdiction, stage, period, node_key) -> tuple[date, date]:
        opens, closes = default_window(jurisdiction, stage, period)
        for j, s, p, n, ext_closes in self.extensions:
            if (j, s, p) == (jurisdiction, stage, period) and self.path(node_key).startswith(self.path(n)):
                closes = max(closes, ext_closes)
        return opens, closes

    def is_open(self, jurisdiction, stage, period, node_key) -> bool:
        if stage is None:
            return True
        opens, closes = self.window(jurisdiction, stage, period, node_key)
        return opens <= self.clock().date() <= closes

    def review_open(self, c: MClaim, reviewer_node) -> tuple[bool, bool]:
        """(open as the plugin means it, open as core checks it: review_<kind>, no such stage: open)."""
        kind = self.kind(reviewer_node)
        intended = self.is_open(c.jurisdiction, REVIEW_STAGE[(c.jurisdiction, kind)], c.period, HOME[c.teacher])
        actual_stage = f"review_{kind}"
        actual = self.is_open(c.jurisdiction, actual_stage if actual_stage in STAGES[c.jurisdiction] else None,
                              c.period, HOME[c.teacher])
        return intended, actual

    # -- predictions --------------------------------------------------------------------------------------
    def predict(self, actor_key, trigger, c: MClaim, reason=None, expected_version=None) -> Outcome:
        if not self.sees_teacher(actor_key, c.teacher):
            return Outcome.fail(NotFound, "outside the actor's scope")
        if expected_version is not None and expected_version != c.version:
            return Outcome.fail(ConflictError, "stale version")
        sources = {"submit": (INITIAL[c.workflow],), "withdraw": ("submitted",), "resubmit": ("returned",),
                   "approve": ("submitted", "in_review"), "return": ("submitted", "in_review"),
                   "reject": ("submitted", "in_review")}[trigger]
        if c.state not in sources:
            return Outcome.fail(TransitionRefused, f"{trigger} from {c.state}")
        if trigger in CLAIMANT_TRIGGERS:
            if not self.is_claimant(actor_key, c):
                return Outcome.fail(TransitionRefused, "not the claimant")
            if trigger == "submit" and not self.is_open(c.jurisdiction, SUBMIT_STAGE[c.workflow], c.period,
                                                        HOME[c.teacher]):
                return Outcome.fail(TransitionRefused, "submission window closed")
            if trigger == "withdraw" and c.level != 0:
                return Outcome.fail(TransitionRefused, "already reviewed")
            if trigger == "resubmit":
                intended, _ = self.review_open(c, CHAIN[c.teacher][0])
                if not intended:  # core never checks a window here
                    return Outcome.fail(TransitionRefused, "review window closed", "resubmit_window", "ok")
            return OK
        if not self.is_current_reviewer(actor_key, c):
            return Outcome.fail(TransitionRefused, "not the current reviewer")
        intended, actual = self.review_open(c, c.reviewer)
        if trigger in ("return", "reject") and not (reason or "").strip():
            return Outcome.fail(TransitionRefused, "no reason")
        if not intended:
            return Outcome.fail(TransitionRefused, "review window closed",
                                "city_review_window" if actual else None, "ok" if actual else None)
        return OK

    def apply(self, actor_key, trigger, c: MClaim) -> None:
        before = c.state
        if trigger in ("submit", "resubmit"):
            c.state, c.level, c.chain = "submitted", 0, CHAIN[c.teacher]
            c.reviewer = c.chain[0]
        elif trigger == "withdraw":
            c.state, c.level, c.chain, c.reviewer = INITIAL[c.workflow], 0, None, None
        elif trigger == "return":
            c.state, c.reviewer = "returned", None
        elif trigger == "reject":
            c.state, c.level, c.chain, c.reviewer = "rejected", 0, None, None
        elif trigger == "approve":
            if c.level == len(c.chain) - 1:
                c.state, c.reviewer = "registered", None
            else:
                c.state, c.level = "in_review", c.level + 1
                c.reviewer = c.chain[c.level]
        c.version += 1
        c.log.append((trigger, before, c.state, actor_key))
        self.audit_total += 1

    def duplicate(self, content, but=None) -> bool:
        return any(m.content() == content for m in self.everything().values() if m.id != but)

    def everything(self) -> dict[int, MClaim]:
        return {**self.model, **self.retired}

    def predict_declare(self, declarer, teacher, item, hours, kind, period):
        if not self.sees_teacher(declarer, teacher):
            return Outcome.fail(NotFound, "teacher outside the declarer's scope"), None
        role = self.role(declarer)
        if role not in ("teacher", "school_admin"):
            return Outcome.fail(InputError, "role cannot declare"), None
        milli = parse_hours(hours)
        if milli is None or kind == BAD_KIND:
            return Outcome.fail(InputError, "bad input"), None
        jurisdiction = JURISDICTION[teacher]
        period = period or default_period(jurisdiction, self.clock().date())
        workflow = "declaration" if role == "teacher" else "registration"
        c = MClaim(0, teacher, jurisdiction, workflow, item, period, milli, kind, declarer, INITIAL[workflow])
        if self.duplicate(c.content()):
            return Outcome.fail(InputError, "duplicate content"), None
        return OK, c

    def predict_edit(self, actor_key, c: MClaim, hours, kind, expected_version):
        if not self.sees_teacher(actor_key, c.teacher):
            return Outcome.fail(NotFound, "outside the actor's scope"), None
        if c.state not in ("draft", "recorded", "returned"):
            return Outcome.fail(TransitionRefused, f"edit in {c.state}"), None
        if not self.is_claimant(actor_key, c):
            return Outcome.fail(TransitionRefused, "not the claimant"), None
        milli = parse_hours(hours)
        if milli is None or kind == BAD_KIND:
            return Outcome.fail(InputError, "bad input"), None
        if expected_version != c.version:
            return Outcome.fail(ConflictError, "stale version"), None
        content = (c.teacher, c.item, c.period, milli, kind)
        if self.duplicate(content, but=c.id):
            return Outcome.fail(InputError, "duplicate content", "edit_duplicate", (IntegrityError,)), None
        return OK, milli

    # -- running an action against the expectation ------------------------------------------------------------
    def snapshot(self):
        with self.platform.transaction(Actor.system()) as s:
            claims = [tuple(r) for r in s.execute(select(
                Claim.id, Claim.state, Claim.version, Claim.level, Claim.review_chain, Claim.reviewer_node_id,
                Claim.amount_milli, Claim.inputs, Claim.reason, Claim.dedup_key).order_by(Claim.id))]
            audit = s.scalar(select(func.count()).select_from(AuditRecord))
            extensions = s.scalar(select(func.count()).select_from(WindowExtension))
            results = [tuple(r) for r in s.execute(select(AssessmentResult.teacher_id, AssessmentResult.period_key,
                                                          AssessmentResult.total_milli).order_by(AssessmentResult.id))]
        return claims, audit, extensions, results

    def attempt(self, outcome: Outcome, action, label: str):
        """Run ``action``; return (True, result) on success, (False, exc) on a refusal the model
        expected (after checking that nothing changed)."""
        tolerated = outcome.bug in KNOWN_BUGS
        before = None if outcome.ok and not tolerated else self.snapshot()
        try:
            result = action()
        except (JijiaoError, IntegrityError) as exc:
            allowed = outcome.error + (outcome.alt if tolerated and isinstance(outcome.alt, tuple) else ())
            if outcome.ok and not (tolerated and isinstance(outcome.alt, tuple)):
                raise AssertionError(f"{label}: the model expected success, core refused: {exc!r}") from exc
            if not isinstance(exc, allowed):
                raise AssertionError(f"{label}: expected {outcome.error} ({outcome.why}), got {exc!r}") from exc
            after = self.snapshot()
            assert after == before, f"{label}: refused ({exc!r}) but the database changed"
            return False, exc
        if not outcome.ok and not (tolerated and outcome.alt == "ok"):
            raise AssertionError(f"{label}: expected {outcome.error[0].__name__} ({outcome.why}), but it succeeded"
                                 + (f" [known bug {outcome.bug}]" if outcome.bug else ""))
        return True, result

    def transition(self, actor_key, trigger, c: MClaim, reason=None, expected_version=None):
        outcome = self.predict(actor_key, trigger, c, reason, expected_version)
        label = f"{actor_key} {trigger} claim {c.id} ({c.state}, level {c.level}, on {self.clock().date()})"
        ok, result = self.attempt(outcome, lambda: self.world.svc(actor_key).claims.transition(
            c.id, trigger, expected_version=expected_version, reason=reason), label)
        if ok:
            self.apply(actor_key, trigger, c)
            assert result.state == c.state and result.version == c.version, label
        return ok

    # -- rules -----------------------------------------------------------------------------------------------
    @initialize(target=claims, teachers=st.lists(st.sampled_from(TEACHERS), min_size=1, max_size=3, unique=True),
                hours=st.lists(valid_hours_st, min_size=3, max_size=3),
                start=st.one_of(st.just(0), st.integers(0, len(DAYS) - 1)))
    def first_claims(self, teachers, hours, start):
        """A day to start on, and a claim or three (so that every rule has something to act on)."""
        self.set_day(start)
        ids = []
        for teacher, amount in zip(teachers, hours):
            jurisdiction = JURISDICTION[teacher]
            kind = KINDS[0] if jurisdiction == "guangzhou" else None
            ids.append(self.declare_as(DECLARER[teacher], teacher, ITEMS[jurisdiction][0], amount, kind, None))
        return multiple(*ids)

    @rule(target=claims, teacher=st.sampled_from(TEACHERS), right=st.integers(0, 4),
          wrong=st.sampled_from(ACTORS), hours=hours_st, kind=kind_st,
          period=st.integers(0, 3), item=st.integers(0, 1))
    def declare(self, teacher, right, wrong, hours, kind, period, item):
        """A teacher declares (广州) or a school registers (鄂城); sometimes somebody else tries."""
        jurisdiction = JURISDICTION[teacher]
        declarer = DECLARER[teacher] if right else wrong
        if declarer != DECLARER[teacher] and self.role(declarer) == "school_admin" \
                and jurisdiction == "guangzhou" and self.sees_teacher(declarer, teacher):
            declarer = DECLARER[teacher]  # a 广州 school registering for its teacher: not modelled here
        item_code = ITEMS[jurisdiction][item % len(ITEMS[jurisdiction])]
        if jurisdiction == "echeng":
            kind = None if kind != BAD_KIND else kind
        explicit = (None, *PERIODS[jurisdiction], None)[period]
        cid = self.declare_as(declarer, teacher, item_code, hours, kind, explicit)
        return multiple() if cid is None else cid

    def declare_as(self, declarer, teacher, item_code, hours, kind, period) -> int | None:
        inputs = {"hours": hours} | ({"kind": kind} if kind is not None else {})
        outcome, mc = self.predict_declare(declarer, teacher, item_code, hours, kind, period)
        ok, row = self.attempt(outcome, lambda: self.world.svc(declarer).claims.declare(
            self.world.teachers[teacher].id, item_code, inputs, period=period),
            f"{declarer} declares {item_code} {inputs} for {teacher}")
        if not ok:
            return None
        mc.id = row.id
        assert (row.state, row.period_key, row.amount_milli, row.workflow) == \
            (mc.state, mc.period, mc.milli, mc.workflow)
        mc.log.append(("declare", None, mc.state, declarer))
        self.audit_total += 1
        self.model[mc.id] = mc
        return mc.id

    @rule(cid=claims, trigger=st.sampled_from(TRIGGERS), right=st.integers(0, 3), wrong=st.sampled_from(ACTORS),
          reason=st.sampled_from(REASONS + REASONS[:1]), version=st.sampled_from(["none", "current", "stale"]))
    def act(self, cid, trigger, right, wrong, reason, version):
        """Any transition by the right actor (mostly) or a wrong one, with or without the version seen."""
        c = self.model.get(cid)
        if c is None:
            return
        who = self.right_actor(trigger, c) if right else wrong
        expected = {"none": None, "current": c.version, "stale": c.version - 1 or c.version + 1}[version]
        self.transition(who, trigger, c, reason=reason, expected_version=expected)

    @precondition(lambda self: any(c.state not in FINAL for c in self.model.values()))
    @rule(data=st.data(), steps=st.lists(st.tuples(st.sampled_from(["approve"] * 4 + ["return"]),
                                                   st.sampled_from([None] * 4 + list(EDGES))), min_size=1, max_size=4))
    def advance(self, data, steps):
        """The natural next steps of an open claim by the right actor: submit (or resubmit), then
        approve level after level (now and then return it instead), as long as the windows allow;
        now and then the clock first goes to a boundary of the window the step needs."""
        cid = data.draw(st.sampled_from(sorted(c.id for c in self.model.values() if c.state not in FINAL)))
        c = self.model[cid]
        for verdict, edge in steps:
            if c.state in FINAL:
                break
            if edge is not None:
                self.clock_to(c, edge)
            trigger = self.natural(c) if c.state not in ("submitted", "in_review") else verdict
            if not self.transition(self.right_actor(trigger, c), trigger, c, reason=REASONS[0],
                                   expected_version=c.version):
                break

    @rule(cid=claims, right=st.integers(0, 3), wrong=st.sampled_from(ACTORS), hours=hours_st,
          kind=kind_st, stale=st.booleans())
    def edit(self, cid, right, wrong, hours, kind, stale):
        """Change a draft or a returned claim (only its claimant may)."""
        c = self.model.get(cid)
        if c is None:
            return
        who = self.right_actor("edit", c) if right else wrong
        if c.jurisdiction == "echeng":
            kind = None if kind != BAD_KIND else kind
        expected = c.version - 1 if stale else c.version
        inputs = {"hours": hours} | ({"kind": kind} if kind is not None else {})
        outcome, milli = self.predict_edit(who, c, hours, kind, expected)
        ok, row = self.attempt(outcome, lambda: self.world.svc(who).claims.edit(c.id, inputs,
                                                                                  expected_version=expected),
                               f"{who} edits claim {c.id} ({c.state}) to {inputs}")
        if ok:
            c.milli, c.kind, c.version = milli, kind, c.version + 1
            c.log.append(("edit", c.state, c.state, who))
            self.audit_total += 1
            assert (row.amount_milli, row.version) == (c.milli, c.version)

    def set_day(self, index):
        self.day = min(max(index, 0), len(DAYS) - 1)
        self.clock.set(DAYS[self.day].year, DAYS[self.day].month, DAYS[self.day].day)

    @rule(step=st.sampled_from([1, 1, 2, -1]), to=st.one_of(st.none(), st.integers(0, len(DAYS) - 1)))
    def move_clock(self, step, to):
        """Time passes across the window boundaries (now and then it jumps, or a test goes back):
        windows open and close."""
        self.set_day(self.day + step if to is None else to)

    def pending_window(self, c: MClaim) -> tuple[date, date]:
        """The window of the stage a claim waits for: submission, the current level's review, or
        (returned) the first level's review."""
        if c.state in ("draft", "recorded"):
            stage = SUBMIT_STAGE[c.workflow]
        else:
            node = c.reviewer if c.state in ("submitted", "in_review") else CHAIN[c.teacher][0]
            stage = REVIEW_STAGE[(c.jurisdiction, self.kind(node))]
        return self.window(c.jurisdiction, stage, c.period, HOME[c.teacher])

    def clock_to(self, c: MClaim, edge: str) -> None:
        opens, closes = self.pending_window(c)
        day = {"opens-1": opens - timedelta(days=1), "opens": opens, "closes": closes,
               "closes+1": closes + timedelta(days=1)}[edge]
        self.clock.set(day.year, day.month, day.day)

    @precondition(lambda self: any(c.state not in FINAL for c in self.model.values()))
    @rule(data=st.data(), edge=st.sampled_from(EDGES))
    def clock_to_boundary(self, data, edge):
        """The clock goes to a boundary of the window an open claim waits for: the day before it
        opens, the day it opens, the day it closes (still open) or the day after (closed)."""
        c = self.model[data.draw(st.sampled_from(sorted(c.id for c in self.model.values() if c.state not in FINAL)))]
        self.clock_to(c, edge)

    @rule(who=st.sampled_from(ACTORS + ("th_rev", "gz_rev", "thzx_admin", "szs_admin", "cg_rev", "ec_rev",
                                        "cgxx_admin")),
          jurisdiction=st.sampled_from(("guangzhou", "echeng")), stage=st.integers(0, 3), period=st.integers(0, 1),
          node=st.one_of(st.none(), st.none(), st.sampled_from(sorted(HOME.values()) + ["th", "gz", "cg", "ec"])),
          days=st.integers(-5, 60))
    def extend(self, who, jurisdiction, stage, period, node, days):
        """A reviewer or school admin extends a window for their subtree, for a stage at or below
        their own level (others are refused)."""
        stage, period = STAGES[jurisdiction][stage % len(STAGES[jurisdiction])], PERIODS[jurisdiction][period]
        role = self.role(who)
        target = node or self.node_of(who)
        if role not in EXTENDERS:
            outcome, closes = Outcome.fail(InputError, "role cannot extend"), date(2021, 1, 1)
        elif role != "platform_admin" and \
                LEVELS.index(STAGE_KIND[stage]) < LEVELS.index(self.kind(self.node_of(who))):
            outcome, closes = Outcome.fail(InputError, "stage above the extender's level"), date(2021, 1, 1)
        elif not self.sees_node(who, target):
            outcome, closes = Outcome.fail(NotFound, "node outside the actor's scope"), date(2021, 1, 1)
        else:
            closes = self.window(jurisdiction, stage, period, target)[1] + timedelta(days=days)
            outcome = OK if days > 0 else Outcome.fail(InputError, "not later than the current close")
        node_id = self.world.nodes[node].id if node else None
        ok, _ = self.attempt(outcome, lambda: self.world.svc(who).windows.extend(
            jurisdiction=jurisdiction, stage=stage, period_key=period, closes=closes, node_id=node_id),
            f"{who} extends {jurisdiction} {stage} {period} at {target} to {closes}")
        if ok:
            self.extensions.append((jurisdiction, stage, period, target, closes))
            self.audit_total += 1

    @rule(cid=claims, first=st.tuples(st.sampled_from(TRIGGERS + ("edit",)), st.integers(0, 3),
                                      st.sampled_from(ACTORS)),
          second=st.tuples(st.sampled_from(TRIGGERS + ("edit",)), st.integers(0, 3), st.sampled_from(ACTORS)),
          hours=hours_st)
    def same_version(self, cid, first, second, hours):
        """Two people act on the claim from the version both saw: once one has succeeded, the other
        gets a ConflictError (or, for an edit, a refusal) and nothing changes."""
        c = self.model.get(cid)
        if c is None:
            return
        seen = c.version
        for trigger, right, wrong in (first, second):
            who = self.right_actor(trigger, c) if right else wrong
            if trigger == "edit":
                outcome, milli = self.predict_edit(who, c, hours, c.kind, seen)
                inputs = {"hours": hours} | ({"kind": c.kind} if c.kind is not None else {})
                ok, _ = self.attempt(outcome, lambda: self.world.svc(who).claims.edit(c.id, inputs,
                                                                                      expected_version=seen),
                                     f"{who} edits claim {c.id} from version {seen}")
                if ok:
                    c.milli, c.version = milli, c.version + 1
                    c.log.append(("edit", c.state, c.state, who))
                    self.audit_total += 1
            else:
                self.transition(who, trigger, c, reason=REASONS[0], expected_version=seen)

    @staticmethod
    def natural(c: MClaim) -> str:
        return {"draft": "submit", "recorded": "submit", "returned": "resubmit"}.get(c.state, "approve")

    def _racing(self):
        return sorted(c.id for c in self.model.values() if c.state not in FINAL
                      and self.predict(self.right_actor(self.natural(c), c), self.natural(c), c).ok)

    @precondition(lambda self: self._racing())
    @rule(data=st.data(), rival=st.sampled_from(["same", "other"]))
    def race_threads(self, data, rival):
        """Two requests at the same moment, from two threads: the same action twice (two browser
        tabs), or the natural step against a rival one (approve vs the teacher's withdraw, approve
        vs return): exactly one succeeds, the other is refused, one audit record is written."""
        c = self.model[data.draw(st.sampled_from(self._racing()))]
        trigger = self.natural(c)
        first = (self.right_actor(trigger, c), trigger)
        second = first
        if rival == "other" and c.state in ("submitted", "in_review"):
            second = (DECLARER[c.teacher], "withdraw") if c.state == "submitted" else (first[0], "return")
            if not self.predict(*second, c, REASONS[0]).ok:
                second = first
        actions = [first, second]
        barrier = threading.Barrier(2)
        results: list = [None, None]

        def run(index):
            who, trig = actions[index]
            barrier.wait()
            try:
                results[index] = self.world.svc(who).claims.transition(c.id, trig, reason=REASONS[0])
            except Exception as exc:  # noqa: BLE001 - anything but a refusal fails below
                results[index] = exc
        threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        wins = [i for i, r in enumerate(results) if r is not None and not isinstance(r, Exception)]
        assert len(wins) == 1, f"concurrent {actions} on claim {c.id}: {results!r}"
        loser = results[1 - wins[0]]
        assert isinstance(loser, (ConflictError, TransitionRefused)), repr(loser)
        who, trig = actions[wins[0]]
        self.apply(who, trig, c)
        if actions[0] != actions[1]:
            self.retired[c.id] = self.model.pop(c.id)

    @rule(who=st.sampled_from(ACTORS + ("th_rev", "gz_rev", "thzx_admin", "cg_rev", "ec_rev")),
          trigger=st.sampled_from(["approve", "approve", "return"]), ids=st.lists(claims, max_size=6),
          unknown=st.booleans())
    def bulk(self, who, trigger, ids, unknown):
        """Bulk approve (or return) of a random subset: a report claim by claim."""
        ids = list(ids) + ([10 ** 6] if unknown else [])
        expected = {}
        for cid in dict.fromkeys(ids):
            c = self.everything().get(cid)
            expected[cid] = self.predict(who, trigger, c, REASONS[0]) if c else Outcome.fail(NotFound, "no such claim")
        before = self.snapshot()
        report = self.world.svc(who).claims.bulk(trigger, ids, reason=REASONS[0])
        assert set(report.ok) | set(report.refused) == set(expected) and not set(report.ok) & set(report.refused)
        for cid, outcome in expected.items():
            succeeded = cid in report.ok
            tolerated = outcome.bug in KNOWN_BUGS and outcome.alt == "ok"
            assert succeeded == outcome.ok or (tolerated and succeeded), \
                f"bulk {trigger} by {who}: claim {cid} expected {'ok' if outcome.ok else outcome.why}, report {report}"
            if succeeded:
                self.apply(who, trigger, self.everything()[cid])
        if not report.ok:
            assert self.snapshot() == before, f"bulk {trigger} by {who} moved nothing but changed the database"

    # -- invariants ----------------------------------------------------------------------------------------------
    @invariant()
    def database_matches_model(self):
        user = {k: self.actor(k).user_id for k in ACTORS}
        node_id = {k: n.id for k, n in self.world.nodes.items()}
        with self.platform.transaction(Actor.system()) as s:
            rows = {r.id: r for r in s.scalars(select(Claim))}
            audit: dict[int, list] = {}
            for r in s.execute(select(AuditRecord.entity_id, AuditRecord.trigger, AuditRecord.from_state,
                                      AuditRecord.to_state, AuditRecord.actor_id, AuditRecord.node_id)
                               .where(AuditRecord.entity_type == "claim").order_by(AuditRecord.seq)):
                audit.setdefault(r.entity_id, []).append(r)
            total_audit = s.scalar(select(func.count()).select_from(AuditRecord))
            windows = s.scalar(select(func.count()).select_from(AuditRecord).where(AuditRecord.entity_type == "window"))
            extensions = s.scalar(select(func.count()).select_from(WindowExtension))
            results = {(r.teacher_id, r.period_key): r for r in s.scalars(select(AssessmentResult))}
            registered = {}
            for r in rows.values():
                if r.state == "registered":
                    key = (r.teacher_id, r.period_key)
                    registered[key] = registered.get(key, 0) + r.amount_milli
            report = verify(s)

        claims = self.everything()
        assert set(rows) == set(claims), "claims in the database differ from the model's"
        for cid, c in claims.items():
            r = rows[cid]
            chain = [node_id[k] for k in c.chain] if c.chain is not None else None
            got = (r.state, r.version, r.level, r.review_chain, r.reviewer_node_id, r.amount_milli, r.period_key,
                   r.workflow, r.teacher_id, r.created_by)
            want = (c.state, c.version, c.level, chain, node_id[c.reviewer] if c.reviewer else None, c.milli, c.period,
                    c.workflow, self.world.teachers[c.teacher].id, user[c.created_by])
            assert got == want, f"claim {cid}: database {got} != model {want}"
            # (4) final states stay final
            if cid in self.final_seen:
                assert c.state == self.final_seen[cid], f"claim {cid} left {self.final_seen[cid]}"
            elif c.state in FINAL:
                self.final_seen[cid] = c.state
            # (3) one audit record per successful operation, with its trigger, states and actor
            trail = audit.get(cid, [])
            assert [(a.trigger, a.from_state, a.to_state, a.actor_id) for a in trail] == \
                [(t, f, to, user[who]) for t, f, to, who in c.log], f"claim {cid}: audit trail differs from the model's"
            ends = [i for i, a in enumerate(trail) if a.to_state in FINAL]
            assert not ends or ends[0] == len(trail) - 1, f"claim {cid}: records after a final state"
            # (2) never approved twice at one level: each round approves the chain's nodes in order, once each
            approvals: list[list[int]] = []
            for a in trail:
                if a.trigger in ("submit", "resubmit"):
                    approvals.append([])
                elif a.trigger == "approve":
                    approvals[-1].append(a.node_id)
            for round_ in approvals:
                expected_nodes = [node_id[k] for k in CHAIN[c.teacher]][:len(round_)]
                assert round_ == expected_nodes and len(set(round_)) == len(round_), \
                    f"claim {cid}: approvals {round_} in a round, chain {expected_nodes}"
            if c.state == "registered":
                assert len(approvals[-1]) == len(CHAIN[c.teacher]), f"claim {cid} registered without every level"
        assert total_audit == self.audit_total, f"{total_audit} audit records, the model counted {self.audit_total}"
        assert windows == extensions == len(self.extensions)
        assert report.ok, report.problems
        # (1) registered hours equal the assessment
        expected: dict[tuple, int] = {}
        for c in claims.values():
            if c.state == "registered":
                key = (self.world.teachers[c.teacher].id, c.period)
                expected[key] = expected.get(key, 0) + c.milli
        assert registered == expected
        assert set(results) == set(expected), f"assessment results for {sorted(results)}, registered {sorted(expected)}"
        for key, milli in expected.items():
            result = results[key]
            assert result.total_milli == milli, f"teacher/period {key}: total {result.total_milli}, registered {milli}"
            hours = result.result["totals"]["hours"]
            assert Decimal(repr(hours)) == Decimal(milli) / 1000, f"{key}: totals.hours {hours}, registered {milli}"


# -- a fresh database per example -------------------------------------------------------------------------
# Migrating and building the world take longer than a whole example, so the world is built once per
# process in a template (a SQLite file; a PostgreSQL schema) and each example starts from a copy:
# SQLite copies the file; PostgreSQL migrates a new schema with Alembic and copies the world's rows.

WORLD_TABLES = ("org_nodes", "users", "teachers", "role_assignments", "audit_records")
_TEMPLATES: dict[str, tuple[str, World]] = {}


def _build_template(url: str, engine=None) -> World:
    upgrade(url, engine=engine)
    platform = Platform(url, engine=engine, registry=REGISTRY, workflows=WORKFLOWS,
                        clock=Clock(DAYS[0].year, DAYS[0].month, DAYS[0].day))
    world = build(platform)
    platform.engine.dispose()  # on SQLite, closing the last connection checkpoints the WAL into the file
    world.platform = None
    return world


def _pg_schema(base: str) -> tuple[str, str, callable]:
    schema = f"m_{uuid.uuid4().hex[:16]}"
    admin = create_engine(base)
    with admin.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')

    def drop():
        with admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()
    separator = "&" if "?" in base else "?"
    return schema, f"{base}{separator}options={quote(f'-csearch_path={schema}')}", drop


def fresh_database(backend: str) -> tuple[str, World, callable]:
    """(url, the world in it, cleanup) of a new database."""
    if backend == "sqlite":
        if backend not in _TEMPLATES:
            folder = tempfile.mkdtemp(prefix="jijiao-model-template-")
            atexit.register(shutil.rmtree, folder, ignore_errors=True)
            path = os.path.join(folder, "jijiao.sqlite3")
            url = f"sqlite:///{path}"
            _TEMPLATES[backend] = (path, _build_template(url, make_engine(url)))
        path, world = _TEMPLATES[backend]
        folder = tempfile.mkdtemp(prefix="jijiao-model-")
        shutil.copy(path, os.path.join(folder, "jijiao.sqlite3"))
        return f"sqlite:///{folder}/jijiao.sqlite3", world, lambda: shutil.rmtree(folder, ignore_errors=True)
    base = _pg_url(os.environ[PG_ENV])
    if backend not in _TEMPLATES:
        schema, url, drop = _pg_schema(base)
        atexit.register(drop)
        _TEMPLATES[backend] = (schema, _build_template(url))
    template, world = _TEMPLATES[backend]
    _, url, drop = _pg_schema(base)
    engine = make_engine(url)
    try:
        upgrade(url, engine=engine)
        with engine.begin() as connection:
            for table in WORLD_TABLES:
                connection.exec_driver_sql(f'INSERT INTO {table} SELECT * FROM "{template}".{table}')
                connection.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                           f"(SELECT max(id) FROM {table}))")
            connection.exec_driver_sql(f'UPDATE audit_head SET seq = t.seq, hash = t.hash '
                                       f'FROM "{template}".audit_head t WHERE audit_head.id = t.id')
    except BaseException:
        drop()
        raise
    finally:
        engine.dispose()
    return url, world, drop


class SQLiteClaimsMachine(ClaimsMachine):
    backend = "sqlite"


TestClaimsModelSQLite = SQLiteClaimsMachine.TestCase
TestClaimsModelSQLite.settings = SETTINGS

if os.environ.get(PG_ENV):
    class PostgresClaimsMachine(ClaimsMachine):
        backend = "postgresql"

    TestClaimsModelPostgres = PostgresClaimsMachine.TestCase
    TestClaimsModelPostgres.settings = SETTINGS
