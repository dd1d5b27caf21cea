"""CQL types as Arrow types (the registry's ``arrow`` column), and page columns as Arrow arrays.

Tuples become structs with fields ``f0, f1, ...``, UDTs structs with their field names, vectors fixed-size
lists. Every field carries its CQL type in the field metadata under ``cql_type`` (e.g. ``decimal``), so a
reader can tell a decimal string from a text column.

Conversion is column-wise: ``pa.array`` takes a whole column in one call. Types whose Python values pyarrow
already accepts (numbers, strings, bytes, booleans) pass straight through; the others are normalised per
value first by the registry's ``to_arrow`` (a ``cassandra.util.Date`` to its day number, ...) or, for types
Arrow has no lossless type for, by their text form (a UUID to its string).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pyarrow as pa

from cassnb._types import CqlType, Shape, cql_name, fold, identity
from cassnb.formats._columns import encode_column, timestamp_millis
from cassnb.formats._encode import udt_values

Normalizer = Callable[[Any], Any]
Converter = Callable[[Sequence[Any]], pa.Array]

_TIMESTAMP = pa.timestamp("ms", tz="UTC")


def _scalar_arrow(alias: str) -> pa.DataType:
    return _TIMESTAMP if alias == "timestamp[ms, tz=UTC]" else pa.type_for_alias(alias)


def _type_visit(node: Shape, items: Sequence[pa.DataType]) -> pa.DataType:
    if node.scalar is not None:
        return _scalar_arrow(node.scalar.arrow)
    if node.kind == "vector":
        return pa.list_(items[0], node.size)
    if node.kind == "udt":
        return pa.struct([pa.field(name, item) for name, item in zip(node.fields, items, strict=True)])
    if node.kind == "tuple":
        return pa.struct([pa.field(f"f{i}", item) for i, item in enumerate(items)])
    if node.kind == "map":
        return pa.map_(items[0], items[1])
    return pa.list_(items[0])  # list, set


def arrow_type(cql_type: CqlType) -> pa.DataType:
    """The Arrow type a CQL type is stored as.

    Raises:
        TypeError: the type cannot be exported.
    """
    return fold(cql_type, _type_visit)


def _nullable(normalize: Normalizer) -> Normalizer:
    if normalize is identity:
        return identity
    return lambda value: None if value is None else normalize(value)


def _normalize_visit(node: Shape, items: Sequence[Normalizer]) -> Normalizer:
    row = node.scalar
    if row is not None:
        return row.text if row.to_arrow is None else row.to_arrow
    inner = [_nullable(item) for item in items]
    if node.kind == "map":
        key, item = items[0], inner[1]
        return lambda value: [(key(k), item(v)) for k, v in value.items()]
    if node.kind in ("tuple", "udt"):
        names = node.fields
        return lambda value: tuple(
            normalize(x) for normalize, x in zip(inner, udt_values(value, names) if names else value, strict=False)
        )
    (item,) = inner  # list, set, vector
    return identity if item is identity else (lambda value: [item(x) for x in value])


def normalizer(cql_type: CqlType) -> Normalizer:
    """A function making one non-null value acceptable to ``pa.array`` for ``arrow_type(cql_type)``."""
    return fold(cql_type, _normalize_visit)


def _timestamp_column(values: Sequence[Any]) -> pa.Array:
    if set(map(type, values)) <= {int, type(None)}:  # as exports read them: milliseconds since the epoch
        return pa.array(values, type=pa.int64()).view(_TIMESTAMP)
    # Datetimes (pages from elsewhere): pa.array would truncate them to milliseconds; timestamp_millis rounds.
    millis = iter(timestamp_millis([value for value in values if value is not None]).tolist())
    return pa.array([None if value is None else next(millis) for value in values], type=pa.int64()).view(_TIMESTAMP)


def column_converter(cql_type: CqlType) -> Converter:
    """A function turning one page column (a sequence of values and ``None``) into an Arrow array."""
    target = arrow_type(cql_type)
    if target == _TIMESTAMP:
        return _timestamp_column
    normalize = normalizer(cql_type)
    if normalize is identity:
        return lambda values: pa.array(values, type=target)
    return lambda values: pa.array(encode_column(normalize, values)[0], type=target)


def arrow_schema(column_names: Sequence[str], column_types: Sequence[type]) -> pa.Schema:
    """The file schema: one nullable field per column, tagged with its CQL type."""
    return pa.schema(
        [
            pa.field(name, arrow_type(cql_type), metadata={"cql_type": cql_name(cql_type)})
            for name, cql_type in zip(column_names, column_types, strict=True)
        ]
    )
