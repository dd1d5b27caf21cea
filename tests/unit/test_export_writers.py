"""Export writers, atomic files and the ``write_pages`` pipeline, on local files (no server needed)."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import gzip
import io
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from cassandra import cqltypes as ct

import cassnb.exports
from cassnb._atomic import AtomicFile, TargetExistsError
from cassnb.exports import ExportFormat, ExportReport, Page, write_pages
from cassnb.formats._formats import format_for

NAMES = ("id", "name", "score")
TYPES = (ct.Int32Type, ct.UTF8Type, ct.DoubleType)


async def stream(
    pages: Iterable[Sequence[tuple[Any, ...]]], names: Sequence[str] = NAMES, types: Sequence[type] = TYPES
) -> AsyncIterator[Page]:
    for rows in pages:
        await asyncio.sleep(0)
        yield Page(1, rows, names, types)


async def export(
    tmp_path: Path,
    filename: str,
    pages: Iterable[Sequence[tuple[Any, ...]]],
    names: Sequence[str] = NAMES,
    types: Sequence[type] = TYPES,
    **options: Any,
) -> Path:
    target = tmp_path / filename
    await write_pages(stream(pages, names, types), target, **options)
    return target


async def first_of(task: asyncio.Task[Any], event: asyncio.Event) -> None:
    """Wait for ``event``, failing (instead of hanging) if ``task`` ends first."""
    waiter = asyncio.ensure_future(event.wait())
    await asyncio.wait([task, waiter], return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    assert not task.done(), task.result()


def leftovers(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


def test_public_names() -> None:
    assert cassnb.exports.__all__ == (
        "ExportFormat", "ExportReport", "LoadReport", "Page", "export", "export_table", "load",
        "write_pages",
    )
    assert cassnb.exports.Page is cassnb.Page  # one Page, for streams and for exports


# --- formats and options -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("out.csv", ExportFormat.CSV),
        ("dir.v2/out.CSV.GZ", ExportFormat.CSV_GZ),
        ("a.b.parquet", ExportFormat.PARQUET),
        ("x.jsonl", ExportFormat.JSONL),
        ("x.jsonl.gz", ExportFormat.JSONL_GZ),
    ],
)
def test_format_from_suffix(name: str, expected: ExportFormat) -> None:
    assert format_for(name) is expected
    assert format_for(Path(name)) is expected


def test_explicit_format_wins_and_unknown_suffix_explains() -> None:
    assert format_for("dump.txt", "csv") is ExportFormat.CSV
    assert format_for("dump", "JSONL.GZ") is ExportFormat.JSONL_GZ
    with pytest.raises(ValueError) as excinfo:
        format_for("dump.txt")
    message = str(excinfo.value)
    assert "format=" in message
    for suffix in (".csv", ".csv.gz", ".parquet", ".jsonl", ".jsonl.gz"):
        assert suffix in message
    with pytest.raises(ValueError, match="supported formats"):
        format_for("x.csv", "xlsx")


async def never_iterated() -> AsyncIterator[Page]:
    raise AssertionError("the pages must not be read when the options are wrong")
    yield  # pragma: no cover


@pytest.mark.asyncio
async def test_unknown_option_is_a_type_error_before_anything_runs(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"row_group_size.*csv accepts delimiter, null"):
        await write_pages(never_iterated(), tmp_path / "x.csv", row_group_size=5)
    with pytest.raises(TypeError, match="jsonl accepts no options"):
        await write_pages(never_iterated(), tmp_path / "x.jsonl", delimiter=";")
    with pytest.raises(ValueError, match="delimiter"):
        await write_pages(never_iterated(), tmp_path / "x.csv", delimiter=";;")
    with pytest.raises(ValueError, match="compression"):
        await write_pages(never_iterated(), tmp_path / "x.parquet", compression="xz")
    with pytest.raises(ValueError, match="row_group_size"):
        await write_pages(never_iterated(), tmp_path / "x.parquet", row_group_size=0)
    assert leftovers(tmp_path) == []


# --- CSV ---------------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_csv_header_quoting_and_nulls(tmp_path: Path) -> None:
    rows = [(1, 'comma, "quote"', 0.5), (2, "line\nbreak", None), (None, "", float("nan")), (4, None, -0.0)]
    target = await export(tmp_path, "t.csv", [rows[:2], rows[2:]])
    raw = target.read_bytes()
    assert raw == (b'id,name,score\r\n1,"comma, ""quote""",0.5\r\n2,"line\nbreak",\r\n,"",NaN\r\n4,,-0.0\r\n')
    assert list(csv.reader(io.StringIO(raw.decode(), newline=""))) == [
        ["id", "name", "score"],
        ["1", 'comma, "quote"', "0.5"],
        ["2", "line\nbreak", ""],
        ["", "", "NaN"],
        ["4", "", "-0.0"],
    ]
    # A reader that looks at the quotes keeps the empty string and the null apart.
    table = pacsv.read_csv(
        target,
        convert_options=pacsv.ConvertOptions(
            column_types={"name": pa.string()}, strings_can_be_null=True, quoted_strings_can_be_null=False
        ),
    )
    assert table.column("name").to_pylist() == ['comma, "quote"', "line\nbreak", "", None]


@pytest.mark.asyncio
async def test_csv_null_marker_and_delimiter(tmp_path: Path) -> None:
    rows = [(1, "NULL", None), (None, "a;b", 1.5), (3, "", 2.0)]
    target = await export(tmp_path, "t.csv", [rows], delimiter=";", null="NULL")
    assert target.read_bytes() == b'id;name;score\r\n1;"NULL";NULL\r\nNULL;"a;b";1.5\r\n3;;2.0\r\n'
    tabbed = await export(tmp_path, "tab.csv", [[(1, "x\ty", 1.0)]], delimiter="\t")
    assert tabbed.read_text().splitlines()[1] == '1\t"x\ty"\t1.0'


@pytest.mark.asyncio
async def test_csv_single_column_null_is_an_empty_line(tmp_path: Path) -> None:
    target = await export(tmp_path, "t.csv", [[("a",), (None,), ("",)]], names=("v",), types=(ct.UTF8Type,))
    assert target.read_bytes() == b'v\r\na\r\n\r\n""\r\n'


@pytest.mark.asyncio
async def test_csv_gz_holds_the_same_text(tmp_path: Path) -> None:
    pages = [[(i, f"n{i}", i / 3) for i in range(j, j + 50)] for j in range(0, 200, 50)]
    plain = await export(tmp_path, "t.csv", pages)
    packed = await export(tmp_path, "t.csv.gz", pages)
    assert gzip.decompress(packed.read_bytes()) == plain.read_bytes()
    assert len(plain.read_text().splitlines()) == 201


# --- JSON Lines ----------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_jsonl_objects(tmp_path: Path) -> None:
    names = ("id", "name", "score", "ok", "tags", "at")
    types = (
        ct.LongType,
        ct.UTF8Type,
        ct.FloatType,
        ct.BooleanType,
        ct.ListType.apply_parameters([ct.UUIDType]),
        ct.DateType,
    )
    tag = uuid.UUID(int=5)
    rows = [
        (2**62, 'quote " and \\ and ü\n', 1.5, True, [tag], dt.datetime(2024, 5, 6, 7, 8, 9, 10000)),
        (None, None, float("-inf"), False, None, None),
        (-1, "", float("nan"), None, [], None),
    ]
    target = await export(tmp_path, "t.jsonl", [rows[:1], rows[1:]], names=names, types=types)
    lines = target.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == [
        {
            "id": 2**62,
            "name": 'quote " and \\ and ü\n',
            "score": 1.5,
            "ok": True,
            "tags": [str(tag)],
            "at": "2024-05-06T07:08:09.010Z",
        },
        {"id": None, "name": None, "score": "-Infinity", "ok": False, "tags": None, "at": None},
        {"id": -1, "name": "", "score": "NaN", "ok": None, "tags": [], "at": None},
    ]
    assert "ü" in lines[0]  # UTF-8, not \\u escapes
    packed = await export(tmp_path, "t.jsonl.gz", [rows], names=names, types=types)
    assert gzip.decompress(packed.read_bytes()) == target.read_bytes()


@pytest.mark.asyncio
async def test_jsonl_refuses_duplicate_column_names(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="alias"):
        await export(tmp_path, "t.jsonl", [[(1, 2)]], names=("a", "a"), types=(ct.Int32Type,) * 2)
    assert leftovers(tmp_path) == []


# --- Parquet -------------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_parquet_row_groups_follow_row_group_size(tmp_path: Path) -> None:
    rows = [(i, f"n{i}", i * 0.5) for i in range(25)]
    pages = [rows[i : i + 7] for i in range(0, 25, 7)]
    target = await export(tmp_path, "t.parquet", pages, row_group_size=10, compression="snappy")
    parquet = pq.ParquetFile(target)
    assert parquet.num_row_groups == 3
    assert [parquet.metadata.row_group(i).num_rows for i in range(3)] == [10, 10, 5]
    assert parquet.metadata.row_group(0).column(0).compression == "SNAPPY"
    assert parquet.read().to_pylist() == [dict(zip(NAMES, row, strict=True)) for row in rows]


@pytest.mark.asyncio
async def test_parquet_schema_and_default_compression(tmp_path: Path) -> None:
    names = ("b", "s", "t", "ts", "d", "tm", "dec", "u", "vec", "tup", "m")
    types = (
        ct.ByteType,
        ct.ShortType,
        ct.AsciiType,
        ct.DateType,
        ct.SimpleDateType,
        ct.TimeType,
        ct.DecimalType,
        ct.TimeUUIDType,
        ct.VectorType.apply_parameters([ct.FloatType, 2], None),
        ct.TupleType.apply_parameters([ct.Int32Type, ct.BytesType]),
        ct.MapType.apply_parameters([ct.UTF8Type, ct.LongType]),
    )
    target = await export(tmp_path, "t.parquet", [[]], names=names, types=types)
    parquet = pq.ParquetFile(target)
    schema = parquet.schema_arrow
    assert [str(field.type).replace(" ('m')", "") for field in schema] == [
        "int8",
        "int16",
        "string",
        "timestamp[ms, tz=UTC]",
        "date32[day]",
        "time64[ns]",
        "string",
        "string",
        "fixed_size_list<element: float>[2]",
        "struct<f0: int32, f1: binary>",
        "map<string, int64>",
    ]
    assert schema.field("dec").metadata == {b"cql_type": b"decimal"}
    assert parquet.metadata.num_rows == 0
    compressed = pq.ParquetFile(await export(tmp_path, "z.parquet", [[(1, "a", 1.0)]]))
    assert compressed.metadata.row_group(0).column(0).compression == "ZSTD"


# --- atomic files ----------------------------------------------------------------------------------------


def test_atomic_file_keeps_an_existing_target(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_text("precious")
    with pytest.raises(TargetExistsError) as excinfo:
        AtomicFile(target).open()
    assert isinstance(excinfo.value, FileExistsError)
    assert str(target) in str(excinfo.value) and "overwrite=True" in str(excinfo.value)
    assert target.read_text() == "precious"
    assert leftovers(tmp_path) == ["out.csv"]


def test_atomic_file_commit_and_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    with AtomicFile(target) as atomic:
        assert atomic.temp_path.parent == tmp_path and atomic.temp_path.name.startswith(".out.csv.")
        atomic.temp_path.write_text("one")
        assert not target.exists()
    assert target.read_text() == "one"
    with AtomicFile(target, overwrite=True) as atomic:
        atomic.temp_path.write_text("two")
    assert target.read_text() == "two"
    assert leftovers(tmp_path) == ["out.csv"]


def test_atomic_commit_refuses_a_target_that_appeared_meanwhile(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    atomic = AtomicFile(target)
    atomic.open().write_text("mine")
    target.write_text("theirs")
    with pytest.raises(TargetExistsError):
        atomic.commit()
    assert target.read_text() == "theirs"
    assert leftovers(tmp_path) == ["out.csv"]


@pytest.mark.parametrize("error", [RuntimeError("boom"), KeyboardInterrupt(), asyncio.CancelledError()])
def test_atomic_context_aborts_on_any_exception(tmp_path: Path, error: BaseException) -> None:
    target = tmp_path / "out.csv"
    with pytest.raises(type(error)), AtomicFile(target) as atomic:
        atomic.temp_path.write_text("half")
        raise error
    assert leftovers(tmp_path) == []


# --- the pipeline ----------------------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("filename", ["t.csv", "t.jsonl.gz", "t.parquet"])
async def test_error_mid_stream_leaves_nothing(tmp_path: Path, filename: str) -> None:
    async def failing() -> AsyncIterator[Page]:
        yield Page(1, [(1, "a", 1.0)], NAMES, TYPES)
        yield Page(1, [(2, "b", 2.0)], NAMES, TYPES)
        raise ConnectionError("server went away")

    with pytest.raises(ConnectionError):
        await write_pages(failing(), tmp_path / filename)
    assert leftovers(tmp_path) == []


@pytest.mark.asyncio
@pytest.mark.parametrize("filename", ["t.csv", "t.jsonl", "t.parquet"])
async def test_bad_value_mid_stream_keeps_the_old_file(tmp_path: Path, filename: str) -> None:
    target = tmp_path / filename
    target.write_bytes(b"old")
    pages = [[(1, "a", 1.0)], [(2, "b", "not a float")]]
    with pytest.raises((TypeError, pa.ArrowException)):
        await write_pages(stream(pages), target, overwrite=True)
    assert target.read_bytes() == b"old"
    assert leftovers(tmp_path) == [filename]


@pytest.mark.asyncio
async def test_existing_target_fails_before_reading_pages(tmp_path: Path) -> None:
    target = tmp_path / "t.csv"
    target.write_text("old")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        await write_pages(never_iterated(), target)
    assert target.read_text() == "old"


@pytest.mark.asyncio
@pytest.mark.parametrize("filename", ["t.csv", "t.parquet"])
async def test_cancelling_mid_stream_leaves_nothing(tmp_path: Path, filename: str) -> None:
    third_page_sent = asyncio.Event()

    async def endless() -> AsyncIterator[Page]:
        for n in range(10**9):
            if n == 3:
                third_page_sent.set()
            yield Page(1, [(n, "x", 0.0)] * 100, NAMES, TYPES)
            await asyncio.sleep(0.001)

    task = asyncio.create_task(write_pages(endless(), tmp_path / filename))
    await first_of(task, third_page_sent)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert leftovers(tmp_path) == []


class SlowRows(list[tuple[Any, ...]]):
    """Rows whose iteration (done by the writer) is slow and records the thread it runs on."""

    threads: list[str]
    started: Any

    def __iter__(self) -> Any:
        self.threads.append(threading.current_thread().name)
        self.started()
        time.sleep(0.3)
        return super().__iter__()


@pytest.mark.asyncio
async def test_cancelling_during_a_page_write_waits_for_the_thread(tmp_path: Path) -> None:
    loop = asyncio.get_running_loop()
    writing = asyncio.Event()
    rows = SlowRows([(1, "a", 1.0)])
    rows.threads = []
    rows.started = lambda: loop.call_soon_threadsafe(writing.set)

    async def pages() -> AsyncIterator[Page]:
        yield Page(1, rows, NAMES, TYPES)
        await asyncio.sleep(3600)

    task = asyncio.create_task(write_pages(pages(), tmp_path / "t.csv"))
    await first_of(task, writing)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert leftovers(tmp_path) == []
    assert rows.threads[0] != threading.main_thread().name  # encoding ran off the event loop's thread


@pytest.mark.asyncio
async def test_report_and_empty_results(tmp_path: Path) -> None:
    report = await write_pages(stream([[(1, "a", 1.0)], [], [(2, "b", 2.0)]]), tmp_path / "t.csv")
    assert isinstance(report, ExportReport)
    assert (report.rows, report.pages, report.format) == (2, 3, ExportFormat.CSV)
    assert report.bytes == (tmp_path / "t.csv").stat().st_size
    assert "2 rows" in str(report) and "rows/s" in str(report) and "t.csv" in str(report)

    header_only = await write_pages(stream([[]]), tmp_path / "h.csv")
    assert (tmp_path / "h.csv").read_bytes() == b"id,name,score\r\n" and header_only.rows == 0

    async def nothing() -> AsyncIterator[Page]:
        return
        yield  # pragma: no cover

    await write_pages(nothing(), tmp_path / "e.jsonl")
    await write_pages(nothing(), tmp_path / "e.parquet")
    assert (tmp_path / "e.jsonl").read_bytes() == b""
    assert pq.ParquetFile(tmp_path / "e.parquet").metadata.num_rows == 0


@pytest.mark.asyncio
async def test_pages_must_keep_their_columns(tmp_path: Path) -> None:
    async def drifting() -> AsyncIterator[Page]:
        yield Page(1, [(1, "a", 1.0)], NAMES, TYPES)
        yield Page(2, [(2, "b", 2.0)], ("id", "other", "score"), TYPES)

    with pytest.raises(ValueError, match="page 2 has columns"):
        await write_pages(drifting(), tmp_path / "t.csv")
    assert leftovers(tmp_path) == []


@pytest.mark.asyncio
async def test_the_page_stream_is_closed(tmp_path: Path) -> None:
    closed = []

    async def pages() -> AsyncIterator[Page]:
        try:
            yield Page(1, [(1, "a", 1.0)], NAMES, TYPES)
            yield Page(1, [(1, "a", "bad")], NAMES, TYPES)
            yield Page(1, [(1, "a", 1.0)], NAMES, TYPES)
        finally:
            closed.append(True)

    with pytest.raises(TypeError):
        await write_pages(pages(), tmp_path / "t.csv")
    assert closed == [True]


@pytest.mark.asyncio
async def test_any_object_with_the_page_attributes_will_do(tmp_path: Path) -> None:
    class CorePage:  # not a cassnb Page: an object of its own with the same attributes (and one more)
        def __init__(self, number: int, rows: list[tuple[Any, ...]]) -> None:
            self.number, self.rows, self.column_names, self.column_types = number, rows, NAMES, TYPES

    async def pages() -> AsyncIterator[CorePage]:
        yield CorePage(1, [(1, "a", 1.0)])

    report = await write_pages(pages(), tmp_path / "t.jsonl")
    assert report.rows == 1
    assert json.loads((tmp_path / "t.jsonl").read_text()) == {"id": 1, "name": "a", "score": 1.0}
