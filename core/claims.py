"""Claims as the engine takes them, and their parsing from what a person gave.

``Claim`` is the normalised form: inputs already typed (amounts as milli-units, dates as dates,
levels as codes). The database, the service layer and the rule-case loader all hand the engine
``Claim`` objects; parsing (``ClaimParser``) happens once, at the edge.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from .errors import InputError
from .facts import parse_bool, parse_date
from .numbers import NumberError, parse_decimal, to_milli
from .types import CatalogueItem, InputSpec

CLAIM_KEYS = ("item", "period", "on", "id")

ALIASES = {
    "校级": "school", "学校": "school", "校": "school",
    "镇级": "town", "乡级": "town", "镇": "town", "乡": "town", "镇/乡级": "town",
    "县级": "county", "区级": "county", "县": "county", "区": "county", "县/区级": "county", "县市级": "county",
    "市级": "city", "地市级": "city", "市": "city",
    "省级": "province", "省": "province",
    "国家级": "national", "国家": "national", "国级": "national",
    "鼓励奖": "encourage", "鼓励": "encourage",
    "三等奖": "third", "三等": "third", "二等奖": "second", "二等": "second",
    "一等奖": "first", "一等": "first",
    "主持人": "host", "主要研究人员": "host", "主持": "host",
    "参与者": "participant", "参与人": "participant", "参与": "participant",
}


@dataclass(slots=True)
class Claim:
    """A registered (or pending) claim: the item code, its typed inputs, and where it belongs."""

    item: str
    values: dict[str, Any]
    period: str | None = None
    on: date | None = None
    ref: Any = None


def _number(value, spec: InputSpec, *, integer=False, amount=False):
    try:
        number = parse_decimal(value, max_places=2 if amount else None)
    except NumberError as exc:
        raise InputError(str(exc), field=spec.name) from None
    if integer and number != number.to_integral_value():
        raise InputError(f"应为整数，而不是 {number}", field=spec.name)
    if spec.minimum is not None and number < Decimal(str(spec.minimum)):
        raise InputError(f"不能小于 {spec.minimum}（填写的是 {number}）", field=spec.name)
    if spec.maximum is not None and number > Decimal(str(spec.maximum)):
        raise InputError(f"不能大于 {spec.maximum}（填写的是 {number}）", field=spec.name)
    if amount:
        return to_milli(number)
    if number == number.to_integral_value():
        return int(number)
    return number


def coerce(spec: InputSpec, value, validate_period=None):
    """The typed value of one input, or InputError naming the field."""
    kind = spec.type
    if kind == "amount":
        return _number(value, spec, amount=True)
    if kind == "number":
        return _number(value, spec)
    if kind == "integer":
        return _number(value, spec, integer=True)
    if kind == "bool":
        return parse_bool(value, spec.name)
    if kind == "date":
        return parse_date(value, spec.name)
    if kind == "text":
        if isinstance(value, (dict, list)) or value is None:
            raise InputError("应为文本", field=spec.name)
        text = unicodedata.normalize("NFKC", str(value)).strip()
        if not text:
            raise InputError("不能为空", field=spec.name)
        return text
    if kind == "choice":
        text = unicodedata.normalize("NFKC", str(value)).strip()
        code = ALIASES.get(text, text)
        if code not in spec.choices:
            raise InputError(f"「{value}」不是可选值（可选：{'、'.join(spec.choices)}）", field=spec.name)
        return code
    if kind == "numbers":
        if not isinstance(value, (list, tuple)):
            raise InputError("应为数字列表", field=spec.name)
        if spec.length is not None and len(value) != spec.length:
            raise InputError(f"应有 {spec.length} 个数字，填写了 {len(value)} 个", field=spec.name)
        out = []
        for position, element in enumerate(value):
            try:
                out.append(_number(element, spec))
            except InputError as exc:
                raise InputError(f"第{position + 1}个数：{exc.message}", field=spec.name) from None
        return tuple(out)
    if kind == "period":
        text = unicodedata.normalize("NFKC", str(value)).strip()
        if validate_period is not None:
            try:
                validate_period(text)
            except InputError as exc:
                raise InputError(exc.message, field=spec.name) from None
        return text
    raise InputError(f"未知的输入类型 {kind}", field=spec.name)


class ClaimParser:
    """Parses raw claims (mappings) of one jurisdiction into ``Claim`` objects."""

    def __init__(self, items: dict[str, CatalogueItem], measures: tuple[str, ...], calendar):
        self.items = items
        self.measures = measures
        self.calendar = calendar
        self._specs: dict[str, tuple[dict[str, InputSpec], tuple[str, ...]]] = {}

    def specs(self, item: CatalogueItem):
        cached = self._specs.get(item.code)
        if cached is None:
            specs = {spec.name: spec for spec in item.inputs}
            # Every claim may carry its certificate number: the same number twice is a duplicate.
            specs.setdefault("certificate_no", InputSpec("certificate_no", "text", "证书编号", required=False))
            conversions = ()
            compute = item.rules.get("compute", {})
            if compute.get("kind") == "declared":
                conversions = tuple(c["input"] for c in compute.get("convert", ()))
                for measure in self.measures:
                    specs.setdefault(measure, InputSpec(measure, "amount", required=not conversions))
            cached = self._specs[item.code] = (specs, conversions)
        return cached

    def parse(self, raw, index: int | None = None) -> Claim:
        try:
            return self._parse(raw)
        except InputError as exc:
            raise exc.located(claim=index) from None

    def _parse(self, raw) -> Claim:
        if not isinstance(raw, dict):
            raise InputError("每条记录应为映射（如 {item: peixun.training, hours: 10}）")
        code = raw.get("item")
        if code is None:
            raise InputError("缺少项目代码", field="item")
        code = unicodedata.normalize("NFKC", str(code)).strip()
        item = self.items.get(code)
        if item is None:
            raise InputError(f"未知项目「{code}」（本地区可用：{'、'.join(sorted(self.items))}）", field="item")
        specs, conversions = self.specs(item)
        values: dict[str, Any] = {}
        for key, value in raw.items():
            if key in CLAIM_KEYS:
                continue
            spec = specs.get(key)
            if spec is None:
                known = "、".join(sorted(specs)) or "无"
                raise InputError(f"项目 {code} 没有输入「{key}」（可填：{known}）", field=str(key), item=code)
            if value is None:
                continue
            try:
                values[key] = coerce(spec, value, self._check_period)
            except InputError as exc:
                raise InputError(exc.message, field=exc.field, item=code) from None
        for name, spec in specs.items():
            if name in values:
                continue
            if spec.default is not None:
                values[name] = coerce(spec, spec.default)
            elif spec.required:
                raise InputError(f"缺少必填项「{spec.label or name}」", field=name, item=code)
        if conversions and not any(m in values for m in self.measures) and not any(c in values for c in conversions):
            needed = "、".join(self.measures + conversions)
            raise InputError(f"应填写 {needed} 之一", field=self.measures[0], item=code)
        period = raw.get("period")
        if period is not None:
            period = unicodedata.normalize("NFKC", str(period)).strip()
            self._check_period(period)
        on = raw.get("on")
        if on is not None:
            on = parse_date(on, "on")
        return Claim(code, values, period, on, raw.get("id"))

    def _check_period(self, key: str) -> None:
        if self.calendar.personal:
            if key != "cycle":
                raise InputError(f"本地区按教师个人五年周期考核，记录的期间只能是 cycle（或不填），而不是「{key}」",
                                 field="period")
            return
        try:
            self.calendar.period(key)
        except InputError as exc:
            raise InputError(exc.message, field="period") from None
