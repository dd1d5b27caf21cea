"""``AsyncSession``: run statements, prepare them, and stream results, without blocking the event loop."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

from cassandra.cluster import _NOT_SET, EXEC_PROFILE_DEFAULT, NoHostAvailable
from cassandra.query import BatchStatement, BatchType, PreparedStatement, SimpleStatement, Statement, tuple_factory

from ._awaitable import AwaitableContext
from ._binding import Parameters, Query, bind
from ._bridge import PageData, PageFetcher
from ._decode import ROW_DECODING
from ._identifiers import parse_identifier, quote
from ._rows import PIECEWISE_FACTORIES
from .exceptions import (
    ClosedError,
    ConfigurationError,
    ConnectionError,
    describe_statement,
    translate,
)
from .metrics import MetricsSnapshot, SessionMetrics
from .options import UNSET, RowFormat, Unset
from .result import AsyncResultSet
from .streaming import AsyncStreamingResultSet, StreamConfig

if TYPE_CHECKING:
    import pandas as pd

    from . import frames
    from .cluster import AsyncCluster


class AsyncSession:
    """A connection pool to the cluster, used from asyncio.

    Obtain one with ``await cluster.connect(keyspace)``. Every method uses the event loop that awaits it, so a
    session can be shared by code running on different loops (a notebook's kernel loop and a background
    runner, or pytest-asyncio's per-test loops).
    """

    def __init__(self, cluster: AsyncCluster, driver_session: Any, *, prepared_cache_size: int = 512) -> None:
        self._cluster = cluster
        self._driver = driver_session
        self._closed = False
        self._prepared: OrderedDict[tuple[str, str | None], PreparedStatement] = OrderedDict()
        self._prepared_lock = threading.Lock()
        self._prepared_cache_size = prepared_cache_size
        self._profiles: dict[tuple[object, RowFormat], Any] = {}
        self._metrics = SessionMetrics()
        self._owns_cluster = False  # set by cassnb.connect(): closing the session also shuts the cluster down

    # ------------------------------------------------------------------ properties
    @property
    def cluster(self) -> AsyncCluster:
        return self._cluster

    @property
    def keyspace(self) -> str | None:
        """The session's current keyspace (``None`` if none was chosen)."""
        keyspace: str | None = self._driver.keyspace
        return keyspace

    @property
    def is_closed(self) -> bool:
        return self._closed or self._cluster.is_closed

    @property
    def driver_session(self) -> Any:
        """The underlying ``cassandra.cluster.Session``, for driver features cassnb does not wrap."""
        return self._driver

    def metrics(self) -> MetricsSnapshot:
        """Counts, error types, latency percentiles and streamed rows/pages since the session opened."""
        return self._metrics.snapshot()

    # ------------------------------------------------------------------ statements
    async def prepare(
        self, query: str, *, keyspace: str | None = None, custom_payload: Mapping[str, bytes] | None = None
    ) -> PreparedStatement:
        """Prepare ``query`` once per session and keyspace (LRU cache), off the event loop.

        ``keyspace`` prepares it against another keyspace than the session's (unqualified table names resolve
        there), without switching the session.
        """
        self._check_open()
        key = (query, keyspace or self._driver.keyspace)
        with self._prepared_lock:
            cached = self._prepared.get(key)
            if cached is not None and self._table_exists(cached):
                self._prepared.move_to_end(key)
                return cached
            if cached is not None:  # its table was dropped: ask the server again (which says what is wrong)
                del self._prepared[key]
        try:
            prepared = await asyncio.to_thread(self._prepare_blocking, key, custom_payload)
        except Exception as exc:
            self._metrics.failed(exc)
            raise self._error(exc, query) from None
        return prepared

    def _table_exists(self, prepared: PreparedStatement) -> bool:
        """Whether the table a prepared statement reads or writes is still in the driver's schema metadata,
        which the server's schema-change events keep current (a ``DROP TABLE`` by any client reaches it)."""
        columns = prepared.column_metadata or prepared.result_metadata
        if not columns or not self._driver.cluster.schema_metadata_enabled:  # nothing to check it against
            return True
        keyspace, table = columns[0][0], columns[0][1]
        found = self._driver.cluster.metadata.keyspaces.get(keyspace)
        return found is not None and (table in found.tables or table in getattr(found, "views", {}))

    def _prepare_blocking(
        self, key: tuple[str, str | None], custom_payload: Mapping[str, bytes] | None
    ) -> PreparedStatement:
        with self._prepared_lock:
            if (cached := self._prepared.get(key)) is not None and self._table_exists(cached):
                return cached
        prepared = self._driver.prepare(key[0], custom_payload=custom_payload, keyspace=key[1])
        if key[0].lstrip().upper().startswith("SELECT"):
            prepared.is_idempotent = True  # reads are safe to retry on another replica
        with self._prepared_lock:
            self._prepared[key] = prepared
            while len(self._prepared) > self._prepared_cache_size:
                self._prepared.popitem(last=False)
        return prepared

    async def _statement(self, query: Query, parameters: Parameters) -> Query:
        """Text with ``?`` or ``:name`` markers and parameters goes through the prepared cache (injection-safe).

        Text with ``%s`` / ``%(name)s`` markers keeps the driver's client-side formatting.
        """
        if isinstance(query, str) and parameters is not None and "%s" not in query and "%(" not in query:
            if "?" in query or (isinstance(parameters, Mapping) and ":" in query):
                return await self.prepare(query)
        if not isinstance(query, str | Statement | PreparedStatement):
            raise ConfigurationError(
                f"cannot execute a {type(query).__name__}: pass CQL text, a statement or a prepared statement"
            )
        return query

    def _profile(self, execution_profile: Any, row_format: RowFormat | None) -> Any:
        if row_format is None:
            return execution_profile
        key = (execution_profile, row_format)
        profile = self._profiles.get(key)
        if profile is None:
            profile = self._driver.execution_profile_clone_update(execution_profile, row_factory=row_format.factory())
            self._profiles[key] = profile
        return profile

    def _send(
        self,
        fetcher: PageFetcher,
        statement: Query,
        parameters: Parameters,
        *,
        timeout: float | Unset | None,
        execution_profile: Any,
        paging_state: bytes | None,
        fetch_size: int | None,
        trace: bool,
        custom_payload: Mapping[str, bytes] | None,
        host: Any,
        row_format: RowFormat | None,
        decoding: Any = None,
    ) -> asyncio.Future[PageData]:
        statement, parameters = self._bind(statement, parameters)
        if isinstance(statement, str) and fetch_size is not None:
            statement = SimpleStatement(statement)
        if fetch_size is not None:
            if not isinstance(fetch_size, int) or fetch_size < 1:
                raise ConfigurationError(f"fetch_size must be a positive integer, got {fetch_size!r}")
            statement.fetch_size = fetch_size
        options: dict[str, Any] = {
            "trace": trace,
            "custom_payload": custom_payload,
            "execution_profile": self._profile(execution_profile, row_format),
            "paging_state": paging_state,
            "host": host,
        }
        if timeout is not UNSET:
            options["timeout"] = timeout
        reactor = self._cluster._reactor
        if reactor is not None:
            reactor.use(asyncio.get_running_loop())
        handler = decoding or ROW_DECODING

        def send() -> Any:  # Session.execute_async, with cassnb's protocol handler for this request's pages
            response = self._driver._create_response_future(statement, parameters, **{"timeout": _NOT_SET, **options})
            if handler is not None and response.row_factory in PIECEWISE_FACTORIES:
                # Large pages arrive unparsed and are parsed on the loop a piece at a time (cassnb._bridge), so
                # the rows are shaped there too, and the driver passes them on as they come.
                fetcher.shape_rows(response.row_factory)
                response.row_factory = tuple_factory
                response._protocol_handler = handler
            else:
                response._protocol_handler = self._driver.client_protocol_handler
            self._driver._on_request(response)
            response.send_request()
            return response

        return fetcher.first(send)

    def _bind(self, statement: Query, parameters: Parameters) -> tuple[Query, Parameters]:
        return bind(statement, parameters, self._driver.encoder)

    async def execute(
        self,
        query: Query,
        parameters: Parameters = None,
        *,
        timeout: float | Unset | None = UNSET,
        execution_profile: Any = EXEC_PROFILE_DEFAULT,
        paging_state: bytes | Unset | None = UNSET,
        fetch_size: int | None = None,
        trace: bool = False,
        custom_payload: Mapping[str, bytes] | None = None,
        host: Any = None,
        row_format: RowFormat | None = None,
    ) -> AsyncResultSet:
        """Run one statement and return its rows.

        Args:
            query: CQL text, a ``SimpleStatement``, a ``PreparedStatement`` (bound with ``parameters``), a
                ``BoundStatement`` or a ``BatchStatement``. Text with ``?`` markers is prepared (and cached)
                automatically when parameters are given; text with ``%s`` markers keeps the driver's
                client-side formatting.
            parameters: a sequence (positional markers) or a mapping (named markers).
            timeout: seconds for each request to the server — each page of a multi-page result gets its own
                budget, so large results are not cut off by one overall deadline. Default: the execution
                profile's request timeout (10 s).
            paging_state: not given — every page is fetched and the result holds all rows; given (``None`` for
                the first page, or a previous result's :attr:`~AsyncResultSet.paging_state`) — exactly one page
                is fetched: manual paging. Pass a paging state back unchanged, to the same query: Cassandra
                answers a forged one with a protocol error, on which the driver drops that connection (it
                reconnects within a second or so). Services that hand paging states to clients should sign them.
            fetch_size: rows per page.
            trace: ask the server to trace the request (read it with ``await result.get_query_trace()``).
            row_format: how rows come back (default: named tuples with attribute access).

        Raises:
            InvalidQueryError, UnauthorizedError, UnavailableError, TimeoutError, ConnectionError,
            AuthenticationError, ClosedError: see :mod:`cassnb.exceptions`.
        """
        self._check_open()
        started = time.perf_counter()
        fetcher = PageFetcher()
        try:
            statement = await self._statement(query, parameters)
            page = await self._send(
                fetcher, statement, parameters, timeout=timeout, execution_profile=execution_profile,
                paging_state=None if paging_state is UNSET else paging_state, fetch_size=fetch_size,
                trace=trace, custom_payload=custom_payload, host=host, row_format=row_format,
            )  # fmt: skip
            rows = page.rows
            if paging_state is UNSET:  # every page; otherwise exactly one (manual paging)
                while (following := fetcher.following(page)) is not None:
                    page = await following
                    rows.extend(page.rows)
        except asyncio.CancelledError:
            fetcher.release()
            raise
        except Exception as exc:
            fetcher.release()
            self._metrics.failed(exc)
            raise self._error(exc, query) from None
        response = fetcher.response_future
        fetcher.release()
        self._metrics.succeeded(time.perf_counter() - started)
        # The driver's response holds the request, its query plan and connections: keep only what results use
        # (the server's warnings), and the response itself only when a trace was asked for.
        warnings = list(getattr(response, "warnings", None) or ())
        return AsyncResultSet(rows, page.column_names, page.column_types, page.next_paging_state,
                              response if trace else None, warnings=warnings)  # fmt: skip

    def execute_stream(
        self,
        query: Query,
        parameters: Parameters = None,
        *,
        stream_config: StreamConfig | None = None,
        paging_state: bytes | None = None,
        skip_rows: int = 0,
        timeout: float | Unset | None = UNSET,
        execution_profile: Any = EXEC_PROFILE_DEFAULT,
        row_format: RowFormat | None = None,
        host: Any = None,
    ) -> AwaitableContext[AsyncStreamingResultSet]:
        """Start streaming a query page by page; use as ``async with session.execute_stream(...) as rows``.

        Also works as ``stream = await session.execute_stream(...)`` (then close it) and as
        ``async with await session.execute_stream(...)``. ``paging_state`` and ``skip_rows`` resume a stream
        exactly where an earlier one stopped (see :attr:`AsyncStreamingResultSet.paging_state`). ``host`` (a
        driver ``Host``) sends every page's request to that node and no other.
        """
        return self._stream(
            query, parameters, stream_config=stream_config, paging_state=paging_state, skip_rows=skip_rows,
            timeout=timeout, execution_profile=execution_profile, row_format=row_format, host=host,
        )  # fmt: skip

    def _stream(
        self,
        query: Query,
        parameters: Parameters,
        *,
        stream_config: StreamConfig | None,
        paging_state: bytes | None,
        skip_rows: int,
        timeout: float | Unset | None,
        execution_profile: Any = EXEC_PROFILE_DEFAULT,
        row_format: RowFormat | None,
        host: Any = None,
        decoding: Any = None,
    ) -> AwaitableContext[AsyncStreamingResultSet]:
        """:meth:`execute_stream`, and for pages that become DataFrames a protocol handler of cassnb's own
        (``decoding``, see :mod:`cassnb._decode`)."""
        # A statement that carries its own page size (e.g. from create_streaming_statement) keeps it.
        own = getattr(query, "fetch_size", None)
        config = stream_config or (StreamConfig(fetch_size=own) if isinstance(own, int) and own > 0 else StreamConfig())
        if not isinstance(config, StreamConfig):
            raise ConfigurationError(f"stream_config must be a StreamConfig, got {type(config).__name__}")
        if timeout is UNSET and config.timeout is not None:
            timeout = config.timeout

        async def open_stream() -> AsyncStreamingResultSet:
            self._check_open()
            fetcher = PageFetcher()
            try:
                statement = await self._statement(query, parameters)
                first = self._send(
                    fetcher, statement, parameters, timeout=timeout, execution_profile=execution_profile,
                    paging_state=paging_state, fetch_size=config.fetch_size, trace=False, custom_payload=None,
                    host=host, row_format=row_format, decoding=decoding,
                )  # fmt: skip
            except Exception as exc:
                fetcher.release()
                self._metrics.failed(exc)
                raise self._error(exc, query) from None
            return AsyncStreamingResultSet(
                fetcher, first, config, query, start_state=paging_state, skip_rows=skip_rows,
                on_page=self._metrics.streamed, translate_error=self._error,
            )  # fmt: skip

        return AwaitableContext(open_stream)

    def stream_frames(self, query: Query, parameters: Parameters = None, **options: Any) -> frames.FrameStream:
        """Stream a query as pandas DataFrame chunks, one per page: see :func:`cassnb.frames.stream_frames`."""
        from . import frames  # pandas is imported by the first DataFrame read, not by `import cassnb`

        return frames.stream_frames(self, query, parameters, **options)

    async def query_df(self, query: Query, parameters: Parameters = None, **options: Any) -> pd.DataFrame:
        """Run a query into one DataFrame, with progress, stop and resume: see :func:`cassnb.frames.query_df`."""
        from . import frames

        return await frames.query_df(self, query, parameters, **options)

    async def execute_batch(
        self,
        statements: Iterable[Query | tuple[Query, Parameters]] | BatchStatement,
        *,
        batch_type: BatchType = BatchType.LOGGED,
        timeout: float | Unset | None = UNSET,
    ) -> AsyncResultSet:
        """Run several statements as one batch; ``?`` strings are prepared through the cache.

        ``statements`` may also be a ``BatchStatement`` built with the driver, which is run as it is.
        """
        if isinstance(statements, BatchStatement):
            return await self.execute(statements, timeout=timeout)
        batch = BatchStatement(batch_type=batch_type)
        for item in statements:
            query, parameters = item if isinstance(item, tuple) else (item, None)
            statement = await self._statement(query, parameters)
            batch.add(statement, parameters)
        return await self.execute(batch, timeout=timeout)

    async def set_keyspace(self, keyspace: str) -> None:
        """Switch the session to ``keyspace``: ``ks`` (case-insensitive) or ``"Ks"`` (exact), as CQL spells it."""
        name = parse_identifier(keyspace, "keyspace name", max_length=48)
        # Quoting the stored name keeps its meaning and lets names that are also CQL keywords (e.g. `true`) work.
        await self.execute(f"USE {quote(name)}")

    def _error(self, exc: BaseException, query: Query) -> BaseException:
        """The cassnb error for ``exc``; a lost keyspace is named instead of blaming the network.

        A session bound to a keyspace opens each connection with ``USE``: once the keyspace is dropped, every
        new connection is refused, each host is marked down, and the driver reports no host at all. The
        cluster remembers why each host was marked down (see :mod:`cassnb.cluster`), which tells the two apart.
        """
        error = translate(exc, query)
        keyspace = self._driver.keyspace
        if isinstance(exc, NoHostAvailable) and keyspace and self._cluster.keyspace_refused():
            return ConnectionError(
                f"this session's keyspace {keyspace!r} no longer exists (it was dropped), and Cassandra refuses "
                f"every new connection of a session bound to it (while running: {describe_statement(query)}); "
                "create the keyspace again (the session then recovers within seconds), or open a session "
                "without it"
            )
        return error

    # ------------------------------------------------------------------ lifecycle
    def _check_open(self) -> None:
        if self._closed:
            raise ClosedError("this session is closed; open a new one with `await cluster.connect()`")
        if self._cluster.is_closed:
            raise ClosedError("the cluster of this session was shut down; create a new AsyncCluster")

    async def close(self) -> None:
        """Close the session's connections. Idempotent."""
        if self._closed:
            return
        self._closed = True
        await asyncio.to_thread(self._driver.shutdown)
        if self._owns_cluster:
            await self._cluster.shutdown()

    async def __aenter__(self) -> AsyncSession:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        state = "closed" if self.is_closed else "open"
        return f"<AsyncSession {state} keyspace={self.keyspace!r} hosts={self._cluster.contact_points}>"
