"""Lossless text and JSON encodings of CQL values, compiled once per column.

An export touches every cell, so the type of a column is looked at once, when the encoders are built, and
never again per cell: ``text_encoders(column_types)`` returns one plain function per column and the writers
only ever call those. ``None`` (CQL null) is handled by the writers, so an encoder is only given real values.

Two encodings are defined: text (CSV cells and map keys) and JSON (JSON Lines values and everything inside
a collection, tuple or UDT). A JSON Lines value is derived from the column's text by its ``JsonForm``, so
both columns of this table always agree. Every rule is chosen so the original value can be rebuilt exactly:

==========================  ===============================  ===============================
CQL type                    text (CSV cell)                  JSON value
==========================  ===============================  ===============================
tinyint smallint int        decimal digits                   number
bigint counter              decimal digits                   number
varint                      decimal digits (any size)        string (no parser rounds it)
decimal                     ``str(Decimal)``, e.g. ``1E+3``  string (scale is unbounded)
float double                ``repr``: shortest round-trip;   number; non-finite values as the
                            ``NaN``, ``Infinity``,           strings ``"NaN"``, ``"Infinity"``,
                            ``-Infinity``                    ``"-Infinity"`` (JSON has none)
boolean                     ``true`` / ``false``             ``true`` / ``false``
text ascii varchar          the string itself                string
blob                        ``0x`` + lowercase hex           string, same text
uuid timeuuid               canonical ``8-4-4-4-12`` hex     string, same text
inet                        address as the driver prints it  string, same text
timestamp                   ``2024-01-02T03:04:05.123Z``     string, same text
date                        ``YYYY-MM-DD``; outside years    string, same text
                            1-9999 ISO 8601 expanded years:
                            ``+10000-01-01``, ``-0099-01-01``
                            (astronomical: year 0 is 1 BC)
time                        ``HH:MM:SS.nnnnnnnnn``           string, same text
duration                    CQL literal, units y mo d h m s  string, same text
                            ms us ns, zero units left out,
                            e.g. ``1y2mo3d4h``; zero is
                            ``0s``; negative ``-1d``
list set vector             JSON array (compact)             array
tuple                       JSON array                       array, null for missing items
user-defined type           JSON object by field name        object
map                         JSON object                      object; keys are the *text*
                                                             encoding of the key, so
                                                             ``map<int, text>`` gives
                                                             ``{"1": "a"}``
==========================  ===============================  ===============================

Timestamps are milliseconds in CQL; the driver hands them over as naive UTC ``datetime`` objects built
through a float, so they are rounded to the nearest millisecond rather than truncated. Aware datetimes
(from hand-made pages) are converted to UTC first. ``float`` values are the driver's widening of the
stored 32-bit value, printed with ``repr`` so the exact float32 is recovered by rounding back.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from cassandra import cqltypes

# A driver type class from ``cassandra.cqltypes``; the driver ships no type information for them.
CqlType = Any
JsonValue = None | bool | int | float | str | list["JsonValue"] | dict[str, "JsonValue"]
TextEncoder = Callable[[Any], str]
JsonEncoder = Callable[[Any], JsonValue]

_EPOCH = datetime(1970, 1, 1)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_MAX_ORDINAL = date.max.toordinal()
_DAYS_PER_400_YEARS = 146_097  # the Gregorian calendar repeats exactly every 400 years
_HALF_MS = timedelta(microseconds=500)
_ONE_MS = timedelta(milliseconds=1)
_NANOS_PER_SECOND = 1_000_000_000
_DURATION_NANO_UNITS = (
    ("h", 3_600 * _NANOS_PER_SECOND),
    ("m", 60 * _NANOS_PER_SECOND),
    ("s", _NANOS_PER_SECOND),
    ("ms", 1_000_000),
    ("us", 1_000),
    ("ns", 1),
)
_BOOL_TEXT = {True: "true", False: "false"}
_to_json_text = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


def identity(value: Any) -> Any:
    """Encoder for values that already are their own encoding; writers test for it and skip the call."""
    return value


def unwrap(cql_type: CqlType) -> CqlType:
    """Strip ``frozen<...>`` (and a clustering-order ``ReversedType``): they do not change the value."""
    while issubclass(cql_type, cqltypes.FrozenType | cqltypes.ReversedType):
        (cql_type,) = cql_type.subtypes
    return cql_type


def cql_name(cql_type: CqlType) -> str:
    """The CQL spelling of a driver type class, for messages and Parquet field metadata."""
    cql_type = unwrap(cql_type)
    if issubclass(cql_type, cqltypes.VectorType):
        return f"vector<{cql_name(cql_type.subtype)}, {cql_type.vector_size}>"
    if issubclass(cql_type, cqltypes.UserType):
        return str(cql_type.typename)
    if issubclass(cql_type, cqltypes.TupleType):
        return f"tuple<{', '.join(cql_name(sub) for sub in cql_type.subtypes)}>"
    if cql_type.subtypes:  # list, set, map
        return f"{cql_type.typename}<{', '.join(cql_name(sub) for sub in cql_type.subtypes)}>"
    return str(cql_type.typename)


def unsupported(cql_type: CqlType) -> TypeError:
    return TypeError(f"cannot export CQL type {cql_name(cql_type)!r}: cassnb has no lossless encoding for it")


# --- scalar helpers shared with the Parquet converter ---------------------------------------------------


def millis_from_epoch(value: datetime) -> int:
    """Milliseconds since 1970-01-01 UTC, rounded to the nearest millisecond."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return (value - _EPOCH + _HALF_MS) // _ONE_MS


def days_from_epoch(value: Any) -> int:
    """Days since 1970-01-01 of a driver ``cassandra.util.Date`` or a ``datetime.date``."""
    try:
        return int(value.days_from_epoch)
    except AttributeError:
        return int(value.toordinal()) - _EPOCH_ORDINAL


def nanos_of_day(value: Any) -> int:
    """Nanoseconds since midnight of a driver ``cassandra.util.Time`` or a ``datetime.time``."""
    try:
        return int(value.nanosecond_time)
    except AttributeError:
        seconds = (value.hour * 60 + value.minute) * 60 + value.second
        return int(seconds * _NANOS_PER_SECOND + value.microsecond * 1_000)


# --- scalar text encoders ---------------------------------------------------------------------------------


def float_text(value: float) -> str:
    if value - value == 0.0:  # finite: inf - inf and nan - nan are both nan
        return float.__repr__(value)
    return "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")


def float_json(value: float) -> float | str:
    return value if value - value == 0.0 else float_text(value)


def uuid_text(value: Any) -> str:
    """Canonical lowercase ``8-4-4-4-12`` form."""
    return str(value)


def _blob_text(value: bytes) -> str:
    return "0x" + value.hex()


def timestamp_text(value: datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    if value.microsecond % 1000:
        value = value + _HALF_MS  # isoformat truncates, so this rounds half up
    return value.isoformat(timespec="milliseconds") + "Z"


def _date_text(value: Any) -> str:
    ordinal = days_from_epoch(value) + _EPOCH_ORDINAL
    if 1 <= ordinal <= _MAX_ORDINAL:
        return date.fromordinal(ordinal).isoformat()
    # Outside datetime's years 1..9999: shift by whole 400-year cycles into range, then shift the year back.
    cycles, rest = divmod(ordinal - 1, _DAYS_PER_400_YEARS)
    shifted = date.fromordinal(rest + 1)
    year = shifted.year + 400 * cycles
    sign = "+" if year > 9999 else "-" if year < 0 else ""
    return f"{sign}{abs(year):04d}-{shifted.month:02d}-{shifted.day:02d}"


def _time_text(value: Any) -> str:
    seconds, nanos = divmod(nanos_of_day(value), _NANOS_PER_SECOND)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    return f"{hour:02d}:{minute:02d}:{second:02d}.{nanos:09d}"


def _duration_text(value: Any) -> str:
    months, days, nanos = value.months, value.days, value.nanoseconds
    negative = months < 0 or days < 0 or nanos < 0  # CQL stores all three parts with one sign
    months, days, nanos = abs(months), abs(days), abs(nanos)
    years, months = divmod(months, 12)
    parts = [f"{count}{unit}" for count, unit in ((years, "y"), (months, "mo"), (days, "d")) if count]
    for unit, size in _DURATION_NANO_UNITS:
        count, nanos = divmod(nanos, size)
        if count:
            parts.append(f"{count}{unit}")
    text = "".join(parts) or "0s"
    return "-" + text if negative else text


# How a column's text encoding becomes its JSON Lines value: "token" when the text already is JSON (numbers,
# booleans, collections), "string" when the JSON value is that text as a string, "float" for a number whose
# non-finite spellings must become strings.
JsonForm = Literal["token", "string", "float"]

# typename -> (text encoder, JSON encoder, JSON form); ``str`` is the exact text of the remaining types.
_SCALARS: dict[str, tuple[TextEncoder, JsonEncoder, JsonForm]] = {
    "tinyint": (str, identity, "token"),
    "smallint": (str, identity, "token"),
    "int": (str, identity, "token"),
    "bigint": (str, identity, "token"),
    "counter": (str, identity, "token"),
    "varint": (str, str, "string"),
    "decimal": (str, str, "string"),
    "float": (float_text, float_json, "float"),
    "double": (float_text, float_json, "float"),
    "boolean": (_BOOL_TEXT.__getitem__, identity, "token"),
    "text": (identity, identity, "string"),
    "varchar": (identity, identity, "string"),
    "ascii": (identity, identity, "string"),
    "blob": (_blob_text, _blob_text, "string"),
    "uuid": (uuid_text, uuid_text, "string"),
    "timeuuid": (uuid_text, uuid_text, "string"),
    "inet": (str, str, "string"),
    "timestamp": (timestamp_text, timestamp_text, "string"),
    "date": (_date_text, _date_text, "string"),
    "time": (_time_text, _time_text, "string"),
    "duration": (_duration_text, _duration_text, "string"),
}


def _scalar(cql_type: CqlType) -> tuple[TextEncoder, JsonEncoder, JsonForm] | None:
    """The table entry of a scalar type (``None`` for collections, tuples, UDTs and vectors)."""
    if issubclass(cql_type, cqltypes.TupleType | cqltypes.VectorType):
        return None  # a UDT's typename is user-chosen and must not be looked up
    return _SCALARS.get(cql_type.typename)


# --- builders ---------------------------------------------------------------------------------------------


def _nullable(encode: JsonEncoder) -> JsonEncoder:
    """Collections, tuples and UDTs may hold nulls; their items go through this."""
    if encode is identity:
        return identity
    return lambda value: None if value is None else encode(value)


def udt_values(value: Any, names: Sequence[str]) -> Sequence[Any]:
    """A UDT value positionally: the driver gives (named) tuples, a registered class gives attributes."""
    return value if isinstance(value, tuple) else [getattr(value, name, None) for name in names]


def json_encoder(cql_type: CqlType) -> JsonEncoder:
    """Return a function mapping a non-null value of ``cql_type`` to a JSON-ready Python value.

    Raises:
        TypeError: the type has no lossless encoding (custom types).
    """
    cql_type = unwrap(cql_type)
    if issubclass(cql_type, cqltypes.VectorType):
        item = _nullable(json_encoder(cql_type.subtype))
        return lambda value: [item(x) for x in value]
    if issubclass(cql_type, cqltypes.UserType):
        names = tuple(cql_type.fieldnames)
        fields = [_nullable(json_encoder(sub)) for sub in cql_type.subtypes]
        return lambda value: {
            name: encode(x) for name, encode, x in zip(names, fields, udt_values(value, names), strict=False)
        }
    if issubclass(cql_type, cqltypes.TupleType):
        items = [_nullable(json_encoder(sub)) for sub in cql_type.subtypes]
        return lambda value: [encode(x) for encode, x in zip(items, value, strict=False)]
    if issubclass(cql_type, cqltypes.MapType):
        key_type, value_type = cql_type.subtypes
        key = text_encoder(key_type)
        item = _nullable(json_encoder(value_type))
        return lambda value: {key(k): item(v) for k, v in value.items()}
    if issubclass(cql_type, cqltypes.ListType | cqltypes.SetType):
        (element_type,) = cql_type.subtypes
        item = _nullable(json_encoder(element_type))
        if item is identity:
            return list
        return lambda value: [item(x) for x in value]
    scalar = _scalar(cql_type)
    if scalar is None:
        raise unsupported(cql_type)
    return scalar[1]


def text_encoder(cql_type: CqlType) -> TextEncoder:
    """Return a function mapping a non-null value of ``cql_type`` to its text form (a CSV cell).

    Scalars get their direct form; collections, tuples, UDTs and vectors become compact JSON text.

    Raises:
        TypeError: the type has no lossless encoding (custom types).
    """
    cql_type = unwrap(cql_type)
    scalar = _scalar(cql_type)
    if scalar is not None:
        return scalar[0]
    to_json = json_encoder(cql_type)
    return lambda value: _to_json_text(to_json(value))


def json_form(cql_type: CqlType) -> JsonForm:
    """How the column's text encoding turns into its JSON value (see ``JsonForm``)."""
    scalar = _scalar(unwrap(cql_type))
    return "token" if scalar is None else scalar[2]


def text_encoders(column_types: Sequence[type]) -> list[TextEncoder]:
    """One text encoder per column, built once per export."""
    return [text_encoder(cql_type) for cql_type in column_types]
