"""Hostile files and places: huge cells, damaged sources, unwritable targets, statements that are not reads.

Against the shared test server. Each case checks what a user sees (one line that names the file, the line or
row, and what to do) and what is left behind (the good rows loaded, nothing half-written at a target).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from IPython.core.error import UsageError

import cassnb
from cassnb import AsyncSession, ConfigurationError
from tests.conftest import ServerAddress
from tests.integration.test_magics import private_shell, show

FORMATS = [".csv", ".csv.gz", ".parquet", ".jsonl", ".jsonl.gz"]


def one_line(error: BaseException) -> str:
    text = str(error)
    assert "\n" not in text, text
    return text


def count(driver_session: Any, table: str) -> int:
    return int(driver_session.execute(f"SELECT count(*) FROM {table}").one()[0])


# --- huge cells through every format ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def huge_row(driver_session: Any, keyspace: str) -> dict[str, Any]:
    driver_session.execute(
        f"CREATE TABLE IF NOT EXISTS {keyspace}.huge (k int PRIMARY KEY, b blob, l list<int>, t text)"
    )
    row = {"k": 1, "b": os.urandom(10_000_000), "l": list(range(50_000)), "t": 'a "quoted", line\n' * 100_000}
    insert = driver_session.prepare(f"INSERT INTO {keyspace}.huge (k, b, l, t) VALUES (?, ?, ?, ?)")
    driver_session.execute(insert, (row["k"], row["b"], row["l"], row["t"]))
    driver_session.execute(insert, (2, b"small", [1, 2], "small"))
    return row


@pytest.mark.asyncio
@pytest.mark.parametrize("suffix", FORMATS)
async def test_a_10_mb_blob_and_a_50000_element_list_round_trip(
    session: AsyncSession, keyspace: str, huge_row: dict[str, Any], tmp_path: Path, suffix: str, driver_session: Any
) -> None:
    path = tmp_path / f"huge{suffix}"
    report = await cassnb.export(session, f"SELECT k, b, l, t FROM {keyspace}.huge", path, progress=False)
    assert report.rows == 2
    await session.execute(f"CREATE TABLE IF NOT EXISTS {keyspace}.huge_back (k int PRIMARY KEY, b blob, l list<int>, t text)")
    await session.execute(f"TRUNCATE {keyspace}.huge_back")
    loaded = await cassnb.load(session, f"{keyspace}.huge_back", path, progress=False)
    assert (loaded.rows_written, loaded.rows_failed) == (2, 0)
    back = driver_session.execute(f"SELECT k, b, l, t FROM {keyspace}.huge_back WHERE k = 1").one()
    assert back.b == huge_row["b"] and back.l == huge_row["l"] and back.t == huge_row["t"]


# --- damaged sources: the file and the row are named, the rest loads -------------------------------------


@pytest.fixture
def plain_table(session: AsyncSession, keyspace: str) -> Iterator[str]:
    async def create() -> None:
        await session.execute(f"CREATE TABLE IF NOT EXISTS {keyspace}.damaged (k int PRIMARY KEY, v text)")
        await session.execute(f"TRUNCATE {keyspace}.damaged")

    asyncio.run(create())
    yield f"{keyspace}.damaged"


def _parquet(path: Path, rows: int, row_group_size: int) -> None:
    table = pa.table({"k": pa.array(range(rows), pa.int32()), "v": [f"value number {k}" * 20 for k in range(rows)]})
    pq.write_table(table, path, row_group_size=row_group_size, compression="snappy")


@pytest.mark.asyncio
@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
async def test_a_parquet_file_that_is_not_whole_is_named_in_one_line(
    session: AsyncSession, plain_table: str, tmp_path: Path, damage: str
) -> None:
    path = tmp_path / "data.parquet"
    _parquet(path, 1_000, 500)
    data = path.read_bytes()
    path.write_bytes({"truncated": data[: len(data) // 2], "garbage": os.urandom(4_000), "empty": b""}[damage])
    with pytest.raises(ConfigurationError) as caught:
        await cassnb.load(session, plain_table, path, progress=False)
    message = one_line(caught.value)
    assert str(path) in message and "Parquet" in message


@pytest.mark.asyncio
async def test_a_damaged_parquet_row_group_fails_its_rows_and_the_others_load(
    session: AsyncSession, plain_table: str, tmp_path: Path, driver_session: Any
) -> None:
    path = tmp_path / "groups.parquet"
    _parquet(path, 3_000, 1_000)
    meta = pq.ParquetFile(path).metadata
    column = meta.row_group(1).column(1)  # the middle group's text column
    start = column.data_page_offset
    data = bytearray(path.read_bytes())
    data[start + 40 : start + 400] = os.urandom(360)
    path.write_bytes(bytes(data))
    rejects = tmp_path / "rejects.csv"
    report = await cassnb.load(session, plain_table, path, progress=False, rejects=rejects)
    assert (report.rows_written, report.rows_failed, report.restart_row) == (2_000, 1_000, None)
    assert {row for row, _ in report.failures} == set(range(1_000, 1_100))
    assert all("row group 1 of" in reason and str(path) in reason for _, reason in report.failures)
    assert len(pd.read_csv(rejects)) == 1_000
    keys = {row.k for row in driver_session.execute(f"SELECT k FROM {plain_table}")}
    assert keys == set(range(1_000)) | set(range(2_000, 3_000))


@pytest.mark.asyncio
async def test_bad_utf8_and_ragged_csv_lines_fail_as_rows_named_by_line(
    session: AsyncSession, plain_table: str, tmp_path: Path, driver_session: Any
) -> None:
    path = tmp_path / "dirty.csv"
    lines = [b"k,v"] + [f"{k},v{k}".encode() for k in range(10)]
    lines[4] = b"3,caf\xe9"  # Latin-1, not UTF-8
    lines[7] = b"6,too,many"
    path.write_bytes(b"\n".join(lines) + b"\n")
    rejects = tmp_path / "rejects.csv"
    report = await cassnb.load(session, plain_table, path, progress=False, rejects=rejects)
    assert (report.rows_written, report.rows_failed) == (8, 2)
    assert report.failures == (
        (3, "line 5: not UTF-8 text (byte 0xe9 at position 6)"),
        (6, "line 8: 3 fields, the header has 2"),
    )
    listed = pd.read_csv(rejects, keep_default_na=False)
    assert listed["source"].tolist() == ["3,caf\\xe9", "6,too,many"]
    assert count(driver_session, plain_table) == 8


@pytest.mark.asyncio
async def test_json_lines_rows_are_numbered_by_line(
    session: AsyncSession, plain_table: str, tmp_path: Path
) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text('{"k": 0, "v": "a"}\n\n\n{"k": 1, "v": "b"}\n\n{"k": "x", "v": "c"}\n')
    report = await cassnb.load(session, plain_table, path, progress=False)
    assert report.rows_written == 2
    ((row, reason),) = report.failures
    assert row == 5 and "column 'k'" in reason  # line 6 of the file
    again = await cassnb.load(session, plain_table, path, progress=False, start_row=4)
    assert (again.rows_written, again.rows_failed) == (0, 1)


# --- targets that cannot be written: one line naming the target --------------------------------------------


@pytest.mark.asyncio
async def test_a_missing_directory_is_named_not_the_temporary_file(
    session: AsyncSession, plain_table: str, tmp_path: Path
) -> None:
    target = tmp_path / "no" / "such" / "dir" / "out.csv"
    with pytest.raises(FileNotFoundError) as caught:
        await cassnb.export(session, f"SELECT * FROM {plain_table}", target, progress=False)
    message = one_line(caught.value)
    assert str(target) in message and "does not exist" in message and ".tmp" not in message


@contextlib.contextmanager
def tiny_disk(tmp_path: Path, size: str = "5m") -> Iterator[Path]:
    if os.geteuid() != 0:
        message = "mounting a 5 MB tmpfs needs root"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true and {message}", pytrace=False)
        pytest.skip(message)
    mount = tmp_path / "tiny"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


@pytest.mark.asyncio
@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
async def test_a_full_disk_leaves_nothing_and_says_so(
    session: AsyncSession, keyspace: str, huge_row: dict[str, Any], tmp_path: Path, suffix: str
) -> None:
    with tiny_disk(tmp_path) as disk:
        (disk / "keep.txt").write_text("the user's")
        target = disk / f"huge{suffix}"
        with pytest.raises(OSError) as caught:
            await cassnb.export(session, f"SELECT * FROM {keyspace}.huge", target, progress=False)
        message = one_line(caught.value)
        assert str(target) in message and "disk is full" in message and ".tmp" not in message
        assert sorted(p.name for p in disk.iterdir()) == ["keep.txt"]


def test_magic_export_errors_are_one_line_naming_the_target_and_the_fix(
    cassandra_address: ServerAddress, plain_table: str, tmp_path: Path
) -> None:
    with private_shell(tmp_path) as ip:
        show(ip, f"connect {cassandra_address.host} --port {cassandra_address.port}")
        missing = tmp_path / "nowhere" / "x.csv"
        with pytest.raises(UsageError) as caught:
            show(ip, f"--export {missing}", f"SELECT * FROM {plain_table}")
        message = one_line(caught.value)
        assert str(missing) in message and "does not exist" in message and ".tmp" not in message
        existing = tmp_path / "there.csv"
        existing.write_text("mine")
        with pytest.raises(UsageError, match="already exists; add --overwrite to replace it"):
            show(ip, f"--export {existing}", f"SELECT * FROM {plain_table}")
        assert existing.read_text() == "mine"


def test_cli_says_add_overwrite_not_overwrite_true(
    cassandra_address: ServerAddress, plain_table: str, tmp_path: Path
) -> None:
    existing = tmp_path / "there.csv"
    existing.write_text("mine")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASSNB_")}
    env["CASSNB_HOSTS"] = f"{cassandra_address.host}:{cassandra_address.port}"
    result = subprocess.run(
        [sys.executable, "-m", "cassnb", "export", f"SELECT * FROM {plain_table}", str(existing)],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip() == f"cassnb: error: {existing} already exists; add --overwrite to replace it"


# --- export runs SELECT only -------------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO {t} (k, v) VALUES (424242, 'should not exist')",
        "  -- a comment first\n  UPDATE {t} SET v = 'no' WHERE k = 424242",
        "DELETE FROM {t} WHERE k = 0",
        "TRUNCATE {t}",
    ],
)
async def test_export_refuses_anything_but_a_select_before_running_it(
    session: AsyncSession, plain_table: str, tmp_path: Path, driver_session: Any, statement: str
) -> None:
    driver_session.execute(f"INSERT INTO {plain_table} (k, v) VALUES (0, 'kept')")
    target = tmp_path / "x.csv"
    with pytest.raises(ConfigurationError) as caught:
        await cassnb.export(session, statement.format(t=plain_table), target, progress=False)
    assert "export writes the rows of a SELECT" in one_line(caught.value)
    assert not target.exists() and list(tmp_path.iterdir()) == []
    assert [tuple(r) for r in driver_session.execute(f"SELECT k, v FROM {plain_table}")] == [(0, "kept")]
