"""How results look in a notebook: a table of the first rows, one status line, a trace, CQL text.

Every view has ``__repr__`` (terminals, logs, ``text/plain``) and, where a table or CQL reads better in HTML,
``_repr_html_``. A table view renders only the rows it shows and says in its footer what it left out:

* ``3 rows`` — everything is shown;
* ``first 10 of 25 rows shown`` — all rows were fetched (and are in ``--out``), the display stops at
  ``displaylimit``;
* ``first 10 rows shown — more on the server`` — the read stopped early (``--limit``, ``autolimit``).

Cell values are HTML-escaped: text from the database never becomes markup.
"""

from __future__ import annotations

import html
import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..exceptions import describe_statement

if TYPE_CHECKING:
    import pandas as pd

    from ._run import Outcome, TraceSummary


def plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def footer(shown: int, fetched: int, more_on_server: bool) -> str:
    """The line under a table, saying how much of the result is on screen."""
    if more_on_server:
        fetched_note = f" ({fetched:,} fetched)" if fetched > shown else ""
        return f"first {plural(shown, 'row')} shown{fetched_note} — more on the server"
    if shown < fetched:
        return f"first {shown:,} of {plural(fetched, 'row')} shown"
    return plural(fetched, "row")


class RowsView:
    """The first ``displaylimit`` rows of a result (0: all of them) and a footer."""

    def __init__(self, frame: pd.DataFrame, displaylimit: int, more_on_server: bool = False) -> None:
        self.frame = frame
        self.displaylimit = displaylimit
        self.more_on_server = more_on_server

    @property
    def shown(self) -> pd.DataFrame:
        limit = self.displaylimit
        return self.frame if not limit or len(self.frame) <= limit else self.frame.head(limit)

    @property
    def footer(self) -> str:
        return footer(len(self.shown), len(self.frame), self.more_on_server)

    def _repr_html_(self) -> str:
        table = self.shown.to_html(notebook=True, max_rows=None, max_cols=None, show_dimensions=False)
        return f"<div>{table}<p><small>{html.escape(self.footer)}</small></p></div>"

    def __repr__(self) -> str:
        shown = self.shown
        body = shown.to_string(max_rows=None, max_cols=None) if len(shown.columns) else "(no columns)"
        return f"{body}\n{self.footer}"


class StreamPreview(RowsView):
    """The live preview of a stream: its first rows and how far the read has got."""

    def __init__(self, frame: pd.DataFrame, displaylimit: int, rows: int, pages: int) -> None:
        super().__init__(frame, displaylimit)
        self.rows = rows
        self.pages = pages

    @property
    def footer(self) -> str:
        return (
            f"first {plural(len(self.shown), 'row')} · {plural(self.rows, 'row')} · {plural(self.pages, 'page')} so far"
        )


def _cell(value: object) -> str:
    return repr(value) if isinstance(value, str) else str(value)


class StatusLine:
    """One line for a statement that returns no rows, or for a lightweight transaction's ``[applied]``."""

    def __init__(self, text: str) -> None:
        self.text = text

    @classmethod
    def for_outcome(cls, outcome: Outcome) -> StatusLine:
        preview = describe_statement(outcome.statement)
        applied = outcome.applied
        if applied is None:
            return cls(f"{preview} — OK")
        frame = outcome.frame
        assert frame is not None  # an [applied] column means there is a frame
        details = ""
        if not applied and len(frame.columns) > 1:
            first = frame.iloc[0]
            values = ", ".join(f"{name}={_cell(first[name])}" for name in frame.columns[1:])
            details = f" (current: {values})"
        if len(frame) > 1:
            details += f" (+{plural(len(frame) - 1, 'more row')})"
        return cls(f"{preview} — [applied] {applied}{details}")

    def __repr__(self) -> str:
        return self.text


class TraceView:
    """``--tracing``: the coordinator, the duration and each event of the server's trace."""

    def __init__(self, trace: TraceSummary) -> None:
        self.trace = trace

    @property
    def header(self) -> str:
        trace = self.trace
        duration = "unknown" if trace.duration_us is None else f"{trace.duration_us / 1000:.3f} ms"
        return (
            f"trace {trace.trace_id}: coordinator {trace.coordinator}, duration {duration}, "
            f"{plural(len(trace.events), 'event')}"
        )

    @property
    def settings(self) -> str:
        """The parameters the server recorded for the request (consistency, page size, ...), but the query."""
        parameters = self.trace.parameters
        return ", ".join(f"{name}={parameters[name]}" for name in sorted(parameters) if name != "query")

    def _rows(self) -> Iterable[tuple[str, str, str, str]]:
        for event in self.trace.events:
            elapsed = "" if event.elapsed_us is None else f"{event.elapsed_us:,}"
            yield elapsed, event.source, event.thread, event.description

    def _repr_html_(self) -> str:
        cells = "".join(
            "<tr>" + "".join(f"<td>{html.escape(value)}</td>" for value in row) + "</tr>" for row in self._rows()
        )
        head = "".join(f"<th>{name}</th>" for name in ("elapsed (µs)", "source", "thread", "event"))
        return (
            f"<details open><summary>{html.escape(self.header)}</summary>"
            f"<p><small>{html.escape(self.settings)}</small></p><table><thead><tr>{head}</tr></thead><tbody>{cells}</tbody></table></details>"
        )

    def __repr__(self) -> str:
        lines = [self.header, f"  {self.settings}"]
        for elapsed, source, thread, description in self._rows():
            lines.append(f"  {elapsed:>10} µs  {source}  {thread}  {description}")
        return "\n".join(lines)


class CqlText:
    """Schema as CQL (``%cql describe``), shown as preformatted text."""

    def __init__(self, text: str) -> None:
        self.text = text

    def _repr_html_(self) -> str:
        return f'<pre><code class="language-sql">{html.escape(self.text)}</code></pre>'

    def __repr__(self) -> str:
        return self.text


def describe_view(frame: pd.DataFrame) -> CqlText:
    """Show a server-side ``DESCRIBE``: its CQL when it returns statements, else the names by keyspace."""
    if frame.empty:
        return CqlText("-- nothing to describe")
    if "create_statement" in frame.columns:
        return CqlText("\n\n".join(str(statement) for statement in frame["create_statement"]))
    groups: dict[str, list[str]] = {}
    for keyspace, name in zip(frame["keyspace_name"], frame["name"], strict=True):
        groups.setdefault(str(keyspace), []).append(str(name))
    if all(names == [keyspace] for keyspace, names in groups.items()):  # DESCRIBE KEYSPACES
        return CqlText("\n".join(groups))
    return CqlText("\n".join(f"{keyspace}: {' '.join(names)}" for keyspace, names in groups.items()))


def views_for(outcome: Outcome, displaylimit: int) -> list[Any]:
    """What to display for one statement: its rows or status line, then its trace and server warnings."""
    views: list[Any] = []
    if outcome.frame is None or outcome.applied is not None:
        views.append(StatusLine.for_outcome(outcome))
    else:
        views.append(RowsView(outcome.frame, displaylimit, outcome.more_on_server))
    if outcome.trace is not None:
        views.append(TraceView(outcome.trace))
    views += [StatusLine(f"server warning: {warning}") for warning in outcome.warnings]
    return views


def wants_live_preview(mode: str) -> bool:
    """Whether ``CqlMagic.progress`` asks for a live stream preview: ``widget``, or ``auto`` in a kernel.

    A preview is a display that is updated in place, which only a notebook frontend can show; a terminal
    would print every update. ``static`` (what nbval and nbconvert runs set through ``CASSNB_PROGRESS``),
    ``text`` and ``off`` never preview, so saved notebooks hold only the final table.
    """
    if mode == "auto":
        from ..progress import ENV_VAR

        mode = os.environ.get(ENV_VAR, "").strip().lower() or "auto"
    if mode != "auto":
        return mode == "widget"
    from IPython import get_ipython

    shell = get_ipython()
    return shell is not None and any(cls.__name__ == "ZMQInteractiveShell" for cls in type(shell).__mro__)
