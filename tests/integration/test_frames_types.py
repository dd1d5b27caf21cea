"""FrameBuilder against a real server: every CQL type read back through the driver, and paged reads."""

from __future__ import annotations

import datetime
import decimal
import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest
from cassandra import util
from cassandra.cluster import EXEC_PROFILE_DEFAULT, ExecutionProfile
from cassandra.concurrent import execute_concurrent_with_args
from cassandra.query import SimpleStatement, tuple_factory
from pandas.api.types import pandas_dtype

from cassnb._frames import FrameBuilder

# column -> (CQL type, documented pandas dtype)
COLUMNS: dict[str, tuple[str, str]] = {
    "c_tinyint": ("tinyint", "Int8"),
    "c_smallint": ("smallint", "Int16"),
    "c_int": ("int", "Int32"),
    "c_bigint": ("bigint", "Int64"),
    "c_float": ("float", "Float32"),
    "c_double": ("double", "Float64"),
    "c_decimal": ("decimal", "object"),
    "c_varint": ("varint", "object"),
    "c_boolean": ("boolean", "boolean"),
    "c_text": ("text", "string[python]"),
    "c_varchar": ("varchar", "string[python]"),
    "c_ascii": ("ascii", "string[python]"),
    "c_blob": ("blob", "object"),
    "c_uuid": ("uuid", "object"),
    "c_timeuuid": ("timeuuid", "object"),
    "c_timestamp": ("timestamp", "datetime64[ms, UTC]"),
    "c_date": ("date", "datetime64[s]"),
    "c_time": ("time", "timedelta64[ns]"),
    "c_duration": ("duration", "object"),
    "c_inet": ("inet", "object"),
    "c_list": ("list<int>", "object"),
    "c_set": ("set<text>", "object"),
    "c_map": ("map<text, int>", "object"),
    "c_frozen_list": ("frozen<list<int>>", "object"),
    "c_frozen_set": ("frozen<set<int>>", "object"),
    "c_frozen_map": ("frozen<map<int, frozen<list<text>>>>", "object"),
    "c_tuple": ("tuple<int, text>", "object"),
    "c_udt": ("frozen<address>", "object"),
    "c_vector": ("vector<float, 3>", "object"),
}

VALUES: dict[str, Any] = {
    "c_tinyint": -128,
    "c_smallint": 32_767,
    "c_int": -2_147_483_648,
    "c_bigint": 9_223_372_036_854_775_807,
    "c_float": 1.25,
    "c_double": -0.1,
    "c_decimal": decimal.Decimal("-12345678901234567890.0987654321"),
    "c_varint": 2**100,
    "c_boolean": False,
    "c_text": "naïve ✓",
    "c_varchar": "",
    "c_ascii": "plain",
    "c_blob": b"\x00\x01\xff",
    "c_uuid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "c_timeuuid": uuid.uuid1(),
    "c_timestamp": datetime.datetime(9999, 12, 31, 23, 59, 59, 999000),
    "c_date": util.Date(-(2**31)),  # the lowest CQL date, far before datetime.date's year 1
    "c_time": util.Time("13:14:15.123456789"),
    "c_duration": util.Duration(1, 2, 3_000_000_004),
    "c_inet": "2001:db8::1",
    "c_list": [3, 1, 2],
    "c_set": {"b", "a"},
    "c_map": {"x": 1, "y": 2},
    "c_frozen_list": [1, 1],
    "c_frozen_set": {5, 6},
    "c_frozen_map": {1: ["a", "b"], 2: []},
    "c_tuple": (7, "seven"),
    "c_udt": ("Main St", 12345),
    "c_vector": [0.5, -1.5, 3.0],
}


@pytest.fixture(scope="module")
def tuples(driver_session: Any) -> ExecutionProfile:
    """A copy of the default profile that returns plain tuples, leaving the shared cluster alone."""
    return driver_session.execution_profile_clone_update(EXEC_PROFILE_DEFAULT, row_factory=tuple_factory)


@pytest.fixture(scope="module")
def all_types(driver_session: Any, keyspace: str) -> Iterator[str]:
    driver_session.execute(f"CREATE TYPE IF NOT EXISTS {keyspace}.address (street text, zip int)")
    columns = ", ".join(f"{name} {cql}" for name, (cql, _) in COLUMNS.items())
    table = f"{keyspace}.frames_all_types"
    driver_session.execute(f"CREATE TABLE {table} (k int PRIMARY KEY, {columns})")
    names = ", ".join(VALUES)
    marks = ", ".join("?" for _ in VALUES)
    insert = driver_session.prepare(f"INSERT INTO {table} (k, {names}) VALUES (?, {marks})")
    driver_session.execute(insert, [1, *VALUES.values()])
    driver_session.execute(f"INSERT INTO {table} (k) VALUES (2)")
    yield table
    driver_session.execute(f"DROP TABLE {table}")


def read(session: Any, profile: ExecutionProfile, query: str) -> tuple[FrameBuilder, list[tuple[Any, ...]]]:
    result = session.execute(query, execution_profile=profile)
    assert not result.has_more_pages
    return FrameBuilder(result.column_names, result.column_types), list(result.current_rows)


def documented(column: str, value: Any) -> Any:
    """The driver's value after the conversion docs/types.md describes for the column's type."""
    cql = COLUMNS[column][0]
    if cql == "timestamp":
        return pd.Timestamp(value, tz="UTC").round("ms")
    if cql == "date":
        return pd.Timestamp(np.datetime64(value.days_from_epoch * 86_400, "s"))
    if cql == "time":
        return pd.Timedelta(value.nanosecond_time, unit="ns")
    return value


def test_every_type_round_trips_with_its_documented_dtype(
    driver_session: Any, tuples: ExecutionProfile, all_types: str
) -> None:
    names = list(COLUMNS)
    builder, rows = read(driver_session, tuples, f"SELECT {', '.join(names)} FROM {all_types} WHERE k = 1")
    null_builder, null_rows = read(
        driver_session, tuples, f"SELECT {', '.join(names)} FROM {all_types} WHERE k = 2"
    )
    frame = builder.concat([builder.frame(rows), null_builder.frame(null_rows)])
    assert list(frame.columns) == names
    (driver_row,) = rows
    for position, name in enumerate(names):
        dtype = pandas_dtype(COLUMNS[name][1])
        assert frame.dtypes[name] == dtype, name
        assert frame.iat[0, position] == documented(name, driver_row[position]), name
        null = frame.iat[1, position]
        if dtype == np.dtype(object):
            assert null is None, name
        elif dtype.kind in "mM":
            assert null is pd.NaT, name
        else:
            assert null is pd.NA, name


def test_values_survive_the_trip_from_python(
    driver_session: Any, tuples: ExecutionProfile, all_types: str
) -> None:
    builder, rows = read(driver_session, tuples, f"SELECT * FROM {all_types} WHERE k = 1")
    cells = builder.frame(rows).iloc[0]
    assert cells["c_timestamp"] == pd.Timestamp("9999-12-31T23:59:59.999", tz="UTC")
    assert cells["c_date"] == pd.Timestamp(np.datetime64(-(2**31) * 86_400, "s"))
    assert cells["c_time"] == pd.Timedelta("13:14:15.123456789")
    assert cells["c_float"] == 1.25 and cells["c_bigint"] == 2**63 - 1
    assert cells["c_text"] == "naïve ✓" and cells["c_varchar"] == ""
    assert cells["c_set"] == {"a", "b"} and dict(cells["c_map"]) == {"x": 1, "y": 2}
    assert cells["c_udt"].street == "Main St" and cells["c_udt"].zip == 12345
    assert cells["c_vector"] == [0.5, -1.5, 3.0]
    assert cells["c_duration"] == util.Duration(1, 2, 3_000_000_004)


def test_counters(driver_session: Any, tuples: ExecutionProfile, keyspace: str) -> None:
    table = f"{keyspace}.frames_counters"
    driver_session.execute(f"CREATE TABLE {table} (k int PRIMARY KEY, hits counter, misses counter)")
    driver_session.execute(f"UPDATE {table} SET hits = hits + 5 WHERE k = 1")
    builder, rows = read(driver_session, tuples, f"SELECT hits, misses FROM {table}")
    frame = builder.frame(rows)
    assert frame.dtypes.tolist() == [pandas_dtype("Int64")] * 2
    assert frame.iat[0, 0] == 5
    assert frame.iat[0, 1] is pd.NA


def test_timestamps_beyond_python_via_to_unix_timestamp(
    driver_session: Any, tuples: ExecutionProfile, keyspace: str
) -> None:
    # Year 10000 can be stored but not decoded by the driver; docs/types.md suggests reading the
    # milliseconds instead. (Selecting the column itself here would break the shared connection.)
    table = f"{keyspace}.frames_far_timestamps"
    driver_session.execute(f"CREATE TABLE {table} (k int PRIMARY KEY, ts timestamp)")
    driver_session.execute(f"INSERT INTO {table} (k, ts) VALUES (1, 253402300800000)")
    builder, rows = read(driver_session, tuples, f"SELECT toUnixTimestamp(ts) AS ts_ms FROM {table}")
    frame = builder.frame(rows)
    assert frame.dtypes["ts_ms"] == pandas_dtype("Int64")
    as_time = frame["ts_ms"].to_numpy(dtype="int64").astype("datetime64[ms]")
    assert str(as_time[0]) == "10000-01-01T00:00:00.000"


@pytest.fixture(scope="module")
def big_table(driver_session: Any, keyspace: str) -> Iterator[str]:
    table = f"{keyspace}.frames_paging"
    driver_session.execute(
        f"CREATE TABLE {table} (k int PRIMARY KEY, n bigint, ts timestamp, t text, d double, "
        "f boolean, u uuid, l list<int>)"
    )
    insert = driver_session.prepare(
        f"INSERT INTO {table} (k, n, ts, t, d, f, u, l) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
    )
    start = datetime.datetime(2020, 1, 1)
    rows = [
        (
            k,
            None if k % 7 == 0 else k * 1_000_003,
            None if k % 11 == 0 else start + datetime.timedelta(milliseconds=k * 987_654_321),
            None if k % 13 == 0 else f"row {k}",
            None if k % 17 == 0 else k / 3,
            None if k % 19 == 0 else k % 2 == 0,
            uuid.UUID(int=k),
            None if k % 5 == 0 else [k, k],
        )
        for k in range(2_500)
    ]
    results = execute_concurrent_with_args(driver_session, insert, rows, concurrency=50)
    assert all(ok for ok, _ in results)
    yield table
    driver_session.execute(f"DROP TABLE {table}")


def test_paged_read_equals_a_single_page_read(
    driver_session: Any, tuples: ExecutionProfile, big_table: str
) -> None:
    query = f"SELECT * FROM {big_table}"
    result = driver_session.execute(SimpleStatement(query, fetch_size=100), execution_profile=tuples)
    builder = FrameBuilder(result.column_names, result.column_types)
    pages = [builder.frame(result.current_rows)]
    while result.has_more_pages:
        result.fetch_next_page()
        pages.append(builder.frame(result.current_rows))
    assert len(pages) >= 25
    paged = builder.concat(pages)

    whole = driver_session.execute(SimpleStatement(query, fetch_size=10_000), execution_profile=tuples)
    assert not whole.has_more_pages
    single = FrameBuilder(whole.column_names, whole.column_types).frame(whole.current_rows)

    assert len(paged) == 2_500
    pdt.assert_frame_equal(paged, single)
    assert paged.dtypes.tolist() == list(builder.dtypes)
    assert paged["n"].isna().sum() == len(range(0, 2_500, 7))
