"""Text and JSON encoders of CQL values, compiled once per column from the type registry.

An export touches every cell, so the type of a column is looked at once, when the encoders are built, and
never again per cell: ``text_encoders(column_types)`` returns one plain function per column and the writers
only ever call those. ``None`` (CQL null) is handled by the writers, so an encoder is only given real values.
The forms themselves are the registry's (``cassnb._types``): a scalar's ``text`` and ``json`` columns;
collections, tuples, UDTs and vectors are JSON, in CSV cells as compact JSON text.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, Literal

from cassnb._types import CqlType, Shape, fold, identity, scalar_type
from cassnb._types._text import float_text

JsonValue = None | bool | int | float | str | list["JsonValue"] | dict[str, "JsonValue"]
TextEncoder = Callable[[Any], str]
JsonEncoder = Callable[[Any], JsonValue]

# How a column's text encoding becomes its JSON Lines value: "token" when the text already is JSON (numbers,
# booleans, collections), "string" when the JSON value is that text as a string, "float" for a number whose
# non-finite spellings must become strings.
JsonForm = Literal["token", "string", "float"]
_FORMS: dict[str, JsonForm] = {
    "number": "token",
    "boolean": "token",
    "float": "float",
    "string": "string",
    "bignum": "string",
}
_to_json_text = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


def float_json(value: float) -> float | str:
    return value if value - value == 0.0 else float_text(value)


def udt_values(value: Any, names: Sequence[str]) -> Sequence[Any]:
    """A UDT value positionally: the driver gives (named) tuples, a registered class gives attributes."""
    return value if isinstance(value, tuple) else [getattr(value, name, None) for name in names]


def _nullable(encode: JsonEncoder) -> JsonEncoder:
    """Collections, tuples and UDTs may hold nulls; their items go through this."""
    if encode is identity:
        return identity
    return lambda value: None if value is None else encode(value)


def _text_of(node: Shape, to_json: JsonEncoder) -> TextEncoder:
    """A node's text form: the registry's for a scalar, compact JSON text for anything else."""
    if node.scalar is not None:
        return node.scalar.text
    return lambda value: _to_json_text(to_json(value))


def _json_visit(node: Shape, items: Sequence[JsonEncoder]) -> JsonEncoder:
    row = node.scalar
    if row is not None:
        if row.json in ("number", "boolean"):
            return identity
        return float_json if row.json == "float" else row.text
    if node.kind == "map":
        key = _text_of(node.items[0], items[0])  # JSON object keys are strings: the key's text form
        value_encoder = _nullable(items[1])
        return lambda value: {key(k): value_encoder(v) for k, v in value.items()}
    inner = [_nullable(item) for item in items]
    if node.kind == "udt":
        names = node.fields
        return lambda value: {
            name: encode(x) for name, encode, x in zip(names, inner, udt_values(value, names), strict=False)
        }
    if node.kind == "tuple":
        return lambda value: [encode(x) for encode, x in zip(inner, value, strict=False)]
    (item,) = inner  # list, set, vector
    if item is identity:
        return list
    return lambda value: [item(x) for x in value]


def json_encoder(cql_type: CqlType) -> JsonEncoder:
    """Return a function mapping a non-null value of ``cql_type`` to a JSON-ready Python value.

    Raises:
        TypeError: the type has no lossless encoding (custom types).
    """
    return fold(cql_type, _json_visit)


def text_encoder(cql_type: CqlType) -> TextEncoder:
    """Return a function mapping a non-null value of ``cql_type`` to its text form (a CSV cell).

    Raises:
        TypeError: the type has no lossless encoding (custom types).
    """
    row = scalar_type(cql_type)
    if row is not None:
        return row.text
    to_json = json_encoder(cql_type)
    return lambda value: _to_json_text(to_json(value))


def json_form(cql_type: CqlType) -> JsonForm:
    """How the column's text encoding turns into its JSON value (see ``JsonForm``)."""
    row = scalar_type(cql_type)
    return "token" if row is None else _FORMS[row.json]


def text_encoders(column_types: Sequence[type]) -> list[TextEncoder]:
    """One text encoder per column, built once per export."""
    return [text_encoder(cql_type) for cql_type in column_types]
