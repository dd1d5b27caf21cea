"""Exports driven by queries on the real server: single stream, whole table in parallel, atomic on failure."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from cassnb import AsyncSession, RowFormat, StreamConfig
from cassnb.exports import export, export_table, write_pages
from cassnb.progress import NullProgress

pytestmark = pytest.mark.asyncio


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz", ".jsonl", ".jsonl.gz", ".parquet"])
async def test_export_writes_what_the_writers_write(session: AsyncSession, wide_table: str, tmp_path: Path,
                                                    suffix: str) -> None:  # fmt: skip
    """export() is write_pages() fed by a stream; the writers' own round-trip tests cover every CQL type."""
    query = f"SELECT * FROM {wide_table} WHERE bucket IN (1, 2, 3)"
    report = await export(session, query, tmp_path / f"a{suffix}", fetch_size=250, progress=False)

    async def pages():  # type: ignore[no-untyped-def]
        async with session.execute_stream(query, stream_config=StreamConfig(fetch_size=250),
                                          row_format=RowFormat.TUPLE) as stream:  # fmt: skip
            async for page in stream.pages():
                yield page

    reference = await write_pages(pages(), tmp_path / f"b{suffix}")
    assert report.rows == reference.rows == 3000 and report.pages == reference.pages
    if suffix == ".parquet":
        assert pq.read_table(tmp_path / "a.parquet").equals(pq.read_table(tmp_path / "b.parquet"))
    elif suffix.endswith(".gz"):
        import gzip

        assert gzip.decompress((tmp_path / f"a{suffix}").read_bytes()) == gzip.decompress(
            (tmp_path / f"b{suffix}").read_bytes()
        )
    else:
        assert (tmp_path / f"a{suffix}").read_bytes() == (tmp_path / f"b{suffix}").read_bytes()


async def test_export_300k_rows_matches_the_table(session: AsyncSession, wide_table: str, tmp_path: Path) -> None:
    count = (await session.execute(f"SELECT count(*) FROM {wide_table}", timeout=60)).one()[0]
    csv_report = await export(session, f"SELECT * FROM {wide_table}", tmp_path / "all.csv", progress=False)
    parquet_report = await export(session, f"SELECT * FROM {wide_table}", tmp_path / "all.parquet", progress=False)
    print(f"\n{csv_report}\n{parquet_report}")
    assert csv_report.rows == parquet_report.rows == count == 300_000
    assert sum(1 for _ in (tmp_path / "all.csv").open()) == count + 1
    table = pq.read_table(tmp_path / "all.parquet", columns=["id"])
    assert table.num_rows == count and len(set(table.column("id").to_pylist())) == count


async def test_timestamps_outside_years_1_to_9999_export(session: AsyncSession, keyspace: str, tmp_path: Path) -> None:
    """A timestamp is any 64-bit millisecond count; the driver's own decoding cannot make a datetime of these."""
    await session.execute(f"CREATE TABLE IF NOT EXISTS {keyspace}.far_times (k int PRIMARY KEY, at timestamp)")
    millis = {1: 253_402_300_800_000, 2: -62_135_596_800_001, 3: 1_700_000_000_123}
    for k, at in millis.items():
        await session.execute(f"INSERT INTO {keyspace}.far_times (k, at) VALUES ({k}, {at})")
    query = f"SELECT k, at FROM {keyspace}.far_times"
    await export(session, query, tmp_path / "far.csv", progress=False)
    await export(session, query, tmp_path / "far.parquet", progress=False)
    lines = sorted((tmp_path / "far.csv").read_text().splitlines()[1:])
    assert lines == ["1,+10000-01-01T00:00:00.000Z", "2,0000-12-31T23:59:59.999Z", "3,2023-11-14T22:13:20.123Z"]
    table = pq.read_table(tmp_path / "far.parquet")
    assert dict(zip(table["k"].to_pylist(), table["at"].cast("int64").to_pylist(), strict=True)) == millis


class _CancelAfter(NullProgress):
    """A reporter that cancels the exporting task once enough rows went through."""

    def __init__(self, task: list[asyncio.Task[object]], rows: int) -> None:
        super().__init__()
        self._task, self._rows = task, rows

    def update(self, rows: int, pages: int, detail: str = "") -> None:
        super().update(rows, pages, detail)
        if rows >= self._rows and self._task:
            self._task[0].cancel()


@pytest.mark.parametrize("target", ["out.parquet", "out.csv", "parts/"])
async def test_cancelling_mid_export_leaves_nothing(session: AsyncSession, wide_table: str, tmp_path: Path,
                                                    target: str) -> None:  # fmt: skip
    holder: list[asyncio.Task[object]] = []
    reporter = _CancelAfter(holder, 40_000)
    if target.endswith("/"):
        work = export_table(session, wide_table, f"{tmp_path}/{target}", parallelism=4, progress=reporter)
    else:
        work = export(session, f"SELECT * FROM {wide_table}", tmp_path / target, progress=reporter)
    holder.append(asyncio.ensure_future(work))
    with pytest.raises(asyncio.CancelledError):
        await holder[0]
    assert reporter.rows >= 40_000
    assert list(tmp_path.iterdir()) == [], "no target and no temporary file may remain"


async def test_a_failing_query_leaves_nothing_and_an_existing_file_is_kept(
    session: AsyncSession, wide_table: str, tmp_path: Path
) -> None:
    from cassnb import InvalidQueryError

    with pytest.raises(InvalidQueryError):
        await export(session, "SELECT nope FROM no_such_table", tmp_path / "x.csv", progress=False)
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "keep.csv").write_text("precious\n")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        await export(session, f"SELECT * FROM {wide_table} LIMIT 5", tmp_path / "keep.csv", progress=False)
    assert (tmp_path / "keep.csv").read_text() == "precious\n"
    with pytest.raises(TypeError):
        await export(session, f"SELECT * FROM {wide_table} LIMIT 5", tmp_path / "y.csv", progress=False, colour=1)
    report = await export(session, f"SELECT * FROM {wide_table} LIMIT 5", tmp_path / "keep.csv", overwrite=True,
                          progress=False)  # fmt: skip
    assert report.rows == 5 and (tmp_path / "keep.csv").read_text().startswith("bucket,id,")


@pytest.mark.parametrize("target", ["table.parquet", "table_parts/"])
async def test_export_table_in_parallel_reads_every_row_once(session: AsyncSession, wide_table: str,
                                                             tmp_path: Path, target: str) -> None:  # fmt: skip
    report = await export_table(session, wide_table, f"{tmp_path}/{target}", parallelism=4, format="parquet",
                                progress="static")  # fmt: skip
    print(f"\n{report}")
    path = tmp_path / target
    assert path.is_dir() == target.endswith("/")
    table = pq.read_table(path) if path.is_file() else pq.ParquetDataset(path).read()
    ids = table.column("id").to_pylist()
    assert report.rows == len(ids) == 300_000 and len(set(ids)) == 300_000, "no duplicates, no gaps"
    if path.is_dir():
        assert len(list(path.glob("part-*.parquet"))) == 32
