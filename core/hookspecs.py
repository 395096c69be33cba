"""The plugin contract: every hook a jurisdiction plugin may implement.

A plugin is any object (usually a module or an instance) with functions marked ``@hookimpl``,
registered under the entry-point group ``jijiao.plugins``. Each hook returns (or yields) frozen
records (exported by the public package ``jijiao``); the manager (``core.plugins``) gathers them,
names the plugin that gave each one, and refuses two plugins that claim the same jurisdiction, or
the same item code within one jurisdiction.

Most jurisdiction plugins need none of this by hand: ``jijiao.DeclarativePlugin`` implements the
data hooks from the plugin's YAML files. ``docs/plugin-api.md`` is generated from this module
(``python -m core.docgen``). Hook implementations may accept fewer
arguments than the spec, so specs can grow.
"""

from __future__ import annotations

from typing import Iterable

import pluggy

from .documents.columns import SummaryColumn

from .types import (Calculator, CaseSource, CatalogueItem, Jurisdiction, Parameter, Predicate,
                    ReviewLevel, StageWindow)

PROJECT = "jijiao"
ENTRY_POINT_GROUP = "jijiao.plugins"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


class JijiaoSpecs:
    """Hook specifications. Every hook takes no argument and returns (or yields) records; each
    docstring says what the records mean and carries a complete example that the test suite runs
    (``tests/test_plugin_docs.py``) and ``docs/plugin-api.md`` shows (generated from here)."""

    @hookspec
    def jijiao_jurisdictions(self) -> Iterable[Jurisdiction]:
        """The jurisdictions this plugin governs (usually one).

        Returns ``Jurisdiction`` records. ``code`` is a lower-case identifier, unique among installed
        plugins (a second plugin claiming it is refused, naming both). ``rules`` holds the
        assessment rules as plain data (``requirements``, ``caps``, ``highest_of``, ``carry_over``,
        ``not_assessed``, ``on_fail``, ``unit_rules``: see docs/plugin-format.md). A declarative
        plugin gets this record from ``jurisdiction.yaml``.

        Example::

            from jijiao import Category, Jurisdiction, PeriodSpec, hookimpl

            @hookimpl
            def jijiao_jurisdictions():
                yield Jurisdiction(code="example", name="示例区", plugin="example", level="district",
                                   period=PeriodSpec("year", "09-01"), measures=("hours",),
                                   categories=(Category("peixun", "培训"),),
                                   rules={"requirements": [{"of": "total", "min": 72}]})
        """

    @hookspec
    def jijiao_catalogue(self) -> Iterable[CatalogueItem]:
        """The catalogue items (学时登记项目) of this plugin's jurisdictions.

        Returns ``CatalogueItem`` records. Item codes are ``category.item`` and per jurisdiction:
        two jurisdictions may both have ``peixun.training``; the same code twice in one
        jurisdiction is refused. ``inputs`` are ``InputSpec`` records (types in
        docs/plugin-api.md, "Input types"); every item also accepts ``certificate_no``. ``rules``
        holds ``compute`` and its modifiers as plain data.

        Example::

            from jijiao import CatalogueItem, InputSpec, hookimpl

            @hookimpl
            def jijiao_catalogue():
                yield CatalogueItem(jurisdiction="example", code="peixun.training", name="培训",
                                    category="peixun", channel="declaration",
                                    inputs=(InputSpec("days", "number", "天数"),),
                                    rules={"compute": {"kind": "fixed", "amount": 6, "per": "days"}})
        """

    @hookspec
    def jijiao_parameters(self) -> Iterable[Parameter]:
        """Named values with dated values (thresholds, amounts, tables, windows).

        Returns ``Parameter`` records. A value is in force from its date until the next one; the
        rules of a period use the values in force on the period's first day. A period that starts
        before a parameter's first date uses that first value, and its result says so.

        Example::

            from datetime import date

            from jijiao import DatedValue, Parameter, hookimpl

            @hookimpl
            def jijiao_parameters():
                yield Parameter("example", "pass_total", "年度合格学时",
                                (DatedValue(date(2020, 9, 1), 72), DatedValue(date(2024, 9, 1), 90)),
                                unit="hours")
        """

    @hookspec
    def jijiao_calculators(self) -> Iterable[Calculator]:
        """Computations the data cannot express, used by ``compute: {kind: custom, function: <name>}``.

        Returns ``Calculator(name, function, description)`` records; name them
        ``<jurisdiction>.<name>``. The engine calls ``function(inputs, params, context)`` once per
        claim:

        - ``inputs`` — the claim's inputs by name, typed: ``amount`` and ``number`` as ``Decimal``
          or ``int`` in the units the teacher wrote (2.5 hours is ``Decimal("2.5")``), ``integer``
          an ``int``, ``date`` a ``datetime.date``, ``choice`` the choice's code, ``numbers`` a tuple,
          ``bool``, ``text`` and ``period`` as such; an optional input not given is absent.
        - ``params`` — every parameter of the jurisdiction by name, the value in force for the
          claim's period (numbers, text, ``None`` or mappings as written).
        - ``context`` — a ``ClaimContext``: ``teacher`` (``Teacher``), ``period`` (``Period``
          with ``key``, ``start``, ``end``), ``cycle`` and ``holds(predicate_name) -> bool``.

        It returns the amount of the jurisdiction's primary measure (``int``, ``Decimal`` or a float
        with at most three decimals), or ``{measure: amount}`` for several measures. It may raise
        ``InputError("…", field=<input>)`` for a claim the teacher must correct. Any other
        exception, or a value of another type, is reported as the plugin's error with the
        catalogue line that uses the calculator. Conditions, ``role_factor``, ``bonus`` and caps
        still apply to what it returns.

        The catalogue item that uses the example below reads
        ``compute: {kind: custom, function: example.quarters}``.

        Example::

            from decimal import Decimal

            from jijiao import Calculator, hookimpl

            def quarters(inputs, params, context):
                # each quarter with at least 1000 points earns 5 hours, at most 20
                earned = sum(1 for points in inputs["quarter_points"] if points >= 1000)
                return min(Decimal(5) * earned, Decimal(20))

            @hookimpl
            def jijiao_calculators():
                yield Calculator("example.quarters", quarters, "学习积分按季度折算学时")
        """

    @hookspec
    def jijiao_predicates(self) -> Iterable[Predicate]:
        """Named conditions on a teacher in a period, used by ``when``/``unless``/``teacher`` keys.

        Returns ``Predicate(name, function, label)`` records. The engine calls
        ``function(teacher, period) -> bool`` with a ``Teacher`` (``new_teacher``, ``employed_on``,
        ``cycle_start``, ``city_direct``, ``transferred_on``, ``school_summary_filed`` and
        ``extra``, a dict of further facts) and the ``Period`` being assessed. Names are global:
        prefix your own with the jurisdiction code. The built-in predicates are listed in
        docs/plugin-api.md with their exact definitions.

        Example::

            from jijiao import Predicate, hookimpl

            def rural(teacher, period):
                return bool(teacher.extra.get("rural"))

            @hookimpl
            def jijiao_predicates():
                yield Predicate("example.rural", rural, "农村学校教师")
        """

    @hookspec
    def jijiao_review_levels(self) -> Iterable[ReviewLevel]:
        """The review chain of each jurisdiction, in order from the school upwards.

        Returns ``ReviewLevel(jurisdiction, order, name, node_kinds, optional, no_deadline)``
        records. For each level the reviewer is the next ancestor of the teacher's school whose
        kind is in ``node_kinds``; an ``optional`` level is skipped when there is none. Each kind
        needs a ``review_<kind>`` stage window, unless ``no_deadline`` says why the notice sets none.

        Example::

            from jijiao import ReviewLevel, hookimpl

            @hookimpl
            def jijiao_review_levels():
                yield ReviewLevel("example", 0, "学校审核", ("school",))
                yield ReviewLevel("example", 1, "区审核", ("district",), no_deadline="通知未规定时限")
        """

    @hookspec
    def jijiao_stage_windows(self) -> Iterable[StageWindow]:
        """Default windows of the stages of every period, dated (a reviewer may extend them).

        Returns ``StageWindow(jurisdiction, stage, name, values, reference)`` records; ``stage``
        is one of the platform's stage codes (docs/plugin-api.md, "Stage codes"; an unknown code
        is refused), each value ``{"opens": day, "closes": day}`` with days ``"MM-DD"`` (inside
        the period), ``"next MM-DD"`` (after it) or an ISO date. ``closes`` is inclusive; without
        ``opens`` the window opens with the period.

        Example::

            from datetime import date

            from jijiao import DatedValue, StageWindow, hookimpl

            @hookimpl
            def jijiao_stage_windows():
                yield StageWindow("example", "declare", "教师申报",
                                  (DatedValue(date(2020, 9, 1), {"opens": "09-01", "closes": "next 09-15"}),))
                yield StageWindow("example", "review_school", "学校审核",
                                  (DatedValue(date(2020, 9, 1), {"opens": "09-01", "closes": "next 09-30"}),))
        """

    @hookspec
    def jijiao_rule_cases(self) -> Iterable[CaseSource]:
        """Folders or files of rule cases (docs/rule-cases.md) that ``jijiao cases`` and pytest run.

        Returns ``CaseSource(jurisdiction, path)`` records; a folder is searched for ``*.yaml``.

        Example::

            from pathlib import Path

            from jijiao import CaseSource, hookimpl

            @hookimpl
            def jijiao_rule_cases():
                yield CaseSource("example", str(Path(__file__).parent / "tests"))
        """

    @hookspec
    def jijiao_summary_columns(self) -> Iterable[SummaryColumn]:
        """The columns of a jurisdiction's summary sheet (汇总表), in order, as
        ``core.documents.columns.SummaryColumn`` records (header, source, format); a
        jurisdiction without them gets the default (name, masked ID number, total, passed).

        Example::

            from jijiao import SummaryColumn, hookimpl

            @hookimpl
            def jijiao_summary_columns():
                yield SummaryColumn("example", "姓名", "name", "text")
                yield SummaryColumn("example", "培训学时", "category:peixun")
                yield SummaryColumn("example", "是否合格", "passed", "yesno")
        """


HOOK_NAMES = tuple(name for name in vars(JijiaoSpecs) if name.startswith("jijiao_"))

# The record type each hook yields (the manager refuses anything else, naming the plugin).
HOOK_RECORDS = {
    "jijiao_jurisdictions": Jurisdiction,
    "jijiao_catalogue": CatalogueItem,
    "jijiao_parameters": Parameter,
    "jijiao_calculators": Calculator,
    "jijiao_predicates": Predicate,
    "jijiao_review_levels": ReviewLevel,
    "jijiao_stage_windows": StageWindow,
    "jijiao_rule_cases": CaseSource,
    "jijiao_summary_columns": SummaryColumn,
}
