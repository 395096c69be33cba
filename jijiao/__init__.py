"""The public plugin API of jijiao (继教): everything a jurisdiction plugin imports.

    from jijiao import DeclarativePlugin, hookimpl, Calculator

A plugin imports from ``jijiao`` only. The platform's internals (``core.*``) may move between
releases; the names below are the contract, documented in ``docs/plugin-api.md``.
"""

from core.compile import ClaimContext
from core.declarative import DeclarativePlugin
from core.documents.columns import SummaryColumn
from core.errors import InputError, PluginDataError
from core.facts import Teacher
from core.hookspecs import ENTRY_POINT_GROUP, hookimpl, hookspec
from core.periods import Period
from core.types import (Calculator, CaseSource, CatalogueItem, Category, CycleSpec, DatedValue, InputSpec,
                        Jurisdiction, Parameter, PeriodSpec, Predicate, Reference, ReviewLevel, StageWindow)

__all__ = [
    "DeclarativePlugin", "hookimpl", "hookspec", "ENTRY_POINT_GROUP",
    # records a hook yields
    "Jurisdiction", "CatalogueItem", "Parameter", "DatedValue", "Calculator", "Predicate", "ReviewLevel",
    "StageWindow", "CaseSource", "Category", "PeriodSpec", "CycleSpec", "Reference", "InputSpec",
    "SummaryColumn",
    # what a calculator or predicate receives
    "ClaimContext", "Teacher", "Period",
    # errors a calculator may raise
    "InputError", "PluginDataError",
]
