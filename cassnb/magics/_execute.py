"""One ``%%cql`` cell from start to end: its statements in order, each read or run, and shown.

Everything here is one coroutine that reaches the server only through its host (see :mod:`._host`), so
the same code runs awaited on the kernel's loop and blocking on the runner.

Every SELECT (without ``--tracing``) is read through :func:`cassnb.frames.query_df`, page by page: a Stop,
an interrupt or a failure part-way keeps the rows fetched, marked incomplete, where ``%cql more`` continues
them. Other statements (DML, DDL, ``USE``, server-side ``DESCRIBE``) run with ``session.execute``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError

from .._atomic import TargetExistsError
from .._cqltext import CqlSyntaxError, UnknownVariableError, first_keyword
from ..exceptions import CassnbError
from ..exports import ExportReport, export
from ..frames import frame_info, more, query_df
from ..options import UNSET, RowFormat
from ..progress import ProgressReporter, StopSignal
from ._display import views_for
from ._host import LoopHost, Read, RunnerHost
from ._ipython import display
from ._progress import CellProgress
from ._run import Outcome, Planned, RunOptions, build_statement, plan_cell, trace_summary

if TYPE_CHECKING:
    import pandas as pd

    from ._connections import Connection
    from ._magic import CqlMagic

Host = LoopHost | RunnerHost


#: In a cell's error line the statement is right above it: a short preview is enough to tell which one.
STATEMENT_IN_LINE = 60


def one_line(error: BaseException) -> str:
    """An error as one line; a server's refusal is named by its class (``InvalidQueryError: ...``)."""
    text = " ".join(str(error).split())
    statement = getattr(error, "statement", None)
    if isinstance(error, CassnbError) and statement and len(statement) > STATEMENT_IN_LINE:
        short = statement[: STATEMENT_IN_LINE - 1].rstrip() + "…"
        text = text.replace(f"(while running: {statement})", f"(while running: {short})")
    if isinstance(error, CassnbError) and getattr(error, "server_message", None) is not None:
        return f"{type(error).__name__}: {text}"
    return text


@contextlib.contextmanager
def usage_errors(prefix: str = "") -> Iterator[None]:
    """Turn the user's mistakes and the server's refusals into one clean ``UsageError`` line."""
    try:
        yield
    except (CassnbError, CqlSyntaxError, UnknownVariableError) as exc:
        raise UsageError(prefix + one_line(exc)) from None


@dataclass
class Cell:
    """A parsed ``%%cql`` cell (or ``%cql`` line): what to run, where, with which options."""

    text: str
    namespace: Mapping[str, Any]
    connection: Connection
    options: RunOptions
    out: str | None = None
    line_mode: bool = False
    stream: bool = False
    export: str | None = None
    overwrite: bool = False
    planned: list[Planned] = field(default_factory=list)


def progress_for(magic: CqlMagic, host: Host, *, stream: bool, variable: str | None,
                 head: pd.DataFrame | None = None, hints: dict[str, str] | None = None) -> CellProgress:  # fmt: skip
    """The display of one read: previews when streamed (``--stream``, or past ``stream_threshold`` rows)."""
    from ._display import wants_live_preview

    preview_rows = (magic.displaylimit or 10) if wants_live_preview(magic.progress) else 0
    threshold = magic.stream_threshold or None
    progress = CellProgress(
        magic.progress, preview_rows=preview_rows, preview_after=0 if stream else threshold, variable=variable,
        stop_button=host.awaits, head=head,
    )  # fmt: skip
    if hints is not None:
        progress.hints = hints
    return progress


async def run(magic: CqlMagic, host: Host, cell: Cell) -> pd.DataFrame | None:
    """Run every statement of ``cell``, show each result, and return the line form's last table."""
    planned = plan_cell(cell.text, cell.namespace)
    if not planned:
        raise UsageError("there is no CQL to run (see %cql? for the commands and options)")
    if cell.export is not None:
        await _export(magic, host, cell, planned)
        return None
    outcome: Outcome | None = None
    returned = False
    for index, item in enumerate(planned, 1):
        prefix = f"statement {index} of {len(planned)}: " if len(planned) > 1 else ""
        with usage_errors(prefix):
            try:
                outcome = await _statement(magic, host, cell, item)
            except CassnbError as exc:
                if exc.partial is None:
                    raise
                raise UsageError(prefix + _keep_partial(magic, exc, cell)) from None
        if outcome.frame is not None and outcome.resumable:
            magic.results[cell.connection.name] = Remembered(outcome.frame)
        # The line form returns its last table instead of displaying it (IPython shows it as Out[]).
        returned = cell.line_mode and index == len(planned) and outcome.frame is not None and outcome.applied is None
        views = views_for(outcome, magic.displaylimit)
        first, rest = views[0], views[1:]
        if returned:
            outcome.retire()
        else:
            outcome.show(first)
        for view in rest:
            display(view)
    assert outcome is not None
    if cell.out is not None:
        _store(magic, cell, outcome.frame)
    return outcome.frame if returned else None


def _store(magic: CqlMagic, cell: Cell, frame: pd.DataFrame | None) -> None:
    import pandas as pd

    assert magic.shell is not None
    magic.shell.user_ns[cell.out] = frame if frame is not None else pd.DataFrame()
    remembered = magic.results.get(cell.connection.name)
    if remembered is not None and remembered.frame is frame:
        remembered.variable = cell.out


def _keep_partial(magic: CqlMagic, exc: CassnbError, cell: Cell) -> str:
    """A read failed part-way: keep its rows where ``%cql more`` finds them; the one-line message."""
    partial = exc.partial
    magic.results[cell.connection.name] = Remembered(partial, cell.out)
    if cell.out is not None:
        assert magic.shell is not None
        magic.shell.user_ns[cell.out] = partial
    rows = frame_info(partial).rows
    where = f"in {cell.out}" if cell.out is not None else "by the connection"
    again = f"%cql more {cell.out}" if cell.out is not None else "%cql more"
    return (
        f"{one_line(exc)} — the {rows:,} rows fetched before the error are kept {where} (incomplete): "
        f"`{again}` continues from there once the server answers again"
    )


@dataclass
class Remembered:
    """The latest read of a connection, for ``%cql more``; ``variable`` is its ``--out`` name."""

    frame: pd.DataFrame
    variable: str | None = None


# ----------------------------------------------------------------------------------------- one statement
async def _statement(magic: CqlMagic, host: Host, cell: Cell, planned: Planned) -> Outcome:
    session, options = cell.connection.session, cell.options
    statement = await host.call(build_statement(session, planned, options))
    if first_keyword(planned.text) != "SELECT" or options.tracing:
        limited = options.limit is not None  # one page of --limit rows; otherwise every page
        result = await host.call(session.execute(
            statement, timeout=options.timeout, trace=options.tracing, row_format=RowFormat.TUPLE,
            paging_state=None if limited else UNSET,
            fetch_size=min(options.fetch_size, options.limit) if options.limit else options.fetch_size,
        ))  # fmt: skip
        trace = await host.call(trace_summary(result)) if options.tracing else None
        frame = result.to_dataframe() if result.column_names else None
        return Outcome(planned.source, frame, result.paging_state is not None, trace, result.warnings)
    progress = progress_for(magic, host, stream=cell.stream, variable=cell.out)

    async def start(reporter: ProgressReporter, stop: StopSignal) -> pd.DataFrame:
        return await query_df(
            session, statement, fetch_size=options.fetch_size, max_rows=options.limit, progress=reporter,
            stop=stop, timeout=options.timeout, on_chunk=getattr(reporter, "on_chunk", None),
        )  # fmt: skip

    frame = await host.read(Read(start, progress))
    info = frame_info(frame)
    return Outcome(planned.source, frame, not info.complete, None, list(info.warnings), progress=progress,
                   resumable=True)  # fmt: skip


# ----------------------------------------------------------------------------------------- the others
async def _export(magic: CqlMagic, host: Host, cell: Cell, planned: list[Planned]) -> None:
    """``--export PATH``: stream the cell's one SELECT into a file, with the magic's progress display."""
    if len(planned) != 1 or first_keyword(planned[0].text) != "SELECT":
        raise UsageError("--export needs a cell with exactly one SELECT statement")
    assert cell.export is not None
    session, options, path = cell.connection.session, cell.options, cell.export
    nothing = f"nothing was written to {path} (an export is written whole or not at all); run the cell again"
    hints = {"stopped": nothing, "interrupted": nothing}
    progress = progress_for(magic, host, stream=False, variable=None, hints=hints)

    async def start(reporter: ProgressReporter, stop: StopSignal) -> ExportReport:
        statement = await build_statement(session, planned[0], options)
        return await export(
            session, statement, path, fetch_size=options.fetch_size, progress=reporter, overwrite=cell.overwrite,
            timeout=options.timeout,
        )  # fmt: skip

    try:
        with usage_errors():
            report = await host.read(Read(start, progress))
    except TargetExistsError as exc:
        text = f"{path} already exists; add --overwrite to replace it" if exc.replaceable else str(exc)
        raise UsageError(text) from None
    except (OSError, ValueError, TypeError) as exc:  # nothing was left at the target
        raise UsageError(one_line(exc)) from None
    print(report if report.stopped else f"exported {report}")


async def continue_frame(
    magic: CqlMagic, host: Host, frame: pd.DataFrame, session: Any, *, max_rows: int | None, variable: str | None
) -> tuple[pd.DataFrame, CellProgress]:
    """``%cql more``: fetch the rest of ``frame`` (at most ``max_rows`` rows), with progress and a Stop.

    Returns the longer frame and the read's display (whose preview the caller replaces by the table).
    """
    progress = progress_for(magic, host, stream=True, variable=variable, head=frame)
    progress.rows, progress.pages = len(frame), frame_info(frame).pages

    async def start(reporter: ProgressReporter, stop: StopSignal) -> pd.DataFrame:
        return await more(frame, session, max_rows=max_rows, progress=_Offset(reporter, len(frame), progress.pages),
                          stop=stop, on_chunk=getattr(reporter, "on_chunk", None))  # fmt: skip

    return await host.read(Read(start, progress)), progress


class _Offset:
    """A reporter for ``more``: adds the rows and pages the frame already had, so the counts read as totals."""

    def __init__(self, reporter: ProgressReporter, rows: int, pages: int) -> None:
        self.reporter, self.rows, self.pages = reporter, rows, pages
        self.on_chunk = getattr(reporter, "on_chunk", None)

    def start(self, description: str) -> None:
        self.reporter.start(description)

    def update(self, rows: int, pages: int, detail: str = "") -> None:
        self.reporter.update(self.rows + rows, self.pages + pages, detail)

    def finish(self) -> None:
        self.reporter.finish()

    def fail(self, reason: str) -> None:
        self.reporter.fail(reason)

    @property
    def stop_requested(self) -> bool:
        return self.reporter.stop_requested
