"""Python values -> driver values, one scalar CQL type at a time.

What DataFrames, Arrow's ``to_pylist`` and notebook variables hand over: numpy scalars, pandas Timestamps and
Timedeltas, ``datetime`` objects, and text for uuid/decimal/varint/inet/duration/date/time/timestamp. Each
coercer takes one non-null value and returns what the driver binds, or raises ``TypeError``/``ValueError``
saying what it got. Only numpy is needed (the driver imports it anyway); pandas values are recognised by
what they offer (``to_datetime64``, ``asm8``), so binding a value never imports pandas.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import uuid
from decimal import Decimal
from typing import Any

import numpy as np
from cassandra.util import Date, Duration, Time

from ._text import (
    NANOS_PER_DAY,
    NANOS_PER_SECOND,
    millis_from_epoch,
    parse_date,
    parse_decimal,
    parse_duration,
    parse_inet,
    parse_int,
    parse_time,
    parse_timestamp,
    parse_uuid,
    show,
)

_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()


def as_int(value: Any) -> int:
    if type(value) is int:
        return value
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, float | np.floating | Decimal) and not isinstance(value, bool) and value == int(value):
        return int(value)  # e.g. a float column that holds whole numbers next to NaN
    raise TypeError(f"expected an integer, got {show(value)}")


def as_varint(value: Any) -> int:
    return parse_int(value) if isinstance(value, str) else as_int(value)


def as_float(value: Any) -> float:
    if isinstance(value, float | int | np.number | Decimal) and not isinstance(value, bool | np.bool_):
        return float(value)
    raise TypeError(f"expected a number, got {show(value)}")


def as_decimal(value: Any) -> Decimal:
    if isinstance(value, str):
        return parse_decimal(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"CQL decimals are finite, got {value}")
        return value
    if isinstance(value, float | np.floating) and np.isfinite(value):
        return Decimal(repr(float(value)))  # the shortest text that reads back as this float
    return Decimal(as_int(value))


def as_bool(value: Any) -> bool:
    if isinstance(value, bool | np.bool_):
        return bool(value)
    raise TypeError(f"expected a boolean, got {show(value)}")


def as_str(value: Any) -> str:
    if isinstance(value, str):
        return str(value)
    raise TypeError(f"expected a string, got {show(value)}")


def as_bytes(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    raise TypeError(f"expected bytes, got {show(value)}")


def as_uuid(value: Any) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    if isinstance(value, str):
        return parse_uuid(value)
    raise TypeError(f"expected a UUID or its text, got {show(value)}")


def as_inet(value: Any) -> str:
    if isinstance(value, ipaddress.IPv4Address | ipaddress.IPv6Address):
        return str(value)
    return parse_inet(as_str(value))


def _datetime64(value: dt.datetime | np.datetime64) -> np.datetime64:
    """The instant as a naive UTC ``datetime64``, at full precision (pandas Timestamps keep their nanoseconds)."""
    if isinstance(value, np.datetime64):
        return value
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    to_datetime64 = getattr(value, "to_datetime64", None)  # pandas.Timestamp
    return to_datetime64() if to_datetime64 is not None else np.datetime64(value, "us")


def as_timestamp(value: Any) -> Any:
    if isinstance(value, np.datetime64):
        micros = int(value.astype("datetime64[us]").astype(np.int64))
        return (micros + 500) // 1000
    if isinstance(value, dt.datetime):  # pandas Timestamps too; naive means UTC
        return millis_from_epoch(value)
    if isinstance(value, dt.date):
        return (value.toordinal() - _EPOCH_ORDINAL) * 86_400_000
    if isinstance(value, str):
        return parse_timestamp(value)
    return as_int(value)  # milliseconds since the epoch, as the driver takes them


def as_date(value: Any) -> Date:
    if isinstance(value, Date):
        return value
    if isinstance(value, dt.datetime | np.datetime64):
        # Through numpy, which covers every CQL date (datetime.date stops at year 9999).
        instant = _datetime64(value)
        day = instant.astype("datetime64[D]")
        if day != instant:
            raise ValueError(f"{value} has a time of day; a CQL date is a day only")
        return Date(int(day.astype(np.int64)))
    if isinstance(value, dt.date):
        return Date(value)
    if isinstance(value, str):
        return parse_date(value)
    return Date(as_int(value))  # days since 1970-01-01, like cassandra.util.Date(int)


def _nanos(value: Any) -> int:
    """Nanoseconds of a ``timedelta``, ``pandas.Timedelta`` or ``np.timedelta64``."""
    exact = getattr(value, "asm8", value)  # a pandas Timedelta as numpy's, with its nanoseconds
    if isinstance(exact, np.timedelta64):
        return int(exact.astype("timedelta64[ns]").astype(np.int64))
    seconds = value.days * 86_400 + value.seconds
    return int(seconds * NANOS_PER_SECOND + value.microseconds * 1_000)


def as_time(value: Any) -> Time:
    if isinstance(value, Time):
        return value
    if isinstance(value, dt.time):
        return Time(value)
    if isinstance(value, dt.timedelta | np.timedelta64):
        nanos = _nanos(value)
        if not 0 <= nanos < NANOS_PER_DAY:
            raise ValueError(f"{value} is not a time of day (0 up to 24 hours)")
        return Time(nanos)
    if isinstance(value, str):
        return parse_time(value)
    return Time(as_int(value))  # nanoseconds since midnight, like cassandra.util.Time(int)


def as_duration(value: Any) -> Duration:
    if isinstance(value, Duration):
        return value
    if isinstance(value, dt.timedelta | np.timedelta64):
        nanos = _nanos(value)
        sign = -1 if nanos < 0 else 1
        days, rest = divmod(abs(nanos), NANOS_PER_DAY)
        return Duration(0, sign * days, sign * rest)
    if isinstance(value, str):
        return parse_duration(value)
    raise TypeError(f"expected a Duration, timedelta or duration text, got {show(value)}")
