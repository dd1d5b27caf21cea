"""Applying a column's encoder to a whole page column, with vectorised versions for the costly types.

Writers work column by column: a page is transposed once, and each column's values go through its encoder
in one ``map`` (C-driven) instead of a Python loop per row. For a few common types even one Python call per
value dominates an export, so ``encode_column`` swaps in a whole-column version that produces exactly the
same strings:

* timestamps: numpy formats the milliseconds since the epoch (about 4x faster than ``datetime.isoformat``
  per value); exports read them as those milliseconds (:mod:`cassnb._decode`), datetimes from other pages are
  converted to microseconds by pyarrow in C and rounded by numpy;
* uuids: the 16 bytes are hex-formatted by a numpy lookup table (about 3x faster than ``str``); exports read
  them as those bytes, ``uuid.UUID`` objects from other pages give theirs;
* floats: a column with only finite values skips the per-value NaN/Infinity check.

``tests/unit/test_export_values.py`` checks each against its per-value twin.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from cassandra.util import Date

from cassnb._types import identity
from cassnb._types._text import date_text, float_text, millis_from_epoch, timestamp_text, uuid_text

try:
    import pyarrow as pa
except ImportError:  # Parquet is an optional extra; CSV and JSON Lines fall back to per-value encoding
    pa = None

Rows = Sequence[Sequence[Any]]  # one page of driver rows
ColumnEncoder = Callable[[Sequence[Any]], Sequence[Any]]

_is_none = functools.partial(operator.is_, None)
_HEX_PAIRS = np.array([f"{byte:02x}".encode() for byte in range(256)], dtype="S2").view(np.uint16)
# Where each of the 32 hex digits lands in the 36-character canonical form (after the dashes).
_UUID_DIGIT_SLOTS = np.array([i + (i >= 8) + (i >= 12) + (i >= 16) + (i >= 20) for i in range(32)])


def _uuid_bytes(values: Sequence[Any]) -> bytes:
    if set(map(type, values)) == {bytes}:
        raw = b"".join(values)
    else:
        raw = b"".join([value if value.__class__ is bytes else value.bytes for value in values])
    if len(raw) != 16 * len(values):
        raise ValueError("a uuid column holds a value that is neither a uuid.UUID nor 16 bytes")
    return raw


def _uuid_text_column(values: Sequence[Any]) -> list[str]:
    digits = _HEX_PAIRS[np.frombuffer(_uuid_bytes(values), dtype=np.uint8)].view(np.uint8).reshape(-1, 32)
    text = np.full((len(values), 36), ord("-"), dtype=np.uint8)
    text[:, _UUID_DIGIT_SLOTS] = digits
    result: list[str] = text.view("S36").ravel().astype("U36").tolist()
    return result


def timestamp_millis(values: Sequence[Any]) -> np.ndarray:
    """Milliseconds since the epoch of non-null timestamps: ints as exports read them, or datetimes (naive
    means UTC), rounded half up to the millisecond like ``millis_from_epoch``."""
    kinds = set(map(type, values))
    if kinds <= {int}:
        return np.array(values, dtype=np.int64)
    if pa is not None and int not in kinds:
        # pyarrow reads naive datetimes as UTC and converts aware ones; numpy rounds.
        micros: np.ndarray = pa.array(values, type=pa.timestamp("us")).cast(pa.int64()).to_numpy()
        return (micros + 500) // 1000
    return np.array([value if value.__class__ is int else millis_from_epoch(value) for value in values], np.int64)


_MS_PER_DAY = 86_400_000
# Milliseconds of 0001-01-01T00:00 and of 10000-01-01T00:00: the years numpy writes as datetime would.
_FIRST_MS, _END_MS = -62_135_596_800_000, 253_402_300_800_000


def _timestamp_text_column(values: Sequence[Any]) -> list[str]:
    millis = timestamp_millis(values)
    result: list[str] = np.datetime_as_string(millis.astype("datetime64[ms]"), unit="ms", timezone="UTC").tolist()
    # A timestamp outside years 1-9999 (only a millisecond count can hold one) gets its date as date_text
    # writes it, with an ISO 8601 expanded year (+10000-01-01T00:00:00.000Z).
    for i in np.flatnonzero((millis < _FIRST_MS) | (millis >= _END_MS)).tolist():
        day = int(millis[i]) // _MS_PER_DAY
        result[i] = date_text(Date(day)) + "T" + result[i].rpartition("T")[2]
    return result


def _all_finite(values: Sequence[float]) -> bool:
    total = sum(values)
    return total - total == 0.0  # any NaN or infinity (or an overflowing sum) makes this false


def _float_text_column(values: Sequence[float]) -> list[str]:
    if _all_finite(values):
        return list(map(float.__repr__, values))
    return list(map(float_text, values))


_COLUMN_VERSIONS: dict[Callable[[Any], Any], ColumnEncoder] = {
    uuid_text: _uuid_text_column,
    float_text: _float_text_column,
    timestamp_text: _timestamp_text_column,
}


def transpose(rows: Sequence[Sequence[Any]], width: int) -> list[tuple[Any, ...]]:
    """The page's columns, one tuple each.

    Raises:
        ValueError: a row without exactly ``width`` values.
    """
    lengths = set(map(len, rows))
    if lengths != {width}:
        raise ValueError(f"the page has {width} columns but rows with {sorted(lengths - {width})} values")
    # zip(strict=True) would check the same, but costs several times more on large pages (GC churn)
    return list(zip(*rows))  # noqa: B905 - checked above


def encode_column(encode: Callable[[Any], Any], values: Sequence[Any]) -> tuple[Sequence[Any], bool]:
    """Apply a column's encoder to its non-null values; return the encoded values and whether any is null.

    Nulls stay ``None`` so each writer can spell them its own way.
    """
    has_nulls = any(map(_is_none, values))
    if encode is identity:
        return values, has_nulls
    whole_column = _COLUMN_VERSIONS.get(encode)
    if whole_column is None:
        if has_nulls:
            return [None if value is None else encode(value) for value in values], True
        return list(map(encode, values)), False
    if not has_nulls:
        return whole_column(values), False
    encoded = iter(whole_column([value for value in values if value is not None]))
    return [None if value is None else next(encoded) for value in values], True
