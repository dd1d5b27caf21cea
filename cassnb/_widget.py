"""The notebook progress reporter: an ipywidgets bar with a live count and a Stop button.

Imported only when a widget is chosen (``choose_progress``), so ``import cassnb.progress`` needs no ipywidgets.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ._reporting import FinalState, _Counting, _status, _style_of
from ._stop import StopSignal

__all__ = ("WidgetProgress",)


class WidgetProgress(_Counting):
    """An ipywidgets row: a bar, a status label and a Stop button, replaced by a static line at the end.

    The bar is full and "info" while rows arrive (the total is unknown). Stop sets :attr:`stop_requested`;
    the stream then ends after the current page and the caller keeps the rows fetched so far. When the read
    ends, the widget's output is replaced in place by a :class:`FinalState` ("success", "warning" for a stop or
    an interrupt, "danger" for a failure) and the widgets are closed, so nothing in a saved notebook depends
    on a widget model that no longer exists.

    A click reaches the kernel only while the cell lets the kernel handle messages: a cell that awaits the
    read does (ipykernel 7 dispatches widget messages during an awaiting cell), and so do the ``%%cql`` magics
    (see :mod:`cassnb.magics`); a cell blocked in synchronous code does not.

    Args:
        display: shows the widget and returns a handle whose ``update`` replaces it (default: IPython's
            ``display(..., display_id=True)``); a display that returns no handle leaves the widget in place.
        hints: text shown after each outcome (``{"stopped": "..."}``), default :data:`DEFAULT_HINTS`.

    Raises:
        ImportError: ipywidgets is not installed (:func:`choose_progress` then falls back to text).
    """

    def __init__(
        self,
        *,
        display: Callable[[Any], Any] | None = None,
        interval: float = 0.1,
        stop: StopSignal | None = None,
        hints: dict[str, str] | None = None,
        stop_button: bool = True,
    ) -> None:
        super().__init__(stop, hints)
        import ipywidgets

        self.bar = ipywidgets.IntProgress(value=1, min=0, max=1, bar_style="info")
        self.label = ipywidgets.HTML(value="")
        self.button = ipywidgets.Button(description="Stop", tooltip="stop after this page, keep the rows")
        self.button.on_click(self._on_stop)
        if stop_button:
            self.box = ipywidgets.HBox([self.bar, self.label, self.button])
        else:  # the kernel cannot hear a click while this cell runs: its interrupt stops the read
            note = ipywidgets.HTML(value="<small>interrupt the kernel to stop (the rows are kept)</small>")
            self.box = ipywidgets.HBox([self.bar, self.label, note])
        self._display = display
        self._handle: Any = None
        self._interval = interval
        self._last_draw = float("-inf")
        self._done = False

    def _on_stop(self, _button: object) -> None:
        self._stop.set()
        self.button.disabled = True
        self.button.description = "Stopping…"

    def start(self, description: str) -> None:
        self._begin(description)
        self.bar.description = ""
        self.label.value = self._html(_status(0, 0, 0.0))
        if self._display is None:
            from IPython import display as ipython_display

            # A front end without widgets shows the text: say what the widget's Stop would have done.
            bundle = dict(self.box._repr_mimebundle_() or {})
            bundle["text/plain"] = "reading: interrupt the kernel to stop (the rows are kept)"
            show: Any = ipython_display.display
            self._handle = show(bundle, raw=True, display_id=True)
        else:
            self._handle = self._display(self.box)

    def update(self, rows: int, pages: int, detail: str = "") -> None:
        self._count(rows, pages, detail)
        now = time.monotonic()
        if now - self._last_draw >= self._interval:  # each change is a message to the browser
            self._last_draw = now
            self.label.value = self._html(_status(rows, pages, self.elapsed, detail))

    def finish(self) -> None:
        self._end("done")

    def fail(self, reason: str) -> None:
        self._end(reason)

    def _end(self, outcome: str) -> None:
        if self._done:
            return
        self._done = True
        style, line = _style_of(outcome), self._final_line(outcome)
        self.bar.bar_style = style
        self.label.value = self._html(line)
        self.button.disabled = True
        parts = self.box.children
        self.box.children = (self.bar, self.label)
        if self._handle is not None and hasattr(self._handle, "update"):
            self._handle.update(FinalState(line, style))
            for widget in (self.box, *parts, self.button):
                widget.close()

    @staticmethod
    def _html(text: str) -> str:
        import html

        return f"<span style='font-family: monospace'>{html.escape(text)}</span>"
