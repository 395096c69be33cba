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


MAX_DEPTH = 40         # no plugin file or rule case nests deeper than a handful of levels
MAX_NODES = 200_000    # nodes of one document with its aliases expanded (the largest case file has ~10,000)
MAX_INT_DIGITS = 30    # no hours, credits or points come near; a longer integer is a typo or an attack
_INT_12 = re.compile(r"^[-+]?[0-9]+$")
_FLOAT_12 = re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$")


def _size(node, sizes: dict, filename: str, line: int) -> int:
    """How many nodes ``node`` stands for once every alias inside it is expanded (memoised)."""
    known = sizes.get(id(node))
    if known is not None:
        if known < 0:
            raise PluginDataError("YAML 别名引用了包含它自己的内容（递归）", file=filename, line=line)
        return known
    sizes[id(node)] = -1
    total = 1
    if isinstance(node, yaml.SequenceNode):
        for child in node.value:
            total += _size(child, sizes, filename, line)
    elif isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            total += _size(key, sizes, filename, line) + _size(value, sizes, filename, line)
    sizes[id(node)] = total
    if total > MAX_NODES:
        raise PluginDataError(f"YAML 内容（别名展开后）超过 {MAX_NODES} 个节点：请不要用别名（*名称）成倍复制内容",
                              file=filename, line=line)
    return total


def _make_loader(filename: str):
    class StrictLoader(yaml.SafeLoader):
        pass

    # YAML 1.2 booleans: only true/false. In YAML 1.1 a claim's `on:` key would become True.
    # YAML 1.2 numbers too: decimal only, so `1:30` (sexagesimal 90), `010` (octal 8), `0x10`
    # and `1_000` stay text and are refused where a number is expected, never read silently.
    replaced = {"tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"}
    StrictLoader.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag not in replaced]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    StrictLoader.add_implicit_resolver(
        "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
    StrictLoader.add_implicit_resolver("tag:yaml.org,2002:int", _INT_12, list("-+0123456789"))
    StrictLoader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT_12, list("-+0123456789."))

    def compose_node(loader, parent, index):
        # Aliases are bounded: the document, every alias expanded, may hold at most MAX_NODES nodes
        # (a 632-byte alias bomb expands to gigabytes). Nesting is bounded too (the composer and
        # the constructor recurse: 10,000 levels would be a RecursionError).
        if not hasattr(loader, "_nodes"):
            loader._nodes, loader._depth, loader._sizes = 0, 0, {}
        event = loader.peek_event()
        line = event.start_mark.line + 1
        if isinstance(event, yaml.events.AliasEvent):
            target = loader.anchors.get(event.anchor)
            size = _size(target, loader._sizes, filename, line) if target is not None else 1
        else:
            size = 1
        loader._nodes += size
        if loader._nodes > MAX_NODES:
            raise PluginDataError(f"YAML 内容（别名展开后）超过 {MAX_NODES} 个节点：请不要用别名（*名称）成倍复制内容",
                                  file=filename, line=line)
        loader._depth += 1
        try:
            if loader._depth > MAX_DEPTH:
                raise PluginDataError(f"嵌套层数超过 {MAX_DEPTH} 层", file=filename, line=line)
            return yaml.SafeLoader.compose_node(loader, parent, index)
        finally:
            loader._depth -= 1

    def construct_int(loader, node):
        # Python refuses to read integers of more than 4,300 digits (ValueError): keep such a
        # number as its text, so whoever expects a number refuses it as too large, with its field.
        text = loader.construct_scalar(node)
        if len(text.lstrip("+-")) > MAX_INT_DIGITS:
            return text
        return int(text)

    def construct_float(loader, node):
        text = loader.construct_scalar(node)
        if len(text) > MAX_INT_DIGITS * 2:
            return text
        return yaml.SafeLoader.construct_yaml_float(loader, node)

    StrictLoader.compose_node = compose_node
    StrictLoader.add_constructor("tag:yaml.org,2002:int", construct_int)
    StrictLoader.add_constructor("tag:yaml.org,2002:float", construct_float)

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
