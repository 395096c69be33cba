"""The plugin contract: every hook a jurisdiction plugin may implement.

A plugin is any object (usually a module or an instance) with functions marked ``@hookimpl``,
registered under the entry-point group ``jijiao.plugins``. Each hook returns (or yields) frozen
records from ``core.types``; the manager (``core.plugins``) gathers them, names the plugin that
gave each one, and refuses two plugins that claim the same jurisdiction or item code.

Most jurisdiction plugins need none of this by hand: ``core.declarative.DeclarativePlugin``
implements the data hooks from the plugin's YAML files. Hook implementations may accept fewer
arguments than the spec, so specs can grow.
"""

from __future__ import annotations

from typing import Iterable

import pluggy

from .types import (Calculator, CaseSource, CatalogueItem, Jurisdiction, Parameter, Predicate,
                    ReviewLevel, StageWindow)

PROJECT = "jijiao"
ENTRY_POINT_GROUP = "jijiao.plugins"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


class JijiaoSpecs:
    """Hook specifications. Each docstring carries a complete example implementation."""

    @hookspec
    def jijiao_jurisdictions(self) -> Iterable[Jurisdiction]:
        """The jurisdictions this plugin governs (usually one).

        Example::

            @hookimpl
            def jijiao_jurisdictions():
                yield Jurisdiction(code="example", name="示例区", plugin="example", level="district",
                                   period=PeriodSpec("year", "09-01"), measures=("hours",),
                                   categories=(Category("peixun", "培训"),), rules={})
        """

    @hookspec
    def jijiao_catalogue(self) -> Iterable[CatalogueItem]:
        """The catalogue items (学时登记项目) of this plugin's jurisdictions.

        Example::

            @hookimpl
            def jijiao_catalogue():
                yield CatalogueItem(jurisdiction="example", code="peixun.training", name="培训",
                                    category="peixun", channel="declaration", inputs=(),
                                    rules={"compute": {"kind": "declared"}})
        """

    @hookspec
    def jijiao_parameters(self) -> Iterable[Parameter]:
        """Named values with dated values (thresholds, amounts, tables, windows).

        Example::

            @hookimpl
            def jijiao_parameters():
                yield Parameter("example", "pass_total", "年度合格学时",
                                (DatedValue(date(2020, 9, 1), 72),))
        """

    @hookspec
    def jijiao_calculators(self) -> Iterable[Calculator]:
        """Computation kinds the data cannot express, named ``<jurisdiction>.<name>`` and used by
        ``compute: {kind: custom, function: <name>}`` in a catalogue.

        Example::

            @hookimpl
            def jijiao_calculators():
                yield Calculator("example.double", lambda inputs, params, context: inputs["hours"] * 2)
        """

    @hookspec
    def jijiao_predicates(self) -> Iterable[Predicate]:
        """Named conditions on a teacher in a period, used by ``when``/``unless``/``teacher`` keys.

        Example::

            @hookimpl
            def jijiao_predicates():
                yield Predicate("example.rural", lambda teacher, period: teacher.extra.get("rural"), "农村教师")
        """

    @hookspec
    def jijiao_review_levels(self) -> Iterable[ReviewLevel]:
        """The review chain of each jurisdiction, in order from the school upwards.

        Example::

            @hookimpl
            def jijiao_review_levels():
                yield ReviewLevel("example", 0, "学校审核", ("school",))
                yield ReviewLevel("example", 1, "区审核", ("district",))
        """

    @hookspec
    def jijiao_stage_windows(self) -> Iterable[StageWindow]:
        """Default windows of each stage of a period, dated (a reviewer may extend them).

        Example::

            @hookimpl
            def jijiao_stage_windows():
                yield StageWindow("example", "declare", "教师申报",
                                  (DatedValue(date(2020, 9, 1), {"opens": "09-01", "closes": "08-31"}),))
        """

    @hookspec
    def jijiao_rule_cases(self) -> Iterable[CaseSource]:
        """Folders or files of rule cases (SPEC §5) that ``jijiao cases`` and pytest run.

        Example::

            @hookimpl
            def jijiao_rule_cases():
                yield CaseSource("example", str(Path(__file__).parent / "tests"))
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
}
