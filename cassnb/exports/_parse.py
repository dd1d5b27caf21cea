"""Source values -> driver values, per CQL type: the cell parsers and converters behind ``load``.

Each is the inverse of an export encoding: ``text_parser`` of ``_values``' text form (CSV cells),
``json_decoder`` of ``_values.json_encoder`` (JSON Lines, collections in CSV), ``value_coercer`` of Python
values (DataFrame cells, Arrow's ``to_pylist``). ``_Column`` bundles them for one target column, and
``_frame_column`` and ``_arrow_column`` convert a whole DataFrame or Arrow column at once.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
from cassandra import cqltypes
from cassandra.util import Date, Duration, OrderedMap, Time

from cassnb.exports._values import CqlType, json_form, millis_from_epoch, unsupported, unwrap

__all__ = ("bindable", "json_decoder", "text_parser", "value_coercer")

Parser = Callable[[Any], Any]  # one non-null source value -> the value bound for its column

_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()
_DAYS_PER_400_YEARS = 146_097
_NANOS_PER_SECOND = 1_000_000_000
_NANOS_PER_DAY = 86_400 * _NANOS_PER_SECOND
_DURATION_UNITS = {
    "y": ("months", 12),
    "mo": ("months", 1),
    "d": ("days", 1),
    "h": ("nanos", 3_600 * _NANOS_PER_SECOND),
    "m": ("nanos", 60 * _NANOS_PER_SECOND),
    "s": ("nanos", _NANOS_PER_SECOND),
    "ms": ("nanos", 1_000_000),
    "us": ("nanos", 1_000),
    "µs": ("nanos", 1_000),
    "ns": ("nanos", 1),
}
_INT_TEXT = re.compile(r"[+-]?[0-9]+")
_NUMBER_TEXT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_NON_FINITE = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}
_HEX_TEXT = re.compile(r"0[xX]((?:[0-9a-fA-F]{2})*)")
_DATE_TEXT = re.compile(r"([+-]?)([0-9]{4,})-([0-9]{2})-([0-9]{2})")
_TIME_TEXT = re.compile(r"([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?")
_DURATION_TEXT = re.compile(r"-?(?:[0-9]+(?:mo|ms|us|µs|ns|y|d|h|m|s))+")
_DURATION_PART = re.compile(r"([0-9]+)(mo|ms|us|µs|ns|y|d|h|m|s)")


# --- text (CSV cells, JSON strings): the inverse of _values' text encodings ------------------------------


def _parse_int(text: str) -> int:
    if not _INT_TEXT.fullmatch(text):
        raise ValueError(f"{_show(text)} is not an integer")
    return int(text)


def _parse_float(text: str) -> float:
    special = _NON_FINITE.get(text)
    if special is not None:
        return special
    if not _NUMBER_TEXT.fullmatch(text):
        raise ValueError(f"{_show(text)} is not a number")
    return float(text)


def _parse_decimal(text: str) -> Decimal:
    if not _NUMBER_TEXT.fullmatch(text):
        raise ValueError(f"{_show(text)} is not a decimal number")
    return Decimal(text)


def _parse_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered not in ("true", "false"):
        raise ValueError(f"{_show(text)} is not true or false")
    return lowered == "true"


def _parse_blob(text: str) -> bytes:
    match = _HEX_TEXT.fullmatch(text)
    if match is None:
        raise ValueError(f"{_show(text)} is not a blob: write 0x followed by pairs of hex digits")
    return bytes.fromhex(match[1])


def _parse_uuid(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise ValueError(f"{_show(text)} is not a UUID") from None


def _parse_inet(text: str) -> str:
    ipaddress.ip_address(text)  # raises ValueError naming the text
    return text


def _parse_timestamp(text: str) -> dt.datetime:
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{_show(text)} is not an ISO 8601 timestamp such as 2024-01-02T03:04:05.678Z") from None
    return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo is not None else value


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of any proleptic Gregorian date, also outside ``datetime.date``'s years."""
    cycles, year_in_cycle = divmod(year - 1, 400)  # the calendar repeats every 400 years
    ordinal = dt.date(year_in_cycle + 1, month, day).toordinal()
    return ordinal + cycles * _DAYS_PER_400_YEARS - _EPOCH_ORDINAL


def _parse_date(text: str) -> Date:
    match = _DATE_TEXT.fullmatch(text)
    if match is None:
        raise ValueError(f"{_show(text)} is not a date such as 2024-01-31")
    year = int(match[2]) * (-1 if match[1] == "-" else 1)
    return Date(_days_from_civil(year, int(match[3]), int(match[4])))


def _parse_time(text: str) -> Time:
    match = _TIME_TEXT.fullmatch(text)
    if match is None or int(match[1]) > 23 or int(match[2]) > 59 or int(match[3]) > 59:
        raise ValueError(f"{_show(text)} is not a time of day such as 13:14:15.123456789")
    seconds = (int(match[1]) * 60 + int(match[2])) * 60 + int(match[3])
    return Time(seconds * _NANOS_PER_SECOND + int((match[4] or "").ljust(9, "0")))


def _parse_duration(text: str) -> Duration:
    if not _DURATION_TEXT.fullmatch(text):
        raise ValueError(f"{_show(text)} is not a duration such as 1y2mo3d4h5m6s7ms8us9ns")
    parts = {"months": 0, "days": 0, "nanos": 0}
    for count, unit in _DURATION_PART.findall(text):
        field, size = _DURATION_UNITS[unit]
        parts[field] += int(count) * size
    sign = -1 if text.startswith("-") else 1
    return Duration(sign * parts["months"], sign * parts["days"], sign * parts["nanos"])


_TEXT_PARSERS: dict[str, Parser] = {
    "tinyint": _parse_int,
    "smallint": _parse_int,
    "int": _parse_int,
    "bigint": _parse_int,
    "counter": _parse_int,
    "varint": _parse_int,
    "decimal": _parse_decimal,
    "float": _parse_float,
    "double": _parse_float,
    "boolean": _parse_bool,
    "text": str,
    "varchar": str,
    "ascii": str,
    "blob": _parse_blob,
    "uuid": _parse_uuid,
    "timeuuid": _parse_uuid,
    "inet": _parse_inet,
    "timestamp": _parse_timestamp,
    "date": _parse_date,
    "time": _parse_time,
    "duration": _parse_duration,
}


def _scalar_name(cql_type: CqlType) -> str | None:
    """The typename of a scalar type; ``None`` for collections, tuples, UDTs (user-chosen names), vectors."""
    if issubclass(cql_type, cqltypes.TupleType | cqltypes.VectorType) or cql_type.subtypes:
        return None
    name: str = cql_type.typename
    return name


def text_parser(cql_type: CqlType) -> Parser:
    """The inverse of ``_values.text_encoder(cql_type)``: a CSV cell's text -> the value to bind.

    Raises:
        TypeError: the type has no text encoding (custom types).
    """
    cql_type = unwrap(cql_type)
    name = _scalar_name(cql_type)
    if name is not None:
        try:
            return _TEXT_PARSERS[name]
        except KeyError:
            raise unsupported(cql_type) from None
    decode = json_decoder(cql_type)
    return lambda text: decode(json.loads(text))


# --- JSON values (collections, JSON Lines): the inverse of _values.json_encoder -------------------------


def _expect(value: Any, kind: type | tuple[type, ...], what: str) -> Any:
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise TypeError(f"expected {what}, got {_show(value)}")
    return value


def _json_int(value: Any) -> int:
    return int(_expect(value, int, "an integer"))


def _json_big(parse: Parser) -> Parser:
    """varint and decimal: JSON strings (as exported); plain JSON integers are accepted as well."""

    def decode(value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return parse(str(value))
        return parse(_expect(value, str, "a JSON string"))

    return decode


def _json_float(value: Any) -> float:
    if isinstance(value, str):
        if value in _NON_FINITE:
            return _NON_FINITE[value]
        raise TypeError(f"expected a number, NaN, Infinity or -Infinity, got {_show(value)}")
    return float(_expect(value, (int, float), "a number"))


def _json_bool(value: Any) -> bool:
    return bool(_expect(value, bool, "true or false"))


def _nullable(parse: Parser) -> Parser:
    return lambda value: None if value is None else parse(value)


def _mapping(pairs: list[tuple[Any, Any]]) -> Any:
    """A dict, or the driver's ``OrderedMap`` when keys are unhashable (frozen lists, maps, UDT dicts)."""
    try:
        return dict(pairs)
    except TypeError:
        return OrderedMap(pairs)


def _positional(items: Sequence[Any], parsers: Sequence[Parser], what: str) -> tuple[Any, ...]:
    if len(items) > len(parsers):
        raise ValueError(f"{len(items)} values for a {what} of {len(parsers)}")
    padded = list(items) + [None] * (len(parsers) - len(items))
    return tuple(parse(item) for parse, item in zip(parsers, padded, strict=True))


def _by_field(fields: Mapping[str, Any], names: Sequence[str], parsers: Sequence[Parser], udt: str) -> tuple[Any, ...]:
    unknown = [name for name in fields if name not in names]
    if unknown:
        raise ValueError(f"{udt} has no field {', '.join(map(repr, unknown))} (its fields: {', '.join(names)})")
    return tuple(parse(fields.get(name)) for parse, name in zip(parsers, names, strict=True))


def json_decoder(cql_type: CqlType) -> Parser:
    """The inverse of ``_values.json_encoder(cql_type)``: a decoded JSON value -> the value to bind.

    UDTs become tuples in field order (the driver binds a UDT from a tuple, not from a dict).

    Raises:
        TypeError: the type has no JSON encoding (custom types).
    """
    cql_type = unwrap(cql_type)
    if issubclass(cql_type, cqltypes.VectorType | cqltypes.ListType | cqltypes.SetType):
        sub = cql_type.subtype if issubclass(cql_type, cqltypes.VectorType) else cql_type.subtypes[0]
        item = _nullable(json_decoder(sub))
        return lambda value: [item(x) for x in _expect(value, list, "a JSON array")]
    if issubclass(cql_type, cqltypes.UserType):
        names = tuple(cql_type.fieldnames)
        fields = [_nullable(json_decoder(sub)) for sub in cql_type.subtypes]
        udt = str(cql_type.typename)
        return lambda value: _by_field(_expect(value, dict, "a JSON object"), names, fields, udt)
    if issubclass(cql_type, cqltypes.TupleType):
        items = [_nullable(json_decoder(sub)) for sub in cql_type.subtypes]
        return lambda value: _positional(_expect(value, list, "a JSON array"), items, "tuple")
    if issubclass(cql_type, cqltypes.MapType):
        key_type, value_type = cql_type.subtypes
        key, item = text_parser(key_type), _nullable(json_decoder(value_type))
        return lambda value: _mapping([(key(k), item(v)) for k, v in _expect(value, dict, "a JSON object").items()])
    name = _scalar_name(cql_type)
    if name is None or name not in _TEXT_PARSERS:
        raise unsupported(cql_type)
    if name in ("varint", "decimal"):
        return _json_big(_TEXT_PARSERS[name])
    form = json_form(cql_type)
    if form == "float":
        return _json_float
    if form == "string":
        parse = _TEXT_PARSERS[name]
        return lambda value: parse(_expect(value, str, "a JSON string"))
    return _json_bool if name == "boolean" else _json_int


# --- Python values (DataFrame cells, Arrow's to_pylist) -> driver values ------------------------------------


def _show(value: Any) -> str:
    text = repr(value)
    text = text if len(text) <= 60 else text[:57] + "..."
    return text if isinstance(value, str) else f"{type(value).__name__} {text}"


def _as_int(value: Any) -> int:
    if type(value) is int:
        return value
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, float | np.floating | Decimal) and not isinstance(value, bool) and value == int(value):
        return int(value)  # e.g. a float column that holds whole numbers next to NaN
    raise TypeError(f"expected an integer, got {_show(value)}")


def _as_varint(value: Any) -> int:
    return _parse_int(value) if isinstance(value, str) else _as_int(value)


def _as_float(value: Any) -> float:
    if isinstance(value, float | int | np.number | Decimal) and not isinstance(value, bool | np.bool_):
        return float(value)
    raise TypeError(f"expected a number, got {_show(value)}")


def _as_decimal(value: Any) -> Decimal:
    if isinstance(value, str):
        return _parse_decimal(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"CQL decimals are finite, got {value}")
        return value
    if isinstance(value, float | np.floating) and np.isfinite(value):
        return Decimal(repr(float(value)))  # the shortest text that reads back as this float
    return Decimal(_as_int(value))


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool | np.bool_):
        return bool(value)
    raise TypeError(f"expected a boolean, got {_show(value)}")


def _as_str(value: Any) -> str:
    if isinstance(value, str):
        return str(value)
    raise TypeError(f"expected a string, got {_show(value)}")


def _as_bytes(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    raise TypeError(f"expected bytes, got {_show(value)}")


def _as_uuid(value: Any) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    if isinstance(value, str):
        return _parse_uuid(value)
    raise TypeError(f"expected a UUID or its text, got {_show(value)}")


def _as_inet(value: Any) -> str:
    if isinstance(value, ipaddress.IPv4Address | ipaddress.IPv6Address):
        return str(value)
    return _parse_inet(_as_str(value))


def _as_timestamp(value: Any) -> Any:
    if isinstance(value, dt.datetime):  # pandas Timestamps too; naive means UTC
        return millis_from_epoch(value)
    if isinstance(value, np.datetime64):
        return millis_from_epoch(pd.Timestamp(value))
    if isinstance(value, dt.date):
        return (value.toordinal() - _EPOCH_ORDINAL) * 86_400_000
    if isinstance(value, str):
        return _parse_timestamp(value)
    return _as_int(value)  # milliseconds since the epoch, as the driver takes them


def _as_date(value: Any) -> Date:
    if isinstance(value, Date):
        return value
    if isinstance(value, dt.datetime | np.datetime64):
        # Through numpy, which covers every CQL date (pandas gives datetime64[s] far outside years 1-9999).
        moment = pd.Timestamp(value)
        if moment.tzinfo is not None:
            moment = moment.tz_convert("UTC").tz_localize(None)
        instant = moment.to_datetime64()
        day = instant.astype("datetime64[D]")
        if day != instant:
            raise ValueError(f"{moment} has a time of day; a CQL date is a day only")
        return Date(int(day.astype(np.int64)))
    if isinstance(value, dt.date):
        return Date(value)
    if isinstance(value, str):
        return _parse_date(value)
    return Date(_as_int(value))  # days since 1970-01-01, like cassandra.util.Date(int)


def _nanos(value: Any) -> int:
    """Nanoseconds of a ``timedelta``, ``pd.Timedelta`` or ``np.timedelta64``."""
    if isinstance(value, pd.Timedelta | np.timedelta64):
        return int(pd.Timedelta(value).value)
    seconds = value.days * 86_400 + value.seconds
    return int(seconds * _NANOS_PER_SECOND + value.microseconds * 1_000)


def _as_time(value: Any) -> Time:
    if isinstance(value, Time):
        return value
    if isinstance(value, dt.time):
        return Time(value)
    if isinstance(value, dt.timedelta | np.timedelta64):
        nanos = _nanos(value)
        if not 0 <= nanos < _NANOS_PER_DAY:
            raise ValueError(f"{value} is not a time of day (0 up to 24 hours)")
        return Time(nanos)
    if isinstance(value, str):
        return _parse_time(value)
    return Time(_as_int(value))  # nanoseconds since midnight, like cassandra.util.Time(int)


def _as_duration(value: Any) -> Duration:
    if isinstance(value, Duration):
        return value
    if isinstance(value, dt.timedelta | np.timedelta64):
        nanos = _nanos(value)
        sign = -1 if nanos < 0 else 1
        days, rest = divmod(abs(nanos), _NANOS_PER_DAY)
        return Duration(0, sign * days, sign * rest)
    if isinstance(value, str):
        return _parse_duration(value)
    raise TypeError(f"expected a Duration, timedelta or duration text, got {_show(value)}")


_COERCERS: dict[str, Parser] = {
    "tinyint": _as_int,
    "smallint": _as_int,
    "int": _as_int,
    "bigint": _as_int,
    "counter": _as_int,
    "varint": _as_varint,
    "decimal": _as_decimal,
    "float": _as_float,
    "double": _as_float,
    "boolean": _as_bool,
    "text": _as_str,
    "varchar": _as_str,
    "ascii": _as_str,
    "blob": _as_bytes,
    "uuid": _as_uuid,
    "timeuuid": _as_uuid,
    "inet": _as_inet,
    "timestamp": _as_timestamp,
    "date": _as_date,
    "time": _as_time,
    "duration": _as_duration,
}


_NA, _NAT = pd.NA, pd.NaT
_FLOATS = frozenset({float, np.float64, np.float32, np.float16})
_NAT_TYPES = frozenset({np.datetime64, np.timedelta64})


def _is_missing(value: Any) -> bool:
    """pandas' and Python's nulls, NaN included (for every type except float and double)."""
    if value is None or value is _NA or value is _NAT:
        return True
    kind = type(value)
    if kind in _FLOATS:
        return bool(value != value)
    return kind in _NAT_TYPES and bool(np.isnat(value))


def _is_null(value: Any) -> bool:
    """Nulls for float and double columns, where NaN is a value CQL stores."""
    return value is None or value is _NA or value is _NAT


def missing_check(cql_type: CqlType) -> Callable[[Any], bool]:
    """How a value of ``cql_type`` is recognised as a null: NaN is one, except for floats and doubles."""
    return _is_null if _scalar_name(unwrap(cql_type)) in ("float", "double") else _is_missing


def _item(cql_type: CqlType) -> Parser:
    coerce, missing = value_coercer(cql_type), missing_check(cql_type)
    return lambda value: None if missing(value) else coerce(value)


def bindable(cql_type: CqlType) -> Parser:
    """Any Python value -> the value bound for a marker of ``cql_type``: pandas' and numpy's nulls (``NA``,
    ``NaT``, ``NaN`` where the type is not a float) are null, numpy scalars plain values, dicts UDTs.

    Raises ``TypeError`` or ``ValueError`` for a value that does not fit.
    """
    return _item(cql_type)


def _sequence(value: Any, what: str) -> Sequence[Any]:
    if isinstance(value, np.ndarray):
        return value.tolist()  # type: ignore[no-any-return]
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise TypeError(f"expected {what}, got {_show(value)}")
    return value if isinstance(value, Sequence) else list(value)


def _pairs(value: Any) -> Iterable[Any]:
    return value.items() if isinstance(value, Mapping) else _sequence(value, "a mapping")


def _record(value: Any, names: Sequence[str], fields: Sequence[Parser], udt: str) -> tuple[Any, ...]:
    if isinstance(value, Mapping):  # a dict, or Arrow's struct
        return _by_field(value, names, fields, udt)
    if isinstance(value, tuple | list):
        return _positional(value, fields, udt)
    return tuple(parse(getattr(value, name, None)) for parse, name in zip(fields, names, strict=True))


def value_coercer(cql_type: CqlType) -> Parser:
    """A function turning one non-null Python value into the value bound for a column of ``cql_type``.

    Takes what DataFrames and Arrow hand out: numpy scalars, pandas Timestamps and Timedeltas, text for
    uuid/decimal/varint/inet/duration/date/time/timestamp, Arrow structs (dicts) for tuples and UDTs,
    lists of pairs for maps. Raises ``TypeError`` or ``ValueError`` for a value that does not fit.
    """
    cql_type = unwrap(cql_type)
    if issubclass(cql_type, cqltypes.VectorType | cqltypes.ListType | cqltypes.SetType):
        sub = cql_type.subtype if issubclass(cql_type, cqltypes.VectorType) else cql_type.subtypes[0]
        item = _item(sub)
        return lambda value: [item(x) for x in _sequence(value, "a list")]
    if issubclass(cql_type, cqltypes.UserType):
        names = tuple(cql_type.fieldnames)
        fields = [_item(sub) for sub in cql_type.subtypes]
        udt = str(cql_type.typename)
        return lambda value: _record(value, names, fields, udt)
    if issubclass(cql_type, cqltypes.TupleType):
        items = [_item(sub) for sub in cql_type.subtypes]
        arrow_names = [f"f{i}" for i in range(len(items))]  # how _arrow names a tuple's struct fields
        return lambda value: _record(value, arrow_names, items, "tuple")
    if issubclass(cql_type, cqltypes.MapType):
        key_type, value_type = cql_type.subtypes
        key, item = _item(key_type), _item(value_type)
        return lambda value: _mapping([(key(k), item(v)) for k, v in _pairs(value)])
    name = _scalar_name(cql_type)
    if name is None or name not in _COERCERS:
        raise unsupported(cql_type)
    return _COERCERS[name]


# --- whole columns ---------------------------------------------------------------------------------------


class _Column:
    """One target column: its name, CQL type, and how a cell of each kind of source becomes a bound value."""

    def __init__(self, name: str, cql_type: CqlType, is_key: bool) -> None:
        self.name, self.cql_type, self.is_key = name, cql_type, is_key
        self.missing = missing_check(cql_type)
        self.coerce = value_coercer(cql_type)
        self.parse_text = text_parser(cql_type)
        self.decode_json = json_decoder(cql_type)
        self.typename = _scalar_name(unwrap(cql_type))

    def convert(self, values: Sequence[Any], parse: Parser, bad: dict[int, str], *, missing: Any = None) -> list[Any]:
        """Convert one column's cells; a cell that fails marks its row in ``bad`` (the first reason wins)."""
        missing = missing or self.missing
        out: list[Any] = []
        append = out.append
        for index, value in enumerate(values):
            if missing(value):
                append(None)
                continue
            try:
                append(parse(value))
            except Exception as exc:
                append(None)
                bad.setdefault(index, f"column {self.name!r}: {str(exc) or type(exc).__name__}")
        return out


def _rounded_millis(ticks: Any, unit: str, nulls: Any) -> list[Any]:
    """Epoch ticks of ``unit`` -> milliseconds rounded half up (as the exports round), nulls as None."""
    per_ms = {"s": None, "ms": 1, "us": 1_000, "ns": 1_000_000}[unit]
    millis = ticks * 1_000 if per_ms is None else (ticks + per_ms // 2) // per_ms
    result: list[Any] = millis.tolist()
    for index in np.flatnonzero(nulls):
        result[index] = None
    return result


def _frame_column(series: pd.Series, column: _Column, bad: dict[int, str]) -> list[Any]:
    dtype = series.dtype
    if column.typename == "timestamp" and dtype.kind == "M":
        if isinstance(dtype, pd.DatetimeTZDtype):
            series = series.dt.tz_convert("UTC").dt.tz_localize(None)
        array = series.to_numpy()
        unit = np.datetime_data(array.dtype)[0]
        return _rounded_millis(array.view(np.int64), unit, np.isnat(array))
    return column.convert(series.tolist(), column.coerce, bad)


def _arrow_plain(arrow_type: Any, *, ints: bool) -> Any:
    """``arrow_type`` with dates and times, at any depth, as days (int32) and nanoseconds (int64).

    to_pylist would give ``datetime.date`` (years 1-9999 only) and ``datetime.time`` (microseconds only).
    With ``ints=False`` the units are first made uniform (date32, time64[ns]), which ``cast`` then turns into
    the integers.
    """
    import pyarrow as pa

    types = pa.types
    if types.is_struct(arrow_type):
        return pa.struct(
            [
                arrow_type.field(i).with_type(_arrow_plain(arrow_type.field(i).type, ints=ints))
                for i in range(arrow_type.num_fields)
            ]
        )
    if types.is_map(arrow_type):
        return pa.map_(_arrow_plain(arrow_type.key_type, ints=ints), _arrow_plain(arrow_type.item_type, ints=ints))
    if types.is_fixed_size_list(arrow_type):
        return pa.list_(_arrow_plain(arrow_type.value_type, ints=ints), arrow_type.list_size)
    if types.is_list(arrow_type) or types.is_large_list(arrow_type):
        return pa.list_(_arrow_plain(arrow_type.value_type, ints=ints))
    if types.is_date(arrow_type):
        return pa.int32() if ints else pa.date32()
    if types.is_time(arrow_type):
        return pa.int64() if ints else pa.time64("ns")
    return arrow_type


def _arrow_column(array: Any, column: _Column, bad: dict[int, str]) -> list[Any]:
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_timestamp(array.type) and column.typename == "timestamp":
        ticks = pc.fill_null(array.cast(pa.int64()), 0).to_numpy()
        return _rounded_millis(ticks, array.type.unit, array.is_null().to_numpy(zero_copy_only=False))
    plain = _arrow_plain(array.type, ints=True)
    if plain != array.type:
        array = array.cast(_arrow_plain(array.type, ints=False)).cast(plain)
    return column.convert(array.to_pylist(), column.coerce, bad)
