"""The plugin manager and the registry built from it.

``load_registry()`` builds a fresh pluggy manager (no module-level global), registers the core's
own built-ins, loads every entry point of the group ``jijiao.plugins`` except those named in
``JIJIAO_DISABLE_PLUGINS`` (comma separated), calls ``check_pending()``, and gathers what each
plugin yields. A plugin that fails to import, validate or load its data is named with its reason
in ``registry.failures`` and the others still load. Two plugins claiming the same jurisdiction,
item, calculator or predicate is a ``PluginConflictError`` naming both.
"""

from __future__ import annotations

import os
import traceback
from dataclasses import dataclass
from importlib import metadata

import pluggy

from .engine import Assessor, JurisdictionBundle
from .errors import JijiaoError, PluginConflictError, PluginDataError, UnknownJurisdictionError
from .facts import BUILTIN_PREDICATES
from .stages import missing_review_windows, unknown_stage_message
from .hookspecs import ENTRY_POINT_GROUP, HOOK_NAMES, HOOK_RECORDS, PROJECT, JijiaoSpecs, hookimpl

DISABLE_ENV = "JIJIAO_DISABLE_PLUGINS"
CORE_PLUGIN = "jijiao-core"


class _CoreBuiltins:
    """The core's own predicates, registered like any plugin."""

    @hookimpl
    def jijiao_predicates(self):
        return list(BUILTIN_PREDICATES)


@dataclass(frozen=True)
class PluginFailure:
    plugin: str
    reason: str


@dataclass(frozen=True)
class PluginInfo:
    name: str
    distribution: str | None
    version: str | None
    jurisdictions: tuple[str, ...]


def disabled_from_env() -> set[str]:
    raw = os.environ.get(DISABLE_ENV, "")
    return {name.strip() for name in raw.replace("，", ",").split(",") if name.strip()}


def build_plugin_manager(*, disabled: set[str] | None = None, extra: dict[str, object] | None = None,
                         entry_points: bool = True):
    """A new manager with the built-ins, the installed entry points and ``extra`` plugins.
    Returns ``(manager, failures, distributions)``."""
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(JijiaoSpecs)
    pm.register(_CoreBuiltins(), name=CORE_PLUGIN)
    disabled = disabled_from_env() if disabled is None else set(disabled)
    failures: list[PluginFailure] = []
    distributions: dict[str, tuple[str | None, str | None]] = {}
    candidates: list[tuple[str, object]] = []
    if entry_points:
        for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            if ep.name in disabled:
                pm.set_blocked(ep.name)
                continue
            if ep.name in distributions:
                failures.append(PluginFailure(ep.name, f"入口点名称 {ep.name} 被两个发行包同时使用"))
                continue
            dist = getattr(ep, "dist", None)
            distributions[ep.name] = (dist.name if dist else None, dist.version if dist else None)
            try:
                candidates.append((ep.name, ep.load()))
            except (Exception, SystemExit) as exc:  # a broken plugin must not take the platform down
                failures.append(PluginFailure(ep.name, _import_failure(exc)))
    for name, plugin in (extra or {}).items():
        if name not in disabled:
            candidates.append((name, plugin))
    for name, plugin in candidates:
        try:
            pm.register(plugin, name=name)
        except Exception as exc:
            failures.append(PluginFailure(name, f"注册失败：{exc}"))
    while True:
        try:
            pm.check_pending()
            break
        except pluggy.PluginValidationError as exc:
            name = pm.get_name(exc.plugin) or repr(exc.plugin)
            pm.unregister(exc.plugin)
            failures.append(PluginFailure(name, f"未知的钩子（拼写错误？）：{exc}"))
    return pm, failures, distributions


def _import_failure(exc: BaseException) -> str:
    if isinstance(exc, SystemExit):
        return f"导入时调用了 sys.exit({exc.code!r})：插件不能在导入时退出进程"
    return f"无法导入：{type(exc).__name__}: {exc}"


def _records(hook_name: str, returned) -> list:
    """What a hook gave, as a list of the record type the contract names, or PluginDataError
    naming the hook and what came back instead (a str would otherwise be read letter by letter)."""
    expected = HOOK_RECORDS[hook_name]
    if returned is None:
        return []
    if isinstance(returned, (str, bytes, dict)) or not hasattr(returned, "__iter__"):
        raise PluginDataError(f"钩子 {hook_name} 应返回 {expected.__name__} 记录的列表（或 yield 它们），"
                              f"而不是 {type(returned).__name__}")
    produced = list(returned)
    for record in produced:
        if not isinstance(record, expected):
            raise PluginDataError(f"钩子 {hook_name} 应返回 {expected.__name__} 记录，其中有一项是 "
                                  f"{type(record).__name__}（{str(record)[:40]!r}）")
    return produced


class Registry:
    """What the installed plugins provide, by jurisdiction. Build one per app or command."""

    def __init__(self, pm: pluggy.PluginManager, failures: list[PluginFailure],
                 distributions: dict[str, tuple[str | None, str | None]]):
        self.pm = pm
        self.failures = list(failures)
        self.distributions = distributions
        self.bundles: dict[str, JurisdictionBundle] = {}
        self.owner: dict[str, str] = {}
        self._assessors: dict[str, Assessor] = {}
        self._gather()

    def _gather(self) -> None:
        results: dict[str, dict[str, list]] = {}
        for hook_name in HOOK_NAMES:
            for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
                name = impl.plugin_name
                if name in {f.plugin for f in self.failures}:
                    continue
                try:
                    produced = _records(hook_name, impl.function())
                except JijiaoError as exc:
                    self._fail(name, str(exc), results)
                    continue
                except (Exception, SystemExit) as exc:
                    if isinstance(exc, SystemExit):
                        self._fail(name, f"钩子 {hook_name} 调用了 sys.exit({exc.code!r})", results)
                        continue
                    last = traceback.extract_tb(exc.__traceback__)[-1]
                    self._fail(name, f"{hook_name}: {type(exc).__name__}: {exc}（{last.filename}:{last.lineno}）", results)
                    continue
                results.setdefault(name, {}).setdefault(hook_name, []).extend(produced)
        owners: dict[tuple[str, str], str] = {}

        def claim(kind: str, key: str, plugin: str) -> None:
            previous = owners.get((kind, key))
            if previous is not None and previous != plugin:
                raise PluginConflictError(f"插件 {previous} 与插件 {plugin} 都提供了{kind} {key}：请停用其中一个"
                                          f"（环境变量 {DISABLE_ENV}）")
            owners[(kind, key)] = plugin

        bundles: dict[str, JurisdictionBundle] = {}
        calculators, predicates = {}, {}
        for plugin, hooks in results.items():
            for jurisdiction in hooks.get("jijiao_jurisdictions", ()):
                claim("地区", jurisdiction.code, plugin)
                bundles[jurisdiction.code] = JurisdictionBundle(jurisdiction, {}, {}, calculators, predicates,
                                                                [], [], [])
                self.owner[jurisdiction.code] = plugin
            for calc in hooks.get("jijiao_calculators", ()):
                claim("自定义计算", calc.name, plugin)
                calculators[calc.name] = calc.function
            for pred in hooks.get("jijiao_predicates", ()):
                claim("教师条件", pred.name, plugin)
                predicates[pred.name] = pred
        for plugin, hooks in results.items():
            for hook_name, attr in (("jijiao_catalogue", "items"), ("jijiao_parameters", "parameters"),
                                    ("jijiao_review_levels", "review_levels"),
                                    ("jijiao_stage_windows", "stage_windows"),
                                    ("jijiao_rule_cases", "case_sources")):
                for record in hooks.get(hook_name, ()):
                    bundle = bundles.get(record.jurisdiction)
                    if bundle is None:
                        self._fail(plugin, f"{hook_name} 提供的记录属于未知地区 {record.jurisdiction}", None)
                        continue
                    if attr == "items":
                        claim("项目", f"{record.jurisdiction}:{record.code}", plugin)
                        bundle.items[record.code] = record
                    elif attr == "parameters":
                        claim("参数", f"{record.jurisdiction}:{record.name}", plugin)
                        bundle.parameters[record.name] = record
                    else:
                        getattr(bundle, attr).append(record)
        self.bundles = dict(sorted(bundles.items()))

    def _fail(self, plugin: str, reason: str, results) -> None:
        self.failures.append(PluginFailure(plugin, reason))
        if results is not None:
            results.pop(plugin, None)

    # -- use --------------------------------------------------------------------------------
    def codes(self) -> list[str]:
        return list(self.bundles)

    def bundle(self, code: str) -> JurisdictionBundle:
        bundle = self.bundles.get(code)
        if bundle is None:
            available = "、".join(self.bundles) or "无"
            raise UnknownJurisdictionError(f"未知地区「{code}」（已安装：{available}）", field="jurisdiction")
        return bundle

    def assessor(self, code: str) -> Assessor:
        assessor = self._assessors.get(code)
        if assessor is None:
            assessor = self._assessors[code] = Assessor(self.bundle(code))
        return assessor

    def plugins(self) -> list[PluginInfo]:
        by_plugin: dict[str, list[str]] = {}
        for code, plugin in self.owner.items():
            by_plugin.setdefault(plugin, []).append(code)
        infos = []
        for name, plugin in self.pm.list_name_plugin():
            if name == CORE_PLUGIN or plugin is None:  # None: blocked by JIJIAO_DISABLE_PLUGINS
                continue
            dist, version = self.distributions.get(name, (None, None))
            infos.append(PluginInfo(name, dist, version, tuple(sorted(by_plugin.get(name, ())))))
        return sorted(infos, key=lambda i: i.name)

    def check(self) -> list[PluginFailure]:
        """Compile every jurisdiction at every dated parameter value; return all failures."""
        problems = list(self.failures)
        for code in self.codes():
            bundle = self.bundles[code]
            for stage in bundle.stage_windows:
                message = unknown_stage_message(stage.stage)
                if message:
                    problems.append(PluginFailure(self.owner[code], f"{code}: 阶段 {stage.stage}：{message}"))
            codes = {s.stage for s in bundle.stage_windows}
            for _level, message in missing_review_windows(bundle.review_levels, codes, bundle.jurisdiction.workflow):
                if not any(message in p.reason for p in problems):
                    problems.append(PluginFailure(self.owner[code], f"{code}: {message}"))
            try:
                assessor = self.assessor(code)
                assessor.check()
            except JijiaoError as exc:
                problems.append(PluginFailure(self.owner[code], f"{code}: {exc}"))
            except Exception as exc:
                problems.append(PluginFailure(self.owner[code], f"{code}: {type(exc).__name__}: {exc}"))
        return problems


def load_registry(*, disabled: set[str] | None = None, extra: dict[str, object] | None = None,
                  entry_points: bool = True) -> Registry:
    pm, failures, distributions = build_plugin_manager(disabled=disabled, extra=extra, entry_points=entry_points)
    return Registry(pm, failures, distributions)
