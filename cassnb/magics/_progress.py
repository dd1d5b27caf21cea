"""What a ``%%cql`` read shows while it runs, and what it leaves behind.

:class:`CellProgress` is the progress reporter of one read in a cell. It shows nothing for a read of one
page, so small results stay uncluttered (the rule does not depend on timing, so executed notebooks show the
same outputs on every run). From the second page on it shows the reporter ``CqlMagic.progress`` asks for (a
widget bar with a Stop button in a notebook), and for a streamed read (``--stream``, or past
``CqlMagic.stream_threshold`` rows) a live preview of the first rows under it. When the read ends the bar is
replaced in place by its static summary, and the result table takes the preview's place.

The hints after "stopped" name what the user has: ``%cql more VAR`` for the ``--out`` variable, else
``%cql more``, which continues the connection's latest result; both work in a notebook that only uses
magics.

:class:`Counter` is the stand-in a read gets on the runner thread (see :mod:`cassnb.magics._host`): it only
counts, and the magic's thread draws from it with :meth:`CellProgress.follow`.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ..progress import NullProgress, ProgressReporter, StopSignal, choose_progress
from ._display import StreamPreview
from ._ipython import DisplayHandle, display, display_handle

if TYPE_CHECKING:
    import pandas as pd

PREVIEW_INTERVAL = 0.25  # seconds between redraws of a live preview


def more_hints(variable: str | None) -> dict[str, str]:
    """The end hints of a read whose frame is kept in ``variable`` (None: only by the connection)."""
    command = f"%cql more {variable}" if variable else "%cql more"
    kept = f"the rows so far are in {variable}" if variable else "the rows so far are kept"
    hint = f"{kept} (incomplete): `{command}` continues"
    return {"stopped": hint, "interrupted": hint}


class Counter(NullProgress):
    """Counts a read's progress on the runner thread, for :meth:`CellProgress.follow` to draw elsewhere."""

    def __init__(self, stop: StopSignal) -> None:
        super().__init__(stop)  # stop_requested follows the read's signal (an interrupt sets it)
        self.started = False
        self.outcome: str | None = None  # "done" or a failure reason, once the read ended
        self.chunks: list[pd.DataFrame] = []
        self.chunk_rows = 0

    def start(self, description: str) -> None:
        super().start(description)
        self.started = True

    def finish(self) -> None:
        self.outcome = self.outcome or "done"

    def fail(self, reason: str) -> None:
        self.outcome = self.outcome or reason

    def on_chunk(self, chunk: pd.DataFrame) -> None:
        if self.chunk_rows < 1000:  # enough for any preview
            self.chunks.append(chunk)
            self.chunk_rows += len(chunk)


class CellProgress:
    """The progress display of one read in a cell (see the module docstring).

    Args:
        mode: ``CqlMagic.progress`` (auto, widget, text, static, off).
        preview_rows: rows in a live preview (0: no preview); only where the display can be updated in place.
        preview_after: show the preview once this many rows have arrived (0: from the first page).
        variable: the ``--out`` variable, for the hints.
        stop_button: whether a click can reach the kernel (the cell awaits); else the widget says to interrupt.
        head: rows already there (``%cql more``), shown first in a preview.
    """

    def __init__(
        self,
        mode: str,
        *,
        preview_rows: int = 0,
        preview_after: int | None = None,
        variable: str | None = None,
        stop_button: bool = True,
        head: pd.DataFrame | None = None,
    ) -> None:
        self.mode = mode
        self.stop = StopSignal()
        self.rows = self.pages = 0
        self.detail = ""
        self.description = ""
        self._preview_rows = preview_rows
        self._preview_after = preview_after
        self.hints = more_hints(variable)
        self._stop_button = stop_button
        self._head = head
        self._chunks: list[pd.DataFrame] = []
        self._reporter: ProgressReporter | None = None
        self._preview: DisplayHandle | None = None
        self._drawn_at = float("-inf")
        self._started = False
        self._ended: str | None = None

    # ------------------------------------------------------------------ the reporter protocol
    @property
    def stop_requested(self) -> bool:
        return self.stop.is_set() or (self._reporter is not None and self._reporter.stop_requested)

    def start(self, description: str) -> None:
        self._started, self.description = True, description

    def update(self, rows: int, pages: int, detail: str = "") -> None:
        self.rows, self.pages, self.detail = rows, pages, detail
        reporter = self._active()
        if reporter is not None:
            reporter.update(rows, pages, detail)
        self._draw_preview()

    def finish(self) -> None:
        self._end("done")

    def fail(self, reason: str) -> None:
        self._end(reason)

    def on_chunk(self, chunk: pd.DataFrame) -> None:
        if sum(len(c) for c in self._chunks) < max(self._preview_rows, 1):
            self._chunks.append(chunk)

    # ------------------------------------------------------------------ drawing
    def _active(self) -> ProgressReporter | None:
        """The visible reporter, started once the read reaches its second page."""
        if self._reporter is None and self.pages >= 2:
            reporter = choose_progress(self.mode, hints=self.hints, stop=self.stop,  # type: ignore[arg-type]
                                       stop_button=self._stop_button)  # fmt: skip
            reporter.start(self.description)
            self._reporter = reporter
        return self._reporter

    def _wants_preview(self) -> bool:
        return bool(self._preview_rows) and self._preview_after is not None and self.rows >= self._preview_after

    def _draw_preview(self, *, force: bool = False) -> None:
        if not self._wants_preview():
            return
        now = time.monotonic()
        if not force and now - self._drawn_at < PREVIEW_INTERVAL:
            return
        self._drawn_at = now
        head = self._head_rows()
        if head is None:
            return
        view = StreamPreview(head, self._preview_rows, self.rows, self.pages)
        if self._preview is None:
            self._preview = display_handle(view)
        else:
            self._preview.update(view)

    def _head_rows(self) -> pd.DataFrame | None:
        import pandas as pd

        parts = ([self._head] if self._head is not None else []) + self._chunks
        if not parts:
            return None
        head = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
        return head.head(self._preview_rows)

    def _end(self, outcome: str) -> None:
        if self._ended is not None:
            return
        self._ended = outcome
        reporter = self._active()
        if reporter is None:
            return
        reporter.update(self.rows, self.pages, self.detail)
        if outcome == "done":
            reporter.finish()
        else:
            reporter.fail(outcome)

    # ------------------------------------------------------------------ the cell's side
    def follow(self, counter: Counter) -> None:
        """Draw what ``counter`` (filled on the runner thread) has counted so far."""
        if counter.chunks:
            chunks, counter.chunks = counter.chunks, []
            for chunk in chunks:
                self.on_chunk(chunk)
        if counter.started and not self._started:
            self.start(counter.description)
        if (counter.rows, counter.pages) != (self.rows, self.pages):
            self.update(counter.rows, counter.pages, counter.detail)
        if counter.outcome is not None:
            self._end(counter.outcome)

    def show(self, view: Any) -> None:
        """Show the read's result: where its preview was, or as a new output."""
        if self._preview is not None:
            self._preview.update(view)
        else:
            display(view)

    def retire(self, summary: str) -> None:
        """The result is not shown here (the line form returns it): a preview becomes ``summary``."""
        if self._preview is not None:
            from ._display import StatusLine

            self._preview.update(StatusLine(summary))
