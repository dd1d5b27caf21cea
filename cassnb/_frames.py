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

from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd
from cassandra import cqltypes
from pandas.api.extensions import ExtensionArray

from ._decode import uuids
from ._types import scalar_type

__all__ = ["STRING_DTYPE", "FrameAccumulator", "FrameBuilder", "dtype_for"]

#: Text columns use the NA-semantics string dtype with Python storage, spelled out in full: pandas
#: 3's default ``str`` dtype uses NaN for missing values and switches storage with whether pyarrow is
#: installed, so the dtype of a result would depend on the environment.
STRING_DTYPE = pd.StringDtype(storage="python", na_value=pd.NA)

_Column = npt.NDArray[np.object_]
_Array = npt.NDArray[Any] | ExtensionArray
#: A page column as plain numpy arrays (values, and a null mask where the dtype has one). Pages are joined by
#: joining their parts, and a column array is made of them only once.
_Parts = tuple[npt.NDArray[Any], ...]

_UTC_MILLIS = pd.DatetimeTZDtype("ms", "UTC")

#: numpy's bit pattern for NaT, used as the null marker while building datetime and timedelta columns.
_NAT = np.iinfo(np.int64).min
_SECONDS_PER_DAY = 86_400


T = TypeVar("T")

#: Work done in steps: a generator that yields between steps and returns the result.
Steps = Generator[None, None, T]


def run_steps(steps: Steps[T]) -> T:
    """The result of ``steps``, all done at once."""
    while True:
        try:
            next(steps)
        except StopIteration as done:
            result: T = done.value
            return result


@dataclass(frozen=True)
class _Kind:
    """How a column of one dtype is made: a page column's parts, and the column array made of parts
    (``build_steps`` instead of ``build`` where a large column is made in steps)."""

    parts: Callable[[_Column], _Parts]
    build: Callable[[_Parts], _Array]
    build_steps: Callable[[_Parts], Steps[_Array]] | None = None


def _values_and_mask(column: _Column, numpy_type: type[np.integer[Any]]) -> tuple[Any, Any]:
    """Cast a column of ints or bools in C, and mark its nulls."""
    try:
        return column.astype(numpy_type), np.zeros(len(column), dtype=bool)
    except TypeError:  # numpy will not cast None to an integer: mask the nulls first
        mask = pd.isna(column)
        filled = column.copy()
        filled[mask] = 0
        return filled.astype(numpy_type), mask


def _integers(numpy_type: type[np.signedinteger[Any]]) -> _Kind:
    return _Kind(lambda column: _values_and_mask(column, numpy_type), lambda p: pd.arrays.IntegerArray(p[0], p[1]))


def _boolean_parts(column: _Column) -> _Parts:
    # Cast through int8: a direct cast to bool would quietly turn None into False instead of failing.
    values, mask = _values_and_mask(column, np.int8)
    return values.astype(bool), mask


def _floats(numpy_type: type[np.floating[Any]]) -> _Kind:
    def parts(column: _Column) -> _Parts:
        values = column.astype(numpy_type)  # None arrives here as NaN
        mask = np.isnan(values)
        if mask.any():
            # NaN is a value CQL can store; only the cells that really were None are nulls.
            where = np.flatnonzero(mask)
            mask[where] = [v is None for v in column[where]]
        return values, mask

    return _Kind(parts, lambda p: pd.arrays.FloatingArray(p[0], p[1]))


def _copy(column: _Column) -> _Parts:
    # A contiguous copy, so that the frame does not keep the whole page's cell array alive.
    return (column.copy(),)


#: Rows per step when a whole result's text column is made at once: pandas checks every value in C, and with
#: the strings spread over the heap each one is a cache miss (about 5 ms per step here).
_STEP = 1 << 15


def _string_steps(parts: _Parts) -> Steps[_Array]:
    values = parts[0]
    if len(values) <= _STEP:
        strings: _Array = pd.array(values, dtype=STRING_DTYPE)  # None becomes NA
        return strings
    # The column's own buffer becomes the array: each step is checked by pandas (the same check and the same
    # NA as pd.array) and written back, then the checked buffer is wrapped as it is, without a copy or a check
    # of the whole column in one piece.
    for i in range(0, len(values), _STEP):
        values[i : i + _STEP] = np.asarray(pd.array(values[i : i + _STEP], dtype=STRING_DTYPE))
        yield
    wrap = getattr(pd.arrays.StringArray, "_from_backing_data", None)
    if wrap is None:  # another pandas: the public constructor, which checks the whole column again
        checked: _Array = pd.array(values, dtype=STRING_DTYPE, copy=False)
        return checked
    empty = pd.array(np.empty(0, dtype=object), dtype=STRING_DTYPE)
    wrapped: _Array = empty._from_backing_data(values)  # type: ignore[attr-defined]
    return wrapped


def _strings(parts: _Parts) -> _Array:
    return run_steps(_string_steps(parts))


def _first_value(column: _Column) -> Any:
    for value in column:
        if value is not None:
            return value
    return None


def _timestamp_parts(column: _Column) -> _Parts:
    if isinstance(_first_value(column), int):  # milliseconds since the epoch (cassnb._decode)
        millis, mask = _values_and_mask(column, np.int64)
        millis[mask] = _NAT
        return (millis.view("datetime64[ms]"),)
    # The driver decodes through a float of seconds, which leaves a few microseconds of noise on far
    # dates (9999-12-31 23:59:59.999 arrives as ...59.998993). Cassandra stores whole milliseconds,
    # so rounding to the nearest one gives back exactly what is stored.
    index = pd.DatetimeIndex(column)
    index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
    return (index.round("ms").as_unit("ms").asi8.view("datetime64[ms]"),)


def _timestamps(parts: _Parts) -> _Array:
    # From the int64 view, the array takes the values as they are; pd.array copies them (for a million rows
    # that copy, page faults and all, took 2.5-18 ms of the loop).
    ints = parts[0].view(np.int64)
    stamps: _Array = pd.arrays.DatetimeArray._from_sequence(ints, dtype=_UTC_MILLIS)  # type: ignore[attr-defined]
    return stamps


def _date_parts(column: _Column) -> _Parts:
    # Read the driver's day count directly: datetime.date stops at year 9999 but datetime64[s] holds
    # the whole CQL date range (about 5.8 million years either side of 1970).
    days = np.fromiter((_NAT if d is None else d.days_from_epoch for d in column), dtype=np.int64, count=len(column))
    seconds = days * _SECONDS_PER_DAY
    seconds[days == _NAT] = _NAT
    return (seconds.view("datetime64[s]"),)


def _time_parts(column: _Column) -> _Parts:
    nanos = np.fromiter((_NAT if t is None else t.nanosecond_time for t in column), dtype=np.int64, count=len(column))
    return (nanos.view("timedelta64[ns]"),)


def _wrapped(parts: _Parts) -> _Array:
    wrapped: _Array = pd.array(parts[0], copy=False)
    return wrapped


def _uuid_parts(column: _Column) -> _Parts:
    objects = np.empty(len(column), dtype=object)
    objects[:] = uuids(column)  # from the 16 bytes of each (cassnb._decode), or the driver's UUIDs as they are
    return (objects,)


_OBJECTS = _Kind(_copy, lambda p: p[0])
_UUIDS = _Kind(_uuid_parts, lambda p: p[0])

# dtype (the registry's ``pandas`` column) -> how a page column becomes a column of it.
_BY_DTYPE: dict[str, _Kind] = {
    "Int8": _integers(np.int8),
    "Int16": _integers(np.int16),
    "Int32": _integers(np.int32),
    "Int64": _integers(np.int64),
    "Float32": _floats(np.float32),
    "Float64": _floats(np.float64),
    "boolean": _Kind(_boolean_parts, lambda p: pd.arrays.BooleanArray(p[0], p[1])),
    "string": _Kind(_copy, _strings, _string_steps),
    "datetime64[ms, UTC]": _Kind(_timestamp_parts, _timestamps),
    "datetime64[s]": _Kind(_date_parts, _wrapped),
    "timedelta64[ns]": _Kind(_time_parts, _wrapped),
    "object": _OBJECTS,
}


def _kind_for(cql_type: type) -> _Kind:
    row = scalar_type(cql_type)  # composite and unknown types: the driver's objects
    if row is not None and row.frame_decode is cqltypes.BytesType:  # uuid, timeuuid: read as their 16 bytes
        return _UUIDS
    return _OBJECTS if row is None else _BY_DTYPE[row.pandas]


def _empty(kind: _Kind) -> _Array:
    return kind.build(kind.parts(np.empty(0, dtype=object)))


def dtype_for(cql_type: type) -> Any:
    """The pandas dtype that a column of ``cql_type`` always gets.

    :param cql_type: a type class from ``cassandra.cqltypes``, as found in ``ResultSet.column_types``.
    :returns: a numpy or pandas extension dtype; ``object`` for types without a dedicated column type.
    """
    return _empty(_kind_for(cql_type)).dtype


class _Growing:
    """A numpy array that pages are appended to, grown by a quarter at a time in place (``realloc``: for a
    large buffer the kernel remaps its pages, nothing is copied, and capacity not yet written takes no memory)."""

    __slots__ = ("array", "size")

    def __init__(self, dtype: Any) -> None:
        self.array: npt.NDArray[Any] = np.empty(0, dtype=dtype)
        self.size = 0

    def extend(self, values: npt.NDArray[Any]) -> None:
        end = self.size + len(values)
        if end > len(self.array):
            self.array.resize(max(end, len(self.array) + len(self.array) // 4, 1024), refcheck=False)
        self.array[self.size : end] = values
        self.size = end

    def take(self) -> npt.NDArray[Any]:
        """The values appended so far, as one array of exactly that length (the buffer is handed over)."""
        array, self.array = self.array, np.empty(0, dtype=self.array.dtype)
        array.resize(self.size, refcheck=False)
        self.size = 0
        return array


class FrameAccumulator:
    """The pages of one result gathered into a single frame as they come, without keeping page frames.

    Each column's parts are appended to arrays that grow in place, and each column array is made once, at
    the end, one column at a time. Joining page frames instead holds every page and then the whole result
    besides; here the peak stays near the size of the result.
    """

    def __init__(self, builder: FrameBuilder) -> None:
        self._builder = builder
        self._columns: list[list[_Growing]] | None = None
        self.rows = 0

    def add(self, parts: Sequence[_Parts]) -> None:
        """Append one page, given as :meth:`FrameBuilder.parts` of its rows."""
        if not parts or not len(parts[0][0]):
            return
        if self._columns is None:
            self._columns = [[_Growing(part.dtype) for part in column] for column in parts]
        for growing, column in zip(self._columns, parts, strict=True):
            for buffer, part in zip(growing, column, strict=True):
                buffer.extend(part)
        self.rows += len(parts[0][0])

    def frame(self) -> pd.DataFrame:
        """Everything appended, as one frame with the builder's dtypes (the buffers are handed over)."""
        return run_steps(self.frame_steps())

    def frame_steps(self) -> Steps[pd.DataFrame]:
        """:meth:`frame` in steps of a column (or part of a large text column) each, for the event loop."""
        columns, self._columns, self.rows = self._columns, None, 0
        if columns is None:
            return self._builder.frame([])
        arrays = []
        for index, kind in enumerate(self._builder._kinds):
            parts = tuple(buffer.take() for buffer in columns[index])
            columns[index] = []  # the buffers go as soon as their column is made
            arrays.append((yield from kind.build_steps(parts)) if kind.build_steps else kind.build(parts))
            del parts
            yield
        return self._builder._assemble(arrays)


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
        self._kinds = [_kind_for(t) for t in column_types]
        empty = [_empty(kind) for kind in self._kinds]
        self._dtypes = tuple(array.dtype for array in empty)
        self._empty = self._assemble(empty)

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
        return self.frame_of(self.parts(rows))

    def frame_of(self, parts: Sequence[_Parts]) -> pd.DataFrame:
        """The DataFrame of a page's :meth:`parts` (its arrays are used as they are, not copied)."""
        return self._assemble([kind.build(part) for kind, part in zip(self._kinds, parts, strict=True)])

    def accumulator(self) -> FrameAccumulator:
        """A :class:`FrameAccumulator` for pages of this result."""
        return FrameAccumulator(self)

    def parts(self, rows: Sequence[Sequence[Any]]) -> list[_Parts]:
        """One page of tuple rows as the numpy parts of each column (see :meth:`frame_of`).

        :raises ValueError: when the rows do not have one value per column.
        """
        if not rows:
            return [kind.parts(np.empty(0, dtype=object)) for kind in self._kinds]
        width = len(self._kinds)
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
        return [kind.parts(grid[:, i]) for i, kind in enumerate(self._kinds)]

    def join_parts(self, pieces: Sequence[list[_Parts]]) -> list[_Parts]:
        """The :meth:`parts` of consecutive pieces of one page, as the parts of the whole page."""
        if len(pieces) == 1:
            return pieces[0]
        return [
            tuple(np.concatenate(arrays) for arrays in zip(*column, strict=True))
            for column in zip(*pieces, strict=True)
        ]

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

    def _assemble(self, arrays: Sequence[_Array]) -> pd.DataFrame:
        # Each column goes in as a Series with its dtype spelled out: given a bare object array of
        # str, pandas 3 would infer its own string dtype and the column's dtype would depend on the data.
        series = {
            i: pd.Series(array, dtype=dtype, copy=False)
            for i, (dtype, array) in enumerate(zip(self._dtypes, arrays, strict=True))
        }
        frame = pd.DataFrame(series, copy=False)
        frame.columns = self._columns
        return frame
