"""The declaration form, generated from a catalogue item's inputs in its plugin (the low-code
part): a new item, or a new input of an item, in a plugin's data is a new form (field) here,
with the plugin's label, choices and limits; no template is written for it.

One WTForms field per input type; every message is Chinese (numbers and dates are read with the
same lenient parsers as the rest of the platform: full-width digits, "12学时", 2024/9/1 ...).
The services validate again when the claim is declared or edited: their refusal of one input
is shown next to that input's field (``attach_error``).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, DecimalField, SelectField, StringField
from wtforms.validators import ValidationError

from core.compile import MEASURE_WORDS
from core.errors import InputError
from core.facts import parse_date
from core.numbers import NumberError, from_milli, parse_decimal

from .i18n import _, _l

FIELD_PREFIX = "in_"  # plugin input "data" or "meta" must never shadow a form attribute
TEXT_LIMIT = 200

# The core vocabularies (core.plugin_data.VOCABULARY) and a few codes plugins use: the Chinese a
# teacher reads. A plugin's own Chinese choices are shown as they are.
CHOICE_LABELS = {
    "school": _l("校级"), "town": _l("镇（乡）级"), "county": _l("县（区）级"), "city": _l("市级"),
    "province": _l("省级"), "national": _l("国家级"),
    "encourage": _l("鼓励奖"), "third": _l("三等奖"), "second": _l("二等奖"), "first": _l("一等奖"),
    "host": _l("主持人"), "participant": _l("参与者"),
    "illness": _l("病假"), "maternity": _l("产假"), "support": _l("支教"),
}


# The measures a declared item asks for (core.compile.MEASURE_WORDS), as a field's label and unit.
MEASURE_LABELS = {"hours": _l("学时数"), "credits": _l("学分数")}
MEASURE_UNITS = {"hours": _l("学时"), "credits": _l("学分")}


def choice_label(code: str) -> str:
    label = CHOICE_LABELS.get(code)
    return str(label) if label is not None else code


def input_label(spec, measures) -> str:
    if spec.label:
        return spec.label
    if spec.name in MEASURE_LABELS:
        return str(MEASURE_LABELS[spec.name])
    return spec.name


# -- fields with Chinese messages -------------------------------------------------------------------

class NumberField(DecimalField):
    """A decimal read like every number on the platform; ``integer`` refuses fractions."""

    def __init__(self, *args, integer: bool = False, places_max: int | None = None, minimum=None, maximum=None,
                 **kwargs):
        super().__init__(*args, places=None, **kwargs)
        self.integer, self.places_max, self.minimum, self.maximum = integer, places_max, minimum, maximum

    def process_formdata(self, valuelist):
        self.data = None
        self.raw = valuelist[0] if valuelist else ""
        if not valuelist or not str(valuelist[0]).strip():
            return
        try:
            number = parse_decimal(valuelist[0], max_places=self.places_max)
        except NumberError as exc:
            raise ValueError(str(exc)) from None
        if self.integer and number != number.to_integral_value():
            raise ValueError(_("应为整数"))
        if self.minimum is not None and number < Decimal(str(self.minimum)):
            raise ValueError(_("不能小于 %(n)s", n=self.minimum))
        if self.maximum is not None and number > Decimal(str(self.maximum)):
            raise ValueError(_("不能大于 %(n)s", n=self.maximum))
        self.data = number

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        if self.data is None:
            return ""
        return format(self.data, "f")


class DayField(DateField):
    def process_formdata(self, valuelist):
        self.data = None
        if not valuelist or not str(valuelist[0]).strip():
            return
        try:
            self.data = parse_date(valuelist[0], self.name)
        except InputError:
            raise ValueError(_("不是有效日期（应写作 2024-09-01）")) from None


class ListField(StringField):
    """Several numbers in one box, separated by commas or spaces."""

    def __init__(self, *args, length: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.length = length

    def process_formdata(self, valuelist):
        self.data = None
        text = str(valuelist[0]) if valuelist else ""
        self.raw = text
        parts = [p for p in text.replace("，", ",").replace("、", ",").replace(" ", ",").split(",") if p.strip()]
        if not parts:
            return
        numbers = []
        for position, part in enumerate(parts):
            try:
                numbers.append(parse_decimal(part))
            except NumberError as exc:
                raise ValueError(_("第%(n)s个数：%(message)s", n=position + 1, message=str(exc))) from None
        if self.length is not None and len(numbers) != self.length:
            raise ValueError(_("应填写 %(n)s 个数字（用逗号分隔），填写了 %(m)s 个", n=self.length, m=len(numbers)))
        self.data = numbers

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        if not self.data:
            return ""
        return ", ".join(format(v, "f") if isinstance(v, Decimal) else str(v) for v in self.data)


def _required(form, field):
    data = field.data
    if data is None or (isinstance(data, str) and not data.strip()) or data == []:
        raise ValidationError(_("必填"))


_required.field_flags = {"required": True}


def _choice_valid(choices):
    codes = {c for c, _label in choices}

    def check(form, field):
        if field.data not in (None, "") and field.data not in codes:
            raise ValidationError(_("不是可选的值"))
    return check


def _length(limit):
    def check(form, field):
        if field.data and len(field.data) > limit:
            raise ValidationError(_("最多 %(n)s 个字", n=limit))
    return check


def make_field(spec, *, measures, periods):
    label = input_label(spec, measures)
    validators = [_required] if spec.required and spec.type != "bool" else []
    unit = str(MEASURE_UNITS.get(spec.name) or MEASURE_WORDS.get(spec.name, "")) if spec.name in measures else None
    kind = spec.type
    if kind in ("amount", "number", "integer"):
        minimum = spec.minimum if spec.minimum is not None else 0
        return NumberField(label, validators=validators, integer=kind == "integer",
                           places_max=2 if kind == "amount" else None, minimum=minimum, maximum=spec.maximum,
                           description=unit or "",
                           render_kw={"inputmode": "numeric" if kind == "integer" else "decimal",
                                      "autocomplete": "off"})
    if kind == "choice":
        choices = [(c, choice_label(c)) for c in spec.choices]
        return SelectField(label, choices=[("", _("请选择"))] + choices, validate_choice=False,
                           validators=validators + [_choice_valid(choices)])
    if kind == "period":
        choices = [(p, p) for p in periods]
        return SelectField(label, choices=[("", _("请选择"))] + choices, validate_choice=False,
                           validators=validators + [_choice_valid(choices)])
    if kind == "date":
        return DayField(label, validators=validators)
    if kind == "bool":
        return BooleanField(label, default=bool(spec.default))
    if kind == "numbers":
        hint = _("%(n)s 个数字，用逗号分隔", n=spec.length) if spec.length else _("用逗号分隔")
        return ListField(label, validators=validators, length=spec.length, description=hint)
    limit = spec.length or TEXT_LIMIT
    return StringField(label, validators=validators + [_length(limit)], render_kw={"maxlength": limit})


class ClaimFormBase(FlaskForm):
    """Every declaration: the item's inputs (generated) plus when it happened and its period."""

    on = DayField(_l("学习（完成）日期"), description=_l("选填；决定记录属于哪个年度"))
    period = SelectField(_l("所属年度"), choices=[], validate_choice=False)


def declaration_form_class(item, specs: dict, *, measures, periods: list[str], personal: bool):
    """A FlaskForm class for ``item`` (``specs``: input name → InputSpec, from
    ``ClaimParser.specs(item)[0]``, which adds the measure and the optional certificate number)."""
    ordered = [s for n, s in specs.items() if n != "certificate_no"]
    ordered.append(specs["certificate_no"])
    attrs = {FIELD_PREFIX + spec.name: make_field(spec, measures=measures, periods=periods) for spec in ordered}
    attrs["input_names"] = [spec.name for spec in ordered]
    attrs["personal"] = personal
    form_class = type(f"Declare_{item.code.replace('.', '_')}", (ClaimFormBase,), attrs)
    return form_class


def build_form(form_class, periods: list[str], personal: bool, *, formdata=None, claim=None, specs=None):
    """An instance: from the request (``formdata``), or filled from a stored claim."""
    kwargs = {}
    if claim is not None and formdata is None:
        kwargs = claim_initial(claim, specs)
    form = form_class(formdata=formdata, **kwargs) if formdata is not None else form_class(**kwargs)
    form.period.choices = [("", _("按日期确定（不填日期则为本年度）"))] + [(p, p) for p in periods]
    if personal:
        del form.period
    return form


def claim_initial(claim, specs) -> dict:
    out = {}
    for name, value in (claim.inputs or {}).items():
        spec = specs.get(name)
        if spec is None or value is None:
            continue
        if spec.type == "amount":
            value = from_milli(int(value))
        elif spec.type in ("number", "integer"):
            value = Decimal(str(value))
        elif spec.type == "date" and isinstance(value, str):
            value = date.fromisoformat(value)
        elif spec.type == "numbers":
            value = [Decimal(str(v)) for v in value]
        out[FIELD_PREFIX + name] = value
    out["on"] = claim.on_date
    out["period"] = claim.period_key
    return out


def inputs_of(form) -> dict:
    """The raw inputs for the services (only what was filled in)."""
    out = {}
    for name in form.input_names:
        field = form[FIELD_PREFIX + name]
        data = field.data
        if isinstance(field, BooleanField):
            out[name] = bool(data)
            continue
        if data is None or data == "" or data == []:
            continue
        if isinstance(data, Decimal):
            data = format(data, "f")
        elif isinstance(data, list):
            data = [format(v, "f") for v in data]
        out[name] = data
    return out


def attach_error(form, exc: InputError) -> bool:
    """Show a service's refusal of one input next to its field; False when it names no field."""
    name = getattr(exc, "field", None)
    message = getattr(exc, "message", None) or str(exc)
    if name and (FIELD_PREFIX + name) in form:
        form[FIELD_PREFIX + name].errors = list(form[FIELD_PREFIX + name].errors) + [message]
        return True
    if name in ("on", "period") and name in form:
        form[name].errors = list(form[name].errors) + [message]
        return True
    return False
