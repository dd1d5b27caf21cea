"""The parts of running one statement: planning a cell, binding ``:name`` values, reading the trace.

Planning happens before anything is sent: the cell is split into statements, ``:name`` markers become ``?``
and every name is looked up, so a typo in the last statement stops the cell before the first one runs.

Each statement is then sent as a ``SimpleStatement`` (no markers) or a prepared and bound statement
(markers: the values travel as real bound parameters and are never written into the CQL text); how it is
read and shown is :mod:`cassnb.magics._execute`'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cassandra.query import SimpleStatement

from .._cqltext import bind_named_markers, resolve_parameters, split_statements
from .._types import bindable
from ..exceptions import ConfigurationError
from ..options import UNSET, Consistency, Unset
from ._ipython import display

if TYPE_CHECKING:
    import pandas as pd

    from ..session import AsyncSession
    from ._progress import CellProgress


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
    timeout: float | Unset | None = UNSET
    tracing: bool = False
    keyspace: str | None = None

    def __post_init__(self) -> None:
        if self.fetch_size < 1:
            raise ConfigurationError(f"the fetch size must be a positive number of rows, got {self.fetch_size}")
        if self.limit is not None and self.limit < 1:
            raise ConfigurationError(f"--limit must be a positive number of rows, got {self.limit}")
        if isinstance(self.timeout, float | int) and self.timeout <= 0:
            raise ConfigurationError(f"--timeout must be positive seconds, got {self.timeout}")
        serial = self.serial_consistency
        if serial is not None and serial not in (Consistency.SERIAL, Consistency.LOCAL_SERIAL):
            raise ConfigurationError(f"--serial-consistency must be SERIAL or LOCAL_SERIAL, got {serial.name}")


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


@dataclass
class Outcome:
    """The result of one statement: ``frame`` is ``None`` when the statement returns no rows (DDL, DML).

    ``progress`` is the read's display (a SELECT's); ``resumable`` says ``%cql more`` can continue ``frame``.
    """

    statement: str
    frame: pd.DataFrame | None
    more_on_server: bool = False
    trace: TraceSummary | None = None
    warnings: list[str] = field(default_factory=list)
    progress: CellProgress | None = None
    resumable: bool = False

    @property
    def applied(self) -> bool | None:
        """For lightweight transactions (a leading ``[applied]`` column), whether the change was made."""
        frame = self.frame
        if frame is None or len(frame.columns) == 0 or frame.columns[0] != "[applied]" or len(frame) == 0:
            return None
        return bool(frame.iloc[0, 0])

    def show(self, view: Any) -> None:
        """Show the statement's result: where its read's preview was, or as a new output."""
        if self.progress is not None:
            self.progress.show(view)
        else:
            display(view)

    def retire(self) -> None:
        """The result is returned rather than shown: a preview still on screen becomes a one-line summary."""
        if self.progress is not None and self.frame is not None:
            self.progress.retire(f"{len(self.frame):,} rows fetched")


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


async def trace_summary(result: Any) -> TraceSummary:
    """The server's trace of ``result`` (run with ``trace=True``) as plain values."""
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
