"""FrameStream: the DataFrame chunks of one query, one per page, resumable to the row.

Built on :class:`~cassnb.streaming.AsyncStreamingResultSet` (the one paging path), it converts each page with
one :class:`~cassnb._frames.FrameBuilder`, cuts the result at ``max_rows``, ends on a stop request, and keeps
the exact position of the next undelivered row. :mod:`cassnb.frames` builds ``query_df``, ``more`` and
``stream_frames`` on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from types import TracebackType
from typing import TYPE_CHECKING, Any

import pandas as pd

from ._decode import FRAME_DECODING
from ._frames import FrameAccumulator, FrameBuilder
from .exceptions import ClosedError, ConfigurationError, describe_statement
from .options import UNSET, RowFormat, Unset
from .progress import ProgressSpec, StopSignal, choose_progress
from .streaming import AsyncStreamingResultSet, Page, StreamConfig

if TYPE_CHECKING:
    from ._binding import Parameters, Query
    from .session import AsyncSession

log = logging.getLogger("cassnb.frames")


def _positive(name: str, value: object, *, optional: bool) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        allowed = "a positive integer or None" if optional else "a positive integer"
        raise ConfigurationError(f"{name} must be {allowed}, got {value!r}")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    if isinstance(exc, asyncio.CancelledError):
        return "cancelled"
    return f"failed: {type(exc).__name__}"


#: Rows converted per turn of the event loop (1-5 ms of work).
CONVERT_ROWS = 500


async def _convert(builder: FrameBuilder, rows: list[Any]) -> tuple[Any, pd.DataFrame]:
    """A page's column parts and its chunk, made on the event loop :data:`CONVERT_ROWS` rows per turn.

    Not on another thread: conversion is C work that holds the GIL in stretches of milliseconds, and a thread
    doing that keeps the loop's thread from the GIL far longer than the interpreter's switch interval (a
    5,000-row page converted on a worker gave the loop 20-80 ms gaps).
    """
    pieces = []
    for start in range(0, len(rows), CONVERT_ROWS):
        if start:
            await asyncio.sleep(0)
        pieces.append(builder.parts(rows[start : start + CONVERT_ROWS]))
    parts = builder.join_parts(pieces)
    await asyncio.sleep(0)
    return parts, builder.frame_of(parts)


class FrameStream:
    """DataFrame chunks of one query, one per page; made by :func:`stream_frames`.

    Use it as ``async for chunk in stream`` or, to be sure it is closed when the loop ends early,
    ``async with stream_frames(...) as chunks: async for chunk in chunks``. Pages without rows are skipped.

    The counters and the resume position describe the chunks handed out so far: a chunk lost to an
    interrupt before it reached the caller is not counted, so resuming from :attr:`paging_state` and
    :attr:`skip_rows` fetches it again.
    """

    def __init__(
        self,
        session: AsyncSession,
        query: Query,
        params: Parameters = None,
        *,
        fetch_size: int = 5000,
        max_rows: int | None = None,
        timeout: float | Unset | None = UNSET,
        progress: ProgressSpec = False,
        stop: StopSignal | None = None,
        paging_state: bytes | None = None,
        skip_rows: int = 0,
        accumulate: bool = False,
    ) -> None:
        _positive("fetch_size", fetch_size, optional=False)
        _positive("max_rows", max_rows, optional=True)
        if stop is not None and not isinstance(stop, StopSignal):
            raise ConfigurationError(f"stop must be a cassnb.progress.StopSignal, got {type(stop).__name__}")
        self._session = session
        self._query = query
        self._params = params
        self._fetch_size = fetch_size
        self._timeout = timeout
        self._reporter = choose_progress(progress)
        self._stop = stop
        self._remaining = max_rows
        # Where the next undelivered row is: the page it is on, and how many rows of that page were delivered.
        self._state = paging_state
        self._skip = skip_rows
        self._stream: AsyncStreamingResultSet | None = None
        self._pages: AsyncIterator[Page] | None = None
        self._builder: FrameBuilder | None = None
        # query_df and more() gather the pages here as they are handed out (see _concat).
        self._accumulate = accumulate
        self._accumulated: FrameAccumulator | None = None
        self._column_names: list[str] = []
        self._started = False
        self._closed = False
        self._ended = False  # closed because there was nothing more to hand out (end, max_rows or stop)
        self._complete = False
        self._stopped = False
        self.rows_fetched = 0
        self.pages = 0
        #: The server's warnings so far, each once.
        self.warnings: list[str] = []

    # ------------------------------------------------------------------ state
    @property
    def paging_state(self) -> bytes | None:
        """With :attr:`skip_rows`, where the next undelivered row is (pass both to resume)."""
        return self._state

    @property
    def skip_rows(self) -> int:
        """Rows of the page at :attr:`paging_state` that were already delivered."""
        return self._skip

    @property
    def complete(self) -> bool:
        """True once every row of the result has been delivered."""
        return self._complete

    @property
    def stopped(self) -> bool:
        """True when the stream ended because a stop was requested (``stop=`` or the Stop button)."""
        return self._stopped

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def column_names(self) -> list[str]:
        """The result's columns, known once the first page has arrived (empty before)."""
        return list(self._column_names)

    @property
    def accumulates(self) -> bool:
        """Whether the chunks handed out are also gathered into the frame that :meth:`_concat` returns."""
        return self._accumulate

    async def _concat(self, frames: list[pd.DataFrame]) -> pd.DataFrame:
        """``frames`` (for more(): the earlier frame) followed by the chunks gathered so far, as one frame;
        keeps the columns when empty. The gathered chunks are handed over.

        The gathered chunks become columns on the event loop, a column (or 65,536 text values) per turn; joining
        that to an earlier frame (more()) copies whole columns and runs on a worker thread."""
        if self._builder is None:
            return frames[0].reset_index(drop=True) if frames else pd.DataFrame()
        if self._accumulated is not None:
            steps = self._accumulated.frame_steps()
            while True:
                try:
                    next(steps)
                except StopIteration as done:
                    frames = [*frames, done.value]
                    break
                await asyncio.sleep(0)
        if len(frames) > 1:
            return await asyncio.to_thread(self._builder.concat, frames)
        return self._builder.concat(frames)

    # ------------------------------------------------------------------ iteration
    def __aiter__(self) -> FrameStream:
        return self

    async def __anext__(self) -> pd.DataFrame:
        if self._closed:
            if self._ended:
                raise StopAsyncIteration
            raise ClosedError("this frame stream was closed; start a new one with stream_frames(...)")
        try:
            chunk = await self._next_chunk()
        except BaseException as exc:
            await self.close(_reason(exc))
            raise
        if chunk is None:
            raise StopAsyncIteration
        return chunk

    def _stop_requested(self) -> bool:
        return (self._stop is not None and self._stop.is_set()) or self._reporter.stop_requested

    async def _open(self) -> None:
        """Start (or restart) the underlying stream at the resume position."""
        if not self._started:
            self._started = True
            self._reporter.start(describe_statement(self._query))
        size, max_pages = self._fetch_size, None
        if self._remaining is not None:
            # Request no more pages, and no bigger pages, than needed, plus one row: a result that ends exactly
            # at max_rows then ends in a short page, so `complete` is known without asking the server again.
            wanted = self._remaining + self._skip + 1
            size = min(size, wanted)
            max_pages = -(-wanted // size)
        self._stream = await self._session._stream(
            self._query, self._params, stream_config=StreamConfig(fetch_size=size, max_pages=max_pages),
            paging_state=self._state, skip_rows=self._skip, timeout=self._timeout, row_format=RowFormat.TUPLE,
            decoding=FRAME_DECODING,
        )  # fmt: skip
        self._pages = self._stream.pages()

    async def _next_chunk(self) -> pd.DataFrame | None:
        while True:
            if self._stop_requested():
                self._stopped = True
                await self._end("stopped")
                return None
            if self._remaining == 0 and not self._complete:
                await self._learn_if_complete()
            if self._remaining == 0 or self._complete:
                await self._end()
                return None
            if self._pages is None:
                await self._open()
            stream, pages = self._stream, self._pages
            assert stream is not None and pages is not None
            page_start, page_skip = stream.paging_state, self._skip
            try:
                page = await anext(pages)
            except StopAsyncIteration:
                if stream.exhausted:
                    self._complete, self._state, self._skip = True, None, 0
                    continue
                # max_pages ran out before max_rows did (the server sent short pages): go on from here.
                self._stream = self._pages = None
                continue
            self.warnings += [warning for warning in stream.warnings if warning not in self.warnings]
            if self._builder is None:
                self._column_names = list(page.column_names)
                self._builder = FrameBuilder(page.column_names, page.column_types)
                self._accumulated = self._builder.accumulator() if self._accumulate else None
            keep = len(page.rows) if self._remaining is None else min(len(page.rows), self._remaining)
            rows = page.rows if keep == len(page.rows) else page.rows[:keep]
            parts, chunk = await _convert(self._builder, rows) if keep else (None, None)
            # Report before committing: if reporting raises (an interrupt), the page counts as undelivered.
            self._reporter.update(self.rows_fetched + keep, self.pages + 1)
            if parts is not None and self._accumulated is not None:
                self._accumulated.add(parts)
            self.rows_fetched += keep
            self.pages += 1
            if keep < len(page.rows):
                self._state, self._skip = page_start, page_skip + keep
            else:
                self._state, self._skip = stream.paging_state, 0
                self._complete = self._state is None
            if self._remaining is not None:
                self._remaining -= keep
            if chunk is not None:
                return chunk

    async def _learn_if_complete(self) -> None:
        """max_rows ended exactly at a page end: the page after it (already requested, see ``_open``) says
        whether the result has more rows. It is never handed out; the resume position stays before it."""
        stream, pages = self._stream, self._pages
        if self._skip or stream is None or pages is None:
            return  # the last page went on past max_rows: there is more
        try:
            page = await anext(pages)
        except StopAsyncIteration:
            self._complete = stream.exhausted
            return
        self._complete = not page.rows and stream.exhausted

    # ------------------------------------------------------------------ closing
    async def _end(self, failure: str | None = None) -> None:
        await self.close(failure)
        self._ended = True

    async def close(self, reason: str | None = None) -> None:
        """Stop fetching and release the request in flight. Idempotent.

        Args:
            reason: why the stream ends early (``"interrupted"``, ``"stopped"``...); when given, the progress
                display shows the read as failed with that reason, otherwise as done.
        """
        if self._closed:
            return
        self._closed = True
        stream, pages = self._stream, self._pages
        self._stream = self._pages = None
        aclose = getattr(pages, "aclose", None)
        if aclose is not None:
            # RuntimeError: the generator is running in another task; closing the stream below suffices.
            with contextlib.suppress(RuntimeError):
                await aclose()
        if stream is not None:
            await stream.close()
        if not self._started:
            return  # nothing was shown, so there is nothing to end
        try:
            if reason is None:
                self._reporter.finish()
            else:
                self._reporter.fail(reason)
        except Exception:
            log.exception("the progress reporter failed while closing the stream")

    aclose = close

    async def __aenter__(self) -> FrameStream:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close(None if exc is None else _reason(exc))

    def __repr__(self) -> str:
        state = "complete" if self._complete else "closed" if self._closed else "open"
        return f"<FrameStream {state} pages={self.pages} rows={self.rows_fetched}>"
