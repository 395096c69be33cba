"""A wrong --database is one Chinese line with exit code 2, never a traceback, and never leaves
a file behind; the instance folder is created when it is where the database goes."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

JIJIAO = [sys.executable, "-m", "core.cli"]


def run(*args, env=None):
    return subprocess.run([*JIJIAO, *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


@pytest.mark.parametrize("url, words", [
    ("not-a-url", "格式不正确"),
    ("mysql://root@127.0.0.1/test", "不支持的数据库类型"),
    ("sqlite:////nonexistent-folder-jijiao/x.sqlite3", "不存在"),
    ("postgresql://postgres@127.0.0.1:1/test", "无法连接数据库"),
])
@pytest.mark.parametrize("command", [["serve"], ["jobs"], ["audit", "verify"], ["db", "upgrade"]])
def test_wrong_database_is_one_chinese_line(url, words, command):
    r = run(*command, "--database", url)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("错误：") and words in lines[0], r.stderr
    assert "Traceback" not in r.stderr


def test_a_database_never_migrated_is_named_and_not_created(tmp_path):
    path = tmp_path / "never.sqlite3"
    r = run("serve", "--database", f"sqlite:///{path}")
    assert r.returncode == 2 and "jijiao db upgrade" in r.stderr
    assert not path.exists()
    r = run("db", "upgrade", "--database", f"sqlite:///{path}")
    assert r.returncode == 0, r.stderr
    r = run("jobs", "--database", f"sqlite:///{path}")
    assert r.returncode == 0 and "没有后台任务" in r.stdout


def test_the_instance_folder_is_created_for_the_default_database(tmp_path):
    instance = tmp_path / "instance-not-there-yet"
    r = run("db", "upgrade", env={"JIJIAO_INSTANCE": str(instance), "JIJIAO_DATABASE_URL": ""})
    assert r.returncode == 0, r.stderr
    assert (instance / "jijiao.sqlite3").exists()
