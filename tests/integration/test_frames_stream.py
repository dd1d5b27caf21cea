"""DataFrames from the real server: ``query_df`` equals a plain driver read; chunks, limits, early close,
stop and interrupt with exact resume through ``more``."""

from __future__ import annotations

import asyncio
import datetime
import re
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pandas as pd
import pandas.testing as pdt
import pytest
from cassandra.cluster import ResponseFuture
from cassandra.concurrent import execute_concurrent
from cassandra.query import BatchStatement, BatchType, SimpleStatement

import cassnb
from cassnb import AsyncSession, ClosedError, ConfigurationError
from cassnb._frames import FrameBuilder
from cassnb.frames import frame_info, more, query_df, stream_frames
from cassnb.progress import ENV_VAR, NullProgress, StopSignal, WidgetProgress
from cassnb.streaming import close_streams_opened_after, stream_mark
from tests.conftest import ServerAddress

pytestmark = pytest.mark.asyncio

EVENTS = 200_000
SMALL = 1_000
COLUMNS = "k, ts, txt, dbl, flag, id"
BASE = datetime.datetime(2024, 1, 1)
DTYPES = ["Int64", "datetime64[ms, UTC]", "string", "Float64", "boolean", "object"]


def event(k: int) -> tuple[Any, ...]:
    """Row ``k``, with some nulls so that pages differ in what they hold."""
    return (
        k,
        BASE + datetime.timedelta(milliseconds=1001 * k),
        None if k % 97 == 0 else f"event {k}",
        None if k % 89 == 0 else k / 7,
        k % 3 == 0,
        uuid.UUID(int=k * 7919 + 1),
    )


def load(driver_session: Any, table: str, rows: int) -> None:
    """Create ``table`` and fill it, 100 rows per unlogged batch (one request per row would take minutes)."""
    driver_session.execute(
        f"CREATE TABLE {table} "
        "(k bigint PRIMARY KEY, ts timestamp, txt text, dbl double, flag boolean, id uuid)"
    )
    insert = driver_session.prepare(f"INSERT INTO {table} ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)")

    def batches() -> Iterator[tuple[BatchStatement, tuple[()]]]:
        for start in range(0, rows, 100):
            batch = BatchStatement(batch_type=BatchType.UNLOGGED)
            for k in range(start, min(rows, start + 100)):
                batch.add(insert, event(k))
            yield batch, ()

    execute_concurrent(
        driver_session, batches(), concurrency=32, raise_on_first_error=True, results_generator=False
    )


def driver_frame(driver_session: Any, table: str) -> pd.DataFrame:
    """The whole table read by the plain driver and converted with FrameBuilder, in scan order."""
    result = driver_session.execute(SimpleStatement(f"SELECT {COLUMNS} FROM {table}", fetch_size=5000))
    rows = list(result)
    return FrameBuilder(result.column_names, result.column_types).frame(rows)


def by_key(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values("k", ignore_index=True)


@pytest.fixture(scope="module")
def cnb(cassandra_address: ServerAddress, keyspace: str) -> Iterator[AsyncSession]:
    """One cassnb session for the module; each test uses it from its own event loop."""
    session = asyncio.run(
        cassnb.connect(f"{cassandra_address.host}:{cassandra_address.port}", keyspace=keyspace)
    )
    yield session
    asyncio.run(session.close())


@pytest.fixture(scope="module")
def events(driver_session: Any, keyspace: str) -> pd.DataFrame:
    """A 200,000-row table ``fs_events``; returns the plain driver's read of it, in scan order."""
    load(driver_session, f"{keyspace}.fs_events", EVENTS)
    return driver_frame(driver_session, f"{keyspace}.fs_events")


@pytest.fixture(scope="module")
def small(driver_session: Any, keyspace: str) -> pd.DataFrame:
    load(driver_session, f"{keyspace}.fs_small", SMALL)
    return driver_frame(driver_session, f"{keyspace}.fs_small")


@pytest.fixture
def next_page_requests(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the driver's requests for a next page (the first page of a query is not counted)."""
    calls: list[int] = []
    original = ResponseFuture.start_fetching_next_page

    def counting(self: ResponseFuture) -> None:
        calls.append(1)
        original(self)

    monkeypatch.setattr(ResponseFuture, "start_fetching_next_page", counting)
    return calls


class Recorder(NullProgress):
    """A silent reporter that remembers how the read ended and can act when a page arrives."""

    def __init__(self, at_page: int = 0, action: Callable[[], object] | None = None) -> None:
        super().__init__()
        self.at_page, self.action = at_page, action
        self.outcome: str | None = None

    def update(self, rows: int, pages: int) -> None:
        super().update(rows, pages)
        if pages == self.at_page and self.action is not None:
            self.action()

    def finish(self) -> None:
        self.outcome = "done"

    def fail(self, reason: str) -> None:
        self.outcome = reason


def interrupt() -> None:
    raise KeyboardInterrupt


# ------------------------------------------------------------------------------------------ whole results
async def test_query_df_equals_a_plain_driver_read(cnb: AsyncSession, events: pd.DataFrame) -> None:
    df = await query_df(cnb, f"SELECT {COLUMNS} FROM fs_events", progress=False)
    pdt.assert_frame_equal(by_key(df), by_key(events))
    pdt.assert_frame_equal(df, events, obj="scan order")
    info = frame_info(df)
    assert (info.rows, info.complete, info.paging_state, info.skip_rows) == (EVENTS, True, None, 0)
    assert info.pages >= EVENTS // 5000 and info.fetch_size == 5000 and info.elapsed > 0
    assert info.query == f"SELECT {COLUMNS} FROM fs_events" and info.params is None


async def test_frames_read_every_timestamp_the_server_stores(
    cnb: AsyncSession, driver_session: Any, keyspace: str
) -> None:
    """Pages read into frames decode a timestamp as its milliseconds (cassnb._decode): years the driver's
    ``datetime`` cannot hold read exactly, where the driver's own decoding fails the whole page."""
    millis = {1: 253402300800000, 2: -62167219200001, 3: 2**62, 4: -(2**62), 5: 1_700_000_000_123, 6: None}
    driver_session.execute(f"CREATE TABLE {keyspace}.fs_far (k int PRIMARY KEY, ts timestamp, u timeuuid)")
    for k, value in millis.items():
        literal = "null" if value is None else str(value)
        driver_session.execute(f"INSERT INTO {keyspace}.fs_far (k, ts, u) VALUES ({k}, {literal}, now())")
    df = (await query_df(cnb, "SELECT k, ts, u FROM fs_far", progress=False)).sort_values("k", ignore_index=True)
    assert str(df.dtypes["ts"]) == "datetime64[ms, UTC]"
    stamps = df["ts"].array
    assert stamps.asi8[:-1].tolist() == list(millis.values())[:-1]  # the column's unit is the millisecond
    assert pd.isna(stamps[-1])
    assert str(stamps[0]) == "10000-01-01 00:00:00+00:00"
    # The timeuuids are the driver's UUIDs, made from their 16 bytes.
    expected = {row.k: row.u for row in driver_session.execute(f"SELECT k, u FROM {keyspace}.fs_far")}
    assert all(type(u) is uuid.UUID and u.version == 1 for u in df["u"])
    assert dict(zip(df["k"], df["u"], strict=True)) == expected


async def test_query_df_throughput_best_of_three(cnb: AsyncSession, events: pd.DataFrame) -> None:
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        df = await query_df(cnb, f"SELECT {COLUMNS} FROM fs_events", progress=False)
        timings.append(time.perf_counter() - started)
        assert len(df) == EVENTS
    best = min(timings)
    print(f"\nquery_df: {EVENTS:,} rows, best of 3 {best:.2f} s = {EVENTS / best:,.0f} rows/s "
          f"(runs: {', '.join(f'{t:.2f}' for t in timings)} s)")  # fmt: skip
    assert EVENTS / best > 2_000


async def test_dtypes_do_not_depend_on_the_number_of_pages(cnb: AsyncSession, small: pd.DataFrame) -> None:
    many = await query_df(cnb, f"SELECT {COLUMNS} FROM fs_small", fetch_size=100, progress=False)
    one = await query_df(cnb, f"SELECT {COLUMNS} FROM fs_small", fetch_size=200_000, progress=False)
    assert frame_info(many).pages >= 10 and frame_info(one).pages == 1
    assert list(many.dtypes) == list(one.dtypes) == list(small.dtypes)
    assert [str(t) for t in one.dtypes] == DTYPES
    pdt.assert_frame_equal(many, one)
    pdt.assert_frame_equal(by_key(many), by_key(small))


async def test_an_empty_result_keeps_its_columns_and_dtypes(cnb: AsyncSession, small: pd.DataFrame) -> None:
    df = await query_df(cnb, f"SELECT {COLUMNS} FROM fs_small WHERE k = ?", [-1], progress=False)
    assert len(df) == 0 and list(df.columns) == COLUMNS.split(", ")
    assert list(df.dtypes) == list(small.dtypes)
    assert frame_info(df).complete and frame_info(df).params == [-1]


async def test_static_progress_prints_one_line_without_timings(
    cnb: AsyncSession,
    small: pd.DataFrame,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(ENV_VAR, "static")  # what the notebook test harness sets; progress="auto" follows it
    await query_df(cnb, f"SELECT {COLUMNS} FROM fs_small", fetch_size=250)
    out = capsys.readouterr().out
    assert re.fullmatch(r"fetched 1,000 rows in [45] pages\n", out), out


# ------------------------------------------------------------------------------------------ chunks and limits
async def test_max_rows_cuts_the_last_chunk_and_requests_no_extra_page(
    cnb: AsyncSession, events: pd.DataFrame, next_page_requests: list[int]
) -> None:
    async with stream_frames(cnb, f"SELECT {COLUMNS} FROM fs_events", max_rows=12_345) as chunks:
        sizes = [len(chunk) async for chunk in chunks]
    assert sizes == [5000, 5000, 2345]
    assert len(next_page_requests) == 2, "pages 2 and 3 only: nothing prefetched beyond the limit"
    assert (chunks.rows_fetched, chunks.pages, chunks.complete, chunks.skip_rows) == (12_345, 3, False, 2345)

    next_page_requests.clear()
    tiny = await query_df(cnb, f"SELECT {COLUMNS} FROM fs_events", max_rows=10, progress=False)
    assert len(tiny) == 10 and next_page_requests == [], "a 10-row limit asks for one 10-row page"
    pdt.assert_frame_equal(tiny, events.iloc[:10])


async def test_max_rows_then_more_resumes_exactly(cnb: AsyncSession, events: pd.DataFrame) -> None:
    query = f"SELECT {COLUMNS} FROM fs_events"
    first = await query_df(cnb, query, max_rows=12_345, progress=False)
    pdt.assert_frame_equal(first, events.iloc[:12_345])
    assert not frame_info(first).complete and frame_info(first).skip_rows == 2345

    second = await more(first, max_rows=3000, progress=False)  # resumes inside page 3, stops inside page 4
    pdt.assert_frame_equal(second, events.iloc[:15_345].reset_index(drop=True))
    assert frame_info(second).skip_rows == 345 and frame_info(second).pages == 5
    assert len(first) == 12_345 and frame_info(first).skip_rows == 2345, "more() leaves its argument alone"

    rest = await more(second, progress=False)
    pdt.assert_frame_equal(rest, events)
    assert frame_info(rest).complete and rest["k"].is_unique


async def test_async_with_closes_early_and_fetches_no_more(
    cnb: AsyncSession, events: pd.DataFrame, next_page_requests: list[int]
) -> None:
    mark = stream_mark()
    seen = []
    async with stream_frames(cnb, f"SELECT {COLUMNS} FROM fs_events", fetch_size=1000) as chunks:
        async for chunk in chunks:
            seen.append(chunk)
            if len(seen) == 2:
                break
    assert chunks.closed and close_streams_opened_after(mark) == [], "the driver stream was closed too"
    assert len(next_page_requests) == 2, "page 2, and page 3 prefetched while page 2 was consumed"
    await asyncio.sleep(0.2)
    assert len(next_page_requests) == 2 and chunks.pages == 2
    assert all(list(c.dtypes) == list(events.dtypes) for c in seen)
    assert chunks.column_names == COLUMNS.split(", ")
    with pytest.raises(ClosedError, match="frame stream was closed"):
        await anext(chunks)


async def test_plain_async_for_runs_to_the_end(cnb: AsyncSession, small: pd.DataFrame) -> None:
    stream = stream_frames(cnb, f"SELECT {COLUMNS} FROM fs_small", fetch_size=300)
    sizes = [len(chunk) async for chunk in stream]
    assert sizes == [300, 300, 300, 100] and stream.complete and stream.closed
    assert [chunk async for chunk in stream] == [], "a finished stream stays finished"


# ------------------------------------------------------------------------------------- stop, interrupt, more
async def test_stop_signal_after_page_three_then_more_completes(
    cnb: AsyncSession, events: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    stop = StopSignal()
    recorder = Recorder(at_page=3, action=stop.set)
    df = await query_df(cnb, f"SELECT {COLUMNS} FROM fs_events", progress=recorder, stop=stop)
    info = frame_info(df)
    assert (info.rows, info.pages, info.complete) == (15_000, 3, False)
    assert info.rows == info.pages * info.fetch_size
    assert recorder.outcome == "stopped"
    assert capsys.readouterr().out == "", "the library prints nothing: the progress display says it"

    full = await more(df, progress=False)
    assert len(full) == EVENTS and full["k"].is_unique, "no duplicates and no gaps"
    pdt.assert_frame_equal(by_key(full), by_key(events))
    assert frame_info(full).complete and frame_info(full).rows == EVENTS


async def test_keyboard_interrupt_during_a_page_returns_the_pages_before_it(
    cnb: AsyncSession, events: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    mark = stream_mark()
    recorder = Recorder(at_page=3, action=interrupt)  # as if Ctrl-C landed while page 3 was being converted
    df = await query_df(cnb, f"SELECT {COLUMNS} FROM fs_events", progress=recorder)
    info = frame_info(df)
    assert (info.rows, info.pages, info.complete) == (10_000, 2, False), "page 3 never reached the caller"
    assert info.rows == info.pages * info.fetch_size
    assert recorder.outcome == "interrupted" and close_streams_opened_after(mark) == []
    assert capsys.readouterr().out == ""

    full = await more(df, progress=False)
    assert full["k"].is_unique and len(full) == EVENTS
    pdt.assert_frame_equal(full, events)


async def test_an_interrupt_signal_stops_after_the_current_page(
    cnb: AsyncSession, events: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ctrl-C, or Jupyter's Interrupt for a cell awaiting query_df, is SIGINT on the main thread."""
    installed = signal.getsignal(signal.SIGINT)
    recorder = Recorder(at_page=3, action=lambda: signal.raise_signal(signal.SIGINT))
    df = await query_df(cnb, f"SELECT {COLUMNS} FROM fs_events", progress=recorder)
    info = frame_info(df)
    assert info.pages in (3, 4), "the page already requested may still be delivered, nothing after it"
    assert info.rows == info.pages * info.fetch_size and not info.complete
    assert recorder.outcome == "stopped" and capsys.readouterr().out == ""
    assert signal.getsignal(signal.SIGINT) is installed, "the previous SIGINT handler is back"

    full = await more(df, progress=False)
    pdt.assert_frame_equal(full, events)


async def test_the_widget_stop_button_stops_after_the_current_page(
    cnb: AsyncSession, small: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    class ClickAtPageThree(WidgetProgress):
        def update(self, rows: int, pages: int) -> None:
            super().update(rows, pages)
            if pages == 3:
                self.button.click()

    widget = ClickAtPageThree(display=lambda _: None)
    df = await query_df(cnb, f"SELECT {COLUMNS} FROM fs_small", fetch_size=100, progress=widget)
    assert len(df) == 300 and not frame_info(df).complete
    assert widget.bar.bar_style == "warning" and "stopped" in widget.label.value
    assert "`await cassnb.more(frame)`" in widget.label.value and capsys.readouterr().out == ""
    full = await more(df, progress=False)
    pdt.assert_frame_equal(full, small)


async def test_a_stop_before_the_first_page_returns_an_empty_resumable_frame(
    cnb: AsyncSession, small: pd.DataFrame
) -> None:
    stop = StopSignal()
    stop.set()
    df = await query_df(cnb, f"SELECT {COLUMNS} FROM fs_small", progress=False, stop=stop)
    assert len(df) == 0 and not frame_info(df).complete and frame_info(df).paging_state is None
    pdt.assert_frame_equal(await more(df, progress=False), small)


async def test_cancellation_closes_the_stream_and_propagates(cnb: AsyncSession, events: pd.DataFrame) -> None:
    mark = stream_mark()
    task: asyncio.Task[pd.DataFrame] | None = None

    def cancel() -> None:
        assert task is not None
        task.cancel()

    recorder = Recorder(at_page=2, action=cancel)
    task = asyncio.create_task(query_df(cnb, f"SELECT {COLUMNS} FROM fs_events", progress=recorder))
    with pytest.raises(asyncio.CancelledError):
        await task
    assert recorder.outcome == "cancelled" and close_streams_opened_after(mark) == []


async def test_more_on_a_complete_frame_returns_it_unchanged(
    cnb: AsyncSession, small: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    df = await query_df(cnb, f"SELECT {COLUMNS} FROM fs_small", progress=False)
    capsys.readouterr()
    assert await more(df) is df
    assert capsys.readouterr().out == ""


async def test_more_finds_the_session_through_copies_or_takes_one(
    cnb: AsyncSession, small: pd.DataFrame
) -> None:
    df = await query_df(cnb, f"SELECT {COLUMNS} FROM fs_small", fetch_size=100, max_rows=250, progress=False)
    pdt.assert_frame_equal(await more(df.copy(), progress=False), small)

    stranger = df.copy()
    stranger.attrs["cassnb"]["origin"] = "another-process-1"
    with pytest.raises(ConfigurationError, match=r"pass one: `await cassnb.more\(df, session\)`"):
        await more(stranger)
    resumed = await more(stranger, cnb, progress=False)
    pdt.assert_frame_equal(resumed, small)
    assert frame_info(resumed).origin != "another-process-1"


async def test_frames_without_cassnb_attrs_are_refused() -> None:
    with pytest.raises(ConfigurationError, match=r"no attrs\['cassnb'\]"):
        await more(pd.DataFrame({"k": [1]}))


async def test_bad_arguments_are_configuration_errors(cnb: AsyncSession) -> None:
    with pytest.raises(ConfigurationError, match="max_rows must be a positive integer or None"):
        stream_frames(cnb, "SELECT * FROM fs_small", max_rows=0)
    with pytest.raises(ConfigurationError, match="fetch_size must be a positive integer"):
        await query_df(cnb, "SELECT * FROM fs_small", fetch_size=True)
    with pytest.raises(ConfigurationError, match=r"stop must be a cassnb\.progress\.StopSignal"):
        stream_frames(cnb, "SELECT * FROM fs_small", stop=object())  # type: ignore[arg-type]
