"""The core knows no jurisdiction: no file under core/, workflows/ or admin/ names one.

Jurisdictions live in plugins; the core, the workflow definitions and the admin are shared by all
of them. A name in the core (even in a comment, a message or an example) is a rule or an
assumption about one place leaking into everyone's platform. Translations are exempt: a message
catalogue may legitimately carry place names.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
NEUTRAL = ("core", "workflows", "admin")
EXCLUDED_DIRS = {"translations", "__pycache__"}
NAMES = ("guangzhou", "wutongqiao", "zhengzhou", "echeng", "zhongshan", "jining", "hainan", "lengshuijiang",
         "广州", "五通桥", "郑州", "鄂城", "中山", "济宁", "海南", "冷水江")
PATTERN = re.compile("|".join(map(re.escape, NAMES)), re.IGNORECASE)


def neutral_files(repo: Path = REPO) -> list[Path]:
    files = []
    for top in NEUTRAL:
        root = repo / top
        if not root.exists():
            continue
        for path in sorted(root.rglob("*")):
            if not path.is_file() or EXCLUDED_DIRS & set(path.relative_to(repo).parts):
                continue
            files.append(path)
    return files


def read_text(path: Path) -> str | None:
    data = path.read_bytes()
    if b"\0" in data:
        return None  # binary (images, compiled files)
    for encoding in ("utf-8", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def offending_lines(paths, repo: Path = REPO) -> list[str]:
    found = []
    for path in paths:
        text = read_text(path)
        if text is None:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            match = PATTERN.search(line)
            if match:
                found.append(f"{path.relative_to(repo).as_posix()}:{number}: {match.group(0)}: {line.strip()}")
    return found


def test_there_is_a_core_to_check():
    files = neutral_files()
    assert any(p.suffix == ".py" for p in files)
    assert (REPO / "core" / "engine.py") in files


def test_no_jurisdiction_is_named_in_the_core():
    offending = offending_lines(neutral_files())
    assert not offending, "the core names a jurisdiction (move it to the plugin):\n" + "\n".join(offending)


# -- the checker itself ------------------------------------------------------------------------

@pytest.mark.parametrize("line", ["if code == 'GuangZhou':", "# 冷水江的规则", "x = 'HAINAN'", "海南省"])
def test_checker_finds_names_in_any_case(tmp_path, line):
    path = tmp_path / "core" / "x.py"
    path.parent.mkdir()
    path.write_text("ok = 1\n" + line + "\n", encoding="utf-8")
    name = PATTERN.search(line).group(0)
    assert offending_lines(neutral_files(tmp_path), tmp_path) == [f"core/x.py:2: {name}: {line.strip()}"]


def test_translations_and_binaries_are_excluded(tmp_path):
    for rel in ("core/translations/zh/messages.po", "admin/translations/messages.pot", "workflows/a.yaml"):
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text('msgid "广州"\n', encoding="utf-8")
    (tmp_path / "core" / "logo.png").write_bytes(b"\x89PNG\0guangzhou")
    files = neutral_files(tmp_path)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in files) == ["core/logo.png", "workflows/a.yaml"]
    assert offending_lines(files, tmp_path) == ['workflows/a.yaml:1: 广州: msgid "广州"']
