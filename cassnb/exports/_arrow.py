"""CQL types as Arrow types, and page columns as Arrow arrays.

==========================  =======================================  =======================================
CQL type                    Arrow type                               note
==========================  =======================================  =======================================
tinyint smallint int        int8 int16 int32
bigint counter              int64
float double                float32 float64
boolean                     bool
text ascii varchar          string
blob                        binary
uuid timeuuid               string                                   canonical 8-4-4-4-12 form
timestamp                   timestamp[ms, tz=UTC]                    rounded to the millisecond
date                        date32                                   days since 1970-01-01, full CQL range
time                        time64[ns]
decimal                     string                                   ``str(Decimal)``; CQL decimals have an
                                                                     unbounded scale, Arrow decimals do not
varint                      string                                   unbounded, like decimal
inet duration               string                                   as in the text encoding of ``_values``
list<T> set<T>              list<T>
map<K, V>                   map<K, V>
tuple<A, B, ...>            struct<f0: A, f1: B, ...>
user-defined type           struct with the UDT's field names
vector<T, n>                fixed_size_list<T>[n]                    e.g. vector<float, 3> -> float32 x 3
frozen<T>                   as T
==========================  =======================================  =======================================

Every field carries its CQL type in the field metadata under ``cql_type`` (e.g. ``decimal``), so a reader
can tell a decimal string from a text column.

Conversion is column-wise: ``pa.array`` takes a whole column in one call. Types whose Python values pyarrow
already accepts (numbers, strings, bytes, booleans) pass straight through; the others are normalised per
value first (a UUID to its string, a ``cassandra.util.Date`` to its day number, ...).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from cassandra import cqltypes

from cassnb.exports._columns import encode_column
from cassnb.exports._values import (
    CqlType,
    cql_name,
    days_from_epoch,
    identity,
    millis_from_epoch,
    nanos_of_day,
    text_encoder,
    udt_values,
    unsupported,
    unwrap,
)

Normalizer = Callable[[Any], Any]
Converter = Callable[[Sequence[Any]], pa.Array]

_TIMESTAMP = pa.timestamp("ms", tz="UTC")
_TIMESTAMP_US = pa.timestamp("us", tz="UTC")

# typename -> Arrow type and how a value becomes something pa.array takes for it (None: text encoding).
_SCALARS: dict[str, tuple[pa.DataType, Normalizer | None]] = {
    "tinyint": (pa.int8(), identity),
    "smallint": (pa.int16(), identity),
    "int": (pa.int32(), identity),
    "bigint": (pa.int64(), identity),
    "counter": (pa.int64(), identity),
    "float": (pa.float32(), identity),
    "double": (pa.float64(), identity),
    "boolean": (pa.bool_(), identity),
    "text": (pa.string(), identity),
    "varchar": (pa.string(), identity),
    "ascii": (pa.string(), identity),
    "blob": (pa.binary(), identity),
    "timestamp": (_TIMESTAMP, millis_from_epoch),
    "date": (pa.date32(), days_from_epoch),
    "time": (pa.time64("ns"), nanos_of_day),
    "uuid": (pa.string(), None),
    "timeuuid": (pa.string(), None),
    "decimal": (pa.string(), None),
    "varint": (pa.string(), None),
    "inet": (pa.string(), None),
    "duration": (pa.string(), None),
}


def arrow_type(cql_type: CqlType) -> pa.DataType:
    """The Arrow type a CQL type is stored as (see the module table).

    Raises:
        TypeError: the type cannot be exported.
    """
    cql_type = unwrap(cql_type)
    if issubclass(cql_type, cqltypes.VectorType):
        return pa.list_(arrow_type(cql_type.subtype), cql_type.vector_size)
    if issubclass(cql_type, cqltypes.UserType):
        return pa.struct(
            [pa.field(name, arrow_type(sub)) for name, sub in zip(cql_type.fieldnames, cql_type.subtypes, strict=True)]
        )
    if issubclass(cql_type, cqltypes.TupleType):
        return pa.struct([pa.field(f"f{i}", arrow_type(sub)) for i, sub in enumerate(cql_type.subtypes)])
    if issubclass(cql_type, cqltypes.MapType):
        key_type, value_type = cql_type.subtypes
        return pa.map_(arrow_type(key_type), arrow_type(value_type))
    if issubclass(cql_type, cqltypes.ListType | cqltypes.SetType):
        return pa.list_(arrow_type(cql_type.subtypes[0]))
    try:
        return _SCALARS[cql_type.typename][0]
    except KeyError:
        raise unsupported(cql_type) from None


def _nullable(normalize: Normalizer) -> Normalizer:
    if normalize is identity:
        return identity
    return lambda value: None if value is None else normalize(value)


def normalizer(cql_type: CqlType) -> Normalizer:
    """A function making one non-null value acceptable to ``pa.array`` for ``arrow_type(cql_type)``."""
    cql_type = unwrap(cql_type)
    if issubclass(cql_type, cqltypes.VectorType | cqltypes.ListType | cqltypes.SetType):
        element = cql_type.subtype if issubclass(cql_type, cqltypes.VectorType) else cql_type.subtypes[0]
        item = _nullable(normalizer(element))
        return identity if item is identity else (lambda value: [item(x) for x in value])
    if issubclass(cql_type, cqltypes.TupleType):  # UDTs included
        names = tuple(cql_type.fieldnames) if issubclass(cql_type, cqltypes.UserType) else ()
        fields = [_nullable(normalizer(sub)) for sub in cql_type.subtypes]
        return lambda value: tuple(
            normalize(x) for normalize, x in zip(fields, udt_values(value, names) if names else value, strict=False)
        )
    if issubclass(cql_type, cqltypes.MapType):
        key_type, value_type = cql_type.subtypes
        key, item = normalizer(key_type), _nullable(normalizer(value_type))
        return lambda value: [(key(k), item(v)) for k, v in value.items()]
    try:
        normalize = _SCALARS[cql_type.typename][1]
    except KeyError:
        raise unsupported(cql_type) from None
    return text_encoder(cql_type) if normalize is None else normalize


def _timestamp_column(values: Sequence[Any]) -> pa.Array:
    # pa.array would truncate datetimes to milliseconds; convert at microseconds, then round half up like
    # millis_from_epoch (integer arithmetic in numpy: pc.round_temporal costs several times more).
    micros = pa.array(values, type=_TIMESTAMP_US)
    ints = pc.fill_null(micros.cast(pa.int64()), 0).to_numpy()
    millis = pa.py_buffer((ints + 500) // 1000)
    return pa.Array.from_buffers(_TIMESTAMP, len(micros), [micros.buffers()[0], millis], micros.null_count)


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
