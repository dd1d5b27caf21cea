"""Query results as pandas DataFrames: page by page, all at once, and resumed after a stop.

* :func:`stream_frames` turns each page of a query into a DataFrame chunk. Chunks not kept by the caller are
  garbage, and the stream prefetches at most one page, so memory depends on the page size, not the result.
* :func:`query_df` collects the chunks and joins them once at the end. The frame's ``attrs["cassnb"]``
  (see :class:`FrameInfo`) records the query, how far it got and whether the result is complete.
* :func:`more` continues an incomplete frame exactly where it stopped: no row repeated, none missed.

Every chunk of one result has the same columns and dtypes, whatever the page holds (see
:mod:`cassnb._frames`), so chunks and resumed parts join without dtype drift.

Stopping early
--------------
:func:`query_df` and :func:`more` stop after the page in hand, keep every row fetched so far and return the
partial frame marked ``complete=False`` (their progress display ends saying how to continue; they print
nothing themselves), when

* the ``stop=`` :class:`~cassnb.progress.StopSignal` is set, from any thread (the magics turn an interrupt of
  their own waiting into this), or the progress widget's Stop button is pressed;
* the first interrupt arrives while they run on the main thread: Ctrl-C in a terminal, or Jupyter's
  Interrupt for a cell that awaits them. :func:`~cassnb.progress.stop_on_interrupt` turns that SIGINT into a
  stop request; a second interrupt does what SIGINT does otherwise, to break off a read stuck on a page;
* a ``KeyboardInterrupt`` reaches the read anyway (that second Ctrl-C landing in the read's own code).

``asyncio.CancelledError`` is never swallowed: it is how asyncio stops a task (``asyncio.timeout``, a
TaskGroup whose sibling failed, a runner shutting down, ipykernel acting on a second interrupt), and code that
turns it into a normal return breaks all of those. On cancellation the stream is closed and the error
propagates, without a partial frame.

:func:`stream_frames` leaves interrupts to its caller: the chunks already handed out are the caller's, and
closing the stream (``async with``) is all that is needed.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
import uuid
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import MISSING, asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

import pandas as pd

from ._frame_stream import FrameStream, _reason
from ._gc import deferred_collections
from .exceptions import CassnbError, ConfigurationError, describe_statement
from .options import UNSET, Unset
from .progress import ProgressSpec, StopSignal, stop_on_interrupt

if TYPE_CHECKING:
    from ._binding import Parameters, Query
    from .session import AsyncSession

__all__ = ("FrameInfo", "FrameStream", "frame_info", "more", "query_df", "stream_frames")

log = logging.getLogger("cassnb.frames")

#: The key of :attr:`pandas.DataFrame.attrs` holding a :class:`FrameInfo` as a dict.
ATTRS_KEY = "cassnb"


def stream_frames(
    session: AsyncSession,
    query: Query,
    params: Parameters = None,
    *,
    fetch_size: int = 5000,
    max_rows: int | None = None,
    timeout: float | Unset | None = UNSET,
    progress: ProgressSpec = False,
    stop: StopSignal | None = None,
) -> FrameStream:
    """Stream a query as DataFrame chunks, one per page.

    Args:
        session: the session to run the query on.
        query, params: as for :meth:`AsyncSession.execute`.
        fetch_size: rows per page, and so per chunk.
        max_rows: stop after this many rows; the last chunk is cut short. One row more is asked for, so that
            the stream knows whether the result ends there (``complete``); it is never handed out.
        timeout: seconds allowed for each page request.
        progress: a reporter or a mode (see :func:`cassnb.progress.choose_progress`); off by default.
        stop: end the stream after the current page once this signal is set.

    Returns:
        A :class:`FrameStream`; nothing is sent until the first chunk is requested.

    Raises:
        ConfigurationError: a bad ``fetch_size``, ``max_rows``, ``stop`` or ``progress``. Errors of the query
        itself (see :mod:`cassnb.exceptions`) are raised while iterating.
    """
    return FrameStream(
        session, query, params, fetch_size=fetch_size, max_rows=max_rows, timeout=timeout, progress=progress,
        stop=stop,
    )  # fmt: skip


# ---------------------------------------------------------------------------------------------------- frames
@dataclass(frozen=True)
class FrameInfo:
    """What ``df.attrs["cassnb"]`` records about a frame from :func:`query_df` or :func:`more`.

    Attributes:
        query: the statement's CQL text.
        params: the parameters it was run with.
        fetch_size: rows per page.
        rows: rows in the frame.
        pages: pages fetched to build it (all calls together).
        complete: whether the frame holds the whole result.
        paging_state, skip_rows: where the next row is, when ``complete`` is False.
        elapsed: seconds spent fetching (all calls together).
        origin: a handle, valid in this process only, through which :func:`more` finds the session.
        warnings: what the server warned about while answering (each warning once).
    """

    query: str
    params: Any
    fetch_size: int
    rows: int
    pages: int
    complete: bool
    paging_state: bytes | None
    skip_rows: int
    elapsed: float
    origin: str
    warnings: tuple[str, ...] = ()


def frame_info(df: pd.DataFrame) -> FrameInfo:
    """Read the :class:`FrameInfo` of a frame made by :func:`query_df` or :func:`more`.

    Raises:
        ConfigurationError: ``df`` carries no cassnb information (it was not made by cassnb, or an operation
        dropped its ``attrs``).
    """
    data = df.attrs.get(ATTRS_KEY) if isinstance(df, pd.DataFrame) else None
    names = [f.name for f in fields(FrameInfo)]
    required = [f.name for f in fields(FrameInfo) if f.default is MISSING]
    if not isinstance(data, dict) or any(name not in data for name in required):
        raise ConfigurationError(
            "this DataFrame has no attrs['cassnb']: pass a frame returned by cassnb.query_df() or cassnb.more()"
        )
    return FrameInfo(**{name: data[name] for name in names if name in data})


@dataclass(frozen=True)
class _Origin:
    session: weakref.ref[AsyncSession]
    query: Any  # the statement object as given (a Statement keeps its options when resumed)


_PROCESS = uuid.uuid4().hex[:12]
_numbers = itertools.count(1)
_origins: OrderedDict[str, _Origin] = OrderedDict()
_origins_lock = threading.Lock()
_MAX_ORIGINS = 256


def _remember(session: AsyncSession, query: Query) -> str:
    origin = f"{_PROCESS}-{next(_numbers)}"
    with _origins_lock:
        _origins[origin] = _Origin(weakref.ref(session), query)
        while len(_origins) > _MAX_ORIGINS:
            _origins.popitem(last=False)
    return origin


def _recall(origin: str) -> _Origin | None:
    with _origins_lock:
        return _origins.get(origin)


def _query_text(query: Query) -> str:
    if isinstance(query, str):
        return query
    text = getattr(query, "query_string", None) or getattr(
        getattr(query, "prepared_statement", None), "query_string", None
    )
    return str(text) if text is not None else describe_statement(query)


ChunkCallback = Callable[[pd.DataFrame], object]


async def _collect(stream: FrameStream, frames: list[pd.DataFrame], on_chunk: ChunkCallback | None = None) -> bool:
    """Read the stream to its end (its chunks go to ``frames``, unless the stream gathers them itself); True
    if a KeyboardInterrupt cut the read short.

    The caller defers full garbage collections (see :mod:`cassnb._gc`); the stream's page lease collects the young
    ones once per page.
    """
    try:
        async for chunk in stream:
            if not stream.accumulates:
                frames.append(chunk)
            if on_chunk is not None:
                on_chunk(chunk)
    except KeyboardInterrupt:
        await stream.close("interrupted")
        return True
    except BaseException as exc:
        await stream.close(_reason(exc))
        raise
    return False


async def _joined(
    stream: FrameStream, frames: list[pd.DataFrame], describe: Callable[[FrameStream, int], FrameInfo]
) -> pd.DataFrame:
    """The frames joined into one, with the stream's :class:`FrameInfo` in its attrs."""
    frame = await stream._concat(frames)
    frames.clear()
    frame.attrs.clear()
    frame.attrs[ATTRS_KEY] = asdict(describe(stream, len(frame)))
    return frame


async def _read(
    stream: FrameStream,
    frames: list[pd.DataFrame],
    describe: Callable[[FrameStream, int], FrameInfo],
    on_chunk: ChunkCallback | None,
) -> bool:
    """:func:`_collect`; when the read fails after fetching rows, they go with the error as ``exc.partial``."""
    try:
        return await _collect(stream, frames, on_chunk)
    except CassnbError as exc:
        if not frames and not stream.rows_fetched:  # nothing was fetched: nothing to keep
            raise
        exc.partial = partial = await _joined(stream, frames, describe)
        info = frame_info(partial)
        exc.add_note(
            f"the {info.rows:,} rows fetched before the error are kept in `exc.partial` (incomplete); "
            "`await cassnb.more(exc.partial)` continues from there"
        )
        raise


async def query_df(
    session: AsyncSession,
    query: Query,
    params: Parameters = None,
    *,
    fetch_size: int = 5000,
    max_rows: int | None = None,
    progress: ProgressSpec = "auto",
    timeout: float | Unset | None = UNSET,
    stop: StopSignal | None = None,
    on_chunk: ChunkCallback | None = None,
) -> pd.DataFrame:
    """Run a query and return its rows as one DataFrame.

    Pages are converted as they arrive and joined once at the end. A stop request, the Stop button or an
    interrupt ends the read after the current page: the rows so far are returned, marked
    ``complete=False`` (the progress display says so), and ``await cassnb.more(df)`` fetches the rest.
    Cancellation of the awaiting task is not swallowed (see the module docstring). Nothing is printed.

    Args:
        session, query, params, fetch_size, max_rows, timeout: as for :func:`stream_frames`.
        stop: a signal that ends the read after the current page; an interrupt sets it too.
        progress: a reporter or a mode; ``"auto"`` shows a widget in Jupyter and a text line elsewhere.
        on_chunk: called with each page's DataFrame as it arrives, on the event loop (to preview the first
            rows, say); it must not block.

    Returns:
        The frame, with a :class:`FrameInfo` as a dict in ``df.attrs["cassnb"]``.

    Raises:
        ConfigurationError, and the query errors of :mod:`cassnb.exceptions`.
    """
    stop = StopSignal() if stop is None else stop
    started = time.perf_counter()
    chunks: list[pd.DataFrame] = []
    origin = _remember(session, query)

    def describe(stream: FrameStream, rows: int) -> FrameInfo:
        return FrameInfo(
            query=_query_text(query), params=params, fetch_size=fetch_size, rows=rows, pages=stream.pages,
            complete=stream.complete, paging_state=stream.paging_state, skip_rows=stream.skip_rows,
            elapsed=round(time.perf_counter() - started, 6), origin=origin, warnings=tuple(stream.warnings),
        )  # fmt: skip

    # Full collections wait until the frame is joined: one that ran in between would walk every chunk.
    with deferred_collections():
        with stop_on_interrupt(stop):  # before the progress display appears
            stream = FrameStream(
                session, query, params, fetch_size=fetch_size, max_rows=max_rows, timeout=timeout,
                progress=progress, stop=stop, accumulate=True,
            )  # fmt: skip
            await _read(stream, chunks, describe, on_chunk)
        return await _joined(stream, chunks, describe)


async def more(
    df: pd.DataFrame,
    session: AsyncSession | None = None,
    *,
    max_rows: int | None = None,
    progress: ProgressSpec = "auto",
    timeout: float | Unset | None = UNSET,
    stop: StopSignal | None = None,
    on_chunk: ChunkCallback | None = None,
) -> pd.DataFrame:
    """Fetch the rest of an incomplete frame from :func:`query_df` (or an earlier :func:`more`).

    The query continues exactly where ``df`` stopped, with the same parameters and page size. ``df`` itself
    is not changed.

    Args:
        df: the incomplete frame.
        session: the session to use; by default the one that produced ``df`` in this process.
        max_rows: fetch at most this many further rows (the frame may stay incomplete).
        progress, timeout, stop, on_chunk: as for :func:`query_df`.

    Returns:
        A new frame: the rows of ``df`` followed by the new rows, with updated ``attrs["cassnb"]``. When
        ``df`` is already complete it is returned unchanged.

    Raises:
        ConfigurationError: ``df`` has no cassnb information, or its session is unknown here and none was
        passed. The query errors of :mod:`cassnb.exceptions`.
    """
    info = frame_info(df)
    if info.complete:
        return df
    origin = _recall(info.origin)
    if origin is not None and _query_text(origin.query) != info.query:
        origin = None  # not the statement this frame came from
    if session is None:
        session = origin.session() if origin is not None else None
        if session is None:
            raise ConfigurationError(
                "cannot tell which session produced this frame (another process, or the session is gone); "
                "pass one: `await cassnb.more(df, session)`"
            )
    query = origin.query if origin is not None else info.query
    if origin is None:
        origin_key = _remember(session, query)
    else:
        origin_key = info.origin
    stop = StopSignal() if stop is None else stop
    started = time.perf_counter()
    frames = [df]

    def describe(stream: FrameStream, rows: int) -> FrameInfo:
        return FrameInfo(
            query=info.query, params=info.params, fetch_size=info.fetch_size, rows=rows,
            pages=info.pages + stream.pages, complete=stream.complete,
            paging_state=stream.paging_state, skip_rows=stream.skip_rows,
            elapsed=round(info.elapsed + time.perf_counter() - started, 6), origin=origin_key,
            warnings=tuple(dict.fromkeys([*info.warnings, *stream.warnings])),
        )  # fmt: skip

    with deferred_collections():  # until the frame is joined, as in query_df
        with stop_on_interrupt(stop):
            stream = FrameStream(
                session, query, info.params, fetch_size=info.fetch_size, max_rows=max_rows, timeout=timeout,
                progress=progress, stop=stop, paging_state=info.paging_state, skip_rows=info.skip_rows,
                accumulate=True,
            )  # fmt: skip
            await _read(stream, frames, describe, on_chunk)
        return await _joined(stream, frames, describe)
