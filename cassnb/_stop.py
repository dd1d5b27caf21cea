"""The one stop signal: "stop after the current page", shared by every read cassnb runs.

:class:`StopSignal` is set by the widget's Stop button, by :func:`stop_on_interrupt` (a first Ctrl-C or
notebook interrupt on the main thread, while a read that asked for it runs) and by the magics (which turn an
interrupt of their own waiting into ``signal.set()``). Reads check it between pages and end cleanly; what a
stopped read returns is documented per call (docs/dataframes.md): ``query_df`` the rows so far, marked
incomplete and resumable; ``load`` a report with ``stopped=True``; ``export`` a report with ``stopped=True``
and no file. A stop is never signalled by raising ``KeyboardInterrupt``; only a second interrupt is passed on
to whatever SIGINT did before the read (by default, ``KeyboardInterrupt``).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

__all__ = ("StopSignal", "stop_on_interrupt")


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
