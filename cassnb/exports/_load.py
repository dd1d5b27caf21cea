"""Loading a table from a DataFrame, a CSV, Parquet or JSON Lines file: ``load``.

Every row goes through ONE prepared ``INSERT INTO ks.t (columns) VALUES (?, ...)``: values are always bound,
never written into CQL, so no value can change the statement. Inserts run ``concurrency`` at a time, and the
source is read and converted in chunks of ``batch_rows`` on a worker thread (the next chunk is prepared while
the current one is being inserted), so memory is bounded by two chunks whatever the source's size.

Reading files is the inverse of cassnb's exports (``_values`` for text and JSON, ``_arrow`` for Parquet): a
file exported by cassnb loads back to exactly the stored values.

* CSV (``.csv``, ``.csv.gz``): a header row names the columns. An *unquoted* field equal to the null marker
  (option ``null``, default empty) is a null; a quoted one is that text, so ``""`` is an empty string. Cells
  are parsed per CQL type: decimal digits, ``repr`` floats with ``NaN``/``Infinity``, ``true``/``false``,
  ``0x`` hex blobs, ISO timestamps (``...Z``; an offset is converted, no offset means UTC), ISO dates with
  expanded years, ``HH:MM:SS.nnnnnnnnn`` times, CQL duration literals, JSON collections, tuples and UDTs.
* Parquet: Arrow values by the ``_arrow`` table (uuid, decimal, varint, inet and duration as strings; tuples
  and UDTs as structs; maps as maps).
* JSON Lines: one object per line, the column names are those of the first line.
* DataFrame: pandas' nulls (``NA``, ``NaT``, ``None``; ``NaN`` except in float and double columns, where it
  is a value, as in :mod:`cassnb.frames`) are nulls; numpy scalars become Python values; ``datetime64``
  columns go to timestamps (naive means UTC) or to dates (midnight only); ``timedelta64`` to times of day.
  Integers in date, time and timestamp columns are days, nanoseconds and milliseconds since the epoch (the
  driver's own conventions); strings in uuid, decimal, date... columns are parsed as in CSV.

A null is bound as *unset* (like DSBulk's default): the column is left alone and no tombstone is written. A
row with a null primary-key column fails.

Nothing is dropped silently: a row is either written or counted as failed, with its reason (a value that
cannot be converted or bound, or a statement the server rejected). A lost connection, refused credentials,
a missing permission, an unreadable source or a cancellation stops the load once the inserts in flight
have finished; the error then says how many rows were written and the row number before which every row
was written or failed, to load again from (inserts are idempotent, so repeating some rows is harmless).
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import gzip
import ipaddress
import json
import os
import re
import time
import uuid
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

import numpy as np
import pandas as pd
from cassandra import cqltypes
from cassandra.query import UNSET_VALUE
from cassandra.util import Date, Duration, OrderedMap, Time

from cassnb.exceptions import (
    AuthenticationError,
    CassnbError,
    ConfigurationError,
    ConnectionError,
    UnauthorizedError,
)
from cassnb.exports._formats import CsvOptions, ExportFormat, parse_options
from cassnb.exports._pipeline import _settle, format_for
from cassnb.exports._values import CqlType, json_form, millis_from_epoch, unsupported, unwrap
from cassnb.progress import ProgressReporter, ProgressSpec, choose_progress

if TYPE_CHECKING:
    from cassnb.session import AsyncSession

__all__ = ("LoadReport", "json_decoder", "load", "text_parser", "value_coercer")

Parser = Callable[[Any], Any]  # one non-null source value -> the value bound for its column
Columns: TypeAlias = list[list[Any]]

MAX_LISTED_FAILURES = 100
_CSV_BLOCK_BYTES = 1 << 20  # how much of a CSV file pyarrow parses at a time
_PROGRESS_EVERY = 250  # rows between progress updates while a chunk is being inserted
# Errors after which every further row would fail the same way: the load stops instead of counting them.
_FATAL = (ConnectionError, AuthenticationError, UnauthorizedError)

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
_NAME = r'[A-Za-z][A-Za-z0-9_]*|"(?:[^"]|"")+"'
_TABLE_NAME = re.compile(rf"(?:({_NAME})\.)?({_NAME})")
_INT_TEXT = re.compile(r"[+-]?[0-9]+")
_NUMBER_TEXT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_NON_FINITE = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}
_HEX_TEXT = re.compile(r"0[xX]((?:[0-9a-fA-F]{2})*)")
_DATE_TEXT = re.compile(r"([+-]?)([0-9]{4,})-([0-9]{2})-([0-9]{2})")
_TIME_TEXT = re.compile(r"([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?")
_DURATION_TEXT = re.compile(r"-?(?:[0-9]+(?:mo|ms|us|µs|ns|y|d|h|m|s))+")
_DURATION_PART = re.compile(r"([0-9]+)(mo|ms|us|µs|ns|y|d|h|m|s)")


@dataclass(frozen=True)
class LoadReport:
    """What ``load`` did.

    Attributes:
        table: ``keyspace.table``.
        rows_written: rows the server acknowledged.
        rows_failed: rows not written: a value could not be converted or bound, or the server refused it.
        failures: ``(row_number, reason)`` of the first failed rows (at most 100), by row number. Row numbers
            count the source's data rows from 0: a DataFrame's ``iloc`` position, the first line after a
            CSV header, the first line of a JSON Lines file.
        seconds: wall time.
        stopped: the Stop button (or another ``stop_requested`` reporter) ended the load after a chunk;
            later rows were not read.
    """

    table: str
    rows_written: int
    rows_failed: int
    failures: tuple[tuple[int, str], ...]
    seconds: float
    stopped: bool = False

    @property
    def rows_per_second(self) -> float:
        return self.rows_written / self.seconds if self.seconds > 0 else 0.0

    @property
    def failures_not_listed(self) -> int:
        """How many failed rows ``failures`` leaves out (it keeps the first 100)."""
        return self.rows_failed - len(self.failures)

    def __str__(self) -> str:
        failed = f", {self.rows_failed:,} failed" if self.rows_failed else ""
        stopped = " (stopped before the end of the source)" if self.stopped else ""
        return (
            f"{self.rows_written:,} rows -> {self.table}{failed} in {self.seconds:.2f} s, "
            f"{self.rows_per_second:,.0f} rows/s{stopped}"
        )


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


# --- sources: each yields chunks of converted columns ------------------------------------------------------


@dataclass
class _Chunk:
    first_row: int  # the row number of the chunk's first row
    size: int
    columns: Columns  # converted values, one list per target column; None for nulls and failed cells
    bad: dict[int, str]  # index within the chunk -> why that row cannot be written


class _Source(Protocol):
    names: list[str]

    def chunks(
        self, positions: Sequence[int], columns: Sequence[_Column], batch_rows: int
    ) -> Generator[_Chunk, None, None]:
        """Chunks of ``batch_rows`` rows of the source columns at ``positions``, converted for ``columns``."""


class _FrameSource:
    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self.names = [str(name) for name in frame.columns]
        strange = [name for name in frame.columns if not isinstance(name, str)]
        if strange:
            raise ConfigurationError(f"DataFrame column names must be strings (table columns), got {strange!r}")

    def chunks(
        self, positions: Sequence[int], columns: Sequence[_Column], batch_rows: int
    ) -> Generator[_Chunk, None, None]:
        for start in range(0, len(self.frame), batch_rows):
            part = self.frame.iloc[start : start + batch_rows]
            bad: dict[int, str] = {}
            converted = [_frame_column(part.iloc[:, at], c, bad) for at, c in zip(positions, columns, strict=True)]
            yield _Chunk(start, len(part), converted, bad)


def _rechunk(batches: Iterable[Any], size: int) -> Iterator[Any]:
    """Arrow record batches regrouped into tables of exactly ``size`` rows (the last one may be shorter)."""
    import pyarrow as pa

    held: list[Any] = []
    rows = 0
    for batch in batches:
        held.append(batch)
        rows += batch.num_rows
        while rows >= size:
            table = pa.Table.from_batches(held)
            yield table.slice(0, size)
            rest = table.slice(size)
            held, rows = rest.to_batches(), rest.num_rows
    if rows:
        yield pa.Table.from_batches(held)


class _ArrowSource:
    """Parquet and CSV files, read as Arrow record batches."""

    names: list[str]
    path: Path

    def _tables(self, names: list[str], batch_rows: int) -> Iterator[Any]:
        raise NotImplementedError

    def _convert(self, table: Any, columns: Sequence[_Column], bad: dict[int, str]) -> Columns:
        return [_arrow_column(table.column(i).combine_chunks(), c, bad) for i, c in enumerate(columns)]

    def chunks(
        self, positions: Sequence[int], columns: Sequence[_Column], batch_rows: int
    ) -> Generator[_Chunk, None, None]:
        import pyarrow as pa

        first = 0
        tables = _rechunk(self._tables([self.names[at] for at in positions], batch_rows), batch_rows)
        while True:
            try:
                table = next(tables, None)
            except pa.ArrowInvalid as exc:  # a malformed file: a row with too many fields, bad UTF-8, ...
                raise ValueError(f"cannot read {self.path} after its first {first:,} rows: {exc}") from exc
            if table is None:
                return
            bad: dict[int, str] = {}
            yield _Chunk(first, table.num_rows, self._convert(table, columns, bad), bad)
            first += table.num_rows


class _ParquetSource(_ArrowSource):
    def __init__(self, path: Path) -> None:
        import pyarrow.parquet as pq

        self.path = path
        self.names = list(pq.read_schema(path).names)

    def _tables(self, names: list[str], batch_rows: int) -> Iterator[Any]:
        import pyarrow.parquet as pq

        with pq.ParquetFile(self.path) as file:
            yield from file.iter_batches(batch_size=batch_rows, columns=names)


class _CsvSource(_ArrowSource):
    """CSV through ``pyarrow.csv``, which tells a quoted field from an unquoted one (null vs empty string)."""

    def __init__(self, path: Path, gzipped: bool, options: CsvOptions) -> None:
        self.path, self.gzipped, self.options = path, gzipped, options
        opener: Any = gzip.open if gzipped else open
        with opener(path, "rt", encoding="utf-8-sig", newline="") as file:
            try:
                header = next(csv.reader(file, delimiter=options.delimiter), None)
            except csv.Error as exc:
                raise ConfigurationError(f"cannot read the header row of {path}: {exc}") from exc
        if not header:
            raise ConfigurationError(f"{path} is empty: a CSV source starts with a header row naming the columns")
        self.names = header

    def _tables(self, names: list[str], batch_rows: int) -> Iterator[Any]:
        import pyarrow as pa
        import pyarrow.csv as pacsv

        reader = pacsv.open_csv(
            pa.input_stream(self.path, compression="gzip" if self.gzipped else None),
            read_options=pacsv.ReadOptions(skip_rows=1, column_names=self.names, block_size=_CSV_BLOCK_BYTES),
            parse_options=pacsv.ParseOptions(
                delimiter=self.options.delimiter, newlines_in_values=True, ignore_empty_lines=False
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()),
                include_columns=names,
                null_values=[self.options.null],
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,  # quoted: text, even when it reads like the marker
            ),
        )
        with reader:
            yield from reader

    def _convert(self, table: Any, columns: Sequence[_Column], bad: dict[int, str]) -> Columns:
        return [
            c.convert(table.column(i).to_pylist(), c.parse_text, bad, missing=_is_none) for i, c in enumerate(columns)
        ]


def _is_none(value: Any) -> bool:
    return value is None


class _JsonlSource:
    """JSON Lines: the keys of the first object name the columns; blank lines are skipped."""

    def __init__(self, path: Path, gzipped: bool) -> None:
        self.path, self.gzipped = path, gzipped
        with self._open() as file:
            first = next((line for line in file if line.strip()), None)
        if first is None:
            raise ConfigurationError(f"{path} is empty: no JSON object to take the column names from")
        try:
            names = json.loads(first)
        except ValueError as exc:
            raise ConfigurationError(f"the first line of {path} is not JSON: {exc}") from exc
        if not isinstance(names, dict) or not names:
            raise ConfigurationError(f"the first line of {path} is not a JSON object with the columns as keys")
        self.names = list(names)

    def _open(self) -> Any:
        opener: Any = gzip.open if self.gzipped else open
        return opener(self.path, "rt", encoding="utf-8", newline="")

    def chunks(
        self, positions: Sequence[int], columns: Sequence[_Column], batch_rows: int
    ) -> Generator[_Chunk, None, None]:
        names = [self.names[at] for at in positions]
        known = set(self.names)
        first = 0
        with self._open() as file:
            lines = (line for line in file if line.strip())
            while batch := [line for _, line in zip(range(batch_rows), lines, strict=False)]:
                bad: dict[int, str] = {}
                objects = [self._object(line, known, index, bad) for index, line in enumerate(batch)]
                cells = [[obj.get(name) for obj in objects] for name in names]
                converted = [
                    c.convert(values, c.decode_json, bad, missing=_is_none)
                    for values, c in zip(cells, columns, strict=True)
                ]
                yield _Chunk(first, len(batch), converted, bad)
                first += len(batch)

    @staticmethod
    def _object(line: str, known: set[str], index: int, bad: dict[int, str]) -> dict[str, Any]:
        try:
            value = json.loads(line)
        except ValueError as exc:
            bad[index] = f"not JSON: {exc}"
            return {}
        if not isinstance(value, dict):
            bad[index] = f"not a JSON object: {_show(value)}"
            return {}
        extra = [name for name in value if name not in known]
        if extra:
            bad[index] = f"field(s) {', '.join(map(repr, extra))} not in the first line's columns"
        return value


def _open_source(source: Any, format: str | None, options: dict[str, Any]) -> _Source:
    """Inspect the source (blocking: runs in a thread) and return a reader for it."""
    if isinstance(source, pd.DataFrame):
        if format is not None or options:
            raise ConfigurationError("format and format options apply to files, not to a DataFrame source")
        return _FrameSource(source)
    if not isinstance(source, str | os.PathLike):
        raise ConfigurationError(
            f"cannot load from a {type(source).__name__}: pass a pandas DataFrame or the path of a .csv, "
            ".csv.gz, .parquet, .jsonl or .jsonl.gz file"
        )
    path = Path(source)
    try:
        file_format = format_for(path, format)
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None
    if file_format in (ExportFormat.CSV, ExportFormat.CSV_GZ):
        csv_options = parse_options(file_format, options)
        assert isinstance(csv_options, CsvOptions)
        _require_pyarrow(file_format)
        return _CsvSource(path, file_format.gzipped, csv_options)
    if options:
        raise TypeError(f"loading {file_format.value} takes no options, got {', '.join(sorted(options))}")
    if file_format is ExportFormat.PARQUET:
        _require_pyarrow(file_format)
        return _ParquetSource(path)
    return _JsonlSource(path, file_format.gzipped)


def _require_pyarrow(file_format: ExportFormat) -> None:
    """CSV is read with pyarrow.csv (it tells quoted fields from unquoted ones: "" from null), Parquet too."""
    try:
        import pyarrow  # noqa: F401
    except ImportError as exc:
        raise ImportError(f"loading {file_format.value} needs pyarrow: pip install 'cassnb[parquet]'") from exc


# --- the table -------------------------------------------------------------------------------------------


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _parse_table_name(table: str, session_keyspace: str | None) -> tuple[str, str]:
    """``ks.table`` or ``table`` -> the real (case-resolved) keyspace and table names."""
    match = _TABLE_NAME.fullmatch(table) if isinstance(table, str) else None
    if match is None:
        raise ConfigurationError(
            f"invalid table name {table!r}: write table or keyspace.table, each a letter followed by "
            'letters, digits and underscores, or a double-quoted name such as "MyTable"'
        )

    def real(name: str) -> str:
        return name[1:-1].replace('""', '"') if name.startswith('"') else name.lower()

    if match[1] is None:
        if session_keyspace is None:
            raise ConfigurationError(
                f"the session has no keyspace: name the table's keyspace as well, e.g. 'my_keyspace.{table}'"
            )
        return session_keyspace, real(match[2])
    return real(match[1]), real(match[2])


def _find_table(metadata: Any, keyspace: str, table: str) -> Any:
    found = metadata.keyspaces.get(keyspace)
    return None if found is None else found.tables.get(table)


async def _table_metadata(session: AsyncSession, keyspace: str, table: str) -> Any:
    cluster = session.cluster
    found = _find_table(cluster.metadata, keyspace, table)
    if found is None:  # perhaps created a moment ago, by another client: ask the server
        await asyncio.to_thread(cluster.driver_cluster.refresh_table_metadata, keyspace, table)
        found = _find_table(cluster.metadata, keyspace, table)
    if found is not None:
        return found
    known = cluster.metadata.keyspaces.get(keyspace)
    if known is None:
        raise ConfigurationError(f"keyspace {keyspace!r} does not exist, so table {keyspace}.{table} does not")
    hint = next(
        (
            f'; did you mean "{name}" (quote names with capitals)?'
            for name in known.tables
            if name.lower() == table.lower()
        ),
        "",
    )
    raise ConfigurationError(f"table {keyspace}.{table} does not exist{hint}")


def _choose_columns(
    source_names: Sequence[str], wanted: Sequence[str] | None, table_meta: Any, qualified: str
) -> list[int]:
    """Positions of the source columns to load: each must be a column of the table, and all keys present."""
    if len(set(source_names)) != len(source_names):
        twice = sorted({name for name in source_names if source_names.count(name) > 1})
        raise ConfigurationError(f"the source has more than one column named {', '.join(map(repr, twice))}")
    if wanted is None:
        chosen = list(source_names)
    else:
        if isinstance(wanted, str) or not all(isinstance(name, str) for name in wanted):
            raise ConfigurationError(f"columns= must be a list of column names, got {wanted!r}")
        absent = [name for name in wanted if name not in source_names]
        if absent:
            raise ConfigurationError(f"the source has no column {', '.join(map(repr, absent))} (columns=)")
        chosen = list(dict.fromkeys(wanted))
    unknown = [name for name in chosen if name not in table_meta.columns]
    if unknown:
        raise ConfigurationError(
            f"table {qualified} has no column {', '.join(map(repr, unknown))}; its columns are "
            f"{', '.join(table_meta.columns)} (pass columns=[...] to load only some source columns)"
        )
    keys = [column.name for column in table_meta.primary_key]
    missing = [name for name in keys if name not in chosen]
    if missing:
        raise ConfigurationError(
            f"the source has no value for the primary-key column(s) {', '.join(map(repr, missing))} of {qualified}"
        )
    counters = [name for name in chosen if table_meta.columns[name].cql_type == "counter"]
    if counters:
        raise ConfigurationError(
            f"{qualified} is a counter table ({', '.join(counters)}): counters only change by UPDATE ... "
            "SET c = c + n, which load does not do"
        )
    return [source_names.index(name) for name in chosen]


# --- inserting -------------------------------------------------------------------------------------------


class _Tally:
    def __init__(self, reporter: ProgressReporter) -> None:
        self.reporter = reporter
        self.written = self.failed = self.batches = 0
        self.failures: list[tuple[int, str]] = []
        self.resume_from = 0  # no row at or after this one was attempted yet

    def fail(self, row: int, reason: str) -> None:
        self.failed += 1
        if len(self.failures) < MAX_LISTED_FAILURES:
            self.failures.append((row, reason))

    def tick(self, *, force: bool = False) -> None:
        done = self.written + self.failed
        if force or done % _PROGRESS_EVERY == 0:
            self.reporter.update(done, self.batches, f"{self.failed:,} failed" if self.failed else "")

    def summary(self, qualified: str) -> str:
        return (
            f"loading into {qualified} stopped after writing {self.written:,} rows ({self.failed:,} failed); "
            f"every row before row number {self.resume_from:,} was written or failed: load again from there"
        )


def _rows(chunk: _Chunk, columns: Sequence[_Column]) -> list[tuple[int, tuple[Any, ...]]]:
    """The chunk's writable rows as ``(row_number, values)``; nulls become unset, null keys fail the row."""
    for values, column in zip(chunk.columns, columns, strict=True):
        if column.is_key:
            if None in values:
                for index, value in enumerate(values):
                    if value is None:
                        chunk.bad.setdefault(index, f"primary-key column {column.name!r} is null")
        elif None in values:
            values[:] = [UNSET_VALUE if value is None else value for value in values]
    bad = chunk.bad
    first = chunk.first_row
    return [(first + index, row) for index, row in enumerate(zip(*chunk.columns, strict=True)) if index not in bad]


async def _insert(
    session: AsyncSession,
    insert: Any,
    rows: list[tuple[int, tuple[Any, ...]]],
    end_row: int,
    concurrency: int,
    tally: _Tally,
) -> BaseException | None:
    """Insert ``rows`` with at most ``concurrency`` in flight; return the error that stopped it, if any.

    Rows are taken in order. When the insert stops, the inserts in flight are awaited, and
    ``tally.resume_from`` is set so that every row before it has been written or counted as failed: the
    first row not sent, or an earlier one whose insert was cut off (it may or may not have been applied).
    """
    position = 0
    halt: list[BaseException] = []
    uncertain: list[int] = []
    cancelled = False

    async def worker() -> None:
        nonlocal position
        while position < len(rows) and not halt and not cancelled:
            row_number, values = rows[position]
            position += 1
            try:
                await session.execute(insert, values)
            except _FATAL as exc:
                halt.append(exc)
                uncertain.append(row_number)
            except CassnbError as exc:  # this row: a value the server or the driver would not take
                tally.fail(row_number, str(exc))
            except Exception as exc:  # not expected from execute(): stop rather than count it per row
                halt.append(exc)
                uncertain.append(row_number)
            else:
                tally.written += 1
            tally.tick()

    workers = asyncio.gather(*(worker() for _ in range(min(concurrency, len(rows)))))
    try:
        await asyncio.shield(workers)
    except asyncio.CancelledError:
        cancelled = True  # let the inserts in flight finish, so the counts are exact
        await _settle(workers)
        raise
    finally:
        tally.resume_from = min([*uncertain, rows[position][0] if position < len(rows) else end_row])
    return halt[0] if halt else None


def _check_positive(name: str, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigurationError(f"{name} must be a positive integer, got {value!r}")
    return value


async def load(
    session: AsyncSession,
    table: str,
    source: Any,
    *,
    concurrency: int = 64,
    format: str | None = None,
    columns: Sequence[str] | None = None,
    progress: ProgressSpec = "auto",
    batch_rows: int = 5000,
    **format_options: Any,
) -> LoadReport:
    """Insert every row of ``source`` into ``table``, with bounded concurrency and memory.

    Args:
        session: an open session.
        table: ``"keyspace.table"``, or ``"table"`` in the session's keyspace; unquoted names are
            case-insensitive, double-quoted ones exact.
        source: a pandas DataFrame, or the path of a ``.csv``, ``.csv.gz``, ``.parquet``, ``.jsonl`` or
            ``.jsonl.gz`` file (the module docstring gives the value rules of each).
        concurrency: inserts in flight at once.
        format: the file format when the suffix does not tell it (``csv``, ``csv.gz``, ``parquet``, ...).
        columns: the source columns to load (default: all); each must be a column of the table.
        progress: ``"auto"``, ``"text"``, ``"widget"``, ``"static"``, ``False`` or a reporter; Stop ends the
            load after the current chunk (the report then says ``stopped``).
        batch_rows: rows read and converted at a time.
        **format_options: CSV: ``delimiter`` (``,``) and ``null`` (the null marker, default empty).

    Returns:
        A ``LoadReport``: rows written, rows failed and why (the first 100), time and rate.

    Raises:
        ConfigurationError: a bad table name, a table that does not exist, source columns the table lacks,
            missing primary-key columns, a counter table, an unknown format, a bad argument.
        TypeError: a format option the format does not take.
        FileNotFoundError: no such source file.
        ConnectionError, AuthenticationError, UnauthorizedError: the load stopped, once the inserts in
            flight had finished; the message says how many rows were written and the row number before
            which every row was written or failed (load again from there: inserts are idempotent). An
            unreadable source or a cancellation stops the load the same way, with the same information
            added to the exception as a note.
    """
    concurrency = _check_positive("concurrency", concurrency)
    batch_rows = _check_positive("batch_rows", batch_rows)
    keyspace, name = _parse_table_name(table, session.keyspace)
    qualified = f"{keyspace}.{name}"
    reporter = choose_progress(progress)
    table_meta = await _table_metadata(session, keyspace, name)
    reader = await asyncio.to_thread(_open_source, source, format, dict(format_options))
    positions = _choose_columns(reader.names, columns, table_meta, qualified)
    names = [reader.names[at] for at in positions]
    insert = await session.prepare(
        f"INSERT INTO {_quote(keyspace)}.{_quote(name)} ({', '.join(map(_quote, names))}) "
        f"VALUES ({', '.join('?' * len(names))})"
    )
    insert.is_idempotent = True  # the same values written twice give the same row: safe to retry
    keys = {column.name for column in table_meta.primary_key}
    targets = [_Column(meta.name, meta.type, meta.name in keys) for meta in insert.column_metadata]
    started = time.perf_counter()
    tally = _Tally(reporter)
    reporter.start(f"loading into {qualified}")
    stopped = explained = False
    chunks = reader.chunks(positions, targets, batch_rows)
    pending: asyncio.Future[_Chunk | None] = asyncio.ensure_future(asyncio.to_thread(next, chunks, None))
    try:
        while (chunk := await pending) is not None:
            # Read and convert the next chunk while this one is being inserted.
            pending = asyncio.ensure_future(asyncio.to_thread(next, chunks, None))
            rows = _rows(chunk, targets)
            for index, reason in sorted(chunk.bad.items()):
                tally.fail(chunk.first_row + index, reason)
            end_row = chunk.first_row + chunk.size
            error = await _insert(session, insert, rows, end_row, concurrency, tally)
            if error is not None:
                if isinstance(error, CassnbError):
                    explained = True
                    raise type(error)(f"{error}; {tally.summary(qualified)}") from error
                raise error
            tally.batches += 1
            tally.tick(force=True)
            if reporter.stop_requested:
                stopped = True
                break
    except BaseException as exc:
        reporter.fail("interrupted" if isinstance(exc, asyncio.CancelledError | KeyboardInterrupt) else "error")
        if not explained:
            exc.add_note(tally.summary(qualified))
        raise
    finally:
        await _settle(pending)  # a chunk being read on a worker thread must end before the file closes
        chunks.close()
    if stopped:
        reporter.fail("stopped")
    else:
        reporter.finish()
    return LoadReport(
        qualified,
        tally.written,
        tally.failed,
        tuple(sorted(tally.failures)),
        time.perf_counter() - started,
        stopped,
    )
