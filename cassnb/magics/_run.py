"""Run the statements of one cell: plan them, bind ``:name`` values, fetch pages, read traces.

Planning happens before anything is sent: the cell is split into statements, ``:name`` markers become ``?``
and every name is looked up, so a typo in the last statement stops the cell before the first one runs.

Each statement is then sent as a ``SimpleStatement`` (no markers) or a prepared and bound statement
(markers: the values travel as real bound parameters and are never written into the CQL text). Rows are
fetched page by page with the driver's paging state: that is what makes ``--limit`` stop early, lets a
progress display follow the read, and keeps an interrupt responsive.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from cassandra.query import SimpleStatement

from .._cqltext import bind_named_markers, resolve_parameters, split_statements
from ..exceptions import CassnbError, ConfigurationError
from ..exports._parse import bindable
from ..frames import ATTRS_KEY, FrameInfo
from ..options import UNSET, Consistency, RowFormat, _Unset
from ..progress import StopSignal

if TYPE_CHECKING:
    import pandas as pd

    from ..session import AsyncSession


class BindError(ConfigurationError):
    """The notebook values do not fit the statement's markers (wrong type or count)."""


@dataclass(frozen=True)
class Planned:
    """One statement of a cell, ready to send: ``text`` has ``?`` markers, ``values`` their Python values."""

    source: str
    text: str
    names: tuple[str, ...]
    values: tuple[object, ...]


def plan_cell(cell: str, namespace: Mapping[str, object]) -> list[Planned]:
    """Split ``cell`` and bind its markers to ``namespace``.

    Raises:
        CqlSyntaxError: a literal or comment is not closed, or ``?`` and ``:name`` are mixed.
        UnknownVariableError: a ``:name`` has no variable (all missing names are listed).
    """
    planned = []
    for source in split_statements(cell):
        bound = bind_named_markers(source)
        values = tuple(resolve_parameters(bound, namespace))
        planned.append(Planned(source, bound.text, bound.names, values))
    return planned


@dataclass(frozen=True)
class RunOptions:
    """Per-run settings of ``%%cql``; ``None`` means "the session's default"."""

    consistency: Consistency | None = None
    serial_consistency: Consistency | None = None
    fetch_size: int = 5000
    limit: int | None = None
    timeout: float | _Unset | None = UNSET
    tracing: bool = False
    keyspace: str | None = None

    def __post_init__(self) -> None:
        if self.fetch_size < 1:
            raise ConfigurationError(
                f"the fetch size must be a positive number of rows, got {self.fetch_size}"
            )
        if self.limit is not None and self.limit < 1:
            raise ConfigurationError(f"--limit must be a positive number of rows, got {self.limit}")
        if isinstance(self.timeout, float | int) and self.timeout <= 0:
            raise ConfigurationError(f"--timeout must be positive seconds, got {self.timeout}")
        serial = self.serial_consistency
        if serial is not None and serial not in (Consistency.SERIAL, Consistency.LOCAL_SERIAL):
            raise ConfigurationError(
                f"--serial-consistency must be SERIAL or LOCAL_SERIAL, got {serial.name}"
            )


class PageWatch:
    """Shared by the runner thread (which counts) and the magic's thread (progress, preview, interrupts).

    ``streaming`` says whether the read is a stream (``--stream``, or past ``stream_threshold``): an interrupt
    then stops it after the current page instead of cancelling it. ``head`` holds the first rows of a
    stream, for the live preview. ``stop`` is the signal the reads check between pages.
    """

    def __init__(self) -> None:
        self.rows = 0
        self.pages = 0
        self.streaming = False
        self.head: pd.DataFrame | None = None
        self.stop = StopSignal()

    def page(self, rows: int) -> None:
        self.rows, self.pages = self.rows + rows, self.pages + 1

    def request_stop(self) -> None:
        self.stop.set()

    @property
    def stop_requested(self) -> bool:
        return self.stop.is_set()

    def relay(self) -> WatchRelay:
        """A progress reporter for ``frames.query_df`` / ``frames.more`` that adds to the counts so far."""
        return WatchRelay(self, self.rows, self.pages)


class WatchRelay:
    """A :class:`~cassnb.progress.ProgressReporter` that only counts, into a :class:`PageWatch`.

    The frames functions call it on the runner thread; everything visible happens on the magic's thread,
    which reads the watch. The stop request travels through ``stop=``, so ``stop_requested`` stays False.
    """

    def __init__(self, watch: PageWatch, rows: int, pages: int) -> None:
        self._watch, self._rows, self._pages = watch, rows, pages

    def start(self, description: str) -> None:
        pass

    def update(self, rows: int, pages: int, detail: str = "") -> None:
        self._watch.rows, self._watch.pages = self._rows + rows, self._pages + pages

    def finish(self) -> None:
        pass

    def fail(self, reason: str) -> None:
        pass

    @property
    def stop_requested(self) -> bool:
        return False


@dataclass(frozen=True)
class TraceEvent:
    elapsed_us: int | None
    source: str
    thread: str
    description: str


@dataclass(frozen=True)
class TraceSummary:
    """What ``--tracing`` shows: the server's trace session, as plain values."""

    trace_id: str
    coordinator: str
    duration_us: int | None
    request: str
    parameters: dict[str, str]
    events: tuple[TraceEvent, ...]


@dataclass(frozen=True)
class Handoff:
    """Where a read that passed the stream threshold stopped, so a stream can take over from there."""

    page_size: int
    paging_state: bytes
    pages: int
    elapsed: float


@dataclass
class Outcome:
    """The result of one statement: ``frame`` is ``None`` when the statement returns no rows (DDL, DML).

    ``handoff`` is set when the read stopped at the stream threshold with rows left on the server.
    """

    statement: str
    frame: pd.DataFrame | None
    more_on_server: bool = False
    trace: TraceSummary | None = None
    warnings: list[str] = field(default_factory=list)
    handoff: Handoff | None = None

    @property
    def applied(self) -> bool | None:
        """For lightweight transactions (a leading ``[applied]`` column), whether the change was made."""
        frame = self.frame
        if frame is None or len(frame.columns) == 0 or frame.columns[0] != "[applied]" or len(frame) == 0:
            return None
        return bool(frame.iloc[0, 0])


async def build_statement(session: AsyncSession, planned: Planned, options: RunOptions) -> Any:
    """The driver statement for ``planned``: a ``SimpleStatement``, or a prepared statement bound to values.

    Raises:
        BindError: the values do not fit the prepared statement.
    """
    if not planned.names:
        return SimpleStatement(
            planned.text, consistency_level=options.consistency,
            serial_consistency_level=options.serial_consistency, keyspace=options.keyspace,
        )  # fmt: skip
    prepared = await session.prepare(planned.text, keyspace=options.keyspace)
    columns = prepared.column_metadata
    if len(columns) != len(planned.values):
        raise BindError(f"the statement has {len(columns)} markers, the cell binds {len(planned.values)} values")
    pairs = zip(planned.names, planned.values, columns, strict=True)
    values = [_bind(name, value, column.type) for name, value, column in pairs]
    try:
        bound = prepared.bind(values)
    except Exception as exc:  # the driver raises TypeError, ValueError, struct.error, ... for bad values
        markers = ", ".join(f":{name}" for name in dict.fromkeys(planned.names))
        raise BindError(f"the values of {markers} do not fit the statement: {exc}") from exc
    if options.consistency is not None:
        bound.consistency_level = options.consistency
    if options.serial_consistency is not None:
        bound.serial_consistency_level = options.serial_consistency
    return bound


def _bind(name: str, value: object, cql_type: Any) -> Any:
    """``:name``'s value as its marker's CQL type takes it (see ``bindable``), or a BindError saying why not."""
    try:
        return bindable(cql_type)(value)
    except (TypeError, ValueError, OverflowError) as exc:
        shown = repr(value)
        shown = shown if len(shown) <= 40 else shown[:37] + "..."
        raise BindError(
            f":{name} is bound to a marker of CQL type {cql_type.cql_parameterized_type()} but holds "
            f"{type(value).__name__} {shown} "
            f"({exc}); give it a value of that type"
        ) from None


def _microseconds(delta: Any) -> int | None:
    return None if delta is None else int(delta.total_seconds() * 1_000_000)


async def _trace(result: Any) -> TraceSummary:
    trace = await result.get_query_trace()
    events = tuple(
        TraceEvent(
            _microseconds(event.source_elapsed),
            str(event.source),
            str(event.thread_name or ""),
            str(event.description),
        )
        for event in trace.events or ()
    )
    duration = _microseconds(trace.duration)
    parameters = {str(k): str(v) for k, v in (trace.parameters or {}).items()}
    return TraceSummary(
        str(trace.trace_id),
        str(trace.coordinator),
        duration,
        str(trace.request_type or ""),
        parameters,
        events,
    )


async def run_statement(
    session: AsyncSession,
    planned: Planned,
    options: RunOptions,
    watch: PageWatch | None = None,
    *,
    stream_after: int | None = None,
) -> Outcome:
    """Send one planned statement and collect its rows (at most ``options.limit``).

    With ``stream_after``, a read that has that many rows while more remain on the server stops at the page
    boundary and returns them with a :class:`Handoff` (see :mod:`cassnb.magics._stream`).

    Raises:
        CassnbError: anything the server or driver reported, translated (see :mod:`cassnb.exceptions`).
        BindError: the values do not fit the prepared statement.
    """
    watch = watch or PageWatch()
    started = time.perf_counter()
    statement = await build_statement(session, planned, options)
    limit = options.limit
    page_size = options.fetch_size if limit is None else min(options.fetch_size, limit)
    rows: list[Any] = []
    result = await session.execute(
        statement, timeout=options.timeout, paging_state=None, fetch_size=page_size, trace=options.tracing,
        row_format=RowFormat.TUPLE,
    )  # fmt: skip
    trace = await _trace(result) if options.tracing else None
    columns, types, warnings = result.column_names, result.column_types, result.warnings
    rows.extend(result)
    watch.page(len(result))
    state = result.paging_state
    while state is not None and (limit is None or len(rows) < limit) and not watch.stop_requested:
        handoff = Handoff(page_size, state, watch.pages, time.perf_counter() - started)
        if stream_after is not None and len(rows) >= stream_after:
            so_far = _frame(rows, columns, types)
            return Outcome(planned.source, so_far, True, trace, list(dict.fromkeys(warnings)), handoff)
        try:
            result = await session.execute(
                statement, timeout=options.timeout, paging_state=state, fetch_size=page_size,
                row_format=RowFormat.TUPLE,
            )  # fmt: skip
        except CassnbError as exc:
            if stream_after is not None:  # a read that could have streamed can be resumed: keep its rows
                exc.partial = resumable(_frame(rows, columns, types), planned, handoff)
            raise
        rows.extend(result)
        watch.page(len(result))
        warnings += result.warnings
        state = result.paging_state
    more = False
    if limit is not None and len(rows) > limit:
        rows, more = rows[:limit], True
    elif state is not None:
        # Cassandra may hand out a paging state for a page that turns out empty: look one row ahead.
        probe = await session.execute(
            statement, timeout=options.timeout, paging_state=state, fetch_size=1, row_format=RowFormat.TUPLE
        )
        more = len(probe) > 0 or probe.paging_state is not None
    frame = _frame(rows, columns, types) if columns else None
    return Outcome(planned.source, frame, more, trace, list(dict.fromkeys(warnings)))


def resumable(frame: pd.DataFrame, planned: Planned, handoff: Handoff) -> pd.DataFrame:
    """Mark the rows of a read cut off at a page boundary with a FrameInfo there, so ``frames.more`` resumes it."""
    info = FrameInfo(
        query=planned.text, params=planned.values or None, fetch_size=handoff.page_size, rows=len(frame),
        pages=handoff.pages, complete=False, paging_state=handoff.paging_state, skip_rows=0,
        elapsed=round(handoff.elapsed, 6), origin="",  # no origin: frames.more is given the session
    )  # fmt: skip
    frame.attrs[ATTRS_KEY] = asdict(info)
    return frame


def _frame(rows: list[Any], columns: list[str], types: list[Any]) -> pd.DataFrame:
    from ..result import AsyncResultSet

    return AsyncResultSet(rows, columns, types).to_dataframe()
