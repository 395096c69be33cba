"""Strict YAML: duplicate keys are refused, and every mapping remembers the line of each key,
so that a loader can say "catalogue.yaml:42: unknown key 'capp'" instead of a stack trace."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from .errors import PluginDataError


class Node(dict):
    """A mapping from YAML that knows its file and the line of itself and of each key."""

    __slots__ = ("file", "line", "key_lines")

    def line_of(self, key) -> int:
        return self.key_lines.get(key, self.line)


class Seq(list):
    __slots__ = ("file", "line", "item_lines")

    def line_of(self, index: int) -> int:
        return self.item_lines[index] if index < len(self.item_lines) else self.line


def _make_loader(filename: str):
    class StrictLoader(yaml.SafeLoader):
        pass

    # YAML 1.2 booleans: only true/false. In YAML 1.1 a claim's `on:` key would become True.
    StrictLoader.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    StrictLoader.add_implicit_resolver(
        "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))

    def construct_mapping(loader, node, deep=False):
        mapping = Node()
        mapping.file = filename
        mapping.line = node.start_mark.line + 1
        mapping.key_lines = {}
        loader.flatten_mapping(node)
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                raise PluginDataError("键不能是列表或映射", file=filename,
                                      line=key_node.start_mark.line + 1) from None
            if key in mapping:
                raise PluginDataError(f"重复的键 {key!r}（首次出现在第{mapping.key_lines[key]}行）",
                                      file=filename, line=key_node.start_mark.line + 1)
            mapping[key] = loader.construct_object(value_node, deep=True)
            mapping.key_lines[key] = key_node.start_mark.line + 1
        return mapping

    def construct_sequence(loader, node, deep=False):
        seq = Seq(loader.construct_object(child, deep=True) for child in node.value)
        seq.file = filename
        seq.line = node.start_mark.line + 1
        seq.item_lines = [child.start_mark.line + 1 for child in node.value]
        return seq

    def construct_timestamp(loader, node):
        # An impossible date (2025-13-01) stays text, so the caller can say which field is wrong.
        try:
            return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
        except ValueError:
            return loader.construct_scalar(node)

    StrictLoader.add_constructor("tag:yaml.org,2002:timestamp", construct_timestamp)
    StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, construct_sequence)
    return StrictLoader


def load_text(text: str, filename: str):
    """Parse YAML text strictly; syntax errors become PluginDataError with the line."""
    try:
        return yaml.load(text, Loader=_make_loader(filename))  # noqa: S506 - SafeLoader subclass
    except PluginDataError:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise PluginDataError(f"YAML 语法错误：{exc.problem or exc}", file=filename, line=line) from None
    except yaml.YAMLError as exc:
        raise PluginDataError(f"YAML 语法错误：{exc}", file=filename) from None


def load_file(path: str | Path):
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise PluginDataError("文件不是 UTF-8 编码", file=str(path)) from None
    except OSError as exc:
        raise PluginDataError(f"无法读取文件：{exc.strerror}", file=str(path)) from None
    return load_text(text, str(path))


def where(node, key=None) -> dict:
    """file/line keywords for PluginDataError from a Node or Seq (and a key or index in it)."""
    file = getattr(node, "file", None)
    if key is not None and isinstance(node, Node):
        return {"file": file, "line": node.line_of(key)}
    if key is not None and isinstance(node, Seq):
        return {"file": file, "line": node.line_of(key)}
    return {"file": file, "line": getattr(node, "line", None)}
