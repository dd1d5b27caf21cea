"""``load`` against the real server: DataFrames and files in, the same data back out.

The 100,000-row DataFrame is loaded once (module fixture) and read back three ways: ``query_df``, a Parquet
export and a CSV export, each compared with the DataFrame through an independent reading of the file. File
round trips (export -> load into an empty table -> export) must give identical files, for a table of every
CQL type and for the large table.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gzip
import json
import math
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from cassandra.util import Date, Duration, Time

import cassnb
from cassnb import AsyncSession, ConfigurationError
from cassnb.exports import export
from cassnb.loading._load import LoadReport, load
from cassnb.progress import StopSignal

pytestmark = pytest.mark.asyncio

BIG_ROWS = 100_000
BIG_SCHEMA = (
    "(id bigint PRIMARY KEY, u uuid, ts timestamp, name text, score double, flag boolean, amount decimal, "
    "tags list<text>, counts map<text, int>)"
)
BIG_COLUMNS = ["id", "u", "ts", "name", "score", "flag", "amount", "tags", "counts"]
NASTY_TEXT = ["", 'say "hi", then\nleave', "naïve ☃ 𝄞", "'); DROP TABLE x; --", "a;b", "NULL", " spaced "]


def big_frame(rows: int) -> pd.DataFrame:
    """Every column has nulls (every 13th row from a different offset), edge values and awkward text."""
    rng = np.random.default_rng(20240229)
    ids = np.arange(rows, dtype=np.int64) * 7_919 - 2**40
    millis = rng.integers(-(2**40), 2**41, rows)
    scores = rng.normal(0, 1e6, rows)
    scores[:4] = [np.nan, np.inf, -0.0, 5e-324]
    frame = pd.DataFrame(
        {
            "id": pd.array(ids, dtype="Int64"),
            "u": [uuid.UUID(int=int(x)) for x in rng.integers(0, 2**62, rows)],
            "ts": pd.Series(millis.astype("datetime64[ms]")).dt.tz_localize("UTC"),
            "name": pd.array(
                [NASTY_TEXT[i % 7] + str(i) if i % 3 else NASTY_TEXT[i % 7] for i in range(rows)],
                dtype=pd.StringDtype("python", na_value=pd.NA),
            ),
            "score": pd.arrays.FloatingArray(scores, np.zeros(rows, dtype=bool)),
            "flag": pd.array(rng.integers(0, 2, rows).astype(bool), dtype="boolean"),
            "amount": [Decimal(int(x)).scaleb(-int(x % 7)) for x in rng.integers(-(10**12), 10**12, rows)],
            "tags": [[f"t{i % 11}", NASTY_TEXT[i % 7]] for i in range(rows)],
            "counts": [{"a": i % 1000, "b;'": -i} for i in range(rows)],
        }
    )
    for offset, column in enumerate(BIG_COLUMNS[1:], start=1):
        nulls = np.arange(offset, rows, 13)
        frame.loc[nulls, column] = None
    return frame


def canonical(value: Any) -> Any:
    """One comparable form for a DataFrame cell, a driver value and a decoded file value."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float):
        return "NaN" if math.isnan(value) else (value, math.copysign(1.0, value))
    if isinstance(value, dt.datetime):
        moment = pd.Timestamp(value)
        moment = moment.tz_convert("UTC").tz_localize(None) if moment.tzinfo else moment
        return moment.as_unit("ms").value // 1_000_000
    if isinstance(value, Decimal):
        return value.as_tuple()
    if hasattr(value, "items"):  # keys may be lists (frozen<list> keys): compare the pairs
        return [(canonical(k), canonical(v)) for k, v in value.items()]
    if isinstance(value, list | tuple):
        return [canonical(item) for item in value]
    return value


def rows_of(columns: dict[str, list[Any]]) -> dict[Any, list[Any]]:
    """Rows keyed by id, each cell in canonical form."""
    names = list(columns)
    return {row[0]: [canonical(v) for v in row] for row in zip(*(columns[n] for n in names), strict=True)}


@pytest.fixture(scope="module")
def big(session: AsyncSession, keyspace: str) -> tuple[pd.DataFrame, LoadReport]:
    frame = big_frame(BIG_ROWS)

    async def setup() -> LoadReport:
        await session.execute(f"CREATE TABLE {keyspace}.load_big {BIG_SCHEMA}")
        return await load(session, f"{keyspace}.load_big", frame, progress=False)

    report = asyncio.run(setup())
    print(f"\nload of a {BIG_ROWS:,}-row DataFrame: {report}")
    return frame, report


def expected_rows(frame: pd.DataFrame) -> dict[Any, list[Any]]:
    return rows_of({name: frame[name].tolist() for name in BIG_COLUMNS})


async def test_load_100k_rows_report(big: tuple[pd.DataFrame, LoadReport], keyspace: str) -> None:
    _, report = big
    assert (report.table, report.rows_written, report.rows_failed, report.failures) == (
        f"{keyspace}.load_big",
        BIG_ROWS,
        0,
        (),
    )
    assert report.rows_per_second > 0 and "rows/s" in str(report) and not report.stopped


async def test_query_df_gives_back_the_loaded_frame(session: AsyncSession, big: tuple[pd.DataFrame, Any]) -> None:
    frame, _ = big
    back = await session.query_df("SELECT * FROM load_big", progress=False)
    assert len(back) == BIG_ROWS
    assert rows_of({name: back[name].tolist() for name in BIG_COLUMNS}) == expected_rows(frame)
    assert str(back["ts"].dtype) == "datetime64[ms, UTC]" and str(back["score"].dtype) == "Float64"


async def test_parquet_export_gives_back_the_loaded_frame(
    session: AsyncSession, big: tuple[pd.DataFrame, Any], tmp_path: Path
) -> None:
    frame, _ = big
    report = await export(session, "SELECT * FROM load_big", tmp_path / "big.parquet", progress=False)
    assert report.rows == BIG_ROWS
    table = pq.read_table(tmp_path / "big.parquet")
    columns = {name: table.column(name).to_pylist() for name in BIG_COLUMNS}
    columns["u"] = [None if v is None else uuid.UUID(v) for v in columns["u"]]  # uuid and decimal as text
    columns["amount"] = [None if v is None else Decimal(v) for v in columns["amount"]]
    columns["counts"] = [None if v is None else dict(v) for v in columns["counts"]]  # a map is a list of pairs
    assert rows_of(columns) == expected_rows(frame)


def csv_text(value: Any, column: str) -> str | None:
    """The CSV cell the export rules give for a DataFrame cell (written here, independently of cassnb)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if column == "ts":
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    if column == "score":
        return "NaN" if math.isnan(value) else {math.inf: "Infinity", -math.inf: "-Infinity"}.get(value, repr(value))
    if column == "flag":
        return "true" if value else "false"
    if column in ("tags", "counts"):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def read_csv_cells(path: Path, names: list[str]) -> dict[str, list[Any]]:
    table = pacsv.read_csv(
        path,
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()),
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        ),
    )
    assert table.column_names == names
    return {name: table.column(name).to_pylist() for name in names}


async def test_csv_export_gives_back_the_loaded_frame(
    session: AsyncSession, big: tuple[pd.DataFrame, Any], tmp_path: Path
) -> None:
    frame, _ = big
    await export(session, f"SELECT {', '.join(BIG_COLUMNS)} FROM load_big", tmp_path / "big.csv", progress=False)
    cells = read_csv_cells(tmp_path / "big.csv", BIG_COLUMNS)
    got = {int(row[0]): row for row in zip(*cells.values(), strict=True)}
    want = {
        int(row[0]): row
        for row in zip(*([csv_text(v, name) for v in frame[name].tolist()] for name in BIG_COLUMNS), strict=True)
    }
    assert got == want


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
async def test_big_file_round_trip(
    session: AsyncSession, big: tuple[pd.DataFrame, Any], keyspace: str, tmp_path: Path, suffix: str
) -> None:
    """export -> load into an empty table -> export: the two files are the same."""
    await session.execute(f"CREATE TABLE IF NOT EXISTS {keyspace}.load_big_copy {BIG_SCHEMA}")
    await session.execute(f"TRUNCATE {keyspace}.load_big_copy")
    first, second = tmp_path / f"first{suffix}", tmp_path / f"second{suffix}"
    await export(session, "SELECT * FROM load_big", first, progress=False)
    report = await load(session, "load_big_copy", first, progress=False)
    print(f"\nload from {suffix}: {report}")
    assert (report.rows_written, report.rows_failed) == (BIG_ROWS, 0)
    await export(session, "SELECT * FROM load_big_copy", second, progress=False)
    assert_same_file(first, second)


def assert_same_file(first: Path, second: Path) -> None:
    """Byte for byte (Parquet included: the same rows give the same file); gzip by content."""
    if first.suffix == ".gz":  # the gzip header holds a time stamp: compare the content
        assert gzip.decompress(first.read_bytes()) == gzip.decompress(second.read_bytes())
    else:
        assert first.read_bytes() == second.read_bytes()


# --- every CQL type through every file format ----------------------------------------------------------

EVERY_TYPE = {
    "k": "int",
    "c_ascii": "ascii",
    "c_bigint": "bigint",
    "c_blob": "blob",
    "c_boolean": "boolean",
    "c_date": "date",
    "c_decimal": "decimal",
    "c_double": "double",
    "c_duration": "duration",
    "c_float": "float",
    "c_inet": "inet",
    "c_smallint": "smallint",
    "c_text": "text",
    "c_time": "time",
    "c_timestamp": "timestamp",
    "c_timeuuid": "timeuuid",
    "c_tinyint": "tinyint",
    "c_uuid": "uuid",
    "c_varint": "varint",
    "c_list": "list<int>",
    "c_set": "set<text>",
    "c_map": "map<text, double>",
    "c_map_int": "map<int, text>",
    "c_frozen_map": "frozen<map<timestamp, frozen<set<uuid>>>>",
    "c_key_list": "map<frozen<list<int>>, text>",
    "c_tuple": "tuple<int, text, date, time>",
    "c_udt": "load_address",
    "c_frozen_udt": "frozen<load_address>",
    "c_vector": "vector<float, 3>",
}
T0 = dt.datetime(2024, 2, 29, 13, 14, 15, 678000)
EVERY_TYPE_ROWS: list[dict[str, Any]] = [
    {
        "k": 1,
        "c_ascii": "plain",
        "c_bigint": -(2**63),
        "c_blob": b"\x00\xff",
        "c_boolean": True,
        "c_date": Date(-755_687),
        "c_decimal": Decimal("-1.000E-20"),
        "c_double": float("nan"),
        "c_duration": Duration(14, -0, 7_008_009),
        "c_float": float("-inf"),
        "c_inet": "::1",
        "c_smallint": -(2**15),
        "c_text": 'comma, "quote"\nnew line',
        "c_time": Time(13 * 3_600 * 10**9 + 1),
        "c_timestamp": T0,
        "c_timeuuid": uuid.UUID("d556f8e0-e85f-11f1-bea6-35da0dfca362"),
        "c_tinyint": 127,
        "c_uuid": uuid.UUID(int=2**128 - 1),
        "c_varint": -(10**40),
        "c_list": [3, 1, 2],
        "c_set": {"", "b"},
        "c_map": {"pi": 3.14, "": float("inf")},
        "c_map_int": {-1: "", 10: "ten"},
        "c_frozen_map": {T0: {uuid.UUID(int=1)}},
        "c_key_list": {(1, 2): "a", (): "empty"},
        "c_tuple": (7, None, Date(dt.date(2000, 1, 1)), Time(0)),
        "c_udt": ("1 Main St", 12345, {"home"}),
        "c_frozen_udt": ("", None, None),
        "c_vector": [0.5, -1.25, 3.4028234663852886e38],
    },
    {"k": 2},  # every other column null
    {
        "k": 3,
        "c_ascii": "",
        "c_blob": b"",
        "c_boolean": False,
        "c_date": Date(dt.date(9999, 12, 31)),
        "c_decimal": Decimal("1E+3"),
        "c_double": -0.0,
        "c_duration": Duration(0, -2, -3_600 * 10**9),
        "c_text": "",
        "c_timestamp": dt.datetime(1969, 12, 31, 23, 59, 59, 999000),
        "c_varint": 0,
        "c_tuple": (None, None, None, None),
        "c_udt": (None, None, None),
        "c_frozen_udt": ("x", 0, {"a,b"}),
    },
]


@pytest.fixture(scope="module")
def every_type(driver_session: Any, keyspace: str) -> str:
    driver_session.execute(
        f"CREATE TYPE IF NOT EXISTS {keyspace}.load_address (street text, zip int, tags frozen<set<text>>)"
    )
    columns = ", ".join(f"{name} {kind}" for name, kind in EVERY_TYPE.items() if name != "k")
    for table in ("load_every_type", "load_every_type_copy"):
        driver_session.execute(f"CREATE TABLE {keyspace}.{table} (k int PRIMARY KEY, {columns})")
    for row in EVERY_TYPE_ROWS:
        insert = driver_session.prepare(
            f"INSERT INTO {keyspace}.load_every_type ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})"
        )
        driver_session.execute(insert, list(row.values()))
    return f"{keyspace}.load_every_type"


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz", ".parquet", ".jsonl", ".jsonl.gz"])
async def test_every_type_round_trip(
    session: AsyncSession, driver_session: Any, every_type: str, tmp_path: Path, suffix: str
) -> None:
    copy = every_type + "_copy"
    await session.execute(f"TRUNCATE {copy}")
    first, second = tmp_path / f"first{suffix}", tmp_path / f"second{suffix}"
    await export(session, f"SELECT * FROM {every_type}", first, progress=False)
    report = await load(session, copy, first, progress=False, batch_rows=2)
    assert (report.rows_written, report.rows_failed) == (len(EVERY_TYPE_ROWS), 0), report.failures
    await export(session, f"SELECT * FROM {copy}", second, progress=False)
    assert_same_file(first, second)
    original = driver_session.execute(f"SELECT * FROM {every_type}").all()
    loaded = driver_session.execute(f"SELECT * FROM {copy}").all()
    assert [canonical(list(row)) for row in loaded] == [canonical(list(row)) for row in original]


async def test_every_type_from_a_dataframe(session: AsyncSession, driver_session: Any, every_type: str) -> None:
    """query_df's frame of every type loads back as it is (its own dtypes and driver objects)."""
    copy = every_type + "_copy"
    await session.execute(f"TRUNCATE {copy}")
    frame = await session.query_df(f"SELECT * FROM {every_type}", progress=False)
    report = await load(session, copy, frame, progress=False)
    assert (report.rows_written, report.rows_failed) == (len(EVERY_TYPE_ROWS), 0), report.failures
    original = driver_session.execute(f"SELECT * FROM {every_type}").all()
    loaded = driver_session.execute(f"SELECT * FROM {copy}").all()
    assert [canonical(list(row)) for row in loaded] == [canonical(list(row)) for row in original]


# --- failures are counted, the rest is written ----------------------------------------------------------


async def test_bad_rows_are_counted_with_reasons_and_the_others_written(
    session: AsyncSession, keyspace: str, driver_session: Any
) -> None:
    await session.execute(f"CREATE TABLE {keyspace}.load_bad (k text PRIMARY KEY, n int, u uuid)")
    good = [(f"ok-{i}", i, uuid.UUID(int=i)) for i in range(200)]
    bad = [
        ("str-in-int", "abc", None),  # cannot be converted
        ("too-big", 2**40, None),  # converted, but does not fit an int: refused when bound
        ("bad-uuid", 1, "not-a-uuid"),
        (None, 1, None),  # null primary key
        ("x" * 70_000, 1, None),  # the server refuses partition keys over 64 KiB
    ]
    rows = good[:50] + bad + good[50:]
    frame = pd.DataFrame(rows, columns=["k", "n", "u"])
    report = await load(session, "load_bad", frame, progress=False, batch_rows=40, concurrency=8)
    assert (report.rows_written, report.rows_failed, report.failures_not_listed) == (200, 5, 0)
    assert [row for row, _ in report.failures] == [50, 51, 52, 53, 54]
    reasons = [reason for _, reason in report.failures]
    assert reasons[0] == "column 'n': expected an integer, got 'abc'"
    assert "value 1099511627776 (int) does not fit marker 'n' of CQL type int" in reasons[1]
    assert reasons[2] == "column 'u': 'not-a-uuid' is not a UUID"
    assert reasons[3] == "primary-key column 'k' is null"
    assert "Key length" in reasons[4] or "65535" in reasons[4]  # the server's own words
    assert "5 failed" in str(report)
    count = driver_session.execute(f"SELECT count(*) FROM {keyspace}.load_bad").one()[0]
    assert count == 200


async def test_rows_of_one_partition_go_as_batches_and_a_bad_row_fails_alone(
    session: AsyncSession, keyspace: str, driver_session: Any
) -> None:
    await session.execute(f"CREATE TABLE {keyspace}.load_wide (p int, c int, v text, n int, PRIMARY KEY (p, c))")
    rows: list[tuple[Any, ...]] = [(p, c, f"{p}-{c}", c) for p in range(4) for c in range(250)]
    rows.insert(300, (1, 999, "bad", 2**40))  # converted, but does not fit an int: refused when bound
    at = rows.index((2, 5, "2-5", 5))
    rows[at] = (2, 5, "first", 5)
    rows.insert(at + 1, (2, 5, "second", 5))  # the same primary key again, right after: the later row wins
    before = session.metrics().queries
    report = await load(session, "load_wide", pd.DataFrame(rows, columns=["p", "c", "v", "n"]), progress=False)
    requests = session.metrics().queries - before
    assert (report.rows_written, report.rows_failed) == (1001, 1)
    assert report.failures[0][0] == 300 and "does not fit" in report.failures[0][1]
    # 1,002 rows in single-partition batches of at most 100 (the batch with the bad row sent again row by row).
    assert requests < 200, requests
    assert driver_session.execute(f"SELECT count(*) FROM {keyspace}.load_wide").one()[0] == 1000
    found = driver_session.execute(f"SELECT v FROM {keyspace}.load_wide WHERE p = 2 AND c = 5").one()
    assert found.v == "second"
    assert driver_session.execute(f"SELECT v FROM {keyspace}.load_wide WHERE p = 1 AND c = 999").one() is None


@pytest.mark.parametrize("shape", ["rows", "batches"])
async def test_the_consistency_level_is_the_one_each_insert_is_acknowledged_at(
    session: AsyncSession, keyspace: str, driver_session: Any, shape: str
) -> None:
    table = f"load_level_{shape}"
    await session.execute(f"CREATE TABLE {keyspace}.{table} (p int, c int, PRIMARY KEY (p, c))")
    keys = [(p, 0) for p in range(50)] if shape == "rows" else [(0, c) for c in range(50)]
    frame = pd.DataFrame(keys, columns=["p", "c"])
    # One node holds the keyspace: TWO cannot be met, and the server says so before writing anything.
    with pytest.raises(cassnb.UnavailableError) as caught:
        await load(session, table, frame, progress=False, retry_for=0, consistency="two")
    assert caught.value.report.rows_written == 0 and "TWO" in str(caught.value)
    assert driver_session.execute(f"SELECT count(*) FROM {keyspace}.{table}").one()[0] == 0
    report = await load(session, table, frame, progress=False, consistency=cassnb.Consistency.ALL)
    assert report.rows_written == 50
    assert driver_session.execute(f"SELECT count(*) FROM {keyspace}.{table}").one()[0] == 50
    # A value that does not fit fails its row alone, named as in a load at the session's level.
    bad = pd.DataFrame([(60, 0), (61, 2**40)] if shape == "rows" else [(0, 60), (0, 2**40)], columns=["p", "c"])
    report = await load(session, table, bad, progress=False, consistency="ALL")
    assert (report.rows_written, report.rows_failed) == (1, 1) and "does not fit" in report.failures[0][1]
    with pytest.raises(ConfigurationError, match="unknown consistency level 'most'; choose one of ANY"):
        await load(session, table, frame, progress=False, consistency="most")


async def test_failures_beyond_100_are_counted_not_listed(session: AsyncSession, keyspace: str) -> None:
    await session.execute(f"CREATE TABLE {keyspace}.load_many_bad (k int PRIMARY KEY, n int)")
    frame = pd.DataFrame({"k": range(300), "n": ["x" if i % 2 else i for i in range(300)]})
    report = await load(session, f"{keyspace}.load_many_bad", frame, progress=False, batch_rows=64)
    assert (report.rows_written, report.rows_failed, len(report.failures)) == (150, 150, 100)
    assert report.failures_not_listed == 50
    assert [row for row, _ in report.failures] == list(range(1, 200, 2))


async def test_csv_cells_that_do_not_parse_fail_their_rows(
    session: AsyncSession, keyspace: str, tmp_path: Path
) -> None:
    await session.execute(f"CREATE TABLE {keyspace}.load_bad_csv (k int PRIMARY KEY, d date, b blob, l list<int>)")
    source = tmp_path / "bad.csv"
    source.write_text(
        'k,d,b,l\r\n1,2024-01-01,0x00,[1]\r\n2,2024-02-30,0x00,[1]\r\n3,,zz,\r\n4,,,"[1,""x""]"\r\n5,,,\r\n'
    )
    report = await load(session, f"{keyspace}.load_bad_csv", source, progress=False)
    assert (report.rows_written, report.rows_failed) == (2, 3)
    assert report.failures == (
        (1, "column 'd': day is out of range for month"),
        (2, "column 'b': 'zz' is not a blob: write 0x followed by pairs of hex digits"),
        (3, "column 'l': expected an integer, got 'x'"),
    )


async def test_a_malformed_csv_record_fails_as_a_row_and_the_rest_loads(
    session: AsyncSession, keyspace: str, tmp_path: Path, driver_session: Any
) -> None:
    await session.execute(f"CREATE TABLE {keyspace}.load_broken (k int PRIMARY KEY, v text)")
    source = tmp_path / "broken.csv"
    body = "".join(f"{k},v{k}\n" for k in range(5_000)) + "5000,v,extra\n" + "".join(f"{k},v{k}\n" for k in range(5_001, 5_011))
    source.write_text("k,v\n" + body)
    rejects = tmp_path / "rejects.csv"
    report = await load(session, "load_broken", source, progress=False, batch_rows=1_000, rejects=rejects)
    assert (report.rows_written, report.rows_failed, report.restart_row) == (5_010, 1, None)
    assert report.failures == ((5_000, "line 5002: 3 fields, the header has 2"),)
    assert rejects.read_text().splitlines() == [
        "row,status,reason,source", "5000,failed,\"line 5002: 3 fields, the header has 2\",\"5000,v,extra\""
    ]
    assert driver_session.execute(f"SELECT count(*) FROM {keyspace}.load_broken").one()[0] == 5_010


async def test_empty_sources_load_nothing(session: AsyncSession, tmp_path: Path, plain: str) -> None:
    (tmp_path / "header_only.csv").write_text("k,v\n")
    for source in (pd.DataFrame({"k": pd.Series([], dtype="string")}), tmp_path / "header_only.csv"):
        report = await load(session, plain, source, progress=False)
        assert (report.rows_written, report.rows_failed) == (0, 0)
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(ConfigurationError, match="is empty: a CSV source starts with a header row"):
        await load(session, plain, tmp_path / "empty.csv", progress=False)


# --- injection: values are bound, never written into CQL --------------------------------------------------

HOSTILE = [
    "'",
    "''",
    '"',
    "; DROP TABLE load_victim; --",
    "'); DROP TABLE load_victim; --",
    "-- comment",
    "/* x */",
    "$$ dollar $$",
    "SELECT * FROM system.local",
    "INSERT",
    "?",
    ":name",
    "%s",
    "%(k)s",
    "{0}",
    "\\'",
    "\x00",
    "line\nbreak\r\n",
    "ünïcødé ☃",
]


async def test_hostile_values_are_stored_verbatim(
    session: AsyncSession, keyspace: str, driver_session: Any, tmp_path: Path
) -> None:
    await session.execute(f"CREATE TABLE {keyspace}.load_victim (k int PRIMARY KEY)")
    await session.execute(
        f"CREATE TABLE {keyspace}.load_hostile (k text PRIMARY KEY, v text, l list<text>, m map<text, text>)"
    )
    frame = pd.DataFrame(
        {
            "k": HOSTILE,
            "v": HOSTILE[::-1],
            "l": [[text, text] for text in HOSTILE],
            "m": [{t: t} for t in HOSTILE],
        }
    )
    report = await load(session, "load_hostile", frame, progress=False)
    assert (report.rows_written, report.rows_failed) == (len(HOSTILE), 0)
    await export(session, "SELECT * FROM load_hostile", tmp_path / "hostile.csv", progress=False)
    await session.execute("TRUNCATE load_hostile")
    report = await load(session, "load_hostile", tmp_path / "hostile.csv", progress=False)
    assert (report.rows_written, report.rows_failed) == (len(HOSTILE), 0)
    stored = {row.k: row for row in driver_session.execute(f"SELECT * FROM {keyspace}.load_hostile")}
    assert set(stored) == set(HOSTILE)
    for key, value in zip(HOSTILE, HOSTILE[::-1], strict=True):
        assert (stored[key].v, stored[key].l, dict(stored[key].m)) == (value, [key, key], {key: key})
    assert driver_session.execute(f"SELECT count(*) FROM {keyspace}.load_victim").one()[0] == 0  # still there


async def test_a_hostile_column_name_is_refused_before_any_cql(session: AsyncSession, plain: str) -> None:
    frame = pd.DataFrame({"k": ["a"], "v) VALUES (1); DROP TABLE load_plain; --": ["x"]})
    with pytest.raises(ConfigurationError, match="DROP TABLE load_plain"):
        await load(session, plain, frame, progress=False)


# --- mistakes are found before anything is written -----------------------------------------------------


@pytest.fixture(scope="module")
def plain(driver_session: Any, keyspace: str) -> str:
    driver_session.execute(
        f"CREATE TABLE {keyspace}.load_plain (k text PRIMARY KEY, v text, l list<text>, m map<text, text>)"
    )
    return "load_plain"


async def test_unknown_column_is_named(session: AsyncSession, plain: str) -> None:
    frame = pd.DataFrame({"k": ["a"], "v": ["b"], "colour": ["red"], "size": [1]})
    with pytest.raises(ConfigurationError, match="has no column 'colour', 'size'; its columns are k, l, m, v"):
        await load(session, plain, frame, progress=False)
    report = await load(session, plain, frame, columns=["k", "v"], progress=False)  # or leave them out
    assert report.rows_written == 1


async def test_missing_primary_key_column_is_named(session: AsyncSession, plain: str) -> None:
    with pytest.raises(ConfigurationError, match="primary-key column\\(s\\) 'k'"):
        await load(session, plain, pd.DataFrame({"v": ["b"]}), progress=False)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("no_such_table", "table cassnb_test_\\w+.no_such_table does not exist"),
        ("no_such_ks.t", "keyspace 'no_such_ks' does not exist"),
        ('"LOAD_PLAIN"', 'table \\w+.LOAD_PLAIN does not exist; did you mean "load_plain"'),
        ("load_plain; DROP TABLE x", "invalid table name"),
        ("a.b.c", "invalid table name"),
        ("", "invalid table name"),
    ],
)
async def test_bad_table_names(session: AsyncSession, plain: str, table: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        await load(session, table, pd.DataFrame({"k": ["a"]}), progress=False)


@pytest.mark.parametrize(
    ("source", "options", "error", "message"),
    [
        ([{"k": "a"}], {}, ConfigurationError, "pass a pandas DataFrame or the path"),
        ("data.xlsx", {}, ConfigurationError, "cannot tell the export format"),
        ("missing.csv", {}, FileNotFoundError, "missing.csv"),
        ("missing.csv", {"quote": "'"}, TypeError, "unknown csv export option"),
        ("missing.parquet", {"null": "x"}, TypeError, "takes no options"),
    ],
)
async def test_bad_sources(
    session: AsyncSession,
    plain: str,
    tmp_path: Path,
    source: Any,
    options: dict[str, Any],
    error: type,
    message: str,
) -> None:
    if isinstance(source, str):
        source = tmp_path / source
    with pytest.raises(error, match=message):
        await load(session, plain, source, progress=False, **options)


async def test_counter_tables_are_refused(session: AsyncSession, keyspace: str) -> None:
    await session.execute(f"CREATE TABLE {keyspace}.load_counts (k int PRIMARY KEY, hits counter)")
    with pytest.raises(ConfigurationError, match="counter table"):
        await load(session, "load_counts", pd.DataFrame({"k": [1], "hits": [2]}), progress=False)


async def test_a_table_just_created_elsewhere_and_quoted_names(
    session: AsyncSession, keyspace: str, driver_session: Any
) -> None:
    # Created by another client: this session's metadata may not know it yet.
    driver_session.execute(f'CREATE TABLE {keyspace}."LoadMixed" ("Key" int PRIMARY KEY, "a b" text)')
    frame = pd.DataFrame({"Key": [1, 2], "a b": ["x", None]})
    report = await load(session, f'{keyspace}."LoadMixed"', frame, progress=False)
    assert report.rows_written == 2 and report.table == f"{keyspace}.LoadMixed"
    rows = sorted(driver_session.execute(f'SELECT * FROM {keyspace}."LoadMixed"'))
    assert [tuple(row) for row in rows] == [(1, "x"), (2, None)]
    with pytest.raises(ConfigurationError, match='did you mean "LoadMixed"'):
        await load(session, "loadmixed", frame, progress=False)


# --- stopping: connection lost, cancelled, Stop button ----------------------------------------------------


class FlakySession:
    """A real session whose inserts start failing, as on a lost connection, after ``ok`` of them."""

    def __init__(self, real: AsyncSession, ok: int) -> None:
        self._real, self._ok, self.calls = real, ok, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        if self.calls > self._ok:
            await asyncio.sleep(0.005)
            raise cassnb.ConnectionError("the connection to Cassandra was lost (simulated)")
        return await self._real.execute(*args, **kwargs)


async def test_connection_lost_stops_the_load_and_says_where(
    session: AsyncSession, keyspace: str, driver_session: Any
) -> None:
    await session.execute(f"CREATE TABLE {keyspace}.load_cut (k int PRIMARY KEY, v text)")
    frame = pd.DataFrame({"k": range(5_000), "v": ["x"] * 5_000})
    flaky = FlakySession(session, ok=1_234)
    with pytest.raises(cassnb.ConnectionError) as caught:
        await load(flaky, "load_cut", frame, progress=False, batch_rows=1_000, concurrency=16,  # type: ignore[arg-type]
                   retry_for=0.5)  # fmt: skip
    message = str(caught.value)
    assert "lost (simulated)" in message and "\n" not in message
    assert "1,234 rows were acknowledged, 0 failed" in message and "got no acknowledgement even after retries" in message
    assert "every row before row 1,234 was acknowledged or failed: load again with start_row=1234" in message
    report = caught.value.report
    assert (report.rows_written, report.restart_row) == (1_234, 1_234) and 1 <= report.rows_unknown <= 16
    stored = {row.k for row in driver_session.execute(f"SELECT k FROM {keyspace}.load_cut")}
    assert stored == set(range(1_234))
    assert flaky.calls < 1_234 + 16 * 10  # stopped within one round of the workers (each retrying a few times)


async def test_cancelling_waits_for_inserts_in_flight(
    session: AsyncSession, keyspace: str, driver_session: Any
) -> None:
    await session.execute(f"CREATE TABLE {keyspace}.load_cancel (k int PRIMARY KEY)")
    recorder = Recorder(stop_after=1_000)  # its stop signal is only watched here: the load does not see it
    task = asyncio.ensure_future(
        load(session, "load_cancel", pd.DataFrame({"k": range(50_000)}), progress=ProgressOnly(recorder),
             batch_rows=500)
    )  # fmt: skip
    while not recorder.stop.is_set():  # wait until 1,000 rows are done, then cancel
        await asyncio.wait([task], timeout=0.01)
        assert not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError) as caught:
        await task
    (note,) = caught.value.__notes__
    written = int(note.split("stopped: ")[1].split(" rows were acknowledged")[0].replace(",", ""))
    restart = int(note.split("start_row=")[1].split(" ")[0])
    assert 0 < written == restart < 50_000  # a DataFrame's rows go in order: all before the restart row are in
    count = driver_session.execute(f"SELECT count(*) FROM {keyspace}.load_cancel").one()[0]
    assert count == written  # nothing in flight was left behind, nothing more was sent


class Recorder:
    """A progress reporter that records its calls (and presses Stop once ``stop_after`` rows are done)."""

    def __init__(self, stop_after: int | None = None) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.stop = StopSignal()
        self.stop_after = stop_after

    def start(self, description: str) -> None:
        self.calls.append(("start", description))

    def update(self, rows: int, pages: int, detail: str = "") -> None:
        self.calls.append(("update", rows, pages, detail))
        if self.stop_after is not None and rows >= self.stop_after:
            self.stop.set()

    def finish(self) -> None:
        self.calls.append(("finish",))

    def fail(self, reason: str) -> None:
        self.calls.append(("fail", reason))

    @property
    def stop_requested(self) -> bool:
        return self.stop.is_set()


class ProgressOnly:
    """Passes progress on to ``recorder`` but never asks the load to stop."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder

    def start(self, description: str) -> None:
        self.recorder.start(description)

    def update(self, rows: int, pages: int, detail: str = "") -> None:
        self.recorder.update(rows, pages, detail)

    def finish(self) -> None:
        self.recorder.finish()

    def fail(self, reason: str) -> None:
        self.recorder.fail(reason)

    stop_requested = False


async def test_progress_reports_rows_and_chunks(session: AsyncSession, keyspace: str) -> None:
    await session.execute(f"CREATE TABLE {keyspace}.load_progress (k int PRIMARY KEY, n int)")
    recorder = Recorder()
    frame = pd.DataFrame({"k": range(1_000), "n": [1] * 999 + ["bad"]})
    await load(session, "load_progress", frame, progress=recorder, batch_rows=400)
    assert recorder.calls[0] == ("start", f"loading into {keyspace}.load_progress")
    assert recorder.calls[-1] == ("finish",)
    chunk_ends = [call for call in recorder.calls if call[0] == "update" and call[1] in (400, 800, 1000)]
    assert chunk_ends[-1] == ("update", 1_000, 3, "1 failed")


async def test_stop_ends_the_load_after_the_current_chunk(session: AsyncSession, keyspace: str) -> None:
    await session.execute(f"CREATE TABLE {keyspace}.load_stop (k int PRIMARY KEY)")
    recorder = Recorder(stop_after=1)
    report = await load(session, "load_stop", pd.DataFrame({"k": range(1_000)}), progress=recorder, batch_rows=300)
    assert report.stopped and report.rows_written == 300 and "stopped" in str(report)
    assert recorder.calls[-1] == ("fail", "stopped")


async def test_memory_is_bounded_by_chunks_not_the_source(tmp_path: Path) -> None:
    """Reading a large CSV holds about two chunks, whatever the file size (no server needed)."""
    import tracemalloc

    from cassandra import cqltypes as ct

    from cassnb.formats._formats import CsvOptions
    from cassnb.loading._columns import Column as _Column
    from cassnb.loading._sources import _CsvSource

    def peak(rows: int) -> int:
        path = tmp_path / f"{rows}.csv"
        with path.open("w") as file:
            file.write("k,v\n")
            file.writelines(f"{i},value-{i}\n" for i in range(rows))
        columns = [_Column("k", ct.Int32Type, True), _Column("v", ct.UTF8Type, False)]
        tracemalloc.start()
        try:
            for _chunk in _CsvSource(path, False, CsvOptions()).chunks([0, 1], columns, 5_000):
                pass
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    small, large = peak(20_000), peak(200_000)
    assert large < small * 1.5 + 2**20, (small, large)
