"""pytest collects rule cases: every YAML list of cases in a ``tests`` folder becomes one test per
case, run against the installed plugins (so a third-party plugin's cases run the same way)."""

from __future__ import annotations

import pytest

from .cases import compare, format_result, load_cases, run_case
from .errors import JijiaoError
from .yamlstrict import load_file


def _registry(config):
    registry = getattr(config, "_jijiao_registry", None)
    if registry is None:
        from .plugins import load_registry
        registry = config._jijiao_registry = load_registry()
    return registry


def _looks_like_cases(path) -> bool:
    try:
        data = load_file(path)
    except JijiaoError:
        return True  # a broken case file must fail, not vanish
    return isinstance(data, list) and bool(data) and isinstance(data[0], dict) and "jurisdiction" in data[0]


def pytest_collect_file(parent, file_path):
    if file_path.suffix in (".yaml", ".yml") and "tests" in file_path.parts[:-1] and _looks_like_cases(file_path):
        return RuleCaseFile.from_parent(parent, path=file_path)
    return None


class RuleCaseFile(pytest.File):
    def collect(self):
        try:
            cases = load_cases(self.path)
        except JijiaoError as exc:
            raise self.CollectError(str(exc)) from None
        seen: dict[str, int] = {}
        for case in cases:
            name = case.name
            if name in seen:
                seen[name] += 1
                name = f"{name} #{seen[name]}"
            else:
                seen[name] = 1
            yield RuleCaseItem.from_parent(self, name=name, case=case)


class CaseMismatch(Exception):
    pass


class RuleCaseItem(pytest.Item):
    def __init__(self, *, case, **kwargs):
        super().__init__(**kwargs)
        self.case = case

    def runtest(self):
        if self.case.expect is None:
            raise CaseMismatch("案例没有 expect")
        result = run_case(_registry(self.config), self.case)
        diffs = compare(self.case.expect, result)
        if diffs:
            raise CaseMismatch("\n".join(diffs) + "\n\n" + format_result(result, self.case.name))

    def repr_failure(self, excinfo):
        if isinstance(excinfo.value, (CaseMismatch, JijiaoError)):
            return f"{self.case.location} {self.case.name}\n{excinfo.value}"
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, self.case.line - 1, f"rule case: {self.case.name}"
