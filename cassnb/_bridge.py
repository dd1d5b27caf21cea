"""The one place where the driver's answers meet asyncio.

cassandra-driver answers through ``ResponseFuture`` callbacks, and its callbacks stay registered for every page
of a paged query. They run where the answer was decoded: on the awaiting loop itself for answers served by
:mod:`cassnb._reactor` (a large page arrives there unparsed), on the reactor's worker thread while the loop does
not serve, or on the driver's I/O thread with ``io="thread"``. :class:`PageFetcher` turns that into awaitable pages:

* the asyncio future for a page is created on the running loop *before* the request is sent, so an answer that
  arrives immediately still has somewhere to go;
* the driver thread snapshots everything that describes the page (rows, the paging state of the next page,
  column names and types) and hands it to the loop as one item — one hop per page, never per row;
* a large page arrives unparsed (:class:`cassnb._decode.Unparsed`) and is parsed and shaped by the row factory
  on the loop, for :data:`PIECE_SECONDS` per turn of the loop, so that other tasks run in between and no thread
  holds the loop's thread off the GIL while it parses;
* an answer decoded on the loop that awaits it resolves its future there and then;
* answers from other threads that arrive while the loop has not yet woken up for earlier ones share that
  wake-up: each loop has an inbox that threads append to, and one scheduled callback drains it (under load,
  hundreds of answers cost one ``call_soon_threadsafe`` instead of hundreds);
* an answer for a future that was cancelled, or for a loop that has closed, is dropped quietly: no
  "exception was never retrieved" warnings, no errors on the driver's threads;
* every page request gets the full timeout (the driver on its own would give later pages none).

Nothing here binds an event loop when created: each request uses the loop that awaits it.
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from cassandra.query import tuple_factory

from ._decode import PIECE_ROWS, Unparsed

#: How long one turn of the event loop parses an unparsed page (a piece of PIECE_ROWS rows at a time).
PIECE_SECONDS = 0.002


@dataclass(frozen=True, slots=True)
class PageData:
    """One page as the driver delivered it."""

    rows: list[Any]
    next_paging_state: bytes | None
    column_names: Sequence[str] | None
    column_types: Sequence[type] | None
    warnings: Sequence[str] | None = None  # the server's warnings for this page's request


class _Inbox:
    """Answers from driver threads for one event loop, delivered in batches by one loop callback."""

    __slots__ = ("__weakref__", "_items", "_lock", "_loop", "_scheduled")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._items: deque[tuple[Callable[[asyncio.Future[PageData], Any], None], asyncio.Future[PageData], Any]]
        self._items = deque()
        self._lock = threading.Lock()
        self._scheduled = False

    def post(self, deliver: Callable[[asyncio.Future[PageData], Any], None], future: asyncio.Future[PageData],
             value: Any) -> None:  # fmt: skip
        """Called on a driver thread, or on the loop itself when it serves the sockets (cassnb._reactor)."""
        if _get_running_loop() is self._loop:
            deliver(future, value)
            return
        with self._lock:
            self._items.append((deliver, future, value))
            if self._scheduled:
                return
            self._scheduled = True
        try:
            self._loop.call_soon_threadsafe(self._drain)
        except RuntimeError:  # the loop was closed while the request was in flight
            pass

    def _drain(self) -> None:
        with self._lock:
            items, self._items = self._items, deque()
            self._scheduled = False
        for deliver, future, value in items:
            deliver(future, value)


_get_running_loop = asyncio._get_running_loop  # the C accessor; None outside a running loop
_inboxes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Inbox] = weakref.WeakKeyDictionary()


def _inbox(loop: asyncio.AbstractEventLoop) -> _Inbox:
    inbox = _inboxes.get(loop)
    if inbox is None:
        inbox = _inboxes[loop] = _Inbox(loop)
    return inbox


def _resolve(future: asyncio.Future[PageData], page: PageData) -> None:
    if isinstance(page.rows, Unparsed):
        future.get_loop().call_soon(_parse_piece, future, page, [])
    elif not future.done():
        future.set_result(page)


def _parse_piece(future: asyncio.Future[PageData], page: PageData, parsed: list[Any]) -> None:
    """On the loop: :data:`PIECE_SECONDS` of parsing an unparsed page, and the page once it is whole."""
    if future.done():  # cancelled meanwhile: the rest of the page is not wanted
        return
    unparsed: Unparsed = page.rows  # type: ignore[assignment]
    until = time.perf_counter() + PIECE_SECONDS
    while True:
        try:
            piece = unparsed.take(PIECE_ROWS)
        except Exception as exc:  # a value the driver cannot decode (the connection itself is fine)
            future.set_exception(exc)
            return
        parsed += piece
        if len(piece) < PIECE_ROWS:
            future.set_result(replace(page, rows=parsed))
            return
        if time.perf_counter() >= until:
            future.get_loop().call_soon(_parse_piece, future, page, parsed)
            return


def _reject(future: asyncio.Future[PageData], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)


class PageFetcher:
    """Fetch the pages of one driver ``ResponseFuture`` as awaitables, one request at a time."""

    __slots__ = ("_future", "_inbox", "_response", "_shape")

    def __init__(self) -> None:
        self._response: Any = None
        self._future: asyncio.Future[PageData] | None = None
        self._inbox: _Inbox | None = None
        self._shape: Callable[[Any, list[Any]], list[Any]] = tuple_factory

    def shape_rows(self, row_factory: Callable[[Any, list[Any]], list[Any]]) -> None:
        """Apply ``row_factory`` here, to the driver's tuples (one of ``cassnb._rows.PIECEWISE_FACTORIES``, which
        the request leaves out so that a page can arrive unparsed)."""
        self._shape = row_factory

    @property
    def response_future(self) -> Any:
        """The driver's ``ResponseFuture`` (for traces, warnings and the coordinator host)."""
        return self._response

    def first(self, send: Callable[[], Any]) -> asyncio.Future[PageData]:
        """Send the request (``send`` returns the driver's ``ResponseFuture``) and return its first page."""
        future = self._arm()
        response = send()
        self._response = response
        response.add_callbacks(self._on_rows, self._on_error)
        return future

    def following(self, page: PageData) -> asyncio.Future[PageData] | None:
        """Request the page after ``page`` (the last one delivered); ``None`` when ``page`` was the last.

        This is the one place that pages through a result: ``AsyncSession.execute`` follows every page, a
        stream (and everything built on streams: frames, exports, the magics) one page ahead of its reader.
        """
        return None if page.next_paging_state is None else self.next()

    def next(self) -> asyncio.Future[PageData]:
        """Request the page after the last one delivered, with a fresh timeout of its own."""
        future = self._arm()
        response = self._response
        # cassandra-driver 3.x measures a request's timeout from the *first* page's start and never re-arms its
        # timer after the first page (the cancelled timer object is kept), so later pages would either have no
        # deadline at all or share one deadline for the whole result. Each page gets the full budget instead.
        response._start_time = time.time()
        response._timer = None
        response.start_fetching_next_page()
        return future

    def release(self) -> None:
        """Detach from the driver: later answers are ignored and the driver keeps no reference to us."""
        future, self._future = self._future, None
        if future is not None and not future.done():
            future.cancel()
        if self._response is not None:
            self._response.clear_callbacks()
            self._response = None

    def _arm(self) -> asyncio.Future[PageData]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[PageData] = loop.create_future()
        self._inbox, self._future = _inbox(loop), future
        return future

    # The two methods below run on a driver thread (or inline, when the answer is already there).
    def _on_rows(self, rows: Any) -> None:
        response = self._response
        names = getattr(response, "_col_names", None)
        if isinstance(rows, Unparsed):
            rows.shape_by(self._shape, names)
        elif rows is not None and self._shape is not tuple_factory:  # None: no rows (a write, a schema change)
            try:
                rows = self._shape(names, rows)
            except Exception as exc:  # as the driver would have failed the request with it
                self._hand_over(_reject, exc)
                return
        page = PageData(
            # An Unparsed page is a list again before it is delivered (_resolve).
            rows if isinstance(rows, list | Unparsed) else list(rows or ()),  # type: ignore[arg-type]
            getattr(response, "_paging_state", None),
            names,
            getattr(response, "_col_types", None),
            getattr(response, "warnings", None),
        )
        self._hand_over(_resolve, page)

    def _on_error(self, exc: BaseException) -> None:
        self._hand_over(_reject, exc)

    def _hand_over(self, deliver: Callable[[asyncio.Future[PageData], Any], None], value: Any) -> None:
        future, inbox = self._future, self._inbox
        if future is None or inbox is None or future.done():
            return
        inbox.post(deliver, future, value)
