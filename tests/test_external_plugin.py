"""A third-party jurisdiction plugin, installed for real.

``docs/example-plugin`` (the plugin the README's guide walks through) is copied to a temporary
folder and pip-installed into this venv, not editable, so nothing points back into the
repository. Then the ``jijiao`` console script runs in fresh interpreters (so the entry points are
read again) and must treat it like a built-in: list it with its distribution, check it, show its
dated parameter, run its rule cases from site-packages, report a wrong ``expect`` readably, and
drop it when ``JIJIAO_DISABLE_PLUGINS`` names it. The distribution is uninstalled at the end,
whatever happened.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "docs" / "example-plugin"
PYPROJECT = tomllib.loads((EXAMPLE / "pyproject.toml").read_text(encoding="utf-8"))
DIST = PYPROJECT["project"]["name"]
VERSION = PYPROJECT["project"]["version"]
PACKAGE = "jijiao_demo_county"
CODE = "demo_county"
BIN = Path(sys.executable).parent
JIJIAO = BIN / ("jijiao.exe" if os.name == "nt" else "jijiao")
DISABLE_ENV = "JIJIAO_DISABLE_PLUGINS"
PIP_TIMEOUT = 600
RUN_TIMEOUT = 120
# The version from which setuptools builds wheels by itself (older ones need the "wheel" package).
SETUPTOOLS_WITH_BDIST_WHEEL = (70, 1)

CASES = yaml.safe_load((EXAMPLE / PACKAGE / "tests" / "cases.yaml").read_text(encoding="utf-8"))


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != DISABLE_ENV}
    env["PATH"] = str(BIN) + os.pathsep + env.get("PATH", "")
    env["PYTHONIOENCODING"] = "utf-8"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env.update(extra)
    return env


def _run(args, *, cwd, timeout=RUN_TIMEOUT, **env) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], cwd=cwd, env=_env(**env), capture_output=True,
                          text=True, encoding="utf-8", errors="replace", timeout=timeout)


def _show(proc: subprocess.CompletedProcess) -> str:
    return f"exit {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"


def _pip(*args, cwd) -> subprocess.CompletedProcess:
    return _run([sys.executable, "-m", "pip", *args], cwd=cwd, timeout=PIP_TIMEOUT)


def _installed_version(name: str) -> str | None:
    """Asked of a fresh interpreter: this one's importlib.metadata may have cached the old state."""
    proc = _run([sys.executable, "-c",
                 "import sys\nfrom importlib import metadata\n"
                 "try:\n    print(metadata.version(sys.argv[1]))\n"
                 "except metadata.PackageNotFoundError:\n    pass\n", name], cwd=BIN)
    return proc.stdout.strip() or None


def _can_build_wheels() -> bool:
    try:
        version = metadata.version("setuptools")
    except metadata.PackageNotFoundError:
        return False
    parts = tuple(int(p) if p.isdigit() else 0 for p in version.split(".")[:2])
    if parts >= SETUPTOOLS_WITH_BDIST_WHEEL:
        return True
    try:
        metadata.version("wheel")
        return True
    except metadata.PackageNotFoundError:
        return False


@pytest.fixture(scope="module")
def installed(request, tmp_path_factory):
    """Installs a copy of docs/example-plugin (once for the module); yields its package folder in
    site-packages. The finalizer uninstalls it even when the install or a test failed."""
    assert JIJIAO.exists(), f"jijiao console script not found next to {sys.executable}"
    work = tmp_path_factory.mktemp("external-plugin")

    def uninstall():
        proc = _pip("uninstall", "-y", DIST, cwd=work)
        left = _installed_version(DIST)
        assert left is None, f"{DIST} {left} is still installed after pip uninstall\n{_show(proc)}"

    request.addfinalizer(uninstall)
    if not _can_build_wheels():
        # --no-build-isolation builds with this venv's own setuptools.
        proc = _pip("install", "setuptools>=%d.%d" % SETUPTOOLS_WITH_BDIST_WHEEL, cwd=work)
        assert proc.returncode == 0, f"could not install setuptools into the venv\n{_show(proc)}"
    source = work / "example-plugin"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    proc = _pip("install", "--no-deps", "--no-build-isolation", source, cwd=work)
    assert proc.returncode == 0, f"pip install of the example plugin failed\n{_show(proc)}"
    proc = _run([sys.executable, "-c", f"import {PACKAGE}; print({PACKAGE}.__file__)"], cwd=work)
    assert proc.returncode == 0, _show(proc)
    return Path(proc.stdout.strip()).parent


def test_installed_into_site_packages_with_its_data(installed):
    site = Path(sysconfig.get_paths()["purelib"]).resolve()
    assert installed.resolve().parent == site  # the venv may live in the repo; the example does not
    assert EXAMPLE.resolve() not in installed.resolve().parents
    proc = _run([sys.executable, "-c", "import json, sys\nfrom importlib import metadata\n"
                 "print(metadata.distribution(sys.argv[1]).read_text('direct_url.json'))", DIST], cwd=installed.parent)
    assert proc.returncode == 0, _show(proc)
    direct_url = json.loads(proc.stdout)
    assert not direct_url.get("dir_info", {}).get("editable"), direct_url
    for name in ("jurisdiction.yaml", "catalogue.yaml", "parameters.yaml", "review.yaml", "tests/cases.yaml"):
        assert (installed / name).is_file(), f"{name} was not shipped as package data"
    proc = _run([sys.executable, "-c",
                 "from core.plugins import load_registry\n"
                 f"for source in load_registry().bundle({CODE!r}).case_sources: print(source.path)"],
                cwd=installed.parent)
    assert proc.returncode == 0, _show(proc)
    assert proc.stdout.split() == [str(installed / "tests")]


def test_plugins_list_names_the_distribution(installed, tmp_path):
    proc = _run([JIJIAO, "plugins", "list"], cwd=tmp_path)
    assert proc.returncode == 0, _show(proc)
    lines = [line for line in proc.stdout.splitlines() if line.split()[:1] == [CODE]]
    assert len(lines) == 1, _show(proc)
    assert f"{DIST} {VERSION}" in lines[0] and f"地区：{CODE}" in lines[0], _show(proc)
    assert "加载失败" not in proc.stdout, _show(proc)


def test_plugins_check_passes_and_lists_it(installed, tmp_path):
    proc = _run([JIJIAO, "plugins", "check"], cwd=tmp_path)
    assert proc.returncode == 0, _show(proc)
    assert f"✓ {CODE}（{CODE}）：3 个项目，4 个参数" in proc.stdout, _show(proc)


def test_plugins_show_gives_both_values_of_the_dated_parameter(installed, tmp_path):
    proc = _run([JIJIAO, "plugins", "show", CODE], cwd=tmp_path)
    assert proc.returncode == 0, _show(proc)
    out = proc.stdout
    assert out.startswith(f"示例县（{CODE}），插件 {CODE}"), _show(proc)
    section = out[out.index("  pass_total："):]
    assert "来源：notice2024 一" in section.splitlines()[0], _show(proc)
    assert section.splitlines()[1:3] == ["      自 2019-09-01：60", "      自 2024-09-01：72"], _show(proc)
    assert "1. 学校审核（school）" in out and "2. 县教师发展中心认定（district）" in out, _show(proc)
    assert "自 2019-09-01：09-01 至 次年09-15（含）" in out, _show(proc)


def test_cases_without_a_path_run_the_installed_plugins_cases(installed, tmp_path):
    proc = _run([JIJIAO, "cases", "-v"], cwd=tmp_path)
    assert proc.returncode == 0, _show(proc)
    assert proc.stdout.splitlines()[-1].endswith(" passed, 0 failed"), _show(proc)
    for case in CASES:
        assert f"✓ {case['name']}" in proc.stdout.splitlines(), f"{case['name']} did not run\n{_show(proc)}"


def test_cases_of_the_site_packages_folder(installed, tmp_path):
    proc = _run([JIJIAO, "cases", installed / "tests"], cwd=tmp_path)
    assert proc.returncode == 0, _show(proc)
    assert proc.stdout.splitlines()[-1] == f"{len(CASES)} passed, 0 failed", _show(proc)


def test_a_wrong_expect_fails_with_a_readable_difference(installed, tmp_path):
    right = next(c for c in CASES if c["period"] == "2024-2025" and c["expect"]["passed"] is False
                 and c["expect"]["totals"]["hours"] == 60)
    wrong = dict(right, name="错误的期望：把调整后的60学时当作合格", expect={"totals": {"hours": 61}, "passed": True})
    path = tmp_path / "wrong.yaml"
    path.write_text(yaml.safe_dump([right, wrong], allow_unicode=True, sort_keys=False), encoding="utf-8")
    proc = _run([JIJIAO, "cases", path], cwd=tmp_path)
    assert proc.returncode == 1, _show(proc)
    lines = proc.stdout.splitlines()
    assert lines[-1] == "1 passed, 1 failed", _show(proc)
    header = next(line for line in lines if line.startswith("✗ "))
    assert header.startswith(f"✗ {wrong['name']}（{path}:"), _show(proc)
    assert "    totals.hours: 期望 61，实际 60" in lines, _show(proc)
    assert "    passed: 期望 true，实际 false" in lines, _show(proc)
    assert right["name"] not in proc.stdout, _show(proc)


def test_disabled_by_environment(installed, tmp_path):
    proc = _run([JIJIAO, "plugins", "list"], cwd=tmp_path, **{DISABLE_ENV: CODE})
    assert proc.returncode == 0, _show(proc)
    assert f"地区：{CODE}" not in proc.stdout and DIST not in proc.stdout, _show(proc)
    assert any(line.split()[:1] == ["jining"] for line in proc.stdout.splitlines()), _show(proc)
    proc = _run([JIJIAO, "plugins", "show", CODE], cwd=tmp_path, **{DISABLE_ENV: CODE})
    assert proc.returncode == 2 and f"未知地区「{CODE}」" in proc.stderr, _show(proc)
    proc = _run([JIJIAO, "cases", installed / "tests"], cwd=tmp_path, **{DISABLE_ENV: CODE})
    assert proc.returncode != 0 and f"未知地区「{CODE}」" in proc.stdout + proc.stderr, _show(proc)


def test_disabled_plugin_is_not_listed_at_all(installed, tmp_path):
    proc = _run([JIJIAO, "plugins", "list"], cwd=tmp_path, **{DISABLE_ENV: CODE})
    assert proc.returncode == 0, _show(proc)
    lines = [line for line in proc.stdout.splitlines() if line.split()[:1] == [CODE]]
    assert not lines, _show(proc)


def test_demo_for_the_installed_plugin_runs_end_to_end(installed, tmp_path):
    """`jijiao demo --jurisdiction` builds a small demo for a third-party plugin: a tree matching
    its review levels, claims in every state of its workflow, an action refused after its window."""
    url = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    proc = _run([JIJIAO, "demo", "--jurisdiction", CODE, "--database", url], cwd=tmp_path)
    assert proc.returncode == 0, _show(proc)
    out = proc.stdout
    assert f"演示地区 {CODE}" in out, _show(proc)
    chains = out[out.index("审核链："):out.index("阶段时间")]
    assert chains.count("→") == 2 and "示例县" in chains, _show(proc)  # school → 县教师发展中心, for both schools
    states = next(line for line in out.splitlines() if line.startswith("记录状态："))
    for state in ("draft", "submitted", "in_review", "returned", "rejected", "registered"):
        assert state in states, _show(proc)
    refused = out[out.index("窗口外被拒绝的操作："):]
    assert "已截止" in refused.splitlines()[1], _show(proc)
    proc = _run([JIJIAO, "audit", "verify", "--database", url], cwd=tmp_path)
    assert proc.returncode == 0, _show(proc)
