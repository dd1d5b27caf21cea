"""Export round trips against a real server: every CQL type, read page by page, written, read back.

Each format's file is parsed with an ordinary reader (``csv``/``pyarrow.csv``, ``json``, ``pyarrow``) and
decoded by the documented rules, written out again here (independently of ``cassnb.exports``), then
compared with the rows the driver returns. The memory test at the end needs no server.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import json
import re
import tracemalloc
import uuid
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from cassandra import cqltypes as ct
from cassandra.cluster import ExecutionProfile
from cassandra.query import SimpleStatement, tuple_factory
from cassandra.util import Date, Duration, Time

from cassnb.exports import Page, write_pages

# Column -> type descriptor: a CQL scalar name, or ("list"|"set"|"vector", item), ("map", key, value),
# ("tuple", *items), ("udt", {field: item}).
ADDRESS = ("udt", {"street": "text", "zip": "int", "tags": ("set", "text")})
COLUMNS: dict[str, Any] = {
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
    "c_int": "int",
    "c_smallint": "smallint",
    "c_text": "text",
    "c_time": "time",
    "c_timestamp": "timestamp",
    "c_timeuuid": "timeuuid",
    "c_tinyint": "tinyint",
    "c_uuid": "uuid",
    "c_varint": "varint",
    "c_list": ("list", "int"),
    "c_set": ("set", "text"),
    "c_map": ("map", "text", "double"),
    "c_map_int": ("map", "int", "text"),
    "c_frozen_list": ("list", "timestamp"),
    "c_frozen_map": ("map", "timestamp", ("set", "uuid")),
    "c_tuple": ("tuple", "int", "text", "date"),
    "c_udt": ADDRESS,
    "c_frozen_udt": ADDRESS,
    "c_vector": ("vector", "float"),
}
CQL_COLUMNS = {
    "c_list": "list<int>",
    "c_set": "set<text>",
    "c_map": "map<text, double>",
    "c_map_int": "map<int, text>",
    "c_frozen_list": "frozen<list<timestamp>>",
    "c_frozen_map": "frozen<map<timestamp, frozen<set<uuid>>>>",
    "c_tuple": "tuple<int, text, date>",
    "c_udt": "export_address",
    "c_frozen_udt": "frozen<export_address>",
    "c_vector": "vector<float, 3>",
}
STRING_SCALARS = {
    "ascii",
    "text",
    "blob",
    "uuid",
    "timeuuid",
    "inet",
    "timestamp",
    "date",
    "time",
    "duration",
    "decimal",
    "varint",
}
NANOS = {
    "h": 3_600_000_000_000,
    "m": 60_000_000_000,
    "s": 1_000_000_000,
    "ms": 1_000_000,
    "us": 1_000,
    "ns": 1,
}
T0 = dt.datetime(2024, 2, 29, 13, 14, 15, 678000)
U1, U2 = uuid.UUID("12345678-1234-5678-1234-567812345678"), uuid.UUID(int=2**128 - 1)

ROWS = [
    {
        "k": 1,
        "c_ascii": "plain",
        "c_bigint": 1234567890123,
        "c_blob": b"\x00\x01\xfe\xff",
        "c_boolean": True,
        "c_date": Date(dt.date(2024, 2, 29)),
        "c_decimal": Decimal("12345.678900"),
        "c_double": 0.1,
        "c_duration": Duration(14, 3, 4 * NANOS["h"] + 5 * NANOS["m"] + 6 * NANOS["s"] + 7_008_009),
        "c_float": 1.1,
        "c_inet": "192.168.1.10",
        "c_int": 42,
        "c_smallint": -7,
        "c_text": "héllo wörld ✓",
        "c_time": Time(13 * NANOS["h"] + 123_456_789),
        "c_timestamp": T0,
        "c_timeuuid": uuid.uuid1(),
        "c_tinyint": 8,
        "c_uuid": U1,
        "c_varint": 10**30,
        "c_list": [3, 1, 2],
        "c_set": {"b", "a"},
        "c_map": {"pi": 3.14, "e": 2.718},
        "c_map_int": {10: "ten", -1: "minus one"},
        "c_frozen_list": [T0, dt.datetime(1969, 7, 20, 20, 17, 40)],
        "c_frozen_map": {T0: {U1, U2}},
        "c_tuple": (7, "seven", Date(dt.date(2000, 1, 1))),
        "c_udt": ("1 Main St", 12345, {"home"}),
        "c_frozen_udt": ("2 Side Rd", None, None),
        "c_vector": [0.5, -1.25, 3.0],
    },
    {"k": 2},  # every other column null
    {
        "k": 3,
        "c_ascii": "",
        "c_bigint": -(2**63),
        "c_blob": b"",
        "c_boolean": False,
        "c_date": Date(-755687),
        "c_decimal": Decimal("-1.000E-20"),
        "c_double": float("nan"),
        "c_duration": Duration(0, -2, -NANOS["h"]),
        "c_float": float("-inf"),
        "c_inet": "::1",
        "c_int": 2**31 - 1,
        "c_smallint": -(2**15),
        "c_text": 'comma, "quote"\nnew line',
        "c_time": Time(0),
        "c_timestamp": dt.datetime(1969, 12, 31, 23, 59, 59, 999000),
        "c_timeuuid": uuid.uuid1(),
        "c_tinyint": -128,
        "c_uuid": uuid.UUID(int=0),
        "c_varint": -(10**40),
        "c_list": [0],
        "c_set": {""},
        "c_map": {"": float("inf")},
        "c_map_int": {0: ""},
        "c_frozen_list": [],
        "c_frozen_map": {},
        "c_tuple": (None, None, None),
        "c_udt": (None, None, None),
        "c_frozen_udt": ("", 0, {"x,y"}),
        "c_vector": [0.0, -0.0, 3.4028234663852886e38],
    },
]


# --- canonical forms: what the driver returns, and what each reader gives back after decoding --------


def days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's formula, valid for any year)."""
    year -= month <= 2
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468


def number(value: float) -> Any:
    return "NaN" if value != value else value


def canon(value: Any, kind: Any) -> Any:
    """The driver's value in a form every decoder below produces too."""
    if value is None:
        return None
    if isinstance(kind, tuple):
        tag = kind[0]
        if tag in ("list", "set", "vector"):
            return [canon(item, kind[1]) for item in value]
        if tag == "map":
            return {canon(k, kind[1]): canon(v, kind[2]) for k, v in value.items()}
        if tag == "tuple":
            return tuple(canon(item, sub) for item, sub in zip(value, kind[1:], strict=True))
        return {name: canon(item, sub) for (name, sub), item in zip(kind[1].items(), value, strict=True)}
    if kind in ("float", "double"):
        return number(value)
    if kind == "decimal":
        return value.as_tuple()  # keeps the exponent: 1.0 and 1.00 differ
    if kind == "date":
        return value.days_from_epoch
    if kind == "time":
        return value.nanosecond_time
    if kind == "duration":
        return (value.months, value.days, value.nanoseconds)
    if kind == "timestamp":
        return value.replace(microsecond=round(value.microsecond, -3)) if value.microsecond % 1000 else value
    return value


def from_text(text: str, kind: Any) -> Any:
    """Decode a text cell (or a JSON map key / JSON string value) by the documented rules."""
    if isinstance(kind, tuple):
        return from_json(json.loads(text), kind)
    if kind in ("int", "bigint", "smallint", "tinyint", "counter", "varint"):
        return int(text)
    if kind in ("float", "double"):
        return number(float(text))  # float() reads NaN, Infinity and -Infinity
    if kind == "decimal":
        return Decimal(text).as_tuple()
    if kind == "boolean":
        return {"true": True, "false": False}[text]
    if kind == "blob":
        assert text.startswith("0x")
        return bytes.fromhex(text[2:])
    if kind in ("uuid", "timeuuid"):
        return uuid.UUID(text)
    if kind == "timestamp":
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", text), text
        return dt.datetime.fromisoformat(text).replace(tzinfo=None)
    if kind == "date":
        match = re.fullmatch(r"([+-]?)(\d{4,})-(\d\d)-(\d\d)", text)
        assert match, text
        year = int(match[2]) * (-1 if match[1] == "-" else 1)
        return days_from_civil(year, int(match[3]), int(match[4]))
    if kind == "time":
        hours, minutes, rest = text.split(":")
        seconds, nanos = rest.split(".")
        assert len(nanos) == 9
        return ((int(hours) * 60 + int(minutes)) * 60 + int(seconds)) * NANOS["s"] + int(nanos)
    if kind == "duration":
        sign = -1 if text.startswith("-") else 1
        months = days = nanos = 0
        for count, unit in re.findall(r"(\d+)(mo|ms|us|ns|y|d|h|m|s)", text):
            if unit == "y":
                months += 12 * int(count)
            elif unit == "mo":
                months += int(count)
            elif unit == "d":
                days += int(count)
            else:
                nanos += int(count) * NANOS[unit]
        return (sign * months, sign * days, sign * nanos)
    return text  # text, ascii, inet


def from_json(value: Any, kind: Any) -> Any:
    if value is None:
        return None
    if isinstance(kind, tuple):
        tag = kind[0]
        if tag in ("list", "set", "vector"):
            return [from_json(item, kind[1]) for item in value]
        if tag == "map":
            assert isinstance(value, dict)
            return {from_text(k, kind[1]): from_json(v, kind[2]) for k, v in value.items()}
        if tag == "tuple":
            return tuple(from_json(item, sub) for item, sub in zip(value, kind[1:], strict=True))
        return {name: from_json(value[name], sub) for name, sub in kind[1].items()}
    if kind in STRING_SCALARS:
        assert isinstance(value, str), (kind, value)
        return from_text(value, kind)
    if kind in ("float", "double"):
        return number(float(value))
    return value


def from_arrow(value: Any, kind: Any) -> Any:
    if value is None:
        return None
    if isinstance(kind, tuple):
        tag = kind[0]
        if tag in ("list", "set", "vector"):
            return [from_arrow(item, kind[1]) for item in value]
        if tag == "map":  # pyarrow gives a map as a list of (key, value) pairs
            return {from_arrow(k, kind[1]): from_arrow(v, kind[2]) for k, v in value}
        if tag == "tuple":
            return tuple(from_arrow(value[f"f{i}"], sub) for i, sub in enumerate(kind[1:]))
        return {name: from_arrow(value[name], sub) for name, sub in kind[1].items()}
    if kind == "timestamp":
        assert value.tzinfo is not None
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    if kind == "date":
        return value if isinstance(value, int) else days_from_civil(value.year, value.month, value.day)
    if kind in ("float", "double"):
        return number(value)
    if kind in ("uuid", "timeuuid", "decimal", "varint", "duration"):
        return from_text(value, kind)
    return value


# --- the server side -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tables(driver_session: Any, keyspace: str) -> str:
    """Create and fill the all-types table (and a counter table); return the keyspace."""
    session = driver_session
    session.execute(
        f"CREATE TYPE IF NOT EXISTS {keyspace}.export_address (street text, zip int, tags frozen<set<text>>)"
    )
    columns = ", ".join(
        f"{name} {CQL_COLUMNS.get(name, kind)}" for name, kind in COLUMNS.items() if name != "k"
    )
    session.execute(f"CREATE TABLE {keyspace}.export_every_type (k int PRIMARY KEY, {columns})")
    for row in ROWS:
        names = list(row)
        markers = ", ".join("?" * len(names))
        insert = session.prepare(
            f"INSERT INTO {keyspace}.export_every_type ({', '.join(names)}) VALUES ({markers})"
        )
        session.execute(insert, [row[name] for name in names])
    session.execute(f"CREATE TABLE {keyspace}.export_hits (k int PRIMARY KEY, hits counter)")
    for k, delta in ((1, 5), (2, -(2**62)), (1, 10)):
        session.execute(f"UPDATE {keyspace}.export_hits SET hits = hits + {delta} WHERE k = {k}")
    session.cluster.add_execution_profile("export_tuples", ExecutionProfile(row_factory=tuple_factory))
    return keyspace


async def driver_pages(session: Any, query: str) -> AsyncIterator[Page]:
    """The plain driver, one row per page (``fetch_size=1``), as ``Page`` objects."""
    statement = SimpleStatement(query, fetch_size=1)
    result = await asyncio.to_thread(session.execute, statement, execution_profile="export_tuples")
    while True:
        yield Page(1, list(result.current_rows), result.column_names, result.column_types)
        if not result.has_more_pages:
            return
        await asyncio.to_thread(result.fetch_next_page)


def source_rows(session: Any, query: str, kinds: list[Any]) -> list[list[Any]]:
    rows = session.execute(query, execution_profile="export_tuples").all()
    assert len(rows) > 1
    return [[canon(value, kind) for value, kind in zip(row, kinds, strict=True)] for row in rows]


async def export_query(session: Any, query: str, target: Path) -> tuple[list[str], list[Any]]:
    report = await write_pages(driver_pages(session, query), target)
    assert report.pages > report.rows >= 2  # one row per page, plus the driver's last, empty one
    header = session.execute(query + " LIMIT 1", execution_profile="export_tuples").column_names
    return header, [COLUMNS.get(name, "counter") for name in header]


QUERIES = ("SELECT * FROM {ks}.export_every_type", "SELECT * FROM {ks}.export_hits")


@pytest.mark.asyncio
@pytest.mark.parametrize("query", QUERIES)
async def test_parquet_round_trip(driver_session: Any, tables: str, tmp_path: Path, query: str) -> None:
    query = query.format(ks=tables)
    names, kinds = await export_query(driver_session, query, tmp_path / "out.parquet")
    table = pq.read_table(tmp_path / "out.parquet")
    assert table.column_names == names
    columns = []
    for name, kind in zip(names, kinds, strict=True):
        column = table.column(name)
        if kind in ("date", "time"):  # dates beyond datetime.date, nanosecond times: compare the integers
            column = column.cast(pa.int32() if kind == "date" else pa.int64())
        columns.append([from_arrow(value, kind) for value in column.to_pylist()])
    assert [list(row) for row in zip(*columns, strict=True)] == source_rows(driver_session, query, kinds)


@pytest.mark.asyncio
@pytest.mark.parametrize("query", QUERIES)
async def test_csv_round_trip(driver_session: Any, tables: str, tmp_path: Path, query: str) -> None:
    query = query.format(ks=tables)
    target = tmp_path / "out.csv"
    names, kinds = await export_query(driver_session, query, target)
    with target.open(newline="", encoding="utf-8") as file:
        header, *cells = list(csv.reader(file))
    assert header == names
    # pyarrow.csv sees the quotes: an unquoted empty field is null, a quoted one an empty string.
    table = pacsv.read_csv(
        target,
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()),
            strings_can_be_null=True,
            null_values=[""],  # not "NaN" and friends, which are values here
            quoted_strings_can_be_null=False,
        ),
    )
    texts = [list(row) for row in zip(*(table.column(name).to_pylist() for name in names), strict=True)]
    assert [["" if text is None else text for text in row] for row in texts] == cells
    decoded = [
        [None if text is None else from_text(text, kind) for text, kind in zip(row, kinds, strict=True)]
        for row in texts
    ]
    assert decoded == source_rows(driver_session, query, kinds)


@pytest.mark.asyncio
@pytest.mark.parametrize("query", QUERIES)
async def test_jsonl_round_trip(driver_session: Any, tables: str, tmp_path: Path, query: str) -> None:
    query = query.format(ks=tables)
    target = tmp_path / "out.jsonl"
    names, kinds = await export_query(driver_session, query, target)
    objects = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    assert all(list(obj) == names for obj in objects)
    decoded = [
        [from_json(obj[name], kind) for name, kind in zip(names, kinds, strict=True)] for obj in objects
    ]
    assert decoded == source_rows(driver_session, query, kinds)


# --- memory: constant in the number of rows (no server needed) --------------------------------------------

MEMORY_NAMES = ("id", "ts", "name", "score", "active", "uid")
MEMORY_TYPES = (ct.LongType, ct.DateType, ct.UTF8Type, ct.DoubleType, ct.BooleanType, ct.UUIDType)


def generated_pages(total: int, page_size: int = 5_000) -> Iterator[list[tuple[Any, ...]]]:
    base = dt.datetime(2024, 1, 1)
    for start in range(0, total, page_size):
        yield [
            (
                i,
                base + dt.timedelta(milliseconds=37 * i),
                f"name-{i}",
                i / 7,
                i % 3 == 0,
                uuid.UUID(int=i * 7919),
            )
            for i in range(start, min(total, start + page_size))
        ]


async def peak_memory(target: Path, total: int) -> tuple[int, int]:
    """Peak traced Python memory, and peak Arrow memory, while exporting ``total`` generated rows."""
    arrow_peak = 0

    async def pages() -> AsyncIterator[Page]:
        nonlocal arrow_peak
        for rows in generated_pages(total):
            arrow_peak = max(arrow_peak, pa.total_allocated_bytes())
            yield Page(1, rows, MEMORY_NAMES, MEMORY_TYPES)
            del rows

    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        report = await write_pages(pages(), target, overwrite=True)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    assert report.rows == total
    return peak, arrow_peak


@pytest.mark.asyncio
@pytest.mark.parametrize("filename", ["big.csv", "big.parquet"])
async def test_memory_does_not_grow_with_rows(tmp_path: Path, filename: str) -> None:
    small, small_arrow = await peak_memory(tmp_path / filename, 30_000)
    large, large_arrow = await peak_memory(tmp_path / filename, 300_000)
    mib = 1024 * 1024
    print(
        f"\n{filename}: peak traced memory {small / mib:.1f} MiB for 30,000 rows, {large / mib:.1f} MiB for "
        f"300,000 rows; Arrow allocations {small_arrow / mib:.1f} / {large_arrow / mib:.1f} MiB"
    )
    assert large - small < 20 * mib
    assert large_arrow - small_arrow < 20 * mib
