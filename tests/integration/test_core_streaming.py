"""Page-by-page streaming on the real server: limits, early exits, callbacks, resume, closing."""

from __future__ import annotations

import asyncio

import pytest

from cassnb import AsyncSession, ClosedError, RowFormat, StreamConfig

pytestmark = pytest.mark.asyncio


@pytest.fixture(scope="module")
def fifty(session: AsyncSession) -> str:
    async def create() -> None:
        await session.execute("CREATE TABLE IF NOT EXISTS fifty (p int, c int, PRIMARY KEY (p, c))")
        await session.execute("CREATE TABLE IF NOT EXISTS empty_table (k int PRIMARY KEY)")
        insert = await session.prepare("INSERT INTO fifty (p, c) VALUES (0, ?)")
        await asyncio.gather(*(session.execute(insert, [c]) for c in range(50)))

    asyncio.run(create())
    return "fifty"


async def test_fetch_size_and_max_pages_bound_the_rows(session: AsyncSession, fifty: str) -> None:
    config = StreamConfig(fetch_size=5, max_pages=2)
    async with session.execute_stream("SELECT c FROM fifty", stream_config=config) as stream:
        rows = [row.c async for row in stream]
    assert rows == list(range(10)) and stream.page_number == 2 and stream.is_closed
    assert [row async for row in stream] == [], "a finished stream keeps saying it is finished"


async def test_breaking_early_closes_and_stops_fetching(session: AsyncSession, fifty: str) -> None:
    stream = await session.execute_stream("SELECT c FROM fifty", stream_config=StreamConfig(fetch_size=10))
    async with stream:
        taken = []
        async for row in stream:
            taken.append(row.c)
            if len(taken) == 15:
                break
    assert taken == list(range(15)) and stream.is_closed
    assert stream.page_number == 2, "only the pages that were consumed (plus none beyond the prefetch)"
    with pytest.raises(ClosedError, match="stream was closed"):
        await stream.__anext__()


async def test_an_exception_inside_the_loop_propagates_and_closes(session: AsyncSession, fifty: str) -> None:
    with pytest.raises(ZeroDivisionError):
        async with session.execute_stream("SELECT c FROM fifty", stream_config=StreamConfig(fetch_size=7)) as s:
            async for row in s:
                if row.c == 20:
                    1 / 0  # noqa: B018
    assert s.is_closed and s.rows_fetched <= 28


async def test_empty_table_yields_nothing(session: AsyncSession, fifty: str) -> None:
    async with session.execute_stream("SELECT * FROM empty_table") as stream:
        assert [row async for row in stream] == []
        assert [page async for page in stream.pages()] == []
    assert stream.exhausted and stream.paging_state is None


async def test_page_callbacks_run_on_the_loop_in_order(session: AsyncSession, fifty: str) -> None:
    """Seven rows in pages of 3, resumed one row in: pages of 2, 3 and 1 rows."""
    calls: list[tuple[int, int]] = []
    loop = asyncio.get_running_loop()

    def callback(page: int, rows: int) -> None:
        assert asyncio.get_running_loop() is loop, "callbacks run on the event loop, not a driver thread"
        calls.append((page, rows))

    def broken(page: int, rows: int) -> None:
        raise RuntimeError("a failing callback must not stop the stream")

    query = "SELECT c FROM fifty WHERE p = 0 AND c < 7"
    config = StreamConfig(fetch_size=3, page_callback=callback)
    async with session.execute_stream(query, stream_config=config, skip_rows=1) as stream:
        assert [row.c async for row in stream] == [1, 2, 3, 4, 5, 6]
    assert calls == [(1, 2), (2, 3), (3, 1)]

    async with session.execute_stream(query, stream_config=StreamConfig(fetch_size=3, page_callback=broken)) as s:
        assert len([row async for row in s]) == 7


@pytest.mark.parametrize("stop_after", [14, 15, 1, 49])
async def test_resume_from_paging_state_continues_exactly(session: AsyncSession, fifty: str, stop_after: int) -> None:
    config = StreamConfig(fetch_size=7)
    first: list[int] = []
    async with session.execute_stream("SELECT c FROM fifty", stream_config=config) as stream:
        async for row in stream:
            first.append(row.c)
            if len(first) == stop_after:
                break
        state, skip = stream.paging_state, stream.skip_rows
    async with session.execute_stream("SELECT c FROM fifty", stream_config=config, paging_state=state,
                                      skip_rows=skip) as rest:  # fmt: skip
        second = [row.c async for row in rest]
    assert first + second == list(range(50))


async def test_pages_iterator_and_resume_at_page_boundaries(session: AsyncSession, fifty: str) -> None:
    async with session.execute_stream("SELECT c FROM fifty", stream_config=StreamConfig(fetch_size=20)) as stream:
        pages = []
        async for page in stream.pages():
            pages.append((page.number, [r.c for r in page.rows]))
            if page.number == 2:
                break
        state, skip = stream.paging_state, stream.skip_rows
    assert [n for n, _ in pages] == [1, 2] and skip == 0
    async with session.execute_stream("SELECT c FROM fifty", stream_config=StreamConfig(fetch_size=20),
                                      paging_state=state, row_format=RowFormat.TUPLE) as rest:  # fmt: skip
        remaining = [row[0] async for row in rest]
    assert pages[0][1] + pages[1][1] + remaining == list(range(50))


async def test_cancelling_a_consumer_closes_its_stream(session: AsyncSession, big_table: str) -> None:
    opened: list[object] = []

    async def consume() -> None:
        async with session.execute_stream(f"SELECT * FROM {big_table}", stream_config=StreamConfig(fetch_size=100)) as s:
            opened.append(s)
            async for _ in s:
                await asyncio.sleep(0)

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    stream = opened[0]
    assert stream.is_closed  # type: ignore[attr-defined]
    pages = stream.page_number  # type: ignore[attr-defined]
    await asyncio.sleep(0.2)
    assert stream.page_number == pages, "no page is fetched after cancellation"  # type: ignore[attr-defined]


async def test_other_tasks_run_while_a_consumer_goes_through_a_page_in_hand(
    session: AsyncSession, big_table: str
) -> None:
    """Rows of a page already fetched come without waiting for anything; the loop still gets a turn every
    YIELD_EVERY rows, so a tight ``async for`` over a 5,000-row page does not hold every other task."""
    from cassnb.streaming import YIELD_EVERY

    turns: list[int] = []
    config = StreamConfig(fetch_size=5000, max_pages=1)
    async with session.execute_stream(f"SELECT id FROM {big_table}", stream_config=config) as stream:
        first = await anext(stream)  # the page is in hand from here on

        async def other() -> None:
            while True:
                turns.append(stream.skip_rows)
                await asyncio.sleep(0)

        task = asyncio.create_task(other())
        await asyncio.sleep(0)  # the other task starts, then waits for its next turn
        rows = [first] + [row async for row in stream]
        task.cancel()
    assert len(rows) == 5000
    # The other task ran in the middle of the page, every YIELD_EVERY rows (and not only at its end).
    assert set(range(YIELD_EVERY, 5000, YIELD_EVERY)) <= set(turns)


async def test_execute_fetches_all_pages_with_a_per_page_timeout(session: AsyncSession, big_table: str) -> None:
    """100,000 rows in 100 pages, each page under a 2 s budget: no whole-call deadline cuts it short."""
    result = await session.execute(f"SELECT id FROM {big_table}", fetch_size=1000, timeout=2.0)
    assert len(result) == 100_000 and not result.has_more_pages


async def test_full_collections_wait_only_while_pages_keep_coming(
    session: AsyncSession, fifty: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stream defers the collector's full passes while it delivers pages, and gives them back at its end,
    on close, when dropped unclosed, and when nobody takes a page for a while."""
    import gc

    from cassnb import _gc, streaming

    config = StreamConfig(fetch_size=10)
    async with session.execute_stream("SELECT c FROM fifty", stream_config=config) as stream:
        seen = []
        async for row in stream:
            seen.append((row.c, gc.isenabled()))
    assert [c for c, _ in seen] == list(range(50))
    assert not any(enabled for c, enabled in seen if c < 40), "deferred while more pages were coming"
    assert gc.isenabled(), "back once the last page was delivered"

    async with session.execute_stream("SELECT c FROM fifty", stream_config=config) as stream:
        await stream.__anext__()
        assert not gc.isenabled()
    assert gc.isenabled(), "back when the stream is closed early"

    stream = await session.execute_stream("SELECT c FROM fifty", stream_config=config)
    await stream.__anext__()
    assert not gc.isenabled()
    del stream  # left unclosed and dropped
    assert gc.isenabled(), "back when an unclosed stream is dropped"

    class Observed(_gc.PageLease):
        __slots__ = ("given_back",)

        def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
            super().__init__(loop)
            self.given_back = asyncio.Event()

        def release(self) -> None:
            super().release()
            self.given_back.set()

    monkeypatch.setattr(_gc, "IDLE_SECONDS", 0.05)
    monkeypatch.setattr(streaming, "PageLease", Observed)
    kept = await session.execute_stream("SELECT c FROM fifty", stream_config=config)
    try:
        await kept.__anext__()  # renewed for 50 ms, then nobody asks for the next page
        assert not gc.isenabled()
        await asyncio.wait_for(kept._lease.given_back.wait(), 5)  # the stream is open: only the timer releases
        assert gc.isenabled(), "back when an open stream sits idle"
    finally:
        await kept.close()
