"""Progress of long reads: a count of rows and pages, a Stop button, and a final state.

The semantics follow tqdm's notebook bar. The total is unknown while a result streams in, so the bar shows a
running count in the "info" style; when the read ends the live widget is replaced, in the same output slot,
by a static summary (HTML and text), so a saved or re-opened notebook shows the end state and never a widget
it cannot display: "success" when done, "warning" when stopped or interrupted (the rows are kept), "danger"
when it failed. Every reporter has the same four calls and one flag::

    reporter.start("SELECT * FROM ks.events")   # once, before the first page
    reporter.update(rows, pages)                # totals so far (not increments), after each page
    reporter.finish()                           # the read ended normally
    reporter.fail("stopped")                    # error, interrupt or Stop: the reason in a word or two
    reporter.stop_requested                     # True once the user asked to stop (the Stop button)

Which reporter a call gets is decided by :func:`choose_progress`:

===============================  =============================================================================
``progress=``                    reporter
===============================  =============================================================================
a reporter object                that object
``False``, ``None``, ``"off"``   :class:`NullProgress` — nothing at all
``"static"``                     :class:`StaticProgress` — one deterministic line at the end, no timings
``"widget"``                     :class:`WidgetProgress` — an ipywidgets bar, count and Stop button
``"text"``                       :class:`TextProgress` — one ``\\r``-rewritten line on stderr
``"auto"`` (or ``True``)         the ``CASSNB_PROGRESS`` environment variable if set (any of the names above),
                                 else a widget inside a Jupyter kernel with ipywidgets, else text
===============================  =============================================================================

Notebook tests (nbval, nbclient, nbconvert) run inside a real kernel, and none of them announces itself in a
way a library can rely on, so "auto" would pick the widget, whose output changes on every run. The test
harness therefore sets ``CASSNB_PROGRESS=static``; do the same when executing notebooks whose outputs are
compared.

:class:`StopSignal` is the thread-safe "stop after the current page" request shared by the streams, the
widget's Stop button, :func:`stop_on_interrupt` (a first Ctrl-C or notebook interrupt on the main thread) and
the magics (which turn an interrupt of their own waiting into ``signal.set()``).
"""

from __future__ import annotations

import os
import sys
import time
from typing import IO, TYPE_CHECKING, Any, Literal, Protocol, TypeAlias, runtime_checkable

from ._reporting import DEFAULT_HINTS, FinalState, _Counting, _plural, _status
from ._stop import StopSignal, stop_on_interrupt
from .exceptions import ConfigurationError

__all__ = (
    "DEFAULT_HINTS",
    "FinalState",
    "NullProgress",
    "ProgressReporter",
    "ProgressSpec",
    "StaticProgress",
    "StopSignal",
    "TextProgress",
    "WidgetProgress",
    "choose_progress",
    "stop_on_interrupt",
)

if TYPE_CHECKING:
    from ._widget import WidgetProgress


def __getattr__(name: str) -> Any:
    if name == "WidgetProgress":  # in its own module, so that importing this one needs no ipywidgets
        from ._widget import WidgetProgress

        return WidgetProgress
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: The environment variable that decides what ``progress="auto"`` means.
ENV_VAR = "CASSNB_PROGRESS"


@runtime_checkable
class ProgressReporter(Protocol):
    """What a stream needs from a progress display (see the module docstring for the call order)."""

    def start(self, description: str) -> None: ...

    def update(self, rows: int, pages: int, detail: str = "") -> None: ...

    def finish(self) -> None: ...

    def fail(self, reason: str) -> None: ...

    @property
    def stop_requested(self) -> bool: ...


ProgressSpec: TypeAlias = ProgressReporter | bool | Literal["auto", "off", "static", "text", "widget"] | None


class NullProgress(_Counting):
    """Reports nothing (``progress=False``); still counts, so callers can read the totals."""

    def start(self, description: str) -> None:
        self._begin(description)

    def update(self, rows: int, pages: int, detail: str = "") -> None:
        self._count(rows, pages, detail)

    def finish(self) -> None:
        pass

    def fail(self, reason: str) -> None:
        pass


class StaticProgress(_Counting):
    """Prints exactly one line when the read ends, with counts but no timings.

    Meant for executed notebooks whose outputs are compared (nbval, nbconvert): the line is the same on
    every run. Example: ``fetched 2,500 rows in 3 pages``; after a failure or stop:
    ``fetched 2,000 rows in 2 pages (stopped)``.
    """

    def __init__(self, stream: IO[str] | None = None, stop: StopSignal | None = None) -> None:
        super().__init__(stop, {})  # no hints: the line must read the same on every run
        self._stream = stream
        self._done = False

    def start(self, description: str) -> None:
        self._begin(description)

    def update(self, rows: int, pages: int, detail: str = "") -> None:
        self._count(rows, pages, detail)

    def finish(self) -> None:
        detail = f" ({self.detail})" if self.detail else ""
        self._print(f"fetched {_plural(self.rows, 'row')} in {_plural(self.pages, 'page')}{detail}")

    def fail(self, reason: str) -> None:
        self._print(f"fetched {_plural(self.rows, 'row')} in {_plural(self.pages, 'page')} ({reason})")

    def _print(self, line: str) -> None:
        if not self._done:
            self._done = True
            print(line, file=self._stream or sys.stdout, flush=True)


class TextProgress(_Counting):
    """One status line on a terminal, rewritten in place with ``\\r`` a few times per second.

    When the stream is not a terminal (a log file, a CI job) only the final line is written, so logs do not
    fill with carriage returns.
    """

    def __init__(
        self,
        stream: IO[str] | None = None,
        *,
        interval: float = 0.25,
        stop: StopSignal | None = None,
        hints: dict[str, str] | None = None,
    ) -> None:
        super().__init__(stop, hints)
        self._stream = stream
        self._interval = interval
        self._last_draw = float("-inf")
        self._width = 0
        self._done = False

    @property
    def _out(self) -> IO[str]:
        return self._stream or sys.stderr

    def _live(self) -> bool:
        isatty = getattr(self._out, "isatty", None)
        return bool(isatty and isatty())

    def start(self, description: str) -> None:
        self._begin(description)

    def update(self, rows: int, pages: int, detail: str = "") -> None:
        self._count(rows, pages, detail)
        now = time.monotonic()
        if self._live() and now - self._last_draw >= self._interval:
            self._last_draw = now
            self._draw(_status(rows, pages, self.elapsed, detail), end="")

    def finish(self) -> None:
        self._end("done")

    def fail(self, reason: str) -> None:
        self._end(reason)

    def _end(self, outcome: str) -> None:
        if not self._done:
            self._done = True
            self._draw(self._final_line(outcome), end="\n")

    def _draw(self, text: str, end: str) -> None:
        padding = " " * max(0, self._width - len(text))  # wipe what a longer previous line left behind
        self._width = len(text)
        out = self._out
        out.write(("\r" if self._live() else "") + text + padding + end)
        out.flush()


def _in_widget_kernel() -> bool:
    """True inside a Jupyter kernel (ZMQInteractiveShell) where ipywidgets can be imported."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency
        return False
    shell = get_ipython()
    if shell is None or not any(cls.__name__ == "ZMQInteractiveShell" for cls in type(shell).__mro__):
        return False
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return True


def choose_progress(
    progress: ProgressSpec,
    *,
    hints: dict[str, str] | None = None,
    stop: StopSignal | None = None,
    stop_button: bool = True,
) -> ProgressReporter:
    """Turn a ``progress=`` argument into a reporter (the rules are in the module docstring).

    Args:
        progress: a reporter (returned as it is) or a mode.
        hints, stop: for a reporter made here: the text after each outcome, the signal its Stop sets.
        stop_button: a widget gets a Stop button (False: a note to interrupt the kernel instead, for a cell
            whose kernel cannot answer a click while it runs).

    Raises:
        ConfigurationError: an unknown name, here or in ``CASSNB_PROGRESS``.
    """
    if isinstance(progress, ProgressReporter):
        return progress
    mode: object = progress
    if mode is True or mode == "auto":
        setting = os.environ.get(ENV_VAR, "").strip().lower()
        if setting and setting != "auto":
            if setting not in ("off", "static", "text", "widget"):
                raise ConfigurationError(
                    f"{ENV_VAR}={setting!r} is not a progress mode; use auto, off, static, text or widget"
                )
            mode = setting
        else:
            mode = "widget" if _in_widget_kernel() else "text"
    if mode is None or mode is False or mode == "off":
        return NullProgress(stop)
    if mode == "static":
        return StaticProgress(stop=stop)
    if mode == "text":
        return TextProgress(stop=stop, hints=hints)
    if mode == "widget":
        try:
            from ._widget import WidgetProgress

            return WidgetProgress(stop=stop, hints=hints, stop_button=stop_button)
        except ImportError:
            return TextProgress(stop=stop, hints=hints)
    raise ConfigurationError(
        f"progress={progress!r} is not understood; pass True/False, 'auto', 'off', 'static', 'text', "
        "'widget' or an object with start/update/finish/fail and stop_requested"
    )
