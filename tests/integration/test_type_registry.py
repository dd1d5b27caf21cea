"""The type registry, walked whole against the real server: every CQL type through every form and back.

The table is built from ``cassnb._types.SCALARS`` itself, so a type added to the registry without a value
here fails ``test_every_registry_type_has_values``. Each scalar type appears as a column of its own, as a list
element, a set element and a map key (where CQL allows it), a tuple item, a UDT field and (numbers) a vector
item. Rows go through a DataFrame (``query_df``, dtypes checked against the registry), CSV, JSON Lines and
Parquet (``export``), and back into a second table through ``load``; the driver's reading of both tables must
agree exactly. ``counter`` cannot be inserted, so it is exported from a counter table of its own and read back
from each file.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from cassandra.util import Date, Duration, Time

from cassnb import AsyncSession
from cassnb._types import SCALARS
from cassnb.exports import export
from cassnb.loading import load

# Two non-null values per scalar type, chosen at the edges of each form (quotes and newlines in text, NaN and
# infinities, dates outside years 1-9999, negative durations, the extremes of each integer width).
VALUES: dict[str, tuple[Any, Any]] = {
    "tinyint": (-128, 127),
    "smallint": (-32768, 32767),
    "int": (-(2**31), 2**31 - 1),
    "bigint": (-(2**63), 2**63 - 1),
    "varint": (10**40 + 1, -(10**30)),
    "decimal": (Decimal("-1.50E-30"), Decimal("123456789012345678901234567890.000")),
    "float": (1.5, float("-inf")),
    "double": (float("nan"), 2.0**-1074),
    "boolean": (True, False),
    "text": ('ünï "q", comma\nnew line', ""),
    "varchar": ("tab\there", "🦄"),
    "ascii": ("plain ascii", "x,y;z"),
    "blob": (b"\x00\xff\x10", b""),
    "uuid": (uuid.UUID("12345678-1234-5678-1234-567812345678"), uuid.UUID(int=0)),
    "timeuuid": (uuid.UUID("e1f0c2a2-8fb4-11ef-8000-000000000001"), uuid.UUID("00000000-0000-1000-8000-000000000000")),
    "inet": ("10.0.0.1", "2001:db8::1"),
    "timestamp": (dt.datetime(2024, 1, 2, 3, 4, 5, 678000), dt.datetime(1, 1, 1)),
    "date": (Date(-1_000_000), Date(3_000_000)),
    "time": (Time(0), Time(86_399_999_999_999)),
    "duration": (Duration(-1, -2, -3), Duration(14, 3, 4 * 3600 * 10**9 + 5)),
}
COUNTER_VALUES = (-(2**63) + 1, 42)
NOT_INSERTABLE = {"counter"}  # counters change only by UPDATE; see test_counters_export_in_every_format
NOT_COMPARABLE = {"duration"}  # CQL refuses durations as set elements and map keys
NUMBERS = {"tinyint", "smallint", "int", "bigint", "float", "double"}
SCALAR_NAMES = [name for name in SCALARS if name not in NOT_INSERTABLE]
FORMATS = [".csv", ".csv.gz", ".jsonl", ".jsonl.gz", ".parquet"]


def _columns() -> dict[str, str]:
    columns = {f"s_{name}": name for name in SCALAR_NAMES}
    columns |= {f"l_{name}": f"list<{name}>" for name in SCALAR_NAMES}
    columns |= {f"e_{name}": f"set<{name}>" for name in SCALAR_NAMES if name not in NOT_COMPARABLE}
    columns |= {f"m_{name}": f"map<{name}, int>" for name in SCALAR_NAMES if name not in NOT_COMPARABLE}
    columns |= {f"v_{name}": f"vector<{name}, 2>" for name in SCALAR_NAMES if name in NUMBERS}
    columns["tup"] = f"tuple<{', '.join(SCALAR_NAMES)}>"
    columns["udt"] = "registry_every"
    columns["nested"] = "map<text, frozen<list<frozen<registry_every>>>>"
    return columns


COLUMNS = _columns()


def _row(k: int) -> dict[str, Any]:
    """Row ``k``: 0 and 1 take each type's two values, 2 is all nulls (and empty collections)."""
    if k == 2:
        return {"k": k}
    pick = {name: VALUES[name][k] for name in SCALAR_NAMES}
    other = {name: VALUES[name][1 - k] for name in SCALAR_NAMES}
    row: dict[str, Any] = {"k": k}
    for name in SCALAR_NAMES:
        row[f"s_{name}"] = pick[name]
        row[f"l_{name}"] = [pick[name], other[name]]
        if name not in NOT_COMPARABLE:
            if not (isinstance(pick[name], float) and math.isnan(pick[name])):
                row[f"e_{name}"] = {pick[name]}  # NaN cannot be found again in a set, nor as a map key
                row[f"m_{name}"] = {pick[name]: k}
        if name in NUMBERS:
            row[f"v_{name}"] = [pick[name], other[name]]
    row["tup"] = tuple(pick[name] for name in SCALAR_NAMES)
    row["udt"] = tuple(other[name] for name in SCALAR_NAMES)
    row["nested"] = {"a": [row["udt"], tuple(None for _ in SCALAR_NAMES)]}
    return row


ROWS = [_row(k) for k in range(3)]


def canonical(value: Any) -> str:
    """The driver's value as text that two equal readings share (NaN equals NaN here)."""
    return repr(value)


def create_registry_table(driver_session: Any, keyspace: str, table: str, *, rows: bool = True) -> None:
    """The table of every registry type (and its UDT), with the test ``ROWS`` in it unless ``rows=False``."""
    fields = ", ".join(f"f_{name} {name}" for name in SCALAR_NAMES)
    driver_session.execute(f"CREATE TYPE IF NOT EXISTS {keyspace}.registry_every ({fields})")
    columns = ", ".join(f"{name} {kind}" for name, kind in COLUMNS.items())
    driver_session.execute(f"DROP TABLE IF EXISTS {keyspace}.{table}")
    driver_session.execute(f"CREATE TABLE {keyspace}.{table} (k int PRIMARY KEY, {columns})")
    for row in ROWS if rows else ():
        names = list(row)
        insert = driver_session.prepare(
            f"INSERT INTO {keyspace}.{table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
        )
        driver_session.execute(insert, [row[name] for name in names])


@pytest.fixture(scope="module")
def registry_tables(driver_session: Any, keyspace: str) -> str:
    create_registry_table(driver_session, keyspace, "registry_source")
    create_registry_table(driver_session, keyspace, "registry_copy", rows=False)
    return keyspace


def _read(driver_session: Any, keyspace: str, table: str) -> list[list[str]]:
    rows = driver_session.execute(f"SELECT * FROM {keyspace}.{table}").all()
    return sorted(([canonical(value) for value in row] for row in rows), key=lambda cells: int(cells[0]))


def test_every_registry_type_has_values() -> None:
    assert set(SCALARS) == set(VALUES) | NOT_INSERTABLE, "give a new registry type two values in VALUES"


@pytest.mark.asyncio
async def test_dataframe_dtypes_are_the_registry_s(session: AsyncSession, registry_tables: str) -> None:
    frame = await session.query_df(f"SELECT * FROM {registry_tables}.registry_source", progress=False)
    assert len(frame) == len(ROWS)
    for name in SCALAR_NAMES:
        assert str(frame[f"s_{name}"].dtype) == SCALARS[name].pandas, name
    for column, kind in COLUMNS.items():
        if not column.startswith("s_"):
            assert frame[column].dtype == object, (column, kind)
    assert frame.set_index("k").loc[2].isna().all()  # the row of nulls is null in every column


@pytest.mark.asyncio
@pytest.mark.parametrize("suffix", FORMATS)
async def test_every_type_through_a_file_and_back(
    session: AsyncSession, driver_session: Any, registry_tables: str, tmp_path: Path, suffix: str
) -> None:
    keyspace = registry_tables
    await session.execute(f"TRUNCATE {keyspace}.registry_copy")
    path = tmp_path / f"every{suffix}"
    report = await export(session, f"SELECT * FROM {keyspace}.registry_source", path, progress=False)
    assert report.rows == len(ROWS)
    loaded = await load(session, f"{keyspace}.registry_copy", path, progress=False)
    assert (loaded.rows_written, loaded.rows_failed) == (len(ROWS), 0), loaded.failures
    assert _read(driver_session, keyspace, "registry_copy") == _read(driver_session, keyspace, "registry_source")


@pytest.mark.asyncio
async def test_every_type_through_a_dataframe_and_back(
    session: AsyncSession, driver_session: Any, registry_tables: str
) -> None:
    keyspace = registry_tables
    await session.execute(f"TRUNCATE {keyspace}.registry_copy")
    frame = await session.query_df(f"SELECT * FROM {keyspace}.registry_source", progress=False)
    loaded = await load(session, f"{keyspace}.registry_copy", frame, progress=False)
    assert (loaded.rows_written, loaded.rows_failed) == (len(ROWS), 0), loaded.failures
    assert _read(driver_session, keyspace, "registry_copy") == _read(driver_session, keyspace, "registry_source")


def _file_values(path: Path) -> list[Any]:
    """The ``c`` column of an exported counter table, read with ordinary readers, ordered by ``k``."""
    if path.suffix == ".parquet":
        table = pq.read_table(path).to_pylist()
        return [row["c"] for row in sorted(table, key=lambda row: row["k"])]
    if path.suffix == ".csv":
        with path.open(newline="") as file:
            return [int(row["c"]) for row in sorted(csv.DictReader(file), key=lambda row: int(row["k"]))]
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    return [line["c"] for line in sorted(lines, key=lambda line: line["k"])]


@pytest.mark.asyncio
async def test_counters_export_in_every_format(session: AsyncSession, keyspace: str, tmp_path: Path) -> None:
    await session.execute(f"CREATE TABLE IF NOT EXISTS {keyspace}.registry_counter (k int PRIMARY KEY, c counter)")
    await session.execute(f"TRUNCATE {keyspace}.registry_counter")
    for k, value in enumerate(COUNTER_VALUES):
        await session.execute(f"UPDATE {keyspace}.registry_counter SET c = c + ? WHERE k = ?", [value, k])
    frame = await session.query_df(f"SELECT k, c FROM {keyspace}.registry_counter", progress=False)
    assert str(frame["c"].dtype) == SCALARS["counter"].pandas
    assert frame.sort_values("k")["c"].tolist() == list(COUNTER_VALUES)
    for suffix in (".csv", ".jsonl", ".parquet"):
        path = tmp_path / f"counter{suffix}"
        await export(session, f"SELECT k, c FROM {keyspace}.registry_counter", path, progress=False)
        assert _file_values(path) == list(COUNTER_VALUES), suffix
    with pytest.raises(Exception, match="counter table"):
        await load(session, f"{keyspace}.registry_counter", frame, progress=False)
