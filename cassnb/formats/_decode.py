"""Text and JSON decoders of CQL values: the inverses of ``_encode``, built from the type registry.

``text_parser`` reads a CSV cell (the registry's ``parse`` for a scalar, JSON for anything else);
``json_decoder`` reads a decoded JSON value (JSON Lines, and everything inside a collection, tuple or UDT).
Each returns the value bound for its column and raises ``TypeError``/``ValueError`` naming what it got.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from cassnb._types import CqlType, ScalarType, Shape, fold, scalar_type, show
from cassnb._types._bind import by_field, mapping, positional
from cassnb._types._text import NON_FINITE

__all__ = ("json_decoder", "text_parser")

Parser = Callable[[Any], Any]  # one non-null source value -> the value bound for its column


def _expect(value: Any, kind: type | tuple[type, ...], what: str) -> Any:
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise TypeError(f"expected {what}, got {show(value)}")
    return value


def _json_int(value: Any) -> int:
    return int(_expect(value, int, "an integer"))


def _json_bool(value: Any) -> bool:
    return bool(_expect(value, bool, "true or false"))


def _json_float(value: Any) -> float:
    if isinstance(value, str):
        if value in NON_FINITE:
            return NON_FINITE[value]
        raise TypeError(f"expected a number, NaN, Infinity or -Infinity, got {show(value)}")
    return float(_expect(value, (int, float), "a number"))


def _json_scalar(row: ScalarType) -> Parser:
    parse = row.parse
    if row.json == "number":
        return _json_int
    if row.json == "boolean":
        return _json_bool
    if row.json == "float":
        return _json_float
    if row.json == "bignum":  # written as strings; plain JSON integers are accepted as well

        def decode_big(value: Any) -> Any:
            if isinstance(value, int) and not isinstance(value, bool):
                return parse(str(value))
            return parse(_expect(value, str, "a JSON string"))

        return decode_big
    return lambda value: parse(_expect(value, str, "a JSON string"))


def _nullable(parse: Parser) -> Parser:
    return lambda value: None if value is None else parse(value)


def _text_of(node: Shape, decode: Parser) -> Parser:
    """A node's text parser: the registry's for a scalar, JSON text for anything else."""
    if node.scalar is not None:
        return node.scalar.parse
    return lambda text: decode(json.loads(text))


def _json_visit(node: Shape, items: Sequence[Parser]) -> Parser:
    if node.scalar is not None:
        return _json_scalar(node.scalar)
    if node.kind == "map":
        key, value_decoder = _text_of(node.items[0], items[0]), _nullable(items[1])
        return lambda value: mapping(
            [(key(k), value_decoder(v)) for k, v in _expect(value, dict, "a JSON object").items()]
        )
    inner = [_nullable(item) for item in items]
    if node.kind == "udt":  # a tuple in field order: the driver binds a UDT from a tuple, not from a dict
        names, udt = node.fields, node.name
        return lambda value: by_field(_expect(value, dict, "a JSON object"), names, inner, udt)
    if node.kind == "tuple":
        return lambda value: positional(_expect(value, list, "a JSON array"), inner, "tuple")
    (item,) = inner  # list, set, vector
    return lambda value: [item(x) for x in _expect(value, list, "a JSON array")]


def json_decoder(cql_type: CqlType) -> Parser:
    """The inverse of ``json_encoder(cql_type)``: a decoded JSON value -> the value to bind.

    Raises:
        TypeError: the type has no JSON encoding (custom types).
    """
    return fold(cql_type, _json_visit)


def text_parser(cql_type: CqlType) -> Parser:
    """The inverse of ``text_encoder(cql_type)``: a CSV cell's text -> the value to bind.

    Raises:
        TypeError: the type has no text encoding (custom types).
    """
    row = scalar_type(cql_type)
    if row is not None:
        return row.parse
    decode = json_decoder(cql_type)
    return lambda text: decode(json.loads(text))
