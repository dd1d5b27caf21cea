"""Page-by-page streaming of large results.

A stream fetches pages on demand and keeps at most one page in flight ahead of the consumer: while you work
through page *n*, page *n + 1* is being fetched, and nothing more. Memory therefore depends on the page size,
not on the size of the result.

Closing is explicit (``async with`` or ``await stream.close()``) and idempotent, and it is also what happens
when the consumer breaks out of the loop inside ``async with``, raises, or is cancelled. A stream that is simply
abandoned does not leak either: the driver keeps no reference to it once its last request has finished, so
the garbage collector reclaims it.

Resuming: :attr:`AsyncStreamingResultSet.paging_state` and :attr:`~AsyncStreamingResultSet.skip_rows` describe
exactly where the consumer is. ``execute_stream(query, params, paging_state=s, skip_rows=k)`` continues from
there with no row repeated and none missed (provided the data did not change in between).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import InitVar, dataclass, field
from types import TracebackType
from typing import Any, overload

from ._bridge import PageData, PageFetcher
from ._gc import PageLease
from .exceptions import ClosedError, ConfigurationError, translate

log = logging.getLogger("cassnb.streaming")

PageCallback = Callable[[int, int], object]

#: Row iteration lets the event loop run other tasks after this many rows of one page.
YIELD_EVERY = 1000

_sequence = itertools.count(1)
_open_streams: weakref.WeakValueDictionary[int, AsyncStreamingResultSet] = weakref.WeakValueDictionary()


def stream_mark() -> int:
    """A marker for "streams opened from now on" (see :func:`close_streams_opened_after`)."""
    return next(_sequence)


def close_streams_opened_after(mark: int) -> list[str]:
    """Close every stream opened after ``mark`` and still open; return a description of each one closed.

    Safe to call from any thread: a stream is closed on its own event loop. The notebook layer calls this
    when a cell finishes, so a stream a cell forgot to close does not keep fetching.
    """
    closed = []
    for number, stream in sorted(_open_streams.items()):
        if number > mark and not stream.is_closed:
            closed.append(stream.describe())
            stream.close_threadsafe()
    return closed


@dataclass(frozen=True)
class StreamConfig:
    """How a stream pages.

    Args:
        fetch_size: rows per page requested from the server.
        max_pages: stop after this many pages (``None``: no limit).
        page_callback: ``callback(page_number, rows_in_page)``, run on the event loop as each page is handed
            to the consumer. An exception in it is logged and does not stop the stream.
        timeout: seconds allowed for each page request (not for the whole stream); ``None`` uses the
            session's default request timeout. ``timeout_seconds`` is accepted as the same setting.
    """

    fetch_size: int = 5000
    max_pages: int | None = None
    page_callback: PageCallback | None = field(default=None, compare=False)
    timeout: float | None = None
    timeout_seconds: InitVar[float | None] = None  # the same as ``timeout``, as async-cassandra spells it

    def __post_init__(self, timeout_seconds: float | None) -> None:
        if timeout_seconds is not None:
            if self.timeout is not None and self.timeout != timeout_seconds:
                raise ConfigurationError("StreamConfig: give timeout or timeout_seconds (the same setting), not both")
            object.__setattr__(self, "timeout", timeout_seconds)
        if not isinstance(self.fetch_size, int) or self.fetch_size < 1:
            raise ConfigurationError(f"StreamConfig.fetch_size must be a positive integer, got {self.fetch_size!r}")
        if self.max_pages is not None and (not isinstance(self.max_pages, int) or self.max_pages < 1):
            raise ConfigurationError(
                f"StreamConfig.max_pages must be a positive integer or None, got {self.max_pages!r}"
            )
        if self.timeout is not None and self.timeout <= 0:
            raise ConfigurationError(f"StreamConfig.timeout must be positive seconds or None, got {self.timeout!r}")


def create_streaming_statement(query: str, fetch_size: int = 1000, consistency_level: Any = None) -> Any:
    """A statement that streams ``fetch_size`` rows a page when given to ``execute_stream`` without a
    ``stream_config`` (and, optionally, at ``consistency_level``)."""
    from cassandra.query import SimpleStatement

    StreamConfig(fetch_size=fetch_size)  # the same checks as everywhere
    statement = SimpleStatement(query, fetch_size=fetch_size)
    if consistency_level is not None:
        statement.consistency_level = consistency_level
    return statement


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a stream: its 1-based number, its rows and the columns they hold."""

    number: int
    rows: list[Any]
    column_names: Sequence[str]
    column_types: Sequence[type]

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.rows)

    @overload
    def __getitem__(self, index: int) -> Any: ...
    @overload
    def __getitem__(self, index: slice) -> list[Any]: ...
    def __getitem__(self, index: int | slice) -> Any:
        """A row of the page, or a list of them for a slice: a page reads as the list of its rows."""
        return self.rows[index]


class AsyncStreamingResultSet:
    """Rows of a query, fetched page by page as they are consumed.

    Use ``async for row in stream`` for rows or ``async for page in stream.pages()`` for whole pages, inside
    ``async with`` so the stream is closed however the loop ends.
    """

    def __init__(
        self,
        fetcher: PageFetcher,
        first_page: Awaitable[PageData],
        config: StreamConfig,
        query: Any,
        *,
        start_state: bytes | None = None,
        skip_rows: int = 0,
        on_page: Callable[[int], None] | None = None,
        translate_error: Callable[[BaseException, Any], BaseException] = translate,
    ) -> None:
        self._fetcher = fetcher
        self._translate = translate_error
        self._pending: Awaitable[PageData] | None = first_page
        self._config = config
        self._query = query
        self._on_page = on_page
        self._closed = False
        self._finished = False  # no page left to fetch (end of result or max_pages)
        self._exhausted = False  # the server has no more pages
        self.page_number = 0
        self.rows_fetched = 0
        #: The server's warnings so far (each once), e.g. "Aggregation query used without partition key".
        self.warnings: list[str] = []
        self._column_names: Sequence[str] = ()
        self._column_types: Sequence[type] = ()
        # Where the current page started, where the next one starts, and how far into the current page we are.
        self._page_start_state = start_state
        self._next_state: bytes | None = start_state
        self._rows: list[Any] = []
        self._position = 0
        self._skip = skip_rows
        self._started = time.monotonic()
        self._loop = asyncio.get_running_loop()
        self._number = next(_sequence)
        _open_streams[self._number] = self
        # Full collections wait while pages keep coming (cassnb._gc); given back at the end, on close, when
        # the stream is dropped unclosed, or a second after the last page.
        self._lease = PageLease(self._loop)
        weakref.finalize(self, self._lease.release)

    # ------------------------------------------------------------------ state
    @property
    def column_names(self) -> list[str]:
        return list(self._column_names)

    @property
    def column_types(self) -> list[type]:
        return list(self._column_types)

    @property
    def is_closed(self) -> bool:
        return self._closed

    @property
    def total_rows_fetched(self) -> int:
        """Rows received from the server so far (the same as :attr:`rows_fetched`)."""
        return self.rows_fetched

    @property
    def exhausted(self) -> bool:
        """True once every row of the result has been handed to the consumer."""
        return self._exhausted and self._position >= len(self._rows)

    @property
    def paging_state(self) -> bytes | None:
        """The page to resume from: with :attr:`skip_rows`, the exact position of the next undelivered row.

        ``None`` means "from the beginning" before the first page and "nothing left" once :attr:`exhausted`.
        """
        if self._position < len(self._rows):
            return self._page_start_state
        return self._next_state

    @property
    def skip_rows(self) -> int:
        """Rows of the page at :attr:`paging_state` that were already delivered."""
        return self._position if self._position < len(self._rows) else 0

    # ------------------------------------------------------------------ iteration
    def __aiter__(self) -> AsyncStreamingResultSet:
        return self

    async def __anext__(self) -> Any:
        if self._position % YIELD_EVERY == 0 and 0 < self._position < len(self._rows):
            # Rows of a page in hand are returned without awaiting anything, so a consumer could go through
            # a whole page in one step; the loop gets a turn every YIELD_EVERY rows instead.
            await asyncio.sleep(0)
        if self._closed and self._position < len(self._rows):
            raise ClosedError("this stream was closed; start a new one with session.execute_stream(...)")
        while self._position >= len(self._rows):
            page = await self._next_page()
            if page is None:
                raise StopAsyncIteration
        row = self._rows[self._position]
        self._position += 1
        return row

    async def pages(self) -> AsyncIterator[Page]:
        """Iterate whole pages (the rest of the current page first, if rows were already taken from it)."""
        try:
            if self._position < len(self._rows):
                rest = self._rows[self._position :]
                self._position = len(self._rows)
                yield Page(self.page_number, rest, self._column_names, self._column_types)
            while (page := await self._next_page()) is not None:
                self._position = len(self._rows)
                yield page
        finally:
            if not self.exhausted:
                await self.close()

    async def _next_page(self) -> Page | None:
        if self._finished:  # no more pages, or max_pages reached
            await self.close()
            return None
        if self._closed or self._pending is None:
            raise ClosedError("this stream was closed; start a new one with session.execute_stream(...)")
        try:
            data = await self._pending
        except Exception as exc:
            await self.close()
            raise self._translate(exc, self._query) from None
        except BaseException:  # cancellation, an interrupt: passed on as they are
            await self.close()
            raise
        self._pending = None
        self._lease.renew()
        for warning in data.warnings or ():
            if warning not in self.warnings:
                self.warnings.append(warning)
        rows = data.rows
        if self._skip:
            rows, self._skip = rows[self._skip :], 0
        self.page_number += 1
        self.rows_fetched += len(rows)
        self._page_start_state, self._next_state = self._next_state, data.next_paging_state
        self._rows, self._position = rows, 0
        if data.column_names is not None:
            self._column_names, self._column_types = data.column_names, data.column_types or ()
        more = data.next_paging_state is not None
        if self._config.max_pages is None or self.page_number < self._config.max_pages:
            self._pending = self._fetcher.following(data)  # prefetch exactly one page
        self._finished, self._exhausted = self._pending is None, not more
        if self._finished:
            self._lease.release()  # the last page: nothing more will come to renew it
        if self._on_page is not None:
            self._on_page(len(rows))
        self._run_callback(len(rows))
        return Page(self.page_number, rows, self._column_names, self._column_types)

    def _run_callback(self, rows_in_page: int) -> None:
        callback = self._config.page_callback
        if callback is None:
            return
        try:
            callback(self.page_number, rows_in_page)
        except Exception:
            log.exception("page_callback raised on page %d; the stream continues", self.page_number)

    # ------------------------------------------------------------------ closing
    async def close(self) -> None:
        """Stop fetching and release the driver's request. Safe to call any number of times."""
        self._close_now()

    def _close_now(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._pending = None
        self._lease.release()
        self._fetcher.release()
        _open_streams.pop(self._number, None)

    def close_threadsafe(self) -> None:
        """Close from any thread (e.g. IPython's cell hooks while the stream lives on a runner loop)."""
        if self._loop.is_closed():
            self._closed = True
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop or not self._loop.is_running():
            self._close_now()
            return
        done = threading.Event()

        def close_and_signal() -> None:
            self._close_now()
            done.set()

        self._loop.call_soon_threadsafe(close_and_signal)
        done.wait(timeout=5.0)

    def describe(self) -> str:
        """One line naming the stream's query and progress, for warnings."""
        from .exceptions import describe_statement

        pages = f"{self.page_number:,} page{'' if self.page_number == 1 else 's'}"
        return f"{describe_statement(self._query)} ({pages}, {self.rows_fetched:,} rows fetched)"

    async def __aenter__(self) -> AsyncStreamingResultSet:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<AsyncStreamingResultSet {state} pages={self.page_number} rows={self.rows_fetched}>"
