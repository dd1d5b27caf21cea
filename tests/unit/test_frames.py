"""FrameBuilder without a server: pages are built from Python values and hand-made CQL type classes."""

from __future__ import annotations

import datetime
import decimal
import ipaddress
import uuid
from typing import Any

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest
from cassandra import util
from cassandra.cqltypes import UserType, UTF8Type, lookup_casstype
from pandas.api.types import pandas_dtype

from cassnb._frames import STRING_DTYPE, FrameBuilder, dtype_for

VECTOR = "org.apache.cassandra.db.marshal.VectorType(org.apache.cassandra.db.marshal.FloatType, 3)"
ADDRESS = UserType.make_udt_class(
    "ks", "address", ("street", "zip"), (UTF8Type, lookup_casstype("Int32Type"))
)
ADDRESS_VALUE = ADDRESS.tuple_type("Main St", 12345)

# (driver type, documented dtype, a value as the driver returns it)
CASES: list[tuple[str | type, str, Any]] = [
    ("ByteType", "Int8", -7),
    ("ShortType", "Int16", 30_000),
    ("Int32Type", "Int32", -2_000_000_000),
    ("LongType", "Int64", 2**62),
    ("CounterColumnType", "Int64", 42),
    ("FloatType", "Float32", 1.5),
    ("DoubleType", "Float64", 0.1),
    ("BooleanType", "boolean", True),
    ("UTF8Type", "string[python]", "häagen"),
    ("VarcharType", "string[python]", ""),
    ("AsciiType", "string[python]", "plain"),
    ("TimestampType", "datetime64[ms, UTC]", datetime.datetime(2024, 2, 29, 12, 30, 1, 250000)),
    ("SimpleDateType", "datetime64[s]", util.Date(datetime.date(2024, 2, 29))),
    ("TimeType", "timedelta64[ns]", util.Time(datetime.time(23, 59, 59, 999999))),
    ("DecimalType", "object", decimal.Decimal("3.14159265358979323846")),
    ("IntegerType", "object", 2**100),
    ("UUIDType", "object", uuid.uuid4()),
    ("TimeUUIDType", "object", uuid.uuid1()),
    ("BytesType", "object", b"\x00\xff"),
    ("InetAddressType", "object", "10.0.0.1"),
    ("DurationType", "object", util.Duration(1, 2, 3_000_000_000)),
    ("ListType(Int32Type)", "object", [1, 2]),
    ("SetType(UTF8Type)", "object", util.SortedSet(["a", "b"])),
    ("MapType(UTF8Type, Int32Type)", "object", util.OrderedMapSerializedKey(UTF8Type, 4)),
    ("TupleType(Int32Type, UTF8Type)", "object", (1, "x")),
    ("FrozenType(ListType(Int32Type))", "object", [3, 4]),
    ("FrozenType(Int32Type)", "Int32", 5),
    (ADDRESS, "object", ADDRESS_VALUE),
    (VECTOR, "object", [1.0, 2.5, -3.0]),
]
IDS = [c[0] if isinstance(c[0], str) else "udt" for c in CASES]


def cql_type(spec: str | type) -> type:
    return spec if isinstance(spec, type) else lookup_casstype(spec)


def expected_cell(spec: str | type, value: Any) -> Any:
    """What the documented mapping turns one driver value into."""
    name = spec if isinstance(spec, str) else ""
    if name == "TimestampType":
        return pd.Timestamp(value, tz="UTC")
    if name == "SimpleDateType":
        return pd.Timestamp(np.datetime64(value.days_from_epoch * 86_400, "s"))
    if name == "TimeType":
        return pd.Timedelta(value.nanosecond_time, unit="ns")
    return value


@pytest.mark.parametrize(("spec", "dtype", "value"), CASES, ids=IDS)
def test_each_type_gets_its_documented_dtype_and_value(spec: str | type, dtype: str, value: Any) -> None:
    builder = FrameBuilder(["c"], [cql_type(spec)])
    frame = builder.frame([(value,), (None,)])
    assert frame.dtypes["c"] == pandas_dtype(dtype)
    assert dtype_for(cql_type(spec)) == pandas_dtype(dtype)
    assert frame.iat[0, 0] == expected_cell(spec, value)
    null = frame.iat[1, 0]
    if dtype == "object":
        assert null is None
    elif dtype.startswith(("datetime64", "timedelta64")):
        assert null is pd.NaT
    else:
        assert null is pd.NA


@pytest.mark.parametrize(("spec", "dtype", "value"), CASES, ids=IDS)
def test_dtype_does_not_depend_on_the_page(spec: str | type, dtype: str, value: Any) -> None:
    builder = FrameBuilder(["c"], [cql_type(spec)])
    pages = [[(value,)] * 3, [(None,)] * 2, [], [(value,), (None,)]]
    frames = [builder.frame(page) for page in pages]
    assert all(f.dtypes["c"] == pandas_dtype(dtype) for f in frames)
    joined = builder.concat(frames)
    assert joined.dtypes["c"] == pandas_dtype(dtype)
    assert len(joined) == 7
    pdt.assert_index_equal(joined.index, pd.RangeIndex(7))


@pytest.mark.parametrize(("spec", "dtype", "value"), CASES, ids=IDS)
def test_accumulated_pages_equal_the_joined_page_frames(spec: str | type, dtype: str, value: Any) -> None:
    builder = FrameBuilder(["c", "n"], [cql_type(spec), lookup_casstype("LongType")])
    pages = [[(value, i)] * 700 + [(None, None)] for i in range(3)] + [[], [(value, 9)]]
    gathered = builder.accumulator()
    for page in pages:
        gathered.add(builder.parts(page))
    assert gathered.rows == 3 * 701 + 1
    frame = gathered.frame()
    pdt.assert_frame_equal(frame, builder.concat([builder.frame(page) for page in pages]))
    assert frame.dtypes["c"] == pandas_dtype(dtype)
    pdt.assert_frame_equal(gathered.frame(), builder.frame([]))  # handed over: nothing is left behind


def test_accumulating_needs_about_the_result_not_the_pages_and_the_result() -> None:
    """Pages appended to buffers that grow in place, and each column made once: the peak is near the
    result's size, where keeping page frames and joining them needs both (numpy's buffers are traced)."""
    import gc
    import tracemalloc

    columns = 8
    builder = FrameBuilder([f"c{i}" for i in range(columns)], [lookup_casstype("DoubleType")] * columns)
    rows = [tuple(float(i + j) for j in range(columns)) for i in range(20_000)]
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        gathered = builder.accumulator()
        for _ in range(10):
            gathered.add(builder.parts(rows))
        frame = gathered.frame()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    size = int(frame.memory_usage(index=False).sum())
    assert len(frame) == 200_000
    assert peak - before < size * 1.4, f"{peak - before:,} bytes at the peak for a frame of {size:,}"


def test_a_whole_results_text_column_is_made_in_steps_with_the_same_result() -> None:
    """Made at once, a million-row text column held the GIL for 26-36 ms; in steps the loop gets turns."""
    from cassnb._frames import _STEP

    builder = FrameBuilder(["t"], [UTF8Type])
    rows = [(None if i % 7 == 0 else f"row {i}",) for i in range(2 * _STEP + 5)]
    gathered = builder.accumulator()
    gathered.add(builder.parts(rows))
    frame = gathered.frame()
    pdt.assert_frame_equal(frame, builder.frame(rows))
    assert frame.dtypes["t"] == STRING_DTYPE and frame["t"].isna().sum() == len(range(0, len(rows), 7))


def test_a_whole_result_is_made_a_column_or_a_text_step_at_a_time() -> None:
    """query_df makes the final frame on the event loop, a step per turn: each column, and each _STEP text values."""
    from cassnb._frames import _STEP

    builder = FrameBuilder(["i", "t", "ts"], [lookup_casstype("Int32Type"), UTF8Type, lookup_casstype("DateType")])
    rows = [(i, None if i % 5 == 0 else f"v{i}", 1_700_000_000_000 + i) for i in range(3 * _STEP)]
    gathered = builder.accumulator()
    gathered.add(builder.parts(rows))
    steps = gathered.frame_steps()
    taken = 0
    while True:
        try:
            next(steps)
        except StopIteration as done:
            frame = done.value
            break
        taken += 1
    assert taken == 3 + 3  # one per column, and the text column's three steps
    pdt.assert_frame_equal(frame, builder.frame(rows))
    assert frame["ts"].iloc[1] == pd.Timestamp(1_700_000_000_001, unit="ms", tz="UTC")


def test_text_uses_the_explicit_na_string_dtype() -> None:
    frame = FrameBuilder(["t"], [UTF8Type]).frame([("a",), (None,)])
    assert frame.dtypes["t"] == STRING_DTYPE
    assert STRING_DTYPE.storage == "python"
    assert STRING_DTYPE.na_value is pd.NA


def test_inet_and_text_in_object_columns_are_not_inferred_as_strings() -> None:
    frame = FrameBuilder(["ip"], [lookup_casstype("InetAddressType")]).frame([("10.0.0.1",)])
    assert frame.dtypes["ip"] == np.dtype(object)


def test_float_nan_is_a_value_and_none_is_null() -> None:
    frame = FrameBuilder(["d"], [lookup_casstype("DoubleType")]).frame([(float("nan"),), (None,), (1.0,)])
    column = frame["d"]
    assert column.isna().tolist() == [False, True, False]
    assert np.isnan(column.iat[0])


def test_timestamps_are_rounded_to_the_stored_millisecond() -> None:
    # What the driver returns for 9999-12-31T23:59:59.999Z: its float decoding loses microseconds.
    noisy = datetime.datetime(9999, 12, 31, 23, 59, 59, 998993)
    early = datetime.datetime(1, 1, 1, 0, 0, 0, 123001)
    frame = FrameBuilder(["ts"], [lookup_casstype("TimestampType")]).frame([(noisy,), (early,)])
    assert frame.iat[0, 0] == pd.Timestamp("9999-12-31T23:59:59.999", tz="UTC")
    assert frame.iat[1, 0] == pd.Timestamp("0001-01-01T00:00:00.123", tz="UTC")


def test_aware_timestamps_are_converted_to_utc() -> None:
    paris = datetime.timezone(datetime.timedelta(hours=1))
    value = datetime.datetime(2024, 1, 1, 13, 0, tzinfo=paris)
    frame = FrameBuilder(["ts"], [lookup_casstype("DateType")]).frame([(value,)])
    assert frame.iat[0, 0] == pd.Timestamp("2024-01-01T12:00", tz="UTC")


def test_dates_outside_the_python_range_are_kept_exactly() -> None:
    lowest, highest = util.Date(-(2**31)), util.Date(2**31 - 1)
    frame = FrameBuilder(["d"], [lookup_casstype("SimpleDateType")]).frame([(lowest,), (highest,)])
    days = frame["d"].to_numpy().astype("datetime64[D]").astype(np.int64)
    assert days.tolist() == [-(2**31), 2**31 - 1]
    assert str(frame.iat[1, 0].year) == "5881580"


def test_equal_length_collections_stay_single_cells() -> None:
    rows = [([1, 2], (1, "a")), ([3, 4], (2, "b"))]
    types = [lookup_casstype("ListType(Int32Type)"), lookup_casstype("TupleType(Int32Type, UTF8Type)")]
    frame = FrameBuilder(["l", "t"], types).frame(rows)
    assert frame.shape == (2, 2)
    assert frame.iat[1, 0] == [3, 4]
    assert frame.iat[1, 1] == (2, "b")


def test_object_cells_are_the_drivers_objects() -> None:
    value = util.SortedSet([ipaddress.ip_address("10.0.0.1")])
    frame = FrameBuilder(["s"], [lookup_casstype("SetType(InetAddressType)")]).frame([(value,)])
    assert frame.iat[0, 0] is value


def test_empty_page_has_the_columns_and_dtypes() -> None:
    types = [cql_type(c[0]) for c in CASES]
    names = [f"c{i}" for i in range(len(CASES))]
    builder = FrameBuilder(names, types)
    empty = builder.frame([])
    assert list(empty.columns) == names
    assert len(empty) == 0
    assert tuple(empty.dtypes) == builder.dtypes == tuple(pandas_dtype(c[1]) for c in CASES)


def test_concat_of_no_pages_is_the_typed_empty_frame() -> None:
    builder = FrameBuilder(["a", "b"], [lookup_casstype("LongType"), UTF8Type])
    pdt.assert_frame_equal(builder.concat([]), builder.frame([]))
    pdt.assert_frame_equal(builder.concat([builder.frame([])]), builder.frame([]))


def test_concat_joins_pages_with_a_fresh_index() -> None:
    builder = FrameBuilder(["n", "t"], [lookup_casstype("LongType"), UTF8Type])
    rows = [(i, None if i % 3 == 0 else f"row {i}") for i in range(10)]
    pages = [rows[0:4], rows[4:8], rows[8:10]]
    joined = builder.concat([builder.frame(page) for page in pages])
    pdt.assert_frame_equal(joined, builder.frame(rows))
    pdt.assert_index_equal(joined.index, pd.RangeIndex(10))


def test_concat_takes_the_pages_over_without_changing_them() -> None:
    builder = FrameBuilder(["n", "t"], [lookup_casstype("LongType"), UTF8Type])
    pages = [builder.frame([(i, f"row {i}")]) for i in range(3)]
    copies = [page.copy() for page in pages]
    handed = list(pages)
    joined = builder.concat(handed)
    assert handed == []
    for page, copy in zip(pages, copies, strict=True):
        pdt.assert_frame_equal(page, copy)
    joined.iloc[0, 0] = 99
    assert pages[0].iloc[0, 0] == 0


def test_concat_of_edited_pages_joins_by_name() -> None:
    builder = FrameBuilder(["n"], [lookup_casstype("LongType")])
    first, second = builder.frame([(1,)]), builder.frame([(2,)])
    first["extra"] = "x"  # a frame edited since it was read (cassnb.more of a user's frame)
    joined = builder.concat([first, second])
    assert list(joined.columns) == ["n", "extra"]
    assert joined["n"].tolist() == [1, 2]


def test_concat_needs_the_pages_plus_one_column_not_twice_the_result() -> None:
    """pd.concat of the page frames holds every page and the whole result at once; joining a column at a
    time and letting its pieces go peaks at the pages plus one column (numpy's buffers are traced)."""
    import gc
    import tracemalloc

    columns = 8
    builder = FrameBuilder([f"c{i}" for i in range(columns)], [lookup_casstype("DoubleType")] * columns)
    rows = [tuple(float(i + j) for j in range(columns)) for i in range(20_000)]
    tracemalloc.start()
    try:
        pages = [builder.frame(rows) for _ in range(10)]
        total = sum(int(page.memory_usage(index=False).sum()) for page in pages)
        gc.collect()
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        joined = builder.concat(pages)  # the list is handed over, as query_df does
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(joined) == 200_000
    assert peak - before < total * 0.4, f"joining took {peak - before:,} bytes over {total:,} of pages"


def test_a_single_page_concat_gets_a_fresh_index() -> None:
    builder = FrameBuilder(["n"], [lookup_casstype("LongType")])
    page = builder.frame([(1,), (2,)]).iloc[::-1]
    pdt.assert_index_equal(builder.concat([page]).index, pd.RangeIndex(2))


def test_frames_do_not_share_data_with_the_empty_template() -> None:
    builder = FrameBuilder(["n"], [lookup_casstype("LongType")])
    first = builder.frame([])
    first.loc[0] = [1]
    assert len(builder.frame([])) == 0
    assert len(builder.concat([])) == 0


def test_duplicate_column_names_are_kept() -> None:
    long = lookup_casstype("LongType")
    frame = FrameBuilder(["a", "a"], [long, long]).frame([(1, 2)])
    assert list(frame.columns) == ["a", "a"]
    assert frame.iloc[0].tolist() == [1, 2]


def test_mismatched_names_and_types_are_refused() -> None:
    with pytest.raises(ValueError, match="2 column names but 1 column types"):
        FrameBuilder(["a", "b"], [UTF8Type])


@pytest.mark.parametrize("rows", [[(1,)], [(1, 2), (3,), (4, 5)]])
def test_rows_of_the_wrong_width_are_refused(rows: list[tuple[Any, ...]]) -> None:
    builder = FrameBuilder(["a", "b"], [lookup_casstype("LongType"), lookup_casstype("LongType")])
    with pytest.raises(ValueError, match="2"):
        builder.frame(rows)


def test_unknown_types_fall_back_to_object() -> None:
    custom = lookup_casstype("org.example.SomethingType")
    assert dtype_for(custom) == np.dtype(object)
    frame = FrameBuilder(["x"], [custom]).frame([(b"raw",)])
    assert frame.iat[0, 0] == b"raw"
