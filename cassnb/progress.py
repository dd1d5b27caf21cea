"""Progress of long reads: a count of rows and pages, a Stop button, and a final state.

The semantics follow tqdm's notebook bar. The total is unknown while a result streams in, so the bar shows a
running count in the "info" style; it turns "success" when the read ends normally and "danger" when it fails
or is interrupted. Every reporter has the same four calls and one flag::

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

import asyncio
import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from types import FrameType
from typing import IO, Any, Literal, Protocol, TypeAlias, runtime_checkable

from .exceptions import ConfigurationError

__all__ = (
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

#: The environment variable that decides what ``progress="auto"`` means.
ENV_VAR = "CASSNB_PROGRESS"


class StopSignal:
    """A request to stop a stream after the page in hand, keeping what was fetched.

    Setting it is safe from any thread (a widget callback, IPython's interrupt handling, a runner loop);
    streams check it between pages, so a stop takes effect within one page.
    """

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        """Ask every stream watching this signal to stop after its current page."""
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def clear(self) -> None:
        """Withdraw the request, so the signal can be reused for the next read."""
        self._event.clear()

    def __repr__(self) -> str:
        return f"<StopSignal {'set' if self.is_set() else 'clear'}>"


class _Guarded:
    __slots__ = ("interrupted", "loop", "stop")

    def __init__(self, loop: asyncio.AbstractEventLoop, stop: StopSignal) -> None:
        self.loop, self.stop, self.interrupted = loop, stop, False


_guarded: list[_Guarded] = []
_previous_handler: Any = None


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    first = [guard for guard in _guarded if not guard.interrupted]
    if not first:  # a second interrupt: do what SIGINT did before the reads began
        previous = _previous_handler
        if callable(previous):
            previous(signum, frame)
        elif previous != signal.SIG_IGN:
            raise KeyboardInterrupt
        return
    for guard in first:
        guard.interrupted = True
        # Handlers run between two bytecodes of the main thread, which may hold the Event's lock right now:
        # let the loop set the signal instead of taking the lock here.
        with contextlib.suppress(RuntimeError):  # the loop has closed
            guard.loop.call_soon_threadsafe(guard.stop.set)


@contextlib.contextmanager
def stop_on_interrupt(stop: StopSignal) -> Iterator[None]:
    """Within the block, a first SIGINT (Ctrl-C, the notebook's interrupt) sets ``stop`` instead of raising.

    A second SIGINT does whatever the previous handler does: ``KeyboardInterrupt`` in a terminal, the
    cancellation of the cell in ipykernel (which is how an interrupt reaches a cell that awaits). So a read
    that hangs on a page can still be broken off. The previous handler is back in place when the last block
    ends; blocks may nest and overlap. Outside the main thread, where Python delivers no signals, this does
    nothing: the code that owns the main thread (the magics) sets the signal itself.

    Must be entered on the event loop that runs the read.
    """
    global _previous_handler
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    guard = _Guarded(asyncio.get_running_loop(), stop)
    if not _guarded:
        current = signal.getsignal(signal.SIGINT)
        # Our handler can be "current" when someone saved it while a block ran and put it back after it ended.
        _previous_handler = signal.default_int_handler if current is _on_sigint else current
        signal.signal(signal.SIGINT, _on_sigint)
    _guarded.append(guard)
    try:
        yield
    finally:
        _guarded.remove(guard)
        if not _guarded:
            if signal.getsignal(signal.SIGINT) is _on_sigint:  # else someone replaced it since: leave theirs
                signal.signal(signal.SIGINT, _previous_handler)
            _previous_handler = None


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


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def _clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def _status(rows: int, pages: int, elapsed: float | None, detail: str = "") -> str:
    """``12,345 rows · 3 pages · 45,000 rows/s · 0:00:03`` (without the timings when ``elapsed`` is None).

    ``detail`` (e.g. ``12/32 token ranges``) follows the page count.
    """
    parts = [_plural(rows, "row"), _plural(pages, "page"), *([detail] if detail else [])]
    if elapsed is not None:
        rate = rows / elapsed if elapsed > 0 else 0.0
        parts += [f"{rate:,.0f} rows/s", _clock(elapsed)]
    return " · ".join(parts)


class _Counting:
    """State shared by the reporters: the totals, the start time and the stop request."""

    def __init__(self, stop: StopSignal | None = None) -> None:
        self.rows = 0
        self.pages = 0
        self.detail = ""
        self.description = ""
        self._started = time.monotonic()
        self._stop = stop or StopSignal()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def _begin(self, description: str) -> None:
        self.description = description
        self._started = time.monotonic()

    def _count(self, rows: int, pages: int, detail: str = "") -> None:
        self.rows, self.pages, self.detail = rows, pages, detail

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self._started


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
        super().__init__(stop)
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
        self, stream: IO[str] | None = None, *, interval: float = 0.25, stop: StopSignal | None = None
    ) -> None:
        super().__init__(stop)
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
            self._draw(f"{_status(self.rows, self.pages, self.elapsed, self.detail)} · {outcome}", end="\n")

    def _draw(self, text: str, end: str) -> None:
        padding = " " * max(0, self._width - len(text))  # wipe what a longer previous line left behind
        self._width = len(text)
        out = self._out
        out.write(("\r" if self._live() else "") + text + padding + end)
        out.flush()


class WidgetProgress(_Counting):
    """An ipywidgets row: a bar, a status label and a Stop button.

    The bar is full and "info" while rows arrive (the total is unknown), "success" when the read ends and
    "danger" on an error or interrupt. Stop sets :attr:`stop_requested`; the stream then ends after the
    current page and the caller keeps the rows fetched so far.

    A click reaches the kernel only while the cell lets the kernel handle messages: a cell that awaits the
    read at top level does (ipykernel 7 dispatches widget messages during an awaiting cell); a cell blocked
    in synchronous code does not.

    Raises:
        ImportError: ipywidgets is not installed (:func:`choose_progress` then falls back to text).
    """

    def __init__(
        self,
        *,
        display: Callable[[Any], object] | None = None,
        interval: float = 0.1,
        stop: StopSignal | None = None,
    ) -> None:
        super().__init__(stop)
        import ipywidgets

        self.bar = ipywidgets.IntProgress(value=1, min=0, max=1, bar_style="info")
        self.label = ipywidgets.HTML(value="")
        self.button = ipywidgets.Button(description="Stop", tooltip="stop after this page, keep the rows")
        self.button.on_click(self._on_stop)
        self.box = ipywidgets.HBox([self.bar, self.label, self.button])
        self._display = display
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
        show = self._display
        if show is None:
            from IPython import display as ipython_display

            show = ipython_display.display
        show(self.box)

    def update(self, rows: int, pages: int, detail: str = "") -> None:
        self._count(rows, pages, detail)
        now = time.monotonic()
        if now - self._last_draw >= self._interval:  # each change is a message to the browser
            self._last_draw = now
            self.label.value = self._html(_status(rows, pages, self.elapsed, detail))

    def finish(self) -> None:
        self._end("success", "done")

    def fail(self, reason: str) -> None:
        self._end("danger", reason)

    def _end(self, style: str, outcome: str) -> None:
        if self._done:
            return
        self._done = True
        self.bar.bar_style = style
        self.label.value = self._html(f"{_status(self.rows, self.pages, self.elapsed, self.detail)} · {outcome}")
        self.button.disabled = True
        self.box.children = (self.bar, self.label)

    @staticmethod
    def _html(text: str) -> str:
        import html

        return f"<span style='font-family: monospace'>{html.escape(text)}</span>"


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


def _widget_or_text() -> ProgressReporter:
    try:
        return WidgetProgress()
    except ImportError:
        return TextProgress()


def choose_progress(progress: ProgressSpec) -> ProgressReporter:
    """Turn a ``progress=`` argument into a reporter (the rules are in the module docstring).

    Raises:
        ConfigurationError: an unknown name, here or in ``CASSNB_PROGRESS``.
    """
    if isinstance(progress, ProgressReporter):
        return progress
    if progress is None or progress is False or progress == "off":
        return NullProgress()
    if progress is True or progress == "auto":
        setting = os.environ.get(ENV_VAR, "").strip().lower()
        if setting and setting != "auto":
            if setting not in ("off", "static", "text", "widget"):
                raise ConfigurationError(
                    f"{ENV_VAR}={setting!r} is not a progress mode; use auto, off, static, text or widget"
                )
            return choose_progress(setting)  # type: ignore[arg-type]  # checked just above
        return _widget_or_text() if _in_widget_kernel() else TextProgress()
    if progress == "static":
        return StaticProgress()
    if progress == "text":
        return TextProgress()
    if progress == "widget":
        return _widget_or_text()
    raise ConfigurationError(
        f"progress={progress!r} is not understood; pass True/False, 'auto', 'off', 'static', 'text', "
        "'widget' or an object with start/update/finish/fail and stop_requested"
    )
