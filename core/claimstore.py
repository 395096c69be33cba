"""Claim inputs as stored in the database (JSON) and back, typed by the item's input specs."""

from __future__ import annotations

from datetime import date
from decimal import Decimal


def dump_values(values: dict) -> dict:
    out = {}
    for key, value in values.items():
        if isinstance(value, date):
            out[key] = value.isoformat()
        elif isinstance(value, Decimal):
            out[key] = str(value)
        elif isinstance(value, tuple):
            out[key] = [str(v) if isinstance(v, Decimal) else v for v in value]
        else:
            out[key] = value
    return out


def load_values(specs: dict, stored: dict) -> dict:
    """``specs``: input name → InputSpec (``ClaimParser.specs(item)[0]``)."""
    out = {}
    for key, value in stored.items():
        spec = specs.get(key)
        kind = spec.type if spec is not None else None
        if kind == "date" and isinstance(value, str):
            out[key] = date.fromisoformat(value)
        elif kind in ("number",) and isinstance(value, str):
            out[key] = Decimal(value)
        elif kind == "numbers" and isinstance(value, list):
            out[key] = tuple(Decimal(v) if isinstance(v, str) else v for v in value)
        else:
            out[key] = value
    return out
