"""The contract documented where an author reads it, and unable to drift from the code:
``docs/plugin-api.md`` is generated from ``core/`` (hooks, records, stage codes, input types,
predicates), every hook's example runs, and no document refers to a file the project does not
ship."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from core import docgen
from core.hookspecs import HOOK_NAMES, HOOK_RECORDS

REPO = Path(__file__).resolve().parents[1]
DOCS = sorted((REPO / "docs").rglob("*.md")) + [REPO / "README.md", REPO / "bench" / "README.md"]


def test_plugin_api_doc_is_generated_from_the_code():
    text = docgen.DOC.read_text(encoding="utf-8")
    assert docgen.render(text) == text, "docs/plugin-api.md is out of date: run `python -m core.docgen`"
    for name in HOOK_NAMES:
        assert f"### `{name}()" in text


@pytest.mark.parametrize("hook", HOOK_NAMES)
def test_every_hook_example_runs_and_returns_its_records(hook):
    namespace: dict = {"__file__": str(REPO / "example.py")}
    exec(compile(docgen.hook_examples()[hook], f"<{hook} example>", "exec"), namespace)  # noqa: S102
    records = list(namespace[hook]())
    assert records and all(isinstance(r, HOOK_RECORDS[hook]) for r in records)
    if hook == "jijiao_calculators":
        from jijiao import ClaimContext, Teacher
        calc = records[0]
        result = calc.function({"quarter_points": (1200, 900, 1000, 5000)}, {}, ClaimContext(Teacher(), None, None,
                                                                                          lambda name: False))
        assert result == Decimal(15)
    if hook == "jijiao_predicates":
        from jijiao import Teacher
        assert records[0].function(Teacher(extra={"rural": True}), None) is True


def test_the_calculator_walkthrough_runs():
    text = (REPO / "docs" / "plugin-api.md").read_text(encoding="utf-8")
    code = re.search(r"```python\n(from decimal import Decimal.*?)```", text, re.S).group(1)
    code = code.replace('plugin = ExampleCity(Path(__file__).parent, "example_city")', "")
    namespace: dict = {}
    exec(compile(code, "<walkthrough>", "exec"), namespace)  # noqa: S102
    rule = {"points_rule": {"min": 1000, "quarter_hours": 5, "max_hours": 20}}
    assert namespace["quarters"]({"quarter_points": (1000, 999, 3000, 2000)}, rule, None) == 15


LINK = re.compile(r"\]\(([^)#\s]+)")
PATHLIKE = re.compile(r"`([A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.*-]*)+|[A-Za-z0-9_-]+\.(?:py|md|yaml|toml))`")
RUNTIME = ("instance/",)  # created when the platform runs, not shipped
NOT_PATHS = {"wall/cpu"}  # a ratio in the benchmark figures


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_documents_refer_only_to_files_the_project_ships(doc):
    text = doc.read_text(encoding="utf-8")
    assert "SPEC" not in text, f"{doc.name}: SPEC.md is not shipped; describe the format here instead"
    assert "seeds/" not in text and "../shared" not in text, f"{doc.name}: the notices are not shipped"
    candidates = set(LINK.findall(text)) | set(PATHLIKE.findall(text))
    for ref in sorted(candidates):
        if ref.startswith(("http://", "https://", "mailto:")) or ref.startswith(RUNTIME) or "*" in ref or ref in NOT_PATHS:
            continue
        bases = [doc.parent, REPO, REPO / "docs" / "example-plugin", REPO / "docs" / "example-plugin" / "jijiao_demo_county",
                 REPO / "workflows", REPO / "plugins", REPO / "core"]
        assert any((base / ref).exists() for base in bases), f"{doc.relative_to(REPO)} refers to {ref!r}, which is not shipped"
