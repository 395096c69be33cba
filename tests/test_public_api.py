"""The plugin API has a name of its own: ``jijiao``. Built-in plugins, the example plugin and the
documentation import from it only, never from the internal ``core`` package."""

from __future__ import annotations

import re
from pathlib import Path

import jijiao
from core import hookspecs, types

REPO = Path(__file__).resolve().parents[1]
PLUGIN_SOURCES = sorted((REPO / "plugins").glob("*/*.py")) + sorted((REPO / "docs" / "example-plugin").rglob("*.py"))
CORE_IMPORT = re.compile(r"^\s*(from|import)\s+core\b", re.M)


def test_public_api_exports_the_contract():
    for name in ("DeclarativePlugin", "hookimpl", "ClaimContext", "Teacher", "Period"):
        assert hasattr(jijiao, name), name
    for record in hookspecs.HOOK_RECORDS.values():
        assert getattr(jijiao, record.__name__) is record
    assert jijiao.hookimpl is hookspecs.hookimpl
    assert jijiao.DatedValue is types.DatedValue
    assert sorted(jijiao.__all__) == sorted(set(jijiao.__all__))


def test_plugins_import_only_the_public_api():
    assert PLUGIN_SOURCES
    for path in PLUGIN_SOURCES:
        text = path.read_text(encoding="utf-8")
        assert not CORE_IMPORT.search(text), f"{path.relative_to(REPO)} imports core: use `from jijiao import ...`"


def test_docs_use_only_the_public_api():
    for path in sorted((REPO / "docs").rglob("*.md")) + [REPO / "README.md"]:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"(from|import)\s+core\.", text), f"{path.relative_to(REPO)} shows `core.` imports"
