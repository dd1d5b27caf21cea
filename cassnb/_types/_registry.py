"""The CQL type registry: every scalar CQL type once, and one fold over the composite types.

``SCALARS`` is the only table that says what a CQL type becomes anywhere in cassnb. Each row names:

* ``pandas`` — the dtype of a DataFrame column (``cassnb._frames`` converts a page column to it);
* ``arrow`` and ``to_arrow`` — the Arrow type of a Parquet column and how a value becomes something
  ``pyarrow.array`` takes for it (``None``: its text form, for types Arrow has no lossless type for);
* ``text`` and ``parse`` — the text form (a CSV cell, a map key in JSON) and its inverse;
* ``json`` — how the value appears in JSON (JSON Lines, and inside every collection, tuple or UDT);
* ``coerce`` — how a Python value (a DataFrame cell, a notebook variable) becomes the value bound.

Composite types (``list``, ``set``, ``map``, ``tuple``, user-defined types, ``vector``) are not rows: each is a
node over its items. ``shape`` reads the driver's type class into that tree once (``frozen<T>`` and
clustering-order wrappers are transparent), and ``fold`` walks it bottom-up; every encoder, decoder, Arrow
type, coercer and name is one ``fold`` with a visitor that says what to do at each kind of node.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, TypeVar

from cassandra import cqltypes

from . import _coerce as c
from . import _text as t

__all__ = (
    "SCALARS", "CqlType", "JsonKind", "ScalarType", "Shape", "cql_name", "fold", "frame_decode_type", "scalar_type",
    "shape",
)  # fmt: skip

# A driver type class from ``cassandra.cqltypes``; the driver ships no type information for them.
CqlType = Any
Encoder = Callable[[Any], Any]

#: How a scalar appears in JSON: ``number`` and ``boolean`` as themselves; ``float`` as a number, with
#: NaN and the infinities as the strings of their text form; ``string`` as its text form; ``bignum``
#: (varint, decimal) as its text form in a string, so that no JSON parser rounds it, and read back from a
#: string or a JSON integer.
JsonKind = Literal["number", "boolean", "float", "string", "bignum"]
Kind = Literal["scalar", "list", "set", "map", "tuple", "udt", "vector"]


@dataclass(frozen=True, slots=True)
class ScalarType:
    """What one scalar CQL type becomes in each of cassnb's forms (see the module docstring)."""

    name: str
    pandas: str
    arrow: str
    to_arrow: Encoder | None
    text: Encoder
    parse: Encoder
    json: JsonKind
    coerce: Encoder
    #: ``float`` and ``double`` can store NaN: there it is a value, everywhere else it means null.
    nan_is_value: bool = False
    #: A driver type whose decoder reads this type's bytes into a cheaper value, for pages that only become
    #: DataFrame columns or export files (``cassnb._decode``): ``uuid`` as its 16 bytes, ``timestamp`` as its
    #: milliseconds.
    frame_decode: CqlType | None = None


def _ints(name: str, pandas: str, arrow: str) -> ScalarType:
    return ScalarType(name, pandas, arrow, t.identity, str, t.parse_int, "number", c.as_int)


def _floats(name: str, pandas: str, arrow: str) -> ScalarType:
    return ScalarType(name, pandas, arrow, t.identity, t.float_text, t.parse_float, "float", c.as_float, True)


def _texts(name: str) -> ScalarType:
    return ScalarType(name, "string", "string", t.identity, t.identity, t.parse_text, "string", c.as_str)


def _as_text(name: str, text: Encoder, parse: Encoder, coerce: Encoder, json: JsonKind = "string") -> ScalarType:
    """Types stored as their text form in Parquet and kept as the driver's objects in a DataFrame."""
    return ScalarType(name, "object", "string", None, text, parse, json, coerce)


def _uuids(name: str) -> ScalarType:
    return replace(_as_text(name, t.uuid_text, t.parse_uuid, c.as_uuid), frame_decode=cqltypes.BytesType)


_TIMESTAMP_ARROW = "timestamp[ms, tz=UTC]"

SCALARS: dict[str, ScalarType] = {
    row.name: row
    for row in (
        _ints("tinyint", "Int8", "int8"),
        _ints("smallint", "Int16", "int16"),
        _ints("int", "Int32", "int32"),
        _ints("bigint", "Int64", "int64"),
        _ints("counter", "Int64", "int64"),
        _as_text("varint", str, t.parse_int, c.as_varint, "bignum"),
        _as_text("decimal", str, t.parse_decimal, c.as_decimal, "bignum"),
        _floats("float", "Float32", "float32"),
        _floats("double", "Float64", "float64"),
        ScalarType("boolean", "boolean", "bool", t.identity, t.bool_text, t.parse_bool, "boolean", c.as_bool),
        _texts("text"),
        _texts("varchar"),
        _texts("ascii"),
        ScalarType("blob", "object", "binary", t.identity, t.blob_text, t.parse_blob, "string", c.as_bytes),
        _uuids("uuid"),
        _uuids("timeuuid"),
        _as_text("inet", str, t.parse_inet, c.as_inet),
        ScalarType(
            "timestamp",
            "datetime64[ms, UTC]",
            _TIMESTAMP_ARROW,
            t.millis_from_epoch,
            t.timestamp_text,
            t.parse_timestamp,
            "string",
            c.as_timestamp,
            frame_decode=cqltypes.LongType,
        ),
        ScalarType(
            "date", "datetime64[s]", "date32", t.days_from_epoch, t.date_text, t.parse_date, "string", c.as_date
        ),
        ScalarType(
            "time", "timedelta64[ns]", "time64[ns]", t.nanos_of_day, t.time_text, t.parse_time, "string", c.as_time
        ),
        _as_text("duration", t.duration_text, t.parse_duration, c.as_duration),
    )
}


@dataclass(frozen=True, slots=True, eq=False)
class Shape:
    """One node of a CQL type: a scalar (``scalar`` set) or a composite over its ``items``.

    ``items`` are a list's, set's or vector's element type, a map's key and value types, a tuple's item types
    or a UDT's field types; ``fields`` are a UDT's field names and ``size`` a vector's dimension.
    """

    kind: Kind
    name: str
    scalar: ScalarType | None = None
    items: tuple[Shape, ...] = ()
    fields: tuple[str, ...] = ()
    size: int = 0
    driver_type: CqlType = field(default=None, repr=False)


def unwrap(cql_type: CqlType) -> CqlType:
    """Strip ``frozen<...>`` (and a clustering-order ``ReversedType``): they do not change the value."""
    while issubclass(cql_type, cqltypes.FrozenType | cqltypes.ReversedType):
        (cql_type,) = cql_type.subtypes
    return cql_type


def _spelling(cql_type: CqlType) -> str:
    """The CQL spelling of a type the registry has no row for (custom types), for messages."""
    return str(getattr(cql_type, "cql_parameterized_type", lambda: cql_type.typename)())


def unsupported(cql_type: CqlType) -> TypeError:
    name = cql_type.name if isinstance(cql_type, Shape) else _spelling(unwrap(cql_type))
    return TypeError(f"CQL type {name!r} is not supported: cassnb has no lossless form for it")


def scalar_type(cql_type: CqlType) -> ScalarType | None:
    """The registry row of a scalar type; ``None`` for composite and unknown types."""
    cql_type = unwrap(cql_type)
    if issubclass(cql_type, cqltypes.TupleType | cqltypes.VectorType) or cql_type.subtypes:
        return None  # a UDT's typename is user-chosen and must never be looked up
    return SCALARS.get(cql_type.typename)


def frame_decode_type(cql_type: CqlType) -> CqlType:
    """The driver type whose decoder reads ``cql_type``'s cells for a DataFrame (itself, unless the registry
    names a cheaper one: see ``ScalarType.frame_decode``)."""
    row = scalar_type(cql_type) if isinstance(cql_type, type) else None
    return cql_type if row is None or row.frame_decode is None else row.frame_decode


@functools.lru_cache(maxsize=1024)
def shape(cql_type: CqlType) -> Shape:
    """The registry's view of a driver type class (cached per class).

    Raises:
        TypeError: the type, or a type inside it, has no row in the registry (custom types).
    """
    cql_type = unwrap(cql_type)
    if issubclass(cql_type, cqltypes.VectorType):
        item = shape(cql_type.subtype)
        return Shape(
            "vector",
            f"vector<{item.name}, {cql_type.vector_size}>",
            items=(item,),
            size=cql_type.vector_size,
            driver_type=cql_type,
        )
    if issubclass(cql_type, cqltypes.UserType):
        items = tuple(shape(sub) for sub in cql_type.subtypes)
        return Shape(
            "udt", str(cql_type.typename), items=items, fields=tuple(cql_type.fieldnames), driver_type=cql_type
        )
    if issubclass(cql_type, cqltypes.TupleType):
        items = tuple(shape(sub) for sub in cql_type.subtypes)
        return Shape("tuple", f"tuple<{', '.join(i.name for i in items)}>", items=items, driver_type=cql_type)
    for kind, driver_class in (("map", cqltypes.MapType), ("set", cqltypes.SetType), ("list", cqltypes.ListType)):
        if issubclass(cql_type, driver_class):
            items = tuple(shape(sub) for sub in cql_type.subtypes)
            return Shape(kind, f"{kind}<{', '.join(i.name for i in items)}>", items=items, driver_type=cql_type)  # type: ignore[arg-type]
    row = scalar_type(cql_type)
    if row is None:
        raise unsupported(cql_type)
    return Shape("scalar", row.name, scalar=row, driver_type=cql_type)


def cql_name(cql_type: CqlType) -> str:
    """The CQL spelling of a driver type class, for messages and Parquet field metadata."""
    try:
        return shape(cql_type).name
    except TypeError:
        return _spelling(unwrap(cql_type))


T = TypeVar("T")
Visitor = Callable[[Shape, Sequence[T]], T]


def fold(cql_type: CqlType | Shape, visit: Visitor[T]) -> T:
    """Walk a type bottom-up: ``visit(node, results of its items)`` at every node, the root's result returned.

    Raises:
        TypeError: the type has no row in the registry (see ``shape``).
    """
    root = cql_type if isinstance(cql_type, Shape) else shape(cql_type)

    def walk(node: Shape) -> T:
        return visit(node, [walk(item) for item in node.items])

    return walk(root)
