"""The plugin manager (core.plugins) and the plugin contract's documentation (core.hookspecs)."""

from __future__ import annotations

import ast
import inspect
import textwrap
from importlib import metadata
from pathlib import Path

import pluggy
import pytest

from core.declarative import DeclarativePlugin
from core.errors import PluginConflictError
from core.hookspecs import ENTRY_POINT_GROUP, HOOK_NAMES, JijiaoSpecs, hookimpl
from core.plugins import CORE_PLUGIN, DISABLE_ENV, load_registry
from core.types import CatalogueItem, Jurisdiction, PeriodSpec

BUILTINS = {"echeng", "guangzhou", "hainan", "jining", "lengshuijiang", "wutongqiao", "zhengzhou", "zhongshan"}
PLUGINS_DIR = Path(__file__).resolve().parent.parent / "plugins"
# Other distributions may register plugins in the same venv (tests/test_external_plugin.py installs
# one for a while): tests here only make claims about the built-ins and the plugins they add.
THIRD_PARTY = {ep.name for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)} - BUILTINS


@pytest.fixture(autouse=True)
def _no_disabled_plugins(monkeypatch):
    monkeypatch.delenv(DISABLE_ENV, raising=False)


# -- discovery --------------------------------------------------------------------------------

def test_builtins_are_entry_points():
    names = {ep.name for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}
    assert BUILTINS <= names
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in BUILTINS:
            assert ep.value == f"plugins.{ep.name}:plugin"


def test_builtins_are_found_through_entry_points():
    registry = load_registry()
    assert not [f for f in registry.failures if f.plugin in BUILTINS]
    assert set(registry.codes()) >= BUILTINS
    for code in BUILTINS:
        assert registry.owner[code] == code
        assert registry.bundle(code).jurisdiction.plugin == code
    infos = {info.name: info for info in registry.plugins()}
    for code in BUILTINS:
        assert infos[code].distribution == "jijiao"
        assert infos[code].jurisdictions == (code,)
    assert CORE_PLUGIN not in infos


def test_without_entry_points_only_extras_load(tmp_path):
    registry = load_registry(entry_points=False)
    assert registry.codes() == []
    registry = load_registry(entry_points=False, extra={"jn": DeclarativePlugin(PLUGINS_DIR / "jining", "jn")})
    assert registry.codes() == ["jining"]
    assert registry.owner["jining"] == "jn"


def test_disable_plugins_from_the_environment(monkeypatch):
    monkeypatch.setenv(DISABLE_ENV, "guangzhou,echeng")
    registry = load_registry()
    codes = set(registry.codes())
    assert codes >= BUILTINS - {"guangzhou", "echeng"}
    assert not codes & {"guangzhou", "echeng"}
    assert registry.pm.is_blocked("guangzhou") and registry.pm.is_blocked("echeng")
    assert registry.pm.get_plugin("guangzhou") is None
    assert registry.failures == []
    assert registry.check() == []


def test_disabled_plugins_are_not_listed_as_installed(monkeypatch):
    """`jijiao plugins list` must not show a disabled plugin as 「（直接注册）」 with no
    jurisdictions (pluggy keeps a blocked name in list_name_plugin() with plugin None)."""
    monkeypatch.setenv(DISABLE_ENV, "guangzhou,echeng")
    names = {info.name for info in load_registry().plugins()}
    assert names >= BUILTINS - {"guangzhou", "echeng"}
    assert not names & {"guangzhou", "echeng"}


def test_disable_plugins_tolerates_spaces_and_full_width_comma(monkeypatch):
    monkeypatch.setenv(DISABLE_ENV, " guangzhou ， echeng ,")
    codes = set(load_registry().codes())
    assert codes >= BUILTINS - {"guangzhou", "echeng"} and not codes & {"guangzhou", "echeng"}


def test_disabled_argument_overrides_the_environment(monkeypatch):
    monkeypatch.setenv(DISABLE_ENV, "guangzhou")
    codes = set(load_registry(disabled={"hainan"}).codes())
    assert codes >= BUILTINS - {"hainan"} and "hainan" not in codes


def test_disabling_also_applies_to_extra_plugins(monkeypatch):
    monkeypatch.setenv(DISABLE_ENV, "jn")
    registry = load_registry(entry_points=False, extra={"jn": DeclarativePlugin(PLUGINS_DIR / "jining", "jn")})
    assert registry.codes() == []


def test_unknown_jurisdiction_is_an_input_error():
    from core.errors import UnknownJurisdictionError
    with pytest.raises(UnknownJurisdictionError) as info:
        load_registry().bundle("atlantis")
    assert "atlantis" in str(info.value)


# -- conflicts -------------------------------------------------------------------------------

def test_two_plugins_claiming_the_same_jurisdiction(tmp_path):
    extra = {"first_copy": DeclarativePlugin(PLUGINS_DIR / "jining", "first_copy"),
             "second_copy": DeclarativePlugin(PLUGINS_DIR / "jining", "second_copy")}
    with pytest.raises(PluginConflictError) as info:
        load_registry(entry_points=False, extra=extra)
    message = str(info.value)
    assert "first_copy" in message and "second_copy" in message
    assert "jining" in message
    assert DISABLE_ENV in message  # says how to resolve it


def test_third_party_plugin_claiming_a_builtin_jurisdiction():
    with pytest.raises(PluginConflictError) as info:
        load_registry(extra={"guangzhou_fork": DeclarativePlugin(PLUGINS_DIR / "guangzhou", "guangzhou_fork")})
    message = str(info.value)
    assert "guangzhou_fork" in message and "插件 guangzhou " in message


def test_conflict_is_resolved_by_disabling_one(monkeypatch):
    monkeypatch.setenv(DISABLE_ENV, "guangzhou")
    registry = load_registry(extra={"guangzhou_fork": DeclarativePlugin(PLUGINS_DIR / "guangzhou",
                                                                        "guangzhou_fork")})
    assert registry.owner["guangzhou"] == "guangzhou_fork"


class ItemThief:
    """Adds an item to a jurisdiction owned by another plugin, with a code already taken."""

    @hookimpl
    def jijiao_catalogue(self):
        yield CatalogueItem(jurisdiction="jining", code="peixun.training", name="重复的项目", category="peixun",
                            channel="declaration", inputs=(), rules={"compute": {"kind": "declared"}})


def test_two_plugins_claiming_the_same_item_code():
    extra = {"jn": DeclarativePlugin(PLUGINS_DIR / "jining", "jn"), "item_thief": ItemThief()}
    with pytest.raises(PluginConflictError) as info:
        load_registry(entry_points=False, extra=extra)
    message = str(info.value)
    assert "jn" in message and "item_thief" in message
    assert "peixun.training" in message


def test_item_code_conflict_with_a_builtin():
    with pytest.raises(PluginConflictError) as info:
        load_registry(extra={"item_thief": ItemThief()})
    assert "插件 jining " in str(info.value) and "item_thief" in str(info.value)


class ItemAdder:
    """Adds a new item to another plugin's jurisdiction: allowed."""

    @hookimpl
    def jijiao_catalogue(self):
        yield CatalogueItem(jurisdiction="jining", code="peixun.extra", name="新增项目", category="peixun",
                            channel="declaration", inputs=(), rules={"compute": {"kind": "declared"}})


def test_a_plugin_may_add_items_to_another_jurisdiction():
    registry = load_registry(extra={"adder": ItemAdder()})
    assert "peixun.extra" in registry.bundle("jining").items
    assert registry.check() == []


# -- failures: the others still load ---------------------------------------------------------

class Misspelt:
    @hookimpl
    def jijiao_catalog(self):  # should be jijiao_catalogue
        return []


def test_misspelled_hook_is_a_failure_and_the_others_load():
    registry = load_registry(extra={"misspelt": Misspelt()})
    assert set(registry.codes()) >= BUILTINS
    [failure] = [f for f in registry.failures if f.plugin not in THIRD_PARTY]
    assert failure.plugin == "misspelt"
    assert "jijiao_catalog" in failure.reason
    assert registry.pm.get_plugin("misspelt") is None  # unregistered
    assert "misspelt" not in {info.name for info in registry.plugins()}


class Misspelt2:
    @hookimpl
    def jijiao_jurisdiction(self):
        return []


def test_two_misspelled_plugins_are_both_reported():
    registry = load_registry(extra={"misspelt": Misspelt(), "misspelt2": Misspelt2()})
    assert {f.plugin for f in registry.failures} - THIRD_PARTY == {"misspelt", "misspelt2"}
    assert set(registry.codes()) >= BUILTINS


class Exploding:
    @hookimpl
    def jijiao_jurisdictions(self):
        raise RuntimeError("数据库连不上")


class ExplodingLater:
    """Its jurisdiction is fine; its catalogue hook raises: nothing of it must remain."""

    @hookimpl
    def jijiao_jurisdictions(self):
        yield Jurisdiction(code="later", name="后来区", plugin="exploding_later", level="district",
                           period=PeriodSpec("year"),
                           measures=("hours",), categories=(), rules={})

    @hookimpl
    def jijiao_catalogue(self):
        raise KeyError("catalogue")


def test_plugin_whose_hook_raises_is_named_with_its_reason():
    registry = load_registry(extra={"exploding": Exploding()})
    assert set(registry.codes()) >= BUILTINS
    [failure] = [f for f in registry.failures if f.plugin not in THIRD_PARTY]
    assert failure.plugin == "exploding"
    assert "RuntimeError" in failure.reason and "数据库连不上" in failure.reason
    assert "test_plugin_manager.py" in failure.reason  # where it raised


def test_plugin_whose_second_hook_raises_leaves_nothing_behind():
    registry = load_registry(extra={"exploding_later": ExplodingLater()})
    assert set(registry.codes()) >= BUILTINS
    assert "later" not in registry.codes()
    [failure] = [f for f in registry.failures if f.plugin not in THIRD_PARTY]
    assert failure.plugin == "exploding_later" and "KeyError" in failure.reason


def test_plugin_with_broken_data_is_a_failure(tmp_path):
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "jurisdiction.yaml").write_text("code: broken\nname: [unclosed\n", encoding="utf-8")
    registry = load_registry(extra={"broken": DeclarativePlugin(folder, "broken")})
    assert set(registry.codes()) >= BUILTINS
    [failure] = [f for f in registry.failures if f.plugin not in THIRD_PARTY]
    assert failure.plugin == "broken" and "jurisdiction.yaml" in failure.reason


def test_failures_are_reported_by_check():
    registry = load_registry(extra={"exploding": Exploding()})
    assert [p.plugin for p in registry.check() if p.plugin not in THIRD_PARTY] == ["exploding"]


def test_check_is_empty_for_the_installed_plugins():
    assert load_registry().check() == []


# -- independence ----------------------------------------------------------------------------

def test_each_registry_has_its_own_manager():
    first, second = load_registry(), load_registry()
    assert first.pm is not second.pm
    assert isinstance(first.pm, pluggy.PluginManager)
    first.pm.register(Misspelt2(), name="only_in_first")
    assert first.pm.get_plugin("only_in_first") is not None
    assert second.pm.get_plugin("only_in_first") is None
    assert load_registry().pm.get_plugin("only_in_first") is None


def test_extra_plugins_do_not_leak_into_the_next_registry():
    load_registry(extra={"adder": ItemAdder()})
    assert "peixun.extra" not in load_registry().bundle("jining").items


# -- the contract is documented, with examples (as datasette tests its hookspecs) --------------

def example_of(hook_name: str) -> str:
    doc = inspect.getdoc(getattr(JijiaoSpecs, hook_name))
    assert doc and "Example::" in doc, f"{hook_name} has no 'Example::' block"
    block = doc.split("Example::", 1)[1]
    lines = []
    for line in block.splitlines()[1:]:
        if line.strip() and not line.startswith(" "):
            break
        lines.append(line)
    return textwrap.dedent("\n".join(lines)).strip()


def test_hook_names_are_the_specs():
    specs = {name for name, value in vars(JijiaoSpecs).items() if callable(value) and not name.startswith("_")}
    assert set(HOOK_NAMES) == specs
    assert all(name.startswith("jijiao_") for name in HOOK_NAMES)
    assert len(HOOK_NAMES) == 9  # the eight data hooks and jijiao_summary_columns


@pytest.mark.parametrize("hook_name", HOOK_NAMES)
def test_every_hook_is_documented_with_an_example(hook_name):
    doc = getattr(JijiaoSpecs, hook_name).__doc__
    assert doc, f"{hook_name} has no docstring"
    assert "Example" in doc
    assert "@hookimpl" in doc
    example = example_of(hook_name)
    tree = ast.parse(example)  # the example is valid Python
    functions = [node for node in tree.body if isinstance(node, ast.FunctionDef)]
    hooks = [f for f in functions if f.name.startswith("jijiao_")]
    assert [f.name for f in hooks] == [hook_name], "the example implements this very hook"
    assert any(isinstance(d, ast.Name) and d.id == "hookimpl" for d in hooks[0].decorator_list)


@pytest.mark.parametrize("hook_name", HOOK_NAMES)
def test_example_arguments_match_the_spec(hook_name):
    spec_args = [p for p in inspect.signature(getattr(JijiaoSpecs, hook_name)).parameters if p != "self"]
    function = next(node for node in ast.parse(example_of(hook_name)).body
                    if isinstance(node, ast.FunctionDef) and node.name == hook_name)
    example_args = [a.arg for a in function.args.args if a.arg != "self"]
    assert set(example_args) <= set(spec_args)

