"""Turn pages of driver rows into pandas columns, with one fixed dtype per CQL type.

A result arrives as pages of plain tuples (the driver's ``tuple_factory``). Building a DataFrame from
dicts or namedtuples costs a Python object per row; instead each page is transposed once into columns
and every column is converted in one vectorised step (numpy casts, pandas' own datetime parser).

The dtype of a column depends only on its CQL type, never on the values in a page. A page without nulls,
a page full of nulls and an empty page all give the same dtypes, so ``pd.concat`` of many pages keeps
them (pandas would otherwise fall back to ``object`` or ``float64`` whenever two pages disagree).

The dtype of each CQL type is the ``pandas`` column of the type registry (``cassnb._types``); this module
only knows how to build a column of each dtype. Types without a dedicated dtype (and unknown ones) stay
``object`` columns of whatever the driver decoded.

``docs/types.md`` explains the choices, including why every CQL ``date`` fits but some ``timestamp``
values cannot be decoded by the driver at all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import chain
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from pandas.api.extensions import ExtensionArray

from ._types import scalar_type

__all__ = ["STRING_DTYPE", "FrameBuilder", "dtype_for"]

#: Text columns use the NA-semantics string dtype with Python storage, spelled out in full: pandas
#: 3's default ``str`` dtype uses NaN for missing values and switches storage with whether pyarrow is
#: installed, so the dtype of a result would depend on the environment.
STRING_DTYPE = pd.StringDtype(storage="python", na_value=pd.NA)

_Column = npt.NDArray[np.object_]
_Array = npt.NDArray[Any] | ExtensionArray
_Converter = Callable[[_Column], _Array]

#: numpy's bit pattern for NaT, used as the null marker while building datetime and timedelta columns.
_NAT = np.iinfo(np.int64).min
_SECONDS_PER_DAY = 86_400


def _objects(column: _Column) -> _Array:
    # A contiguous copy, so that the frame does not keep the whole page's cell array alive.
    return column.copy()


def _values_and_mask(column: _Column, numpy_type: type[np.integer[Any]]) -> tuple[Any, Any]:
    """Cast a column of ints or bools in C, and mark its nulls."""
    try:
        return column.astype(numpy_type), np.zeros(len(column), dtype=bool)
    except TypeError:  # numpy will not cast None to an integer: mask the nulls first
        mask = pd.isna(column)
        filled = column.copy()
        filled[mask] = 0
        return filled.astype(numpy_type), mask


def _integers(numpy_type: type[np.signedinteger[Any]]) -> _Converter:
    def convert(column: _Column) -> _Array:
        return pd.arrays.IntegerArray(*_values_and_mask(column, numpy_type))

    return convert


def _booleans(column: _Column) -> _Array:
    # Cast through int8: a direct cast to bool would quietly turn None into False instead of failing.
    values, mask = _values_and_mask(column, np.int8)
    return pd.arrays.BooleanArray(values.astype(bool), mask)


def _floats(numpy_type: type[np.floating[Any]]) -> _Converter:
    def convert(column: _Column) -> _Array:
        values = column.astype(numpy_type)  # None arrives here as NaN
        mask = np.isnan(values)
        if mask.any():
            # NaN is a value CQL can store; only the cells that really were None are nulls.
            where = np.flatnonzero(mask)
            mask[where] = [v is None for v in column[where]]
        return pd.arrays.FloatingArray(values, mask)

    return convert


def _strings(column: _Column) -> _Array:
    strings: _Array = pd.array(column, dtype=STRING_DTYPE)
    return strings


def _timestamps(column: _Column) -> _Array:
    # The driver decodes through a float of seconds, which leaves a few microseconds of noise on far
    # dates (9999-12-31 23:59:59.999 arrives as ...59.998993). Cassandra stores whole milliseconds,
    # so rounding to the nearest one gives back exactly what is stored.
    index = pd.DatetimeIndex(column)
    index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
    return index.round("ms").as_unit("ms").array


def _dates(column: _Column) -> _Array:
    # Read the driver's day count directly: datetime.date stops at year 9999 but datetime64[s] holds
    # the whole CQL date range (about 5.8 million years either side of 1970).
    days = np.fromiter((_NAT if d is None else d.days_from_epoch for d in column), dtype=np.int64, count=len(column))
    seconds = days * _SECONDS_PER_DAY
    seconds[days == _NAT] = _NAT
    dates: _Array = pd.array(seconds.view("datetime64[s]"))
    return dates


def _times(column: _Column) -> _Array:
    nanos = np.fromiter((_NAT if t is None else t.nanosecond_time for t in column), dtype=np.int64, count=len(column))
    times: _Array = pd.array(nanos.view("timedelta64[ns]"))
    return times


# dtype (the registry's ``pandas`` column) -> how a page column becomes a column of it.
_BY_DTYPE: dict[str, _Converter] = {
    "Int8": _integers(np.int8),
    "Int16": _integers(np.int16),
    "Int32": _integers(np.int32),
    "Int64": _integers(np.int64),
    "Float32": _floats(np.float32),
    "Float64": _floats(np.float64),
    "boolean": _booleans,
    "string": _strings,
    "datetime64[ms, UTC]": _timestamps,
    "datetime64[s]": _dates,
    "timedelta64[ns]": _times,
    "object": _objects,
}


def _converter_for(cql_type: type) -> _Converter:
    row = scalar_type(cql_type)  # composite and unknown types: the driver's objects
    return _objects if row is None else _BY_DTYPE[row.pandas]


def dtype_for(cql_type: type) -> Any:
    """The pandas dtype that a column of ``cql_type`` always gets.

    :param cql_type: a type class from ``cassandra.cqltypes``, as found in ``ResultSet.column_types``.
    :returns: a numpy or pandas extension dtype; ``object`` for types without a dedicated column type.
    """
    return _converter_for(cql_type)(np.empty(0, dtype=object)).dtype


class FrameBuilder:
    """Builds DataFrames from the pages of one result, all with the same columns and dtypes.

    One builder serves a whole result: it resolves the conversion of each column once, converts each
    page as it arrives with :meth:`frame`, and joins the pages with :meth:`concat`.
    """

    def __init__(self, column_names: Sequence[str], column_types: Sequence[type]) -> None:
        """
        :param column_names: ``ResultSet.column_names``; duplicates are allowed (``SELECT a, a``).
        :param column_types: ``ResultSet.column_types``, the driver's CQL type classes.
        :raises ValueError: when the two sequences differ in length.
        """
        if len(column_names) != len(column_types):
            raise ValueError(
                f"got {len(column_names)} column names but {len(column_types)} column types; "
                "pass ResultSet.column_names and ResultSet.column_types of the same result"
            )
        self._columns = pd.Index(list(column_names), dtype=object)
        self._converters = [_converter_for(t) for t in column_types]
        self._dtypes = tuple(convert(np.empty(0, dtype=object)).dtype for convert in self._converters)
        self._empty = self._assemble([np.empty(0, dtype=object) for _ in self._converters])

    @property
    def dtypes(self) -> tuple[Any, ...]:
        """The dtype of each column, in column order."""
        return self._dtypes

    def frame(self, rows: Sequence[Sequence[Any]]) -> pd.DataFrame:
        """Convert one page of tuple rows into a DataFrame.

        :param rows: the page, e.g. ``ResultSet.current_rows`` under ``tuple_factory``.
        :returns: a frame with a RangeIndex and the builder's dtypes; an empty page gives an empty frame.
        :raises ValueError: when the rows do not have one value per column.
        """
        if not rows:
            return self._empty.copy()
        width = len(self._converters)
        if len(rows[0]) != width or len(rows[-1]) != width:
            raise ValueError(f"rows have {len(rows[0])} values but the result has {width} columns")
        # Transpose once, in C: lay every cell out in one (rows x columns) object array and hand each
        # converter a column of it. zip(*rows) would allocate an iterator per row and keep them all
        # alive at once, which sets off the cyclic garbage collector over the whole page; that alone
        # cost more than converting every column.
        try:
            cells = np.fromiter(chain.from_iterable(rows), dtype=object, count=len(rows) * width)
        except ValueError as exc:  # some row in the middle was short
            raise ValueError(f"every row must have {width} values, one per column") from exc
        grid = cells.reshape(len(rows), width)
        return self._assemble([grid[:, i] for i in range(width)])

    def concat(self, frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
        """Join page frames from :meth:`frame` into one, with a fresh RangeIndex.

        The frames are joined one column at a time, and each column's pieces are let go as soon as that
        column is joined: the peak is the pages plus one column, where ``pd.concat`` would hold the pages and
        the whole result at once. A ``list`` of frames is emptied (the caller hands the pages over); the
        frames themselves are never changed.

        :param frames: the pages in order; may be empty.
        :returns: one frame with the builder's dtypes (an empty one when there are no rows at all).
        """
        non_empty = [f for f in frames if len(f)]
        if isinstance(frames, list):
            frames.clear()
        if not non_empty:
            return self._empty.copy()
        if len(non_empty) == 1:
            return non_empty[0].reset_index(drop=True)
        if not all(f.columns.equals(self._columns) and tuple(f.dtypes) == self._dtypes for f in non_empty):
            return pd.concat(non_empty, ignore_index=True)  # frames changed since (more() of an edited frame)
        # One list of column pieces per column; once the frames are dropped, each piece is all that holds its
        # page's array, so joining a column and dropping its pieces gives that memory back.
        pieces: list[list[pd.Series] | None] = [[f.iloc[:, i] for f in non_empty] for i in range(len(self._dtypes))]
        del non_empty
        columns = {}
        for i, column in enumerate(pieces):
            assert column is not None
            columns[i] = pd.concat(column, ignore_index=True)
            pieces[i] = column = None
        frame = pd.DataFrame(columns, copy=False)
        frame.columns = self._columns
        return frame

    def _assemble(self, columns: Sequence[_Column]) -> pd.DataFrame:
        # Each column goes in as a Series with its dtype spelled out: given a bare object array of
        # str, pandas 3 would infer its own string dtype and the column's dtype would depend on the data.
        series = {
            i: pd.Series(convert(column), dtype=dtype, copy=False)
            for i, (convert, dtype, column) in enumerate(zip(self._converters, self._dtypes, columns, strict=True))
        }
        frame = pd.DataFrame(series, copy=False)
        frame.columns = self._columns
        return frame
