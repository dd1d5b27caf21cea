"""The text form of each scalar CQL value, both ways: value -> text (a CSV cell) and text -> value.

Each ``*_text`` encoder has its parser ``parse_*`` next to it; the registry (``_registry``) pairs them per
CQL type, and the round-trip tests check that every parser inverts its encoder. Encoders are only given
real values (writers handle ``None``); parsers raise ``ValueError`` naming the text they could not read.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
import uuid
from decimal import Decimal
from typing import Any

from cassandra.util import Date, Duration, Time

_EPOCH = dt.datetime(1970, 1, 1)
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()
_MAX_ORDINAL = dt.date.max.toordinal()
_DAYS_PER_400_YEARS = 146_097  # the Gregorian calendar repeats exactly every 400 years
_HALF_MS = dt.timedelta(microseconds=500)
_ONE_MS = dt.timedelta(milliseconds=1)
NANOS_PER_SECOND = 1_000_000_000
NANOS_PER_DAY = 86_400 * NANOS_PER_SECOND
_DURATION_NANO_UNITS = (
    ("h", 3_600 * NANOS_PER_SECOND),
    ("m", 60 * NANOS_PER_SECOND),
    ("s", NANOS_PER_SECOND),
    ("ms", 1_000_000),
    ("us", 1_000),
    ("ns", 1),
)
_DURATION_UNITS = {
    "y": ("months", 12),
    "mo": ("months", 1),
    "d": ("days", 1),
    **{unit: ("nanos", size) for unit, size in _DURATION_NANO_UNITS},
    "µs": ("nanos", 1_000),
}
_BOOL_TEXT = {True: "true", False: "false"}
NON_FINITE = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}
_INT_TEXT = re.compile(r"[+-]?[0-9]+")
_NUMBER_TEXT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_HEX_TEXT = re.compile(r"0[xX]((?:[0-9a-fA-F]{2})*)")
_DATE_TEXT = re.compile(r"([+-]?)([0-9]{4,})-([0-9]{2})-([0-9]{2})")
_TIME_TEXT = re.compile(r"([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?")
_DURATION_TEXT = re.compile(r"-?(?:[0-9]+(?:mo|ms|us|µs|ns|y|d|h|m|s))+")
_DURATION_PART = re.compile(r"([0-9]+)(mo|ms|us|µs|ns|y|d|h|m|s)")


def identity(value: Any) -> Any:
    """The encoding of values that already are their own encoding; writers test for it and skip the call."""
    return value


def show(value: Any) -> str:
    """A value for an error message: strings as their repr, anything else with its type, at most 60 chars."""
    text = repr(value)
    text = text if len(text) <= 60 else text[:57] + "..."
    return text if isinstance(value, str) else f"{type(value).__name__} {text}"


# --- numbers the driver's values are made of --------------------------------------------------------------


def millis_from_epoch(value: dt.datetime) -> int:
    """Milliseconds since 1970-01-01 UTC, rounded to the nearest millisecond (naive means UTC)."""
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
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
        return int(seconds * NANOS_PER_SECOND + value.microsecond * 1_000)


def days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of any proleptic Gregorian date, also outside ``datetime.date``'s years."""
    cycles, year_in_cycle = divmod(year - 1, 400)
    ordinal = dt.date(year_in_cycle + 1, month, day).toordinal()
    return ordinal + cycles * _DAYS_PER_400_YEARS - _EPOCH_ORDINAL


# --- numbers and booleans ---------------------------------------------------------------------------------


def parse_int(text: str) -> int:
    if not _INT_TEXT.fullmatch(text):
        raise ValueError(f"{show(text)} is not an integer")
    return int(text)


def float_text(value: float) -> str:
    """``repr`` (the shortest text that reads back exactly); ``NaN``, ``Infinity``, ``-Infinity``."""
    if value - value == 0.0:  # finite: inf - inf and nan - nan are both nan
        return float.__repr__(value)
    return "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")


def parse_float(text: str) -> float:
    special = NON_FINITE.get(text)
    if special is not None:
        return special
    if not _NUMBER_TEXT.fullmatch(text):
        raise ValueError(f"{show(text)} is not a number")
    return float(text)


def parse_decimal(text: str) -> Decimal:
    if not _NUMBER_TEXT.fullmatch(text):
        raise ValueError(f"{show(text)} is not a decimal number")
    return Decimal(text)


bool_text = _BOOL_TEXT.__getitem__


def parse_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered not in ("true", "false"):
        raise ValueError(f"{show(text)} is not true or false")
    return lowered == "true"


# --- bytes, identifiers, addresses ------------------------------------------------------------------------


def blob_text(value: bytes) -> str:
    return "0x" + value.hex()


def parse_blob(text: str) -> bytes:
    match = _HEX_TEXT.fullmatch(text)
    if match is None:
        raise ValueError(f"{show(text)} is not a blob: write 0x followed by pairs of hex digits")
    return bytes.fromhex(match[1])


def uuid_text(value: Any) -> str:
    """Canonical lowercase ``8-4-4-4-12`` form."""
    return str(value)


def parse_uuid(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise ValueError(f"{show(text)} is not a UUID") from None


def parse_inet(text: str) -> str:
    ipaddress.ip_address(text)  # raises ValueError naming the text
    return text


def parse_text(text: str) -> str:
    return str(text)


# --- time -------------------------------------------------------------------------------------------------


def timestamp_text(value: dt.datetime) -> str:
    """``2024-01-02T03:04:05.123Z``, rounded half up to the millisecond (isoformat would truncate)."""
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    if value.microsecond % 1000:
        value = value + _HALF_MS
    return value.isoformat(timespec="milliseconds") + "Z"


def parse_timestamp(text: str) -> dt.datetime:
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{show(text)} is not an ISO 8601 timestamp such as 2024-01-02T03:04:05.678Z") from None
    return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo is not None else value


def date_text(value: Any) -> str:
    """``YYYY-MM-DD``; outside years 1-9999 ISO 8601 expanded years (``+10000-01-01``; year 0 is 1 BC)."""
    ordinal = days_from_epoch(value) + _EPOCH_ORDINAL
    if 1 <= ordinal <= _MAX_ORDINAL:
        return dt.date.fromordinal(ordinal).isoformat()
    # Shift by whole 400-year cycles into datetime's range, then shift the year back.
    cycles, rest = divmod(ordinal - 1, _DAYS_PER_400_YEARS)
    shifted = dt.date.fromordinal(rest + 1)
    year = shifted.year + 400 * cycles
    sign = "+" if year > 9999 else "-" if year < 0 else ""
    return f"{sign}{abs(year):04d}-{shifted.month:02d}-{shifted.day:02d}"


def parse_date(text: str) -> Date:
    match = _DATE_TEXT.fullmatch(text)
    if match is None:
        raise ValueError(f"{show(text)} is not a date such as 2024-01-31")
    year = int(match[2]) * (-1 if match[1] == "-" else 1)
    return Date(days_from_civil(year, int(match[3]), int(match[4])))


def time_text(value: Any) -> str:
    """``HH:MM:SS.nnnnnnnnn``."""
    seconds, nanos = divmod(nanos_of_day(value), NANOS_PER_SECOND)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    return f"{hour:02d}:{minute:02d}:{second:02d}.{nanos:09d}"


def parse_time(text: str) -> Time:
    match = _TIME_TEXT.fullmatch(text)
    if match is None or int(match[1]) > 23 or int(match[2]) > 59 or int(match[3]) > 59:
        raise ValueError(f"{show(text)} is not a time of day such as 13:14:15.123456789")
    seconds = (int(match[1]) * 60 + int(match[2])) * 60 + int(match[3])
    return Time(seconds * NANOS_PER_SECOND + int((match[4] or "").ljust(9, "0")))


def duration_text(value: Any) -> str:
    """The CQL literal: units y mo d h m s ms us ns, zero units left out (``1y2mo3d4h``, ``0s``, ``-1d``)."""
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


def parse_duration(text: str) -> Duration:
    if not _DURATION_TEXT.fullmatch(text):
        raise ValueError(f"{show(text)} is not a duration such as 1y2mo3d4h5m6s7ms8us9ns")
    parts = {"months": 0, "days": 0, "nanos": 0}
    for count, unit in _DURATION_PART.findall(text):
        field, size = _DURATION_UNITS[unit]
        parts[field] += int(count) * size
    sign = -1 if text.startswith("-") else 1
    return Duration(sign * parts["months"], sign * parts["days"], sign * parts["nanos"])
