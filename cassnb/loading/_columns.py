"""Whole source columns -> the values bound for one target column, for every kind of source ``load`` reads.

``Column`` holds a target column's converters (text for CSV, JSON for JSON Lines, Python values for
DataFrames and Parquet); ``frame_column`` and ``arrow_column`` convert a DataFrame or Arrow column at once,
with timestamps done in numpy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from cassnb._types import CqlType, missing_check, scalar_type, value_coercer
from cassnb.formats._decode import Parser, json_decoder, text_parser


class Column:
    """One target column: its name, CQL type, and how a cell of each kind of source becomes a bound value."""

    def __init__(self, name: str, cql_type: CqlType, is_key: bool) -> None:
        self.name, self.cql_type, self.is_key = name, cql_type, is_key
        self.missing = missing_check(cql_type)
        self.coerce = value_coercer(cql_type)
        self.parse_text = text_parser(cql_type)
        self.decode_json = json_decoder(cql_type)
        row = scalar_type(cql_type)
        self.typename = row.name if row is not None else None

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


def frame_column(series: Any, column: Column, bad: dict[int, str]) -> list[Any]:
    """A pandas Series -> bound values (datetime columns into timestamps without a Python object per cell)."""
    import pandas as pd

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


def arrow_column(array: Any, column: Column, bad: dict[int, str]) -> list[Any]:
    """An Arrow array (one Parquet column chunk) -> bound values."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_timestamp(array.type) and column.typename == "timestamp":
        ticks = pc.fill_null(array.cast(pa.int64()), 0).to_numpy()
        return _rounded_millis(ticks, array.type.unit, array.is_null().to_numpy(zero_copy_only=False))
    plain = _arrow_plain(array.type, ints=True)
    if plain != array.type:
        array = array.cast(_arrow_plain(array.type, ints=False)).cast(plain)
    return column.convert(array.to_pylist(), column.coerce, bad)
